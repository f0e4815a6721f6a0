// sgdsde/nn/tangent.hpp — tangent (dual-number) passes through the MLP: the workspace shared by forward
// mode, and exact Hessian–vector products of the loss by forward-over-reverse (Pearlmutter 1994).
// Jacobian–vector products of the outputs are in nn/jvp.hpp.
#pragma once

#include <cstddef>
#include <vector>
#include <type_traits>

#include <Eigen/Core>

#include "sgdsde/core/dual.hpp"
#include "sgdsde/core/error.hpp"
#include "sgdsde/nn/mlp.hpp"

namespace sgdsde::nn {

/// Buffers for the forward-mode passes of one network. Two representations of θ + ε·v:
/// (1) a Dual<Scalar> copy of the network (parameters overwritten on every call) with its workspace
///     and staging — used by jvp (nn/jvp.hpp);
/// (2) split value/tangent buffers (`values`, dot_*) — the HVP runs the forward-over-reverse
///     recursion on separate value and tangent matrices so every product is a plain Scalar GEMM
///     (about 2.5× the GEMM work of one gradient).
/// Allocates once; jvp / hessian_vector_product then allocate nothing.
template <class Scalar>
struct TangentWorkspace {
  using D = Dual<Scalar>;
  using DualVector = Eigen::Matrix<D, Eigen::Dynamic, 1>;
  using DualMatrix = Eigen::Matrix<D, Eigen::Dynamic, Eigen::Dynamic>;
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;

  TangentWorkspace(const Mlp<Scalar>& model, Eigen::Index max_batch)
      : dual_model(model.template cast<D>()),
        ws(dual_model, max_batch),
        inputs(model.input_dim(), max_batch),
        targets(model.output_dim(), max_batch),
        outputs(model.output_dim(), max_batch),
        gradient(model.num_parameters()),
        values(model, max_batch) {
    const std::size_t L = std::size_t(model.num_layers());
    dot_pre.resize(L);
    dot_post.resize(L);
    dot_delta.resize(L);
    dot_hat.resize(L);
    dot_inv_std.resize(L);
    for (std::size_t l = 0; l < L; ++l) {
      const Eigen::Index n = model.width(Eigen::Index(l) + 1);
      dot_pre[l].resize(n, max_batch);
      dot_post[l].resize(n, max_batch);
      dot_delta[l].resize(n, max_batch);
      if (model.has_batch_norm(Eigen::Index(l))) {
        dot_hat[l].resize(n, max_batch);
        dot_inv_std[l].resize(n);
      }
    }
  }

