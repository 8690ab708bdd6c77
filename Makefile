# PowerCRM — `make run` builds the warehouse from a simulated landing folder, `make test` runs the tests.
# Both create .venv (Python 3.11) when it is missing or pyproject.toml changed.

SHELL      := /bin/bash
PYTHON     ?= python3.11
VENV       := .venv
BIN        := $(VENV)/bin
STAMP      := $(VENV)/.installed
CUSTOMERS  ?= 20000
MONTHS     ?= 24
LANDING    ?= landing
WAREHOUSE  ?= warehouse/powercrm.duckdb
WORK_DB    := $(basename $(WAREHOUSE)).work.duckdb

.PHONY: help venv simulate run status test lint dev docs dashboard bench clean distclean spark-venv spark-test

help:
	@echo "make run      simulate a landing folder (CUSTOMERS=$(CUSTOMERS) MONTHS=$(MONTHS)) once, then load, build, check, publish"
	@echo "make test     run the test suite (pytest)"
	@echo "make spark-test  create .venv-spark (dbt-spark, PySpark; needs Java 17) and build the project on Spark, compared with DuckDB"
	@echo "make status   what the published file $(WAREHOUSE) holds"
	@echo "make lint     ruff"
	@echo "make dev      Dagster UI (dagster dev)"
	@echo "make docs     dbt docs as a static site that works offline: docs/site/index.html (needs \`make run\` first)"
	@echo "make dashboard  the analysts' dashboard on http://$(DASHBOARD_ADDRESS):$(DASHBOARD_PORT) (reads $(WAREHOUSE) read-only)"
	@echo "make bench    benchmarks in bench/ (print figures)"
	@echo "make clean    remove the warehouse files, dbt target and caches (distclean: also landing/ and .venv)"

venv: $(STAMP)

# reinstall only when the venv is missing or pyproject.toml is newer than the stamp
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev,dashboard]'
	@touch $(STAMP)

simulate: venv
	$(BIN)/powercrm simulate --out $(LANDING) --customers $(CUSTOMERS) --months $(MONTHS)

run: venv
	@if [ ! -f $(LANDING)/_simulation.json ]; then \
	  echo "simulating $(CUSTOMERS) customers over $(MONTHS) months into $(LANDING)/ (once)"; \
	  $(BIN)/powercrm simulate --out $(LANDING) --customers $(CUSTOMERS) --months $(MONTHS) || exit $$?; \
	fi
	@rc=0; $(BIN)/powercrm run --landing $(LANDING) --warehouse $(WAREHOUSE) || rc=$$?; \
	if [ $$rc -eq 0 ] || [ $$rc -eq 3 ]; then \
	  echo; echo "The analysts' file: $(WAREHOUSE) (open it read-only). For example:"; \
	  echo "  $(BIN)/python -c \"import duckdb; print(duckdb.connect('$(WAREHOUSE)', read_only=True).sql('select month, round(sum(sales_kwh)) as sales_kwh, round(sum(amount_yuan)) as amount_yuan from marts.sales_volume_monthly group by 1 order by 1 desc limit 6'))\""; \
	  echo "  duckdb -readonly $(WAREHOUSE) \"select * from marts.customer_credit limit 5\"   # with the duckdb CLI"; \
	fi; \
	if [ $$rc -ne 0 ] && [ $$rc -ne 3 ]; then exit $$rc; fi

status: venv
	$(BIN)/powercrm status --warehouse $(WAREHOUSE)

test: venv
	$(BIN)/pytest -q

# Spark (docs/spark.md): its own venv, dbt-core + dbt-spark[session] (PySpark 4); Java 17 from the
# system packages. tests/test_spark.py runs under `make test` too wherever this venv and Java exist.
SPARK_VENV  := .venv-spark
SPARK_STAMP := $(SPARK_VENV)/.installed
$(SPARK_STAMP):
	@command -v java >/dev/null || { echo "Java 17 is needed: apt-get install -y openjdk-17-jre-headless"; exit 1; }
	@test -x $(SPARK_VENV)/bin/python || $(PYTHON) -m venv $(SPARK_VENV)
	$(SPARK_VENV)/bin/python -m pip install -q --disable-pip-version-check 'dbt-core==1.11.16' 'dbt-spark[session]==1.11.0'
	@touch $(SPARK_STAMP)

spark-venv: $(SPARK_STAMP)

spark-test: venv spark-venv
	SPARK_LOCAL_IP=127.0.0.1 POWERCRM_SPARK_TEST_DBT=build $(BIN)/pytest -q -s tests/test_spark.py

lint: venv
	$(BIN)/ruff check .

dev: venv
	@mkdir -p .dagster_home
	DAGSTER_HOME="$(CURDIR)/.dagster_home" POWERCRM_LANDING=$(LANDING) POWERCRM_WAREHOUSE=$(WAREHOUSE) \
	  $(BIN)/dagster dev -m orchestration.definitions

# dbt docs against the built working database (env POWERCRM_WORK_DB, default $(WORK_DB)), with the
# manifest and catalog inlined (--static) so docs/site/index.html opens from disk without a server.
# docs/site/ is generated and git-ignored (its own .gitignore).
DOCS_DB ?= $(or $(POWERCRM_WORK_DB),$(WORK_DB))
docs: venv
	@test -f "$(DOCS_DB)" || { echo "no working database at $(DOCS_DB): run \`make run\` first (or set POWERCRM_WORK_DB)"; exit 1; }
	@mkdir -p docs/site && printf '*\n' > docs/site/.gitignore
	POWERCRM_WORK_DB=$(DOCS_DB) $(BIN)/dbt docs generate --static --project-dir . --profiles-dir profiles \
	  --target-path docs/site --log-path docs/site/logs
	@cp docs/site/static_index.html docs/site/index.html
	@echo "dbt docs (works offline): open docs/site/index.html"

# The analysts' dashboard (Streamlit, the `dashboard` extra, installed into .venv when missing). It reads
# the published file read-only: env POWERCRM_WAREHOUSE, default $(WAREHOUSE).
DASHBOARD_PORT    ?= 8501
DASHBOARD_ADDRESS ?= 127.0.0.1
DASHBOARD_DB      ?= $(or $(POWERCRM_WAREHOUSE),$(WAREHOUSE))
dashboard: venv
	@$(BIN)/python -c "import streamlit" 2>/dev/null || \
	  $(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev,dashboard]'
	@test -f "$(DASHBOARD_DB)" || echo "note: no published file at $(DASHBOARD_DB) yet: run \`make run\` first"
	POWERCRM_WAREHOUSE=$(DASHBOARD_DB) $(BIN)/streamlit run dashboard/app.py --server.headless true \
	  --server.address $(DASHBOARD_ADDRESS) --server.port $(DASHBOARD_PORT) --browser.gatherUsageStats false \
	  --client.toolbarMode viewer

# make bench SIZE=small|medium|large [BENCH_ARGS="--skip peer ..."]: bench/run_bench.py (phases, floor,
# nightly increment, analysts' queries, pandas peer); figures in bench/results/. Simulator alone:
# $(BIN)/python bench/bench_simulate.py
bench: SIZE ?= small
bench: venv
	$(BIN)/python bench/run_bench.py --size $(SIZE) $(BENCH_ARGS)

clean:
	rm -rf warehouse/*.duckdb warehouse/*.duckdb.wal warehouse/*.lock warehouse/*.state target logs \
	  .pytest_cache .ruff_cache

distclean: clean
	rm -rf $(LANDING) $(VENV)
