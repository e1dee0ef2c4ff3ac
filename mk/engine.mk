# --- The embedded DynamoDB engine (local/engine.py): moto server, single-threaded, with the fixes
# proposed upstream (docs/upstream/moto). Any DynamoDB endpoint can stand in for it:
# DYNAMODB_ENDPOINT=http://127.0.0.1:$(ENGINE_PORT) make run | test | integration.
ENGINE_PORT ?= 4567

.PHONY: engine engine-tests engine-scale
engine: $(STAMP) ## the engine alone on 127.0.0.1:$(ENGINE_PORT) (ENGINE_ARGS=--stock: moto as installed)
	$(BIN)/python -m local.engine --port $(ENGINE_PORT) $(ENGINE_ARGS)

engine-tests: $(STAMP) ## tier: the engine vs stock moto (tests/engine: transactions, index queries, ClientRequestToken, memory)
	$(BIN)/pytest tests/engine $(ARGS)

engine-scale: $(STAMP) ## the engine's create latency and RSS at 100 / 1,000 / 10,000 users (make bench's rows)
	$(BIN)/python -m bench.engine_scale
