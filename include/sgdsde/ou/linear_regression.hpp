// sgdsde/ou/linear_regression.hpp — minibatch SGD on least squares over a finite data set: the exact
// first/second-moment recursion with state-dependent (multiplicative) gradient noise and its fixed point
// (exact stationary law for with_replacement and fresh_subset; docs/theory.md "Noisy linear regression"),
// the additive-noise laws (the only available law for shuffled epochs, an approximation), the SDE limit
// of Jastrzębski et al. 2018 (eq. 7) for comparison, and a simulator driven by core/minibatch.hpp.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Dense>

#include "sgdsde/core/dataset.hpp"
#include "sgdsde/core/error.hpp"
#include "sgdsde/core/minibatch.hpp"
#include "sgdsde/core/random.hpp"
#include "sgdsde/core/scalar.hpp"
#include "sgdsde/core/symmetric.hpp"
#include "sgdsde/core/types.hpp"
#include "sgdsde/ou/sgd_quadratic.hpp"

namespace sgdsde {

/// A least-squares problem on a regression Dataset (inputs d × N, samples as columns; targets 1 × N),
/// loss L(θ) = (1/N) Σ_n ½ (x_nᵀθ − y_n)². Precomputes H = XXᵀ/N (must be positive definite, i.e. the
/// inputs span Rᵈ, else invalid_argument), θ* = H⁻¹Xy/N, the residuals r_n = x_nᵀθ* − y_n,
/// L* = L(θ*) and C* = (1/N) Σ r_n² x_n x_nᵀ, the per-sample gradient covariance at θ*.
template <class Scalar>
class LinearRegression {
 public:
  explicit LinearRegression(const Dataset<Scalar>& data) {
    const char* fn = "LinearRegression";
    data.validate(fn, "data");
    require(data.has_targets(), fn, "data", "a classification set (labels)", "a regression set with targets");
    require_shape(fn, "data.targets", data.targets, 1, data.num_samples());
    x_ = data.inputs;
    y_ = data.targets.row(0).transpose();
    const Scalar n = Scalar(x_.cols());
    h_.noalias() = x_ * x_.transpose();
    h_ /= n;
    h_ = symmetric_part(h_);
    require(all_finite(h_), fn, "data.inputs", "so large that X Xᵀ/N overflows",
            "inputs whose squares are finite in this Scalar (rescale the data)");
    Eigen::LLT<MatrixX<Scalar>> llt(h_);
    require(llt.info() == Eigen::Success, fn, "data.inputs",
            "rank-deficient or so small that X Xᵀ/N underflows (X Xᵀ/N not positive definite)",
            "inputs (d x N, samples as columns) spanning R^d");
    const VectorX<Scalar> b = x_ * y_ / n;
    theta_star_ = llt.solve(b);
    residual_.noalias() = x_.transpose() * theta_star_;
    residual_ -= y_;
    min_loss_ = Scalar(0.5) * residual_.squaredNorm() / n;
    const MatrixX<Scalar> weighted = x_ * residual_.asDiagonal();
    c_star_.noalias() = weighted * weighted.transpose();
    c_star_ /= n;
    using std::isfinite;
    require(all_finite(theta_star_) && all_finite(c_star_) && isfinite(min_loss_), fn, "data",
            "a set whose minimiser, minimum loss or gradient covariance overflows",
            "inputs and targets whose least-squares statistics are finite in this Scalar (rescale the data)");
  }

  Index num_samples() const { return x_.cols(); }
  Index dim() const { return x_.rows(); }
  /// X (d × N): column n is x_n.
  const MatrixX<Scalar>& inputs() const { return x_; }
  const VectorX<Scalar>& targets() const { return y_; }
  const MatrixX<Scalar>& hessian() const { return h_; }
  const VectorX<Scalar>& minimizer() const { return theta_star_; }
  const VectorX<Scalar>& residuals() const { return residual_; }
  Scalar minimum_loss() const { return min_loss_; }
  const MatrixX<Scalar>& gradient_noise_at_minimum() const { return c_star_; }

