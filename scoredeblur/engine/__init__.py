"""Inference engines for the score network: ONNX export, ONNX Runtime, TensorRT(-RTX), AOTInductor.

Every engine is a drop-in score function with the same interface as ``Preconditioner``:
``score(x, sigma)``, ``config`` (NetConfig), ``sde_config`` and ``device``, so the reference
sampler runs unchanged on top of it and parity with PyTorch is checked the same way for all.
"""
