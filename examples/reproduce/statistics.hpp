// examples/reproduce/statistics.hpp — the small statistics every claim of sgdsde-reproduce (and the standalone
// Borovykh examples) shares: mean and standard error over runs, and Student's t quantile for 95% intervals.
#pragma once

#include <cmath>
#include <limits>
#include <vector>

#include <boost/math/distributions/students_t.hpp>

namespace repro {

/// Mean and standard error (sample SD/√n) of the finite entries of a vector; n = their number (runs that
/// diverged are recorded as NaN and left out). se is NaN for n < 2, mean NaN for n = 0.
struct MeanSe {
  double mean = std::numeric_limits<double>::quiet_NaN();
  double se = std::numeric_limits<double>::quiet_NaN();
  int n = 0;
};
inline MeanSe mean_se(const std::vector<double>& v) {
  MeanSe r;
  double sum = 0;
  for (double x : v)
    if (std::isfinite(x)) sum += x, ++r.n;
  if (r.n == 0) return r;
  r.mean = sum / r.n;
  double ss = 0;  // two-pass: no cancellation when the spread is small against the mean
  for (double x : v)
    if (std::isfinite(x)) ss += (x - r.mean) * (x - r.mean);
  if (r.n > 1) r.se = std::sqrt(ss / (r.n - 1) / r.n);
  return r;
}

/// The 97.5% quantile of Student's t with df degrees of freedom (half-width factor of a two-sided 95%
/// interval), exact from Boost.Math; NaN for df < 1.
inline double t975(long df) {
  if (df < 1) return std::numeric_limits<double>::quiet_NaN();
  return boost::math::quantile(boost::math::students_t_distribution<double>(double(df)), 0.975);
}

}  // namespace repro
