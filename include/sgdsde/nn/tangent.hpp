// sgdsde/nn/tangent.hpp — tangent (dual-number) passes through the MLP: the workspace shared by forward
// mode, and exact Hessian–vector products of the loss by forward-over-reverse (Pearlmutter 1994).
// Jacobian–vector products of the outputs are in nn/jvp.hpp.
#pragma once

#include <algorithm>
#include <cstddef>

#include <Eigen/Core>

#include "sgdsde/core/dual.hpp"
#include "sgdsde/core/error.hpp"
#include "sgdsde/core/types.hpp"
#include "sgdsde/nn/gradient.hpp"

namespace sgdsde::nn {

/// Buffers for the forward-mode passes of one network. Two representations of θ + ε·v:
/// (1) a Dual<Scalar> copy of the network (parameters overwritten on every call) with its workspace
///     and staging — used by jvp (nn/jvp.hpp);
/// (2) split value/tangent buffers (`values`, `tangents`) — the HVP runs the forward-over-reverse
///     recursion on separate value and tangent matrices so every product is a plain Scalar GEMM
///     (about 2.5× the GEMM work of one gradient).
/// Allocates once; jvp / hessian_vector_product then allocate nothing. Serves only networks with the
/// widths and batch-norm setting it was made for (checked on every call).
template <class Scalar>
struct TangentWorkspace {
  using D = Dual<Scalar>;
  using DualMatrix = MatrixX<D>;

  TangentWorkspace(const Mlp<Scalar>& model, Index max_batch)
      : dual_model(model.template cast<D>()),
        ws(dual_model, max_batch),
        inputs(model.input_dim(), max_batch),
        outputs(model.output_dim(), max_batch),
        values(model, max_batch),
        tangents(model, max_batch) {}

