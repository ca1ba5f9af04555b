// Winograd F(4x4, 3x3) over channels-last float32 (see winograd.h). A 3x3 convolution needs 144
// multiply-adds per 4x4 output tile and channel pair; in the transformed domain the tile needs 36
// products, 4x fewer, which the 36 matrix products between the two transforms compute. The
// matrices are Lavin & Gray's (2016) for the points 0, +-1, +-2 and infinity. Each tile is
// transformed in channel blocks that stay in L1; the inner loops run over channels, contiguous in
// NHWC, and vectorise. The whole convolution keeps each thread's chunk of tiles in its own cache
// from the input transform to the output transform: transforming the whole image first and then
// calling BLAS moved 6x the activation's bytes through memory and was no faster than oneDNN's
// direct convolution.
#include <algorithm>
#include <cstdint>

#include "winograd.h"
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

namespace scoredeblur {

namespace {
constexpr int64_t kBlock = 64;  // channels per block: the scratch rows below stay in L1

// r[i] = (B^T z)[i] over six rows of kb channels: z[j], r[i] point at kb floats each.
inline void bt6(const float* const* z, float* const* r, int64_t kb) {
  const float *__restrict z0 = z[0], *__restrict z1 = z[1], *__restrict z2 = z[2], *__restrict z3 = z[3],
              *__restrict z4 = z[4], *__restrict z5 = z[5];
  float *__restrict r0 = r[0], *__restrict r1 = r[1], *__restrict r2 = r[2], *__restrict r3 = r[3],
        *__restrict r4 = r[4], *__restrict r5 = r[5];
#pragma omp simd
  for (int64_t k = 0; k < kb; ++k) {
    const float a = z1[k], b = z2[k], c = z3[k], d = z4[k];
    r0[k] = 4.0f * z0[k] - 5.0f * b + d;
    r1[k] = -4.0f * (a + b) + c + d;
    r2[k] = 4.0f * (a - b) - c + d;
    r3[k] = 2.0f * (c - a) - b + d;
    r4[k] = 2.0f * (a - c) - b + d;
    r5[k] = 4.0f * a - 5.0f * c + z5[k];
  }
}

// r[i] = (A^T z)[i] + add: four rows from six (add: kb floats, zeros or the bias).
inline void at6(const float* const* z, float* const* r, const float* __restrict add, int64_t kb) {
  const float *__restrict z0 = z[0], *__restrict z1 = z[1], *__restrict z2 = z[2], *__restrict z3 = z[3],
              *__restrict z4 = z[4], *__restrict z5 = z[5];
  float *__restrict r0 = r[0], *__restrict r1 = r[1], *__restrict r2 = r[2], *__restrict r3 = r[3];
#pragma omp simd
  for (int64_t k = 0; k < kb; ++k) {
    const float s12 = z1[k] + z2[k], d12 = z1[k] - z2[k], s34 = z3[k] + z4[k], d34 = z3[k] - z4[k];
    r0[k] = z0[k] + s12 + s34 + add[k];
    r1[k] = d12 + 2.0f * d34 + add[k];
    r2[k] = s12 + 4.0f * s34 + add[k];
    r3[k] = d12 + 8.0f * d34 + z5[k] + add[k];
  }
}
}  // namespace

namespace {
// Tile t's 6x6 window of x, B^T d B, into v[p][i] (p = 0..35, rows of c floats `count` apart).
// h x w is the image convolved: x itself (scale 1) or x up-sampled by 2, nearest neighbour (scale
// 2), whose pixel (yy, xx) is read from x at (yy / 2, xx / 2) instead of from an up-sampled copy.
void input_tile(const float* __restrict x, float* __restrict v, int64_t h, int64_t w, int64_t c, int64_t t,
                int64_t i, int64_t count, int64_t scale) {
  const int64_t th = (h + 3) / 4, tw = (w + 3) / 4;
  const int64_t b = t / (th * tw), ty = (t / tw) % th, tx = t % tw;
  const int64_t y0 = 4 * ty - 1, x0 = 4 * tx - 1;
  // s: B^T d, the window transformed down its columns, [6][6][kBlock]; zero: reads outside the image.
  alignas(64) float s[36 * kBlock];
  alignas(64) float zero[kBlock] = {};
  const float* z[6];
  float* r[6];
  for (int64_t k0 = 0; k0 < c; k0 += kBlock) {
    const int64_t kb = std::min(kBlock, c - k0);
    for (int64_t q = 0; q < 6; ++q) {  // column q of the window, straight from x
      const int64_t xx = x0 + q;
      for (int64_t j = 0; j < 6; ++j) {
        const int64_t yy = y0 + j;
        z[j] = (yy < 0 || yy >= h || xx < 0 || xx >= w)
                   ? zero
                   : x + ((b * (h / scale) + yy / scale) * (w / scale) + xx / scale) * c + k0;
        r[j] = s + (j * 6 + q) * kBlock;
      }
      bt6(z, r, kb);
    }
    for (int64_t j = 0; j < 6; ++j) {  // row j of B^T d, across: straight into v
      for (int64_t q = 0; q < 6; ++q) {
        z[q] = s + (j * 6 + q) * kBlock;
        r[q] = v + ((j * 6 + q) * count + i) * c + k0;
      }
      bt6(z, r, kb);
    }
  }
}

// Tile t's outputs A^T m A + bias from m[p][i], into y where they fall inside the image.
void output_tile(const float* __restrict m, const float* __restrict bias, float* __restrict y, int64_t h, int64_t w,
                 int64_t c, int64_t t, int64_t i, int64_t count) {
  const int64_t th = (h + 3) / 4, tw = (w + 3) / 4;
  const int64_t b = t / (th * tw), ty = (t / tw) % th, tx = t % tw;
  // s: A^T m, [4][6][kBlock]; zero: no bias on the first pass; sink: outputs beyond the image.
  alignas(64) float s[24 * kBlock];
  alignas(64) float zero[kBlock] = {};
  alignas(64) float sink[kBlock];
  const float* z[6];
  float* r[6];
  for (int64_t k0 = 0; k0 < c; k0 += kBlock) {
    const int64_t kb = std::min(kBlock, c - k0);
    for (int64_t q = 0; q < 6; ++q) {  // column q of the products, straight from m
      for (int64_t j = 0; j < 6; ++j) z[j] = m + ((j * 6 + q) * count + i) * c + k0;
      for (int64_t j = 0; j < 4; ++j) r[j] = s + (j * 6 + q) * kBlock;
      at6(z, r, zero, kb);
    }
    for (int64_t j = 0; j < 4; ++j) {  // output row 4 ty + j, across, plus the bias: into y
      const int64_t yy = 4 * ty + j;
      for (int64_t q = 0; q < 6; ++q) z[q] = s + (j * 6 + q) * kBlock;
      for (int64_t q = 0; q < 4; ++q) {
        const int64_t xx = 4 * tx + q;
        r[q] = (yy < h && xx < w) ? y + ((b * h + yy) * w + xx) * c + k0 : sink;
      }
      at6(z, r, bias + k0, kb);
    }
  }
}

// c[rows][n] = a[rows][k] b[k][n] for rows <= 6 (row-major, leading dimensions k and n): a rows x 16
// block of accumulators in registers, one broadcast of a and two loads of b per k.
template <int R>
void gemm_rows(const float* __restrict a, const float* __restrict b, float* __restrict c, int64_t k, int64_t n) {
  int64_t j = 0;
#if defined(__AVX2__) && defined(__FMA__)
  for (; j + 16 <= n; j += 16) {
    __m256 acc0[R], acc1[R];
    for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm256_setzero_ps();
    for (int64_t l = 0; l < k; ++l) {
      const __m256 b0 = _mm256_loadu_ps(b + l * n + j), b1 = _mm256_loadu_ps(b + l * n + j + 8);
      for (int r = 0; r < R; ++r) {
        const __m256 av = _mm256_broadcast_ss(a + r * k + l);
        acc0[r] = _mm256_fmadd_ps(av, b0, acc0[r]);
        acc1[r] = _mm256_fmadd_ps(av, b1, acc1[r]);
      }
    }
    for (int r = 0; r < R; ++r) {
      _mm256_storeu_ps(c + r * n + j, acc0[r]);
      _mm256_storeu_ps(c + r * n + j + 8, acc1[r]);
    }
  }
#endif
  for (; j < n; ++j) {
    for (int r = 0; r < R; ++r) {
      float acc = 0.0f;
      for (int64_t l = 0; l < k; ++l) acc += a[r * k + l] * b[l * n + j];
      c[r * n + j] = acc;
    }
  }
}

void gemm(const float* a, const float* b, float* c, int64_t m, int64_t k, int64_t n) {
  int64_t i = 0;
  for (; i + 6 <= m; i += 6) gemm_rows<6>(a + i * k, b, c + i * n, k, n);
  switch (m - i) {
    case 5: gemm_rows<5>(a + i * k, b, c + i * n, k, n); break;
    case 4: gemm_rows<4>(a + i * k, b, c + i * n, k, n); break;
    case 3: gemm_rows<3>(a + i * k, b, c + i * n, k, n); break;
    case 2: gemm_rows<2>(a + i * k, b, c + i * n, k, n); break;
    case 1: gemm_rows<1>(a + i * k, b, c + i * n, k, n); break;
    default: break;
  }
}
}  // namespace

void winograd_input_cpu(const float* __restrict x, float* __restrict v, int64_t n, int64_t h, int64_t w, int64_t c,
                        int64_t tile0, int64_t count, int64_t scale, int threads) {
  (void)n;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < count; ++i) input_tile(x, v, h, w, c, tile0 + i, i, count, scale);
}