  /// L(θ) = L* + ½ (θ − θ*)ᵀ H (θ − θ*) (exact for least squares).
  Scalar loss(const Eigen::Ref<const VectorX<Scalar>>& theta) const {
    require_shape("LinearRegression::loss", "theta", theta, dim(), 1);
    const VectorX<Scalar> e = theta - theta_star_;
    return min_loss_ + Scalar(0.5) * e.dot(h_ * e);
  }

  /// 𝒜(M) = (1/N) Σ_n x_n x_nᵀ (x_nᵀ M x_n): the fourth-moment term of E[g_n g_nᵀ]; O(N d²).
  MatrixX<Scalar> fourth_moment_map(const Eigen::Ref<const MatrixX<Scalar>>& m) const {
    const MatrixX<Scalar> mx = m * x_;
    const VectorX<Scalar> w = (x_.array() * mx.array()).colwise().sum().transpose();
    const MatrixX<Scalar> weighted = x_ * w.asDiagonal();
    MatrixX<Scalar> out(dim(), dim());
    out.noalias() = weighted * x_.transpose();
    return out / Scalar(num_samples());
  }

  /// The additive-noise model at θ*: per-sample gradients H(θ − θ*) + r_n x_n (the true ones are
  /// x_n x_nᵀ(θ − θ*) + r_n x_n), so C = C*. Offsets centred (Σ r_n x_n = 0 up to rounding).
  Quadratic<Scalar> additive_quadratic() const {
    MatrixX<Scalar> xi = x_ * residual_.asDiagonal();
    xi.colwise() -= xi.rowwise().mean();
    return per_sample_quadratic(h_, xi);
  }

