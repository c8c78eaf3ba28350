# The two commands a user needs: `make demo` and `make test` (both set up first).
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_OUT ?= corpus
DEMO_STREAMS ?= 96
LEARN_OUT ?= learn

export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup demo learn ablation test test-fast lint bench clean serve serve-stop

setup:
	@VENV=$(VENV) bash scripts/setup.sh

demo: setup
	$(BIN)/streamaudio build --out $(DEMO_OUT) --streams $(DEMO_STREAMS) --seed 0
	$(BIN)/streamaudio validate $(DEMO_OUT)

# the proof that the data teaches: a train and a held-out corpus (disjoint clips and
# sentences), 10 minutes of training, evaluation on the held-out corpus beside two baselines
learn: setup
	$(BIN)/streamaudio learn --out $(LEARN_OUT)

# the paper's ablations (TFJP, event selection, verified silence, lambda), same held-out corpus
ablation: setup
	$(BIN)/streamaudio ablation --out $(LEARN_OUT)

lint: setup
	$(BIN)/ruff check streamaudio flows tests benchmarks catalogs/tools

# the trainer's tests first, in an interpreter of their own: their DataLoader workers are
# forked, and forked workers died (exit 1, no trace) after the rest of the suite had run in
# the same process (seen once in a full run; cause not yet found)
test: setup lint
	$(BIN)/python -m pytest --durations=20 tests/train
	$(BIN)/python -m pytest --durations=20 --ignore=tests/train

# the quick tier for local work: no integration or slow tests (CI runs everything)
test-fast: setup lint
	$(BIN)/python -m pytest -m "not integration and not slow" tests/train
	$(BIN)/python -m pytest -m "not integration and not slow" --ignore=tests/train

bench: setup
	$(BIN)/python -m benchmarks

# Scheduled builds (prefect.yaml): a Prefect server on 127.0.0.1:4200 with its state in
# .prefect/, the process work pool, the deployments and a worker, in the background.
serve: setup
	@VENV=$(VENV) bash scripts/serve.sh start

serve-stop:
	@VENV=$(VENV) bash scripts/serve.sh stop

clean:
	rm -rf $(DEMO_OUT) $(LEARN_OUT) .pytest_cache .ruff_cache
