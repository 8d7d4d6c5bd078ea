# Two commands on a fresh machine with only python3: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint install clean browser bench translations

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Loads the demo, sends its invitation round to instance/outbox/, then serves the
# web app with the worker beside it until Ctrl-C.
demo: $(STAMP)
	$(BIN)/mailer init
	$(BIN)/mailer demo
	$(BIN)/mailer worker --until-idle
	@echo
	@echo "Sent: $$(ls instance/outbox | wc -l) messages, as .eml files in instance/outbox/"
	@$(BIN)/mailer demo --links
	@echo "Stop with Ctrl-C."
	@echo
	@$(BIN)/mailer worker & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; $(BIN)/mailer serve

test: lint browser
	$(BIN)/pytest

# ruff (pyproject [tool.ruff]), mypy ([tool.mypy]: strict on the packages listed there) and the
# import contract ([tool.importlinter]: layers, and no Flask/click below the web and CLI).
# `ruff format --check .` joins here once the code base has been formatted in one go.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# The browser tests (tests/browser) drive Debian's headless chromium through its chromedriver.
# Installed when the driver is missing, as root or with sudo; otherwise a clear failure, never a skip.
browser:
	@if [ ! -x /usr/bin/chromedriver ] || [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else \
	    echo "make browser: /usr/bin/chromedriver is missing and this user cannot install it;" >&2; \
	    echo "  run as root: apt-get install -y chromium chromium-driver chromium-l10n" >&2; exit 1; fi; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver chromium-l10n \
	  || { echo "make browser: could not install chromium and chromium-driver with apt-get" >&2; exit 1; }; \
	fi

# Speed figures, each divided by a ceiling measured in the same run (bench/run.py); a few minutes.
# Installs Postfix (smtp-sink, smtp-source) and wrk from Debian when they are missing.
bench: $(STAMP)
	$(BIN)/python bench/run.py

# The gettext catalogs (mailer/translations): extract the keys the code uses into messages.pot
# (babel.cfg) and compile the .po files. New texts: add them to both .po files (Swedish first),
# or put SV/EN dicts in a file and run `$(BIN)/python -m mailer.translations.absorb FILE`.
# tests/test_translations.py fails on any key without a Swedish or English text.
translations: $(STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg -k t -k say -k translate -k N_ --no-location --sort-output \
	  -o mailer/translations/messages.pot .
	$(BIN)/pybabel compile -d mailer/translations --statistics

clean:
	rm -rf $(VENV) build dist *.egg-info