  Mlp<D> dual_model;
  MlpWorkspace<D> ws;
  DualMatrix inputs, outputs;
  MlpWorkspace<Scalar> values;  ///< value part of the split HVP
  /// Tangent part: each buffer holds the tangent of the same-named buffer of `values` (ȧ in pre, ż in
  /// post, δ̇ in delta, the tangent of x̂ in bn_hat and of r = 1/√(v + ε) in bn_inv_std).
  MlpWorkspace<Scalar> tangents;
};

/// Result of a returning gradient_and_hessian_vector_product.
template <class Scalar>
struct GradientAndHvp {
  Scalar loss{};
  VectorX<Scalar> gradient, hv;
  Outcome outcome;  ///< non_finite if the loss, gradient or H v is not finite
};

namespace detail {

/// dual_model ← θ + ε·v (v empty means 0), with the running statistics of `model`.
template <class Scalar>
void seed_parameters(const Mlp<Scalar>& model, const Eigen::Ref<const VectorX<Scalar>>& v,
                     TangentWorkspace<Scalar>& tw) {
  using D = Dual<Scalar>;
  auto& p = tw.dual_model.parameters();
  if (v.size() == 0)
    p = model.parameters().template cast<D>();
  else
    p = model.parameters().binaryExpr(v, [](const Scalar& a, const Scalar& b) { return D(a, b); });
  for (Index l = 0; l < model.num_layers(); ++l)
    if (model.has_batch_norm(l)) {
      tw.dual_model.running_mean(l) = model.running_mean(l).template cast<D>();
      tw.dual_model.running_var(l) = model.running_var(l).template cast<D>();
    }
}

/// Throws unless `tw` was made for this network and serves `batch` samples. The dual copy inside `tw`
/// runs the forward pass of jvp with ITS spec, so every field of the spec must match, not just widths.
template <class Scalar>
void check_tangent_workspace(const char* fn, const Mlp<Scalar>& model, const TangentWorkspace<Scalar>& tw,
                             Index batch) {
  check_workspace(fn, "workspace", model, tw.values, batch);
  check_workspace(fn, "workspace", model, tw.ws, batch);
  const MlpSpec &a = model.spec(), &b = tw.dual_model.spec();
  const bool same = a.hidden_activation == b.hidden_activation && a.output_activation == b.output_activation &&
                    a.parameterization == b.parameterization && a.sigma_w == b.sigma_w && a.sigma_b == b.sigma_b &&
                    a.standard_init == b.standard_init && a.leaky_relu_slope == b.leaky_relu_slope &&
                    a.batch_norm_epsilon == b.batch_norm_epsilon;
  require(same, fn, "workspace", "a TangentWorkspace built for another architecture (activation, parameterisation, "
          "sigma or batch-norm epsilon differ)", "a workspace made for this network");
}

/// Tangent of batch norm, layer l. On entry tw.tangents.bn_hat holds ȧ (pre-normalisation); on exit it holds
/// the tangent of x̂ and tw.tangents.pre the tangent of y = γ x̂ + β. Per feature, train mode:
/// μ̇ = mean ȧ, ċ = ȧ − μ̇, v̇ = 2 mean(c ċ), ṙ = −½ r³ v̇, x̂̇ = r ċ + c ṙ (c = x̂/r); eval mode: x̂̇ = r ȧ.
template <class Scalar>
void batch_norm_tangent_forward(const Mlp<Scalar>& model, Index l,
                                const Eigen::Ref<const VectorX<Scalar>>& v, TangentWorkspace<Scalar>& tw, Mode mode) {
  const std::size_t k = std::size_t(l);
  MlpWorkspace<Scalar>& ws = tw.values;
  const Index S = ws.batch, n = model.width(l + 1);
  const Scalar inv_s = Scalar(1) / Scalar(double(S));
  auto xh = ws.bn_hat[k].leftCols(S);
  auto xd = tw.tangents.bn_hat[k].leftCols(S);
  auto yd = tw.tangents.pre[k].leftCols(S);
  const Scalar* g_dot = v.data() + model.bn_scale_offset(l);
  const Scalar* b_dot = v.data() + model.bn_shift_offset(l);
  for (Index i = 0; i < n; ++i) {
    const Scalar r = ws.bn_inv_std[k][i];
    Scalar r_dot(0);
    if (mode == Mode::train) {
      const Scalar mu_dot = xd.row(i).sum() * inv_s;
      xd.row(i).array() -= mu_dot;                                // ċ
      const Scalar v_dot = Scalar(2) * xh.row(i).dot(xd.row(i)) / r * inv_s;  // 2 mean(c ċ), c = x̂/r
      r_dot = Scalar(-0.5) * r * r * r * v_dot;
      xd.row(i) = r * xd.row(i) + (r_dot / r) * xh.row(i);
    } else {
      xd.row(i) *= r;
    }
    tw.tangents.bn_inv_std[k][i] = r_dot;
    yd.row(i) = g_dot[i] * xh.row(i) + model.bn_scale(l)[i] * xd.row(i);
    yd.row(i).array() += b_dot[i];
  }
}

/// Adjoint of batch norm and its tangent, layer l. On entry ws.delta = g = dL/dy and tw.tangents.delta = ġ;
/// on exit dL/da and its tangent. Writes the γ, β entries of H v (and of the gradient if non-null).
/// Train mode, per feature: dL/da = γ r (g − m₁ − x̂ m₂) with m₁ = mean g, m₂ = mean(g x̂); its tangent
/// (γ̇ r + γ ṙ)(g − m₁ − x̂ m₂) + γ r (ġ − ṁ₁ − x̂̇ m₂ − x̂ ṁ₂). Eval mode: m₁ = m₂ = 0, ṙ = 0.
template <class Scalar>
void batch_norm_tangent_backward(const Mlp<Scalar>& model, Index l,
                                 const Eigen::Ref<const VectorX<Scalar>>& v, TangentWorkspace<Scalar>& tw, Mode mode,
                                 Eigen::Ref<VectorX<Scalar>>& hv, Scalar* gradient) {
  const std::size_t k = std::size_t(l);
  MlpWorkspace<Scalar>& ws = tw.values;
  const Index S = ws.batch, n = model.width(l + 1);
  const Scalar inv_s = Scalar(1) / Scalar(double(S));
  auto xh = ws.bn_hat[k].leftCols(S);
  auto xd = tw.tangents.bn_hat[k].leftCols(S);
  auto g = ws.delta[k].leftCols(S);
  auto gd = tw.tangents.delta[k].leftCols(S);
  const Index os = model.bn_scale_offset(l), ob = model.bn_shift_offset(l);
  for (Index i = 0; i < n; ++i) {
    const Scalar gamma = model.bn_scale(l)[i], gamma_dot = v[os + i];
    const Scalar r = ws.bn_inv_std[k][i], r_dot = tw.tangents.bn_inv_std[k][i];
    const Scalar sum_g = g.row(i).sum(), sum_gx = g.row(i).dot(xh.row(i));
    const Scalar sum_gd = gd.row(i).sum();
    const Scalar sum_gdx = gd.row(i).dot(xh.row(i)) + g.row(i).dot(xd.row(i));
    hv[os + i] = sum_gdx;
    hv[ob + i] = sum_gd;
    if (gradient) {
      gradient[os + i] = sum_gx;
      gradient[ob + i] = sum_g;
    }
    const bool train = mode == Mode::train;
    const Scalar m1 = train ? sum_g * inv_s : Scalar(0), m2 = train ? sum_gx * inv_s : Scalar(0);
    const Scalar m1d = train ? sum_gd * inv_s : Scalar(0), m2d = train ? sum_gdx * inv_s : Scalar(0);
    const Scalar a = gamma_dot * r + gamma * r_dot, b = gamma * r;
    for (Index s = 0; s < S; ++s) {
      const Scalar centred = g(i, s) - m1 - xh(i, s) * m2;
      gd(i, s) = a * centred + b * (gd(i, s) - m1d - xd(i, s) * m2 - xh(i, s) * m2d);
      g(i, s) = b * centred;
    }
  }
}

/// Sink of the forward-over-reverse pass on (δ, δ̇): δa = φ'(a) δz, δ̇a = φ'(a) δ̇z + φ''(a) ȧ δz;
/// Ḣ_W = c_w (δ̇a zᵀ + δa żᵀ), Ḣ_b = c_b Σ_s δ̇a, δ̇z = c_w (Ẇᵀ δa + Wᵀ δ̇a). H v goes to hv and, if
/// `gradient` is non-null, the value part (the gradient) through GradientSink.
template <class Scalar>
struct TangentSink {
  const Mlp<Scalar>& model;
  TangentWorkspace<Scalar>& tw;
  const Eigen::Ref<const VectorX<Scalar>>& v;
  Eigen::Ref<VectorX<Scalar>>& hv;
  Mode mode;
  Scalar* gradient;
  /// before_activation reads d only for erf/tanh (φ'' ≠ 0), whose masks are never fused.
  static constexpr bool fuses_activation_mask = true;

