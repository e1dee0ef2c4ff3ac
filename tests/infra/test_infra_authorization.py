"""Who may call what, on AWS: the Cognito authorization server, the gateway's authorizer per method,
one API key and usage plan per consumer, and what the function and the outputs are told.

cdk-nag's APIG4 and COG4 look at AWS::ApiGateway::Method resources, and an imported API has none:
`test_every_non_public_method_has_the_cognito_authorizer_with_exactly_its_scope_and_the_api_key`
does their job on the synthesized body, reading the template, not the code that wrote it.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from infra import outputs
from infra.authorization import TOKEN_PATH, resource_server_of
from infra.config import StageError, load_stage
from infra.settings import load_infra_settings
from service.contract import get_contract
from service.settings import SettingsError, read_file
from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra

CONTRACT = get_contract()


def _render(value: Any, refs: dict[str, str]) -> str:
    """A CloudFormation string (plain, Ref or Fn::Join) with each Ref replaced as `refs` says
    (by default `<logical id>`)."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return refs.get(value["Ref"], f"<{value['Ref']}>")
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_render(part, refs) for part in parts)
    raise AssertionError(f"unexpected value {value!r}")


def _clients(synth: Synth) -> dict[str, tuple[str, dict[str, Any]]]:
    """Consumer name -> (logical id, properties) of the stack's app clients."""
    return {
        client["Properties"]["ClientName"]: (logical_id, client["Properties"])
        for logical_id, client in synth.resources("AWS::Cognito::UserPoolClient").items()
    }


def _resource_server_refs(synth: Synth) -> dict[str, str]:
    """Ref of the resource server -> its identifier (what CloudFormation's Ref returns for it)."""
    return {
        logical_id: server["Properties"]["Identifier"]
        for logical_id, server in synth.resources("AWS::Cognito::UserPoolResourceServer").items()
    }


# ---- the authorization server ---------------------------------------------------------------


