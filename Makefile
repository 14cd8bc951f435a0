# The two commands a newcomer needs: `make demo` and `make test`.
# Both set themselves up: uv is installed with pip if it is missing.

SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := python3 -m uv
endif
export UV_PYTHON_DOWNLOADS := never
PYTEST_ARGS ?=

.PHONY: setup ensure-uv test lint pytest bench demo build clean sim-sweep

ensure-uv:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv \
		|| python3 -m pip install --quiet --user uv \
		|| python3 -m pip install --quiet --break-system-packages uv

setup: ensure-uv
	$(UV) sync --locked --all-packages

lint: setup
	$(UV) run --locked lint-imports
	$(UV) run --locked ruff check .
	$(UV) run --locked ruff format --check .

pytest: setup
	$(UV) run --locked pytest $(PYTEST_ARGS)

test: lint pytest

bench: setup
	$(UV) run --locked python tools/bench.py all --markdown docs/benchmarks.md

# Consensus fault campaign over 1,000 seeds (CI runs 200 in `make test`);
# SEEDS=A:B picks another range. A failing seed prints its replay command.
SEEDS ?= 0:1000
sim-sweep: setup
	$(UV) run --locked python -m aura_protocol.consensus.campaign --seeds $(SEEDS)

demo: setup
	$(UV) run --locked python tools/demo.py

build: ensure-uv
	$(UV) build --all-packages --out-dir dist

clean:
	rm -rf dist .venv
