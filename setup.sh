#!/usr/bin/env bash
# One-command setup on a fresh machine: a virtual environment with scoredeblur and its test tools.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --upgrade pip
# The CPU build of torch first, pinned, so nothing later pulls a multi-GB CUDA build.
# For a CUDA build instead: TORCH_SPEC="torch==2.13.0" TORCH_INDEX=https://download.pytorch.org/whl/cu128 ./setup.sh
if [ -n "${TORCH_INDEX:-}" ]; then
  .venv/bin/pip install -q "${TORCH_SPEC:-torch==2.13.0}" --index-url "$TORCH_INDEX"
else
  .venv/bin/pip install -q "${TORCH_SPEC:-torch==2.13.0}"
fi
.venv/bin/pip install -q "scikit-build-core>=0.10" "pybind11>=2.12"
# Builds the native code (csrc/) with CMake: the fused CPU kernel, the C++ sampling loop (against
# the torch just installed, hence no build isolation) and, where nvcc is on PATH, the CUDA kernel.
# Extras: tests, benchmark plots, ONNX (Runtime), Triton. TensorRT-RTX (~230 MB, builds engines for
# NVIDIA RTX GPUs) and Ray Data (cluster runs) only when asked, as a comma-separated list:
# SCOREDEBLUR_EXTRAS=test,bench,engine,kernels,rtx,cluster ./setup.sh
.venv/bin/pip install -q --no-build-isolation -e ".[${SCOREDEBLUR_EXTRAS:-test,bench,engine,kernels}]"
.venv/bin/python -c "import scoredeblur, torch; print('scoredeblur', scoredeblur.__version__, '| torch', torch.__version__)"
