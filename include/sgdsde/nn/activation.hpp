// sgdsde/nn/activation.hpp — pointwise activations of the MLP (ReLU, leaky ReLU, erf, tanh, identity)
// and their derivatives, applied to whole batches (features × samples) in one pass.
#pragma once

#include <cmath>
#include <type_traits>

#include <Eigen/Core>

namespace sgdsde::nn {

/// φ applied after each dense layer. relu'(0) and leaky_relu'(0) are taken as the left derivative
/// (0 and the slope), matching PyTorch; erf is the plain Gauss error function erf(x) (as in the
/// neural-tangents kernels), not a rescaled GELU.
enum class Activation { identity, relu, leaky_relu, erf, tanh };

inline const char* to_string(Activation a) {
  switch (a) {
    case Activation::identity: return "identity";
    case Activation::relu: return "relu";
    case Activation::leaky_relu: return "leaky_relu";
    case Activation::erf: return "erf";
    case Activation::tanh: return "tanh";
  }
  return "unknown";
}

/// φ(x) for one scalar (plain or dual). `slope` is the negative-side slope of the leaky ReLU.
template <class Scalar>
inline Scalar activate(Activation a, const Scalar& x, const Scalar& slope) {
  using std::erf;
  using std::tanh;
  switch (a) {
    case Activation::identity: return x;
    case Activation::relu: return x > Scalar(0) ? x : Scalar(0);
    case Activation::leaky_relu: return x > Scalar(0) ? x : Scalar(slope * x);
    case Activation::erf: return erf(x);
    case Activation::tanh: return tanh(x);
  }
  return x;
}

/// φ'(x) for one scalar, given x and y = φ(x) (tanh uses y: φ' = 1 − y²).
template <class Scalar>
inline Scalar activation_derivative(Activation a, const Scalar& x, const Scalar& y, const Scalar& slope) {
  using std::exp;
  switch (a) {
    case Activation::identity: return Scalar(1);
    case Activation::relu: return x > Scalar(0) ? Scalar(1) : Scalar(0);
    case Activation::leaky_relu: return x > Scalar(0) ? Scalar(1) : slope;
    case Activation::erf: return Scalar(1.128379167095512573896158903121545172L) * exp(-x * x);
    case Activation::tanh: return Scalar(1) - y * y;
  }
  return Scalar(1);
}

/// Y = φ(X) elementwise. X and Y have the same shape; Y may be X itself (in place).
template <class Scalar, class DX, class DY>
inline void apply_activation(Activation a, Scalar slope, const Eigen::MatrixBase<DX>& x,
                             const Eigen::MatrixBase<DY>& y_) {
  using std::erf;
  using std::tanh;
  auto& y = const_cast<Eigen::MatrixBase<DY>&>(y_).derived();
  switch (a) {
    case Activation::identity:
      y = x;
      return;
    case Activation::relu:
      if constexpr (std::is_floating_point_v<Scalar>) {
        y.array() = x.array().cwiseMax(Scalar(0));
      } else {
        y = x.unaryExpr([](const Scalar& v) { return v > Scalar(0) ? v : Scalar(0); });
      }
      return;
    case Activation::leaky_relu:
      y = x.unaryExpr([slope](const Scalar& v) { return v > Scalar(0) ? v : Scalar(slope * v); });
      return;
    case Activation::erf:
      y = x.unaryExpr([](const Scalar& v) { return Scalar(erf(v)); });
      return;
    case Activation::tanh:
      y = x.unaryExpr([](const Scalar& v) { return Scalar(tanh(v)); });
      return;
  }
}

/// G ← G ⊙ φ'(X), given X (pre-activation) and Y = φ(X); turns dL/dY into dL/dX in place.
/// For ReLU only the sign of Y is read (Y > 0 ⇔ X > 0), so X may be a stale buffer there.
template <class Scalar, class DX, class DY, class DG>
inline void multiply_by_activation_derivative(Activation a, Scalar slope, const Eigen::MatrixBase<DX>& x,
                                              const Eigen::MatrixBase<DY>& y,
                                              const Eigen::MatrixBase<DG>& g_) {
  using std::exp;
  auto& g = const_cast<Eigen::MatrixBase<DG>&>(g_).derived();
  switch (a) {
    case Activation::identity: return;
    case Activation::relu:
      if constexpr (std::is_floating_point_v<Scalar>) {
        g.array() = (y.array() > Scalar(0)).select(g.array(), Scalar(0));
      } else {
        g = g.binaryExpr(y, [](const Scalar& gv, const Scalar& yv) { return yv > Scalar(0) ? gv : Scalar(0); });
      }
      return;
    case Activation::leaky_relu:
      g = g.binaryExpr(x, [slope](const Scalar& gv, const Scalar& xv) {
        return xv > Scalar(0) ? gv : Scalar(slope * gv);
      });
      return;
    case Activation::erf:
      g = g.binaryExpr(x, [](const Scalar& gv, const Scalar& xv) {
        return Scalar(Scalar(1.128379167095512573896158903121545172L) * exp(-xv * xv) * gv);
      });
      return;
    case Activation::tanh:
      g = g.binaryExpr(y, [](const Scalar& gv, const Scalar& yv) { return Scalar((Scalar(1) - yv * yv) * gv); });
      return;
  }
}

/// Second-order adjoint for forward-over-reverse: with x carrying the tangent ẋ and δ = dL/dy, the
/// tangent of δ ⊙ φ'(x) is φ'(x) ⊙ δ̇ + φ''(x) ⊙ ẋ ⊙ δ. On entry `dot_delta` holds δ̇, on exit that
/// tangent. φ'' = 0 for identity and (leaky) ReLU away from 0; tanh: −2y(1 − y²); erf: −2x·φ'(x).
template <class Scalar, class DX, class DY, class DXD, class DD, class DDD>
inline void activation_second_order_adjoint(Activation a, Scalar slope, const Eigen::MatrixBase<DX>& x,
                                            const Eigen::MatrixBase<DY>& y, const Eigen::MatrixBase<DXD>& x_dot,
                                            const Eigen::MatrixBase<DD>& delta,
                                            const Eigen::MatrixBase<DDD>& dot_delta_) {
  using std::exp;
  auto& dd = const_cast<Eigen::MatrixBase<DDD>&>(dot_delta_).derived();
  switch (a) {
    case Activation::identity:
    case Activation::relu:
    case Activation::leaky_relu:
      multiply_by_activation_derivative(a, slope, x, y, dd);
      return;
    case Activation::tanh:
      for (Eigen::Index j = 0; j < dd.cols(); ++j)
        for (Eigen::Index i = 0; i < dd.rows(); ++i) {
          const Scalar yv = y(i, j);
          dd(i, j) = (Scalar(1) - yv * yv) * (dd(i, j) - Scalar(2) * yv * x_dot(i, j) * delta(i, j));
        }
      return;
    case Activation::erf:
      for (Eigen::Index j = 0; j < dd.cols(); ++j)
        for (Eigen::Index i = 0; i < dd.rows(); ++i) {
          const Scalar xv = x(i, j);
          const Scalar d1 = Scalar(1.128379167095512573896158903121545172L) * exp(-xv * xv);
          dd(i, j) = d1 * (dd(i, j) - Scalar(2) * xv * x_dot(i, j) * delta(i, j));
        }
      return;
  }
}

}  // namespace sgdsde::nn
