// GroupNorm (+ SiLU) on channels-last float32 (csrc/group_norm_cpu.cpp).
#pragma once
#include <cstdint>

namespace scoredeblur {

// x, out: n * hw * c floats, pixel-major with the c channels of a pixel contiguous (NHWC).
// weight, bias: c floats; c must be a multiple of groups. out may not alias x.
void group_norm_silu_cpu(const float* x, const float* weight, const float* bias, float* out, int64_t n,
                         int64_t hw, int64_t c, int64_t groups, float eps, bool silu, int threads);

}  // namespace scoredeblur
