// sgdsde/sde/convergence.hpp — strong and weak convergence-order estimation over nested grids driven by
// one Brownian path (Kloeden & Platen 1992, §9.3 and §9.4; Higham 2001, SIAM Rev. 43, §5).
#pragma once

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/types.hpp"
#include "sgdsde/sde/brownian.hpp"
#include "sgdsde/sde/integrate.hpp"
#include "sgdsde/sde/problem.hpp"

namespace sgdsde {

/// A Monte Carlo mean over paths with its standard error s/√M.
struct ErrorEstimate {
  double value = 0;
  double standard_error = 0;
};

/// Least-squares line log(error) = intercept + order·log(dt) and the standard error of the slope,
/// √(RSS/(n − 2) / Σ(log dt − mean)²) (infinite for two points, which the line fits exactly).
struct OrderFit {
  double order = 0;
  double intercept = 0;
  double standard_error = 0;
  std::size_t points = 0;
};

/// Fits the order. Preconditions: equal sizes ≥ 2, every dt > 0 and finite, at least two distinct
/// dt, every error > 0 and finite (throws sgdsde::invalid_argument naming the argument otherwise).
inline OrderFit fit_order(const std::vector<double>& dts, const std::vector<double>& errors) {
  constexpr const char* fn = "fit_order";
  require(dts.size() >= 2, fn, "dts.size()", dts.size(), ">= 2");
  require(errors.size() == dts.size(), fn, "errors.size()", errors.size(), "equal to dts.size()");
  const std::size_t n = dts.size();
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < n; ++i) {
    require(std::isfinite(dts[i]) && dts[i] > 0, fn, "dts", dts[i], "finite values > 0");
    require(std::isfinite(errors[i]) && errors[i] > 0, fn, "errors", errors[i], "finite values > 0");
    mx += std::log(dts[i]);
    my += std::log(errors[i]);
  }
  mx /= double(n);
  my /= double(n);
  double sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double x = std::log(dts[i]) - mx, y = std::log(errors[i]) - my;
    sxx += x * x;
    sxy += x * y;
  }
  require(sxx > 0, fn, "dts", "all equal", "at least two distinct step sizes");
  OrderFit fit;
  fit.points = n;
  fit.order = sxy / sxx;
  fit.intercept = my - fit.order * mx;
  if (n > 2) {
    double rss = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double r = std::log(errors[i]) - fit.intercept - fit.order * std::log(dts[i]);
      rss += r * r;
    }
    fit.standard_error = std::sqrt(rss / double(n - 2) / sxx);
  } else {
    fit.standard_error = std::numeric_limits<double>::infinity();
  }
  return fit;
}

/// Strong error E‖X_dt − X_exact‖₂ at one time: the mean over paths (columns) of the Euclidean
/// distance, with its standard error. approx and exact are finite d×M matrices, M ≥ 2.
template <class DA, class DE>
ErrorEstimate strong_error(const Eigen::MatrixBase<DA>& approx, const Eigen::MatrixBase<DE>& exact) {
  require(approx.cols() >= 2, "strong_error", "approx.cols()", approx.cols(), ">= 2 paths");
  require_shape("strong_error", "exact", exact, approx.rows(), approx.cols());
  require_finite("strong_error", "approx", approx);
  require_finite("strong_error", "exact", exact);
  const Eigen::ArrayXd e = (approx - exact).colwise().norm().transpose().template cast<double>().array();
  const double mean = e.mean();
  const double var = (e - mean).square().sum() / double(e.size() - 1);
  return {mean, std::sqrt(var / double(e.size()))};
}

/// Weak error E φ(X_dt) − E φ(X_exact) estimated on the same paths as the mean of the differences
/// φ(X_dt,p) − φ(X_exact,p), with its standard error (far smaller than that of two independent
/// means, since the difference is O(dt^{1/2}) path by path). φ maps a d-vector to a scalar; approx
/// and exact are finite d×M matrices, M ≥ 2.
template <class DA, class DE, class Phi>
ErrorEstimate weak_error(const Eigen::MatrixBase<DA>& approx, const Eigen::MatrixBase<DE>& exact, Phi phi) {
  require(approx.cols() >= 2, "weak_error", "approx.cols()", approx.cols(), ">= 2 paths");
  require_shape("weak_error", "exact", exact, approx.rows(), approx.cols());
  require_finite("weak_error", "approx", approx);
  require_finite("weak_error", "exact", exact);
  Eigen::ArrayXd e(approx.cols());
  for (Index p = 0; p < approx.cols(); ++p) e[p] = double(phi(approx.col(p))) - double(phi(exact.col(p)));
  const double mean = e.mean();
  const double var = (e - mean).square().sum() / double(e.size() - 1);
  return {mean, std::sqrt(var / double(e.size()))};
}

/// One grid of a convergence study.
struct ConvergenceLevel {
  int level = 0;       ///< dt = (t1 − t0)/2^level
  double dt = 0;
  ErrorEstimate strong;  ///< E‖X_dt(T) − X(T)‖
  ErrorEstimate weak;    ///< E φ(X_dt(T)) − E φ(X(T)), signed
};

/// Result of `convergence_study`. The fits are least squares on the mean errors (weak: on |mean|);
/// the `*_batch_standard_error` fields are the Monte Carlo standard errors of those slopes, from the
/// spread of the slopes fitted on `batches` disjoint groups of paths (s/√B; +∞ when a batch's error
/// is not positive, e.g. a weak error lost in noise).
struct ConvergenceStudy {
  std::vector<ConvergenceLevel> levels;
  OrderFit strong_fit, weak_fit;
  double strong_order_batch_standard_error = 0;
  double weak_order_batch_standard_error = 0;
  Outcome outcome;
};

