# The two commands a newcomer runs: `make reproduce` and `make test`. Each bootstraps .venv when missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.vosnb-installed
BOOK_VENV := .venv-book
BOOK_STAMP := $(BOOK_VENV)/.book-installed
PROFILE ?= ci
DATASET ?= synthetic
DATA_ROOT ?=
DEVICE ?= auto
ONLY ?=
SYNTH_ROOT := data/synthetic

.PHONY: install data reproduce test check-isa notebooks train bench book clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-oracles.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -r requirements-oracles.txt
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install -q --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

data: $(STAMP)
	$(BIN)/vosnb data synth --out $(SYNTH_ROOT)

reproduce: data
	@echo "vosnb reproduce --profile $(PROFILE) --dataset $(DATASET) --device $(DEVICE)$(if $(DATA_ROOT), --data-root $(DATA_ROOT))$(if $(ONLY), --only $(ONLY))"
	@$(BIN)/vosnb reproduce --profile $(PROFILE) --dataset $(DATASET) --device $(DEVICE) $(if $(DATA_ROOT),--data-root $(DATA_ROOT)) $(if $(ONLY),--only $(ONLY))
	@$(BIN)/vosnb claims

# Re-execute the committed notebooks in place (ci profile) and re-sync their py:percent twins.
notebooks: data
	$(BIN)/vosnb reproduce --profile ci --in-place

# TEST_MARKERS: which marked tests run, e.g. TEST_MARKERS='not isa and not browser' where no Chromium is installed.
TEST_MARKERS ?= not isa
test: data
	$(BIN)/python -m pytest tests notebooks --nbval-lax --sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider \
		-m "$(TEST_MARKERS)"

# Before committing re-recorded outputs: every committed record, re-measured on the other instruction-set path,
# must show the same value and verdict (tests/test_isa_stability.py; it re-executes all claim notebooks).
check-isa: data
	$(BIN)/python -m pytest tests/test_isa_stability.py -m isa -p no:cacheprovider

# STCN configs first: the RDE configs start from their checkpoints (init_from).
TRAIN_CONFIGS := $(wildcard configs/train/stcn_*.yaml) $(filter-out configs/train/stcn_%,$(wildcard configs/train/*.yaml))

train: $(STAMP)
	for c in $(TRAIN_CONFIGS); do $(BIN)/vosnb train $$c || exit 1; done

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

# The book's tooling (Sphinx, MyST-NB) lives in its own venv: .venv stays exactly at requirements.txt.
$(BOOK_STAMP): requirements-book.txt
	test -x $(BOOK_VENV)/bin/python || $(PYTHON) -m venv $(BOOK_VENV)
	$(BOOK_VENV)/bin/python -m pip install -q --upgrade pip
	$(BOOK_VENV)/bin/python -m pip install -q -r requirements-book.txt
	touch $@

# The committed notebooks as a static site, never re-executed (build/book/index.html), with the claims dashboard.
# Sphinx reads build/book-src: links to docs/book/index.md and to notebooks/, so nothing is copied.
book: $(STAMP) $(BOOK_STAMP)
	rm -rf build/book build/book-src build/book-doctrees build/jupyter_execute
	mkdir -p build/book-src
	$(BOOK_VENV)/bin/python docs/book/widget_js.py build/book-js
	ln -s $(CURDIR)/docs/book/index.md build/book-src/index.md
	ln -s $(CURDIR)/notebooks build/book-src/notebooks
	$(BOOK_VENV)/bin/sphinx-build -W --keep-going -q -b html -c docs/book -d build/book-doctrees \
		build/book-src build/book
	PYTHONPATH=$(CURDIR) $(BIN)/vosnb dashboard --out build/book/dashboard.html --notebook-base notebooks/
	@echo "open build/book/index.html"

clean:
	rm -rf build $(SYNTH_ROOT)
