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

.PHONY: help venv simulate run status test lint dev docs bench clean distclean

help:
	@echo "make run      simulate a landing folder (CUSTOMERS=$(CUSTOMERS) MONTHS=$(MONTHS)) once, then load, build, check, publish"
	@echo "make test     run the test suite (pytest)"
	@echo "make status   what the published file $(WAREHOUSE) holds"
	@echo "make lint     ruff"
	@echo "make dev      Dagster UI (dagster dev)"
	@echo "make docs     dbt docs for the working database"
	@echo "make bench    benchmarks in bench/ (print figures)"
	@echo "make clean    remove the warehouse files, dbt target and caches (distclean: also landing/ and .venv)"

venv: $(STAMP)

# reinstall only when the venv is missing or pyproject.toml is newer than the stamp
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
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

lint: venv
	$(BIN)/ruff check .

dev: venv
	@mkdir -p .dagster_home
	DAGSTER_HOME="$(CURDIR)/.dagster_home" $(BIN)/dagster dev -m orchestration.definitions

docs: venv
	POWERCRM_WORK_DB=$(WORK_DB) $(BIN)/dbt docs generate --project-dir . --profiles-dir profiles \
	  --target-path $(basename $(WAREHOUSE)).state/docs --log-path $(basename $(WAREHOUSE)).state/logs
	@echo "dbt docs: $(basename $(WAREHOUSE)).state/docs/index.html (serve: $(BIN)/dbt docs serve --target-path ...)"

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
