# `make test` and `make demo` build .venv with python3.10 (lava-nc 0.10 needs 3.10) on first use.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# python3.10 on PATH, else a pyenv-installed 3.10, else stop with advice.
PYTHON310 ?= $(shell for p in python3.10 $$(pyenv root 2>/dev/null)/versions/3.10*/bin/python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10; do \
	"$$p" -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1 && { echo "$$p"; break; }; done)

.PHONY: test demo venv bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@if [ -z "$(PYTHON310)" ]; then \
	  echo "error: python3.10 not found (lava-nc 0.10 requires Python 3.10)."; \
	  echo "Install it, e.g. 'apt-get install python3.10 python3.10-venv', 'pyenv install 3.10', or 'uv python install 3.10',"; \
	  echo "then run make again (or pass PYTHON310=/path/to/python3.10)."; exit 1; fi
	@test -x $(PY) || $(PYTHON310) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[lava,dev]'
	@touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider

demo: $(STAMP)
	$(VENV)/bin/neurochip demo

bench: $(STAMP)
	$(PY) benchmarks/cuba.py

clean:
	rm -rf $(VENV) build *.egg-info
