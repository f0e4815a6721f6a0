// Test support: goodness-of-fit p-values for statistical tests (Boost 1.74 in Debian 12 has no
// Kolmogorov–Smirnov distribution; Boost.Math supplies the normal and chi-squared laws).
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include <boost/math/distributions/chi_squared.hpp>
#include <boost/math/distributions/normal.hpp>

namespace sgdsde_test {

/// P(D_n > d) for the one-sample KS statistic, by Kolmogorov's limiting law
/// Q(λ) = 2 Σ_{k≥1} (−1)^{k−1} e^{−2k²λ²} with Stephens' finite-n correction
/// λ = (√n + 0.12 + 0.11/√n)·d (Numerical Recipes §14.3; accurate to a few % for n ≥ 100).
inline double ks_pvalue(double d, std::size_t n) {
  const double sn = std::sqrt(double(n));
  const double lambda = (sn + 0.12 + 0.11 / sn) * d;
  if (lambda < 0.2) return 1.0;
  double q = 0, sign = 1;
  for (int k = 1; k <= 200; ++k) {
    const double term = std::exp(-2.0 * k * k * lambda * lambda);
    q += sign * term;
    sign = -sign;
    if (term < 1e-18) break;
  }
  return std::clamp(2 * q, 0.0, 1.0);
}

/// KS statistic of a sample against a continuous cdf.
template <class Cdf>
double ks_statistic(std::vector<double> v, Cdf cdf) {
  std::sort(v.begin(), v.end());
  const double m = double(v.size());
  double d = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const double F = cdf(v[i]);
    d = std::max({d, F - double(i) / m, double(i + 1) / m - F});
  }
  return d;
}

inline double ks_normal_pvalue(const std::vector<double>& v, double mean = 0, double sd = 1) {
  boost::math::normal_distribution<double> nd(mean, sd);
  return ks_pvalue(ks_statistic(v, [&](double x) { return boost::math::cdf(nd, x); }), v.size());
}

}  // namespace sgdsde_test
