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

.PHONY: install lessons test lab bench exercises grade site chromium clean

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

# The site's browser test drives Debian's chromium through Playwright (Playwright's own browser
# download needs the network). Installed here when missing and we are root; otherwise the test
# is skipped and says why.
chromium:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -q && apt-get install -y -q chromium; \
	  else echo "no chromium and not root: the site's browser test will be skipped" \
	    "(install it with: sudo apt-get install chromium)"; fi; }

test: install $(CITE)/.installed chromium
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
