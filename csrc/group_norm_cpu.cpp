// GroupNorm, optionally followed by SiLU, over channels-last (NHWC) float32: one pass for the
// per-channel sums, one that writes silu(x * scale + shift). PyTorch runs the two as separate ops
// (three passes, and SiLU's exp at about a third of the vector rate of the polynomial below), which
// is ~2x the time of this kernel on the score network's activations. The reference is
// scoredeblur/models/norm.py::group_norm_silu_reference.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "group_norm.h"
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

namespace scoredeblur {

namespace {
// exp(z) to ~2 ulp: z = n ln2 + r (Cody-Waite, |r| <= ln2/2), e^r by its degree-6 Taylor polynomial
// (truncation 1.2e-7 relative), 2^n from the exponent bits. Clamped to float range. One set of
// constants for the scalar form and the eight-lane one.
constexpr float kExpLo = -87.0f, kExpHi = 88.0f;
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it leaves round(z/ln2) in the low mantissa bits
constexpr int32_t kRoundBits = 0x4B400000;
constexpr float kLn2Hi = 0.693145751953125f, kLn2Lo = 1.428606765330187045e-06f;
constexpr float kTaylor[7] = {1.0f / 720.0f, 1.0f / 120.0f, 1.0f / 24.0f, 1.0f / 6.0f, 0.5f, 1.0f, 1.0f};

inline float fast_exp(float z) {
  z = std::fmin(std::fmax(z, kExpLo), kExpHi);
  const float t = z * kLog2e + kRound;
  const float n = t - kRound;
  const float r = (z - n * kLn2Hi) - n * kLn2Lo;
  float p = kTaylor[0];
  for (int i = 1; i < 7; ++i) p = p * r + kTaylor[i];
  int32_t bits;
  std::memcpy(&bits, &t, 4);
  const int32_t scale_bits = (bits - kRoundBits + 127) << 23;
  float scale;
  std::memcpy(&scale, &scale_bits, 4);
  return p * scale;
}
#if defined(__AVX2__) && defined(__FMA__)
inline __m256 exp8(__m256 z) {
  z = _mm256_min_ps(_mm256_max_ps(z, _mm256_set1_ps(kExpLo)), _mm256_set1_ps(kExpHi));
  const __m256 magic = _mm256_set1_ps(kRound);
  const __m256 t = _mm256_fmadd_ps(z, _mm256_set1_ps(kLog2e), magic);
  const __m256 n = _mm256_sub_ps(t, magic);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), z);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
  __m256 p = _mm256_set1_ps(kTaylor[0]);
  for (int i = 1; i < 7; ++i) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kTaylor[i]));
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(_mm256_castps_si256(t),
                                         _mm256_set1_epi32(kRoundBits)), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}
#endif

// out[k] = silu(x[k] * scale[k] + shift[k]) (or without the SiLU) for one pixel's c channels.
inline void affine_row(const float* __restrict row, const float* __restrict sc, const float* __restrict sh,
                       float* __restrict orow, int64_t c, bool silu) {
  int64_t k = 0;
#if defined(__AVX2__) && defined(__FMA__)
  const __m256 one = _mm256_set1_ps(1.0f);
  for (; k + 8 <= c; k += 8) {
    __m256 v = _mm256_fmadd_ps(_mm256_loadu_ps(row + k), _mm256_loadu_ps(sc + k), _mm256_loadu_ps(sh + k));
    if (silu) v = _mm256_div_ps(v, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), v))));
    _mm256_storeu_ps(orow + k, v);
  }
#endif
  for (; k < c; ++k) {
    const float v = row[k] * sc[k] + sh[k];
    orow[k] = silu ? v / (1.0f + fast_exp(-v)) : v;
  }
}

}  // namespace

void group_norm_silu_cpu(const float* __restrict x, const float* __restrict weight, const float* __restrict bias,
                         float* __restrict out, int64_t n, int64_t hw, int64_t c, int64_t groups, float eps,
                         bool silu, int threads) {
  const int64_t cg = c / groups;
  std::vector<float> scale(c), shift(c);
  for (int64_t b = 0; b < n; ++b) {
    const float* xb = x + b * hw * c;
    float* ob = out + b * hw * c;
    // Sums of x - pivot, the pivot being one value of the channel's group: the variance is then
    // E[d^2] - E[d]^2 without the cancellation that E[x^2] - E[x]^2 suffers when |mean| >> std.
    std::vector<float> pivot(c);
    for (int64_t k = 0; k < c; ++k) pivot[k] = xb[(k / cg) * cg];
    const float* pv = pivot.data();
    // Each thread's partial sums in its own row, added in thread order afterwards, so that the
    // result does not depend on which thread finishes first (a static schedule fixes the chunks).
    std::vector<double> partial(2 * static_cast<size_t>(threads) * c, 0.0);
#pragma omp parallel num_threads(threads)
    {
      std::vector<float> ps(c), pq(c);
      int tid = 0;
#ifdef _OPENMP
      tid = omp_get_thread_num();
#endif
      double* ds = partial.data() + 2 * static_cast<size_t>(tid) * c;
      double* dq = ds + c;
      const int64_t chunk = 256;
#pragma omp for schedule(static)
      for (int64_t p0 = 0; p0 < hw; p0 += chunk) {
        std::fill(ps.begin(), ps.end(), 0.0f);
        std::fill(pq.begin(), pq.end(), 0.0f);
        const int64_t p1 = p0 + chunk < hw ? p0 + chunk : hw;
        for (int64_t p = p0; p < p1; ++p) {
          const float* row = xb + p * c;
#pragma omp simd
          for (int64_t k = 0; k < c; ++k) {
            const float d = row[k] - pv[k];
            ps[k] += d;
            pq[k] += d * d;
          }
        }
        for (int64_t k = 0; k < c; ++k) {
          ds[k] += ps[k];
          dq[k] += pq[k];
        }
      }
    }
    std::vector<double> sum(c, 0.0), sq(c, 0.0);
    for (int t = 0; t < threads; ++t) {
      for (int64_t k = 0; k < c; ++k) {
        sum[k] += partial[(2 * static_cast<size_t>(t)) * c + k];
        sq[k] += partial[(2 * static_cast<size_t>(t) + 1) * c + k];
      }
    }
    const double count = static_cast<double>(hw * cg);
    for (int64_t g = 0; g < groups; ++g) {
      double s = 0.0, q = 0.0;
      for (int64_t k = g * cg; k < (g + 1) * cg; ++k) {
        s += sum[k];
        q += sq[k];
      }
      const double shift_mean = s / count;
      const double var = std::fmax(q / count - shift_mean * shift_mean, 0.0);
      const double mean = pivot[g * cg] + shift_mean;
      const double inv = 1.0 / std::sqrt(var + eps);
      for (int64_t k = g * cg; k < (g + 1) * cg; ++k) {
        scale[k] = static_cast<float>(weight[k] * inv);
        shift[k] = static_cast<float>(bias[k] - mean * weight[k] * inv);
      }
    }
    const float* sc = scale.data();
    const float* sh = shift.data();
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t p = 0; p < hw; ++p) {
      const float* row = xb + p * c;
      float* orow = ob + p * c;
      affine_row(row, sc, sh, orow, c, silu);
    }
  }
}

}  // namespace scoredeblur
