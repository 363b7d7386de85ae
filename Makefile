# The two commands: `make dev` runs the portal on embedded defaults, `make test` passes the tests.
# Everything else here is what those two need on a fresh machine.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# Both cores: the suite is mostly waiting on Terraform, the worker and the database.
PYTEST_ARGS ?= -n 2

.PHONY: dev test lint setup setup-dev locale migrate demo browser slapd netns redis bench bench-inventory bench-web bench-throughput clean help

help:
	@echo "make dev    - set up and run the portal (web, worker, beat, local cloud) with demo data on 127.0.0.1:$(PORT)"
	@echo "make test   - set up and run the test suite (SQLite, or PostgreSQL when DATABASE_URL points there)"
	@echo "make lint   - ruff"
	@echo "make bench  - benchmarks in bench/ (also bench-inventory, bench-web, bench-throughput)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# python-ldap (under django-auth-ldap) builds against OpenLDAP's and SASL's headers.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@test -e /usr/include/ldap.h -a -e /usr/include/sasl/sasl.h || (apt-get update -qq && apt-get install -y -qq libldap2-dev libsasl2-dev >/dev/null)
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

# Compiled message catalogues are built, not committed; gettext's msgfmt comes from Debian when missing.
locale: $(VENV)/.installed
	@command -v msgfmt >/dev/null || (apt-get update -qq && apt-get install -y -qq gettext >/dev/null)
	$(BIN)/python manage.py compilemessages --ignore=.venv --ignore=var --ignore=node_modules -v 0

# ECharts for the overview's charts, from the npm registry (npm checks the package's integrity); served as a
# static file, so the pages draw with no internet. Not committed: the set-up fetches the pinned version.
ECHARTS_VERSION := 5.6.0
ECHARTS := portal/static/portal/vendor/echarts.min.js

$(ECHARTS):
	@command -v npm >/dev/null || (apt-get update -qq && apt-get install -y -qq npm >/dev/null)
	@mkdir -p $(@D)
	@tmp=$$(mktemp -d) && (cd $$tmp && npm pack --silent echarts@$(ECHARTS_VERSION) >/dev/null \
	  && tar -xzf echarts-$(ECHARTS_VERSION).tgz package/dist/echarts.min.js package/LICENSE) \
	  && mv $$tmp/package/dist/echarts.min.js $@ && mv $$tmp/package/LICENSE $(@D)/echarts.LICENSE && rm -rf $$tmp

setup: $(VENV)/.installed locale $(ECHARTS)

setup-dev: $(VENV)/.installed-dev locale $(ECHARTS) browser slapd netns redis

# The scale-out test and bench/throughput make worker hosts as network namespaces (iproute2, util-linux's
# unshare) and reach the loopback-only services through socat forwarders (bench/hosts.py).
netns:
	@command -v ip >/dev/null && command -v socat >/dev/null && command -v unshare >/dev/null && command -v ss >/dev/null \
	  || (apt-get update -qq && apt-get install -y -qq iproute2 socat util-linux >/dev/null)

# The directory sign-in tests start their own OpenLDAP server (Debian's slapd) on a free port with a config of
# their own. The package's own service is kept from starting (policy-rc.d) and left off: nothing needs port 389.
slapd:
	@command -v slapd >/dev/null && command -v ldapadd >/dev/null || ( \
	  apt-get update -qq; \
	  guard=; if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d \
	    && chmod +x /usr/sbin/policy-rc.d && guard=1; fi; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slapd ldap-utils >/dev/null; status=$$?; \
	  [ -n "$$guard" ] && rm -f /usr/sbin/policy-rc.d; \
	  (command -v systemctl >/dev/null && systemctl disable --now slapd >/dev/null 2>&1) || true; \
	  (service slapd stop >/dev/null 2>&1) || true; \
	  exit $$status)

# The fault suite (tests/e2e/test_faults.py) restarts a Redis broker of its own on a free port: Debian's
# redis-server, its system service kept from starting (policy-rc.d), as for slapd.
redis:
	@command -v redis-server >/dev/null || ( \
	  apt-get update -qq; \
	  guard=; if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d \
	    && chmod +x /usr/sbin/policy-rc.d && guard=1; fi; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; status=$$?; \
	  [ -n "$$guard" ] && rm -f /usr/sbin/policy-rc.d; \
	  exit $$status)

# Debian's Chromium drives the browser tests (Playwright's own browser download cannot work offline).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null)

migrate: setup
	$(BIN)/python manage.py migrate --no-input -v 0

demo: migrate
	$(BIN)/python manage.py demo_data

dev: demo
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py devstack --port $(PORT)

# Tests keep their own var/ (keys, broker queue, SQLite test database), apart from a running `make dev`.
test: setup-dev
	PORTAL_VAR_DIR=$(CURDIR)/var/test $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup-dev
	$(BIN)/ruff check .

# BENCH_ARGS, e.g. "--repeat 8 --modules vm": see bench/README.md.
bench: setup-dev
	$(BIN)/python -m bench.run_overhead $(BENCH_ARGS)

# The inventory at 1,000 and at 100,000 instances on PostgreSQL (bench/README.md).
bench-inventory: setup-dev
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres} $(BIN)/python -m bench.inventory_scale $(BENCH_ARGS)

# Signed-in pages under gunicorn with production settings on PostgreSQL, loaded by Debian's wrk (bench/README.md).
bench-web: setup-dev
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null)
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres} $(BIN)/python -m bench.web $(BENCH_ARGS)

# Approved requests with one worker host and with two (network namespaces: needs root), PostgreSQL and Redis.
bench-throughput: setup-dev
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres} \
	  CELERY_BROKER_URL=$${CELERY_BROKER_URL:-redis://127.0.0.1:6379/0} $(BIN)/python -m bench.throughput $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache $(dir $(ECHARTS))
