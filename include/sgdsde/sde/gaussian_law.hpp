// sgdsde/sde/gaussian_law.hpp — a Gaussian law N(mean, covariance) with its log-density, and z-scores of
// an ensemble's sample moments against it (how simulated OU/SGD ensembles are checked against the exact
// laws of Jastrzębski et al. 2018, eqs. 6–7).
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/scalar.hpp"
#include "sgdsde/core/types.hpp"

namespace sgdsde {

/// A Gaussian law N(mean, covariance) with the status of the computation that produced it.
template <class Scalar>
struct GaussianLaw {
  VectorX<Scalar> mean;
  MatrixX<Scalar> covariance;
  Outcome outcome;

  Index dim() const { return mean.size(); }

  /// log N(x; mean, covariance) = −½ (x − m)ᵀ Σ⁻¹ (x − m) − ½ log det(2π Σ), by Cholesky.
  /// Returns −∞ when Σ is not positive definite (a degenerate law has no density): check `outcome`
  /// and the definiteness of the covariance when that matters. Throws unless x is a finite d-vector.
  Scalar log_density(const Eigen::Ref<const VectorX<Scalar>>& x) const {
    using std::log;
    require_shape("GaussianLaw::log_density", "x", x, mean.size(), 1);
    require_finite("GaussianLaw::log_density", "x", x);
    Eigen::LLT<MatrixX<Scalar>> llt(covariance);
    if (llt.info() != Eigen::Success) return -std::numeric_limits<Scalar>::infinity();
    const VectorX<Scalar> z = llt.matrixL().solve(x - mean);
    const Scalar log_det = Scalar(2) * llt.matrixLLT().diagonal().array().log().sum();
    return Scalar(-0.5) * (z.squaredNorm() + log_det + Scalar(x.size()) * log(Scalar(2) * Constants<Scalar>::pi()));
  }
};

/// Sample moments of an ensemble (d×M, one column per path) against a Gaussian law, in standard
/// errors: z = (sample − exact) / SE with SE = s_i/√M for the mean and, for the covariance entry
/// (i, j), the standard deviation of the centred products (x_i − x̄_i)(x_j − x̄_j) over √M (CLT).
/// Computed in double. A zero SE gives z = 0 when the difference is 0 and ±∞ otherwise.
struct ZScores {
  Eigen::VectorXd mean;                       ///< z of each sample mean
  Eigen::MatrixXd covariance;                 ///< z of each sample covariance entry (symmetric)
  Eigen::VectorXd sample_mean;                ///< x̄
  Eigen::VectorXd mean_standard_error;        ///< s_i/√M
  Eigen::MatrixXd sample_covariance;          ///< unbiased (divided by M − 1)
  Eigen::MatrixXd covariance_standard_error;  ///< SE of each covariance entry

  /// The largest |z| over the mean and the covariance entries.
  double max_abs() const {
    double m = 0;
    if (mean.size() > 0) m = std::max(mean.cwiseAbs().maxCoeff(), covariance.cwiseAbs().maxCoeff());
    return m;
  }
};

/// z-scores of the sample mean and covariance of the columns of `samples` (d×M, M ≥ 2, finite)
/// against `law` (mean of size d).
template <class Derived, class Scalar>
ZScores z_scores(const Eigen::MatrixBase<Derived>& samples, const GaussianLaw<Scalar>& law) {
  constexpr const char* fn = "z_scores";
  require_shape(fn, "law.mean", law.mean, samples.rows(), 1);
  require_shape(fn, "law.covariance", law.covariance, samples.rows(), samples.rows());
  require(samples.cols() >= 2, fn, "samples.cols()", samples.cols(), ">= 2 paths");
  require_finite(fn, "samples", samples);
  const Index d = samples.rows();
  const double m = double(samples.cols());
  const Eigen::MatrixXd x = samples.template cast<double>();
  const Eigen::MatrixXd exact_cov = law.covariance.template cast<double>();
  const Eigen::VectorXd exact_mean = law.mean.template cast<double>();
  auto z = [](double diff, double se) {
    if (se > 0) return diff / se;
    return diff == 0 ? 0.0 : std::copysign(std::numeric_limits<double>::infinity(), diff);
  };
  ZScores r;
  r.sample_mean = x.rowwise().mean();
  const Eigen::MatrixXd c = x.colwise() - r.sample_mean;
  r.mean.resize(d);
  r.mean_standard_error.resize(d);
  r.sample_covariance.resize(d, d);
  r.covariance_standard_error.resize(d, d);
  r.covariance.resize(d, d);
  for (Index i = 0; i < d; ++i) {
    r.mean_standard_error(i) = std::sqrt(c.row(i).squaredNorm() / (m - 1) / m);
    r.mean(i) = z(r.sample_mean(i) - exact_mean(i), r.mean_standard_error(i));
    for (Index j = 0; j <= i; ++j) {
      const Eigen::ArrayXd prod = (c.row(i).array() * c.row(j).array()).transpose();
      const double cov = prod.sum() / (m - 1);
      const double se = std::sqrt((prod - prod.mean()).square().sum() / (m - 1) / m);
      r.sample_covariance(i, j) = r.sample_covariance(j, i) = cov;
      r.covariance_standard_error(i, j) = r.covariance_standard_error(j, i) = se;
      r.covariance(i, j) = r.covariance(j, i) = z(cov - exact_cov(i, j), se);
    }
  }
  return r;
}

}  // namespace sgdsde
