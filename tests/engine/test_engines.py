"""Exported engines against the PyTorch network (the oracle), over the whole σ range."""
import importlib.util

import numpy as np
import pytest
import torch

import scoredeblur
from scoredeblur.cli.build import main as build_main
from scoredeblur.engine.onnx_export import export_onnx, parity
from scoredeblur.engine.onnx_runtime import OnnxRuntimeScore
from scoredeblur.engine.tensorrt_build import EngineBuildError, import_trt, parse_shape
from scoredeblur.models.checkpoint import load_model

SIGMAS = (0.01, 1.0, 300.0)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from tests.conftest import tiny_checkpoint

    path = tiny_checkpoint(tmp_path_factory.mktemp("m") / "tiny.pt")
    return path, load_model(path)


@pytest.fixture(scope="module")
def onnx_fp32(tiny, tmp_path_factory):
    return export_onnx(tiny[1], tmp_path_factory.mktemp("o") / "net.onnx")


def test_onnx_fp32_matches_pytorch_at_every_sigma(tiny, onnx_fp32):
    engine = OnnxRuntimeScore(onnx_fp32)
    assert engine.config == tiny[1].config and engine.sde_config == tiny[1].sde_config
    errors = parity(tiny[1], engine, SIGMAS)
    assert max(errors.values()) < 1e-4, errors
    # dynamic batch and odd sizes
    errors = parity(tiny[1], engine, (0.5,), size=37, batch=3)
    assert errors[0.5] < 1e-4


def test_onnx_fp16_keeps_the_sensitive_parts_fp32(tiny, tmp_path):
    engine = OnnxRuntimeScore(export_onnx(tiny[1], tmp_path / "net16.onnx", fp16=True))
    assert engine.precision == "float16"
    errors = parity(tiny[1], engine, SIGMAS)
    # σ = 300: σ² overflows FP16 and inputs reach hundreds; only an FP32 wrapper passes this.
    assert max(errors.values()) < 1e-2, errors


def test_deblur_runs_on_the_onnx_engine(tiny, onnx_fp32, rng):
    img = rng.random((24, 24, 3)).astype(np.float32)
    kw = dict(steps=4, preset="paper", seed=3, sigma_start=0.5, tile=64)
    a = scoredeblur.deblur(img, model=tiny[0], **kw)
    b = scoredeblur.deblur(img, model=onnx_fp32, **kw)
    assert np.abs(a - b).max() < 1e-3


def test_foreign_onnx_is_refused(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    onnx.save(helper.make_model(graph), tmp_path / "other.onnx")
    from scoredeblur.errors import CheckpointError

    with pytest.raises(CheckpointError, match="not a scoredeblur ONNX export"):
        OnnxRuntimeScore(tmp_path / "other.onnx")


def test_build_cli_onnxruntime_verify(tiny, tmp_path, capsys):
    out = tmp_path / "engine.onnx"
    assert build_main(["--checkpoint", str(tiny[0]), "--backend", "onnxruntime", "--saveEngine", str(out),
                       "--verify"]) == 0
    text = capsys.readouterr().out
    assert out.stat().st_size > 0 and "parity at sigma=300" in text


def test_build_cli_errors(tmp_path, capsys, onnx_fp32):
    assert build_main(["--onnx", str(onnx_fp32), "--backend", "aoti", "--saveEngine", str(tmp_path / "x")]) == 2
    assert "cannot be used with --backend aoti" in capsys.readouterr().err
    assert build_main(["--backend", "onnxruntime", "--saveEngine", str(tmp_path / "x"), "--minShapes", "y:1x3"]) == 2
    assert "names input 'y'" in capsys.readouterr().err
    assert parse_shape("x:2x3x64x96") == (2, 3, 64, 96)


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="datacenter TensorRT is installed")
def test_tensorrt_absent_gives_a_clear_message(onnx_fp32, tmp_path, capsys):
    with pytest.raises(EngineBuildError, match="not installed"):
        import_trt("tensorrt")
    assert build_main(["--onnx", str(onnx_fp32), "--backend", "tensorrt", "--saveEngine", str(tmp_path / "e.plan")]) == 2
    assert "tensorrt" in capsys.readouterr().err


@pytest.mark.skipif(importlib.util.find_spec("tensorrt_rtx") is None, reason="tensorrt-rtx not installed")
def test_tensorrt_rtx_builds_an_engine_without_a_gpu(tiny, tmp_path, capsys):
    out = tmp_path / "net_sm75.plan"
    # Turing (the paper's 2080Ti) has no FP32 GEMM in TensorRT-RTX: the FP16 export is required.
    assert build_main(["--checkpoint", str(tiny[0]), "--backend", "tensorrt-rtx", "--saveEngine", str(out),
                       "--computeCapability", "SM75"]) == 2
    assert "--fp16" in capsys.readouterr().err
    assert build_main(["--checkpoint", str(tiny[0]), "--fp16", "--backend", "tensorrt-rtx", "--saveEngine", str(out),
                       "--computeCapability", "SM75", "--minShapes", "x:1x3x32x32", "--optShapes", "x:1x3x64x64",
                       "--maxShapes", "x:2x3x128x128", "--timingCacheFile", str(tmp_path / "cache.bin")]) == 0
    assert out.stat().st_size > 100_000


def test_aoti_package_matches_pytorch(tiny_aoti_package):
    from scoredeblur.engine.aoti import AotiScore

    path, model = tiny_aoti_package
    engine = AotiScore(path)
    assert engine.config == model.config
    errors = parity(model, engine, SIGMAS, size=40)  # 40 is not a multiple: padded inside
    assert max(errors.values()) < 1e-4, errors
    assert torch.isfinite(engine.score(torch.rand(1, 3, 16, 16), 1.0)).all()


def test_aoti_package_calls_aten_group_norm(tiny_aoti_package):
    """The package runs GroupNorm through ATen's kernel, not Inductor's generated reductions (slow on
    channels_last: 0.72x eager against 0.98x), and compiling leaves Inductor's table as it was."""
    import re
    import zipfile

    from torch._inductor import decomposition, lowering

    path, _ = tiny_aoti_package
    with zipfile.ZipFile(path) as z:
        sources = [z.read(n).decode(errors="ignore") for n in z.namelist() if n.endswith("wrapper.cpp")]
    assert sources, "no wrapper source in the package"
    assert any("aten.native_group_norm" in s for s in sources)
    assert not any(re.search(r"cpp_fused_\w*group_norm", s) for s in sources)
    assert torch.ops.aten.native_group_norm.default in decomposition.decompositions
    assert torch.ops.aten.group_norm.default not in lowering.lowerings


def test_cached_package_path_changes_with_what_gets_compiled(tiny, monkeypatch, tmp_path):
    import scoredeblur.engine.aoti as aoti
    from scoredeblur.engine.cpp_loop import cached_package_path

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    model = load_model(tiny[0])
    first = cached_package_path(model)
    assert cached_package_path(model) == first and first.parent == tmp_path / "scoredeblur"
    assert cached_package_path(model, max_size=1024) != first
    model.set_memory_format(torch.channels_last)
    assert cached_package_path(model) != first
    model.set_memory_format(torch.contiguous_format)
    monkeypatch.setattr(aoti, "PACKAGE_FORMAT", "another format")
    assert cached_package_path(model) != first
