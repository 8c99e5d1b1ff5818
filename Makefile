# lmpairs: every target sets up .venv itself, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat setup.py | cksum | cut -d' ' -f1)

.PHONY: setup test demo bench clean

$(STAMP): setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The CPU wheel; a bare "torch" requirement would pull a multi-GB CUDA build.
	$(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q -e ".[test,gcp]"
	touch $(STAMP)

setup: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q tests

demo: $(STAMP)
	$(VENV)/bin/lmpairs demo --output demo-out

bench: $(STAMP)
	$(PY) -m pip install -q -e ".[bench]"
	$(PY) -m bench.run_all

clean:
	rm -rf $(VENV) demo-out build *.egg-info .pytest_cache .hypothesis
