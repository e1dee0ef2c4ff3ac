"""The users-api stack of one stage: table, function, API, monitoring, from the contract and settings."""

from __future__ import annotations

import json

from aws_cdk import CfnElement, CfnOutput, Environment, Fn, Stack, Tags
from constructs import Construct

from infra import outputs
from infra.api import UsersApi
from infra.authorization import Authorization
from infra.bundle import Bundle
from infra.config import StageConfig
from infra.data import UsersTable
from infra.deploys import Deployment
from infra.function import UsersFunction
from infra.monitoring import Monitoring
from infra.nag import acknowledge_findings
from service.contract import Contract
from service.repository import ACCESS, TableAccess


class UsersApiStack(Stack):
    def __init__(
        self,
        scope: Construct,
        *,
        config: StageConfig,
        contract: Contract,
        bundle: Bundle,
        account: str | None = None,
        access: TableAccess = ACCESS,
        emergency: bool = False,
    ) -> None:
        """`emergency`: this deploy moves all traffic at once without consulting the alarms."""
        tags = {**config.settings.tags, "stage": config.stage}
        super().__init__(
            scope,
            config.stack_name,
            stack_name=config.stack_name,
            description=f"users-api {config.stage}: API Gateway -> Lambda -> DynamoDB, from openapi.yaml",
            env=Environment(account=account, region=config.region),
            tags=tags,
            termination_protection=not config.is_dev,
        )
        for key, value in tags.items():
            Tags.of(self).add(key, value)
        self.config = config

        self.data = UsersTable(self, "Data", config=config)
        self.auth = Authorization(self, "Auth", config=config, contract=contract)
        self.compute = UsersFunction(
            self,
            "Compute",
            config=config,
            table=self.data.table,
            bundle=bundle,
            access=access,
            environment={CLIENT_IDS_VARIABLE: client_ids_json(self.auth)},
        )
        self.web = UsersApi(
            self,
            "Web",
            config=config,
            contract=contract,
            target=self.compute.alias,
            user_pool=self.auth.user_pool,
        )
        self.deployment = Deployment(
            self,
            "Deploys",
            config=config,
            contract=contract,
            function=self.compute.function,
            alias=self.compute.alias,
            bundle=bundle,
            check_client=self.auth.clients[config.settings.deploy.check_consumer],
            issuer=self.auth.issuer,
            emergency=emergency,
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            config=config,
            function=self.compute.alias,
            api=self.web.api,
            table=self.data.table,
            access=access,
            deployment_alarms=self.deployment.alarms,
        )
        acknowledge_findings(
            self,
            config,
            access,
            self._logical_id(self.data.table),
            function_id=self._logical_id(self.compute.function),
            hook_id=self._logical_id(self.deployment.hook),
        )

        CfnOutput(self, outputs.API_URL, value=self.web.api.url, description="Base URL of the stage")
        CfnOutput(
            self,
            outputs.TOKEN_URL,
            value=self.auth.token_url,
            description="The stage's OAuth 2.0 token endpoint (client-credentials grant)",
        )
        CfnOutput(
            self,
            outputs.USER_POOL_ID,
            value=self.auth.user_pool.user_pool_id,
            description="The Cognito user pool whose app clients are the consumers",
        )
        for name, client in self.auth.clients.items():
            CfnOutput(
                self,
                outputs.client_id_output(name),
                value=client.user_pool_client_id,
                description=f"OAuth 2.0 client id of {name} (secret: cognito-idp describe-user-pool-client)",
            )
            CfnOutput(
                self,
                outputs.api_key_id_output(name),
                value=self.web.api_keys[name].key_id,
                description=f"API key id of {name} (its value: aws apigateway get-api-key --include-value)",
            )
        CfnOutput(self, outputs.TABLE_NAME, value=self.data.table.table_name)
        CfnOutput(self, outputs.FUNCTION_NAME, value=self.compute.function.function_name)
        CfnOutput(self, outputs.ALARM_TOPIC_ARN, value=self.monitoring.topic.topic_arn)
        CfnOutput(self, outputs.DASHBOARD_NAME, value=config.name("dashboard"))

    def _logical_id(self, construct: Construct) -> str:
        element = construct.node.default_child
        assert isinstance(element, CfnElement)
        return str(self.resolve(self.get_logical_id(element)))


# The service reads it as its `client_ids` setting (environment > SSM > settings.yaml).
CLIENT_IDS_VARIABLE = "USERS_API_CLIENT_IDS"


def client_ids_json(auth: Authorization) -> str:
    """{"<client id>": "<consumer name>", ...} as JSON, the ids being Cognito's (known at deploy)."""
    parts: list[str] = ["{"]
    for index, (name, client) in enumerate(sorted(auth.clients.items())):
        parts += ["," if index else "", '"', client.user_pool_client_id, f'":{json.dumps(name)}']
    parts.append("}")
    return Fn.join("", parts)
