// CUDA kernel for the fused sampler update, standalone (no torch headers: the CPU torch build here
// cannot compile CUDA extensions). Exposed with a C ABI and loaded by scoredeblur/cuda_backend.py
// through ctypes on raw device pointers.
//
// Two entry points:
//   sd_fused_update        out = a*x + b*s + c*z + d*y        (z given: parity with the reference)
//   sd_fused_update_philox the same with z drawn in-kernel: Philox4x32-10 keyed by (seed, step),
//                          counter = element index, Box-Muller — reproducible from the seed alone.
#include <cstdint>
#include <cuda_runtime.h>

namespace {

__global__ void fused_update_kernel(const float* __restrict__ x, const float* __restrict__ s,
                                    const float* __restrict__ z, const float* __restrict__ y,
                                    const float* __restrict__ coef, float* __restrict__ out, int64_t per_sample) {
  const int64_t n = blockIdx.y;
  const float a = coef[4 * n], b = coef[4 * n + 1], c = coef[4 * n + 2], d = coef[4 * n + 3];
  const int64_t base = n * per_sample;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < per_sample;
       i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t k = base + i;
    out[k] = fmaf(a, x[k], fmaf(b, s[k], fmaf(c, z[k], d * y[k])));
  }
}

// Philox4x32-10 (Salmon et al. 2011), the generator cuRAND and PyTorch use on GPUs.
__device__ __forceinline__ uint4 philox(uint4 ctr, uint2 key) {
  const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int r = 0; r < 10; ++r) {
    const uint32_t hi0 = __umulhi(M0, ctr.x), lo0 = M0 * ctr.x;
    const uint32_t hi1 = __umulhi(M1, ctr.z), lo1 = M1 * ctr.z;
    ctr = make_uint4(hi1 ^ ctr.y ^ key.x, lo1, hi0 ^ ctr.w ^ key.y, lo0);
    key.x += W0;
    key.y += W1;
  }
  return ctr;
}

__device__ __forceinline__ float normal_from(uint32_t u0, uint32_t u1) {
  const float f0 = (u0 + 1.0f) * 2.3283064e-10f;  // (0, 1]
  const float f1 = u1 * 2.3283064e-10f;
  return sqrtf(-2.0f * logf(f0)) * cospif(2.0f * f1);
}

__global__ void fused_update_philox_kernel(const float* __restrict__ x, const float* __restrict__ s,
                                           const float* __restrict__ y, const float* __restrict__ coef,
                                           float* __restrict__ out, int64_t per_sample, uint64_t seed,
                                           uint64_t step) {
  const int64_t n = blockIdx.y;
  const float a = coef[4 * n], b = coef[4 * n + 1], c = coef[4 * n + 2], d = coef[4 * n + 3];
  const int64_t base = n * per_sample;
  const uint2 key = make_uint2((uint32_t)seed, (uint32_t)(seed >> 32));
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < per_sample;
       i += (int64_t)gridDim.x * blockDim.x) {
    const uint64_t k = base + i;
    const uint4 r = philox(make_uint4((uint32_t)k, (uint32_t)(k >> 32), (uint32_t)step, (uint32_t)(step >> 32)), key);
    const float zk = normal_from(r.x, r.y);
    out[k] = fmaf(a, x[k], fmaf(b, s[k], fmaf(c, zk, d * y[k])));
  }
}

dim3 grid_for(int64_t n_samples, int64_t per_sample, int threads) {
  int64_t blocks = (per_sample + threads - 1) / threads;
  if (blocks > 4096) blocks = 4096;  // grid-stride loop covers the rest
  return dim3((unsigned)blocks, (unsigned)n_samples);
}

}  // namespace

extern "C" {

int sd_fused_update(const float* x, const float* s, const float* z, const float* y, const float* coef, float* out,
                    int64_t n_samples, int64_t per_sample, void* stream) {
  const int threads = 256;
  fused_update_kernel<<<grid_for(n_samples, per_sample, threads), threads, 0, (cudaStream_t)stream>>>(
      x, s, z, y, coef, out, per_sample);
  return (int)cudaGetLastError();
}

int sd_fused_update_philox(const float* x, const float* s, const float* y, const float* coef, float* out,
                           int64_t n_samples, int64_t per_sample, uint64_t seed, uint64_t step, void* stream) {
  const int threads = 256;
  fused_update_philox_kernel<<<grid_for(n_samples, per_sample, threads), threads, 0, (cudaStream_t)stream>>>(
      x, s, y, coef, out, per_sample, seed, step);
  return (int)cudaGetLastError();
}

}  // extern "C"
