"""Sampling: the noise schedule, the update rules, the reference loop (the oracle), presets, tiling
and the fused loop."""
