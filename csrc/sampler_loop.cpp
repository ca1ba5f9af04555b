// The sampling loop driven from C++: all N steps without returning to Python.
//
// Network: an AOTInductor package of the preconditioned score network (scoredeblur-build
// --backend aoti). Updates: the fused CPU kernel (fused_update_cpu). Noise: a CPU generator seeded
// like the Python loop's torch.Generator().manual_seed(seed), drawing the same tensors in the same
// order, so on identical seeds this loop reproduces scoredeblur.sampling.sampler.pc_sample to float32
// rounding. The predictor's coefficients arrive as a table (any predictor the Python side knows);
// the loop adds the Langevin corrector and the consistency steps none / paper (Eq. 11) / proximal
// with a uniform disk PSF (its OTF passed in).
#include <ATen/CPUGeneratorImpl.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <torch/csrc/inductor/aoti_package/model_package_loader.h>
#include <torch/extension.h>

#include <cmath>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "fused_update.h"

namespace {

enum Start { kPrior = 0, kGiven = 1, kDiffused = 2 };
enum Consistency { kNone = 0, kPaper = 1, kProximal = 2 };

struct LoopConfig {
  int consistency = kPaper;
  int start = kPrior;
  double snr = 0.16, alpha = 0.02, lam = 1.0, noise_std = 0.01;
  double sigma_max = 300.0;
};

// One row per step, computed once in Python (scoredeblur/sampling/coefficients.py) for this loop
// and the Python fused loop alike: sigma_hi, sigma_lo, a, b, c, draws_noise, corrector.
enum Column { kSigmaHi = 0, kSigmaLo, kA, kB, kC, kDrawsNoise, kCorrector, kColumns };

class Sampler {
 public:
  Sampler(const std::string& package, int64_t size_multiple)
      : loader_(std::make_unique<torch::inductor::AOTIModelPackageLoader>(package)), multiple_(size_multiple) {}

  torch::Tensor score(const torch::Tensor& x, double sigma) {
    const int64_t h = x.size(2), w = x.size(3);
    const int64_t ph = (multiple_ - h % multiple_) % multiple_, pw = (multiple_ - w % multiple_) % multiple_;
    torch::Tensor xp = x;
    if (ph || pw)
      xp = torch::nn::functional::pad(x, torch::nn::functional::PadFuncOptions({0, pw, 0, ph}).mode(torch::kReplicate));
    auto sig = torch::full({x.size(0)}, sigma, x.options());
    auto out = loader_->run({xp.contiguous(), sig})[0];
    if (ph || pw) out = out.slice(2, 0, h).slice(3, 0, w);
    return out.contiguous();
  }

