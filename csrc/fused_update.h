// The fused sampler update out = a*x + b*s + c*z + d*y with per-sample (a, b, c, d).
// Shared by the CPU kernel (fused_update_cpu.cpp) and the CUDA kernel (fused_update.cu);
// the PyTorch reference is scoredeblur/fused.py::reference.
#pragma once
#include <cstdint>

namespace scoredeblur {

// x, s, z, y, out: n_samples * per_sample floats, sample-major. coef: n_samples * 4 floats.
void fused_update_cpu(const float* x, const float* s, const float* z, const float* y, const float* coef,
                      float* out, int64_t n_samples, int64_t per_sample);

}  // namespace scoredeblur
