VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install test demo

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml scripts/install.sh
	bash scripts/install.sh $(VENV)

test: install
	$(PY) -m pytest -q

demo: install
	$(PY) -m musicrfm demo
