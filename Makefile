# Rituals: every target creates the virtual environment when it is missing.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv run test test-unit lint format schemas dashboard broker kafka bench bench-ceiling outcome clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP) ## Create the virtual environment and install everything

run: $(STAMP) ## The living demo: embedded broker, topics, the services, twelve simulated weeks
	$(BIN)/rituals demo

test: $(STAMP) ## The whole suite on the embedded broker, then every broker test again on Apache Kafka
	$(BIN)/pytest
	RITUALS_TEST_ENGINE=kafka $(BIN)/pytest tests/integration tests/e2e

test-unit: $(STAMP) ## Only the fast, pure tests
	$(BIN)/pytest tests/unit

lint: $(STAMP) ## ruff and mypy, both must be clean
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP) ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

schemas: $(STAMP) ## Regenerate the checked-in JSON Schemas, AsyncAPI document and catalogue
	$(BIN)/python -m schemas.generate

dashboard: $(STAMP) ## Regenerate the Grafana dashboard (infra/grafana/dashboards/rituals.json) from infra/grafana/dashboard.py
	$(BIN)/python -m infra.grafana.dashboard

broker: $(STAMP) ## The embedded broker in the foreground (port 9092, topics provisioned, log kept in var/rituals)
	$(BIN)/rituals broker

kafka: $(STAMP) ## Apache Kafka (KRaft, from Maven Central) in the foreground on port 9092, data in var/rituals/kafka
	$(BIN)/rituals broker --engine kafka

bench: $(STAMP) ## Benchmarks beside their baselines; broker ones on the embedded broker and Apache Kafka (ENGINE=embedded|durable|kafka|both|all: durable is the embedded broker keeping its log on disk)
	$(BIN)/python -m benchmarks $(if $(ENGINE),--engine $(ENGINE))

outcome: $(STAMP) ## Twelve simulated weeks of 500 people with and without the matcher's priority, side by side
	$(BIN)/python -m benchmarks.outcome

bench-ceiling: $(STAMP) ## Apache Kafka's own perf tools on this machine: the broker's ceiling
	$(BIN)/python -m benchmarks.kafka_ceiling

clean: ## Remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
