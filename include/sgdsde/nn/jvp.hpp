// sgdsde/nn/jvp.hpp — Jacobian–vector products of the MLP outputs in forward mode: the network runs on
// Dual<Scalar> with parameters θ + ε·v and inputs X + ε·U, and the ε part of f is J_θ v + J_X U.
#pragma once

#include <algorithm>

#include <Eigen/Core>

#include "sgdsde/core/dual.hpp"
#include "sgdsde/core/error.hpp"
#include "sgdsde/core/types.hpp"
#include "sgdsde/nn/gradient.hpp"
#include "sgdsde/nn/tangent.hpp"

namespace sgdsde::nn {

/// Result of a returning jvp: f(X) and J_θ v + J_X U (d_out × S each).
template <class Scalar>
struct OutputsAndTangent {
  MatrixX<Scalar> outputs, tangent;
};

/// Jacobian–vector product of the outputs in forward mode: outputs = f(X) and
/// tangent = J_θ v + J_X U (d_out × S), i.e. the derivative of f(θ + t v; X + t U) at t = 0.
/// Pass an empty vector / matrix for a zero parameter / input direction. Default eval mode.
template <class Scalar>
void jvp(const Mlp<Scalar>& net, const typename Mlp<Scalar>::ConstMatrixRef& inputs,
         const typename Mlp<Scalar>::ConstVectorRef& parameter_direction,
         const typename Mlp<Scalar>::ConstMatrixRef& input_direction, typename Mlp<Scalar>::MatrixRef outputs,
         typename Mlp<Scalar>::MatrixRef tangent, TangentWorkspace<Scalar>& tw, Mode mode = Mode::eval) {
  using D = Dual<Scalar>;
  const char* fn = "jvp";
  const Index S = inputs.cols();
  require_shape(fn, "inputs", inputs, net.input_dim(), -1);
  require(S >= 1, fn, "inputs.cols()", S, "a batch of at least 1 sample");
  detail::check_tangent_workspace(fn, net, tw, S);
  if (!inputs.allFinite()) require_finite(fn, "inputs", inputs);
  if (parameter_direction.size() != 0) {
    require_shape(fn, "parameter_direction", parameter_direction, net.num_parameters(), 1);
    if (!parameter_direction.allFinite()) require_finite(fn, "parameter_direction", parameter_direction);
  }
  if (input_direction.size() != 0) {
    require_shape(fn, "input_direction", input_direction, net.input_dim(), S);
    if (!input_direction.allFinite()) require_finite(fn, "input_direction", input_direction);
  }
  require_shape(fn, "outputs", outputs, net.output_dim(), S);
  require_shape(fn, "tangent", tangent, net.output_dim(), S);
  detail::seed_parameters(net, parameter_direction, tw);
  if (input_direction.size() == 0)
    tw.inputs.leftCols(S) = inputs.template cast<D>();
  else
    tw.inputs.leftCols(S) =
        inputs.binaryExpr(input_direction, [](const Scalar& a, const Scalar& b) { return D(a, b); });
  forward(tw.dual_model, tw.inputs.leftCols(S), tw.outputs.leftCols(S), tw.ws, mode);
  outputs = tw.outputs.leftCols(S).unaryExpr([](const D& d) { return d.value; });
  tangent = tw.outputs.leftCols(S).unaryExpr([](const D& d) { return d.tangent; });
}
/// Returning form: {outputs, tangent}; the input direction may be left out (zero).
template <class Scalar>
OutputsAndTangent<Scalar> jvp(const Mlp<Scalar>& net, const typename Mlp<Scalar>::ConstMatrixRef& inputs,
                              const typename Mlp<Scalar>::ConstVectorRef& parameter_direction,
                              const typename Mlp<Scalar>::ConstMatrixRef& input_direction = MatrixX<Scalar>(),
                              Mode mode = Mode::eval) {
  TangentWorkspace<Scalar> tw(net, std::max<Index>(inputs.cols(), 1));
  OutputsAndTangent<Scalar> r{MatrixX<Scalar>(net.output_dim(), inputs.cols()),
                              MatrixX<Scalar>(net.output_dim(), inputs.cols())};
  jvp(net, inputs, parameter_direction, input_direction, r.outputs, r.tangent, tw, mode);
  return r;
}

}  // namespace sgdsde::nn
