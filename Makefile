# The two commands: `make run` and `make test`. Everything else is a step of theirs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test install infra packages lint types unit integration e2e browser faults bench clean

run: install infra
	$(PY) -m deploy.provision
	$(PY) -m deploy.run

test: install infra lint types
	@deploy/ensure-packages.sh chromium  # the browser tests drive Debian's chromium (tests/browser)
	$(PY) -m pytest -p no:cacheprovider

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11+ is needed: apt-get install -y python3 python3-venv"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || { echo "Install venv support: apt-get install -y python3-venv"; exit 1; }
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .  # the project: crm-admin
	@touch $(STAMP)

infra: packages
	@deploy/ensure-infra.sh

packages:
	@deploy/ensure-packages.sh

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache  # the architecture contract: pyproject.toml

types: install
	$(VENV)/bin/mypy

unit: install
	$(PY) -m pytest -p no:cacheprovider tests/unit

integration: install infra
	$(PY) -m pytest -p no:cacheprovider tests/integration

e2e: install infra
	$(PY) -m pytest -p no:cacheprovider tests/e2e

# The web interface in a headless chromium (part of `make test`).
browser: install infra
	@deploy/ensure-packages.sh chromium
	$(PY) -m pytest -p no:cacheprovider tests/browser

# Faults injected into the services run as processes (stops and starts RabbitMQ): docs/faults.md.
faults: install infra
	$(PY) -m pytest -p no:cacheprovider tests/faults


bench: install infra
	@deploy/ensure-packages.sh wrk
	$(PY) -m bench

clean:
	rm -rf $(VENV) .run .mypy_cache .ruff_cache
