# The two commands a new user needs: `make dev` (the whole system, locally) and `make test`.
# Each does all of its own set-up: a virtualenv, the Python dependencies, and the service binaries
# (Kafka and Apicurio Registry jars via Maven, MinIO via `go install`), cached under ~/.cache/reelstream.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOCK   := requirements/dev.txt
# `make lock`'s resolver, in a venv of its own (never the project's)
UV_VERSION  ?= 0.13.9
LOCK_TOOLS  ?= .lock-tools
LOCK_INPUTS := requirements/build.in pyproject.toml clients/python/pyproject.toml
UV_COMPILE  := $(LOCK_TOOLS)/bin/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
               --custom-compile-command 'make lock'
# The SDK (clients/python) is its own distribution: its wheel is built and installed into the venv (with the
# `reelstream` command it owns), again whenever its sources change.
CLIENT := clients/python
CLIENT_STAMP := $(VENV)/.client-installed
CLIENT_SOURCES := $(CLIENT)/pyproject.toml $(shell find $(CLIENT)/src -name '*.py' 2>/dev/null)

export HF_HUB_OFFLINE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# The TypeScript client package (clients/typescript): the console depends on it (file:), so it is built first.
TS_CLIENT       := clients/typescript
TS_CLIENT_DEPS  := $(TS_CLIENT)/node_modules/.installed
TS_CLIENT_BUILT := $(TS_CLIENT)/dist/index.js
TS_CLIENT_SRC   := $(shell find $(TS_CLIENT)/src -type f 2>/dev/null) $(TS_CLIENT)/tsconfig.json \
                   $(TS_CLIENT)/tsconfig.build.json
# The development OIDC provider (devstack/oidc_provider: panva's oidc-provider on Node): `make dev` with
# REELSTREAM_DEV_OIDC and the console's browser tests sign in through it.
OIDC_DEPS := devstack/oidc_provider/node_modules/.installed
CONSOLE_DEPS  := console/node_modules/.installed
CONSOLE_BUILT := console/dist/index.html
CONSOLE_SRC   := $(shell find console/src console/docs-page console/scripts -type f 2>/dev/null) \
                 console/index.html console/vite.config.ts console/tsconfig.json

.PHONY: dev test lint unit fetch client clean stack-up stack-down prereqs chaos console lock sbom ts-client

# The Python dependencies come from the lock (requirements/dev.txt: the base, the render and test extras and the
# SDK's cli and webhooks extras, every file checked against its sha256), then the project and the SDK without
# their dependencies and without build isolation (the build backend is in the lock too): docs/supply-chain.md.
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --require-hashes --no-deps -r $(LOCK)
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	$(BIN)/pip check
	touch $@

$(CLIENT_STAMP): $(STAMP) $(CLIENT_SOURCES)
	rm -rf $(CLIENT)/dist
	$(BIN)/pip wheel -q --no-deps --no-build-isolation -w $(CLIENT)/dist ./$(CLIENT)
	$(BIN)/pip install -q --force-reinstall --no-deps $(CLIENT)/dist/reelstream_client-*.whl
	touch $@

# Regenerate the locks after a change to a dependency in pyproject.toml or clients/python/pyproject.toml (pins
# already in a lock are kept where they still fit; `make lock UPGRADE=1` moves every pin to the newest release).
# uv resolves one universal lock (every platform's wheels hashed); the image locks are the subsets the images
# install, constrained to the same versions. tests/unit/devstack/test_lockfile.py fails while a lock disagrees.
lock:
	test -x $(LOCK_TOOLS)/bin/uv || { $(PYTHON) -m venv $(LOCK_TOOLS) && $(LOCK_TOOLS)/bin/pip install -q 'uv==$(UV_VERSION)'; }
	$(UV_COMPILE) $(if $(UPGRADE),--upgrade) $(LOCK_INPUTS) --extra render --extra test --extra cli \
	  --extra webhooks -o requirements/dev.txt
	$(UV_COMPILE) -c requirements/dev.txt $(LOCK_INPUTS) --extra render --extra cli -o requirements/gpu.txt
	$(UV_COMPILE) -c requirements/dev.txt $(LOCK_INPUTS) --extra cli -o requirements/cpu.txt

