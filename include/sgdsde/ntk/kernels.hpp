// sgdsde/ntk/kernels.hpp — analytic NNGP kernel K and neural tangent kernel Θ of fully connected
// networks (Borovykh 2019 §2.1, the infinite-width recursions behind eq. 1), and ∂Θ(x*, X)/∂x* (eq. 2).
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/types.hpp"
#include "sgdsde/nn/activation.hpp"
#include "sgdsde/nn/spec.hpp"
#include "sgdsde/ntk/detail/gaussian_expectations.hpp"

namespace sgdsde::ntk {

/// K(X1, X2) and Θ(X1, X2) (N1 × N2) of ONE scalar output (k outputs are independent: Θ ⊗ I_k).
/// outcome: success, or non_finite when the recursion overflowed (e.g. huge inputs or σ_w at depth).
template <class Scalar>
struct Kernels {
  MatrixX<Scalar> nngp;
  MatrixX<Scalar> ntk;
  Outcome outcome;
};

/// Rule for the bivariate Gaussian expectations of activations without a closed form (tanh, user φ):
/// split_gauss_legendre: the plane is split where u = 0 and v = 0 and each piece integrated by
///   Gauss–Legendre against the normal density on [−9, 9]: exponential convergence for any φ that is
///   smooth away from 0 (ReLU-like kinks at 0 included); 4·n² evaluations per entry and layer.
/// gauss_hermite: tensor Gauss–Hermite (Golub–Welsch), n² evaluations; exponential only for smooth φ
///   and slow for saturating ones (erf: 1e-10 at n = 48, 1e-16 at n = 96).
enum class QuadratureRule { split_gauss_legendre, gauss_hermite };

/// quadrature: evaluate the expectations by quadrature even where a closed form exists (ReLU, leaky
/// ReLU, erf, identity; a second, independent evaluation). quadrature_nodes: n of the rule above.
struct KernelOptions {
  bool quadrature = false;
  QuadratureRule quadrature_rule = QuadratureRule::split_gauss_legendre;
  int quadrature_nodes = 32;
};

/// A user hidden activation φ with its derivative φ' (callables double → double), evaluated by the
/// quadrature of KernelOptions (φ must be smooth except possibly at 0 for exponential convergence).
template <class Phi, class DPhi>
struct ActivationFunction {
  Phi value;
  DPhi derivative;
};
template <class Phi, class DPhi>
ActivationFunction<Phi, DPhi> activation_function(Phi phi, DPhi dphi) {
  return {std::move(phi), std::move(dphi)};
}

/// Kernels at one test point x* against X and their gradients in x*: column n of nngp_gradient /
/// ntk_gradient is ∂K(x*, x_n)/∂x* / ∂Θ(x*, x_n)/∂x* (d × N). Where the ReLU-family kernel has a cusp
/// (x* parallel to x_n after a layer, i.e. correlation exactly ±1) the cusp term is taken as 0 (the
/// mean of the one-sided derivatives).
template <class Scalar>
struct KernelInputGradient {
  VectorX<Scalar> nngp, ntk;
  MatrixX<Scalar> nngp_gradient, ntk_gradient;
  Outcome outcome;
};

namespace detail {

/// Per dense layer l (input width n_l): K^{l+1} = kA·M^l + kB, Θ^{l+1} = tA·M^l + tB + kA·Ė^l·Θ^l with
/// M^0 = xᵀx'/d, M^l = E[φ(u)φ(v)], Ė^l = E[φ'(u)φ'(v)], (u, v) ~ N(0, K^l).
/// ntk:      kA = tA = σ_w², kB = tB = σ_b².
/// standard: kA = v_l·n_l (v_l the init variance, He 2/n_l, Glorot 2/(n_l + n_{l+1})), kB = 0 (b = 0 at
///           init), tA = n_l, tB = 1 — the finite-width-scaled kernel of a = W z + b.
struct LayerCoefficients {
  double kA, kB, tA, tB;
};

inline std::vector<LayerCoefficients> kernel_layers(const char* fn, const nn::MlpSpec& s) {
  require(s.widths.size() >= 2, fn, "spec.widths.size()", s.widths.size(), "at least 2 (input and output)");
  for (std::size_t k = 0; k < s.widths.size(); ++k)
    require(s.widths[k] > 0, fn, "spec.widths[k]", s.widths[k], "every width > 0");
  require_positive(fn, "spec.sigma_w", s.sigma_w);
  require(std::isfinite(s.sigma_b) && s.sigma_b >= 0, fn, "spec.sigma_b", s.sigma_b, "a finite value >= 0");
  require(std::isfinite(s.leaky_relu_slope) && s.leaky_relu_slope >= 0 && s.leaky_relu_slope < 1, fn,
          "spec.leaky_relu_slope", s.leaky_relu_slope, "a value in [0, 1)");
  require(!s.batch_norm, fn, "spec.batch_norm", "true", "false (no infinite-width kernel with batch norm)");
  require(s.output_activation == nn::Activation::identity, fn, "spec.output_activation",
          nn::to_string(s.output_activation), "identity (the output kernel is of the last affine layer)");
  std::vector<LayerCoefficients> out;
  for (std::size_t l = 0; l + 1 < s.widths.size(); ++l) {
    const double n = double(s.widths[l]), n_out = double(s.widths[l + 1]);
    if (s.parameterization == nn::Parameterization::ntk) {
      out.push_back({s.sigma_w * s.sigma_w, s.sigma_b * s.sigma_b, s.sigma_w * s.sigma_w, s.sigma_b * s.sigma_b});
    } else {
      const double v = s.standard_init == nn::StandardInit::he ? 2.0 / n : 2.0 / (n + n_out);
      out.push_back({v * n, 0.0, n, 1.0});
    }
  }
  return out;
}

template <class D>
void check_points(const char* fn, const char* name, const Eigen::MatrixBase<D>& x, Index d) {
  require_shape(fn, name, x, d, -1);
  require(x.cols() >= 1, fn, name, "an empty matrix (0 columns)", "at least one input (column)");
  if (!all_finite(x)) require_finite(fn, name, x);
}

/// The quadrature evaluation of J = E[φφ], Jd = E[φ'φ'] for a scalar activation (φ, φ' callables).
template <class Phi, class DPhi>
struct QuadratureActivation {
  Phi phi;
  DPhi dphi;
  BivariateQuadrature quad;

