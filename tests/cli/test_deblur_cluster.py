"""``scoredeblur deblur-cluster`` refuses what it cannot do before starting anything, with or
without Ray installed."""
import sys

import pytest

from scoredeblur.cli.main import main
from scoredeblur.cluster import deblur_cluster
from scoredeblur.errors import InputError


def test_without_ray_it_says_what_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` fail as on a machine without it
    (tmp_path / "in").mkdir()
    code = main(["deblur-cluster", str(tmp_path / "in"), "-o", str(tmp_path / "out")])
    assert code == 2
    assert "pip install 'scoredeblur[cluster]'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kwargs, message", [
    ({"overwrite": True}, "does not take overwrite: a retried task would write"),
    ({"report": "r.jsonl"}, "does not take report"),
    ({"device": "cuda"}, "needs num_gpus > 0"),
    ({"device": "cpu", "num_gpus": 1}, "reserves GPUs that device 'cpu' leaves idle"),
    ({"device": "cuda:1", "num_gpus": 1}, "numbered from 0"),
    ({"concurrency": 0}, "concurrency must be in 1.."),
    ({"num_cpus_per_actor": 1.5}, "num_cpus_per_actor must be a whole number"),
    ({"max_retries": -1}, "max_retries must be in 0.."),
    ({"image_hook": "crash"}, "image_hook must be callable"),
    ({"steps": 0}, "steps"),
])
def test_bad_arguments_are_refused_before_any_work(tmp_path, kwargs, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(".", r"\.")):
        deblur_cluster([tmp_path], tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()
