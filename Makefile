# Two commands on a fresh machine with only python3: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install clean

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
	@echo "Answer as a demo recipient would:  $$($(BIN)/mailer demo --link-only)"
	@echo "Stop with Ctrl-C."
	@echo
	@$(BIN)/mailer worker & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; $(BIN)/mailer serve

test: $(STAMP)
	$(BIN)/pytest

clean:
	rm -rf $(VENV) build dist *.egg-info
