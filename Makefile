PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA ?= $(or $(PALLETIZER_DATA),./data)
LISTEN ?= $(or $(PALLETIZER_LISTEN),127.0.0.1:8000)
ARGS ?=

.PHONY: install run test test-compose cli clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: install
	@test -f $(DATA)/config.yaml || $(BIN)/palletizer --data $(DATA) init
	$(BIN)/palletizer-all --data $(DATA) --listen $(LISTEN)

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

# The compose stack, built and run with podman, driven by real cargo (root; not part of `make test`).
test-compose: install
	$(BIN)/pytest -v tests/compose $(PYTEST_ARGS)

cli: install
	$(BIN)/palletizer --data $(DATA) $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
