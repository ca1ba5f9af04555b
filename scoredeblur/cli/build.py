"""``scoredeblur-build``: a trtexec-style engine builder for the score network.

    scoredeblur-build --backend onnxruntime --saveEngine net.onnx --verify
    scoredeblur-build --backend tensorrt-rtx --saveEngine net.plan --fp16 --computeCapability SM75 \\
        --minShapes x:1x3x64x64 --optShapes x:4x3x256x256 --maxShapes x:8x3x512x512
    scoredeblur-build --backend aoti --checkpoint run/checkpoint.pt --saveEngine net.pt2 --verify

With neither --onnx nor --checkpoint it builds from the embedded default model.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import torch

from scoredeblur.engine.aoti import AotiScore, compile_aoti
from scoredeblur.engine.loading import get_model
from scoredeblur.engine.onnx_export import export_onnx, parity
from scoredeblur.engine.onnx_runtime import OnnxRuntimeScore
from scoredeblur.engine.tensorrt_build import build_engine, parse_shape
from scoredeblur.errors import EngineBuildError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="scoredeblur-build", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--onnx", help="an ONNX export to build from (onnxruntime/tensorrt backends)")
    src.add_argument("--checkpoint", help="a scoredeblur checkpoint (default: the embedded model)")
    p.add_argument("--saveEngine", required=True, help="where to write the engine")
    p.add_argument("--backend", choices=("onnxruntime", "tensorrt", "tensorrt-rtx", "aoti"), default="onnxruntime")
    p.add_argument("--fp16", action="store_true", help="FP16 trunk (layers that need FP32 stay FP32)")
    p.add_argument("--minShapes", default="x:1x3x64x64")
    p.add_argument("--optShapes", default="x:4x3x256x256")
    p.add_argument("--maxShapes", default="x:8x3x512x512")
    p.add_argument("--timingCacheFile", default=None, help="TensorRT timing cache (read, then updated)")
    p.add_argument("--computeCapability", nargs="+", default=None,
                   help="tensorrt-rtx targets, e.g. SM75 SM86 SM89 SM120 (default: TensorRT-RTX's own)")
    p.add_argument("--verify", action="store_true", help="check the built engine against PyTorch at σ = 0.01, 1, 300")
    p.add_argument("--device", default="cpu", help="aoti: cpu or cuda")
    return p


def _reference(args):
    return get_model(args.checkpoint, "cpu")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    out = Path(args.saveEngine)
    try:
        shapes = [parse_shape(s) for s in (args.minShapes, args.optShapes, args.maxShapes)]
        if args.onnx and (args.backend == "aoti" or args.verify):
            raise ValueError("--onnx cannot be used with --backend aoti or --verify; pass --checkpoint (or nothing)")
        if args.backend == "tensorrt-rtx" and "SM75" in [c.upper() for c in args.computeCapability or []] \
                and not args.fp16 and not args.onnx:
            raise ValueError("TensorRT-RTX has no FP32 GEMM on Turing (SM75): add --fp16")
        model = None if args.onnx else _reference(args)
        if args.backend == "aoti":
            compile_aoti(model, out, device=args.device, max_size=shapes[2][-1])
            engine = AotiScore(out, args.device) if args.verify else None
        else:
            with tempfile.TemporaryDirectory() as tmp:
                onnx_path = Path(args.onnx) if args.onnx else export_onnx(model, Path(tmp) / "net.onnx", fp16=args.fp16)
                if args.backend == "onnxruntime":
                    out.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(onnx_path, out)
                else:
                    build_engine(onnx_path, out, args.backend, *shapes, timing_cache=args.timingCacheFile,
                                 compute_capabilities=args.computeCapability)
            engine = None
            if args.verify:
                if args.backend != "onnxruntime":
                    raise EngineBuildError(f"--verify runs engines on this machine; a {args.backend} engine needs an "
                                           "NVIDIA GPU with its runtime (verify the ONNX with --backend onnxruntime)")
                engine = OnnxRuntimeScore(out)
        print(f"built {args.backend} engine: {out} ({out.stat().st_size / 2**20:.1f} MiB)")
        if engine is not None:
            errors = parity(model, engine)
            tol = 1e-2 if args.fp16 else 1e-4
            for s, e in errors.items():
                print(f"  parity at sigma={s:g}: max relative error {e:.2e} (tolerance {tol:g})")
            if max(errors.values()) > tol:
                print("scoredeblur-build: error: engine does not match PyTorch within tolerance", file=sys.stderr)
                return 1
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"scoredeblur-build: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    torch.set_num_threads(torch.get_num_threads())
    sys.exit(main())
