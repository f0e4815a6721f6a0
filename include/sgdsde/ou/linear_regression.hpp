// sgdsde/ou/linear_regression.hpp — minibatch SGD on least squares over a finite data set: the exact
// first/second-moment recursion with state-dependent (multiplicative) gradient noise, its fixed point
// (exact stationary E[θ], Cov θ, E[L] of discrete SGD; docs/theory.md "Noisy linear regression"), the
// additive-noise SDE limit of Jastrzębski et al. 2018 (eq. 7) for comparison, and a simulator.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Dense>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/random.hpp"
#include "sgdsde/core/scalar.hpp"
#include "sgdsde/core/symmetric.hpp"
#include "sgdsde/ou/sgd_quadratic.hpp"

namespace sgdsde {

/// A least-squares problem on N samples: rows x_nᵀ of X (N×d) and targets y_n, loss
/// L(θ) = (1/N) Σ_n ½ (x_nᵀθ − y_n)². Precomputes H = XᵀX/N (must be positive definite, i.e. X of full
/// column rank, else invalid_argument), the minimiser θ* = H⁻¹Xᵀy/N, the residuals r_n = x_nᵀθ* − y_n,
/// L* = L(θ*) and C* = (1/N) Σ r_n² x_n x_nᵀ, the per-sample gradient covariance at θ*.
template <class Scalar>
class LinearRegressionData {
 public:
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

  LinearRegressionData(const Eigen::Ref<const Matrix>& x, const Eigen::Ref<const Vector>& y) : xt_(x.transpose()), y_(y) {
    const char* fn = "LinearRegressionData";
    require(x.rows() >= 1 && x.cols() >= 1, fn, "X", std::to_string(x.rows()) + "x" + std::to_string(x.cols()),
            "a non-empty N×d design matrix");
    require_shape(fn, "y", y, x.rows(), 1);
    require_finite(fn, "X", x);
    require_finite(fn, "y", y);
    const Scalar n = Scalar(x.rows());
    h_.noalias() = xt_ * x;
    h_ /= n;
    h_ = symmetric_part(h_);
    Eigen::LLT<Matrix> llt(h_);
    require(llt.info() == Eigen::Success, fn, "X", "rank-deficient (XᵀX/N not positive definite)",
            "a design matrix of full column rank");
    const Vector b = xt_ * y / n;
    theta_star_ = llt.solve(b);
    residual_.noalias() = x * theta_star_;
    residual_ -= y;
    min_loss_ = Scalar(0.5) * residual_.squaredNorm() / n;
    const Matrix weighted = xt_ * residual_.asDiagonal();
    c_star_.noalias() = weighted * weighted.transpose();
    c_star_ /= n;
  }

  Eigen::Index samples() const { return xt_.cols(); }
  Eigen::Index dimension() const { return xt_.rows(); }
  /// Xᵀ (d×N): column n is x_n.
  const Matrix& inputs_transposed() const { return xt_; }
  const Vector& targets() const { return y_; }
  const Matrix& hessian() const { return h_; }
  const Vector& minimizer() const { return theta_star_; }
  const Vector& residuals() const { return residual_; }
  Scalar minimum_loss() const { return min_loss_; }
  const Matrix& gradient_noise_at_minimum() const { return c_star_; }

  /// L(θ) = L* + ½ (θ − θ*)ᵀ H (θ − θ*) (exact for least squares).
  Scalar loss(const Eigen::Ref<const Vector>& theta) const {
    require_shape("LinearRegressionData::loss", "theta", theta, dimension(), 1);
    const Vector e = theta - theta_star_;
    return min_loss_ + Scalar(0.5) * e.dot(h_ * e);
  }

  /// 𝒜(M) = (1/N) Σ_n x_n x_nᵀ (x_nᵀ M x_n): the fourth-moment term of E[g_n g_nᵀ]; O(N d²).
  Matrix fourth_moment_map(const Eigen::Ref<const Matrix>& m) const {
    const Matrix mx = m * xt_;
    const Vector w = (xt_.array() * mx.array()).colwise().sum().transpose();
    const Matrix weighted = xt_ * w.asDiagonal();
    Matrix out(dimension(), dimension());
    out.noalias() = weighted * xt_.transpose();
    return out / Scalar(samples());
  }

