"""What the contract's consumers get from openapi.yaml: the breaking-change gate and its changelog
(`gate`), the typed Python client (`client`) and the reference page (`docs`).

Development tooling, never bundled: like `local/` and `bench/`, it may import `service` (the
contract reader); `service` imports nothing from here. The tools it drives are pinned by the
project: Optic and Redocly CLI in package.json, openapi-python-client in pyproject.toml.
"""
