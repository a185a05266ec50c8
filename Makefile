# The README's two commands: `make demo` and `make test`. Each creates .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: test demo venv bench lint clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

test: venv
	$(BIN)/python -m pytest -q

# Quick benchmark table (under a minute on 2 cores); `python -m benchmarks` for the full one.
bench: venv
	$(BIN)/python -m benchmarks --quick

lint: venv
	$(BIN)/python -m pip install --quiet ruff
	$(BIN)/ruff check xkmeans tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