  template <class D>
  void before_activation(Index l, D& d) {
    const std::size_t k = std::size_t(l);
    const Index S = d.cols();
    activation_second_order_adjoint(model.activation(l), Scalar(model.spec().leaky_relu_slope),
                                    tw.values.pre[k].leftCols(S), tw.values.post[k].leftCols(S),
                                    tw.tangents.pre[k].leftCols(S), d, tw.tangents.delta[k].leftCols(S));
  }

  template <class D>
  void batch_norm(Index l, D&) {
    batch_norm_tangent_backward(model, l, v, tw, mode, hv, gradient);
  }

  template <class D, class Z>
  void dense(Index l, const D& d, const Z& z) {
    const std::size_t k = std::size_t(l);
    const Index S = d.cols(), n_out = model.width(l + 1), n_in = model.width(l);
    const Scalar cw = model.weight_multiplier(l);
    auto dd = tw.tangents.delta[k].leftCols(S);
    Eigen::Map<MatrixX<Scalar>> hw(hv.data() + model.weights_offset(l), n_out, n_in);
    gemm_nt<Scalar>(hw, cw, dd, z);
    if (l > 0) gemm_nt<Scalar>(hw, cw, d, tw.tangents.post[k - 1].leftCols(S), true);
    Eigen::Map<VectorX<Scalar>>(hv.data() + model.bias_offset(l), n_out).noalias() =
        model.bias_multiplier(l) * dd.rowwise().sum();
    if (gradient) GradientSink<Scalar>{model, tw.values, mode, gradient, nullptr}.dense(l, d, z);
    if (l > 0) {
      const Eigen::Map<const MatrixX<Scalar>> w_dot(v.data() + model.weights_offset(l), n_out, n_in);
      auto dd_below = tw.tangents.delta[k - 1].leftCols(S);
      gemm_tn<Scalar>(dd_below, cw, w_dot, d);
      gemm_tn<Scalar>(dd_below, cw, model.weights(l), dd, true);
    }
  }

