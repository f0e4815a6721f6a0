// sgdsde/curvature/operator.hpp — a symmetric linear map R^n → R^n applied matrix-free (a Hessian,
// a Gauss–Newton matrix, a noise covariance), the one input type of every curvature estimator.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/random.hpp"
#include "sgdsde/core/types.hpp"

namespace sgdsde::curvature {

/// A symmetric linear operator A: R^n → R^n given by its action v ↦ A v. Cheap to copy (the action
/// is shared). The estimators of this area call only `apply`; they assume, and never check, that A
/// is linear and symmetric (vᵀ A w = wᵀ A v), and they check every output for NaN/Inf themselves
/// (returned as Status::non_finite, not thrown).
template <class Scalar>
class LinearOperator {
 public:
  using scalar_type = Scalar;
  using Vector = VectorX<Scalar>;
  /// out = A v; `out` has size dim() on entry and must not be resized.
  using Apply = std::function<void(const Eigen::Ref<const Vector>& v, Eigen::Ref<Vector> out)>;

  /// Throws invalid_argument unless dim ≥ 1 and `apply` is non-empty.
  LinearOperator(Index dim, Apply apply) : dim_(dim) {
    require(dim >= 1, "LinearOperator", "dim", dim, "an integer >= 1");
    require(static_cast<bool>(apply), "LinearOperator", "apply", "an empty function",
            "a callable out = A v");
    apply_ = std::make_shared<const Apply>(std::move(apply));
  }

  Index dim() const { return dim_; }

  /// out = A v. Throws invalid_argument if v or out is not of size dim().
  void apply(const Eigen::Ref<const Vector>& v, Eigen::Ref<Vector> out) const {
    if (v.size() != dim_)
      sgdsde::detail::throw_invalid_argument("LinearOperator::apply", "v", "of size " + std::to_string(v.size()),
                                     "size dim() = " + std::to_string(dim_));
    if (out.size() != dim_)
      sgdsde::detail::throw_invalid_argument("LinearOperator::apply", "out",
                                     "of size " + std::to_string(out.size()),
                                     "size dim() = " + std::to_string(dim_));
    (*apply_)(v, out);
  }

  /// Returning form: A v.
  Vector operator()(const Eigen::Ref<const Vector>& v) const {
    Vector out(dim_);
    apply(v, out);
    return out;
  }

