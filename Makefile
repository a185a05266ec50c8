# The README's two commands: `make demo` and `make test`. Each creates .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: test test-oldest demo venv bench lint clean docs gpu-wheels

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# Colour-quantize scikit-learn's china.jpg to 16 colours (GPU when CuPy and a GPU are present).
DEMO_OUT := demo-output

demo: venv $(VENV)/.demo-installed
	mkdir -p $(DEMO_OUT)
	$(BIN)/xkmeans quantize -k 16 --device auto -o $(DEMO_OUT)/china-16.png \
		--compare $(DEMO_OUT)/china-16-compare.png --scatter $(DEMO_OUT)/china-16-scatter.png
	@echo "outputs in $(DEMO_OUT)/"

# Pillow, tqdm (image) and matplotlib (plot); already there with the test extras.
# On a machine with an NVIDIA GPU, also CuPy for its CUDA version (tools/cuda_extra.sh);
# if that install fails, the demo runs on the CPU and says why.
$(VENV)/.demo-installed: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[image,plot]'
	@extra=$$(tools/cuda_extra.sh $(BIN)/python); if [ -n "$$extra" ]; then \
		echo "NVIDIA GPU found: installing xkmeans[$$extra] (CuPy)"; \
		$(BIN)/python -m pip install --quiet -e ".[$$extra]" || \
			echo "CuPy could not be installed; the demo runs on the CPU"; fi
	touch $@

test: venv
	$(BIN)/python -m pytest -q

# The declared lower bounds, proved: a separate venv with the oldest declared numpy, scipy,
# scikit-learn and array-api-compat (tools/oldest-constraints.txt) on the oldest declared
# Python when it is installed (python3.10 on PATH or from pyenv; OLDEST_PYTHON=... to
# choose), then the suite. The first line printed names the versions that ran.
OLDEST := .venv-oldest
OLDEST_PYTHON ?= $(firstword $(foreach p,python3.10 $(wildcard $(HOME)/.pyenv/versions/3.10*/bin/python),\
	$(shell $(p) -c 'import sys; print(sys.executable)' 2>/dev/null)) $(PYTHON))

test-oldest: $(OLDEST)/.installed
	$(OLDEST)/bin/python -c "import sys, numpy, scipy, sklearn, array_api_compat as c; \
		print('python', sys.version.split()[0], 'numpy', numpy.__version__, 'scipy', \
		scipy.__version__, 'scikit-learn', sklearn.__version__, 'array-api-compat', c.__version__)"
	$(OLDEST)/bin/python -m pytest -q -p no:cacheprovider

$(OLDEST)/.installed: pyproject.toml tools/oldest-constraints.txt
	rm -rf $(OLDEST)
	$(OLDEST_PYTHON) -m venv $(OLDEST)
	$(OLDEST)/bin/python -m pip install --quiet --upgrade pip
	$(OLDEST)/bin/python -m pip install --quiet -c tools/oldest-constraints.txt -e '.[test]'
	touch $@

# Quick benchmark table (under a minute on 2 cores); `python -m benchmarks` for the full one.
bench: venv
	$(BIN)/python -m benchmarks --quick

lint: venv
	$(BIN)/python -m pip install --quiet ruff
	$(BIN)/ruff check xkmeans tests benchmarks examples

# Sphinx site with the executed example gallery; -W turns every warning into an error.
docs: venv
	$(BIN)/python -m pip install --quiet -e '.[docs]'
	$(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf $(VENV) $(OLDEST) build *.egg-info .pytest_cache $(DEMO_OUT) docs/_build docs/auto_examples docs/gen_modules

# Pure-Python wheels the GPU machine lacks, for benchmarks/gpu_check.sh (carried as .whl/).
WHEEL_FLAGS := --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
	--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64
gpu-wheels: venv
	$(BIN)/python -m pip download --quiet $(WHEEL_FLAGS) -d .whl \
		array-api-compat array-api-strict fast-pytorch-kmeans flash-kmeans
