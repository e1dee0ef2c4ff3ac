# The connexion patches proposed upstream (docs/upstream/connexion): build/upstream/ holds
# throw-away copies of connexion 3.3.0 (the wheel from PyPI, hash-checked) with them applied.

.PHONY: upstream-check
upstream-check: $(STAMP) ## connexion patches: apply to 3.3.0, their tests pass patched and fail on stock
	$(BIN)/python -m bench.upstream check

# Cheap (about 15 s): part of `make test`. The what-if cold start stays in `make bench`.
test: upstream-check

.PHONY: upstream-lint
upstream-lint: $(STAMP) ## connexion patches: upstream's own linters (black, isort, flake8, mypy) on the patched copy
	$(BIN)/python -m bench.upstream lint
