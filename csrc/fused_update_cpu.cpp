// CPU kernel: one pass over memory, vectorised by the compiler (the loop body is a plain FMA chain
// over contiguous floats) and split across threads with OpenMP.
#include "fused_update.h"

namespace scoredeblur {

void fused_update_cpu(const float* __restrict x, const float* __restrict s, const float* __restrict z,
                      const float* __restrict y, const float* __restrict coef, float* __restrict out,
                      int64_t n_samples, int64_t per_sample) {
  for (int64_t n = 0; n < n_samples; ++n) {
    const float a = coef[4 * n], b = coef[4 * n + 1], c = coef[4 * n + 2], d = coef[4 * n + 3];
    const int64_t base = n * per_sample;
#pragma omp parallel for simd schedule(static) if (per_sample > 65536)
    for (int64_t i = 0; i < per_sample; ++i) {
      const int64_t k = base + i;
      out[k] = a * x[k] + b * s[k] + c * z[k] + d * y[k];
    }
  }
}

}  // namespace scoredeblur