 private:
  Index dim_;
  std::shared_ptr<const Apply> apply_;
};

/// The operator v ↦ A v of a dense symmetric matrix (copied; later changes to `a` do not affect it).
/// Throws invalid_argument unless `a` is square with n ≥ 1, finite, and symmetric to
/// max|a_ij − a_ji| ≤ √ε · max(1, max|a_ij|)  (ε of Scalar).
template <class Derived>
LinearOperator<typename Derived::Scalar> matrix_operator(const Eigen::MatrixBase<Derived>& a) {
  using Scalar = typename Derived::Scalar;
  using std::sqrt;
  constexpr const char* fn = "matrix_operator";
  require_square(fn, "a", a);
  require(a.rows() >= 1, fn, "a", "0x0", "a non-empty square matrix");
  auto m = std::make_shared<const MatrixX<Scalar>>(a);
  require_finite(fn, "a", *m);
  const Scalar scale = std::max(Scalar(1), m->cwiseAbs().maxCoeff());
  const Scalar asym = (*m - m->transpose()).cwiseAbs().maxCoeff();
  require(asym <= sqrt(Eigen::NumTraits<Scalar>::epsilon()) * scale, fn, "a",
          "asymmetric (max |a_ij - a_ji| = " + sgdsde::detail::describe(asym) + ")", "a symmetric matrix");
  return LinearOperator<Scalar>(
      m->rows(), [m](const Eigen::Ref<const VectorX<Scalar>>& v, Eigen::Ref<VectorX<Scalar>> out) {
        out.noalias() = (*m) * v;
      });
}

namespace detail {
/// The Scalar of the first argument of a non-generic callable (lambda, function object, pointer).
template <class T>
struct FirstArgumentScalar : FirstArgumentScalar<decltype(&T::operator())> {};
template <class R, class A, class... Rest>
struct FirstArgumentScalar<R (*)(A, Rest...)> {
  using type = typename std::decay_t<A>::Scalar;
};
template <class C, class R, class A, class... Rest>
struct FirstArgumentScalar<R (C::*)(A, Rest...) const> {
  using type = typename std::decay_t<A>::Scalar;
};
template <class C, class R, class A, class... Rest>
struct FirstArgumentScalar<R (C::*)(A, Rest...)> {
  using type = typename std::decay_t<A>::Scalar;
};
template <class Scalar, class F>
using function_scalar_t =
    typename std::conditional_t<std::is_void_v<Scalar>, FirstArgumentScalar<std::decay_t<F>>,
                                sgdsde::detail::NonDeduced<Scalar>>::type;
}  // namespace detail

/// An operator from a returning function f(v) = A v. Scalar is that of f's parameter type
/// (e.g. `[&](const Eigen::VectorXd& v) { return H * v; }` gives double); for a generic lambda give
/// it explicitly: function_operator<float>(n, f). Every application checks the size of f's result
/// and throws invalid_argument naming `f` if it is not `dim`.
template <class Scalar = void, class F>
LinearOperator<detail::function_scalar_t<Scalar, F>> function_operator(Index dim, F f) {
  using S = detail::function_scalar_t<Scalar, F>;
  require(dim >= 1, "function_operator", "dim", dim, "an integer >= 1");
  return LinearOperator<S>(
      dim, [f = std::move(f), dim](const Eigen::Ref<const VectorX<S>>& v, Eigen::Ref<VectorX<S>> out) {
        const VectorX<S> r = f(VectorX<S>(v));
        if (r.size() != dim)
          sgdsde::detail::throw_invalid_argument("function_operator", "f",
                                                 "returning a vector of size " + std::to_string(r.size()),
                                                 "size dim = " + std::to_string(dim));
        out = r;
      });
}

namespace detail {
/// Probe j of an estimator: the Rademacher values [j·n, (j+1)·n) of `stream` (stateless, so the
/// probe depends on (seed, stream id, j) only, whatever the stream's cursor).
template <class Scalar>
void rademacher_probe(const RandomStream& stream, Index j, Eigen::Ref<VectorX<Scalar>> out) {
  stream.rademacher_at(std::uint64_t(j) * std::uint64_t(out.size()), out);
}
/// Start vector j of an iterative eigensolver: the normal values [j·n, (j+1)·n) of `stream`.
template <class Scalar>
void normal_probe(const RandomStream& stream, Index j, Eigen::Ref<VectorX<Scalar>> out) {
  stream.normal_at(std::uint64_t(j) * std::uint64_t(out.size()), out);
}
/// The operator in double of an operator in another Scalar: v is rounded to Scalar, A is applied in
/// Scalar, and A v is widened to double. The estimators run on it for every Scalar other than double,
/// so their bases, orthogonalisation and sums are in double whatever the operator's precision.
template <class Scalar>
LinearOperator<double> promote(const LinearOperator<Scalar>& a) {
  return LinearOperator<double>(a.dim(), [a](const Eigen::Ref<const VectorX<double>>& v, Eigen::Ref<VectorX<double>> out) {
    const VectorX<Scalar> vs = v.template cast<Scalar>();
    VectorX<Scalar> os(vs.size());
    a.apply(vs, os);
    out = os.template cast<double>();
  });
}
/// Throws unless first_probe ≥ 0 and the value indices of probes [first, first + count) fit in 62 bits.
inline void require_probe_range(const char* fn, Index first, Index count, Index n) {
  require(first >= 0, fn, "options.first_probe", first, "an integer >= 0");
  const double last = (double(first) + double(count)) * double(n);
  require(last < 4.0e18, fn, "options.first_probe", first, "probe indices whose values fit in the stream (< 2^62)");
}
}  // namespace detail

}  // namespace sgdsde::curvature
