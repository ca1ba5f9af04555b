#!/usr/bin/env bash
# One prepared run on a GPU machine, ≈8 minutes, everything under $OUT (a folder the caller collects).
#     bash scripts/gpu_session.sh [TRAIN_MINUTES] [DATA_DIR]
# The device machine has no package registry and only the repo travels, so the training images go
# as a carried folder (default .gpudata/train: the shared train set, PNGs re-encoded as JPEG q92 to
# fit the 64 MiB carry limit: `python scripts/pack_gpu_data.py ../shared/data/train .gpudata/train`)
# and PyWavelets as a carried wheel in .whl/ (see /work/.library/device/README.md).
#  1. two training runs side by side (the GPU is far from full with a 1.5 M-parameter U-Net):
#     the NCSN and EDM preconditionings, same data, seed, batch and time; both packed for inference;
#  2. meanwhile: the CUDA kernel built with nvcc and the GPU tests (CUDA and compiled Triton
#     against the reference);
#  3. after training (so nothing else shares the GPU): GPU speed of the fused update and of the
#     whole sampler (eager), and whole deblur calls per preset.
set -uo pipefail
MINUTES=${1:-6}
DATA=${2:-.gpudata/train}
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
LOG="$OUT/log.txt"
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl \
        && export PYTHONPATH=/tmp/site:$PWD
fi
export PYTHONPATH=${PYTHONPATH:-$PWD} PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee -a "$LOG"
python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)" | tee -a "$LOG"

for pre in ncsn edm; do
    python3 -m scoredeblur.cli.main train --data "$DATA" --out "/tmp/run_$pre" --steps 1000000 --batch-size 128 \
        --lr 5e-4 --warmup-steps 500 --device cuda --threads 4 --save-every 1000 --precond $pre \
        --max-minutes "$MINUTES" > "/tmp/train_$pre.txt" 2>&1 &
done

# 2. While training runs: the CUDA kernel for this GPU, where the ctypes loader looks for it; GPU tests.
nvcc -O3 -shared -Xcompiler -fPIC -arch=native -o scoredeblur/libscoredeblur_cuda.so csrc/fused_update.cu 2>&1 | tee -a "$LOG"
python3 -m pytest -q -p no:cacheprovider tests/test_fused.py tests/test_sde.py tests/test_sampler_gaussian.py -rs 2>&1 \
    | tail -25 | tee -a "$LOG"
wait
for pre in ncsn edm; do
    echo "== train $pre" >> "$LOG"; tr '\r' '\n' < "/tmp/train_$pre.txt" | grep -v '^$' | tail -4 >> "$LOG"
    python3 -m scoredeblur.cli.main pack "/tmp/run_$pre/checkpoint.pt" -o "$OUT/$pre.pt" 2>&1 | tail -2 >> "$LOG"
    cp "/tmp/run_$pre/loss.jsonl" "$OUT/${pre}_loss.jsonl"
done

# 3. Speed, with the GPU to itself.
python3 - <<'PY' 2>&1 | tee -a "$LOG"
import torch
from scoredeblur.fused import get_kernel
g = torch.Generator(device="cuda").manual_seed(0)
for size in (1024, 2048):
    t = [torch.randn((1, 3, size, size), generator=g, device="cuda") for _ in range(4)]
    coef = torch.tensor([[0.9, 0.01, 0.1, 0.1]], device="cuda")
    ref = get_kernel("reference")(*t, coef)
    times = {}
    for name in ("reference", "triton", "cuda"):
        k = get_kernel(name)
        err = (k(*t, coef) - ref).abs().max().item()
        for _ in range(3):
            k(*t, coef)
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        for _ in range(50):
            k(*t, coef)
        b.record(); torch.cuda.synchronize()
        times[name] = a.elapsed_time(b) / 50
        print(f"fused update {size}²  {name:9s} {times[name] * 1000:8.1f} µs  max|Δ| vs reference {err:.1e}"
              f"  speed-up {times['reference'] / times[name]:.2f}×")
PY
python3 -m scoredeblur.cli.bench speed --device cuda --model "$OUT/ncsn.pt" --engines torch-eager \
    --speed-sizes 256 512 1024 --speed-steps 20 --presets fast balanced quality --out /tmp/speed 2>&1 \
    | tail -30 | tee -a "$LOG"
cp /tmp/speed/report.md "$OUT/gpu_speed.md" 2>/dev/null
# torch.compile last and bounded: its compile time is the unknown of this run.
timeout "${COMPILE_SECONDS:-100}" python3 -m scoredeblur.cli.bench speed --device cuda --model "$OUT/ncsn.pt" \
    --engines torch-eager torch-compile --speed-sizes 256 512 --speed-steps 20 --out /tmp/speedc 2>&1 | tail -12 | tee -a "$LOG"
cp /tmp/speedc/report.md "$OUT/gpu_speed_compiled.md" 2>/dev/null
echo done | tee -a "$LOG"
