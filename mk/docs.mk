# --- The guide (docs/, mkdocs.yml; how it is built and checked: docs/about.md). MkDocs and Material
# are pinned in pyproject.toml (`docs` extra), playwright-core in package.json; Chromium is Debian's
# package. Nothing is fetched from the network when the site is built, served or viewed.
export CHROMIUM ?= /usr/bin/chromium
DOCS_PORT ?= 8001

.PHONY: docs docs-check docs-serve chromium
docs: $(NPM_STAMP) ## the guide into site/, strict (a broken link, a page out of the nav fail), with the API reference
	$(BIN)/python -m consumers.docs

docs-check: $(NPM_STAMP) chromium ## site/ in Chromium with no network: every page renders, search finds, nothing leaves
	$(BIN)/python -m consumers.site_check

docs-serve: $(NPM_STAMP) ## the guide on http://127.0.0.1:$(DOCS_PORT)/, rebuilt as docs/, settings.yaml or openapi.yaml change
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs serve --strict --dev-addr 127.0.0.1:$(DOCS_PORT)

# Installed only when missing: as root with apt-get (about 30 s, 25 packages without recommends),
# otherwise the target stops with one line saying how.
chromium: ## Debian's Chromium for the browser check (apt-get as root, only when missing)
	@test -x "$(CHROMIUM)" || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "make chromium: installing Debian's chromium (apt-get, --no-install-recommends)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	  else \
	    echo "make chromium: $(CHROMIUM) is missing: sudo apt-get install --no-install-recommends chromium (or CHROMIUM=/path/to/chromium)" >&2; \
	    exit 1; \
	  fi; }
	@test -x "$(CHROMIUM)" || { echo "make chromium: $(CHROMIUM) is still missing after apt-get" >&2; exit 1; }

# The strict build and the browser check are tests of tests/consumers (test_guide.py); the browser
# needs Chromium, which `make test` installs first.
test consumer-tests: chromium