 private:
  MatrixX<Scalar> x_;
  VectorX<Scalar> y_;
  MatrixX<Scalar> h_;
  VectorX<Scalar> theta_star_, residual_;
  Scalar min_loss_ = Scalar(0);
  MatrixX<Scalar> c_star_;
};

/// First and second moments of the error e = θ − θ*: mean m = E e and second moment M = E[e eᵀ].
template <class Scalar>
struct SgdMoments {
  VectorX<Scalar> mean_error;
  MatrixX<Scalar> second_moment;
};

/// Stationary statistics of θ under SGD: E θ, Cov θ, E L and E[L − L*], with status.
/// `condition` estimates the relative sensitivity of the covariance to rounding and
/// `forward_error_bound` = condition·ε; Status::ill_conditioned when condition·ε > √ε (see the
/// function that produced it for the estimate).
template <class Scalar>
struct RegressionStationary {
  VectorX<Scalar> mean;
  MatrixX<Scalar> covariance;
  Scalar expected_loss = Scalar(0);
  Scalar expected_excess_loss = Scalar(0);
  Outcome outcome;
  Scalar condition = Scalar(1);
  Scalar forward_error_bound = Scalar(0);
};

namespace detail {

/// κ of a sampler with independent steps; shuffled epochs are rejected (not Markov in θ: no exact
/// moment recursion exists for the multiplicative noise of least squares).
inline double independent_kappa(const char* fn, const Sampler& sampler, Index n) {
  require(!std::holds_alternative<ShuffledEpochs>(sampler), fn, "sampler", "shuffled_epochs",
          "with_replacement or fresh_subset (no exact law for shuffled epochs with multiplicative noise; "
          "use additive_noise_stationary for the additive-noise approximation)");
  return noise_law(sampler, n).variance_factor;
}

/// Index of the pair (i ≤ j) in the orthonormal symmetric basis: E_ii = e_i e_iᵀ,
/// E_ij = (e_i e_jᵀ + e_j e_iᵀ)/√2; svec(M)_k = ⟨E_k, M⟩_F.
inline std::vector<std::pair<Index, Index>> svec_pairs(Index d) {
  std::vector<std::pair<Index, Index>> p;
  for (Index j = 0; j < d; ++j)
    for (Index i = 0; i <= j; ++i) p.emplace_back(i, j);
  return p;
}

template <class Scalar>
RegressionStationary<Scalar> regression_from_quadratic(const LinearRegression<Scalar>& data,
                                                       QuadraticStationary<Scalar>&& q) {
  RegressionStationary<Scalar> out;
  out.mean = data.minimizer();
  out.covariance = std::move(q.covariance);
  out.expected_excess_loss = q.expected_excess_loss;
  out.expected_loss = data.minimum_loss() + q.expected_excess_loss;
  out.outcome = std::move(q.outcome);
  out.condition = q.condition;
  out.forward_error_bound = q.forward_error_bound;
  return out;
}

}  // namespace detail

/// One exact step of the moment recursion of minibatch SGD θ' = θ − η g_B(θ) on least squares, with
/// g_B = (1/S) Σ_{n∈B} x_n (x_nᵀθ − y_n) and B drawn independently each step (with_replacement or
/// fresh_subset; S > N allowed with replacement). With κ = noise_law(sampler, N).variance_factor and
/// e = θ − θ*:
///   m' = (I − ηH) m
///   M' = M − η(HM + MH) + η²[(1−κ) HMH + κ(𝒜(M) + 2𝒞(m) + C*)]
/// where 𝒜(M) = (1/N)Σ x_n x_nᵀ (x_nᵀMx_n) and 𝒞(m) = (1/N)Σ r_n (x_nᵀm) x_n x_nᵀ. Exact (derivation in
/// docs/theory.md); O(N d²). Non-finite moments are rejected (invalid_argument).
template <class Scalar>
SgdMoments<Scalar> next_moments(const LinearRegression<Scalar>& data, detail::non_deduced_t<Scalar> eta,
                                const Sampler& sampler, const SgdMoments<Scalar>& current) {
  const char* fn = "next_moments";
  require_positive(fn, "eta", eta);
  const Scalar kappa = Scalar(detail::independent_kappa(fn, sampler, data.num_samples()));
  const Index d = data.dim();
  require_shape(fn, "current.mean_error", current.mean_error, d, 1);
  require_shape(fn, "current.second_moment", current.second_moment, d, d);
  require_finite(fn, "current.mean_error", current.mean_error);
  require_finite(fn, "current.second_moment", current.second_moment);
  const MatrixX<Scalar>& h = data.hessian();
  const MatrixX<Scalar>& m2 = current.second_moment;
  const MatrixX<Scalar>& x = data.inputs();
  SgdMoments<Scalar> next;
  next.mean_error = current.mean_error - eta * (h * current.mean_error);
  const MatrixX<Scalar> hm = h * m2;
  // 𝒞(m): weights r_n (x_nᵀ m).
  const VectorX<Scalar> proj = x.transpose() * current.mean_error;
  const VectorX<Scalar> wc = data.residuals().cwiseProduct(proj);
  const MatrixX<Scalar> weighted = x * wc.asDiagonal();
  MatrixX<Scalar> cross(d, d);
  cross.noalias() = weighted * x.transpose();
  cross /= Scalar(data.num_samples());
  MatrixX<Scalar> noise = data.fourth_moment_map(m2) + Scalar(2) * cross + data.gradient_noise_at_minimum();
  MatrixX<Scalar> hmh(d, d);
  hmh.noalias() = hm * h;
  next.second_moment = m2 - eta * (hm + hm.transpose()) + eta * eta * ((Scalar(1) - kappa) * hmh + kappa * noise);
  next.second_moment = symmetric_part(next.second_moment);
  return next;
}

/// Exact stationary law of minibatch SGD on least squares (fixed point of next_moments; with_replacement
/// or fresh_subset): m = 0 and the second moment solves the linear equation
///   𝓛(M) := HM + MH − η(1−κ) HMH − ηκ 𝒜(M) = ηκ C*,
/// so E θ = θ*, Cov θ = M, E L = L* + ½ Tr(HM). 𝓛 is self-adjoint for the Frobenius product; it is
/// assembled in the orthonormal symmetric basis (size p = d(d+1)/2) — the 𝒜 part as (1/N) Z Zᵀ with
/// Z_kn = x_nᵀE_k x_n, O(N p²) — and diagonalised, O(p³). The recursion M ← M − η𝓛(M) + η²κC* converges
/// iff every eigenvalue μ of 𝓛 lies in (0, 2/η) (and η λ_max(H) < 2 for the mean); otherwise
/// Status::unstable_step with value = η μ_max (or μ_min if that is ≤ 0). Otherwise `condition` =
/// μ_max/μ_min (the relative condition of the symmetric solve) and Status::ill_conditioned when
/// condition·ε > √ε (H nearly singular, or η close to the limit where μ_min reaches 0); non_finite if
/// the result overflows. Shuffled epochs: no exact law
/// is known (invalid_argument); see additive_noise_stationary.
template <class Scalar>
RegressionStationary<Scalar> exact_sgd_stationary(const LinearRegression<Scalar>& data,
                                                  detail::non_deduced_t<Scalar> eta, const Sampler& sampler) {
  using Matrix = MatrixX<Scalar>;
  using Vector = VectorX<Scalar>;
  using std::sqrt;
  const char* fn = "exact_sgd_stationary";
  require_positive(fn, "eta", eta);
  const Scalar kappa = Scalar(detail::independent_kappa(fn, sampler, data.num_samples()));
  const Index d = data.dim(), n = data.num_samples();
  const Matrix& h = data.hessian();
  const Matrix& xt = data.inputs();
  const auto pairs = detail::svec_pairs(d);
  const Index p = Index(pairs.size());
  const Scalar r2 = Scalar(1) / sqrt(Scalar(2));
  // Z (p×N): Z_kn = ⟨E_k, x_n x_nᵀ⟩.
  Matrix z(p, n);
  for (Index k = 0; k < p; ++k) {
    const Index i = pairs[k].first, j = pairs[k].second;
    if (i == j)
      z.row(k) = xt.row(i).cwiseAbs2();
    else
      z.row(k) = (Scalar(2) * r2) * xt.row(i).cwiseProduct(xt.row(j));
  }
  Matrix op = Matrix::Zero(p, p);
  op.template selfadjointView<Eigen::Lower>().rankUpdate(z, -eta * kappa / Scalar(n));
  // Kronecker part 𝓚(E) = HE + EH − η(1−κ)HEH, column by column.
  const Scalar gamma = eta * (Scalar(1) - kappa);
  Matrix e = Matrix::Zero(d, d), ke(d, d);
  for (Index l = 0; l < p; ++l) {
    const Index i = pairs[l].first, j = pairs[l].second;
    e.setZero();
    if (i == j) {
      e(i, i) = Scalar(1);
    } else {
      e(i, j) = r2;
      e(j, i) = r2;
    }
    const Matrix he = h * e;
    ke = he + he.transpose();
    ke.noalias() -= gamma * (he * h);
    for (Index k = l; k < p; ++k) {
      const Index a = pairs[k].first, b = pairs[k].second;
      op(k, l) += a == b ? ke(a, a) : r2 * (ke(a, b) + ke(b, a));
    }
  }
  // Right-hand side ηκ svec(C*).
  const Matrix& cs = data.gradient_noise_at_minimum();
  Vector rhs(p);
  for (Index k = 0; k < p; ++k) {
    const Index a = pairs[k].first, b = pairs[k].second;
    rhs(k) = eta * kappa * (a == b ? cs(a, a) : r2 * (cs(a, b) + cs(b, a)));
  }
  Eigen::SelfAdjointEigenSolver<Matrix> eig(op);  // reads the lower triangle
  const Vector& mu = eig.eigenvalues();
  RegressionStationary<Scalar> out;
  out.mean = data.minimizer();
  const Scalar lam_max = Eigen::SelfAdjointEigenSolver<Matrix>(h, Eigen::EigenvaluesOnly).eigenvalues()(d - 1);
  Vector sol = eig.eigenvectors() * (eig.eigenvectors().transpose() * rhs).cwiseQuotient(mu);
  out.covariance.resize(d, d);
  for (Index k = 0; k < p; ++k) {
    const Index a = pairs[k].first, b = pairs[k].second;
    if (a == b) {
      out.covariance(a, a) = sol(k);
    } else {
      out.covariance(a, b) = r2 * sol(k);
      out.covariance(b, a) = r2 * sol(k);
    }
  }
  out.expected_excess_loss = Scalar(0.5) * (h.cwiseProduct(out.covariance)).sum();
  out.expected_loss = data.minimum_loss() + out.expected_excess_loss;
  if (!(eta * lam_max < Scalar(2)) || !(mu(0) > Scalar(0)) || !(eta * mu(p - 1) < Scalar(2))) {
    const double value = mu(0) > Scalar(0) ? double(eta * mu(p - 1)) : double(mu(0));
    out.outcome = Outcome::failure(Status::unstable_step, -1, value,
                                   "second-moment recursion of SGD is unstable: eigenvalues of 𝓛 in [" +
                                       detail::describe(mu(0)) + ", " + detail::describe(mu(p - 1)) +
                                       "], need (0, 2/η) with 2/η = " + detail::describe(Scalar(2) / eta));
    out.expected_excess_loss = std::numeric_limits<Scalar>::infinity();
    out.expected_loss = std::numeric_limits<Scalar>::infinity();
    out.condition = out.forward_error_bound = std::numeric_limits<Scalar>::infinity();
    return out;
  }
  // 𝓛 is symmetric: its eigenvalues carry an absolute error ≈ ε‖𝓛‖ = ε μ_max, so the solve has the
  // relative condition μ_max/μ_min.
  const Scalar eps = Constants<Scalar>::epsilon();
  out.condition = mu(p - 1) / mu(0);
  out.forward_error_bound = out.condition * eps;
  if (!all_finite(out.covariance) || !std::isfinite(double(out.expected_loss)))
    out.outcome = Outcome::failure(Status::non_finite, -1, double(out.expected_excess_loss),
                                   "the stationary covariance overflowed");
  else if (!(out.condition * eps <= sqrt(eps)))
    out.outcome = Outcome::failure(Status::ill_conditioned, -1, double(out.condition),
                                   "condition mu_max/mu_min = " + detail::describe(out.condition) +
                                       " of the stationary solve: fewer than half the digits can be trusted");
  return out;
}

/// Additive-noise law of SGD on this problem: the per-sample gradients are replaced by
/// H(θ − θ*) + r_n x_n (noise frozen at θ*, C = C*) and the exact law of discrete SGD on that quadratic
/// is returned for any sampler (discrete_stationary(data.additive_quadratic(), η, sampler)). For shuffled
/// epochs it is the best available law (the exact one is out of reach: the batches of an epoch are
/// correlated and the noise is multiplicative), an APPROXIMATION: it omits 𝒜(M) − HMH, the
/// state-dependent part of the noise, and so underestimates (measured −4% to −21% against simulation
/// for η = 0.05–0.3; docs/theory.md "Shuffled epochs with multiplicative noise"). For shuffled epochs
/// `covariance` is the epoch average.
template <class Scalar>
RegressionStationary<Scalar> additive_noise_stationary(const LinearRegression<Scalar>& data,
                                                       detail::non_deduced_t<Scalar> eta, const Sampler& sampler) {
  require_positive("additive_noise_stationary", "eta", eta);
  return detail::regression_from_quadratic(data, discrete_stationary(data.additive_quadratic(), eta, sampler));
}

/// The additive-noise SDE limit (Jastrzębski et al. 2018, eqs. 5–7) of SGD on this problem:
/// dθ = −H(θ − θ*) dt + √(ηκ) C*^{1/2} dW, κ = noise_law(sampler, N).variance_factor, noise frozen at θ*.
/// Its stationary law: H Σ + Σ H = ηκ C*, E[L − L*] = ½ Tr(HΣ) (sde_stationary; for shuffled epochs the
/// per-step marginal SDE, see there). Differs from exact_sgd_stationary by O(η) relative:
/// discretisation (HΣH term) and the state-dependent noise 𝒜(Σ) − HΣH.
template <class Scalar>
RegressionStationary<Scalar> sde_sgd_stationary(const LinearRegression<Scalar>& data,
                                                detail::non_deduced_t<Scalar> eta, const Sampler& sampler) {
  require_positive("sde_sgd_stationary", "eta", eta);
  const Quadratic<Scalar> q(data.hessian(), data.gradient_noise_at_minimum(), data.num_samples());
  return detail::regression_from_quadratic(data, sde_stationary(q, eta, sampler));
}

/// Minibatch SGD on a LinearRegression: θ ← θ − η g_B(θ), the batches drawn by
/// BatchDrawer(sampler, N, stream) (stream layout of core/minibatch.hpp; any sampler, S > N allowed
/// with replacement). The SGD object is one run: step() draws batch k = step_count() and advances.
/// A step costs O(S d) and allocates nothing once the largest batch was drawn. Keeps a reference to
/// `data`, which must outlive it.
template <class Scalar>
class LinearRegressionSgd {
 public:
  LinearRegressionSgd(const LinearRegression<Scalar>& data, detail::non_deduced_t<Scalar> eta, const Sampler& sampler,
                      RandomStream stream)
      : data_(&data), eta_(eta), drawer_(sampler, data.num_samples(), stream) {
    require_positive("LinearRegressionSgd", "eta", eta);
    grad_.resize(data.dim());
    batch_.reserve(std::size_t(batch_size_of(sampler).max()));
  }