  template <class S>
  void operator()(const ChunkArray<S>& q1, const ChunkArray<S>& q2, const ChunkArray<S>& c, ChunkArray<S>& j,
                  ChunkArray<S>& jd) const {
    j.resize(c.size());
    jd.resize(c.size());
    const auto f = [this](double x) { return Eigen::Array2d(double(phi(x)), double(dphi(x))); };
    for (Index i = 0; i < c.size(); ++i) {
      const Eigen::Array2d e = quad.template expectation<2>(double(q1(i)), double(q2(i)), double(c(i)), f, f);
      j(i) = S(e(0));
      jd(i) = S(e(1));
    }
  }
};

template <class Scalar>
auto builtin_phi(nn::Activation a, double slope) {
  return [a, slope](double x) { return nn::activate<double>(a, x, slope); };
}
template <class Scalar>
auto builtin_dphi(nn::Activation a, double slope) {
  return [a, slope](double x) { return nn::activation_derivative<double>(a, x, nn::activate<double>(a, x, slope), slope); };
}
inline BivariateQuadrature make_quadrature(const KernelOptions& o) {
  return BivariateQuadrature(o.quadrature_nodes, o.quadrature_rule == QuadratureRule::split_gauss_legendre);
}

/// Per-point recursion of the diagonal: var(:, l) = K^{l+1}(x, x) for every layer, and K(x, x), Θ(x, x)
/// of the output.
template <class Scalar, class E, class D>
void diagonal_recursion(const std::vector<LayerCoefficients>& layers, const E& expect, const Eigen::MatrixBase<D>& x,
                        MatrixX<Scalar>& var, VectorX<Scalar>& kdiag, VectorX<Scalar>& theta) {
  const Index n = x.cols(), L = Index(layers.size());
  const Scalar inv_d = Scalar(1) / Scalar(x.rows());
  var.resize(n, L);
  kdiag.resize(n);
  theta.resize(n);
  ChunkArray<Scalar> q, t, j, jd;
  for (Index i0 = 0; i0 < n; i0 += kChunk) {
    const Index r = std::min(kChunk, n - i0);
    const ChunkArray<Scalar> m0 = x.middleCols(i0, r).colwise().squaredNorm().transpose().array() * inv_d;
    q = Scalar(layers[0].kA) * m0 + Scalar(layers[0].kB);
    t = Scalar(layers[0].tA) * m0 + Scalar(layers[0].tB);
    var.col(0).segment(i0, r) = q.matrix();
    for (Index l = 1; l < L; ++l) {
      const LayerCoefficients& c = layers[std::size_t(l)];
      expect(q, q, q, j, jd);
      t = Scalar(c.tA) * j + Scalar(c.tB) + Scalar(c.kA) * jd * t;
      q = Scalar(c.kA) * j + Scalar(c.kB);
      var.col(l).segment(i0, r) = q.matrix();
    }
    theta.segment(i0, r) = t.matrix();
    kdiag.segment(i0, r) = q.matrix();
  }
}

/// The blocked recursion. nngp and ntk (N1 × N2) are the only N1 × N2 storage: the Gram matrix goes
/// into ntk by one GEMM, then each chunk of ≤ kChunk entries of a column is taken through all layers
/// in L1. symmetric: x1 is x2; only the lower triangle is computed (each chunk also written to the
/// mirrored row), and the diagonal is the per-point recursion (correlation exactly 1).
template <class Scalar, class E, class D1, class D2, class DK, class DT>
void blocked_kernels(const std::vector<LayerCoefficients>& layers, const E& expect, const Eigen::MatrixBase<D1>& x1,
                     const Eigen::MatrixBase<D2>& x2, DK& nngp, DT& ntk, bool symmetric) {
  const Index n1 = x1.cols(), n2 = x2.cols(), L = Index(layers.size());
  MatrixX<Scalar> var1, var2;
  VectorX<Scalar> kdiag1, kdiag2, diag1, diag2;
  diagonal_recursion<Scalar>(layers, expect, x1, var1, kdiag1, diag1);
  if (!symmetric) diagonal_recursion<Scalar>(layers, expect, x2, var2, kdiag2, diag2);
  const MatrixX<Scalar>& varc = symmetric ? var1 : var2;
  if (symmetric) {  // the recursion reads only the lower triangle of the Gram matrix: a symmetric rank update
    ntk.template triangularView<Eigen::Lower>().setZero();
    ntk.template selfadjointView<Eigen::Lower>().rankUpdate(x1.transpose());
  } else {
    ntk.noalias() = x1.transpose() * x2;
  }
  const Scalar inv_d = Scalar(1) / Scalar(x1.rows());
  const LayerCoefficients& c0 = layers[0];
  ChunkArray<Scalar> j, jd, k, t, q1, q2;
  for (Index col = 0; col < n2; ++col) {
    for (Index i0 = symmetric ? col : 0; i0 < n1; i0 += kChunk) {
      const Index r = std::min(kChunk, n1 - i0);
      t = ntk.col(col).segment(i0, r).array();
      k = Scalar(c0.kA * inv_d) * t + Scalar(c0.kB);
      t = Scalar(c0.tA * inv_d) * t + Scalar(c0.tB);
      for (Index l = 1; l < L; ++l) {
        const LayerCoefficients& c = layers[std::size_t(l)];
        q1 = var1.col(l - 1).segment(i0, r).array();
        q2.setConstant(r, varc(col, l - 1));
        expect(q1, q2, k, j, jd);
        t = Scalar(c.tA) * j + Scalar(c.tB) + Scalar(c.kA) * jd * t;
        k = Scalar(c.kA) * j + Scalar(c.kB);
      }
      ntk.col(col).segment(i0, r) = t.matrix();
      nngp.col(col).segment(i0, r) = k.matrix();
    }
  }
  if (!symmetric) return;
  for (Index i = 0; i < n1; ++i) {
    nngp(i, i) = kdiag1(i);
    ntk(i, i) = diag1(i);
  }
  // mirror the strict lower triangle into the upper, in square tiles (cache-friendly transposes)
  constexpr Index B = 32;
  for (Index jb = 0; jb < n1; jb += B) {
    const Index bj = std::min(B, n1 - jb);
    for (Index ib = jb; ib < n1; ib += B) {
      const Index bi = std::min(B, n1 - ib);
      if (ib == jb) {
        for (Index c = 0; c < bj; ++c)
          for (Index r = c + 1; r < bi; ++r) {
            nngp(jb + c, ib + r) = nngp(ib + r, jb + c);
            ntk(jb + c, ib + r) = ntk(ib + r, jb + c);
          }
      } else {
        nngp.block(jb, ib, bj, bi) = nngp.block(ib, jb, bi, bj).transpose();
        ntk.block(jb, ib, bj, bi) = ntk.block(ib, jb, bi, bj).transpose();
      }
    }
  }
}

/// Runs `body(expect)` with the expectation evaluator of the spec's hidden activation.
template <class Scalar, class Body>
void with_builtin_expectations(const nn::MlpSpec& spec, const KernelOptions& opt, Body&& body) {
  const nn::Activation a = spec.hidden_activation;
  if (has_closed_form(a) && !opt.quadrature) {
    body(ClosedFormActivation<Scalar>{a, Scalar(spec.leaky_relu_slope)});
  } else {
    auto phi = builtin_phi<Scalar>(a, spec.leaky_relu_slope);
    auto dphi = builtin_dphi<Scalar>(a, spec.leaky_relu_slope);
    body(QuadratureActivation<decltype(phi), decltype(dphi)>{phi, dphi,
                                                             make_quadrature(opt)});
  }
}

inline void check_options(const char* fn, const KernelOptions& opt) {
  require(opt.quadrature_nodes >= 2 && opt.quadrature_nodes <= 1000, fn, "options.quadrature_nodes",
          opt.quadrature_nodes, "between 2 and 1000");
}

template <class Scalar>
Outcome kernels_outcome(const MatrixX<Scalar>& k, const MatrixX<Scalar>& t) {
  if (!all_finite(k)) return Outcome::failure(Status::non_finite, -1, 0.0, "the NNGP kernel overflowed");
  if (!all_finite(t)) return Outcome::failure(Status::non_finite, -1, 0.0, "the NTK overflowed");
  return Outcome{};
}

template <class D1, class D2>
using common_scalar_t = std::enable_if_t<std::is_same_v<typename D1::Scalar, typename D2::Scalar>, typename D1::Scalar>;

// The returning forms: checks (the points are named "x" when symmetric, else "x1" and "x2"), then the
// kernels by `with_expectations(f)`, which calls f with the layer expectation object.
template <class Scalar, class D1, class D2, class WithExpectations>
Kernels<Scalar> returning_kernels(const nn::MlpSpec& spec, const KernelOptions& options,
                                  const Eigen::MatrixBase<D1>& x1, const Eigen::MatrixBase<D2>& x2, bool symmetric,
                                  WithExpectations&& with_expectations) {
  const char* fn = "analytic_kernels";
  const auto layers = kernel_layers(fn, spec);
  check_options(fn, options);
  check_points(fn, symmetric ? "x" : "x1", x1, spec.widths[0]);
  if (!symmetric) check_points(fn, "x2", x2, spec.widths[0]);
  Kernels<Scalar> r;
  r.nngp.resize(x1.cols(), x2.cols());
  r.ntk.resize(x1.cols(), x2.cols());
  with_expectations([&](const auto& e) { blocked_kernels<Scalar>(layers, e, x1, x2, r.nngp, r.ntk, symmetric); });
  r.outcome = kernels_outcome(r.nngp, r.ntk);
  return r;
}

}  // namespace detail

/// Write-into form: K(X1, X2) into `nngp`, Θ(X1, X2) into `ntk` (both N1 × N2; they are the only
/// N1 × N2 storage used, so N = 10⁴ needs just the two outputs). X1 is d × N1, X2 is d × N2 (columns
/// are inputs), d = spec.widths[0]. NTK parameterisation (Borovykh eq. 1):
///   K¹ = σ_w² xᵀx'/d + σ_b²,  K^{l+1} = σ_w² E[φ(u)φ(v)] + σ_b²,  (u, v) ~ N(0, K^l on {x, x'}),
///   Θ¹ = K¹,                  Θ^{l+1} = K^{l+1} + σ_w² E[φ'(u)φ'(v)] Θ^l,
/// up to the last (output, identity) layer. Standard parameterisation: see detail::LayerCoefficients.
/// Returns success or non_finite. Throws invalid_argument on a bad spec, shapes or non-finite input.
template <class D1, class D2, class DK, class DT>
Outcome analytic_kernels(const nn::MlpSpec& spec, const Eigen::MatrixBase<D1>& x1, const Eigen::MatrixBase<D2>& x2,
                         const Eigen::MatrixBase<DK>& nngp_, const Eigen::MatrixBase<DT>& ntk_,
                         const KernelOptions& options = {}) {
  using Scalar = detail::common_scalar_t<D1, D2>;
  const char* fn = "analytic_kernels";
  const auto layers = detail::kernel_layers(fn, spec);
  detail::check_options(fn, options);
  detail::check_points(fn, "x1", x1, spec.widths[0]);
  detail::check_points(fn, "x2", x2, spec.widths[0]);
  auto& nngp = const_cast<Eigen::MatrixBase<DK>&>(nngp_).derived();
  auto& ntk = const_cast<Eigen::MatrixBase<DT>&>(ntk_).derived();
  require_shape(fn, "nngp", nngp, x1.cols(), x2.cols());
  require_shape(fn, "ntk", ntk, x1.cols(), x2.cols());
  detail::with_builtin_expectations<Scalar>(spec, options, [&](const auto& e) {
    detail::blocked_kernels<Scalar>(layers, e, x1, x2, nngp, ntk, false);
  });
  if (!all_finite(nngp)) return Outcome::failure(Status::non_finite, -1, 0.0, "the NNGP kernel overflowed");
  if (!all_finite(ntk)) return Outcome::failure(Status::non_finite, -1, 0.0, "the NTK overflowed");
  return Outcome{};
}

/// Returning form: {K(X1, X2), Θ(X1, X2), outcome}.
template <class D1, class D2>
Kernels<detail::common_scalar_t<D1, D2>> analytic_kernels(const nn::MlpSpec& spec, const Eigen::MatrixBase<D1>& x1,
                                                          const Eigen::MatrixBase<D2>& x2,
                                                          const KernelOptions& options = {}) {
  using Scalar = typename D1::Scalar;
  Kernels<Scalar> r;
  r.nngp.resize(x1.cols(), x2.cols());
  r.ntk.resize(x1.cols(), x2.cols());
  r.outcome = analytic_kernels(spec, x1, x2, r.nngp, r.ntk, options);
  return r;
}

/// K(X, X) and Θ(X, X): exactly symmetric, half the work (lower triangle, then mirrored); the diagonal
/// is the per-point recursion at correlation 1.
template <class D>
Kernels<typename D::Scalar> analytic_kernels(const nn::MlpSpec& spec, const Eigen::MatrixBase<D>& x,
                                             const KernelOptions& options = {}) {
  using Scalar = typename D::Scalar;
  return detail::returning_kernels<Scalar>(spec, options, x, x, true, [&](auto&& f) {
    detail::with_builtin_expectations<Scalar>(spec, options, f);
  });
}

/// Kernels with a user hidden activation (replaces spec.hidden_activation), by quadrature over the
/// bivariate Gaussian (the rule of options). Cross form.
template <class D1, class D2, class Phi, class DPhi>
Kernels<detail::common_scalar_t<D1, D2>> analytic_kernels(const nn::MlpSpec& spec, const Eigen::MatrixBase<D1>& x1,
                                                          const Eigen::MatrixBase<D2>& x2,
                                                          const ActivationFunction<Phi, DPhi>& hidden,
                                                          const KernelOptions& options = {}) {
  using Scalar = typename D1::Scalar;
  return detail::returning_kernels<Scalar>(spec, options, x1, x2, false, [&](auto&& f) {
    f(detail::QuadratureActivation<Phi, DPhi>{hidden.value, hidden.derivative, detail::make_quadrature(options)});
  });
}

/// User hidden activation, symmetric form K(X, X), Θ(X, X).
template <class D, class Phi, class DPhi>
Kernels<typename D::Scalar> analytic_kernels(const nn::MlpSpec& spec, const Eigen::MatrixBase<D>& x,
                                             const ActivationFunction<Phi, DPhi>& hidden,
                                             const KernelOptions& options = {}) {
  using Scalar = typename D::Scalar;
  return detail::returning_kernels<Scalar>(spec, options, x, x, true, [&](auto&& f) {
    f(detail::QuadratureActivation<Phi, DPhi>{hidden.value, hidden.derivative, detail::make_quadrature(options)});
  });
}

}  // namespace sgdsde::ntk

#include "sgdsde/ntk/detail/kernel_gradient.hpp"
