// sgdsde/ntk/empirical.hpp — the empirical NTK Θ̂(X1, X2) = J(X1) J(X2)ᵀ of a finite nn::Mlp at its
// current parameters (Borovykh 2019 §2.1, the kernel of the linearised network), dense and matrix-free.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/types.hpp"
#include "sgdsde/nn/gradient.hpp"
#include "sgdsde/nn/jvp.hpp"
#include "sgdsde/nn/per_sample.hpp"

namespace sgdsde::ntk {

namespace detail {

/// Reverse-pass sink that keeps, for output k, each layer's pre-activation adjoint column
/// ∂f_k(x_s)/∂a_l(x_s) in D_l[:, s·d_out + k] (sample-major like nn::output_jacobian) and the layer
/// inputs Z_l of the forward pass.
template <class Scalar>
struct LayerAdjointSink {
  std::vector<MatrixX<Scalar>>* adjoints;
  Index k, d_out;

  template <class D>
  void before_activation(Index, D&) {}
  template <class D>
  void batch_norm(Index, D&) {}
  template <class D, class Z>
  void dense(Index l, const D& d, const Z&) {
    MatrixX<Scalar>& dl = (*adjoints)[std::size_t(l)];
    for (Index s = 0; s < d.cols(); ++s) dl.col(s * d_out + k) = d.col(s);
  }
  template <class D>
  void input(const D&) {}
};

/// Per layer: D_l (n_{l+1} × S·d_out) and Z_l (n_l × S, the layer's input).
template <class Scalar>
struct LayerFactors {
  std::vector<MatrixX<Scalar>> adjoints, inputs;
};

template <class Scalar>
LayerFactors<Scalar> layer_factors(const nn::Mlp<Scalar>& net, const Eigen::Ref<const MatrixX<Scalar>>& x) {
  const Index S = x.cols(), L = net.num_layers(), k_out = net.output_dim();
  nn::MlpWorkspace<Scalar> ws(net, std::max<Index>(S, 1));
  nn::detail::forward_pass(net, x, ws, nn::Mode::eval);
  LayerFactors<Scalar> f;
  f.adjoints.resize(std::size_t(L));
  f.inputs.resize(std::size_t(L));
  for (Index l = 0; l < L; ++l) {
    f.adjoints[std::size_t(l)].resize(net.width(l + 1), S * k_out);
    f.inputs[std::size_t(l)] = l == 0 ? MatrixX<Scalar>(x) : MatrixX<Scalar>(ws.post[std::size_t(l - 1)].leftCols(S));
  }
  const std::size_t last = std::size_t(L - 1);
  for (Index k = 0; k < k_out; ++k) {
    auto d = ws.delta[last].leftCols(S);
    d.setZero();
    d.row(k).setOnes();
    LayerAdjointSink<Scalar> sink{&f.adjoints, k, k_out};
    nn::detail::reverse_pass(net, x, ws, sink);
  }
  return f;
}

template <class Scalar>
void check_empirical(const char* fn, const nn::Mlp<Scalar>& net, const char* name, const Eigen::Ref<const MatrixX<Scalar>>& x) {
  require_shape(fn, name, x, net.input_dim(), -1);
  require(x.cols() >= 1, fn, name, "an empty matrix (0 columns)", "at least one input (column)");
  if (!all_finite(x)) require_finite(fn, name, x);
}

}  // namespace detail

/// Empirical NTK Θ̂(X1, X2) = J(X1) J(X2)ᵀ at the network's current parameters, (N1·k) × (N2·k) with
/// k = d_out, sample-major rows like nn::output_jacobian: entry (s·k + i, s'·k + j) = ⟨∂f_i(x_s)/∂θ,
/// ∂f_j(x'_{s'})/∂θ⟩. Computed layer by layer without forming J: for a dense layer the Jacobian rows
/// are outer products, so its block of J Jᵀ is (c_w² Z_lᵀZ'_l ⊗ 1_{k×k} + c_b²) ⊙ D_lᵀD'_l with D_l the
/// pre-activation adjoints (memory O(width·N·k), work = one GEMM per layer). Networks with batch norm
/// (eval mode) go through nn::output_jacobian. Throws invalid_argument on wrong shapes, empty or
/// non-finite inputs.
template <class Scalar>
MatrixX<Scalar> empirical_ntk(const nn::Mlp<Scalar>& net, const typename nn::Mlp<Scalar>::ConstMatrixRef& x1,
                              const typename nn::Mlp<Scalar>::ConstMatrixRef& x2) {
  const char* fn = "empirical_ntk";
  detail::check_empirical(fn, net, "x1", x1);
  detail::check_empirical(fn, net, "x2", x2);
  const Index k = net.output_dim(), n1 = x1.cols(), n2 = x2.cols();
  if (net.spec().batch_norm) {
    const MatrixX<Scalar> j1 = nn::output_jacobian(net, x1, nn::Mode::eval);
    const MatrixX<Scalar> j2 = nn::output_jacobian(net, x2, nn::Mode::eval);
    return j1 * j2.transpose();
  }
  const auto f1 = detail::layer_factors(net, x1);
  const auto f2 = detail::layer_factors(net, x2);
  MatrixX<Scalar> theta = MatrixX<Scalar>::Zero(n1 * k, n2 * k), p(n1 * k, n2 * k), g(n1, n2);
  for (Index l = 0; l < net.num_layers(); ++l) {
    const std::size_t li = std::size_t(l);
    const Scalar cw = net.weight_multiplier(l), cb = net.bias_multiplier(l);
    p.noalias() = f1.adjoints[li].transpose() * f2.adjoints[li];
    g.noalias() = (cw * cw) * (f1.inputs[li].transpose() * f2.inputs[li]);
    g.array() += cb * cb;
    if (k == 1) {
      theta.array() += g.array() * p.array();
    } else {
      for (Index b = 0; b < n2; ++b)
        for (Index a = 0; a < n1; ++a) theta.block(a * k, b * k, k, k) += g(a, b) * p.block(a * k, b * k, k, k);
    }
  }
  return theta;
}

/// Θ̂(X, X) (N·k × N·k), exactly symmetric; the per-layer products are symmetric rank updates (half
/// the work of the cross form).
template <class Scalar>
MatrixX<Scalar> empirical_ntk(const nn::Mlp<Scalar>& net, const typename nn::Mlp<Scalar>::ConstMatrixRef& x) {
  const char* fn = "empirical_ntk";
  detail::check_empirical(fn, net, "x", x);
  const Index k = net.output_dim(), n = x.cols();
  if (net.spec().batch_norm) {
    const MatrixX<Scalar> j = nn::output_jacobian(net, x, nn::Mode::eval);
    MatrixX<Scalar> t = MatrixX<Scalar>::Zero(n * k, n * k);
    t.template selfadjointView<Eigen::Lower>().rankUpdate(j);
    return t.template selfadjointView<Eigen::Lower>();
  }
  const auto f = detail::layer_factors(net, x);
  MatrixX<Scalar> theta = MatrixX<Scalar>::Zero(n * k, n * k), p(n * k, n * k), g(n, n);
  for (Index l = 0; l < net.num_layers(); ++l) {
    const std::size_t li = std::size_t(l);
    const Scalar cw = net.weight_multiplier(l), cb = net.bias_multiplier(l);
    p.setZero();
    p.template selfadjointView<Eigen::Lower>().rankUpdate(f.adjoints[li].transpose());
    g.setZero();
    g.template selfadjointView<Eigen::Lower>().rankUpdate(f.inputs[li].transpose(), cw * cw);
    // lower triangle only (the column-major loops below touch rows ≥ column)
    for (Index b = 0; b < n; ++b)
      for (Index a = b; a < n; ++a) {
        const Scalar w = g(a, b) + cb * cb;
        if (k == 1)
          theta(a, b) += w * p(a, b);
        else
          theta.block(a * k, b * k, k, k) += w * p.block(a * k, b * k, k, k);
      }
  }
  // the diagonal k × k blocks got their lower triangles only; mirror everything into the upper part
  return theta.template selfadjointView<Eigen::Lower>();
}

/// Matrix-free product Θ̂(X1, X2)·V = J(X1)(J(X2)ᵀ v): V is k × N2 (shaped like the outputs on X2),
/// the result k × N1. One output VJP on X2 and one forward-mode JVP on X1; memory O(P + width·N).
template <class Scalar>
MatrixX<Scalar> empirical_ntk_product(const nn::Mlp<Scalar>& net, const typename nn::Mlp<Scalar>::ConstMatrixRef& x1,
                                      const typename nn::Mlp<Scalar>::ConstMatrixRef& x2,
                                      const typename nn::Mlp<Scalar>::ConstMatrixRef& v) {
  const char* fn = "empirical_ntk_product";
  detail::check_empirical(fn, net, "x1", x1);
  detail::check_empirical(fn, net, "x2", x2);
  require_shape(fn, "v", v, net.output_dim(), x2.cols());
  if (!all_finite(v)) require_finite(fn, "v", v);
  nn::MlpWorkspace<Scalar> ws(net, x2.cols());
  VectorX<Scalar> u(net.num_parameters());
  MatrixX<Scalar> no_input_vjp;
  nn::output_vjp(net, x2, v, u, no_input_vjp, ws, nn::Mode::eval);
  return nn::jvp(net, x1, u, no_input_vjp, nn::Mode::eval).tangent;
}

/// Θ̂(X, X)·V, V k × N.
template <class Scalar>
MatrixX<Scalar> empirical_ntk_product(const nn::Mlp<Scalar>& net, const typename nn::Mlp<Scalar>::ConstMatrixRef& x,
                                      const typename nn::Mlp<Scalar>::ConstMatrixRef& v) {
  return empirical_ntk_product(net, x, x, v);
}

}  // namespace sgdsde::ntk
