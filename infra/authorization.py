"""The stage's OAuth 2.0 authorization server: a Cognito user pool with no users, only app clients.

From the contract: one resource server whose identifier and scopes are those of the contract's
`oauth2` scheme (`<identifier>/<name>`; infra/contract_lint.py makes them share one identifier).
From settings.yaml: one app client per `clients` entry (client-credentials grant only, a secret
Cognito generates, the scopes the entry names, access tokens valid `auth.access_token_minutes`),
and a Cognito domain whose `/oauth2/token` is the stage's token endpoint (the contract's relative
`tokenUrl`, resolved for the stage).

Nobody signs up or signs in: self sign-up is off, no app client allows a user flow, and the pool
would still make any user an administrator creates use a strong password and a TOTP second
factor. Outside dev the pool is retained and protected from deletion (its issuer URL is what the
gateway's authorizer trusts).
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, Fn, RemovalPolicy
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from infra.config import StageConfig
from infra.contract_lint import split_scope
from service.contract import Contract

TOKEN_PATH = "/oauth2/token"  # noqa: S105 - a path, not a secret
# A strong policy for a pool that has no users: it holds for any an administrator might create.
PASSWORD_POLICY = cognito.PasswordPolicy(
    min_length=14,
    require_lowercase=True,
    require_uppercase=True,
    require_digits=True,
    require_symbols=True,
    temp_password_validity=Duration.days(1),
)


class ResourceServerError(ValueError):
    """The contract's scopes do not make one resource server."""


def resource_server_of(contract: Contract) -> tuple[str, dict[str, str]]:
    """(identifier, scope name -> description) of the contract's oauth2 scheme."""
    identifiers: set[str] = set()
    names: dict[str, str] = {}
    for scope, description in contract.scopes.items():
        identifier, name = split_scope(scope)
        identifiers.add(identifier)
        names[name] = description
    if len(identifiers) != 1:
        raise ResourceServerError(
            f"the contract's scopes name {len(identifiers)} resource servers ({sorted(identifiers)}); "
            "expected one"
        )
    return identifiers.pop(), names


def domain_prefix(config: StageConfig) -> str:
    """Cognito domain prefixes are global per region: the account id keeps the stage's its own."""
    return f"{config.name('auth')}-{Aws.ACCOUNT_ID}"


class Authorization(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: StageConfig, contract: Contract
    ) -> None:
        super().__init__(scope, construct_id)
        identifier, scope_names = resource_server_of(contract)
        access_token_validity = Duration.minutes(config.settings.auth.access_token_minutes)

        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            user_pool_name=config.name("clients"),
            feature_plan=cognito.FeaturePlan.ESSENTIALS,
            self_sign_up_enabled=False,
            account_recovery=cognito.AccountRecovery.NONE,
            password_policy=PASSWORD_POLICY,
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            deletion_protection=not config.is_dev,
            removal_policy=RemovalPolicy.DESTROY if config.is_dev else RemovalPolicy.RETAIN,
        )
        # The `iss` of the pool's tokens: its ProviderURL (cognito-idp.<region>.amazonaws.com/<pool id>)
        # is the issuer without the scheme.
        self.issuer = Fn.join("", ["https://", self.user_pool.user_pool_provider_url])
        self.resource_server = self.user_pool.add_resource_server(
            "ResourceServer",
            identifier=identifier,
            user_pool_resource_server_name=config.api_name,
            scopes=[
                cognito.ResourceServerScope(scope_name=name, scope_description=description)
                for name, description in scope_names.items()
            ],
        )
        self.domain = self.user_pool.add_domain(
            "Domain", cognito_domain=cognito.CognitoDomainOptions(domain_prefix=domain_prefix(config))
        )
        self.token_url = f"{self.domain.base_url()}{TOKEN_PATH}"

        self.clients: dict[str, cognito.UserPoolClient] = {}
        for name, client in config.settings.clients.items():
            app_client = self.user_pool.add_client(
                f"Client-{name}",
                user_pool_client_name=name,
                generate_secret=True,
                # No user flow: naming one (even as False) leaves Cognito only ALLOW_REFRESH_TOKEN_AUTH,
                # which nothing can use without a sign-in; omitted, Cognito would allow user sign-ins.
                auth_flows=cognito.AuthFlow(user_password=False),
                o_auth=cognito.OAuthSettings(
                    flows=cognito.OAuthFlows(client_credentials=True),
                    scopes=[
                        cognito.OAuthScope.resource_server(
                            self.resource_server,
                            cognito.ResourceServerScope(
                                scope_name=split_scope(scope)[1], scope_description=contract.scopes[scope]
                            ),
                        )
                        for scope in client.scopes
                    ],
                ),
                access_token_validity=access_token_validity,
                prevent_user_existence_errors=True,
                enable_token_revocation=True,
            )
            # A client may only name scopes its resource server already declares.
            app_client.node.add_dependency(self.resource_server)
            self.clients[name] = app_client
