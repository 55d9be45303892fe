# Two entry points a fresh machine needs: `make pipeline` and `make test` (`make test-fast`
# for the edit-test loop).
# Both create .venv/ (Python 3.11) and install starrec into it on first use.
PY ?= $(shell command -v python3.11 || command -v python3)
TF ?= cpu
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)
export DVC_NO_ANALYTICS := 1
export MLFLOW_DISABLE_TELEMETRY := true
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: setup pipeline research show test test-fast bench tracking-server reliability-doc

$(BIN)/starrec: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[$(TF),dev,server,dlib,beam]'
	touch $@

setup: $(BIN)/starrec

pipeline: setup
	dvc repro

# the own face-embedding backbone and the side-by-side comparison (research/dvc.yaml):
# not needed by the default pipeline, reads its outputs
research: setup
	dvc repro research/dvc.yaml

# experiments side by side in 120 columns: the headline metrics that tell models apart and
# the params that made them (every number: reports/metrics.json, `dvc metrics show`)
SHOW_COLUMNS ?= Experiment|model/acc|eigenfaces/acc|open_set/named|open_set/rejected|train\.model
show: setup
	dvc exp show --drop '.*' --keep '^($(SHOW_COLUMNS))$$' $(SHOW_ARGS)

test: setup
	python -m pytest $(PYTEST_ARGS)

# the edit-test loop: unit + data tiers, no network training (under a minute)
test-fast: setup
	python -m pytest tests/unit tests/data $(PYTEST_ARGS)

# BENCH_ARGS="--only stages input_pipeline": a part (docs/benchmarks.md)
bench: setup
	python benchmarks/run_all.py $(BENCH_ARGS)

# Shared MLflow tracking server on PostgreSQL (README: "Sharing runs and data").
# Foreground; Ctrl-C stops it. Data in $(TRACKING_DIR); clients: MLFLOW_TRACKING_URI=http://HOST:PORT
TRACKING_DIR ?= .tracking
TRACKING_HOST ?= 127.0.0.1
TRACKING_PORT ?= 5000
tracking-server: setup
	starrec-tracking-server --dir $(TRACKING_DIR) --host $(TRACKING_HOST) --port $(TRACKING_PORT)

# docs/reliability.md: the fault suite's cases (tests/faults), regenerated, never hand-edited
reliability-doc: setup
	python tests/faults/report.py
