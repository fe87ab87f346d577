# Two commands a new user needs: `make demo` and `make test`. Each makes .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO := vaultkit-demo

.PHONY: demo test lint bench clean

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

test: $(STAMP)
	$(BIN)/ruff check vaultkit tests benchmarks
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check vaultkit tests benchmarks
	$(BIN)/ruff format --check vaultkit tests

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
