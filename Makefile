# lmpairs: every target sets up .venv itself, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat setup.py | cksum | cut -d' ' -f1)

.PHONY: setup test test-all lint lint-fix demo docs bench clean

$(STAMP): setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The CPU wheel; a bare "torch" requirement would pull a multi-GB CUDA build.
	$(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q -e ".[test,gcp,hf,lightning,docs]"
	touch $(STAMP)

setup: $(STAMP)

# The fast tier: everything not marked slow; hermetic (no ../shared needed), a few minutes on 2 cores.
test: $(STAMP)
	$(PY) -m pytest -q -m "not slow" tests

# Everything: the slow tier too (Beam runners, DataLoader workers, DDP, the trainer examples, demo end
# to end, bench smoke; tests that need ../shared/data skip without it), then lint and the API reference
# (a pdoc warning or a docstring reference to nothing fails it). All run; any failing fails.
test-all: $(STAMP)
	status=0; $(PY) -m pytest -q tests || status=$$?; $(MAKE) --no-print-directory lint || status=1; \
	$(MAKE) --no-print-directory docs || status=1; exit $$status

lint: $(STAMP)
	$(PY) -m ruff check lmpairs tests bench examples docs setup.py

# Apply ruff's safe fixes (import order, pyupgrade, ...); what remains, `make lint` lists for hand fixing.
lint-fix: $(STAMP)
	$(PY) -m ruff check --fix lmpairs tests bench examples docs setup.py

# The API reference from the docstrings (pdoc) into docs/api/ (git-ignored); fails on any warning or a
# :func:/:class:/:mod: reference that names nothing.
docs: $(STAMP)
	$(PY) docs/build_api.py docs/api

demo: $(STAMP)
	$(VENV)/bin/lmpairs demo --output demo-out

bench: $(STAMP)
	$(PY) -m pip install -q -e ".[bench]"
	$(PY) -m bench.run_all

clean:
	rm -rf $(VENV) demo-out build docs/api *.egg-info .pytest_cache .hypothesis
