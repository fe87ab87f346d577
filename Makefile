# Two commands a new user needs: `make demo` and `make test`. Each makes .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO := vaultkit-demo

.PHONY: demo test test-slow test-all check lint bench clean render-deps render-test wheel-test ci-deps shell-deps

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

# The slow tests run one test against a real `mlflow server`, which needs the full
# MLflow (about 850 MB): it goes to a cache folder outside the repository, once.
MLFLOW_SERVER_VENV ?= $(HOME)/.cache/vaultkit-mlflow-server
MLFLOW_VERSION := 3.17.2

$(MLFLOW_SERVER_VENV)/bin/mlflow:
	$(PYTHON) -m venv $(MLFLOW_SERVER_VENV)
	$(MLFLOW_SERVER_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
		mlflow==$(MLFLOW_VERSION)

test: $(STAMP)
	$(MAKE) --no-print-directory check

# The tests marked slow (timing, a watcher for a minute, a real MLflow server, pip)
test-slow: $(STAMP) $(MLFLOW_SERVER_VENV)/bin/mlflow
	VAULTKIT_MLFLOW_SERVER=$(MLFLOW_SERVER_VENV)/bin/mlflow $(BIN)/python -m pytest -m slow

# Everything CI runs
test-all: test test-slow render-test wheel-test
	.ci/other-pythons
	PYTHON=$(PYTHON) .ci/min-versions

# Everything CI installs, side by side with `make -j4 ci-deps` (the downloads overlap; the
# tests, some of which time things, then run one at a time on a quiet machine).
ci-deps: $(STAMP) $(MLFLOW_SERVER_VENV)/bin/mlflow render-deps shell-deps

# fish and zsh, for the completion tests in real fish and zsh sessions (bash is tested in
# one always); after render-deps, whose apt-get holds the package lock; a shell that
# cannot be installed has its test skipped
shell-deps: render-deps
	@for shell in fish zsh; do \
		command -v $$shell >/dev/null || { \
			echo "installing Debian's $$shell (needs root)"; \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$shell >/dev/null \
			|| echo "$$shell could not be installed: its completion test is skipped"; }; \
	done

# The same checks in the environment .venv already holds: nothing is installed (no network).
# The tests run in as many processes as there are cores (pytest-xdist).
check:
	@test -x $(BIN)/python || { echo "no $(VENV)/: run 'make test' once (it installs)"; exit 1; }
	$(BIN)/ruff check vaultkit tests benchmarks
	$(BIN)/ruff format --check vaultkit tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n auto

lint: $(STAMP)
	$(BIN)/ruff check vaultkit tests benchmarks
	$(BIN)/ruff format --check vaultkit tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

# Speed figures (not a test: shared machines are noisy). obsidiantools, the peer we compare
# with, gets its own environment; it is not a vaultkit dependency.
BENCH_VENV := .venv-bench
SIZES ?= 1000,10000
RUNS ?= 5
# obsidiantools takes about a minute a run, and its time varies by a third between runs
PEER_RUNS ?= 3

$(BENCH_VENV)/.installed-stamp:
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check obsidiantools
	touch $@

# The previous release (0.1), whose cold build is measured beside this version's
PREVIOUS_RELEASE ?= 501786399f7d
PREVIOUS := benchmarks/previous-$(PREVIOUS_RELEASE)

$(PREVIOUS)/vaultkit:
	mkdir -p $(PREVIOUS)
	git archive $(PREVIOUS_RELEASE) vaultkit vault_template | tar -x -C $(PREVIOUS)

bench: $(STAMP) $(BENCH_VENV)/.installed-stamp $(MLFLOW_SERVER_VENV)/bin/mlflow $(PREVIOUS)/vaultkit
	$(BIN)/python benchmarks/run.py --sizes $(SIZES) --runs $(RUNS) \
		--obsidiantools $(BENCH_VENV)/bin/python --obsidiantools-runs $(PEER_RUNS) \
		--previous $(abspath $(PREVIOUS))
	$(BIN)/python benchmarks/runs_sync.py --server $(MLFLOW_SERVER_VENV)/bin/mlflow

clean:
	rm -rf $(VENV) $(BENCH_VENV) build dist *.egg-info .pytest_cache .hypothesis benchmarks/vaults benchmarks/previous-*

# Every Mermaid block vaultkit writes, rendered by the Mermaid Obsidian bundles in headless
# Chromium (Debian's; npm packages that download a browser cannot work here). The npm
# packages go to a cache folder outside the repository.
RENDER_CACHE ?= $(HOME)/.cache/vaultkit-render
RENDER_SCREENSHOTS ?= build/render-screenshots
MERMAID_VERSION := 11.13.0
PUPPETEER_VERSION := 24.43.1

render-deps:
	@command -v chromium >/dev/null || { \
		echo "installing Debian's chromium (needs root)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@test -f $(RENDER_CACHE)/node_modules/mermaid/package.json \
		&& grep -q '"version": "$(MERMAID_VERSION)"' $(RENDER_CACHE)/node_modules/mermaid/package.json \
		|| npm install --silent --no-audit --no-fund --prefix $(RENDER_CACHE) \
			mermaid@$(MERMAID_VERSION) puppeteer-core@$(PUPPETEER_VERSION)

render-test: $(STAMP) render-deps
	rm -rf $(RENDER_SCREENSHOTS)
	VAULTKIT_RENDER_MODULES=$(RENDER_CACHE)/node_modules \
		VAULTKIT_RENDER_SCREENSHOTS=$(RENDER_SCREENSHOTS) $(BIN)/python -m pytest tests/render -q
	@echo "screenshots of the demo's and a 40-step chain's diagrams: $(RENDER_SCREENSHOTS)/"

# The sdist and the wheel (in dist/), their metadata checked, the wheel installed into a
# fresh venv with pip and with pipx, and the demo run from each (about a minute).
wheel-test:
	PYTHON=$(PYTHON) bash .ci/wheel
