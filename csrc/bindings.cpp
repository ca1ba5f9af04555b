// pybind11 module scoredeblur._native: the CPU fused update on float32 buffers (no torch headers,
// so it builds against any torch, or none; the Python side passes contiguous float32 tensors).
#include <pybind11/pybind11.h>
#include <pybind11/numpy.h>

#include <stdexcept>
#include <string>

#include "fused_update.h"
#include "group_norm.h"
#include "winograd.h"

namespace py = pybind11;

namespace {

using FloatArray = py::array_t<float, py::array::c_style>;

py::buffer_info checked(const py::buffer& b, const char* name, int64_t expected, bool writable = false) {
  py::buffer_info info = b.request(writable);
  if (info.format != py::format_descriptor<float>::format())
    throw std::invalid_argument(std::string(name) + ": expected float32");
  if (info.size != expected)
    throw std::invalid_argument(std::string(name) + ": expected " + std::to_string(expected) + " elements, got " +
                                std::to_string(info.size));
  return info;
}

void require_c_contiguous(const py::buffer_info& info, const char* name) {
  int64_t stride = static_cast<int64_t>(sizeof(float));
  for (int64_t d = info.ndim - 1; d >= 0; --d) {
    if (info.shape[d] > 1 && info.strides[d] != stride)
      throw std::invalid_argument(std::string(name) + ": expected a C-contiguous (N, ..., C) array");
    stride *= info.shape[d];
  }
}

void fused_update(py::buffer x, py::buffer s, py::buffer z, py::buffer y, py::buffer out, py::buffer coef) {
  py::buffer_info xi = x.request();
  if (xi.ndim < 1) throw std::invalid_argument("x: need a batch dimension");
  const int64_t n = xi.shape[0];
  const int64_t total = xi.size;
  if (n == 0) return;
  const int64_t per = total / n;
  auto si = checked(s, "s", total), zi = checked(z, "z", total), yi = checked(y, "y", total);
  auto oi = checked(out, "out", total, true), ci = checked(coef, "coef", 4 * n);
  checked(x, "x", total);
  py::gil_scoped_release release;
  scoredeblur::fused_update_cpu(static_cast<const float*>(xi.ptr), static_cast<const float*>(si.ptr),
                                static_cast<const float*>(zi.ptr), static_cast<const float*>(yi.ptr),
                                static_cast<const float*>(ci.ptr), static_cast<float*>(oi.ptr), n, per);
}

void group_norm_silu(py::buffer x, py::buffer weight, py::buffer bias, py::buffer out, int64_t groups, double eps,
                     bool silu, int threads) {
  py::buffer_info xi = x.request();
  if (xi.format != py::format_descriptor<float>::format()) throw std::invalid_argument("x: expected float32");
  if (xi.ndim < 2) throw std::invalid_argument("x: expected (N, ..., C), channels last");
  const int64_t n = xi.shape[0], c = xi.shape[xi.ndim - 1];
  if (groups < 1 || c % groups) throw std::invalid_argument("groups must divide the channels");
  if (threads < 1) throw std::invalid_argument("threads must be >= 1");
  if (n == 0 || xi.size == 0) return;
  auto wi = checked(weight, "weight", c), bi = checked(bias, "bias", c);
  auto oi = checked(out, "out", xi.size, true);
  // C-contiguous: the c channels of each pixel adjacent (a channels_last tensor seen as NHWC).
  require_c_contiguous(xi, "x");
  require_c_contiguous(oi, "out");
  if (oi.ndim != xi.ndim || oi.shape != xi.shape) throw std::invalid_argument("out: expected the shape of x");
  if (oi.ptr == xi.ptr) throw std::invalid_argument("out must not be x");
  py::gil_scoped_release release;
  scoredeblur::group_norm_silu_cpu(static_cast<const float*>(xi.ptr), static_cast<const float*>(wi.ptr),
                                   static_cast<const float*>(bi.ptr), static_cast<float*>(oi.ptr), n,
                                   xi.size / n / c, c, groups, static_cast<float>(eps), silu, threads);
}

// The tile range of a Winograd transform: 0 <= tile0, tile0 + count <= all tiles of an (n, h, w) image.
void check_tiles(int64_t n, int64_t h, int64_t w, int64_t tile0, int64_t count) {
  const int64_t total = n * ((h + 3) / 4) * ((w + 3) / 4);
  if (tile0 < 0 || count < 0 || tile0 + count > total)
    throw std::invalid_argument("tiles " + std::to_string(tile0) + ".." + std::to_string(tile0 + count) +
                                " outside the image's " + std::to_string(total));
}

py::buffer_info nhwc(const py::buffer& b, const char* name, bool writable = false) {
  py::buffer_info info = b.request(writable);
  if (info.format != py::format_descriptor<float>::format()) throw std::invalid_argument(std::string(name) + ": expected float32");
  if (info.ndim != 4) throw std::invalid_argument(std::string(name) + ": expected (N, H, W, C), channels last");
  require_c_contiguous(info, name);
  return info;
}

// A transformed-domain array: (36, tiles, c) float32, C-contiguous.
py::buffer_info transformed(const py::buffer& b, const char* name, int64_t c, bool writable = false) {
  py::buffer_info info = b.request(writable);
  if (info.format != py::format_descriptor<float>::format()) throw std::invalid_argument(std::string(name) + ": expected float32");
  if (info.ndim != 3 || info.shape[0] != 36 || info.shape[2] != c)
    throw std::invalid_argument(std::string(name) + ": expected (36, tiles, C) with the image's C channels");
  require_c_contiguous(info, name);
  return info;
}

void winograd_input(py::buffer x, py::buffer v, int64_t tile0, int threads, bool upsample) {
  auto xi = nhwc(x, "x");
  const int64_t scale = upsample ? 2 : 1;
  const int64_t n = xi.shape[0], h = scale * xi.shape[1], w = scale * xi.shape[2], c = xi.shape[3];
  auto vi = transformed(v, "v", c, true);
  if (threads < 1) throw std::invalid_argument("threads must be >= 1");
  check_tiles(n, h, w, tile0, vi.shape[1]);
  py::gil_scoped_release release;
  scoredeblur::winograd_input_cpu(static_cast<const float*>(xi.ptr), static_cast<float*>(vi.ptr), n, h, w, c, tile0,
                                  vi.shape[1], scale, threads);
}

void winograd_output(py::buffer m, py::buffer bias, py::buffer y, int64_t tile0, int threads) {
  auto yi = nhwc(y, "y", true);
  const int64_t n = yi.shape[0], h = yi.shape[1], w = yi.shape[2], c = yi.shape[3];
  auto mi = transformed(m, "m", c);
  auto bi = checked(bias, "bias", c);
  if (threads < 1) throw std::invalid_argument("threads must be >= 1");
  check_tiles(n, h, w, tile0, mi.shape[1]);
  py::gil_scoped_release release;
  scoredeblur::winograd_output_cpu(static_cast<const float*>(mi.ptr), static_cast<const float*>(bi.ptr),
                                   static_cast<float*>(yi.ptr), n, h, w, c, tile0, mi.shape[1], threads);
}

void winograd_conv(py::buffer x, py::buffer u, py::buffer bias, py::buffer y, py::buffer scratch, int64_t chunk,
                   int threads, bool upsample) {
  auto xi = nhwc(x, "x");
  auto yi = nhwc(y, "y", true);
  const int64_t scale = upsample ? 2 : 1;
  const int64_t n = xi.shape[0], h = scale * xi.shape[1], w = scale * xi.shape[2], cin = xi.shape[3],
                cout = yi.shape[3];
  if (yi.shape[0] != n || yi.shape[1] != h || yi.shape[2] != w)
    throw std::invalid_argument(upsample ? "y: expected the batch of x and twice its size"
                                         : "y: expected the batch and size of x");
  if (yi.ptr == xi.ptr) throw std::invalid_argument("y must not be x");
  if (chunk < 1) throw std::invalid_argument("chunk must be >= 1");
  if (threads < 1) throw std::invalid_argument("threads must be >= 1");
  auto ui = checked(u, "u", 36 * cin * cout);
  require_c_contiguous(ui, "u");
  auto bi = checked(bias, "bias", cout);
  py::buffer_info si = scratch.request(true);
  if (si.format != py::format_descriptor<float>::format()) throw std::invalid_argument("scratch: expected float32");
  require_c_contiguous(si, "scratch");
  if (si.size < static_cast<int64_t>(threads) * 36 * chunk * (cin + cout))
    throw std::invalid_argument("scratch: expected at least threads * 36 * chunk * (cin + cout) floats");
  py::gil_scoped_release release;
  scoredeblur::winograd_conv_cpu(static_cast<const float*>(xi.ptr), static_cast<const float*>(ui.ptr),
                                 static_cast<const float*>(bi.ptr), static_cast<float*>(yi.ptr),
                                 static_cast<float*>(si.ptr), n, h, w, cin, cout, chunk, scale, threads);
}

}  // namespace

