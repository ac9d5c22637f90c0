# Two commands for a newcomer (see README):  make demo   |   make test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: setup demo database dashboard test browser-deps benchmark clean

# Virtual environment with the pinned requirements (torch/torchvision come from this machine's disk).
$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

setup: $(STAMP)

# Build the demo results database (synthetic corpus, no downloads), then serve the dashboard.
demo: database dashboard

database: setup
	$(BIN)/python -m precompute run --profile demo

dashboard: setup
	$(BIN)/streamlit run dashboard/Home.py

# Debian's chromium drives the browser tests (Playwright never downloads a browser here).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update && \
	  $(SUDO) apt-get install -y --no-install-recommends chromium fonts-dejavu-core; }

test: setup browser-deps
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

benchmark: setup
	$(BIN)/python benchmarks/bench_synthetic.py
	$(BIN)/python benchmarks/bench_harmony.py
	$(BIN)/python benchmarks/bench_sonify.py --db data/demo.duckdb
	$(BIN)/python benchmarks/bench_attribution.py --architecture vit_base_patch16_224 --repeats 3
	$(BIN)/python benchmarks/bench_evidence.py
	$(BIN)/python benchmarks/bench_generalisation.py
	$(BIN)/python benchmarks/bench_profile.py --from-db data/demo.duckdb
	$(BIN)/python benchmarks/bench_dashboard.py
	$(BIN)/python benchmarks/bench_costs.py
	$(BIN)/python benchmarks/bench_own_data.py --clips 2000 --budget-minutes 15
	$(BIN)/python benchmarks/bench_ray.py

clean:
	rm -rf $(VENV) data/cache data/*.duckdb data/*.building
