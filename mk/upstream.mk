# The patches carried until upstream takes them (docs/upstream/<name>/patches, upstream/): the wheels
# that .venv and the bundle install are built by `make install` (build/wheels/); build/upstream/
# holds the releases (from the package index, hash-checked) and throw-away copies for the patches' tests.

.PHONY: upstream-check
upstream-check: $(STAMP) ## every carried release's patches apply to it, their tests pass patched and fail on stock, .venv runs the builds
	$(BIN)/python -m upstream.check check

# About two minutes: part of `make test`.
test: upstream-check

.PHONY: upstream-lint
upstream-lint: $(STAMP) ## connexion's patches: upstream's own linters (black, isort, flake8, mypy) on the patched copy
	$(BIN)/python -m upstream.check lint
