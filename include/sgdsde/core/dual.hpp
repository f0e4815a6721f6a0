// sgdsde/core/dual.hpp — forward-mode dual numbers x + ε·ẋ (ε² = 0) usable as an Eigen scalar.
// Used for Jacobian–vector products and forward-over-reverse Hessian–vector products of networks.
#pragma once

#include <cmath>
#include <limits>
#include <ostream>
#include <type_traits>

#include <Eigen/Core>

namespace sgdsde {

/// Dual numbers and their math functions live in sgdsde::ad so that the overloads of exp, log, max, ...
/// are found by argument-dependent lookup only, and never hide ::exp etc. for plain scalars in code
/// inside namespace sgdsde. `sgdsde::Dual` names the same type.
namespace ad {

/// A first-order dual number: `value` + ε·`tangent`, ε² = 0. Every function f applied to it returns
/// f(value) + ε·f'(value)·tangent, so the tangent part of a computation is its directional
/// derivative, exact up to rounding (no truncation error). Comparisons look at the value only, so
/// piecewise functions (ReLU, max) take the derivative of the branch selected by the value.
template <class Scalar>
struct Dual {
  static_assert(std::is_floating_point_v<Scalar>, "Dual<Scalar>: Scalar must be a floating-point type");
  using value_type = Scalar;

  Scalar value = Scalar(0);
  Scalar tangent = Scalar(0);

  constexpr Dual() = default;
  /// A constant (tangent 0). Implicit so that literals and plain scalars mix with duals.
  template <class T, std::enable_if_t<std::is_arithmetic_v<T>, int> = 0>
  constexpr Dual(T v) : value(Scalar(v)) {}  // NOLINT(google-explicit-constructor)
  constexpr Dual(Scalar v, Scalar t) : value(v), tangent(t) {}

