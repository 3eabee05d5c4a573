# hedge-monitor: the two README commands are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint bench clean

$(BIN)/hedge-monitor: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

setup: $(BIN)/hedge-monitor

demo: setup
	$(BIN)/hedge-monitor demo --scenario seed-drop

test: setup
	bash scripts/test.sh

lint: setup
	$(BIN)/ruff check monitor tests bench
	$(BIN)/mypy

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .cache build *.egg-info
