#!/usr/bin/env bash
# Second prepared GPU run (≈3 minutes): the source paper's Table 1 ablation at its full 700
# iterations, which costs ≈12 min per 256² image on this project's CPU, plus the GPU tests and
# the torch.compile speed row.   bash scripts/gpu_paper_table.sh IMAGES_DIR MODEL...
set -uo pipefail
IMAGES=${1:-.gpudev}; shift; MODELS=("$@")
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; LOG="$OUT/log.txt"
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site:$PWD
fi
export PYTHONPATH=${PYTHONPATH:-$PWD} PYTHONUNBUFFERED=1
nvcc -O3 -shared -Xcompiler -fPIC -arch=native -o scoredeblur/libscoredeblur_cuda.so csrc/fused_update.cu 2>&1 | tee -a "$LOG"
python3 -m pytest -q -p no:cacheprovider tests/test_fused.py -rs 2>&1 | tail -6 | tee -a "$LOG"
for m in "${MODELS[@]}"; do
    name=$(basename "$m" .pt)
    python3 -m scoredeblur.cli.bench quality --device cuda --images "$IMAGES" --radii 3 --model "$m" \
        --methods input sd_predictor sd_pc sd_paper --steps 700 --out "/tmp/t1_$name" 2>&1 | tail -2 | tee -a "$LOG"
    cp "/tmp/t1_$name/report.md" "$OUT/table1_$name.md"; cp "/tmp/t1_$name/results.json" "$OUT/table1_$name.json"
done
timeout "${COMPILE_SECONDS:-70}" python3 -m scoredeblur.cli.bench speed --device cuda --model "${MODELS[0]}" \
    --engines torch-eager torch-compile --speed-sizes 256 512 --speed-steps 20 --out /tmp/speedc 2>&1 | tail -3 | tee -a "$LOG"
cp /tmp/speedc/report.md "$OUT/gpu_speed_compiled.md" 2>/dev/null
echo done | tee -a "$LOG"
