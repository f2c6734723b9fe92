# The two commands: `make up` (set up, run the chain, deploy, load the demo city) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
CP := $(VENV)/bin/citypoints
PYTEST_ARGS ?=

.PHONY: up down test setup compile slither clean

up: setup compile
	$(CP) node start
	$(CP) deploy
	$(CP) demo
	@echo
	@echo "CityPoints is up:"
	@echo "  chain      $$($(CP) node status --json | $(VENV)/bin/python -c 'import json,sys; print(json.load(sys.stdin)["rpcUrl"])')"
	@echo "  deployment var/deployment.json   demo accounts var/demo.json"
	@echo "  next       $(CP) node status   |   $(CP) --help   |   make down"

down:
	-$(CP) node stop

test: setup compile
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

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

slither: setup compile
	$(VENV)/bin/pip install -q slither-analyzer==0.11.5
	$(VENV)/bin/slither . --compile-force-framework solc --solc ledger_node/bin/solc \
	  --solc-remaps "@openzeppelin/=node_modules/@openzeppelin/" --filter-paths node_modules --exclude-informational --exclude-low

clean:
	rm -rf build var/chain