# The software bills of materials (CycloneDX JSON) of what each image ships, from the image locks and the
# console's npm lock (devstack/sbom.py): build/sbom-cpu.cdx.json and build/sbom-gpu.cdx.json, on every `make test`.
sbom: $(STAMP)
	$(BIN)/python -m devstack.sbom --out-dir build

client: $(CLIENT_STAMP)

fetch: $(CLIENT_STAMP)
	$(BIN)/reelstream stack fetch

lint: $(CLIENT_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/mypy --strict $(CLIENT)/src
	$(BIN)/lint-imports

# Prometheus + promtool (Debian's package) for the observability tests, and Chromium for the console's
# browser tests (Playwright drives Debian's build; its own browser download is not used): installed when
# missing if we may.
prereqs:
	@command -v promtool >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; \
	  else echo "prometheus is required for the observability tests: sudo apt-get install prometheus" \
	    "(or set REELSTREAM_PROMETHEUS_BIN)"; exit 1; fi; }
	@test -x "$${REELSTREAM_CHROMIUM:-/usr/bin/chromium}" || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	  else echo "chromium is required for the console's browser tests: sudo apt-get install chromium" \
	    "(or set REELSTREAM_CHROMIUM to a Chromium binary)"; exit 1; fi; }

NPM_CI := npm ci --no-audit --no-fund --prefer-offline --loglevel=error

$(TS_CLIENT_DEPS): $(TS_CLIENT)/package.json $(TS_CLIENT)/package-lock.json
	@command -v npm >/dev/null || { echo "Node 20 and npm are required for the console:" \
	  "sudo apt-get install nodejs npm (or https://nodejs.org)"; exit 1; }
	cd $(TS_CLIENT) && $(NPM_CI)
	touch $@

$(TS_CLIENT_BUILT): $(TS_CLIENT_DEPS) $(TS_CLIENT_SRC)
	cd $(TS_CLIENT) && npm run build --silent

ts-client: $(TS_CLIENT_BUILT)

$(OIDC_DEPS): devstack/oidc_provider/package.json devstack/oidc_provider/package-lock.json
	cd devstack/oidc_provider && $(NPM_CI)
	touch $@

# The web console (console/): Node 20 and npm, dependencies from package-lock.json, built when stale.
$(CONSOLE_DEPS): console/package.json console/package-lock.json $(TS_CLIENT_BUILT)
	cd console && $(NPM_CI)
	touch $@

$(CONSOLE_BUILT): $(CONSOLE_DEPS) $(CONSOLE_SRC) $(TS_CLIENT_BUILT)
	cd console && npm run build --silent

console: $(CONSOLE_BUILT)

test: lint fetch prereqs console sbom $(OIDC_DEPS)
	$(BIN)/python -m pytest

# A longer soak than `make test` runs: the scheduler SIGKILLed 30 times under load, then the fault suite.
chaos: fetch
	REELSTREAM_TEST_RESTARTS=30 $(BIN)/python -m pytest tests/integration/test_scheduler_restarts.py tests/reliability

unit: $(CLIENT_STAMP)
	$(BIN)/python -m pytest tests/unit $(CLIENT)/tests

# `reelstream dev` and `stack up` fetch (or find cached) the service binaries themselves, with the same
# progress lines: no separate `stack fetch` process first (on a warm machine it only re-checked the cache).
dev: $(CLIENT_STAMP) console
	$(BIN)/reelstream dev

stack-up: $(CLIENT_STAMP)
	$(BIN)/reelstream stack up

stack-down: $(CLIENT_STAMP)
	$(BIN)/reelstream stack down

clean:
	rm -rf $(VENV) $(LOCK_TOOLS) build .pytest_cache .mypy_cache .ruff_cache $(CLIENT)/dist $(CLIENT)/build console/node_modules console/dist \
	  $(TS_CLIENT)/node_modules $(TS_CLIENT)/dist devstack/oidc_provider/node_modules
