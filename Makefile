# The two commands a user needs: `make demo` and `make test` (both set up first).
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_OUT ?= corpus
DEMO_STREAMS ?= 96

export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup demo test lint bench clean

setup:
	@VENV=$(VENV) bash scripts/setup.sh

demo: setup
	$(BIN)/streamaudio build --out $(DEMO_OUT) --streams $(DEMO_STREAMS) --seed 0
	$(BIN)/streamaudio validate $(DEMO_OUT)

lint: setup
	$(BIN)/ruff check streamaudio flows tests benchmarks catalogs/tools

test: setup lint
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(DEMO_OUT) .pytest_cache .ruff_cache
