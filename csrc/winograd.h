// Winograd F(4x4, 3x3) transforms for a 3x3, stride-1, padding-1 convolution on channels-last
// float32 (csrc/winograd_cpu.cpp). The convolution is y = A^T [ (G g G^T) . (B^T d B) ] A per 4x4
// output tile; the 36 element-wise products summed over input channels are one batched matrix
// product. The reference is scoredeblur/models/conv.py.
#pragma once
#include <cstdint>

namespace scoredeblur {

// Tiles are numbered t = (b * tiles_h + ty) * tiles_w + tx, tiles_h = ceil(h / 4), tiles_w = ceil(w / 4).
// h x w is the image convolved: x (n * h * w * c floats, NHWC) when scale = 1, or x up-sampled by 2,
// nearest neighbour, when scale = 2 (x then holds n * h/2 * w/2 * c floats; no up-sampled copy is
// made). v: 36 * count * c floats, v[p][t - tile0][k] for the tiles tile0 .. tile0 + count - 1; the
// 6x6 input window of a tile starts one pixel above and left of its outputs and reads zeros outside
// the image.
void winograd_input_cpu(const float* x, float* v, int64_t n, int64_t h, int64_t w, int64_t c, int64_t tile0,
                        int64_t count, int64_t scale, int threads);

// m: 36 * count * c floats, the products for tiles tile0 .. tile0 + count - 1. y: n * h * w * c
// floats (NHWC); each tile's 4x4 outputs inside the image are written as A^T m A + bias.
void winograd_output_cpu(const float* m, const float* bias, float* y, int64_t n, int64_t h, int64_t w, int64_t c,
                         int64_t tile0, int64_t count, int threads);

// The whole convolution: y = conv3x3(x) + bias (scale 1) or conv3x3(upsample2x(x)) + bias (scale
// 2) with u = G g G^T as (36, cin, cout), in chunks of `chunk` tiles through scratch
// (36 * chunk * (cin + cout) floats). x: NHWC with cin channels, h/scale x w/scale; y: NHWC with
// cout channels, h x w; y may not alias x.
void winograd_conv_cpu(const float* x, const float* u, const float* bias, float* y, float* scratch, int64_t n,
                       int64_t h, int64_t w, int64_t cin, int64_t cout, int64_t chunk, int64_t scale, int threads);

}  // namespace scoredeblur
