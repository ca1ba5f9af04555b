import numpy as np
import pytest
import torch

from scoredeblur.config import NetConfig
from scoredeblur.models.unet import ScoreUNet


@pytest.fixture
def random_network():
    """A small channels-last network with random weights everywhere (the zero-initialised output
    convolutions would hide every difference), an input and its noise condition."""
    net = ScoreUNet(NetConfig(base_channels=16))
    g = torch.Generator().manual_seed(0)
    for p in net.parameters():
        p.data.copy_(torch.randn(p.shape, generator=g) * 0.1)
    net = net.to(memory_format=torch.channels_last).eval()
    x = torch.rand((1, 3, 40, 56), generator=g).contiguous(memory_format=torch.channels_last)
    return net, x, torch.tensor([np.log(0.1)], dtype=torch.float32)
