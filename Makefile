# Two entry points, both from nothing: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test bench bench-families clean

# The venv is rebuilt when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[hf,test]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/fairness demo

test: $(VENV)/.installed
	$(BIN)/python -m pytest -q

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/count_7b_on_meta.py
	$(BIN)/python benchmarks/match_counts.py
	$(BIN)/python benchmarks/count_zoo50.py

# Every built-in family at half and double its counts: about 4 minutes on 2 cores.
bench-families: $(VENV)/.installed
	$(BIN)/python benchmarks/match_families.py

clean:
	rm -rf $(VENV) build *.egg-info
