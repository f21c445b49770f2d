# Two commands on a fresh machine: `make report` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: report report-ko test bench worksheets golden tex tex-ko browser messages clean

# editable_mode=compat: a plain path in a .pth file, which type checkers (mypy, pyright) follow, so they
# see derive's py.typed; the default import hook hides it from them. New modules need no reinstall.
$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]' --config-settings editable_mode=compat
	@touch $(STAMP)

tex:
	@sh scripts/ensure-tex.sh

tex-ko:
	@sh scripts/ensure-tex.sh ko

report: $(STAMP) tex
	$(BIN)/derive report --builtin -o outputs/report.pdf

report-ko: $(STAMP) tex-ko
	$(BIN)/derive report --builtin --lang ko -o outputs/report-ko.pdf

worksheets: $(STAMP) tex
	$(BIN)/derive worksheet --builtin --versions 2 --seed 1 -o outputs/worksheets

browser:
	@sh scripts/ensure-browser.sh

test: $(STAMP) tex tex-ko browser
	$(BIN)/ruff check derive tests scripts
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m derive.cli.bench

# Message catalogs: extract every marked message (Python and templates) into derive/locale/derive.pot,
# merge it into each language's .po (a translator fills in the new msgstr) and compile the .mo files.
# Locations name the file only (no line numbers: a one-line code edit does not rewrite the .po); a
# reworded message keeps its old translation marked fuzzy (its old msgid in a "#|" comment), which the
# .mo leaves out and tests/test_i18n.py reports until a translator checks it and clears the flag.
LOCALE := derive/locale
messages: $(STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg -k _ -k N_ -k ngettext:1,2 --add-location=file --sort-by-file --no-wrap --project derive -o $(LOCALE)/derive.pot .
	$(BIN)/pybabel -q update -i $(LOCALE)/derive.pot -d $(LOCALE) -D derive --no-wrap --previous --ignore-obsolete
	$(BIN)/pybabel -q compile -d $(LOCALE) -D derive

golden: $(STAMP)
	$(BIN)/python -m tests.make_golden

clean:
	rm -rf $(VENV) outputs/*.pdf outputs/*.tex outputs/*.md
