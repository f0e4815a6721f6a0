// sgdsde/core/scalar.hpp — per-Scalar constants and the one tolerance helper
// (absolute near zero, relative elsewhere), specialised for float.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>

#include "sgdsde/core/types.hpp"

namespace sgdsde {

template <class Scalar>
struct Constants {
  static constexpr Scalar pi() { return Scalar(3.141592653589793238462643383279502884L); }
  static constexpr Scalar epsilon() { return std::numeric_limits<Scalar>::epsilon(); }
  /// Default tolerance for identities that hold up to rounding of O(n) operations.
  static constexpr Scalar tolerance() { return Scalar(1e-10); }
  /// Step for central finite differences (≈ ε^{1/3}).
  static constexpr Scalar fd_step() { return Scalar(6e-6); }
};

template <>
struct Constants<float> {
  static constexpr float pi() { return 3.14159265358979f; }
  static constexpr float epsilon() { return std::numeric_limits<float>::epsilon(); }
  static constexpr float tolerance() { return 1e-4f; }
  static constexpr float fd_step() { return 5e-3f; }
};

/// |a − b| ≤ tol · max(1, |a|, |b|): absolute near zero, relative elsewhere. Scalar is a's type;
/// b and tol convert to it.
template <class Scalar>
inline bool is_approx(Scalar a, detail::non_deduced_t<Scalar> b,
                      detail::non_deduced_t<Scalar> tol = Constants<Scalar>::tolerance()) {
  using std::abs;
  using std::max;
  return abs(a - b) <= tol * max({Scalar(1), abs(a), abs(b)});
}

}  // namespace sgdsde
