# The two commands: `make up` (set up, run the chain, deploy, load the demo city) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
CP := $(VENV)/bin/citypoints
PYTEST_ARGS ?=

.PHONY: up down test test-deep setup compile wallet browser slither brownie clean

up: setup compile wallet
	$(CP) node start
	$(CP) deploy
	$(CP) demo
	$(CP) merchant import-demo
	CITYPOINTS_DEV_SECRETS=true $(CP) serve --detach   # the demo city only: keys made under var/keys/api/
	@echo
	@echo "CityPoints is up:"
	@echo "  chain      $$($(CP) node status --json | $(VENV)/bin/python -c 'import json,sys; print(json.load(sys.stdin)["rpcUrl"])')"
	@echo "  API        http://127.0.0.1:8000/v1   (docs http://127.0.0.1:8000/docs)"
	@echo "  pages      http://127.0.0.1:8000/wallet/  /pos/ (shops' till)  /console/"
	@echo "  links, QR  $${CITYPOINTS_PUBLIC_URL:-http://127.0.0.1:8000}   (CITYPOINTS_PUBLIC_URL: the address phones reach)"
	@echo "  deployment var/deployment.json   demo accounts var/demo.json"
	@echo "  next       $(CP) node status   |   $(CP) --help   |   make down"

down:
	-$(CP) serve --stop
	-$(CP) node stop

# Two pytest processes, each with its own compile-cached session node, about equally long (2 cores, about 3.5
# minutes each): the contracts' suites (their two state machines are the long pole), the SDK's, the audit's and the
# node's kill -9 and divergence rounds beside everything else. The first's output follows the rest's.
SECOND := tests/contracts tests/issuer_sdk tests/ledger_node/audit tests/ledger_node/test_durability.py \
          tests/ledger_node/test_recovery_divergence.py tests/settlement
test: setup compile wallet browser
	@mkdir -p build; \
	$(VENV)/bin/python -m pytest $(SECOND) $(PYTEST_ARGS) > build/test-second.log 2>&1 & second=$$!; \
	$(VENV)/bin/python -m pytest tests $(addprefix --ignore=,$(SECOND)) $(PYTEST_ARGS); rest=$$?; \
	wait $$second; mine=$$?; echo "---- $(SECOND) ----"; cat build/test-second.log; \
	[ $$rest = 5 ] && rest=0; [ $$mine = 5 ] && mine=0; \
	exit $$(( rest || mine ))

# What `make test` runs in small: 50 rounds of kill -9 of the whole node under load (SDK issuance, redemptions) and
# through the API, 10 during demo loading, all at the city's 1 s blocks (`make test`: 3, 2 and 1 at 0.25 s); the
# contracts' state machines with the `deep` hypothesis profile (`make test`: `ci`).
test-deep: setup compile
	CITYPOINTS_KILL_ROUNDS=50 CITYPOINTS_KILL_BLOCK_PERIOD=1 $(VENV)/bin/python -m pytest tests/ledger_node/test_durability.py -k underLoad -p no:randomly -s
	CITYPOINTS_KILL_ROUNDS=50 CITYPOINTS_DEMO_KILL_ROUNDS=10 CITYPOINTS_KILL_BLOCK_PERIOD=1 $(VENV)/bin/python -m pytest tests/ledger_node/test_durability_api.py -p no:randomly -s
	HYPOTHESIS_PROFILE=deep $(VENV)/bin/python -m pytest tests/contracts -k stateful -p no:randomly -s

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements.lock
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

compile: setup
	$(CP) compile

# the pages the API serves at /wallet and /console (exchange_api/{wallet,console}/dist, one build, rebuilt when
# their sources change)
WALLET_SRC := exchange_api/wallet/build.mjs $(wildcard exchange_api/wallet/src/*.* exchange_api/wallet/src/views/*) \
  $(wildcard exchange_api/console/src/*.* exchange_api/console/src/views/*) \
  $(wildcard exchange_api/pos/src/*.* exchange_api/pos/src/views/*)
wallet: exchange_api/wallet/dist/index.html exchange_api/console/dist/index.html exchange_api/pos/dist/index.html
exchange_api/wallet/dist/index.html exchange_api/console/dist/index.html exchange_api/pos/dist/index.html &: $(WALLET_SRC) node_modules/.installed
	node exchange_api/wallet/build.mjs

# the wallet's browser tests drive Debian's chromium (Playwright cannot download browsers here)
# Debian's chromium, and a CJK font whenever none is present (a machine may have chromium but no CJK font: the
# screenshots of the 中文 pages would show empty boxes).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; \
	  else echo "the wallet tests need Debian's chromium: sudo apt-get install chromium fonts-wqy-microhei" >&2; exit 1; fi; }
	@fc-list :lang=zh 2>/dev/null | grep -q . || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null; \
	  else echo "the 中文 pages need a CJK font: sudo apt-get install fonts-wqy-microhei" >&2; exit 1; fi; }

# Slither lives in its own virtualenv (its pins would fight the project's) and reads the same
# standard-JSON input the compiler gets; contracts/README.md explains each finding it reports.
slither: setup compile
	test -x .venv-slither/bin/slither || { $(PYTHON) -m venv .venv-slither && .venv-slither/bin/pip install -q slither-analyzer==0.11.6; }
	$(VENV)/bin/python -m ledger_node.compiler build/slither-input.json
	.venv-slither/bin/slither build/slither-input.json --compile-force-framework solc-json --solc ledger_node/bin/solc \
	  --filter-paths "node_modules|@openzeppelin|contracts/mocks" --exclude-informational --exclude-low --exclude-optimization

# README's "Brownie users", step by step, against the city `make up` runs: Brownie in its own virtualenv, the
# project's solc wrapper as Brownie's 0.8.28, compile, a script on the running chain, and Brownie's tests on its
# own development anvil (the project's, from node_modules). CI runs it after `make up`.
BROWNIE_VENV ?= $(HOME)/.venvs/brownie
BROWNIE := $(BROWNIE_VENV)/bin/brownie
brownie:
	test -x $(BROWNIE) || { $(PYTHON) -m venv $(BROWNIE_VENV) && $(BROWNIE_VENV)/bin/pip install -q --disable-pip-version-check eth-brownie==1.22.2; }
	mkdir -p $(HOME)/.solcx && ln -sf "$(CURDIR)/ledger_node/bin/solc" $(HOME)/.solcx/solc-v0.8.28
	$(BROWNIE) networks list | grep -q 'citypoints' || $(BROWNIE) networks add Ethereum citypoints host=http://127.0.0.1:8545 chainid=7007
	$(BROWNIE) compile
	rm -rf build/brownie/deployments   # Brownie checks recorded deployments at load; a rebuilt chain has other ones
	$(BROWNIE) run balances --network citypoints
	@# --confcutdir: Brownie's pytest must not load tests/conftest.py, which needs the project's own virtualenv
	PATH="$(CURDIR)/node_modules/.bin:$$PATH" $(BROWNIE) test tests/brownie --network anvil --confcutdir=tests/brownie

clean:
	rm -rf build var/chain