  Scalar learning_rate() const { return eta_; }
  const Sampler& sampler() const { return drawer_.sampler(); }
  /// Number of steps taken (the index k of the next batch).
  long step_count() const { return k_; }

  /// One SGD step on θ (size d, else invalid_argument).
  void step(Eigen::Ref<VectorX<Scalar>> theta) {
    require_shape("LinearRegressionSgd::step", "theta", theta, data_->dim(), 1);
    drawer_.next(k_, batch_);
    ++k_;
    const MatrixX<Scalar>& x = data_->inputs();
    const VectorX<Scalar>& y = data_->targets();
    grad_.setZero();
    for (Index n : batch_) {
      const Scalar r = x.col(n).dot(theta) - y(n);
      grad_.noalias() += r * x.col(n);
    }
    theta.noalias() -= (eta_ / Scalar(Index(batch_.size()))) * grad_;
  }

  /// Runs `steps` steps on θ, calling observer(k, θ) after each with the number k of steps taken.
  /// Returns Status::non_finite (with the step) if θ blows up.
  template <class Observer>
  Outcome run(Eigen::Ref<VectorX<Scalar>> theta, long steps, Observer&& observer) {
    const char* fn = "LinearRegressionSgd::run";
    require_shape(fn, "theta", theta, data_->dim(), 1);
    require_finite(fn, "theta", theta);
    require(steps >= 0, fn, "steps", steps, "a number of steps >= 0");
    for (long i = 0; i < steps; ++i) {
      step(theta);
      if (!all_finite(theta))
        return Outcome::failure(Status::non_finite, k_ - 1, 0.0, "SGD iterate became non-finite");
      observer(k_, theta);
    }
    return Outcome{};
  }

 private:
  const LinearRegression<Scalar>* data_;
  Scalar eta_;
  BatchDrawer drawer_;
  Batch batch_;
  VectorX<Scalar> grad_;
  long k_ = 0;
};

}  // namespace sgdsde
