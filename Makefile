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

# Everything CI runs: unit tests, the real-cluster tests (marked `kafka`; the cluster is started by
# the test session) and the PostgreSQL store tests (marked `postgres`) against a throwaway PostgreSQL
# started here the way CI starts it, unless BROKERSCALE_TEST_POSTGRES_URL already names one. When
# PostgreSQL can be neither found nor installed, it says so and those tests skip.
test: setup jars lint
	@export BROKERSCALE_PG_DIR="$${BROKERSCALE_PG_DIR:-/tmp/brokerscale-pg-$$(id -u)-$$(printf %s "$(CURDIR)" | cksum | cut -d' ' -f1)}"; \
	url="$${BROKERSCALE_TEST_POSTGRES_URL:-}"; started=; \
	if [ -z "$$url" ]; then \
	  url="$$(bash scripts/start-postgres.sh)"; started=$${url:+yes}; \
	  if [ -n "$$url" ]; then echo "make test: PostgreSQL store tests run against $$url (stopped afterwards)"; \
	  else echo "make test: PostgreSQL is not available here (not installed, and apt-get could not install it): the postgres store tests will SKIP"; fi; \
	fi; \
	BROKERSCALE_TEST_POSTGRES_URL="$$url" $(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ -n "$$started" ]; then bash scripts/start-postgres.sh --stop >/dev/null 2>&1; fi; \
	exit $$rc

# Only the fast tests (no Kafka cluster).
test-fast: setup
	$(PY) -m pytest -m "not kafka"

demo: setup jars
	$(BS) demo

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
