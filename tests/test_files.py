import os
import stat

import pytest

from scoredeblur.bench.report import write_json
from scoredeblur.files import TEMP_MARK, atomic_output
from scoredeblur.models.checkpoint import load_model, pack_for_inference
from tests.conftest import tiny_checkpoint


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_checkpoints_packed_weights_onnx_and_reports_get_normal_permissions(tmp_path, umask_022):
    """Files other users and jobs read (a run's checkpoint, shipped weights, an exported network, a
    benchmark report) come out 0644 under umask 022, not the 0600 of a bare temporary file."""
    ckpt = tiny_checkpoint(tmp_path / "run" / "checkpoint.pt")
    pack_for_inference(ckpt, tmp_path / "packed.pt")
    write_json({"a": 1}, tmp_path / "report" / "results.json")
    written = [ckpt, tmp_path / "packed.pt", tmp_path / "report" / "results.json"]
    pytest.importorskip("onnx")
    from scoredeblur.engine.onnx_export import export_onnx
    written.append(export_onnx(load_model(ckpt), tmp_path / "net.onnx", max_size=64))
    assert {str(p): _mode(p) for p in written} == {str(p): 0o644 for p in written}
    assert not [p for p in tmp_path.rglob("*") if TEMP_MARK in p.name]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "results.json"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="disk gone"):
        with atomic_output(target) as tmp:
            with open(tmp, "w") as f:
                f.write("half")
            raise RuntimeError("disk gone")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]
