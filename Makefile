# The two commands a new user needs: `make run` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install clean

# --compile-bytecode: where PYTHONDONTWRITEBYTECODE is set, nothing else writes .pyc files, and every
# process (CLI command, import worker) would compile ~1,800 library modules again: 12 s to create the app
# instead of 5 s.
$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q uv
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -e '.[test,serve]'
	touch $(STAMP)

install: $(STAMP)

## Install, migrate the embedded SQLite database and serve on http://127.0.0.1:5000
run: $(STAMP)
	$(BIN)/breach-notify serve

## Install and run the whole suite: ruff, mypy, pytest on SQLite and again on PostgreSQL
test: $(STAMP)
	bash scripts/system-deps.sh
	VENV=$(VENV) bash scripts/test.sh

lint: $(STAMP)
	$(BIN)/ruff check app tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