namespace detail {
inline double batch_slope_standard_error(const std::vector<double>& dts, const Eigen::MatrixXd& per_path,
                                         int batches) {
  const Index paths = per_path.cols();
  std::vector<double> slopes;
  for (int b = 0; b < batches; ++b) {
    const Index c0 = paths * b / batches, c1 = paths * (b + 1) / batches;
    std::vector<double> e(dts.size());
    for (std::size_t l = 0; l < dts.size(); ++l) {
      e[l] = per_path.row(Index(l)).segment(c0, c1 - c0).mean();
      if (!(e[l] > 0)) return std::numeric_limits<double>::infinity();
    }
    slopes.push_back(fit_order(dts, e).order);
  }
  double mean = 0;
  for (double s : slopes) mean += s;
  mean /= double(batches);
  double var = 0;
  for (double s : slopes) var += (s - mean) * (s - mean);
  return std::sqrt(var / double(batches - 1) / double(batches));
}
}  // namespace detail

/// Integrates the M columns of x0 from path.t0() to path.t1() with `stepper` at dt = T/2^l for
/// l = coarsest_level … finest_level (≤ path.levels()), every grid driven by the SAME Brownian path,
/// and compares X_dt(T) with `exact(x0, W_T, out)`, which writes the exact solution at T given the
/// d×M initial states and the m×M Brownian increment W(T) − W(t0) (it must be the solution in the
/// stepper's calculus). φ is the weak-error test function (d-vector → scalar).
/// Preconditions: 0 ≤ coarsest < finest ≤ path.levels(), 2 ≤ batches ≤ M/2, `exact` writes finite
/// values; throws sgdsde::invalid_argument naming the argument otherwise.
/// A non-finite state stops the study with that outcome.
template <class Problem, class Stepper, class Derived, class Exact, class Phi>
ConvergenceStudy convergence_study(const Problem& problem, Stepper stepper, const Eigen::MatrixBase<Derived>& x0,
                                   const BrownianPath<typename Problem::scalar_type>& path, int coarsest_level,
                                   int finest_level, Exact exact, Phi phi, int batches = 10) {
  using Scalar = typename Problem::scalar_type;
  using Matrix = MatrixX<Scalar>;
  constexpr const char* fn = "convergence_study";
  require(coarsest_level >= 0, fn, "coarsest_level", coarsest_level, ">= 0");
  require(finest_level > coarsest_level && finest_level <= path.levels(), fn, "finest_level", finest_level,
          "in (coarsest_level, path.levels()]");
  require(batches >= 2 && 2 * Index(batches) <= x0.cols(), fn, "batches", batches,
          "in [2, paths/2]");
  problem.check_state(fn, "x0", x0);

  const Matrix start = x0;
  Matrix w_t(path.noise_dim(), path.paths()), x_exact(start.rows(), start.cols());
  path.value(path.t1(), w_t);
  exact(start, w_t, x_exact);
  require_shape(fn, "exact", x_exact, start.rows(), start.cols());
  require_finite(fn, "exact", x_exact);

  ConvergenceStudy study;
  const int nl = finest_level - coarsest_level + 1;
  Eigen::MatrixXd strong_pp(nl, start.cols()), weak_pp(nl, start.cols());
  std::vector<double> dts, strong_means, weak_means;
  const double T = double(path.t1()) - double(path.t0());
  for (int l = coarsest_level; l <= finest_level; ++l) {
    const double dt = T / double(1L << l);
    const TimeGrid<Scalar> grid(path.t0(), path.t1(), Scalar(dt));
    const EnsembleSolution<Scalar> sol = integrate(problem, stepper, start, grid, path);
    if (!sol.outcome.ok()) {
      study.outcome = sol.outcome;
      return study;
    }
    const int row = l - coarsest_level;
    for (Index p = 0; p < start.cols(); ++p) {
      strong_pp(row, p) = double((sol.final_state.col(p) - x_exact.col(p)).norm());
      weak_pp(row, p) = double(phi(sol.final_state.col(p))) - double(phi(x_exact.col(p)));
    }
    ConvergenceLevel lev;
    lev.level = l;
    lev.dt = dt;
    lev.strong = strong_error(sol.final_state, x_exact);
    lev.weak = weak_error(sol.final_state, x_exact, phi);
    study.levels.push_back(lev);
    dts.push_back(dt);
    strong_means.push_back(lev.strong.value);
    weak_means.push_back(std::abs(lev.weak.value));
  }
  study.strong_fit = fit_order(dts, strong_means);
  study.strong_order_batch_standard_error = detail::batch_slope_standard_error(dts, strong_pp, batches);
  bool weak_positive = true;
  for (double e : weak_means) weak_positive = weak_positive && e > 0;
  if (weak_positive) {
    study.weak_fit = fit_order(dts, weak_means);
    // Batches see the signed weak error; flip the sign so a consistently negative error fits too.
    const double sign = study.levels.back().weak.value < 0 ? -1.0 : 1.0;
    study.weak_order_batch_standard_error = detail::batch_slope_standard_error(dts, sign * weak_pp, batches);
  } else {
    study.weak_fit.standard_error = std::numeric_limits<double>::infinity();
    study.weak_order_batch_standard_error = std::numeric_limits<double>::infinity();
  }
  return study;
}

}  // namespace sgdsde
