# The connexion patches carried until upstream takes them (docs/upstream/connexion, upstream/): the
# wheel that .venv and the bundle install is built by `make install` (build/wheels/); build/upstream/
# holds the release (from the package index, hash-checked) and throw-away copies for the patches' tests.

.PHONY: upstream-check
upstream-check: $(STAMP) ## connexion patches: apply to 3.3.0, their tests pass patched and fail on stock, .venv runs the build
	$(BIN)/python -m upstream.check check

# About a minute: part of `make test`.
test: upstream-check

.PHONY: upstream-lint
upstream-lint: $(STAMP) ## connexion patches: upstream's own linters (black, isort, flake8, mypy) on the patched copy
	$(BIN)/python -m upstream.check lint
