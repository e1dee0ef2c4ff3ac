"""The users-api stack of one stage: table, function, API, monitoring, from the contract and settings."""

from __future__ import annotations

from aws_cdk import CfnElement, CfnOutput, Environment, Stack, Tags
from constructs import Construct

from infra.api import UsersApi
from infra.bundle import Bundle
from infra.config import StageConfig
from infra.data import UsersTable
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
    ) -> None:
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
        self.compute = UsersFunction(
            self, "Compute", config=config, table=self.data.table, bundle=bundle, access=access
        )
        self.web = UsersApi(self, "Web", config=config, contract=contract, target=self.compute.alias)
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            config=config,
            function=self.compute.alias,
            api=self.web.api,
            table=self.data.table,
            access=access,
        )
        table_element = self.data.table.node.default_child
        assert isinstance(table_element, CfnElement)
        acknowledge_findings(self, config, access, self.resolve(self.get_logical_id(table_element)))

        CfnOutput(self, "ApiUrl", value=self.web.api.url, description="Base URL of the stage")
        CfnOutput(
            self,
            "ApiKeyId",
            value=self.web.api_key.key_id,
            description="The stage's API key id (aws apigateway get-api-key --include-value --api-key ID)",
        )
        CfnOutput(self, "TableName", value=self.data.table.table_name)
        CfnOutput(self, "FunctionName", value=self.compute.function.function_name)
        CfnOutput(self, "AlarmTopicArn", value=self.monitoring.topic.topic_arn)
        CfnOutput(self, "DashboardName", value=config.name("dashboard"))
