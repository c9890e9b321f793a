# Two entry points for a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
BS := $(VENV)/bin/brokerscale

.PHONY: setup jars lint test test-fast demo clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# Apache Kafka jars (and the baseline tools, the JMX exporter) from Maven Central into the cache.
jars: setup
	$(BS) dev fetch

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy

# Unit tests and the real-cluster tests (marked `kafka`); the cluster is started by the test session.
test: setup jars lint
	$(PY) -m pytest

# Only the fast tests (no Kafka cluster).
test-fast: setup
	$(PY) -m pytest -m "not kafka"

demo: setup jars
	$(BS) demo

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
