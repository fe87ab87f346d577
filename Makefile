# Two commands a new user needs: `make demo` and `make test`. Each makes .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO := vaultkit-demo

.PHONY: demo test check lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	@if [ -d $(DEMO) ]; then \
		echo "$(DEMO)/ exists: rebuilding its index and lineage notes (delete it for a fresh demo)"; \
		$(BIN)/vaultkit --vault $(DEMO) build && $(BIN)/vaultkit --vault $(DEMO) lineage; \
	else \
		$(BIN)/vaultkit demo $(DEMO); \
	fi
	@echo "(vaultkit itself is $(BIN)/vaultkit: 'source $(BIN)/activate' puts it on your PATH)"

test: $(STAMP)
	$(MAKE) --no-print-directory check

# The same checks in the environment .venv already holds: nothing is installed (no network).
check:
	@test -x $(BIN)/python || { echo "no $(VENV)/: run 'make test' once (it installs)"; exit 1; }
	$(BIN)/ruff check vaultkit tests benchmarks
	$(BIN)/ruff format --check vaultkit tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check vaultkit tests benchmarks
	$(BIN)/ruff format --check vaultkit tests benchmarks
	$(BIN)/mypy

# Speed figures (not a test: shared machines are noisy). obsidiantools, the peer we compare
# with, gets its own environment; it is not a vaultkit dependency.
BENCH_VENV := .venv-bench
SIZES ?= 1000,10000
RUNS ?= 5

$(BENCH_VENV)/.installed-stamp:
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check obsidiantools
	touch $@

bench: $(STAMP) $(BENCH_VENV)/.installed-stamp
	$(BIN)/python benchmarks/run.py --sizes $(SIZES) --runs $(RUNS) --obsidiantools $(BENCH_VENV)/bin/python

clean:
	rm -rf $(VENV) $(BENCH_VENV) build *.egg-info .pytest_cache .hypothesis benchmarks/vaults
