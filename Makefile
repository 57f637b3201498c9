# pulse — developer entry points. `make run` and `make test` work on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JARS_STAMP := infra/target/.jars
DEMO_DIR ?= demo-data
WAREHOUSE ?= .pulse/warehouse

.PHONY: setup run test test-unit lint up up-cluster down status kafka-status bench-kafka-baseline clean deploy-check

setup: $(STAMP) $(JARS_STAMP)

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "make setup: $(PYTHON) not found (Python 3.11 is required)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	$(BIN)/python -m pip check
	@touch $@

$(JARS_STAMP): infra/pom.xml
	bash infra/fetch-jars.sh
	@touch $@

run: setup
	@test -d $(DEMO_DIR) || $(BIN)/pulse generate --out $(DEMO_DIR)
	$(BIN)/pulse run --input $(DEMO_DIR) --warehouse $(WAREHOUSE)

test: setup deploy-check
	bash infra/kafka/install-kcat.sh
	$(BIN)/python -m pytest

test-unit: setup
	$(BIN)/python -m pytest tests/unit

lint: setup
	$(BIN)/ruff check pipelines jobs tests bench
	$(BIN)/ruff format --check pipelines jobs tests bench
	$(BIN)/mypy

# docs/tables.md from the column comments of the migrations (a test keeps it up to date).
.PHONY: docs
docs: setup
	$(BIN)/python -m pipelines.warehouse.table_docs --out docs/tables.md

# Deploy artefacts (infra/k8s, infra/docker, infra/prometheus, infra/grafana), validated offline:
# Kubernetes + CRD schemas, project rules, Dockerfiles, promtool rule tests (docs/deploy.md).
deploy-check: setup
	bash infra/prometheus/install-promtool.sh
	$(BIN)/python -m pipelines.deploy.check infra/k8s

# The streaming stack: Kafka broker (KRaft), topics, Faust ingest, Flink streaming job, loader.
up: setup
	$(BIN)/pulse up

# The same stack on a local CLUSTER: three Kafka nodes, a Flink session cluster (JobManager +
# TaskManagers), the job submitted with `flink run`, two ingest workers (docs/cluster.md).
up-cluster: setup
	$(BIN)/pulse up --cluster

down:
	@test -x $(BIN)/pulse || { echo "make down: nothing to stop (no .venv)"; exit 0; }
	$(BIN)/pulse down

status: setup
	$(BIN)/pulse status

kafka-status:
	@bash infra/kafka/status.sh

bench-kafka-baseline: setup
	bash infra/kafka/perf.sh

clean:
	-@test -x $(BIN)/pulse && $(BIN)/pulse down 2>/dev/null
	rm -rf .pulse $(DEMO_DIR)