 private:
  Matrix xt_;
  Vector y_;
  Matrix h_;
  Vector theta_star_, residual_;
  Scalar min_loss_ = Scalar(0);
  Matrix c_star_;
};

/// First and second moments of the error e = θ − θ*: mean m = E e and second moment M = E[e eᵀ].
template <class Scalar>
struct SgdMoments {
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> mean_error;
  Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> second_moment;
};

/// Exact stationary statistics of θ under SGD: E θ, Cov θ, E L and E[L − L*], with status.
template <class Scalar>
struct RegressionStationary {
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> mean;
  Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> covariance;
  Scalar expected_loss = Scalar(0);
  Scalar excess_loss = Scalar(0);
  Outcome outcome;
};

namespace detail {

inline void check_batch_against(const char* fn, const Minibatch& batch, Eigen::Index n) {
  if (batch.sampling == Sampling::without_replacement)
    require(batch.dataset_size == long(n), fn, "batch.dataset_size", batch.dataset_size,
            "the number of samples of the data set");
}

/// Index of the pair (i ≤ j) in the orthonormal symmetric basis: E_ii = e_i e_iᵀ,
/// E_ij = (e_i e_jᵀ + e_j e_iᵀ)/√2; svec(M)_k = ⟨E_k, M⟩_F.
inline std::vector<std::pair<Eigen::Index, Eigen::Index>> svec_pairs(Eigen::Index d) {
  std::vector<std::pair<Eigen::Index, Eigen::Index>> p;
  for (Eigen::Index j = 0; j < d; ++j)
    for (Eigen::Index i = 0; i <= j; ++i) p.emplace_back(i, j);
  return p;
}

}  // namespace detail

/// One exact step of the moment recursion of minibatch SGD θ' = θ − η g_B(θ) on least squares, with
/// g_B = (1/S) Σ_{n∈B} x_n (x_nᵀθ − y_n) and B drawn afresh each step (Minibatch). With κ the noise
/// factor (1/S with replacement, (N−S)/(S(N−1)) without) and e = θ − θ*:
///   m' = (I − ηH) m
///   M' = M − η(HM + MH) + η²[(1−κ) HMH + κ(𝒜(M) + 2𝒞(m) + C*)]
/// where 𝒜(M) = (1/N)Σ x_n x_nᵀ (x_nᵀMx_n) and 𝒞(m) = (1/N)Σ r_n (x_nᵀm) x_n x_nᵀ. Exact for both
/// sampling modes (derivation in docs/theory.md); O(N d²).
template <class Scalar>
SgdMoments<Scalar> next_moments(const LinearRegressionData<Scalar>& data, Scalar eta, const Minibatch& batch,
                                const SgdMoments<Scalar>& current) {
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  const char* fn = "next_moments";
  require_positive(fn, "eta", eta);
  detail::check_batch_against(fn, batch, data.samples());
  const Eigen::Index d = data.dimension();
  require_shape(fn, "current.mean_error", current.mean_error, d, 1);
  require_shape(fn, "current.second_moment", current.second_moment, d, d);
  const Scalar kappa = batch.noise_factor<Scalar>();
  const Matrix& h = data.hessian();
  const Matrix& m2 = current.second_moment;
  SgdMoments<Scalar> next;
  next.mean_error = current.mean_error - eta * (h * current.mean_error);
  const Matrix hm = h * m2;
  // 𝒞(m): weights r_n (x_nᵀ m).
  const Vector proj = data.inputs_transposed().transpose() * current.mean_error;
  const Vector wc = data.residuals().cwiseProduct(proj);
  const Matrix weighted = data.inputs_transposed() * wc.asDiagonal();
  Matrix cross(d, d);
  cross.noalias() = weighted * data.inputs_transposed().transpose();
  cross /= Scalar(data.samples());
  Matrix noise = data.fourth_moment_map(m2) + Scalar(2) * cross + data.gradient_noise_at_minimum();
  Matrix hmh(d, d);
  hmh.noalias() = hm * h;
  next.second_moment = m2 - eta * (hm + hm.transpose()) + eta * eta * ((Scalar(1) - kappa) * hmh + kappa * noise);
  next.second_moment = symmetric_part(next.second_moment);
  return next;
}

/// Exact stationary law of minibatch SGD on least squares (fixed point of next_moments): m = 0 and
/// the second moment solves the linear equation
///   𝓛(M) := HM + MH − η(1−κ) HMH − ηκ 𝒜(M) = ηκ C*,
/// so E θ = θ*, Cov θ = M, E L = L* + ½ Tr(HM). 𝓛 is self-adjoint for the Frobenius product; it is
/// assembled in the orthonormal symmetric basis (size p = d(d+1)/2) — the 𝒜 part as (1/N) Z Zᵀ with
/// Z_kn = x_nᵀE_k x_n, O(N p²) — and diagonalised, O(p³). The recursion M ← M − η𝓛(M) + η²κC* converges
/// iff every eigenvalue μ of 𝓛 lies in (0, 2/η) (and η λ_max(H) < 2 for the mean); otherwise
/// Status::unstable_step with value = η μ_max (or μ_min if that is ≤ 0). For d = 10, N = 1000: p = 55.
template <class Scalar>
RegressionStationary<Scalar> exact_sgd_stationary(const LinearRegressionData<Scalar>& data, Scalar eta,
                                                  const Minibatch& batch) {
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  using std::sqrt;
  const char* fn = "exact_sgd_stationary";
  require_positive(fn, "eta", eta);
  detail::check_batch_against(fn, batch, data.samples());
  const Eigen::Index d = data.dimension(), n = data.samples();
  const Scalar kappa = batch.noise_factor<Scalar>();
  const Matrix& h = data.hessian();
  const Matrix& xt = data.inputs_transposed();
  const auto pairs = detail::svec_pairs(d);
  const Eigen::Index p = Eigen::Index(pairs.size());
  const Scalar r2 = Scalar(1) / sqrt(Scalar(2));
  // Z (p×N): Z_kn = ⟨E_k, x_n x_nᵀ⟩.
  Matrix z(p, n);
  for (Eigen::Index k = 0; k < p; ++k) {
    const Eigen::Index i = pairs[k].first, j = pairs[k].second;
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
  for (Eigen::Index l = 0; l < p; ++l) {
    const Eigen::Index i = pairs[l].first, j = pairs[l].second;
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
    for (Eigen::Index k = l; k < p; ++k) {
      const Eigen::Index a = pairs[k].first, b = pairs[k].second;
      op(k, l) += a == b ? ke(a, a) : r2 * (ke(a, b) + ke(b, a));
    }
  }
  // Right-hand side ηκ svec(C*).
  const Matrix& cs = data.gradient_noise_at_minimum();
  Vector rhs(p);
  for (Eigen::Index k = 0; k < p; ++k) {
    const Eigen::Index a = pairs[k].first, b = pairs[k].second;
    rhs(k) = eta * kappa * (a == b ? cs(a, a) : r2 * (cs(a, b) + cs(b, a)));
  }
  Eigen::SelfAdjointEigenSolver<Matrix> eig(op);  // reads the lower triangle
  const Vector& mu = eig.eigenvalues();
  RegressionStationary<Scalar> out;
  out.mean = data.minimizer();
  const Scalar lam_max = Eigen::SelfAdjointEigenSolver<Matrix>(h, Eigen::EigenvaluesOnly).eigenvalues()(d - 1);
  Vector sol = eig.eigenvectors() * (eig.eigenvectors().transpose() * rhs).cwiseQuotient(mu);
  out.covariance.resize(d, d);
  for (Eigen::Index k = 0; k < p; ++k) {
    const Eigen::Index a = pairs[k].first, b = pairs[k].second;
    if (a == b) {
      out.covariance(a, a) = sol(k);
    } else {
      out.covariance(a, b) = r2 * sol(k);
      out.covariance(b, a) = r2 * sol(k);
    }
  }
  out.excess_loss = Scalar(0.5) * (h.cwiseProduct(out.covariance)).sum();
  out.expected_loss = data.minimum_loss() + out.excess_loss;
  if (!(eta * lam_max < Scalar(2)) || !(mu(0) > Scalar(0)) || !(eta * mu(p - 1) < Scalar(2))) {
    const double value = mu(0) > Scalar(0) ? double(eta * mu(p - 1)) : double(mu(0));
    out.outcome = Outcome::failure(Status::unstable_step, -1, value,
                                   "second-moment recursion of SGD is unstable: eigenvalues of 𝓛 in [" +
                                       detail::describe(mu(0)) + ", " + detail::describe(mu(p - 1)) +
                                       "], need (0, 2/η) with 2/η = " + detail::describe(Scalar(2) / eta));
    out.excess_loss = std::numeric_limits<Scalar>::infinity();
    out.expected_loss = std::numeric_limits<Scalar>::infinity();
  }
  return out;
}

/// The additive-noise SDE limit (Jastrzębski et al. 2018, eqs. 5–7) of SGD on this problem:
/// dθ = −H(θ − θ*) dt + √(ηκ) C*^{1/2} dW, noise frozen at its value at θ*. Its stationary law:
/// H Σ + Σ H = ηκ C*, E[L − L*] = ½ Tr(HΣ). Differs from exact_sgd_stationary by O(η) relative:
/// discretisation (HΣH term) and the state-dependent noise 𝒜(Σ) − HΣH.
template <class Scalar>
RegressionStationary<Scalar> sde_sgd_stationary(const LinearRegressionData<Scalar>& data, Scalar eta,
                                                const Minibatch& batch) {
  detail::check_batch_against("sde_sgd_stationary", batch, data.samples());
  QuadraticStationary<Scalar> q = sde_stationary(data.hessian(), data.gradient_noise_at_minimum(), eta, batch);
  RegressionStationary<Scalar> out;
  out.mean = data.minimizer();
  out.covariance = std::move(q.covariance);
  out.excess_loss = q.excess_loss;
  out.expected_loss = data.minimum_loss() + q.excess_loss;
  out.outcome = q.outcome;
  return out;
}

/// Minibatch SGD on a LinearRegressionData: θ ← θ − η g_B(θ). Step k of a path draws its batch from
/// the stateless values [k·S, (k+1)·S) of uniform<double> of the path's RandomStream, so any step can be
/// regenerated alone and paths on different stream ids are independent. With replacement: index
/// ⌊u N⌋; without replacement: a partial Fisher–Yates shuffle of a permutation that is restored after
/// the step (so the batch depends only on (stream, k)). A step costs O(S d) and allocates nothing.
template <class Scalar>
class LinearRegressionSgd {
 public:
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

  LinearRegressionSgd(const LinearRegressionData<Scalar>& data, Scalar eta, const Minibatch& batch)
      : data_(&data), eta_(eta), batch_(batch) {
    require_positive("LinearRegressionSgd", "eta", eta);
    detail::check_batch_against("LinearRegressionSgd", batch, data.samples());
    require(batch.batch_size <= long(data.samples()) || batch.sampling == Sampling::with_replacement,
            "LinearRegressionSgd", "S", batch.batch_size, "S ≤ N");
    const Eigen::Index s = batch.batch_size;
    u_.resize(s);
    idx_.resize(std::size_t(s));
    perm_.resize(std::size_t(data.samples()));
    std::iota(perm_.begin(), perm_.end(), Eigen::Index(0));
    grad_.resize(data.dimension());
  }

  Scalar learning_rate() const { return eta_; }
  const Minibatch& batch() const { return batch_; }

  /// One SGD step (step number k of the path whose stream is `stream`). θ must have size d.
  void step(Eigen::Ref<Vector> theta, const RandomStream& stream, std::uint64_t k) {
    const Eigen::Index s = batch_.batch_size, n = data_->samples();
    stream.uniform_at(std::uint64_t(k) * std::uint64_t(s), u_);
    if (batch_.sampling == Sampling::with_replacement) {
      for (Eigen::Index i = 0; i < s; ++i) idx_[std::size_t(i)] = std::min(Eigen::Index(u_(i) * double(n)), n - 1);
    } else {
      for (Eigen::Index i = 0; i < s; ++i) {
        const Eigen::Index j = i + std::min(Eigen::Index(u_(i) * double(n - i)), n - i - 1);
        idx_[std::size_t(i)] = j;
        std::swap(perm_[std::size_t(i)], perm_[std::size_t(j)]);
      }
    }
    const auto& xt = data_->inputs_transposed();
    const auto& y = data_->targets();
    grad_.setZero();
    for (Eigen::Index i = 0; i < s; ++i) {
      const Eigen::Index row =
          batch_.sampling == Sampling::with_replacement ? idx_[std::size_t(i)] : perm_[std::size_t(i)];
      const Scalar r = xt.col(row).dot(theta) - y(row);
      grad_.noalias() += r * xt.col(row);
    }
    if (batch_.sampling == Sampling::without_replacement)
      for (Eigen::Index i = s; i-- > 0;) std::swap(perm_[std::size_t(i)], perm_[std::size_t(idx_[std::size_t(i)])]);
    theta.noalias() -= (eta_ / Scalar(s)) * grad_;
  }

  /// Runs steps first_step, …, first_step + steps − 1 on θ, calling observer(k, θ) after each step
  /// with the step number k + 1 just reached. Returns Status::non_finite (with the step) if θ blows up.
  template <class Observer>
  Outcome run(Eigen::Ref<Vector> theta, const RandomStream& stream, std::uint64_t first_step, std::uint64_t steps,
              Observer&& observer) {
    require_shape("LinearRegressionSgd::run", "theta", theta, data_->dimension(), 1);
    require_finite("LinearRegressionSgd::run", "theta", theta);
    for (std::uint64_t k = first_step; k < first_step + steps; ++k) {
      step(theta, stream, k);
      if (!theta.allFinite())
        return Outcome::failure(Status::non_finite, long(k), 0.0, "SGD iterate became non-finite");
      observer(k + 1, theta);
    }
    return Outcome{};
  }

 private:
  const LinearRegressionData<Scalar>* data_;
  Scalar eta_;
  Minibatch batch_;
  Eigen::Matrix<double, Eigen::Dynamic, 1> u_;
  std::vector<Eigen::Index> idx_, perm_;
  Vector grad_;
};

}  // namespace sgdsde
