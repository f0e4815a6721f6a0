// sgdsde/nn/tangent.hpp — forward-mode derivatives of the MLP with dual numbers: Jacobian–vector
// products of the outputs, and exact Hessian–vector products of the loss by forward-over-reverse.
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
///     and staging — used by jvp, and by the HVP of networks with batch norm;
/// (2) split value/tangent buffers (`values`, dot_*) — the HVP of networks without batch norm runs
///     the same forward-over-reverse recursion on separate value and tangent matrices so every
///     product is a plain Scalar GEMM (about 2.5× the GEMM work of one gradient).
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
    for (std::size_t l = 0; l < L; ++l) {
      const Eigen::Index n = model.width(Eigen::Index(l) + 1);
      dot_pre[l].resize(n, max_batch);
      dot_post[l].resize(n, max_batch);
      dot_delta[l].resize(n, max_batch);
    }
  }

  Mlp<D> dual_model;
  MlpWorkspace<D> ws;
  DualMatrix inputs, targets, outputs;
  DualVector gradient;
  MlpWorkspace<Scalar> values;                   ///< value part of the split HVP
  std::vector<Matrix> dot_pre, dot_post, dot_delta;  ///< tangents ȧ, ż, δ̇ per layer
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
template <class Scalar, class Targets>
Scalar split_hvp(const Mlp<Scalar>& model, const typename Mlp<Scalar>::ConstMatrixRef& x, const Targets& targets,
                 const typename Mlp<Scalar>::ConstVectorRef& v, typename Mlp<Scalar>::VectorRef hv,
                 TangentWorkspace<Scalar>& tw, Scalar* gradient) {
  using Matrix = typename Mlp<Scalar>::Matrix;
  using Vector = typename Mlp<Scalar>::Vector;
  MlpWorkspace<Scalar>& ws = tw.values;
  const Eigen::Index S = x.cols();
  const Eigen::Index L = model.num_layers();
  const Scalar slope(model.spec().leaky_relu_slope);
  auto activation = [&](Eigen::Index l) {
    return l + 1 < L ? model.spec().hidden_activation : model.spec().output_activation;
  };
  forward_pass(model, x, ws, Mode::train);
  // Tangent forward: ȧ = c_w (Ẇ z + W ż) + c_b ḃ, ż' = φ'(a) ⊙ ȧ (ż = 0 at the input).
  for (Eigen::Index l = 0; l < L; ++l) {
    const std::size_t k = std::size_t(l);
    const Eigen::Index n_out = model.width(l + 1), n_in = model.width(l);
    const Eigen::Map<const Matrix> w_dot(v.data() + model.weights_offset(l), n_out, n_in);
    const Eigen::Map<const Vector> b_dot(v.data() + model.bias_offset(l), n_out);
    const Scalar cw = model.weight_multiplier(l);
    auto ad = tw.dot_pre[k].leftCols(S);
    if (l == 0) {
      ad.noalias() = (cw * w_dot) * x;
    } else {
      ad.noalias() = (cw * w_dot) * ws.post[k - 1].leftCols(S);
      ad.noalias() += (cw * model.weights(l)) * tw.dot_post[k - 1].leftCols(S);
    }
    ad.colwise() += model.bias_multiplier(l) * b_dot;
    auto zd = tw.dot_post[k].leftCols(S);
    zd = ad;
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
    Eigen::Map<Matrix> hw(hv.data() + model.weights_offset(l), n_out, n_in);
    if (l == 0) {
      hw.noalias() = (cw * dd) * x.transpose();
    } else {
      hw.noalias() = (cw * dd) * ws.post[k - 1].leftCols(S).transpose();
      hw.noalias() += (cw * d) * tw.dot_post[k - 1].leftCols(S).transpose();
    }
    Eigen::Map<Vector>(hv.data() + model.bias_offset(l), n_out).noalias() = cb * dd.rowwise().sum();
    if (gradient) {
      Eigen::Map<Matrix> gw(gradient + model.weights_offset(l), n_out, n_in);
      if (l == 0)
        gw.noalias() = (cw * d) * x.transpose();
      else
        gw.noalias() = (cw * d) * ws.post[k - 1].leftCols(S).transpose();
      Eigen::Map<Vector>(gradient + model.bias_offset(l), n_out).noalias() = cb * d.rowwise().sum();
    }
    if (l > 0) {
      const Eigen::Map<const Matrix> w_dot(v.data() + model.weights_offset(l), n_out, n_in);
      auto dd_below = tw.dot_delta[k - 1].leftCols(S);
      dd_below.noalias() = (cw * w_dot.transpose()) * d;
      dd_below.noalias() += (cw * model.weights(l).transpose()) * dd;
      ws.delta[k - 1].leftCols(S).noalias() = (cw * model.weights(l).transpose()) * d;
    }
  }
  return sum * inv_s;
}

