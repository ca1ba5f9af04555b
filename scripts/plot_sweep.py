"""PSNR gain against NFE from a sweep_presets.py result: python scripts/plot_sweep.py sweep.json out.png"""
import json
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

rows = json.loads(open(sys.argv[1]).read())
ref = {r["radius"]: r["psnr"] - r["input_psnr"] for r in rows if r["setting"] == "pnp_hqs_ffdnet"}
series = defaultdict(list)
for r in rows:
    if isinstance(r["setting"], dict):
        s = r["setting"]
        series[(r["radius"], s["sigma_start"], s["lam"])].append((r["nfe"], r["psnr"] - r["input_psnr"]))
fig, axes = plt.subplots(1, len(ref) or 1, figsize=(5.5 * max(1, len(ref)), 4), squeeze=False)
for ax, radius in zip(axes[0], sorted(ref) or sorted({k[0] for k in series})):
    for (rad, s0, lam), pts in sorted(series.items()):
        if rad == radius:
            pts.sort()
            ax.plot(*zip(*pts), marker="o", lw=1, label=f"σ_start {s0:g}, λ {lam:g}")
    if radius in ref:
        ax.axhline(ref[radius], color="k", ls="--", lw=1, label="PnP-HQS + FFDNet (true PSF)")
    ax.set(xscale="log", xlabel="network evaluations (NFE)", ylabel="PSNR gain over input (dB)",
           title=f"disk radius {radius:g} px")
    ax.legend(fontsize=7)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=110)
print(f"wrote {sys.argv[2]}")

# A Markdown table of every setting, mean gain over the radii, best first within each NFE.
by_setting = defaultdict(dict)
for r in rows:
    if isinstance(r["setting"], dict):
        key = (r["nfe"], r["setting"]["sigma_start"], r["setting"]["lam"])
        by_setting[key][r["radius"]] = (r["psnr"] - r["input_psnr"], r["ssim"], r["seconds"])
radii = sorted({r["radius"] for r in rows})
print("| NFE | σ_start | λ | " + " | ".join(f"Δ PSNR r={x:g}" for x in radii) + " | s / image (128²) |")
print("|---|---|---|" + "---|" * len(radii) + "---|")
for key in sorted(by_setting, key=lambda k: (k[0], -sum(v[0] for v in by_setting[k].values()))):
    vals = by_setting[key]
    cells = " | ".join(f"{vals[x][0]:+.2f}" if x in vals else "—" for x in radii)
    secs = sum(v[2] for v in vals.values()) / len(vals)
    print(f"| {key[0]} | {key[1]:g} | {key[2]:g} | {cells} | {secs:.2f} |")
if ref:
    cells = " | ".join(f"{ref.get(x, float('nan')):+.2f}" for x in radii)
    print(f"| PnP-HQS + FFDNet (true PSF, 8 iterations) | | | {cells} | |")
