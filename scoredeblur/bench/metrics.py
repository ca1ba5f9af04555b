"""Quality metrics (scikit-image's PSNR and SSIM on [0, 1] RGB)."""
from __future__ import annotations

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity


def psnr(ref: np.ndarray, est: np.ndarray) -> float:
    return float(peak_signal_noise_ratio(ref, np.clip(est, 0, 1).astype(ref.dtype), data_range=1.0))


def ssim(ref: np.ndarray, est: np.ndarray) -> float:
    est = np.clip(est, 0, 1).astype(ref.dtype)
    return float(structural_similarity(ref, est, data_range=1.0, channel_axis=2 if ref.ndim == 3 else None))
