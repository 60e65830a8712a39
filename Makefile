# Every target creates .venv on first use and installs what it needs from the registries.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# The oldest websockets release we support, tested in a venv of its own.
OLDEST_WEBSOCKETS := 14.0
VENV_OLDEST := .venv-oldest

.PHONY: demo test test-newest test-oldest check lint typecheck coverage bench docs fuzz stress clean

# A venv with a pip that knows dependency groups (--group).
$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip>=25.1"
	touch $@

# What the tests need, nothing more: the package and the test group.
$(VENV)/.installed: pyproject.toml $(VENV)/.created
	$(PY) -m pip install -q -e . --group test
	touch $@

# What the chat example needs: the package and msgspec.
$(VENV)/.demo: pyproject.toml $(VENV)/.created
	$(PY) -m pip install -q -e '.[messages]'
	touch $@

# Linters and type checkers, on top of the tests' packages (mypy checks the tests too).
$(VENV)/.lint: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install -q --group lint
	touch $@

$(VENV_OLDEST)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV_OLDEST)
	$(VENV_OLDEST)/bin/python -m pip install -q --upgrade "pip>=25.1"
	$(VENV_OLDEST)/bin/python -m pip install -q -e . --group test "websockets==$(OLDEST_WEBSOCKETS)"
	touch $@

demo: $(VENV)/.demo
	$(PY) -m examples.chat

test: test-newest test-oldest

# pytest exits 5 when it collects no test: say so, since a suite that ran nothing failed.
NO_TESTS = || { status=$$?; [ $$status -ne 5 ] || echo "pytest collected no tests" >&2; exit $$status; }

test-newest: $(VENV)/.installed
	$(PY) -m pytest $(NO_TESTS)

test-oldest: $(VENV_OLDEST)/.installed
	$(VENV_OLDEST)/bin/python -m pytest -q $(NO_TESTS)

check: lint typecheck coverage

lint: $(VENV)/.lint
	$(BIN)/ruff check src tests bench examples tools fuzz
	$(BIN)/ruff format --check src tests bench examples tools fuzz

typecheck: $(VENV)/.lint
	$(BIN)/mypy --strict src
	$(BIN)/mypy --strict tests/typing

coverage: $(VENV)/.installed
	$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest -q
	$(BIN)/coverage report

bench: $(VENV)/.installed
	$(PY) -m pip install -q --group bench
	$(PY) -m bench

# The documentation site; warnings are errors.
docs: $(VENV)/.installed
	$(PY) -m pip install -q --group docs
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html
	@echo "open docs/_build/html/index.html"

# Fuzz from raw request bytes to the router's decision (atheris), for FUZZ_SECONDS.
FUZZ_SECONDS ?= 300
fuzz: $(VENV)/.installed
	$(PY) -m pip install -q atheris
	mkdir -p .fuzz-corpus
	$(PY) fuzz/fuzz_handshake.py -max_total_time=$(FUZZ_SECONDS) .fuzz-corpus fuzz/seeds

# 10,000 concurrent routed connections from a separate process, beside bare websockets.
stress: $(VENV)/.installed
	$(PY) tools/stress.py --connections 10000

clean:
	rm -rf $(VENV) $(VENV_OLDEST) .coverage .mypy_cache .ruff_cache .pytest_cache .fuzz-corpus docs/_build