void winograd_output_cpu(const float* __restrict m, const float* __restrict bias, float* __restrict y, int64_t n,
                         int64_t h, int64_t w, int64_t c, int64_t tile0, int64_t count, int threads) {
  (void)n;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < count; ++i) output_tile(m, bias, y, h, w, c, tile0 + i, i, count);
}

void winograd_conv_cpu(const float* __restrict x, const float* __restrict u, const float* __restrict bias,
                       float* __restrict y, float* __restrict scratch, int64_t n, int64_t h, int64_t w, int64_t cin,
                       int64_t cout, int64_t chunk, int64_t scale, int threads) {
  const int64_t tiles = n * ((h + 3) / 4) * ((w + 3) / 4);
  const int64_t chunks = (tiles + chunk - 1) / chunk;
  // Each thread takes whole chunks of tiles through the three stages in its own slice of the
  // scratch (sized to stay in its core's L2), so the transformed tiles and their products never
  // leave the core between stages and no stage waits for another thread.
#pragma omp parallel num_threads(threads)
  {
    int tid = 0;
#ifdef _OPENMP
    tid = omp_get_thread_num();
#endif
    float* v = scratch + static_cast<int64_t>(tid) * 36 * chunk * (cin + cout);
    float* m = v + 36 * chunk * cin;
#pragma omp for schedule(static)
    for (int64_t j = 0; j < chunks; ++j) {
      const int64_t t0 = j * chunk, count = std::min(chunk, tiles - t0);
      for (int64_t i = 0; i < count; ++i) input_tile(x, v, h, w, cin, t0 + i, i, count, scale);
      for (int64_t p = 0; p < 36; ++p) gemm(v + p * count * cin, u + p * cin * cout, m + p * count * cout, count, cin, cout);
      for (int64_t i = 0; i < count; ++i) output_tile(m, bias, y, h, w, cout, t0 + i, i, count);
    }
  }
}

}  // namespace scoredeblur
