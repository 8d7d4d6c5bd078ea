# Two commands on a fresh machine with only python3: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint install clean browser bench translations axe

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Loads the demo, sends its invitation round to instance/outbox/, then serves the
# web app with the worker beside it until Ctrl-C. `make demo PORT=5050` serves on another
# port, and the links in the mail (MAILER_BASE_URL) follow it unless you set MAILER_BASE_URL.
PORT ?= 5000
DEMO_ENV = MAILER_BASE_URL="$${MAILER_BASE_URL:-http://127.0.0.1:$(PORT)}"
demo: $(STAMP)
	$(BIN)/mailer init
	$(DEMO_ENV) $(BIN)/mailer demo
	@before=$$(ls instance/outbox 2>/dev/null | wc -l); \
	$(DEMO_ENV) $(BIN)/mailer worker --until-idle; \
	after=$$(ls instance/outbox 2>/dev/null | wc -l); \
	echo; echo "Sent now: $$((after - before)) messages ($$after in all, as .eml files in instance/outbox/)"
	@$(DEMO_ENV) $(BIN)/mailer demo --links
	@echo "Stop with Ctrl-C."
	@echo
	@export $(DEMO_ENV); $(BIN)/mailer worker & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/mailer serve --port $(PORT)

# Runs `make lint` first. Installs nothing into the system: the browser tests (tests/browser)
# run when /usr/bin/chromium and /usr/bin/chromedriver exist, otherwise pytest says in one line that they were not run
# (install them with `make browser` as root). axe-core comes from the npm registry into
# tests/browser/axe/ (a test-only folder) when npm is there.
test: $(STAMP) lint
	@$(MAKE) --no-print-directory axe
	$(BIN)/pytest

# ruff (pyproject [tool.ruff]), mypy ([tool.mypy]: strict on the packages listed there) and the
# import contract ([tool.importlinter]: layers, and no Flask/click below the web and CLI).
# `ruff format --check .` fails on unformatted code: `.venv/bin/ruff format .` formats it.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Debian's headless chromium and its chromedriver for the browser tests, and npm for axe-core
# when it is missing; nothing else is upgraded, and apt's output goes to a log unless it fails.
# Run as root (CI does: .ci/run).
BROWSER_LOG := /tmp/mailer-make-browser.log

browser:
	@NPM=""; command -v npm >/dev/null 2>&1 || NPM="npm"; \
	if [ -x /usr/bin/chromedriver ] && [ -x /usr/bin/chromium ] && [ -z "$$NPM" ]; then \
	  echo "make browser: chromium, chromedriver and npm are installed"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else \
	  echo "make browser: installing chromium needs root: run \`sudo make browser\`" >&2; exit 1; fi; \
	echo "make browser: installing chromium chromium-driver $$NPM with apt-get (log: $(BROWSER_LOG))"; \
	{ $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-upgrade \
	    chromium chromium-driver chromium-l10n $$NPM; } >$(BROWSER_LOG) 2>&1 \
	|| { tail -n 20 $(BROWSER_LOG) >&2; echo "make browser: apt-get failed (see above)" >&2; exit 1; }

# A current axe-core from the npm registry for the accessibility checks (tests/browser/axe/,
# git-ignored); skipped with one line when npm is missing (the browser tests then say so).
AXE_DIR := tests/browser/axe
axe:
	@if [ -f $(AXE_DIR)/node_modules/axe-core/axe.min.js ]; then exit 0; fi; \
	if ! command -v npm >/dev/null 2>&1; then \
	  echo "make axe: npm is missing, accessibility checks need it (apt-get install npm)"; exit 0; fi; \
	mkdir -p $(AXE_DIR) && npm install --silent --no-audit --no-fund --prefix $(AXE_DIR) axe-core@4 >/dev/null \
	&& echo "make axe: axe-core $$(node -p "require('./$(AXE_DIR)/node_modules/axe-core/package.json').version" 2>/dev/null) in $(AXE_DIR)"

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