  torch::Tensor sample(const torch::Tensor& y_in, const torch::Tensor& x_start, const torch::Tensor& table_in,
                       const LoopConfig& cfg, uint64_t seed, const std::optional<torch::Tensor>& otf_in) {
    const torch::Tensor otf = otf_in.has_value() ? *otf_in : torch::Tensor();
    if (y_in.scalar_type() != torch::kFloat32 || y_in.dim() != 4) throw std::invalid_argument("y: float32 NCHW");
    if (cfg.consistency == kProximal && !otf.defined()) throw std::invalid_argument("proximal needs the OTF");
    if (table_in.dim() != 2 || table_in.size(1) != kColumns || table_in.size(0) < 1)
      throw std::invalid_argument("table: (steps, 7) expected");
    const torch::Tensor table = table_in.to(torch::kFloat64).contiguous();
    const double* rows = table.data_ptr<double>();
    torch::Tensor y = y_in.contiguous();
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    auto noise = [&]() { return torch::randn(y.sizes(), gen, y.options()); };
    torch::Tensor x;
    if (cfg.start == kPrior) x = cfg.sigma_max * noise();
    else if (cfg.start == kGiven) x = x_start.clone();
    else x = x_start + rows[kSigmaHi] * noise();
    const int64_t n = y.size(0), per = y[0].numel();
    const double alpha = cfg.consistency == kPaper ? cfg.alpha : 0.0;
    std::vector<float> coef(4 * n);
    auto fused = [&](const torch::Tensor& s, const torch::Tensor& z, const std::vector<float>& c) {
      torch::Tensor out = torch::empty_like(x);
      scoredeblur::fused_update_cpu(x.data_ptr<float>(), s.data_ptr<float>(), z.data_ptr<float>(), y.data_ptr<float>(),
                                    c.data(), out.data_ptr<float>(), n, per);
      x = out;
    };
    auto set_coef = [&](int64_t i, double a, double b, double c, double d) {
      coef[4 * i] = (float)a; coef[4 * i + 1] = (float)b; coef[4 * i + 2] = (float)c; coef[4 * i + 3] = (float)d;
    };
    auto guided = [&](const torch::Tensor& xx, double sigma) {
      torch::Tensor s = score(xx, sigma);
      if (cfg.consistency != kProximal) return s;
      torch::Tensor x0 = xx + sigma * sigma * s;
      return (s + (prox(x0, y, cfg.lam * cfg.noise_std * cfg.noise_std / (sigma * sigma), otf) - x0) / (sigma * sigma))
          .contiguous();
    };
    const int64_t steps = table.size(0);
    for (int64_t i = 0; i < steps; ++i) {
      const double* row = rows + i * kColumns;
      const double hi = row[kSigmaHi], lo = row[kSigmaLo];
      const bool corrector = row[kCorrector] != 0.0;
      torch::Tensor z;
      if (row[kDrawsNoise] != 0.0) z = noise();  // the same draws, in the same order, as the Python loops
      const double a = row[kA], b = row[kB], c = z.defined() ? row[kC] : 0.0;
      const double k = corrector ? 1.0 : 1.0 - alpha;
      for (int64_t j = 0; j < n; ++j) set_coef(j, a * k, b * k, c * k, corrector ? 0.0 : alpha);
      torch::Tensor s = guided(x, hi);
      fused(s, c != 0.0 ? z : x, coef);
      if (corrector) {
        torch::Tensor g = guided(x, lo), zc = noise();
        auto gn = g.flatten(1).norm(2, 1), zn = zc.flatten(1).norm(2, 1);
        auto eps = (2 * (cfg.snr * zn / gn.clamp_min(1e-12)).pow(2)).contiguous();
        for (int64_t j = 0; j < n; ++j) {
          const double e = eps[j].item<float>();
          set_coef(j, 1 - alpha, (1 - alpha) * e, (1 - alpha) * std::sqrt(2 * e), alpha);
        }
        fused(g, zc, coef);
      }
    }
    return x;
  }

 private:
  static torch::Tensor mirror(const torch::Tensor& t) {
    auto top = torch::cat({t, t.flip({-1})}, -1);
    return torch::cat({top, top.flip({-2})}, -2);
  }
  // argmin ½‖Ax − y‖² + ½ρ‖x − v‖² on the mirrored grid (see physics/defocus.py::prox).
  static torch::Tensor prox(const torch::Tensor& v, const torch::Tensor& y, double rho, const torch::Tensor& otf) {
    const int64_t h = v.size(-2), w = v.size(-1);
    auto num = otf * torch::fft::rfft2(mirror(y)) + rho * torch::fft::rfft2(mirror(v));
    auto x = torch::fft::irfft2(num / (otf * otf + rho), std::vector<int64_t>{2 * h, 2 * w});
    return x.slice(-2, 0, h).slice(-1, 0, w).to(v.scalar_type());
  }

  std::unique_ptr<torch::inductor::AOTIModelPackageLoader> loader_;
  int64_t multiple_;
};

}  // namespace

PYBIND11_MODULE(_engine, m) {
  m.doc() = "scoredeblur C++ sampling loop (AOTInductor network + fused CPU update)";
  pybind11::class_<LoopConfig>(m, "LoopConfig")
      .def(pybind11::init<>())
      .def_readwrite("consistency", &LoopConfig::consistency)
      .def_readwrite("start", &LoopConfig::start)
      .def_readwrite("snr", &LoopConfig::snr)
      .def_readwrite("alpha", &LoopConfig::alpha)
      .def_readwrite("lam", &LoopConfig::lam)
      .def_readwrite("noise_std", &LoopConfig::noise_std)
      .def_readwrite("sigma_max", &LoopConfig::sigma_max);
  pybind11::class_<Sampler>(m, "Sampler")
      .def(pybind11::init<const std::string&, int64_t>(), pybind11::arg("package"), pybind11::arg("size_multiple"))
      .def("score", &Sampler::score)
      .def("sample", &Sampler::sample, pybind11::arg("y"), pybind11::arg("x_start"), pybind11::arg("table"),
           pybind11::arg("config"), pybind11::arg("seed"), pybind11::arg("otf"),
           pybind11::call_guard<pybind11::gil_scoped_release>());
}