  template <class D>
  void input(const D&) {}
};

/// Forward-over-reverse on split value/tangent buffers: writes H v to hv and, if `gradient` is
/// non-null, the gradient; returns the mean loss. Arguments already checked.
template <class Scalar, class LossFn>
Scalar split_hvp(const Mlp<Scalar>& model, const LossFn& loss_fn, const ConstMatrixRefT<Scalar>& x,
                 const Eigen::Ref<const VectorX<Scalar>>& v, Eigen::Ref<VectorX<Scalar>>& hv,
                 TangentWorkspace<Scalar>& tw, Mode mode, Scalar* gradient) {
  MlpWorkspace<Scalar>& ws = tw.values;
  const Index S = x.cols();
  const Index L = model.num_layers();
  const Scalar slope(model.spec().leaky_relu_slope);
  forward_pass(model, x, ws, mode);
  // Tangent forward: ȧ = c_w (Ẇ z + W ż) + c_b ḃ, ż' = φ'(a) ⊙ ȧ (ż = 0 at the input).
  for (Index l = 0; l < L; ++l) {
    const std::size_t k = std::size_t(l);
    const Index n_out = model.width(l + 1), n_in = model.width(l);
    const Eigen::Map<const MatrixX<Scalar>> w_dot(v.data() + model.weights_offset(l), n_out, n_in);
    const Eigen::Map<const VectorX<Scalar>> b_dot(v.data() + model.bias_offset(l), n_out);
    const Scalar cw = model.weight_multiplier(l);
    // With batch norm, ȧ (before normalisation) goes to tangents.bn_hat and tangents.pre receives ẏ.
    auto ad = model.has_batch_norm(l) ? tw.tangents.bn_hat[k].leftCols(S) : tw.tangents.pre[k].leftCols(S);
    if (l == 0) {
      gemm_nn<Scalar>(ad, cw, w_dot, x);
    } else {
      gemm_nn<Scalar>(ad, cw, w_dot, ws.post[k - 1].leftCols(S));
      gemm_nn<Scalar>(ad, cw, model.weights(l), tw.tangents.post[k - 1].leftCols(S), true);
    }
    ad.colwise() += model.bias_multiplier(l) * b_dot;
    if (model.has_batch_norm(l)) batch_norm_tangent_forward(model, l, v, tw, mode);
    auto zd = tw.tangents.post[k].leftCols(S);
    zd = tw.tangents.pre[k].leftCols(S);
    multiply_by_activation_derivative(model.activation(l), slope, ws.pre[k].leftCols(S), ws.post[k].leftCols(S), zd);
  }
  const std::size_t last = std::size_t(L - 1);
  const Scalar inv_s = Scalar(1) / Scalar(double(S));
  const Scalar sum = loss_fn.sum_and_adjoint(ws.post[last].leftCols(S), ws.delta[last].leftCols(S), inv_s);
  loss_fn.adjoint_tangent(ws.post[last].leftCols(S), tw.tangents.post[last].leftCols(S), tw.tangents.delta[last].leftCols(S),
                          inv_s);
  TangentSink<Scalar> sink{model, tw, v, hv, mode, gradient};
  reverse_pass(model, x, ws, sink);
  return sum * inv_s;
}

template <class Scalar, class LossFn>
Scalar hvp_impl(const char* fn, const Mlp<Scalar>& model, const LossFn& loss_fn, const ConstMatrixRefT<Scalar>& inputs,
                const Eigen::Ref<const VectorX<Scalar>>& direction, Eigen::Ref<VectorX<Scalar>>& hv,
                TangentWorkspace<Scalar>& tw, Mode mode, Scalar* gradient) {
  static_check_loss<LossFn, Scalar>();
  const Index S = inputs.cols();
  require_shape(fn, "inputs", inputs, model.input_dim(), -1);
  require(S >= 1, fn, "inputs.cols()", S, "a batch of at least 1 sample");
  check_tangent_workspace(fn, model, tw, S);
  require_shape(fn, "v", direction, model.num_parameters(), 1);
  if (!all_finite(direction)) require_finite(fn, "v", direction);
  require_shape(fn, "hv", hv, model.num_parameters(), 1);
  if (!all_finite(inputs)) require_finite(fn, "inputs", inputs);
  loss_fn.check(fn, model.output_dim(), S);
  return split_hvp(model, loss_fn, inputs, direction, hv, tw, mode, gradient);
}

}  // namespace detail

/// Exact Hessian–vector product H v of the MEAN loss by forward-over-reverse: the reverse pass is run
/// in dual numbers with parameters θ + ε·v, and the ε part of the gradient is H v (no finite
/// differences; exact up to rounding). Writes H v to `hv`; returns the loss.
/// The dual numbers are held as separate value and tangent matrices (struct-of-arrays Dual<Scalar>)
/// so that every product is a plain Scalar GEMM; the tests check the result against the ordinary
/// reverse pass (loss_and_gradient) run on a Mlp<Dual<Scalar>>.
/// Default train mode: with batch norm, H includes the dependence of the batch statistics on θ.
/// ReLU kinks contribute nothing (relu'' = 0 almost everywhere). Cost ≈ 2.5 gradients of GEMM work.
template <class Scalar, class LossFn>
Scalar hessian_vector_product(const Mlp<Scalar>& net, const LossFn& loss_fn,
                              const typename Mlp<Scalar>::ConstMatrixRef& inputs,
                              const typename Mlp<Scalar>::ConstVectorRef& v, typename Mlp<Scalar>::VectorRef hv,
                              TangentWorkspace<Scalar>& tw, Mode mode = Mode::train) {
  return detail::hvp_impl("hessian_vector_product", net, loss_fn, inputs, v, hv, tw, mode,
                          static_cast<Scalar*>(nullptr));
}
/// Returning form: H v.
template <class Scalar, class LossFn>
VectorX<Scalar> hessian_vector_product(const Mlp<Scalar>& net, const LossFn& loss_fn,
                                       const typename Mlp<Scalar>::ConstMatrixRef& inputs,
                                       const typename Mlp<Scalar>::ConstVectorRef& v, Mode mode = Mode::train) {
  TangentWorkspace<Scalar> tw(net, std::max<Index>(inputs.cols(), 1));
  VectorX<Scalar> hv(net.num_parameters());
  hessian_vector_product(net, loss_fn, inputs, v, hv, tw, mode);
  return hv;
}

/// H v and the gradient g from the same pass (the value part of the dual gradient; 2 extra GEMMs per
/// layer); returns the loss.
template <class Scalar, class LossFn>
Scalar gradient_and_hessian_vector_product(const Mlp<Scalar>& net, const LossFn& loss_fn,
                                           const typename Mlp<Scalar>::ConstMatrixRef& inputs,
                                           const typename Mlp<Scalar>::ConstVectorRef& v,
                                           typename Mlp<Scalar>::VectorRef gradient,
                                           typename Mlp<Scalar>::VectorRef hv, TangentWorkspace<Scalar>& tw,
                                           Mode mode = Mode::train) {
  require_shape("gradient_and_hessian_vector_product", "gradient", gradient, net.num_parameters(), 1);
  return detail::hvp_impl("gradient_and_hessian_vector_product", net, loss_fn, inputs, v, hv, tw, mode,
                          gradient.data());
}
/// Returning form: {loss, gradient, hv, outcome}.
template <class Scalar, class LossFn>
GradientAndHvp<Scalar> gradient_and_hessian_vector_product(const Mlp<Scalar>& net, const LossFn& loss_fn,
                                                           const typename Mlp<Scalar>::ConstMatrixRef& inputs,
                                                           const typename Mlp<Scalar>::ConstVectorRef& v,
                                                           Mode mode = Mode::train) {
  TangentWorkspace<Scalar> tw(net, std::max<Index>(inputs.cols(), 1));
  GradientAndHvp<Scalar> r;
  r.gradient.resize(net.num_parameters());
  r.hv.resize(net.num_parameters());
  r.loss = gradient_and_hessian_vector_product(net, loss_fn, inputs, v, r.gradient, r.hv, tw, mode);
  r.outcome = gradient_outcome(r.loss, r.gradient);
  if (r.outcome.ok() && !r.hv.allFinite())
    r.outcome = Outcome::failure(Status::non_finite, -1, double(r.loss), "Hessian-vector product is not finite");
  return r;
}

}  // namespace sgdsde::nn
