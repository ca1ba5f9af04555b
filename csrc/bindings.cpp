// pybind11 module scoredeblur._native: the CPU fused update on float32 buffers (no torch headers,
// so it builds against any torch, or none; the Python side passes contiguous float32 tensors).
#include <pybind11/pybind11.h>
#include <pybind11/numpy.h>

#include <stdexcept>
#include <string>

#include "fused_update.h"
#include "group_norm.h"

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

}  // namespace

PYBIND11_MODULE(_native, m) {
  m.doc() = "scoredeblur native kernels";
  m.def("fused_update", &fused_update, "out = a*x + b*s + c*z + d*y with per-sample coef (N, 4)",
        py::arg("x"), py::arg("s"), py::arg("z"), py::arg("y"), py::arg("out"), py::arg("coef"));
  m.def("group_norm_silu", &group_norm_silu,
        "out = silu(group_norm(x)) (or group_norm(x)) for float32 x laid out (N, ..., C), channels last",
        py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("out"), py::arg("groups"), py::arg("eps"),
        py::arg("silu"), py::arg("threads"));
}
