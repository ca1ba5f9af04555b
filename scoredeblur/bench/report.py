"""Reports: JSON for machines (and --compare), Markdown for people, PNG curves and crops."""
from __future__ import annotations

import json
from pathlib import Path

from scoredeblur.files import atomic_output


def write_json(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp, open(tmp, "w") as f:
        json.dump(obj, f, indent=1, default=str)


def quality_markdown(summary: list[dict], tuned: dict, skipped: list[str]) -> str:
    lines = ["## Quality (PSNR dB / SSIM, mean ± std)", ""]
    if tuned:
        lines += ["Tuned classical parameters: " + ", ".join(f"{k} = {v}" for k, v in tuned.items()), ""]
    keys = sorted({(r["degradation"], r["size"]) for r in summary})
    for deg, size in keys:
        rs = [r for r in summary if r["degradation"] == deg and r["size"] == size]
        base = next((r["psnr_mean"] for r in rs if r["method"] == "input"), None)
        lines += [f"### {deg}, {size} (n = {rs[0]['n']})", "",
                  "| method | PSNR | Δ vs input | SSIM | s / image |", "|---|---|---|---|---|"]
        for r in rs:
            delta = f"{r['psnr_mean'] - base:+.2f}" if base is not None else "—"
            lines.append(f"| {r['method']} | {r['psnr_mean']:.2f} ± {r['psnr_std']:.2f} | {delta} | "
                         f"{r['ssim_mean']:.3f} ± {r['ssim_std']:.3f} | {r['seconds_mean']:.2f} |")
        lines.append("")
    if skipped:
        lines += ["Skipped: " + "; ".join(skipped), ""]
    return "\n".join(lines)


def speed_markdown(speed: dict) -> str:
    lines = ["## Speed", "", f"Machine: {speed['machine']}", "",
             "| engine | size | ms / iteration | s / image | NFE | peak MB | × vs torch-eager |", "|---|---|---|---|---|---|---|"]
    for r in speed["rows"]:
        lines.append(f"| {r['engine']} | {r['size']} | {r['ms_per_iter']:.1f} | {r['s_per_image']:.1f} | "
                     f"{r['nfe']} | {r['peak_mb']:.0f} | {r['speedup_vs_eager']:.2f} |")
    if speed.get("presets"):
        lines += ["", "Whole `deblur(img, preset=...)` calls (blind estimation included):", "",
                  "| preset | size | NFE | s / image |", "|---|---|---|---|"]
        lines += [f"| {r['preset']} | {r['size']} | {r['nfe']} | {r['s_per_image']:.2f} |" for r in speed["presets"]]
    if speed.get("skipped"):
        lines += ["", "Skipped: " + "; ".join(speed["skipped"])]
    return "\n".join(lines) + "\n"


def compare(current: dict, previous: dict) -> str:
    """Differences in mean PSNR/SSIM between two quality summaries, keyed by case group and method."""
    def index(d):
        return {(r["degradation"], r["size"], r["method"]): r for r in d.get("quality", {}).get("summary", [])}
    cur, prev = index(current), index(previous)
    lines = ["| degradation | size | method | PSNR now | Δ PSNR | SSIM now | Δ SSIM |", "|---|---|---|---|---|---|---|"]
    for key in sorted(cur):
        c, p = cur[key], prev.get(key)
        if p is None:
            lines.append(f"| {' | '.join(key)} | {c['psnr_mean']:.2f} | new | {c['ssim_mean']:.3f} | new |")
        else:
            lines.append(f"| {' | '.join(key)} | {c['psnr_mean']:.2f} | {c['psnr_mean'] - p['psnr_mean']:+.2f} | "
                         f"{c['ssim_mean']:.3f} | {c['ssim_mean'] - p['ssim_mean']:+.3f} |")
    for key in sorted(set(prev) - set(cur)):
        lines.append(f"| {' | '.join(key)} | gone | | | |")
    return "\n".join(lines)


def plot_curves(curves: dict, path: Path) -> None:
    """PSNR and SSIM per iteration (the paper's Fig. 1 v/w), one line per case."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for method, per_case in curves.items():
        for case, curve in per_case.items():
            it, p, s = zip(*curve)
            label = f"{method}: {case.split('/')[0]}" if len(curves) > 1 else case.split("/")[0]
            axes[0].plot(it, p, label=label, lw=1)
            axes[1].plot(it, s, label=label, lw=1)
    axes[0].set(xlabel="iteration", ylabel="PSNR (dB)", title="PSNR per iteration")
    axes[1].set(xlabel="iteration", ylabel="SSIM", title="SSIM per iteration")
    axes[0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def save_crops(cases, outputs: dict, methods: list[str], path: Path, crop: int = 96) -> None:
    """Side-by-side centre crops: sharp, then each method, for the first few cases."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = cases[:4]
    cols = ["sharp"] + methods
    fig, axes = plt.subplots(len(shown), len(cols), figsize=(1.9 * len(cols), 2.0 * len(shown)), squeeze=False)
    for i, case in enumerate(shown):
        h, w = case.sharp.shape[:2]
        y0, x0 = (h - crop) // 2, (w - crop) // 2
        for j, col in enumerate(cols):
            img = case.sharp if col == "sharp" else outputs.get((case.name, col))
            ax = axes[i][j]
            ax.axis("off")
            if img is not None:
                ax.imshow(img[y0:y0 + crop, x0:x0 + crop].clip(0, 1), interpolation="nearest")
            if i == 0:
                ax.set_title(col, fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
