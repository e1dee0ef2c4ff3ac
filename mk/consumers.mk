# --- The contract as a product for its consumers (consumers/, clients/; docs/consumers.md).
# Pinned tools: Redocly CLI and Optic (package.json), openapi-python-client (pyproject.toml). All run
# offline with their telemetry off. Outputs: clients/python/ and clients/dist/ (gitignored: built
# from openapi.yaml by `make client`), reports/contract-changelog.md. The reference page is built
# with the guide (mk/docs.mk).
BASE ?=

.PHONY: lint-contract
lint-contract: $(NPM_STAMP) ## Redocly lint of openapi.yaml (redocly.yaml): fails on any error or warning
	$(BIN)/python -m consumers.lint

.PHONY: breaking
breaking: $(NPM_STAMP) ## breaking-change gate: contract at BASE=<git ref> (last v* tag, else merge base) vs the work tree
	$(BIN)/python -m consumers.gate $(if $(strip $(BASE)),--base '$(BASE)') --changelog reports/contract-changelog.md

.PHONY: changelog
changelog: $(NPM_STAMP) ## the gate's diff since BASE as a section at the top of CHANGELOG.md
	$(BIN)/python -m consumers.gate $(if $(strip $(BASE)),--base '$(BASE)') --update-changelog CHANGELOG.md

.PHONY: client
client: $(STAMP) ## typed Python client from the contract into clients/python/, wheel in clients/dist/
	$(BIN)/python -m consumers.client

.PHONY: consumer-tests
consumer-tests: $(NPM_STAMP) ## tier: contract lint, gate fixtures, client round trip on a local stage (tests/consumers)
	$(BIN)/pytest tests/consumers $(ARGS)

# `make token CLIENT=<name> [SCOPE="a b"]`: an access token of one consumer (settings.yaml `clients`),
# alone on standard output: `curl -H "Authorization: Bearer $$(make -s token CLIENT=billing)" ...`.
# STAGE defaults to local here (the issuer `make run` serves on PORT); STAGE=dev|prod asks the
# stage's Cognito token endpoint (AWS credentials). Without CLIENT: the stage's clients and scopes.
CLIENT ?=
SCOPE ?=
TOKEN_STAGE = $(if $(filter command line environment environment override,$(origin STAGE)),$(STAGE),local)

.PHONY: token
token: $(STAMP) ## an access token for CLIENT= (local stage by default); without CLIENT: the clients and their scopes
	@PORT=$(PORT) $(BIN)/python -m consumers.token --stage $(TOKEN_STAGE) \
		$(if $(strip $(CLIENT)),--client '$(CLIENT)') $(if $(strip $(SCOPE)),--scope '$(SCOPE)')
