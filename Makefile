# The two commands of the README. Each sets up .venv by itself on a fresh clone and reinstalls
# only when pyproject.toml or constraints.txt changed.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
BIN := $(VENV)/bin
# nbgrader shells out to `alembic` and `jupyter` by name: keep the venv first on PATH.
export PATH := $(abspath $(BIN)):$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test lint release check bench clean-venv

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[all,dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/hepml demo

test: $(STAMP)
	$(BIN)/ruff check helpers autograder tests bench
	$(BIN)/ruff format --check helpers autograder tests bench
	$(BIN)/python -m pytest

release: $(STAMP)
	$(BIN)/hepml release

check: $(STAMP)
	$(BIN)/hepml check

bench: $(STAMP)
	$(BIN)/python -m bench

clean-venv:
	rm -rf $(VENV)
