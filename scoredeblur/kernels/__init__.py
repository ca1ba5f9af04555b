"""The fused sampler update: its reference implementation and one backend per kind of kernel
(C++ on the CPU, CUDA, Triton), found through the registry."""