def test_the_user_pool_is_an_authorization_server_nobody_signs_up_to(each: Synth) -> None:
    _, pool = each.one("AWS::Cognito::UserPool")
    properties = pool["Properties"]
    assert properties["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert properties["AccountRecoverySetting"] == {
        "RecoveryMechanisms": [{"Name": "admin_only", "Priority": 1}]
    }
    # Should an administrator ever create a user: a strong password and a TOTP second factor.
    assert properties["MfaConfiguration"] == "ON"
    assert properties["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    policy = properties["Policies"]["PasswordPolicy"]
    assert policy["MinimumLength"] >= 14
    assert all(
        policy[key] for key in ("RequireLowercase", "RequireUppercase", "RequireNumbers", "RequireSymbols")
    )
    assert properties["UserPoolName"] == f"users-api-clients-{each.stage}"
    assert "LambdaConfig" not in properties


def test_the_dev_pool_goes_with_the_stack(dev: Synth) -> None:
    _, pool = dev.one("AWS::Cognito::UserPool")
    assert pool["DeletionPolicy"] == "Delete"
    assert pool["Properties"].get("DeletionProtection") in (None, "INACTIVE")


def test_the_prod_pool_is_retained_and_protected(prod: Synth) -> None:
    _, pool = prod.one("AWS::Cognito::UserPool")
    assert pool["DeletionPolicy"] == "Retain"
    assert pool["UpdateReplacePolicy"] == "Retain"
    assert pool["Properties"]["DeletionProtection"] == "ACTIVE"


def test_the_resource_server_holds_exactly_the_contract_scopes(each: Synth) -> None:
    identifier, names = resource_server_of(CONTRACT)
    _, server = each.one("AWS::Cognito::UserPoolResourceServer")
    properties = server["Properties"]
    assert properties["Identifier"] == identifier
    declared = {
        f"{properties['Identifier']}/{scope['ScopeName']}": scope["ScopeDescription"]
        for scope in properties["Scopes"]
    }
    assert declared == dict(CONTRACT.scopes)
    assert set(names) == {scope.rpartition("/")[2] for scope in CONTRACT.scopes}


def test_one_client_credentials_app_client_per_consumer_with_its_scopes(each: Synth) -> None:
    settings = load_stage(each.stage).settings
    clients = _clients(each)
    assert set(clients) == set(settings.clients)
    refs = _resource_server_refs(each)
    for name, (_, client) in clients.items():
        assert client["AllowedOAuthFlows"] == ["client_credentials"], name
        assert client["AllowedOAuthFlowsUserPoolClient"] is True
        assert client["GenerateSecret"] is True
        scopes = {_render(scope, refs) for scope in client["AllowedOAuthScopes"]}
        assert scopes == set(settings.clients[name].scopes), name
        assert scopes <= set(CONTRACT.scopes)
        assert client["AccessTokenValidity"] == settings.auth.access_token_minutes
        assert client["TokenValidityUnits"]["AccessToken"] == "minutes"
        # No user flow at all (only the refresh flow Cognito keeps, useless without a sign-in).
        assert client["ExplicitAuthFlows"] == ["ALLOW_REFRESH_TOKEN_AUTH"]
        assert "CallbackURLs" not in client
        assert client["PreventUserExistenceErrors"] == "ENABLED"
        assert client["EnableTokenRevocation"] is True


def test_the_token_endpoint_is_the_stage_domain_with_the_contracts_token_path(each: Synth) -> None:
    domain_id, domain = each.one("AWS::Cognito::UserPoolDomain")
    prefix = _render(domain["Properties"]["Domain"], {"AWS::AccountId": "111122223333"})
    assert prefix == f"users-api-auth-{each.stage}-111122223333"
    token_url = _render(each.json["Outputs"][outputs.TOKEN_URL]["Value"], {domain_id: prefix})
    region = load_stage(each.stage).region
    assert token_url == f"https://{prefix}.auth.{region}.amazoncognito.com{TOKEN_PATH}"
    assert token_url.endswith(str(CONTRACT.token_url))


# ---- the gateway: the job of cdk-nag's APIG4 and COG4, inside the imported body ---------------


@pytest.mark.parametrize("operation", CONTRACT.operations, ids=CONTRACT.operation_ids)
def test_every_non_public_method_has_the_cognito_authorizer_with_exactly_its_scope_and_the_api_key(
    each: Synth, operation: Any
) -> None:
    pool_id, _ = each.one("AWS::Cognito::UserPool")
    body = each.body
    schemes = body["components"]["securitySchemes"]
    assert body["x-amazon-apigateway-api-key-source"] == "HEADER"
    carried = body["paths"][operation.path][operation.method.lower()]["security"]
    if not operation.needs_auth:
        assert carried == [], "a public operation carries no requirement at all"
        return
    [requirement] = carried
    keys = [name for name in requirement if schemes[name].get("x-amazon-apigateway-authtype") is None]
    authorizers = [name for name in requirement if name not in keys]
    assert len(requirement) == 2 and len(keys) == 1 and len(authorizers) == 1, requirement
    [key], [authorizer] = keys, authorizers
    assert schemes[key] == {**schemes[key], "type": "apiKey", "in": "header", "name": "x-api-key"}
    assert requirement[key] == []
    scheme = schemes[authorizer]
    assert scheme["type"] == "apiKey" and scheme["in"] == "header" and scheme["name"] == "Authorization"
    assert scheme["x-amazon-apigateway-authtype"] == "cognito_user_pools"
    assert scheme["x-amazon-apigateway-authorizer"]["type"] == "cognito_user_pools"
    assert scheme["x-amazon-apigateway-authorizer"]["providerARNs"] == [{"Fn::GetAtt": [pool_id, "Arn"]}]
    # Exactly one scope, the contract's; one the resource server declares (no scope would let the
    # gateway take ID tokens, several would let it take any of them).
    assert requirement[authorizer] == list(operation.scopes)
    assert len(operation.scopes) == 1
    _, server = each.one("AWS::Cognito::UserPoolResourceServer")
    [scope] = operation.scopes
    identifier, _, name = scope.rpartition("/")
    assert server["Properties"]["Identifier"] == identifier
    assert name in {s["ScopeName"] for s in server["Properties"]["Scopes"]}


def test_every_consumer_can_call_exactly_the_operations_of_its_scopes(each: Synth) -> None:
    """Read from the template: a client's allowed scopes against each method's one scope."""
    settings = load_stage(each.stage).settings
    refs = _resource_server_refs(each)
    for name, (_, client) in _clients(each).items():
        allowed = {_render(scope, refs) for scope in client["AllowedOAuthScopes"]}
        callable_ops = {
            operation["operationId"]
            for item in each.body["paths"].values()
            for operation in item.values()
            if any(set(scopes) & allowed for r in operation["security"] for scopes in r.values())
        }
        expected = {
            op.operation_id
            for op in CONTRACT.operations
            if set(op.scopes) & set(settings.clients[name].scopes)
        }
        assert callable_ops == expected, name
        assert callable_ops, f"{name} can call nothing"


# ---- API keys and usage plans -------------------------------------------------------------------


def test_one_api_key_and_one_usage_plan_per_consumer_with_its_throttle_and_quota(each: Synth) -> None:
    settings = load_stage(each.stage).settings
    keys = {
        key["Properties"]["Name"]: key_id for key_id, key in each.resources("AWS::ApiGateway::ApiKey").items()
    }
    plans = {
        plan["Properties"]["UsagePlanName"]: plan
        for plan in each.resources("AWS::ApiGateway::UsagePlan").values()
    }
    assert set(keys) == {f"users-api-key-{name}-{each.stage}" for name in settings.clients}
    assert set(plans) == {f"users-api-plan-{name}-{each.stage}" for name in settings.clients}
    stage_id, _ = each.one("AWS::ApiGateway::Stage")
    links = {
        (link["Properties"]["UsagePlanId"]["Ref"], link["Properties"]["KeyId"]["Ref"])
        for link in each.resources("AWS::ApiGateway::UsagePlanKey").values()
    }
    plan_ids = {
        plan["Properties"]["UsagePlanName"]: plan_id
        for plan_id, plan in each.resources("AWS::ApiGateway::UsagePlan").items()
    }
    for name, client in settings.clients.items():
        plan = plans[f"users-api-plan-{name}-{each.stage}"]["Properties"]
        assert plan["Throttle"] == {
            "RateLimit": client.throttle_rate_per_second,
            "BurstLimit": client.throttle_burst,
        }
        assert plan["Quota"] == {"Limit": client.quota_per_day, "Period": "DAY"}
        [api_stage] = plan["ApiStages"]
        assert api_stage["Stage"] == {"Ref": stage_id}
        key_id = keys[f"users-api-key-{name}-{each.stage}"]
        assert (plan_ids[f"users-api-plan-{name}-{each.stage}"], key_id) in links
    assert len(links) == len(settings.clients)


def test_the_stage_throttle_stays_the_stages_own(each: Synth) -> None:
    api = load_stage(each.stage).settings.api
    _, stage = each.one("AWS::ApiGateway::Stage")
    # The stage-wide setting; public operations have their own (tests/infra/test_infra_gateway_hardening.py).
    [method_settings] = [s for s in stage["Properties"]["MethodSettings"] if s["ResourcePath"] == "/*"]
    assert method_settings["ThrottlingRateLimit"] == api.throttle_rate_per_second
    assert method_settings["ThrottlingBurstLimit"] == api.throttle_burst


def test_the_access_log_names_the_consumer_never_the_token(each: Synth) -> None:
    _, stage = each.one("AWS::ApiGateway::Stage")
    fields = json.loads(stage["Properties"]["AccessLogSetting"]["Format"])
    assert fields["clientId"] == "$context.authorizer.claims.client_id"
    assert fields["apiKeyId"] == "$context.identity.apiKeyId"
    assert not any("Authorization" in value or "header" in value for value in fields.values())


# ---- what the function and the consumers are told ---------------------------------------------


def test_the_function_knows_each_client_id_by_its_consumer_name(each: Synth) -> None:
    _, function = each.function()
    variable = function["Properties"]["Environment"]["Variables"]["USERS_API_CLIENT_IDS"]
    clients = _clients(each)
    ids = {logical_id: f"id-of-{name}" for name, (logical_id, _) in clients.items()}
    assert json.loads(_render(variable, ids)) == {f"id-of-{name}": name for name in clients}
    assert load_stage(each.stage).settings.service.token_issuer == ""


def test_outputs_name_the_token_url_the_pool_and_each_consumers_client_and_key(each: Synth) -> None:
    values = each.json["Outputs"]
    pool_id, _ = each.one("AWS::Cognito::UserPool")
    assert values[outputs.USER_POOL_ID]["Value"] == {"Ref": pool_id}
    keys = {
        key["Properties"]["Name"]: key_id for key_id, key in each.resources("AWS::ApiGateway::ApiKey").items()
    }
    for name, (client_id, _) in _clients(each).items():
        assert values[outputs.client_id_output(name)]["Value"] == {"Ref": client_id}
        key_id = keys[f"users-api-key-{name}-{each.stage}"]
        assert values[outputs.api_key_id_output(name)]["Value"] == {"Ref": key_id}
    assert "ApiKeyId" not in values, "no stage-wide key: each consumer has its own"
    resolved = {name: f"value-of-{name}" for name in values}
    parsed = outputs.parse_outputs(resolved, load_stage(each.stage).settings.clients)
    assert parsed.token_url == f"value-of-{outputs.TOKEN_URL}"
    for name in load_stage(each.stage).settings.clients:
        assert parsed.consumer(name).client_id == f"value-of-{outputs.client_id_output(name)}"


def test_outputs_are_read_back_from_the_deploys_file_or_say_what_to_do(tmp_path: Path) -> None:
    config = load_stage("dev")
    clients = list(config.settings.clients)
    with pytest.raises(outputs.OutputsError, match="make deploy STAGE=dev"):
        outputs.read_outputs("dev", config.stack_name, clients, tmp_path)
    values = {
        outputs.API_URL: "https://api/dev/",
        outputs.TOKEN_URL: "https://auth/oauth2/token",
        outputs.USER_POOL_ID: "pool",
    }
    for name in clients:
        values[outputs.client_id_output(name)] = f"client-{name}"
        values[outputs.api_key_id_output(name)] = f"key-{name}"
    path = outputs.outputs_file("dev", tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({config.stack_name: values}))
    read = outputs.read_outputs("dev", config.stack_name, clients, tmp_path)
    assert read.api_url == "https://api/dev/"
    assert read.consumer(clients[0]).api_key_id == f"key-{clients[0]}"
    with pytest.raises(outputs.OutputsError, match="no consumer 'nobody'"):
        read.consumer("nobody")
    del values[outputs.client_id_output(clients[0])]
    path.write_text(json.dumps({config.stack_name: values}))
    with pytest.raises(outputs.OutputsError, match=outputs.client_id_output(clients[0])):
        outputs.read_outputs("dev", config.stack_name, clients, tmp_path)
    assert outputs.pascal("support-console") == "SupportConsole"


# ---- settings infra refuses --------------------------------------------------------------------


@pytest.fixture
def document() -> dict[str, Any]:
    return copy.deepcopy(read_file())


def _first_client(document: dict[str, Any]) -> dict[str, Any]:
    clients: dict[str, dict[str, Any]] = document["defaults"]["clients"]
    return clients[next(iter(clients))]


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("throttle_rate_per_second", 10_000, "throttle_rate_per_second"),
        ("throttle_burst", 100_000, "throttle_burst"),
        ("quota_per_day", 10**9, "quota_per_day"),
    ],
)
def test_a_consumer_plan_beyond_the_stage_is_refused(
    document: dict[str, Any], key: str, value: int, named: str
) -> None:
    _first_client(document)[key] = value
    with pytest.raises(SettingsError, match=named):
        load_infra_settings("dev", document=document)


def test_a_consumer_scope_the_contract_does_not_declare_is_refused(document: dict[str, Any]) -> None:
    _first_client(document)["scopes"] = ["users-api/users.admin"]
    with pytest.raises(SettingsError, match="not a scope of the contract"):
        load_infra_settings("dev", document=document)


def test_every_consumer_of_every_stage_fits_within_its_stage() -> None:
    for stage in ("dev", "prod"):
        settings = load_stage(stage).settings
        assert settings.clients
        assert sum(client.quota_per_day for client in settings.clients.values()) <= settings.api.quota_per_day


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: _first_client(d).update(secret="s3cr3t"), "secret must be empty"),
        (
            lambda d: d["defaults"]["service"].update(token_issuer="https://issuer.example"),
            "token_issuer must be empty",
        ),
    ],
)
def test_an_aws_stage_refuses_a_secret_or_an_issuer_of_its_own(
    document: dict[str, Any], change: Any, named: str
) -> None:
    assert load_stage("dev", document).settings.clients
    change(document)
    with pytest.raises(StageError, match=named):
        load_stage("dev", document)