  Dual& operator+=(const Dual& o) {
    value += o.value;
    tangent += o.tangent;
    return *this;
  }
  Dual& operator-=(const Dual& o) {
    value -= o.value;
    tangent -= o.tangent;
    return *this;
  }
  Dual& operator*=(const Dual& o) {
    tangent = tangent * o.value + value * o.tangent;
    value *= o.value;
    return *this;
  }
  Dual& operator/=(const Dual& o) {
    const Scalar inv = Scalar(1) / o.value;
    value *= inv;
    tangent = (tangent - value * o.tangent) * inv;
    return *this;
  }
};

using Duald = Dual<double>;
using Dualf = Dual<float>;

template <class T>
struct is_dual : std::false_type {};
template <class S>
struct is_dual<Dual<S>> : std::true_type {};
template <class T>
inline constexpr bool is_dual_v = is_dual<T>::value;

/// The value (real part) of a plain scalar or a dual number.
template <class S>
inline S value_of(const Dual<S>& x) {
  return x.value;
}
template <class S, std::enable_if_t<std::is_arithmetic_v<S>, int> = 0>
inline S value_of(S x) {
  return x;
}
/// The tangent (ε part) of a dual number; 0 for a plain scalar.
template <class S>
inline S tangent_of(const Dual<S>& x) {
  return x.tangent;
}

// Arithmetic. Mixed operands (dual with a plain Scalar) avoid the multiplications by a zero tangent.
template <class S>
inline Dual<S> operator+(const Dual<S>& a) {
  return a;
}
template <class S>
inline Dual<S> operator-(const Dual<S>& a) {
  return {-a.value, -a.tangent};
}
template <class S>
inline Dual<S> operator+(const Dual<S>& a, const Dual<S>& b) {
  return {a.value + b.value, a.tangent + b.tangent};
}
template <class S>
inline Dual<S> operator-(const Dual<S>& a, const Dual<S>& b) {
  return {a.value - b.value, a.tangent - b.tangent};
}
template <class S>
inline Dual<S> operator*(const Dual<S>& a, const Dual<S>& b) {
  return {a.value * b.value, a.tangent * b.value + a.value * b.tangent};
}
template <class S>
inline Dual<S> operator/(const Dual<S>& a, const Dual<S>& b) {
  const S inv = S(1) / b.value;
  const S v = a.value * inv;
  return {v, (a.tangent - v * b.tangent) * inv};
}

#define SGDSDE_DUAL_MIXED_OPS(OP)                                                    \
  template <class S, class T, std::enable_if_t<std::is_arithmetic_v<T>, int> = 0>    \
  inline Dual<S> operator OP(const Dual<S>& a, T b) {                                \
    return a OP Dual<S>(b);                                                          \
  }                                                                                  \
  template <class S, class T, std::enable_if_t<std::is_arithmetic_v<T>, int> = 0>    \
  inline Dual<S> operator OP(T a, const Dual<S>& b) {                                \
    return Dual<S>(a) OP b;                                                          \
  }
SGDSDE_DUAL_MIXED_OPS(+)
SGDSDE_DUAL_MIXED_OPS(-)
SGDSDE_DUAL_MIXED_OPS(/)
#undef SGDSDE_DUAL_MIXED_OPS

template <class S, class T, std::enable_if_t<std::is_arithmetic_v<T>, int> = 0>
inline Dual<S> operator*(const Dual<S>& a, T b) {
  return {a.value * S(b), a.tangent * S(b)};
}
template <class S, class T, std::enable_if_t<std::is_arithmetic_v<T>, int> = 0>
inline Dual<S> operator*(T a, const Dual<S>& b) {
  return {S(a) * b.value, S(a) * b.tangent};
}

// Comparisons act on values only.
#define SGDSDE_DUAL_COMPARISON(OP)                                                   \
  template <class S>                                                                 \
  inline bool operator OP(const Dual<S>& a, const Dual<S>& b) {                      \
    return a.value OP b.value;                                                       \
  }                                                                                  \
  template <class S, class T, std::enable_if_t<std::is_arithmetic_v<T>, int> = 0>    \
  inline bool operator OP(const Dual<S>& a, T b) {                                   \
    return a.value OP S(b);                                                          \
  }                                                                                  \
  template <class S, class T, std::enable_if_t<std::is_arithmetic_v<T>, int> = 0>    \
  inline bool operator OP(T a, const Dual<S>& b) {                                   \
    return S(a) OP b.value;                                                          \
  }
SGDSDE_DUAL_COMPARISON(<)
SGDSDE_DUAL_COMPARISON(>)
SGDSDE_DUAL_COMPARISON(<=)
SGDSDE_DUAL_COMPARISON(>=)
SGDSDE_DUAL_COMPARISON(==)
SGDSDE_DUAL_COMPARISON(!=)
#undef SGDSDE_DUAL_COMPARISON

// Math functions (found by argument-dependent lookup after `using std::exp;` etc.).
template <class S>
inline Dual<S> exp(const Dual<S>& x) {
  using std::exp;
  const S e = exp(x.value);
  return {e, e * x.tangent};
}
/// Precondition: x.value > 0 (as for std::log; otherwise the value part is NaN/−Inf).
template <class S>
inline Dual<S> log(const Dual<S>& x) {
  using std::log;
  return {log(x.value), x.tangent / x.value};
}
/// Precondition: x.value > 0 for a finite tangent (the derivative of √x at 0 is infinite).
template <class S>
inline Dual<S> sqrt(const Dual<S>& x) {
  using std::sqrt;
  const S r = sqrt(x.value);
  return {r, x.tangent / (S(2) * r)};
}
template <class S>
inline Dual<S> tanh(const Dual<S>& x) {
  using std::tanh;
  const S t = tanh(x.value);
  return {t, (S(1) - t * t) * x.tangent};
}
/// erf'(x) = 2/√π · exp(−x²).
template <class S>
inline Dual<S> erf(const Dual<S>& x) {
  using std::erf;
  using std::exp;
  const S two_over_sqrt_pi = S(1.128379167095512573896158903121545172L);
  return {erf(x.value), two_over_sqrt_pi * exp(-x.value * x.value) * x.tangent};
}
/// |x|, with derivative sign(x) (0 taken as +).
template <class S>
inline Dual<S> abs(const Dual<S>& x) {
  return x.value < S(0) ? -x : x;
}
/// max(a, b) as std::max: returns a when a.value ≥ b.value, so max(x, 0) at x = 0 has tangent of x
/// (use `x > 0 ? x : 0` for the ReLU convention relu'(0) = 0).
template <class S>
inline Dual<S> max(const Dual<S>& a, const Dual<S>& b) {
  return a.value < b.value ? b : a;
}
template <class S>
inline Dual<S> min(const Dual<S>& a, const Dual<S>& b) {
  return b.value < a.value ? b : a;
}
/// x^p for a constant exponent p; precondition x.value > 0 unless p is a positive integer.
template <class S>
inline Dual<S> pow(const Dual<S>& x, S p) {
  using std::pow;
  const S v = pow(x.value, p);
  return {v, p * pow(x.value, p - S(1)) * x.tangent};
}
template <class S>
inline bool isfinite(const Dual<S>& x) {
  using std::isfinite;
  return isfinite(x.value) && isfinite(x.tangent);
}
template <class S>
inline bool isnan(const Dual<S>& x) {
  using std::isnan;
  return isnan(x.value) || isnan(x.tangent);
}
template <class S>
inline bool isinf(const Dual<S>& x) {
  using std::isinf;
  return isinf(x.value) || isinf(x.tangent);
}

template <class S>
inline std::ostream& operator<<(std::ostream& os, const Dual<S>& x) {
  return os << x.value << (x.tangent < S(0) ? " - " : " + ") << (x.tangent < S(0) ? -x.tangent : x.tangent)
            << "ε";
}

}  // namespace ad

using ad::Dual;
using ad::Duald;
using ad::Dualf;
using ad::is_dual;
using ad::is_dual_v;
using ad::tangent_of;
using ad::value_of;

}  // namespace sgdsde

