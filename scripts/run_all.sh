#!/usr/bin/env bash
# Every figure in docs/MODEL_CARD.md and docs/RESULTS.md, reproduced on the embedded model.
# About 55 minutes on 2 CPU cores (WIDTHS=1: 40 more; PAPER256=1: 25 more); run nothing else meanwhile (the speed numbers would lie).
# Needs ../shared (dev images, peer weights) beside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-bench-out}
PY=.venv/bin/python
BENCH=.venv/bin/scoredeblur-bench
mkdir -p "$OUT" docs/figures

# 1. Speed: ms per iteration per backend and size (ratios to eager in the same run), and whole
#    deblur calls per preset.
$BENCH speed --engines torch-eager onnxruntime aoti cpp-loop --speed-sizes 256 512 --speed-steps 3 --out "$OUT/speed"
$BENCH speed --engines torch-eager --speed-sizes 256 --speed-steps 3 --presets fast balanced quality \
    --out "$OUT/speed_presets"

# 2. Model card: loss curve, prior samples, denoising error per σ, architecture table.
$PY scripts/model_card.py --out docs/figures

# 3. Presets: quality against NFE (true PSF, estimated noise) on 128² dev crops at radii 3 and 5.
$PY scripts/sweep_presets.py --model scoredeblur/models/default.pt --limit 6 --crop 128 --radii 3 5 \
    --steps 4 8 16 32 --sigma-start 0.19 0.3 --lam 0.4 0.7 --blind --weights ../shared/weights --out "$OUT/sweep.json"
$PY scripts/plot_sweep.py "$OUT/sweep.json" docs/figures/psnr_vs_nfe.png > "$OUT/sweep.md"
$PY scripts/sweep_presets.py --model scoredeblur/models/default.pt --limit 6 --crop 128 --radii 2 \
    --steps 8 16 --sigma-start 0.1 0.19 0.3 --lam 0.4 0.7 --blind --out "$OUT/sweep_r2.json"

# 4. The main table: every method on 256² dev crops and full images, uniform radii and a
#    depth-varying case (≈ 25 min).
$BENCH quality --limit 3 --radii 2 3 5 8 --varying 0.5 6 --sizes crop full \
    --methods input wiener richardson_lucy ffdnet pnp_hqs_ffdnet sd_fast sd_balanced sd_fast_true_psf \
    --out "$OUT/quality"

# 5. The paper's configuration: 700 iterations, Fig. 1 v/w curves (its Table 1 ablation costs
#    ≈ 11 min per 256² image here: scripts/gpu_paper_table.sh runs it on a GPU).
$BENCH quality --limit 1 --radii 3 --crop 128 --curves \
    --methods input wiener sd_paper sd_fast --steps 700 --out "$OUT/paper1"
cp "$OUT/paper1/curves.png" docs/figures/paper_curves.png
# The paper's configuration at the other radii (≈ 100 s per 128² crop here).
$BENCH quality --limit 1 --radii 2 5 8 --crop 128 \
    --methods input wiener richardson_lucy sd_paper sd_fast --steps 700 --out "$OUT/paper_radii"

# 6. Optional (WIDTHS=1, ≈ 40 min more): the model card's width table, each width trained for the
#    same 12 minutes here and scored on dev images.
if [ "${WIDTHS:-0}" = 1 ]; then
    (cd benchmarks && "../$PY" width_study.py --data ../../shared/data/train --minutes 12 --out "../$OUT/width_study.json")
fi

# 7. Optional (PAPER256=1, ≈ 25 min more): the paper's configuration on a 256² crop at radii 2/5/8.
if [ "${PAPER256:-0}" = 1 ]; then
    $BENCH quality --limit 1 --radii 2 5 8 --methods input sd_paper sd_fast --steps 700 --out "$OUT/paper256"
fi
