# Two commands on a fresh machine: `make report` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: report test bench worksheets golden tex clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

tex:
	@sh scripts/ensure-tex.sh

report: $(STAMP) tex
	$(BIN)/derive report --builtin -o outputs/report.pdf

worksheets: $(STAMP) tex
	$(BIN)/derive worksheet --builtin --versions 2 --seed 1 -o outputs/worksheets

test: $(STAMP) tex
	$(BIN)/ruff check derive tests scripts
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m derive.cli.bench

golden: $(STAMP)
	$(BIN)/python -m tests.make_golden

clean:
	rm -rf $(VENV) outputs/*.pdf outputs/*.tex outputs/*.md
