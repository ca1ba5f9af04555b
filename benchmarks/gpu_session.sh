#!/usr/bin/env bash
# One prepared run for a lent GPU machine (the `device` tool), ≈10 minutes. NOT YET RUN: no session
# of this project has had a GPU so far. Call it as the device command, e.g.
#     bash benchmarks/gpu_session.sh 420        # seconds of training
# It builds the CUDA kernel with nvcc, runs the GPU tests, trains on the GPU (resuming from
# $OUT/run when carried back), packs the weights, and writes the GPU speed table, all under $OUT.
set -uo pipefail
TRAIN_SECONDS=${1:-420}
OUT=${OUT:-/tmp/out}
export PYTHONPATH=$PWD
DATA=../shared/data/train
[ -d "$DATA" ] || DATA=shared/data/train
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$OUT/gpu.txt"

# 1. The CUDA kernel, for this GPU, where the ctypes loader looks for it.
nvcc -O3 -shared -Xcompiler -fPIC -arch=native -o scoredeblur/libscoredeblur_cuda.so csrc/fused_update.cu

# 2. GPU tests: CUDA and compiled-Triton kernels against the reference, Philox reproducibility.
python3 -m pytest -q tests/test_fused.py -rs 2>&1 | tail -15 | tee "$OUT/gpu_tests.txt"

# 3. Training on the GPU: a wider batch, same objective; checkpoints every 500 steps.
timeout "$TRAIN_SECONDS" python3 -m scoredeblur.cli train --data "$DATA" --out "$OUT/run" --steps 200000 \
    --batch-size 64 --lr 5e-4 --device cuda --save-every 500 2>&1 | tr '\r' '\n' | tail -3
python3 -m scoredeblur.cli pack "$OUT/run/checkpoint.pt" -o "$OUT/default.pt" --write-sha256
cp "$OUT/run/loss.jsonl" "$OUT/loss.jsonl"
rm -f "$OUT/run/checkpoint.pt"  # > 16 MiB with the optimiser state: cannot come back

# 4. Speed on the GPU: ms per iteration of the paper's PC+DC step, eager, at 256² and 512².
python3 - <<'PY' 2>&1 | tee "$OUT/gpu_speed.txt"
import time, torch
from scoredeblur.api import get_model
from scoredeblur.sampler import SamplerConfig, pc_sample
from scoredeblur.sde import VESDE
net = get_model(None, "cuda")
for size in (256, 512):
    y = torch.rand(1, 3, size, size, device="cuda")
    run = lambda n: pc_sample(net.score, VESDE(net.sde_config), y, SamplerConfig(steps=n, sigma_start=1.0),
                              torch.Generator(device="cuda").manual_seed(0))
    with torch.no_grad():
        run(3); torch.cuda.synchronize(); t = time.perf_counter(); run(50); torch.cuda.synchronize()
    print(f"{torch.cuda.get_device_name(0)} {size}²: {1000 * (time.perf_counter() - t) / 50:.2f} ms per iteration (2 NFE)")
PY
