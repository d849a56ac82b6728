# Exchange: the two commands a newcomer needs.
#   make run   set everything up and start Exchange on the embedded default
#   make test  set everything up and pass the whole test suite (what CI runs)

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/exchange
EMBEDDED := EXCHANGE_DEBUG=1
# What deploy/ and the README's production table set, for Django's deployment checks
# (a throwaway secret key: the check never serves a request).
PRODUCTION_LIKE := EXCHANGE_DEBUG=0 \
	EXCHANGE_SECRET_KEY=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))') \
	EXCHANGE_ALLOWED_HOSTS=exchange.example.org \
	EXCHANGE_CSRF_TRUSTED_ORIGINS=https://exchange.example.org \
	EXCHANGE_PROXY_SSL_HEADER='X-Forwarded-Proto: https'

.PHONY: setup assets run test lint test-sqlite test-postgres services browser tools nginx \
	sentinel cluster cluster-stop cluster-test clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# Node packages (the browser's age library, esbuild, the CCTV test vectors), then the
# browser bundle. Neither node_modules nor the bundle is committed.
node_modules/.package-lock.json: package.json package-lock.json
	@bash scripts/node-up
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

assets: node_modules/.package-lock.json
	npm run --silent build

setup: $(STAMP) assets

run: setup
	$(EMBEDDED) $(BIN)/python manage.py migrate --noinput
	$(EMBEDDED) $(BIN)/python manage.py seed_demo
	@echo
	@echo "Exchange is starting at http://$(HOST):$(PORT)/  (Ctrl-C to stop)"
	@echo
	$(EMBEDDED) $(BIN)/python -m exchange.server -b $(HOST) -p $(PORT) exchange.asgi:application

# PostgreSQL and Redis for the production-path tests: started if they are down.
services:
	@bash scripts/services-up

# Debian's chromium for the browser tests (never a browser download of Playwright's own).
browser:
	@bash scripts/browser-up

# Debian's nginx, in front of the local cluster's workers.
nginx:
	@bash scripts/nginx-up

# Debian's redis-sentinel, for the test of a Redis failover.
sentinel:
	@bash scripts/sentinel-up

# The production topology on this machine (SPEC §7): nginx on 127.0.0.1:8080 in front of
# WORKERS (default 2) server processes on PostgreSQL and Redis. Returns once /healthz
# answers 200 through nginx.
cluster: setup services nginx
	$(BIN)/python scripts/cluster.py up

cluster-stop:
	$(BIN)/python scripts/cluster.py down

# Clients on different workers through nginx; a worker killed mid-load loses nothing.
# Starts a cluster of its own (its own ports, database and Redis number) and stops it.
cluster-test: setup services nginx
	$(BIN)/pytest tests/cluster -m cluster

# Debian's age command, for the interoperability tests of the encryption.
tools:
	@bash scripts/tools-up

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports
	EXCHANGE_DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run
	$(PRODUCTION_LIKE) $(BIN)/python manage.py check --deploy --fail-level WARNING

test-sqlite: setup
	$(BIN)/pytest

test-postgres: setup
	DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest

test: setup services browser tools nginx sentinel lint test-sqlite test-postgres cluster-test

clean:
	rm -rf $(VENV) node_modules static/dist var/*.sqlite3* var/static
