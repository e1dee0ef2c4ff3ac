"""Infra tier: CDK assertions, cdk-nag, cfn-lint, the contract lint, the bundle, make deploy preflight."""