namespace Eigen {

/// Dual numbers as Eigen scalars: real, signed, need initialisation; tolerances are those of the
/// underlying Scalar.
template <class S>
struct NumTraits<sgdsde::ad::Dual<S>> : GenericNumTraits<sgdsde::ad::Dual<S>> {
  using Real = sgdsde::ad::Dual<S>;
  using NonInteger = sgdsde::ad::Dual<S>;
  using Literal = sgdsde::ad::Dual<S>;
  using Nested = sgdsde::ad::Dual<S>;
  enum {
    IsComplex = 0,
    IsInteger = 0,
    IsSigned = 1,
    RequireInitialization = 1,
    ReadCost = 2 * NumTraits<S>::ReadCost,
    AddCost = 2 * NumTraits<S>::AddCost,
    MulCost = 3 * NumTraits<S>::MulCost + NumTraits<S>::AddCost
  };
  static inline Real epsilon() { return Real(NumTraits<S>::epsilon()); }
  static inline Real dummy_precision() { return Real(NumTraits<S>::dummy_precision()); }
  static inline Real highest() { return Real(NumTraits<S>::highest()); }
  static inline Real lowest() { return Real(NumTraits<S>::lowest()); }
  static inline Real infinity() { return Real(NumTraits<S>::infinity()); }
  static inline Real quiet_NaN() { return Real(NumTraits<S>::quiet_NaN()); }
  static inline int digits10() { return NumTraits<S>::digits10(); }
  static inline int digits() { return NumTraits<S>::digits(); }
};

/// Mixed expressions dual ⊙ plain scalar (e.g. a dual matrix scaled by a double).
template <class S, class BinaryOp>
struct ScalarBinaryOpTraits<sgdsde::ad::Dual<S>, S, BinaryOp> {
  using ReturnType = sgdsde::ad::Dual<S>;
};
template <class S, class BinaryOp>
struct ScalarBinaryOpTraits<S, sgdsde::ad::Dual<S>, BinaryOp> {
  using ReturnType = sgdsde::ad::Dual<S>;
};

}  // namespace Eigen