PYBIND11_MODULE(_native, m) {
  m.doc() = "scoredeblur native kernels";
  m.def("fused_update", &fused_update, "out = a*x + b*s + c*z + d*y with per-sample coef (N, 4)",
        py::arg("x"), py::arg("s"), py::arg("z"), py::arg("y"), py::arg("out"), py::arg("coef"));
  m.def("group_norm_silu", &group_norm_silu,
        "out = silu(group_norm(x)) (or group_norm(x)) for float32 x laid out (N, ..., C), channels last",
        py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("out"), py::arg("groups"), py::arg("eps"),
        py::arg("silu"), py::arg("threads"));
  m.def("winograd_input", &winograd_input,
        "v[p][t] = (B^T d_t B)[p] for the 6x6 windows d_t of tiles tile0.. of x (N, H, W, C), float32 "
        "(upsample: of x up-sampled by 2, nearest neighbour)",
        py::arg("x"), py::arg("v"), py::arg("tile0"), py::arg("threads"), py::arg("upsample") = false);
  m.def("winograd_output", &winograd_output,
        "y[tile t] = A^T m_t A + bias for the tiles tile0.. (m: (36, tiles, C)); y (N, H, W, C) float32",
        py::arg("m"), py::arg("bias"), py::arg("y"), py::arg("tile0"), py::arg("threads"));
  m.def("winograd_conv", &winograd_conv,
        "y = conv3x3(x) + bias (stride 1, zero padding 1) by Winograd F(4x4, 3x3); u: (36, C_in, C_out); "
        "upsample: conv3x3 of x up-sampled by 2 (nearest neighbour), read from x",
        py::arg("x"), py::arg("u"), py::arg("bias"), py::arg("y"), py::arg("scratch"), py::arg("chunk"),
        py::arg("threads"), py::arg("upsample") = false);
}
