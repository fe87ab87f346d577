# Two commands a new user needs: `make demo` and `make test`. Each makes .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
EXAMPLE := examples/defect-detector

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	@echo "== vaultkit lineage (example vault: $(EXAMPLE)) =="
	@$(BIN)/vaultkit --vault $(EXAMPLE) lineage
	@echo
	@echo "== vaultkit list =="
	@$(BIN)/vaultkit --vault $(EXAMPLE) list
	@echo
	@echo "Open $(EXAMPLE) as a vault in Obsidian to see the same notes."

test: $(STAMP)
	$(BIN)/ruff check vaultkit tests benchmarks
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check vaultkit tests benchmarks
	$(BIN)/ruff format --check vaultkit tests

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
