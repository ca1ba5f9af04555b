#!/usr/bin/env bash
# One-command setup on a fresh machine: a virtual environment with scoredeblur and its test tools.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --upgrade pip
# The CPU build of torch first, pinned, so nothing later pulls a multi-GB CUDA build.
.venv/bin/pip install -q "torch==2.13.0" "scikit-build-core>=0.10" "pybind11>=2.12"
# Builds the native code (csrc/) with CMake: the fused CPU kernel, the C++ sampling loop (against
# the torch just installed, hence no build isolation) and, where nvcc is on PATH, the CUDA kernel.
.venv/bin/pip install -q --no-build-isolation -e ".[test,bench,engine,kernels,rtx]"
.venv/bin/python -c "import scoredeblur, torch; print('scoredeblur', scoredeblur.__version__, '| torch', torch.__version__)"
