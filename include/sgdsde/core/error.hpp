// sgdsde/core/error.hpp — argument errors (exceptions) and numerical outcomes (status values).
// Bad input throws sgdsde::invalid_argument naming the argument, the value and the expectation;
// numerical trouble (divergence, η·λ_max ≥ 2, a non-PD matrix) is returned as a Status, never a NaN.
#pragma once

#include <cmath>
#include <cstddef>
#include <sstream>
#include <stdexcept>
#include <string>

#include <Eigen/Core>

#if defined(__GNUC__) || defined(__clang__)
#define SGDSDE_COLD __attribute__((cold, noinline))
#else
#define SGDSDE_COLD
#endif

namespace sgdsde {

/// Thrown for arguments a caller got wrong: wrong dimensions, η ≤ 0, batch size > N,
/// non-finite input, an unreadable or corrupt file.
class invalid_argument : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

namespace detail {

template <class T>
std::string describe(const T& value) {
  std::ostringstream os;
  os.precision(17);
  os << value;
  return os.str();
}

/// The one cold path every argument check goes through.
/// Message: "<function>: argument '<argument>' is <value>; expected <expected>".
[[noreturn]] SGDSDE_COLD inline void throw_invalid_argument(const char* function, const char* argument,
                                                            const std::string& value,
                                                            const std::string& expected) {
  throw sgdsde::invalid_argument(std::string(function) + ": argument '" + argument + "' is " + value +
                                 "; expected " + expected);
}

}  // namespace detail

/// Throws unless `condition`; `value` is printed as the offending value.
template <class T>
inline void require(bool condition, const char* function, const char* argument, const T& value,
                    const char* expected) {
  if (!condition) detail::throw_invalid_argument(function, argument, detail::describe(value), expected);
}

template <class Scalar>
inline void require_positive(const char* function, const char* argument, Scalar value) {
  using std::isfinite;
  if (!(value > Scalar(0)) || !isfinite(value))
    detail::throw_invalid_argument(function, argument, detail::describe(value), "a finite value > 0");
}

/// True iff every coefficient is finite, in one vectorised pass: 0·x is NaN exactly for x = ±∞ or
/// NaN, and a sum of zeros is 0 (Eigen's allFinite does not vectorise; this is ≈ 20× faster).
template <class Derived>
inline bool all_finite(const Eigen::DenseBase<Derived>& x) {
  using Scalar = typename Derived::Scalar;
  return (x.derived().array() * Scalar(0)).sum() == Scalar(0);
}

/// Throws unless every coefficient of `m` is finite (names the first offending entry).
template <class Derived>
inline void require_finite(const char* function, const char* argument, const Eigen::DenseBase<Derived>& m) {
  using std::isfinite;
  for (Eigen::Index j = 0; j < m.cols(); ++j)
    for (Eigen::Index i = 0; i < m.rows(); ++i)
      if (!isfinite(m(i, j)))
        detail::throw_invalid_argument(function, argument,
                                       "non-finite at (" + std::to_string(i) + ", " + std::to_string(j) +
                                           ") = " + detail::describe(m(i, j)),
                                       "finite entries");
}

/// Throws unless `m` is rows × cols (a negative expectation means "any").
template <class Derived>
inline void require_shape(const char* function, const char* argument, const Eigen::EigenBase<Derived>& m,
                          Eigen::Index rows, Eigen::Index cols) {
  const bool ok = (rows < 0 || m.rows() == rows) && (cols < 0 || m.cols() == cols);
  if (!ok) {
    auto dim = [](Eigen::Index n) { return n < 0 ? std::string("any") : std::to_string(n); };
    detail::throw_invalid_argument(function, argument,
                                   std::to_string(m.rows()) + "x" + std::to_string(m.cols()),
                                   dim(rows) + "x" + dim(cols));
  }
}

template <class Derived>
inline void require_square(const char* function, const char* argument, const Eigen::EigenBase<Derived>& m) {
  if (m.rows() != m.cols())
    detail::throw_invalid_argument(function, argument,
                                   std::to_string(m.rows()) + "x" + std::to_string(m.cols()),
                                   "a square matrix");
}

/// Outcome of a numerical computation that can fail for reasons a caller should handle.
enum class Status {
  success = 0,
  non_finite,             ///< a NaN/Inf appeared (e.g. an SDE path blew up)
  diverged,               ///< a monitored quantity exceeded its bound
  unstable_step,          ///< step size outside the stability region (η·λ_max ≥ 2, ρ(A) ≥ 1, ...)
  not_positive_definite,  ///< a matrix required to be (semi)definite is not
  singular,               ///< a linear system has no unique solution
  no_convergence,         ///< an iteration hit its limit before its tolerance
  ill_conditioned         ///< a result was computed but its condition estimate times ε exceeds √ε:
                          ///< fewer than about half its digits can be trusted
};

inline const char* to_string(Status s) {
  switch (s) {
    case Status::success: return "success";
    case Status::non_finite: return "non_finite";
    case Status::diverged: return "diverged";
    case Status::unstable_step: return "unstable_step";
    case Status::not_positive_definite: return "not_positive_definite";
    case Status::singular: return "singular";
    case Status::no_convergence: return "no_convergence";
    case Status::ill_conditioned: return "ill_conditioned";
  }
  return "unknown";
}

/// A status with where it happened: `step` (or -1), the offending `value`, and a sentence.
struct Outcome {
  Status status = Status::success;
  long step = -1;
  double value = 0.0;
  std::string message;

  bool ok() const { return status == Status::success; }
  explicit operator bool() const { return ok(); }

  static Outcome failure(Status s, long step, double value, std::string message) {
    return Outcome{s, step, value, std::move(message)};
  }
};

}  // namespace sgdsde
