"""The embedded default model: weights shipped inside the package, verified by checksum at load."""
from __future__ import annotations

import hashlib
from importlib import resources

from scoredeblur.errors import CheckpointError

DEFAULT_NAME = "default.pt"
RADIUS_NET_NAME = "radius_net.pt"  # the local defocus-radius estimator (physics/radius_net.py)


def default_model_path():
    return resources.files("scoredeblur.models").joinpath(DEFAULT_NAME)


def radius_net_path():
    return resources.files("scoredeblur.models").joinpath(RADIUS_NET_NAME)


def verify_checksum(path) -> None:
    """Compare the file's SHA-256 with the one recorded beside it when the model was shipped."""
    expected_file = resources.files("scoredeblur.models").joinpath(path.name + ".sha256")
    if not expected_file.is_file():
        raise CheckpointError(f"embedded model has no checksum file {expected_file}")
    expected = expected_file.read_text().split()[0]
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    if actual != expected:
        raise CheckpointError(f"embedded model {path} fails its checksum (sha256 {actual}, expected {expected}); "
                              "the installation is damaged: reinstall scoredeblur")
