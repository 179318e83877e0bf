# Frontier course. Two commands do everything on a fresh machine (Python 3.11 and make):
#   make lessons   install, then run every lesson in the default (quick) profile
#   make test      install, then pass every test (what CI runs)
# Others: make lab, make site, make bench, make exercises, make grade SUBMISSIONS=dir/, make clean.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
CITE   := build/cite-venv
LESSONS ?=
SUBMISSIONS ?=
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: install lessons test lab bench exercises grade site clean bwrap

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c 'import sys; assert sys.version_info[:2] == (3, 11), \
	  f"the course needs Python 3.11, this venv has {sys.version.split()[0]}: rm -rf $(VENV)"'
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt -c constraints.txt
	$(PY) -m pip install -q --no-deps -e .
	@touch $(STAMP)

$(CITE)/.installed: requirements-cite.txt
	@test -x $(CITE)/bin/python || $(PYTHON) -m venv $(CITE)
	$(CITE)/bin/python -m pip install -q -r requirements-cite.txt
	@touch $@

lessons: install
	$(PY) -m frontier.lessons --profile quick --lessons "$(LESSONS)" --site

site: install
	$(PY) -m frontier.lessons --site-only

test: install $(CITE)/.installed bwrap
	$(PY) -m pytest

# The grader runs each submission in a bubblewrap sandbox (exercises/README.md); as root (CI)
# install it when missing, otherwise say how.
bwrap:
	@command -v bwrap >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -q && apt-get install -y -q bubblewrap; \
	  else echo "bubblewrap (bwrap) is missing; grading and its tests need it:" \
	    "sudo apt-get install bubblewrap (see exercises/README.md)"; exit 1; fi; }

lab: install
	$(VENV)/bin/jupyter lab notebooks/

bench: install
	@mkdir -p build/bench
	@set -e; for script in tests/benchmarks/bench_*.py; do \
	  echo "== $$script"; $(PY) $$script; done

exercises: install
	$(PY) -m frontier.exercises assign

grade: install
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=folder/"; exit 2; }
	$(PY) -m frontier.exercises grade "$(SUBMISSIONS)"

clean:
	rm -rf build
