// pybind11 module scoredeblur._native: the CPU fused update on float32 buffers (no torch headers,
// so it builds against any torch, or none; the Python side passes contiguous float32 tensors).
#include <pybind11/pybind11.h>
#include <pybind11/numpy.h>

#include <stdexcept>
#include <string>

#include "fused_update.h"

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

}  // namespace

PYBIND11_MODULE(_native, m) {
  m.doc() = "scoredeblur native kernels";
  m.def("fused_update", &fused_update, "out = a*x + b*s + c*z + d*y with per-sample coef (N, 4)",
        py::arg("x"), py::arg("s"), py::arg("z"), py::arg("y"), py::arg("out"), py::arg("coef"));
}