  Mlp<D> dual_model;
  MlpWorkspace<D> ws;
  DualMatrix inputs, targets, outputs;
  DualVector gradient;
  MlpWorkspace<Scalar> values;                   ///< value part of the split HVP
  std::vector<Matrix> dot_pre, dot_post, dot_delta;  ///< tangents ȧ, ż, δ̇ per layer
  std::vector<Matrix> dot_hat;                       ///< tangent of x̂ (batch-norm layers)
  std::vector<Eigen::Matrix<Scalar, Eigen::Dynamic, 1>> dot_inv_std;  ///< tangent of r = 1/√(v + ε)
};

namespace detail {

/// dual_model ← θ + ε·v (v empty means 0), with the running statistics of `model`.
template <class Scalar>
void seed_parameters(const Mlp<Scalar>& model, const Eigen::Ref<const typename Mlp<Scalar>::Vector>& v,
                     TangentWorkspace<Scalar>& tw) {
  using D = Dual<Scalar>;
  auto& p = tw.dual_model.parameters();
  if (v.size() == 0)
    p = model.parameters().template cast<D>();
  else
    p = model.parameters().binaryExpr(v, [](const Scalar& a, const Scalar& b) { return D(a, b); });
  for (Eigen::Index l = 0; l < model.num_layers(); ++l)
    if (model.has_batch_norm(l)) {
      tw.dual_model.running_mean(l) = model.running_mean(l).template cast<D>();
      tw.dual_model.running_var(l) = model.running_var(l).template cast<D>();
    }
}

template <class Scalar>
void check_tangent_workspace(const char* fn, const Mlp<Scalar>& model, const TangentWorkspace<Scalar>& tw) {
  require(tw.ws.widths == model.spec().widths, fn, "workspace", "built for other widths",
          "a TangentWorkspace made for this network");
  require(tw.dual_model.spec().batch_norm == model.spec().batch_norm, fn, "workspace",
          "built for another batch-norm setting", "a TangentWorkspace made for this network");
}

/// Tangent of the output adjoint δf = scale·∂(Σ l_s)/∂f along ḟ (written to dd):
/// squared error: scale·ḟ; softmax cross-entropy: scale·(p ⊙ ḟ − p (pᵀḟ)), p = softmax(f).
template <class Scalar, class Targets, class DF, class DFD, class DDD>
void output_adjoint_tangent(const Targets&, const Eigen::MatrixBase<DF>& f, const Eigen::MatrixBase<DFD>& f_dot,
                            const Eigen::MatrixBase<DDD>& dd_, Scalar scale) {
  using std::exp;
  auto& dd = const_cast<Eigen::MatrixBase<DDD>&>(dd_).derived();
  if constexpr (std::is_same_v<Targets, Eigen::Ref<const Eigen::VectorXi>>) {
    for (Eigen::Index s = 0; s < f.cols(); ++s) {
      const Scalar m = f.col(s).maxCoeff();
      dd.col(s) = (f.col(s).array() - m).exp().matrix();
      dd.col(s) /= dd.col(s).sum();  // p
      const Scalar pf = dd.col(s).dot(f_dot.col(s));
      dd.col(s) = scale * (dd.col(s).array() * (f_dot.col(s).array() - pf)).matrix();
    }
  } else {
    dd = scale * f_dot;
  }
}

/// Forward-over-reverse on split value/tangent buffers (networks without batch norm). Writes H v to
/// hv and, if `gradient` is non-null, the gradient; returns the mean loss. Arguments already checked.
/// Tangent of batch norm, layer l. On entry tw.dot_hat holds ȧ (pre-normalisation); on exit it holds
/// the tangent of x̂ and tw.dot_pre the tangent of y = γ x̂ + β. Per feature, train mode:
/// μ̇ = mean ȧ, ċ = ȧ − μ̇, v̇ = 2 mean(c ċ), ṙ = −½ r³ v̇, x̂̇ = r ċ + c ṙ (c = x̂/r); eval mode: x̂̇ = r ȧ.
template <class Scalar>
void batch_norm_tangent_forward(const Mlp<Scalar>& model, Eigen::Index l,
                                const typename Mlp<Scalar>::ConstVectorRef& v, TangentWorkspace<Scalar>& tw,
                                Mode mode) {
  const std::size_t k = std::size_t(l);
  MlpWorkspace<Scalar>& ws = tw.values;
  const Eigen::Index S = ws.batch, n = model.width(l + 1);
  const Scalar inv_s = Scalar(1) / Scalar(double(S));
  auto xh = ws.bn_hat[k].leftCols(S);
  auto xd = tw.dot_hat[k].leftCols(S);
  auto yd = tw.dot_pre[k].leftCols(S);
  const Scalar* g_dot = v.data() + model.bn_scale_offset(l);
  const Scalar* b_dot = v.data() + model.bn_shift_offset(l);
  for (Eigen::Index i = 0; i < n; ++i) {
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
    tw.dot_inv_std[k][i] = r_dot;
    yd.row(i) = g_dot[i] * xh.row(i) + model.bn_scale(l)[i] * xd.row(i);
    yd.row(i).array() += b_dot[i];
  }
}

/// Adjoint of batch norm and its tangent, layer l. On entry ws.delta = g = dL/dy and tw.dot_delta = ġ;
/// on exit dL/da and its tangent. Writes the γ, β entries of H v (and of the gradient if non-null).
/// Train mode, per feature: dL/da = γ r (g − m₁ − x̂ m₂) with m₁ = mean g, m₂ = mean(g x̂); its tangent
/// (γ̇ r + γ ṙ)(g − m₁ − x̂ m₂) + γ r (ġ − ṁ₁ − x̂̇ m₂ − x̂ ṁ₂). Eval mode: m₁ = m₂ = 0, ṙ = 0.
template <class Scalar>
void batch_norm_tangent_backward(const Mlp<Scalar>& model, Eigen::Index l,
                                 const typename Mlp<Scalar>::ConstVectorRef& v, TangentWorkspace<Scalar>& tw,
                                 Mode mode, typename Mlp<Scalar>::VectorRef hv, Scalar* gradient) {
  const std::size_t k = std::size_t(l);
  MlpWorkspace<Scalar>& ws = tw.values;
  const Eigen::Index S = ws.batch, n = model.width(l + 1);
  const Scalar inv_s = Scalar(1) / Scalar(double(S));
  auto xh = ws.bn_hat[k].leftCols(S);
  auto xd = tw.dot_hat[k].leftCols(S);
  auto g = ws.delta[k].leftCols(S);
  auto gd = tw.dot_delta[k].leftCols(S);
  const Eigen::Index os = model.bn_scale_offset(l), ob = model.bn_shift_offset(l);
  for (Eigen::Index i = 0; i < n; ++i) {
    const Scalar gamma = model.bn_scale(l)[i], gamma_dot = v[os + i];
    const Scalar r = ws.bn_inv_std[k][i], r_dot = tw.dot_inv_std[k][i];
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
    for (Eigen::Index s = 0; s < S; ++s) {
      const Scalar centred = g(i, s) - m1 - xh(i, s) * m2;
      gd(i, s) = a * centred + b * (gd(i, s) - m1d - xd(i, s) * m2 - xh(i, s) * m2d);
      g(i, s) = b * centred;
    }
  }
}

template <class Scalar, class Targets>
Scalar split_hvp(const Mlp<Scalar>& model, const typename Mlp<Scalar>::ConstMatrixRef& x, const Targets& targets,
                 const typename Mlp<Scalar>::ConstVectorRef& v, typename Mlp<Scalar>::VectorRef hv,
                 TangentWorkspace<Scalar>& tw, Mode mode, Scalar* gradient) {
  using Matrix = typename Mlp<Scalar>::Matrix;
  using Vector = typename Mlp<Scalar>::Vector;
  MlpWorkspace<Scalar>& ws = tw.values;
  const Eigen::Index S = x.cols();
  const Eigen::Index L = model.num_layers();
  const Scalar slope(model.spec().leaky_relu_slope);
  auto activation = [&](Eigen::Index l) {
    return l + 1 < L ? model.spec().hidden_activation : model.spec().output_activation;
  };
  forward_pass(model, x, ws, mode);
  // Tangent forward: ȧ = c_w (Ẇ z + W ż) + c_b ḃ, ż' = φ'(a) ⊙ ȧ (ż = 0 at the input).
  for (Eigen::Index l = 0; l < L; ++l) {
    const std::size_t k = std::size_t(l);
    const Eigen::Index n_out = model.width(l + 1), n_in = model.width(l);
    const Eigen::Map<const Matrix> w_dot(v.data() + model.weights_offset(l), n_out, n_in);
    const Eigen::Map<const Vector> b_dot(v.data() + model.bias_offset(l), n_out);
    const Scalar cw = model.weight_multiplier(l);
    // With batch norm, ȧ (before normalisation) goes to dot_hat and dot_pre receives ẏ.
    auto ad = model.has_batch_norm(l) ? tw.dot_hat[k].leftCols(S) : tw.dot_pre[k].leftCols(S);
    if (l == 0) {
      gemm_nn<Scalar>(ad, cw, w_dot, x);
    } else {
      gemm_nn<Scalar>(ad, cw, w_dot, ws.post[k - 1].leftCols(S));
      gemm_nn<Scalar>(ad, cw, model.weights(l), tw.dot_post[k - 1].leftCols(S), true);
    }
    ad.colwise() += model.bias_multiplier(l) * b_dot;
    if (model.has_batch_norm(l)) batch_norm_tangent_forward(model, l, v, tw, mode);
    auto zd = tw.dot_post[k].leftCols(S);
    zd = tw.dot_pre[k].leftCols(S);
    multiply_by_activation_derivative(activation(l), slope, ws.pre[k].leftCols(S), ws.post[k].leftCols(S), zd);
  }
  const std::size_t last = std::size_t(L - 1);
  const Scalar inv_s = Scalar(1) / Scalar(double(S));
  const Scalar sum = output_adjoint(model, targets, ws, inv_s);
  output_adjoint_tangent(targets, ws.post[last].leftCols(S), tw.dot_post[last].leftCols(S),
                         tw.dot_delta[last].leftCols(S), inv_s);
  // Reverse pass on (δ, δ̇): δa = φ'(a) δz, δ̇a = φ'(a) δ̇z + φ''(a) ȧ δz;
  // Ḣ_W = c_w (δ̇a zᵀ + δa żᵀ), Ḣ_b = c_b Σ_s δ̇a, δ̇z = c_w (Ẇᵀ δa + Wᵀ δ̇a).
  for (Eigen::Index l = L - 1; l >= 0; --l) {
    const std::size_t k = std::size_t(l);
    const Eigen::Index n_out = model.width(l + 1), n_in = model.width(l);
    const Scalar cw = model.weight_multiplier(l);
    const Scalar cb = model.bias_multiplier(l);
    auto d = ws.delta[k].leftCols(S);
    auto dd = tw.dot_delta[k].leftCols(S);
    activation_second_order_adjoint(activation(l), slope, ws.pre[k].leftCols(S), ws.post[k].leftCols(S),
                                    tw.dot_pre[k].leftCols(S), d, dd);
    multiply_by_activation_derivative(activation(l), slope, ws.pre[k].leftCols(S), ws.post[k].leftCols(S), d);
    if (model.has_batch_norm(l)) batch_norm_tangent_backward(model, l, v, tw, mode, hv, gradient);
    Eigen::Map<Matrix> hw(hv.data() + model.weights_offset(l), n_out, n_in);
    if (l == 0) {
      gemm_nt<Scalar>(hw, cw, dd, x);
    } else {
      gemm_nt<Scalar>(hw, cw, dd, ws.post[k - 1].leftCols(S));
      gemm_nt<Scalar>(hw, cw, d, tw.dot_post[k - 1].leftCols(S), true);
    }
    Eigen::Map<Vector>(hv.data() + model.bias_offset(l), n_out).noalias() = cb * dd.rowwise().sum();
    if (gradient) {
      Eigen::Map<Matrix> gw(gradient + model.weights_offset(l), n_out, n_in);
      if (l == 0)
        gemm_nt<Scalar>(gw, cw, d, x);
      else
        gemm_nt<Scalar>(gw, cw, d, ws.post[k - 1].leftCols(S));
      Eigen::Map<Vector>(gradient + model.bias_offset(l), n_out).noalias() = cb * d.rowwise().sum();
    }
    if (l > 0) {
      const Eigen::Map<const Matrix> w_dot(v.data() + model.weights_offset(l), n_out, n_in);
      auto dd_below = tw.dot_delta[k - 1].leftCols(S);
      gemm_tn<Scalar>(dd_below, cw, w_dot, d);
      gemm_tn<Scalar>(dd_below, cw, model.weights(l), dd, true);
      gemm_tn<Scalar>(ws.delta[k - 1].leftCols(S), cw, model.weights(l), d);
    }
  }
  return sum * inv_s;
}

template <class Scalar, class Targets>
Scalar hvp_impl(const char* fn, const Mlp<Scalar>& model, const typename Mlp<Scalar>::ConstMatrixRef& inputs,
                const Targets& targets, const typename Mlp<Scalar>::ConstVectorRef& direction,
                typename Mlp<Scalar>::VectorRef hv, TangentWorkspace<Scalar>& tw, Mode mode, Scalar* gradient) {
  check_tangent_workspace(fn, model, tw);
  const Eigen::Index S = inputs.cols();
  require(S >= 1 && S <= tw.ws.max_batch, fn, "inputs.cols()", S, "1 <= S <= the workspace's max_batch");
  require_shape(fn, "direction", direction, model.num_parameters(), 1);
  if (!direction.allFinite()) require_finite(fn, "direction", direction);
  require_shape(fn, "hv", hv, model.num_parameters(), 1);
  require_shape(fn, "inputs", inputs, model.input_dim(), -1);
  if (!inputs.allFinite()) require_finite(fn, "inputs", inputs);
  check_targets(fn, model, targets, S);
  return split_hvp(model, inputs, targets, direction, hv, tw, mode, gradient);
}

}  // namespace detail

/// Exact Hessian–vector product H v of the MEAN loss (squared error, targets d_out × S) by
/// forward-over-reverse: the reverse pass is run in dual numbers with parameters θ + ε·v, and the ε
/// part of the gradient is H v (no finite differences; exact up to rounding). Returns the loss.
/// The dual numbers are held as separate value and tangent matrices (struct-of-arrays Dual<Scalar>)
/// so that every product is a plain Scalar GEMM; the tests check the result against the ordinary
/// reverse pass (loss_and_gradient) run on a Mlp<Dual<Scalar>>.
/// Default train mode: with batch norm, H includes the dependence of the batch statistics on θ.
/// ReLU kinks contribute nothing (relu'' = 0 almost everywhere). Cost ≈ 2.5 gradients of GEMM work.
template <class Scalar>
Scalar hessian_vector_product(const Mlp<Scalar>& model, const typename Mlp<Scalar>::ConstMatrixRef& inputs,
                              const typename Mlp<Scalar>::ConstMatrixRef& targets,
                              const typename Mlp<Scalar>::ConstVectorRef& direction,
                              typename Mlp<Scalar>::VectorRef hv, TangentWorkspace<Scalar>& tw,
                              Mode mode = Mode::train) {
  return detail::hvp_impl("hessian_vector_product", model, inputs, targets, direction, hv, tw, mode,
                          static_cast<Scalar*>(nullptr));
}
/// Same for softmax cross-entropy with integer labels.
template <class Scalar>
Scalar hessian_vector_product(const Mlp<Scalar>& model, const typename Mlp<Scalar>::ConstMatrixRef& inputs,
                              const typename Mlp<Scalar>::LabelsRef& labels,
                              const typename Mlp<Scalar>::ConstVectorRef& direction,
                              typename Mlp<Scalar>::VectorRef hv, TangentWorkspace<Scalar>& tw,
                              Mode mode = Mode::train) {
  return detail::hvp_impl("hessian_vector_product", model, inputs, labels, direction, hv, tw, mode,
                          static_cast<Scalar*>(nullptr));
}
/// H v and the gradient g from the same pass (the value part of the dual gradient; 2 extra GEMMs per layer).
template <class Scalar>
Scalar gradient_and_hessian_vector_product(const Mlp<Scalar>& model,
                                           const typename Mlp<Scalar>::ConstMatrixRef& inputs,
                                           const typename Mlp<Scalar>::ConstMatrixRef& targets,
                                           const typename Mlp<Scalar>::ConstVectorRef& direction,
                                           typename Mlp<Scalar>::VectorRef gradient,
                                           typename Mlp<Scalar>::VectorRef hv, TangentWorkspace<Scalar>& tw,
                                           Mode mode = Mode::train) {
  require_shape("gradient_and_hessian_vector_product", "gradient", gradient, model.num_parameters(), 1);
  return detail::hvp_impl("gradient_and_hessian_vector_product", model, inputs, targets, direction, hv, tw, mode,
                          gradient.data());
}
template <class Scalar>
Scalar gradient_and_hessian_vector_product(const Mlp<Scalar>& model,
                                           const typename Mlp<Scalar>::ConstMatrixRef& inputs,
                                           const typename Mlp<Scalar>::LabelsRef& labels,
                                           const typename Mlp<Scalar>::ConstVectorRef& direction,
                                           typename Mlp<Scalar>::VectorRef gradient,
                                           typename Mlp<Scalar>::VectorRef hv, TangentWorkspace<Scalar>& tw,
                                           Mode mode = Mode::train) {
  require_shape("gradient_and_hessian_vector_product", "gradient", gradient, model.num_parameters(), 1);
  return detail::hvp_impl("gradient_and_hessian_vector_product", model, inputs, labels, direction, hv, tw, mode,
                          gradient.data());
}

}  // namespace sgdsde::nn
