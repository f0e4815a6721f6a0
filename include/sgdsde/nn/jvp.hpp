// sgdsde/nn/jvp.hpp — Jacobian–vector products of the MLP outputs in forward mode: the network runs on
// Dual<Scalar> with parameters θ + ε·v and inputs X + ε·U, and the ε part of f is J_θ v + J_X U.
#pragma once

#include <Eigen/Core>

#include "sgdsde/core/dual.hpp"
#include "sgdsde/core/error.hpp"
#include "sgdsde/nn/mlp.hpp"
#include "sgdsde/nn/tangent.hpp"

namespace sgdsde::nn {

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
