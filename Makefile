# One task runner. `make run` starts the platform with demo data; `make test` runs the suite against
# real Postgres, Redis and Keycloak (started here when the environment does not point at them).
SHELL := /bin/bash
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
UV_VERSION := 0.13.9
VENV := .venv
PY := $(VENV)/bin/python
STACK := $(PYTHON) -u deploy/localstack.py
PYTEST_ARGS ?=
# The S3-compatible server the attachment tests run against (Apache-2.0), built with the Go toolchain.
VERSITYGW_VERSION := v1.8.0
VERSITYGW := $(TOOLS)/versitygw-$(VERSITYGW_VERSION)/versitygw
# helm (Apache-2.0) lints and renders deploy/helm/worktime in the tests, built with the Go toolchain.
HELM_VERSION := v3.21.4
HELM := $(TOOLS)/helm-$(HELM_VERSION)/helm

.PHONY: help bootstrap run status down test pytest lint format typecheck bench docs screenshots clean s3gw helm helm-check

help:
	@echo "make run     start Postgres, Redis, Keycloak, the API + web app and a worker, with demo data"
	@echo "make status  print the running stack as KEY=value lines"
	@echo "make test    lint, type-check and run the tests against a throwaway stack"
	@echo "make bench   HTTP load (wrk) on the API next to bare baselines, against the targets"
	@echo "make docs    regenerate generated docs (docs/rbac.md, docs/configuration.md)"
	@echo "make screenshots  the web app's main pages as PNGs in docs/screenshots/ (headless chromium)"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --locked --quiet
	@touch $@

bootstrap: $(VENV)/.synced

$(VERSITYGW):
	GOBIN=$(abspath $(dir $(VERSITYGW))) GOFLAGS=-trimpath go install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)

s3gw: $(VERSITYGW)

$(HELM):
	GOBIN=$(abspath $(dir $(HELM))) GOFLAGS=-trimpath go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

helm: $(HELM)

# The chart linted, rendered with its defaults and with everything on, and the output validated offline
# against the Kubernetes schemas (kubernetes-validate ships them). A go-installed helm assumes Kubernetes
# 1.20, hence --kube-version.
CHART := deploy/helm/worktime
KUBE_VERSION := 1.37.0
helm-check: $(HELM) bootstrap
	$(HELM) lint --strict --kube-version $(KUBE_VERSION) $(CHART)
	$(HELM) lint --strict --kube-version $(KUBE_VERSION) -f $(CHART)/ci/all-on-values.yaml $(CHART)
	@mkdir -p .stack/helm
	$(HELM) template worktime $(CHART) --kube-version $(KUBE_VERSION) > .stack/helm/default.yaml
	$(HELM) template worktime $(CHART) --kube-version $(KUBE_VERSION) -f $(CHART)/ci/all-on-values.yaml \
		> .stack/helm/all-on.yaml
	$(VENV)/bin/kubernetes-validate -k $(KUBE_VERSION) --strict --quiet .stack/helm/default.yaml .stack/helm/all-on.yaml

# `make run PGBOUNCER=1` sends the API's and workers' database connections through PgBouncer;
# API_PROCESSES=N runs N uvicorn processes on the one port, WORKERS=M runs M job worker processes.
API_PROCESSES ?= 1
WORKERS ?= 1
run: bootstrap
	$(STACK) up --name dev --fixed-ports $(if $(PGBOUNCER),--pgbouncer) \
		--setup "$(PY) -m backend migrate" \
		--setup "$(PY) -m backend seed" \
		--serve "$(PY) -m backend serve --workers $(API_PROCESSES)" \
		$(foreach n,$(shell seq $(WORKERS)),--serve "$(PY) -m backend worker") \
		--serve "$(PY) -m aiosmtpd -n -l 127.0.0.1:1025"

status:
	@$(STACK) status --name dev

down:
	$(STACK) down --name dev

lint: bootstrap
	$(VENV)/bin/ruff check backend tests deploy keycloak
	$(VENV)/bin/ruff format --check backend tests deploy keycloak
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache  # the layer contracts in pyproject.toml
	$(PY) -m backend.settings_docs --check docs/configuration.md  # generated from backend/settings.py

format: bootstrap
	$(VENV)/bin/ruff check --fix backend tests deploy keycloak
	$(VENV)/bin/ruff format backend tests deploy keycloak

typecheck: bootstrap
	$(VENV)/bin/mypy

# Runs pytest inside a throwaway native stack unless WORKTIME_DATABASE_URL already points at servers.
test: lint helm-check $(VERSITYGW) $(HELM)
	@if [ -n "$$WORKTIME_DATABASE_URL" ]; then \
		$(PY) -m pytest $(PYTEST_ARGS); \
	else \
		$(STACK) up --name test --ephemeral --exec "$(PY) -m pytest $(PYTEST_ARGS)"; \
	fi

bench: bootstrap
	@if [ -n "$$WORKTIME_DATABASE_URL" ]; then \
		$(PY) -m backend bench --section $(or $(BENCH_SECTION),all); \
	else \
		$(STACK) up --name bench --ephemeral \
			--setup "$(PY) -m backend migrate" --setup "$(PY) -m backend seed" \
			--exec "$(PY) -m backend bench --section $(or $(BENCH_SECTION),all)"; \
	fi

docs: bootstrap
	$(PY) -m backend.tenancy.docs > docs/rbac.md
	$(PY) -m backend.settings_docs > docs/configuration.md

# A throwaway seeded stack serving the web app; Playwright drives Debian's chromium through the pages.
screenshots: bootstrap
	$(STACK) up --name shots --ephemeral \
		--setup "$(PY) -m backend migrate" --setup "$(PY) -m backend seed" \
		--serve "$(PY) -m backend serve" --serve "$(PY) -m backend worker" \
		--exec "$(PY) -m tests.web.screenshots"

clean:
	rm -rf .stack $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
