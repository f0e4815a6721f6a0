// sgdsde/ntk/detail/kernel_gradient.hpp — ∂K(x*, X)/∂x* and ∂Θ(x*, X)/∂x* by forward-mode
// differentiation of the kernel recursion (the test-input Jacobian of Borovykh 2019, eq. 2, needs it).
// Included by sgdsde/ntk/kernels.hpp; not a header of its own.
#pragma once

#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "sgdsde/ntk/kernels.hpp"

namespace sgdsde::ntk {

namespace detail {

/// Expectations and their partial derivatives in the first variance q1 and the covariance c (Price's
/// theorem: ∂E[f(u)g(v)]/∂c = E[f'g'], ∂/∂q1 = ½E[f''(u)g(v)]):
///   j = E[φφ], jd = E[φ'φ'], j_q1 = ∂j/∂q1, j_c = ∂j/∂c (= jd), jd_q1, jd_c.
template <class Scalar>
struct ExpectationPartials {
  ChunkArray<Scalar> j, jd, j_q1, j_c, jd_q1, jd_c;
  void resize(Index r) {
    for (auto* a : {&j, &jd, &j_q1, &j_c, &jd_q1, &jd_c}) a->resize(r);
  }
};

/// tanh and its derivatives (t = tanh x): φ' = 1 − t², φ'' = −2t(1 − t²), φ''' = −2(1 − t²)(1 − 3t²).
inline Eigen::Array<double, 5, 1> tanh_derivatives(double x) {
  const double t = std::tanh(x), d1 = 1 - t * t;
  Eigen::Array<double, 5, 1> r;
  r << t, d1, -2 * t * d1, -2 * d1 * (1 - 3 * t * t), 0.0;
  return r;
}

/// Partials for the built-in activations (closed forms; tanh by quadrature). q1 is the test point's
/// variance (one value), q2 and c arrays. Cusp terms (ReLU family, D = q1 q2 − c² = 0) and q1 = 0 terms
/// are set to 0.
template <class Scalar>
void expectation_partials(nn::Activation a, Scalar slope, const BivariateQuadrature* quad, Scalar q1,
                          const ChunkArray<Scalar>& q2, const ChunkArray<Scalar>& c, ExpectationPartials<Scalar>& p) {
  using A = ChunkArray<Scalar>;
  const Index r = c.size();
  p.resize(r);
  const Scalar pi(kPi);
  switch (a) {
    case nn::Activation::identity:
      p.j = c;
      p.jd.setOnes();
      p.j_q1.setZero();
      p.j_c.setOnes();
      p.jd_q1.setZero();
      p.jd_c.setZero();
      return;
    case nn::Activation::relu:
    case nn::Activation::leaky_relu: {
      const Scalar w = a == nn::Activation::relu ? Scalar(1) : (1 - slope) * (1 - slope);
      const Scalar alpha = a == nn::Activation::relu ? Scalar(0) : slope;
      const A g = product_root(A(A::Constant(r, q1)), q2);
      const A sd = ((g - c) * (g + c)).max(Scalar(0)).sqrt();
      const A theta = atan2_upper(sd, c);
      p.j = w * (sd + (pi - theta) * c) / (2 * pi) + alpha * c;
      p.jd = w * (pi - theta) / (2 * pi) + alpha;
      p.j_c = p.jd;
      p.j_q1 = q1 > 0 ? A(w * sd / (4 * pi * q1)) : A(A::Zero(r));
      p.jd_c = (sd > Scalar(0)).select(w / (2 * pi * sd), Scalar(0));
      if (q1 > 0)
        p.jd_q1 = (sd > Scalar(0)).select(-w * c / (4 * pi * q1 * sd), Scalar(0));
      else
        p.jd_q1.setZero();
      return;
    }
    case nn::Activation::erf: {
      const A g = product_root(A(A::Constant(r, q1)), q2);
      const A d = ((g - c) * (g + c)).max(Scalar(0));
      const A delta = Scalar(1) + Scalar(2) * (q1 + q2) + Scalar(4) * d;
      const A root = delta.sqrt();
      const A ang = atan2_upper(A(Scalar(2) * c.abs()), root);
      p.j = (c < Scalar(0)).select(-ang, ang) * Scalar(2 / kPi);
      p.jd = Scalar(4 / kPi) / root;
      p.j_c = p.jd;
      p.j_q1 = -Scalar(4 / kPi) * c / ((1 + 2 * q1) * root);
      p.jd_c = Scalar(16 / kPi) * c / (delta * root);
      p.jd_q1 = -Scalar(4 / kPi) * (Scalar(1) + Scalar(2) * q2) / (delta * root);
      return;
    }
    case nn::Activation::tanh: {
      // a(u) = [φ, φ', ½φ'', φ'', ½φ'''](u), b(v) = [φ, φ', φ, φ'', φ'](v)
      const auto fa = [](double u) {
        Eigen::Array<double, 5, 1> d = tanh_derivatives(u), o;
        o << d(0), d(1), 0.5 * d(2), d(2), 0.5 * d(3);
        return o;
      };
      const auto fb = [](double v) {
        Eigen::Array<double, 5, 1> d = tanh_derivatives(v), o;
        o << d(0), d(1), d(0), d(2), d(1);
        return o;
      };
      for (Index i = 0; i < r; ++i) {
        const Eigen::Array<double, 5, 1> e = quad->template expectation<5>(double(q1), double(q2(i)), double(c(i)), fa, fb);
        p.j(i) = Scalar(e(0));
        p.jd(i) = Scalar(e(1));
        p.j_c(i) = Scalar(e(1));
        p.j_q1(i) = Scalar(e(2));
        p.jd_c(i) = Scalar(e(3));
        p.jd_q1(i) = Scalar(e(4));
      }
      return;
    }
  }
}

/// V(q) = E[φ(u)²] and V'(q) for u ~ N(0, q), one point (V' = E[φ'²] + E[φφ''], Price's theorem).
template <class Scalar>
std::pair<Scalar, Scalar> self_variance(nn::Activation a, Scalar slope, const BivariateQuadrature* quad, Scalar q) {
  using std::sqrt;
  ExpectationPartials<Scalar> p;
  ChunkArray<Scalar> qa(1);
  qa(0) = q;
  expectation_partials(a, slope, quad, q, qa, qa, p);
  const Scalar v = p.j(0);
  switch (a) {
    case nn::Activation::identity: return {v, Scalar(1)};
    case nn::Activation::relu: return {v, Scalar(0.5)};
    case nn::Activation::leaky_relu: return {v, (1 + slope * slope) / 2};
    case nn::Activation::erf: return {v, Scalar(4 / kPi) / ((1 + 2 * q) * sqrt(1 + 4 * q))};
    case nn::Activation::tanh: {
      const auto fa = [](double u) {
        const Eigen::Array<double, 5, 1> d = tanh_derivatives(u);
        return Eigen::Array2d(d(1), d(0));
      };
      const auto fb = [](double u) {
        const Eigen::Array<double, 5, 1> d = tanh_derivatives(u);
        return Eigen::Array2d(d(1), d(2));
      };
      const Eigen::Array2d e = quad->template expectation<2>(double(q), double(q), double(q), fa, fb);
      return {v, Scalar(e(0) + e(1))};
    }
  }
  return {v, Scalar(0)};
}

}  // namespace detail

/// K(x*, X), Θ(x*, X) and their gradients in the test input x* (d × 1; X is d × N): forward-mode
/// differentiation of the recursion. The kernels depend on x* through m_c = x*ᵀx_n/d and
/// m_q = ‖x*‖²/d, so ∂Θ(x*, x_n)/∂x* = (∂Θ/∂m_c)·x_n/d + (∂Θ/∂m_q)·2x*/d, and the two scalar
/// sensitivities are carried through every layer with the partials of the expectations (closed form;
/// tanh by the quadrature of options). Built-in activations only.
template <class DS, class D>
KernelInputGradient<detail::common_scalar_t<DS, D>> analytic_kernel_input_gradient(
    const nn::MlpSpec& spec, const Eigen::MatrixBase<DS>& x_star, const Eigen::MatrixBase<D>& x,
    const KernelOptions& options = {}) {
  using Scalar = typename D::Scalar;
  using A = detail::ChunkArray<Scalar>;
  const char* fn = "analytic_kernel_input_gradient";
  const auto layers = detail::kernel_layers(fn, spec);
  detail::check_options(fn, options);
  const Index d = spec.widths[0];
  require_shape(fn, "x_star", x_star, d, 1);
  if (!all_finite(x_star)) require_finite(fn, "x_star", x_star);
  detail::check_points(fn, "x", x, d);
  const nn::Activation act = spec.hidden_activation;
  const Scalar slope(spec.leaky_relu_slope);
  std::unique_ptr<detail::BivariateQuadrature> quad;
  if (act == nn::Activation::tanh) quad = std::make_unique<detail::BivariateQuadrature>(detail::make_quadrature(options));
  const Index n = x.cols(), L = Index(layers.size());
  const Scalar inv_d = Scalar(1) / Scalar(d);

  // the test point's own variance and its derivative in m_q, per layer
  std::vector<Scalar> qs(static_cast<std::size_t>(L)), dqs(static_cast<std::size_t>(L));
  const Scalar mq = x_star.squaredNorm() * inv_d;
  qs[0] = Scalar(layers[0].kA) * mq + Scalar(layers[0].kB);
  dqs[0] = Scalar(layers[0].kA);
  for (Index l = 1; l < L; ++l) {
    const auto [v, dv] = detail::self_variance<Scalar>(act, slope, quad.get(), qs[std::size_t(l - 1)]);
    qs[std::size_t(l)] = Scalar(layers[std::size_t(l)].kA) * v + Scalar(layers[std::size_t(l)].kB);
    dqs[std::size_t(l)] = Scalar(layers[std::size_t(l)].kA) * dv * dqs[std::size_t(l - 1)];
  }

  KernelInputGradient<Scalar> r;
  r.nngp.resize(n);
  r.ntk.resize(n);
  r.nngp_gradient.resize(d, n);
  r.ntk_gradient.resize(d, n);
  const VectorX<Scalar> xs = x_star;
  detail::ExpectationPartials<Scalar> p, pn;
  A c, dc_c, dc_q, t, dt_c, dt_q, qn;
  for (Index i0 = 0; i0 < n; i0 += detail::kChunk) {
    const Index rr = std::min(detail::kChunk, n - i0);
    const auto xb = x.middleCols(i0, rr);
    const A mc = (xb.transpose() * xs).array() * inv_d;
    const A mn = xb.colwise().squaredNorm().transpose().array() * inv_d;
    const detail::LayerCoefficients& c0 = layers[0];
    qn = Scalar(c0.kA) * mn + Scalar(c0.kB);
    c = Scalar(c0.kA) * mc + Scalar(c0.kB);
    dc_c.setConstant(rr, Scalar(c0.kA));
    dc_q.setZero(rr);
    t = Scalar(c0.tA) * mc + Scalar(c0.tB);
    dt_c.setConstant(rr, Scalar(c0.tA));
    dt_q.setZero(rr);
    for (Index l = 1; l < L; ++l) {
      const detail::LayerCoefficients& k = layers[std::size_t(l)];
      const Scalar kA(k.kA), kB(k.kB), tA(k.tA), tB(k.tB);
      const Scalar dq = dqs[std::size_t(l - 1)];
      detail::expectation_partials(act, slope, quad.get(), qs[std::size_t(l - 1)], qn, c, p);
      const A dm_c = p.j_c * dc_c;                   // ∂M/∂m_c
      const A dm_q = p.j_q1 * dq + p.j_c * dc_q;     // ∂M/∂m_q
      const A dj_c = p.jd_c * dc_c;                  // ∂Ė/∂m_c
      const A dj_q = p.jd_q1 * dq + p.jd_c * dc_q;   // ∂Ė/∂m_q
      dt_c = tA * dm_c + kA * (dj_c * t + p.jd * dt_c);
      dt_q = tA * dm_q + kA * (dj_q * t + p.jd * dt_q);
      t = tA * p.j + tB + kA * p.jd * t;
      dc_c = kA * dm_c;
      dc_q = kA * dm_q;
      c = kA * p.j + kB;
      // the training points' own variances
      if (act == nn::Activation::tanh) {
        for (Index i = 0; i < rr; ++i) qn(i) = kA * detail::self_variance<Scalar>(act, slope, quad.get(), qn(i)).first + kB;
      } else {
        pn.resize(rr);
        detail::ClosedFormActivation<Scalar>{act, slope}(qn, qn, qn, pn.j, pn.jd);
        qn = kA * pn.j + kB;
      }
    }
    r.nngp.segment(i0, rr) = c.matrix();
    r.ntk.segment(i0, rr) = t.matrix();
    r.nngp_gradient.middleCols(i0, rr) =
        xb * (dc_c * inv_d).matrix().asDiagonal() + xs * (Scalar(2) * inv_d * dc_q).matrix().transpose();
    r.ntk_gradient.middleCols(i0, rr) =
        xb * (dt_c * inv_d).matrix().asDiagonal() + xs * (Scalar(2) * inv_d * dt_q).matrix().transpose();
  }
  if (!all_finite(r.nngp) || !all_finite(r.ntk) || !all_finite(r.nngp_gradient) || !all_finite(r.ntk_gradient))
    r.outcome = Outcome::failure(Status::non_finite, -1, 0.0, "the kernels or their gradients overflowed");
  return r;
}

}  // namespace sgdsde::ntk