template <class Scalar, class Targets>
Scalar hvp_impl(const char* fn, const Mlp<Scalar>& model, const typename Mlp<Scalar>::ConstMatrixRef& inputs,
                const Targets& targets, const typename Mlp<Scalar>::ConstVectorRef& direction,
                typename Mlp<Scalar>::VectorRef hv, TangentWorkspace<Scalar>& tw, Mode mode, Scalar* gradient) {
  using D = Dual<Scalar>;
  check_tangent_workspace(fn, model, tw);
  const Eigen::Index S = inputs.cols();
  require(S >= 1 && S <= tw.ws.max_batch, fn, "inputs.cols()", S, "1 <= S <= the workspace's max_batch");
  require_shape(fn, "direction", direction, model.num_parameters(), 1);
  if (!direction.allFinite()) require_finite(fn, "direction", direction);
  require_shape(fn, "hv", hv, model.num_parameters(), 1);
  require_shape(fn, "inputs", inputs, model.input_dim(), -1);
  if (!inputs.allFinite()) require_finite(fn, "inputs", inputs);
  if (!model.spec().batch_norm) {
    check_targets(fn, model, targets, S);
    return split_hvp(model, inputs, targets, direction, hv, tw, gradient);
  }
  seed_parameters(model, direction, tw);
  tw.inputs.leftCols(S) = inputs.template cast<D>();
  D loss;
  if constexpr (std::is_same_v<Targets, Eigen::Ref<const Eigen::VectorXi>>) {
    loss = loss_and_gradient(tw.dual_model, tw.inputs.leftCols(S), targets, tw.gradient, tw.ws, mode);
  } else {
    require_shape(fn, "targets", targets, model.output_dim(), S);
    tw.targets.leftCols(S) = targets.template cast<D>();
    loss = loss_and_gradient(tw.dual_model, tw.inputs.leftCols(S), tw.targets.leftCols(S), tw.gradient, tw.ws,
                             mode);
  }
  hv = tw.gradient.unaryExpr([](const D& d) { return d.tangent; });
  if (gradient)
    for (Eigen::Index i = 0; i < hv.size(); ++i) gradient[i] = tw.gradient[i].value;
  return loss.value;
}

}  // namespace detail

/// Exact Hessian–vector product H v of the MEAN loss (squared error, targets d_out × S) by
/// forward-over-reverse: the reverse pass runs on Dual<Scalar> with parameters θ + ε·v, and the ε
/// part of the gradient is H v (no finite differences; exact up to rounding). Returns the loss.
/// Default train mode: with batch norm, H includes the dependence of the batch statistics on θ.
/// ReLU kinks contribute nothing (relu'' = 0 almost everywhere). Without batch norm the dual pass
/// runs on split value/tangent buffers (plain GEMMs, see TangentWorkspace); with batch norm on a
/// Dual<Scalar> copy of the network. Both compute the same derivative.
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
/// H v and the gradient g from the same pass (the value part of the dual gradient).
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

/// Jacobian–vector product of the outputs in forward mode: outputs = f(X) and
/// tangent = J_θ v + J_X U (d_out × S), i.e. the derivative of f(θ + t v; X + t U) at t = 0.
/// Pass an empty vector / matrix for a zero parameter / input direction. Default eval mode.
template <class Scalar>
void jvp(const Mlp<Scalar>& model, const typename Mlp<Scalar>::ConstMatrixRef& inputs,
         const typename Mlp<Scalar>::ConstVectorRef& parameter_direction,
         const typename Mlp<Scalar>::ConstMatrixRef& input_direction, typename Mlp<Scalar>::MatrixRef outputs,
         typename Mlp<Scalar>::MatrixRef tangent, TangentWorkspace<Scalar>& tw, Mode mode = Mode::eval) {
  using D = Dual<Scalar>;
  const char* fn = "jvp";
  detail::check_tangent_workspace(fn, model, tw);
  const Eigen::Index S = inputs.cols();
  require_shape(fn, "inputs", inputs, model.input_dim(), -1);
  require(S >= 1 && S <= tw.ws.max_batch, fn, "inputs.cols()", S, "1 <= S <= the workspace's max_batch");
  if (!inputs.allFinite()) require_finite(fn, "inputs", inputs);
  if (parameter_direction.size() != 0) {
    require_shape(fn, "parameter_direction", parameter_direction, model.num_parameters(), 1);
    if (!parameter_direction.allFinite()) require_finite(fn, "parameter_direction", parameter_direction);
  }
  if (input_direction.size() != 0) {
    require_shape(fn, "input_direction", input_direction, model.input_dim(), S);
    if (!input_direction.allFinite()) require_finite(fn, "input_direction", input_direction);
  }
  require_shape(fn, "outputs", outputs, model.output_dim(), S);
  require_shape(fn, "tangent", tangent, model.output_dim(), S);
  detail::seed_parameters(model, parameter_direction, tw);
  if (input_direction.size() == 0)
    tw.inputs.leftCols(S) = inputs.template cast<D>();
  else
    tw.inputs.leftCols(S) =
        inputs.binaryExpr(input_direction, [](const Scalar& a, const Scalar& b) { return D(a, b); });
  forward(tw.dual_model, tw.inputs.leftCols(S), tw.outputs.leftCols(S), tw.ws, mode);
  outputs = tw.outputs.leftCols(S).unaryExpr([](const D& d) { return d.value; });
  tangent = tw.outputs.leftCols(S).unaryExpr([](const D& d) { return d.tangent; });
}

}  // namespace sgdsde::nn
