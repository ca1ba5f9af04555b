"""The sampling loops a call can run, by one vocabulary:

* ``loop="python"``, ``kernel=None``: the reference loop (``sampling.sampler.pc_sample``), the oracle;
* ``loop="python"``, ``kernel="reference" | "cpu" | "triton" | "cuda"``: the same loop with every
  elementwise update fused into one kernel of that kind (``sampling.fused_loop``);
* ``loop="cpp"``: the whole loop in C++ (AOTInductor network + the C++ CPU kernel), whole image.

All of them draw the same noise in the same order and agree to float32 rounding.
"""
from __future__ import annotations

import warnings
from typing import Callable

import torch

from scoredeblur.engine import cpp_loop
from scoredeblur.errors import BackendUnavailable, InputError
from scoredeblur.kernels.registry import KERNELS, get_kernel
from scoredeblur.plan import Plan
from scoredeblur.sampling.fused_loop import fused_sample
from scoredeblur.sampling.sampler import StepInfo, pc_sample
from scoredeblur.sampling.sde import VESDE

LOOPS = ("python", "cpp")


def check_loop(loop: str, kernel: str | None, generator, callback) -> None:
    """Refuse, before any work, a combination the loop cannot honour."""
    if loop not in LOOPS:
        raise InputError(f"loop must be one of {LOOPS}, got {loop!r}")
    if kernel is not None and kernel not in KERNELS:
        raise InputError(f"kernel must be None or one of {KERNELS}, got {kernel!r}")
    if loop == "cpp":
        if kernel not in (None, "cpu"):
            raise InputError(f"loop='cpp' runs the C++ CPU kernel; kernel={kernel!r} needs loop='python'")
        if generator is not None:
            raise InputError("loop='cpp' draws its noise in C++ from `seed`; pass seed=, not generator=")
        if callback is not None:
            raise InputError("loop='cpp' runs every step in C++ and cannot call a callback; use loop='python'")


def run_loop(score, net, y: torch.Tensor, plan: Plan, *, loop: str, kernel: str | None, seed: int,
             generator: torch.Generator, callback: Callable[[StepInfo], None] | None) -> torch.Tensor:
    """x ~ p(x | y) by the loop asked for. ``score`` is the (tiled) score of ``net``."""
    sde = VESDE(net.sde_config)
    if loop == "cpp":
        x = _cpp(net, y, plan, sde, seed)
        if x is not None:
            if callback is not None:
                callback(StepInfo(plan.cfg.steps - 1, 0.0, x))
            return x
    if kernel is None:
        return pc_sample(score, sde, y, plan.cfg, generator, callback, physics=plan.physics, x_start=plan.x_start)
    return fused_sample(score, sde, y, plan.cfg, generator, get_kernel(kernel), callback,
                        physics=plan.physics, x_start=plan.x_start)


def _cpp(net, y, plan: Plan, sde: VESDE, seed: int) -> torch.Tensor | None:
    """The C++ loop, or None (with a warning saying why) so that the caller runs the Python loop."""
    try:
        if y.device.type != "cpu":
            raise BackendUnavailable("the C++ loop runs on the CPU")
        if plan.cfg.ensemble > 1:
            raise BackendUnavailable(f"the C++ loop evaluates the network once per step (ensemble={plan.cfg.ensemble})")
        cpp_loop.native_loop()  # before compiling a package it could not use
        loop = cpp_loop.CppLoop(cpp_loop.package_for(net), net.config.size_multiple)
        return loop.sample(y, sde, plan.cfg, seed, plan.physics, plan.x_start)
    except BackendUnavailable as exc:
        warnings.warn(f"loop='cpp' unavailable ({exc}); running loop='python'", stacklevel=4)
        return None
