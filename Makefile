# ibbook: two commands set everything up on a fresh machine.
#   make test   — the whole test suite (lint, unit tests, smoke runs of every chapter, smoke book)
#   make book   — execute every chapter at its default parameters and build the HTML book
# Both create .venv with the pinned stack when it is missing.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.ibcore-installed
NB ?=
ARGS ?=

export MPLBACKEND := Agg
export PYTHONHASHSEED := 0

.PHONY: help venv test lint book run clean distclean cache-prune data

help:
	@echo "make test            run the whole test suite (creates .venv if needed)"
	@echo "make book            execute every chapter (default parameters) and build book/_build/html"
	@echo "make book SCALE=full the book toward the papers' scale (Fashion-MNIST: make data), into build/full/"
	@echo "make data            Fashion-MNIST into data/ (Debian's dataset-fashion-mnist; ARGS=--download to fetch)"
	@echo "make run NB=00 ARGS=\"-p seeds 5\"   rerun one chapter with parameters"
	@echo "make sweep NB=00 GRID=\"activation=tanh,relu seeds=0-9\" [ARGS=\"-p scale smoke\"] [SCHEDULER=tcp://host:8786] [JOBS=2]"
	@echo "                     run a parameter grid of a chapter (local processes, or a Dask cluster)"
	@echo "make slides          reveal.js slides of each executed chapter's story into build/slides/"
	@echo "make student         write student copies of every chapter (no solutions) to build/student/"
	@echo "make lab             JupyterLab on the chapters (jupytext; outputs saved to notebooks/NN_*.ipynb)"
	@echo "make site            what gets published: the book (make book), per chapter its executed and"
	@echo "                     student notebooks as downloads, Binder files and the PDF (needs chromium);"
	@echo "                     launch buttons only with IBBOOK_REPOSITORY=OWNER/NAME"
	@echo "make bench [FULL=1]  run the benchmarks (bench/; quick, or full size), print medians, write bench/results.json"
	@echo "make mutants [SCOPE=default|verdicts|metrics|full] [JOBS=2]"
	@echo "make plants          plant each realistic bug kind once in a scratch copy, name the test that catches it"
	@echo "                     mutation testing of the verdict and metric code (mutmut; bench/README.md)"
	@echo "make cache-prune     remove cached runs that no current code can reach"
	@echo "make clean           remove built notebooks, the book build, results and the cache"

$(STAMP): pyproject.toml requirements/constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check \
		-c requirements/constraints.txt -e ".[book,test,sweep,lab]"
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (ibbook)" >/dev/null
	@touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check ibcore tests bench
	$(VENV)/bin/ruff format --check ibcore tests bench

test: lint
	$(PY) -m pytest -ra

book: $(STAMP)
	$(PY) -m ibcore.book.pipeline book $(if $(SCALE),--scale $(SCALE))
	@echo "open $(if $(filter full,$(SCALE)),build/full/book,book)/_build/html/index.html"

data: $(STAMP)
	$(PY) -m ibcore.book.getdata $(ARGS)

run: $(STAMP)
	@test -n "$(NB)" || { echo "usage: make run NB=00 ARGS=\"-p seeds 5\""; exit 2; }
	$(PY) -m ibcore.book.pipeline run $(NB) $(ARGS) $(if $(HTML),--html)

cache-prune: $(STAMP)
	$(PY) -m ibcore.cache prune

clean:
	rm -rf book/_build book/chapters book/verdicts.md book/conclusions.md book/status.md book/_generated book/verdicts_forest.png build results .cache

distclean: clean
	rm -rf $(VENV)

.PHONY: slides
slides: $(STAMP)
	$(PY) -m ibcore.book.slides

.PHONY: bench
bench: $(STAMP)
	IBCORE_PROGRESS=0 $(PY) bench/run_all.py $(if $(FULL),--full)

.PHONY: sweep
sweep: $(STAMP)
	@test -n "$(NB)" -a -n "$(GRID)" || { echo "usage: make sweep NB=00 GRID=\"activation=tanh,relu seeds=0-9\" [ARGS=\"-p scale smoke\"] [SCHEDULER=tcp://host:8786] [JOBS=2]"; exit 2; }
	IBCORE_PROGRESS=0 $(PY) -m ibcore.book.sweep $(NB) $(GRID) $(if $(SCHEDULER),--scheduler $(SCHEDULER)) $(if $(JOBS),--jobs $(JOBS)) $(ARGS)

.PHONY: student
student: $(STAMP)
	$(PY) -m ibcore.book.student --out build/student

.PHONY: site
site: $(STAMP)
	$(PY) -m ibcore.book.site $(ARGS)
	@echo "publish book/_build/html (ibbook.pdf and chapters/*.ipynb inside)"

# JupyterLab comes with the extra `lab` (exact pins in requirements/constraints.txt): the package's
# own install stays without a front end; this project's .venv has it (so that tests/test_lab.py
# runs in make test), and a .venv made before that gets it here on first use.
.PHONY: lab
lab: $(STAMP)
	@$(PY) -c "import jupyterlab" 2>/dev/null || $(PY) -m pip install --quiet \
		--disable-pip-version-check -c requirements/constraints.txt -e ".[lab]"
	$(PY) -m ibcore.book.lab $(ARGS)

# Planted bugs (bench/plants.py): each realistic bug kind once, in build/plants/; not part of CI.
.PHONY: plants
plants: $(STAMP)
	IBCORE_PROGRESS=0 $(PY) bench/plants.py

# Mutation testing of the verdict rule and the metric functions (bench/mutants.py, mutmut from the
# extra `mutants`, exact pins in requirements/constraints.txt): not part of `make test` or CI. It
# runs in a scratch copy (build/mutmut/) and prints the kill rate and every surviving mutant.
# SCOPE=verdicts|metrics|default|full (bench/README.md); JOBS: mutants tested side by side.
.PHONY: mutants
mutants: $(STAMP)
	@$(PY) -c "import mutmut" 2>/dev/null || $(PY) -m pip install --quiet \
		--disable-pip-version-check -c requirements/constraints.txt -e ".[mutants]"
	IBCORE_PROGRESS=0 $(PY) bench/mutants.py --scope $(or $(SCOPE),default) --jobs $(or $(JOBS),2)
