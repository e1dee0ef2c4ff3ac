"""cdk-nag (AwsSolutions) acknowledgments: each finding we accept, on its construct, with the reason.

cdk-nag 3 fails `cdk synth` (and `Template.from_stack`) on any finding not acknowledged here, so
the infra tests are the nag gate. Each acknowledgment names one finding (rule id plus the exact
resource or policy it is about), never a whole rule. docs/infrastructure.md ("cdk-nag
acknowledgments") lists them.
"""

from __future__ import annotations

import dataclasses

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct

from infra.api import PUBLIC_BURST, PUBLIC_RATE_PER_SECOND, public_operations
from infra.config import StageConfig
from service.contract import Contract, get_contract
from service.repository import ACCESS, TableAccess

PACK = "AwsSolutions"


@dataclasses.dataclass(frozen=True)
class Ack:
    target: str  # construct path below the stack
    finding: str  # rule id, with the finding's detail in brackets when the rule reports several
    reason: str


def acknowledgments(
    config: StageConfig,
    access: TableAccess = ACCESS,
    table_id: str = "",
    *,
    function_id: str = "",
    hook_id: str = "",
    contract: Contract | None = None,
) -> list[Ack]:
    """The accepted findings of the stage; `table_id`, `function_id` and `hook_id` are the logical ids
    of the table, the function and the pre-traffic hook (the grants on them name them); `contract`
    (openapi.yaml's by default) says which operations are public."""
    region, stage = config.region, config.stage
    public = ", ".join(
        f"{operation.method} {operation.path}" for operation in public_operations(contract or get_contract())
    )
    account = "<AWS::AccountId>"
    index_grant = [
        Ack(
            "Compute/Policy",
            f"AwsSolutions-IAM5[Resource::<{table_id}.Arn>/index/*]",
            f"The repository queries the table's own indexes ({', '.join(sorted(access.indexes))}, "
            "declared in service.repository.ACCESS); the grant covers that table's indexes and no other.",
        )
    ]
    return [
        *(index_grant if access.indexes else []),
        Ack(
            "Compute/Role/DefaultPolicy",
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray's PutTraceSegments and PutTelemetryRecords have no resource-level permissions; "
            "the statement is the one the CDK adds for tracing=ACTIVE and holds only those two actions.",
        ),
        Ack(
            "Compute/Policy",
            f"AwsSolutions-IAM5[Resource::arn:aws:ssm:{region}:{account}:parameter{config.ssm_path}/*]",
            f"The function reads the parameters under its own stage path ({config.ssm_path}/) and no "
            "other; the keys come from settings.yaml, so naming each one would break on every new key.",
        ),
        Ack(
            "Compute/Policy",
            f"AwsSolutions-IAM5[Resource::arn:aws:logs:{region}:{account}:log-group:"
            f"/aws/lambda/{config.base_name}:log-stream:*]",
            "Lambda names log streams at run time; the grant is limited to the function's own log group.",
        ),
        Ack(
            "Compute/Function",
            "AwsSolutions-L1",
            "The runtime is pinned in settings.yaml (lambda.runtime) so every stage runs the version the "
            "bundle's bytecode was compiled for; moving to a newer runtime is a deliberate settings change.",
        ),
        Ack(
            "Web/Api",
            "AwsSolutions-APIG2",
            "Request validation is declared inside the imported OpenAPI body "
            "(x-amazon-apigateway-request-validators, one validator per operation), which cdk-nag does "
            "not read; tests/infra checks every operation has one.",
        ),
        Ack(
            "Web/Api/CloudWatchRole",
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
            "API Gateway's account-level logging role, needed for access and execution logs; this AWS "
            "managed policy is the one AWS documents for it and only allows writing logs.",
        ),
        Ack(
            "Deploys/Hook",
            "AwsSolutions-L1",
            "The pre-traffic hook ships in the function's bundle (service/deploy_check.py), so it runs the "
            "runtime pinned in settings.yaml (lambda.runtime) that the bundle's bytecode was compiled for.",
        ),
        Ack(
            "Deploys/HookPolicy",
            f"AwsSolutions-IAM5[Resource::<{function_id}.Arn>:*]",
            "The hook invokes the new version of the function before it takes traffic; version numbers are "
            "assigned at publish, so the grant covers this function's qualified ARNs (its versions) and no "
            "other function. A grant naming only the new version would change the policy at every deploy, "
            "racing IAM's propagation against CodeDeploy's first call to the hook.",
        ),
        Ack(
            "Deploys/HookPolicy",
            f"AwsSolutions-IAM5[Resource::arn:aws:logs:{region}:{account}:log-group:"
            f"/aws/lambda/{config.name('deploy-check')}:log-stream:*]",
            "Lambda names log streams at run time; the grant is limited to the hook's own log group.",
        ),
        Ack(
            "Deploys/Group/ServiceRole",
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSCodeDeployRoleForLambdaLimited]",
            "CodeDeploy's role for Lambda deployments: the managed policy AWS documents for it, in its "
            "limited form (it gets and updates aliases and reads alarm states; invoking our hook is granted "
            "separately, on the hook alone). The CDK's LambdaDeploymentGroup attaches it.",
        ),
        Ack(
            "Deploys/Group/ServiceRole/DefaultPolicy",
            f"AwsSolutions-IAM5[Resource::<{hook_id}.Arn>:*]",
            "CodeDeploy invokes the pre-traffic hook; the CDK's grant covers the hook function and its "
            "qualified ARNs, and no other function.",
        ),
        Ack(
            "Auth/UserPool",
            "AwsSolutions-COG8",
            "The pool has no users, only app clients doing the client-credentials grant: the Plus plan's "
            "threat protection judges user sign-ins (compromised passwords, risky sign-in attempts), none of "
            "which happen here. Self sign-up is off, no client allows a user flow, and the pool still "
            "enforces a strong password policy and TOTP MFA should an administrator ever create a user.",
        ),
        Ack(
            f"Web/Api/DeploymentStage.{stage}",
            "AwsSolutions-APIG3",
            "No WAF web ACL: at this traffic (thousands of requests a day) its fixed monthly cost is out "
            "of proportion. A token-protected operation also needs an API key, whose usage plan throttles "
            "and caps its consumer, under the stage's per-method throttle. The public operations "
            f"({public or 'none'}) need no key, so no plan meters them: each has its own throttle of "
            f"{PUBLIC_RATE_PER_SECOND:g} requests/s (burst {PUBLIC_BURST}) for all anonymous callers "
            "together. Throttles are best effort, per method, and not per client: revisit before "
            "exposing the API to untrusted clients at scale.",
        ),
    ]


def _find(stack: Stack, path: str) -> IConstruct:
    construct: IConstruct = stack
    for part in path.split("/"):
        construct = construct.node.find_child(part)
    return construct


def acknowledge_findings(
    stack: Stack,
    config: StageConfig,
    access: TableAccess = ACCESS,
    table_id: str = "",
    *,
    function_id: str = "",
    hook_id: str = "",
) -> None:
    for ack in acknowledgments(config, access, table_id, function_id=function_id, hook_id=hook_id):
        Validations.of(_find(stack, ack.target)).acknowledge(
            Acknowledgment(id=f"{PACK}::{ack.finding}", reason=ack.reason)
        )
