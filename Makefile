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
SITE_PROFILE ?= quick
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: install lessons test lab bench exercises grade site system-packages clean

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
	$(PY) -m frontier.site --profile $(SITE_PROFILE)

# Debian packages the tests need: bubblewrap (bwrap, the grader's sandbox: exercises/README.md)
# and chromium (the site's browser test, driven by Playwright; Playwright's own browser download
# needs the network). As root (CI) the missing ones are installed with one apt-get update;
# otherwise a missing bwrap stops `make test` with how to install it, and a missing chromium
# makes the browser test skip with its reason.
system-packages:
	@missing=""; \
	command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	  else \
	    echo "missing Debian packages:$$missing; install them with: sudo apt-get install$$missing"; \
	    command -v bwrap >/dev/null || exit 1; \
	  fi; \
	fi

test: install $(CITE)/.installed system-packages
	$(PY) -m pytest

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
