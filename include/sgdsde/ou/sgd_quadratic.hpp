// sgdsde/ou/sgd_quadratic.hpp — SGD on a quadratic L = ½(θ−θ*)ᵀH(θ−θ*) with per-sample gradient noise:
// the SDE limit (Jastrzębski et al. 2018, eq. 7), the exact stationary law of discrete SGD for each
// sampler of core/minibatch.hpp (shuffled epochs: docs/theory.md "Shuffled epochs"), and a simulator.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Dense>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/minibatch.hpp"
#include "sgdsde/core/parallel.hpp"
#include "sgdsde/core/random.hpp"
#include "sgdsde/core/scalar.hpp"
#include "sgdsde/core/symmetric.hpp"
#include "sgdsde/core/types.hpp"

namespace sgdsde {

template <class Scalar>
class Quadratic;

/// Quadratic from per-sample gradient offsets: ∇l_n(θ) = H(θ − θ*) + ξ_n with ξ_n the columns of `xi`
/// (d × N, Σ_n ξ_n = 0), so C = Xi Xiᵀ/N. The only form that simulate_sgd accepts.
template <class DH, class DX>
Quadratic<typename DH::Scalar> per_sample_quadratic(const Eigen::MatrixBase<DH>& h, const Eigen::MatrixBase<DX>& xi);

/// L(θ) = ½(θ − θ*)ᵀH(θ − θ*) (H symmetric positive definite) whose N per-sample gradients have
/// covariance C = (1/N) Σ_n (∇l_n − ∇L)(∇l_n − ∇L)ᵀ, independent of θ (additive noise). All laws are
/// of e = θ − θ*. Quadratic(H, C): N unknown, theory for with_replacement only; Quadratic(H, C, N):
/// theory for every sampler; per_sample_quadratic(H, Xi): theory and simulation. Caches the
/// eigendecomposition H = V Λ Vᵀ and C̃ = VᵀCV.
template <class Scalar>
class Quadratic {
 public:
  Quadratic(const MatrixX<Scalar>& h, const MatrixX<Scalar>& c) { init("Quadratic", h, c, 0); }
  Quadratic(const MatrixX<Scalar>& h, const MatrixX<Scalar>& c, Index num_samples) {
    require(num_samples >= 1, "Quadratic", "num_samples", num_samples, "a data-set size N >= 1");
    init("Quadratic", h, c, num_samples);
  }

  Index dim() const { return h_.rows(); }
  /// N, or 0 when the quadratic was built from (H, C) alone.
  Index num_samples() const { return n_; }
  bool has_samples() const { return xi_.size() > 0; }
  const MatrixX<Scalar>& hessian() const { return h_; }
  const MatrixX<Scalar>& noise_covariance() const { return c_; }
  /// Per-sample gradient offsets ξ_n as columns (d × N; empty unless built by per_sample_quadratic).
  const MatrixX<Scalar>& offsets() const { return xi_; }
  /// Eigenvalues of H, ascending, and the matching orthonormal eigenvectors (columns).
  const VectorX<Scalar>& eigenvalues() const { return lam_; }
  const MatrixX<Scalar>& eigenvectors() const { return v_; }
  /// C̃ = VᵀCV, the noise covariance in the eigenbasis of H.
  const MatrixX<Scalar>& noise_in_eigenbasis() const { return ct_; }

 private:
  Quadratic() = default;
  template <class DH, class DX>
  friend Quadratic<typename DH::Scalar> per_sample_quadratic(const Eigen::MatrixBase<DH>&, const Eigen::MatrixBase<DX>&);

  void init(const char* fn, const MatrixX<Scalar>& h, const MatrixX<Scalar>& c, Index n) {
    require(h.rows() >= 1, fn, "H", "an empty matrix", "a d x d matrix with d >= 1");
    require_square(fn, "H", h);
    require_shape(fn, "C", c, h.rows(), h.rows());
    require_finite(fn, "H", h);
    require_finite(fn, "C", c);
    const Scalar tol = Constants<Scalar>::tolerance();
    require_symmetric(fn, "H", h, tol);
    require_symmetric(fn, "C", c, tol);
    h_ = symmetric_part(h);
    c_ = symmetric_part(c);
    n_ = n;
    // Both decompositions run on the matrix divided by its largest entry: Eigen's solver overflows
    // (NaN eigenvalues) for entries near the overflow threshold, e.g. C = 1e308·I.
    const Scalar hs = h_.cwiseAbs().maxCoeff();
    require(hs > Scalar(0), fn, "H", "the zero matrix", "a positive definite matrix");
    Eigen::SelfAdjointEigenSolver<MatrixX<Scalar>> eh(MatrixX<Scalar>(h_ / hs));
    require(eh.eigenvalues()(0) > Scalar(0) && eh.eigenvalues()(0) * hs > Scalar(0), fn, "H",
            "smallest eigenvalue " + detail::describe(eh.eigenvalues()(0) * hs), "a positive definite matrix");
    const Scalar cs = c_.cwiseAbs().maxCoeff();
    if (cs > Scalar(0)) {
      Eigen::SelfAdjointEigenSolver<MatrixX<Scalar>> ec(MatrixX<Scalar>(c_ / cs), Eigen::EigenvaluesOnly);
      const Scalar cmax = ec.eigenvalues().cwiseAbs().maxCoeff();
      require(ec.eigenvalues()(0) >= -tol * cmax, fn, "C",
              "smallest eigenvalue " + detail::describe(ec.eigenvalues()(0) * cs), "a positive semidefinite matrix");
    }
    lam_ = eh.eigenvalues() * hs;
    v_ = eh.eigenvectors();
    ct_ = symmetric_part(MatrixX<Scalar>(v_.transpose() * c_ * v_));
  }

  MatrixX<Scalar> h_, c_, xi_, v_, ct_;
  VectorX<Scalar> lam_;
  Index n_ = 0;
};

template <class DH, class DC>
Quadratic(const Eigen::MatrixBase<DH>&, const Eigen::MatrixBase<DC>&) -> Quadratic<typename DH::Scalar>;
template <class DH, class DC>
Quadratic(const Eigen::MatrixBase<DH>&, const Eigen::MatrixBase<DC>&, Index) -> Quadratic<typename DH::Scalar>;

template <class DH, class DX>
Quadratic<typename DH::Scalar> per_sample_quadratic(const Eigen::MatrixBase<DH>& h, const Eigen::MatrixBase<DX>& xi) {
  using Scalar = typename DH::Scalar;
  const char* fn = "per_sample_quadratic";
  require(xi.cols() >= 1, fn, "Xi", "0 columns", "a d x N matrix of per-sample gradient offsets, N >= 1");
  require_shape(fn, "Xi", xi, h.rows(), -1);
  require_finite(fn, "Xi", xi);
  const MatrixX<Scalar> x = xi.template cast<Scalar>();
  const Scalar total = x.colwise().norm().sum();
  const Scalar drift = x.rowwise().sum().norm();
  require(drift <= Constants<Scalar>::tolerance() * total, fn, "Xi",
          "columns with |sum| = " + detail::describe(drift),
          "centred columns (sum of xi_n = 0; subtract Xi.rowwise().mean())");
  Quadratic<Scalar> q;
  const MatrixX<Scalar> c = x * x.transpose() / Scalar(x.cols());
  q.init(fn, h, c, x.cols());
  q.xi_ = x;
  return q;
}

/// Stationary law of e = θ − θ* under SGD on a Quadratic. For shuffled epochs the law is cyclic with
/// period B = ⌊N/S⌋ steps: `covariance` and `expected_excess_loss` are then averages over the B
/// positions of an epoch (what a time average over whole epochs measures), `epoch_start_covariance`
/// is Cov e at the start of an epoch and `excess_loss_by_position[j]` is E[L − L*] before step j of an
/// epoch. For independent steps: epoch_start_covariance = covariance, one position.
/// `condition` estimates the relative sensitivity of the solve to rounding (item 7 of issue 8): the
/// entries are Σ̃_ab = ηκ C̃_ab / d_ab with d_ab = λ_a + λ_b − γλ_aλ_b (γ = 0 for the SDE, η for discrete
/// SGD), and the eigenvalues of H carry an absolute error ε‖H‖, so
///   condition = max_ab [‖H‖(|1 − γλ_a| + |1 − γλ_b|) + λ_a + λ_b + γλ_aλ_b] / |d_ab|
/// (≈ 2κ(H) for the SDE; ≈ 1/(2 − ηλ_max) as ηλ_max → 2). forward_error_bound = condition·ε, the
/// first-order relative error of the largest entry. Status::ill_conditioned when condition·ε > √ε
/// (fewer than about half the digits can be trusted; H nearly singular, or ηλ near 2), non_finite when
/// the covariance overflows; unstable_step (discrete, ηλ_max ≥ 2) takes priority.
template <class Scalar>
struct QuadraticStationary {
  MatrixX<Scalar> covariance;
  Scalar expected_excess_loss = Scalar(0);
  MatrixX<Scalar> epoch_start_covariance;
  VectorX<Scalar> excess_loss_by_position;
  Outcome outcome;
  Scalar condition = Scalar(1);
  Scalar forward_error_bound = Scalar(0);
};

namespace detail {

/// N used for noise_law: N itself, or (unknown N) 1, which with_replacement accepts for any S.
template <class Scalar>
Index quadratic_law_samples(const char* fn, const Quadratic<Scalar>& q, const Sampler& sampler) {
  if (q.num_samples() > 0) return q.num_samples();
  require(std::holds_alternative<WithReplacement>(sampler), fn, "q",
          std::string("a Quadratic without N with sampler ") + name_of(sampler),
          "with_replacement, or a Quadratic built with N (Quadratic(H, C, N) or per_sample_quadratic)");
  return 1;
}

template <class Scalar>
QuadraticStationary<Scalar> from_eigenbasis(const Quadratic<Scalar>& q, const MatrixX<Scalar>& st) {
  QuadraticStationary<Scalar> out;
  const MatrixX<Scalar>& v = q.eigenvectors();
  out.covariance = symmetric_part(MatrixX<Scalar>(v * st * v.transpose()));
  out.expected_excess_loss = Scalar(0.5) * (q.eigenvalues().array() * st.diagonal().array()).sum();
  return out;
}

/// Σ̃_ab = ηκ C̃_ab / (λ_a + λ_b − γ λ_a λ_b) (γ = 0: SDE; γ = η: discrete SGD with independent steps).
template <class Scalar>
MatrixX<Scalar> independent_stationary(const Quadratic<Scalar>& q, Scalar eta, Scalar kappa, Scalar gamma) {
  const auto& lam = q.eigenvalues();
  MatrixX<Scalar> st = q.noise_in_eigenbasis();
  for (Index b = 0; b < st.cols(); ++b)
    for (Index a = 0; a < st.rows(); ++a) st(a, b) *= eta * kappa / (lam(a) + lam(b) - gamma * lam(a) * lam(b));
  return st;
}

/// The condition estimate of QuadraticStationary (see there) for the denominators λ_a + λ_b − γλ_aλ_b.
template <class Scalar>
Scalar quadratic_condition(const Quadratic<Scalar>& q, Scalar gamma) {
  using std::abs;
  using std::max;
  const auto& lam = q.eigenvalues();
  const Index d = lam.size();
  const Scalar norm_h = max(abs(lam(0)), abs(lam(d - 1)));
  Scalar cond = Scalar(1);
  for (Index b = 0; b < d; ++b)
    for (Index a = b; a < d; ++a) {
      const Scalar den = abs(lam(a) + lam(b) - gamma * lam(a) * lam(b));
      const Scalar sens = norm_h * (abs(Scalar(1) - gamma * lam(a)) + abs(Scalar(1) - gamma * lam(b))) + lam(a) +
                          lam(b) + gamma * lam(a) * lam(b);
      const Scalar c = den > Scalar(0) ? sens / den : std::numeric_limits<Scalar>::infinity();
      if (!(c <= cond)) cond = c;
    }
  return cond;
}

/// Sets condition, forward_error_bound and (unless it already failed) the status: non_finite when the
/// result overflowed, ill_conditioned when condition·ε > √ε.
template <class Scalar>
void finish_quadratic(QuadraticStationary<Scalar>& out, Scalar condition) {
  using std::sqrt;
  const Scalar eps = Constants<Scalar>::epsilon();
  out.condition = condition;
  out.forward_error_bound = condition * eps;
  if (!out.outcome.ok()) return;
  if (!all_finite(out.covariance) || !all_finite(out.epoch_start_covariance) ||
      !all_finite(out.excess_loss_by_position) || !std::isfinite(double(out.expected_excess_loss))) {
    out.outcome = Outcome::failure(Status::non_finite, -1, double(out.expected_excess_loss),
                                   "the stationary covariance overflowed");
    return;
  }
  if (!(condition * eps <= sqrt(eps)))
    out.outcome = Outcome::failure(Status::ill_conditioned, -1, double(condition),
                                   "condition estimate " + detail::describe(condition) +
                                       " of the stationary solve: fewer than half the digits can be trusted "
                                       "(H nearly singular or eta * lambda near 2)");
}

/// Sums over one epoch of B steps for the eigenpair (a, b), m = 1 − x, x = ηλ (see docs/theory.md):
/// P = m^B, A = Σ_{k<B} m^k, V = Σ_{k<B} A(k), Q = Σ_{k<B} (m_a^k − A_a/B)(m_b^k − A_b/B),
/// T = Σ_{k<B} A_a(k) A_b(k). Built by binary doubling/increment in O(log B) from updates whose terms
/// are all ≥ 0 for 0 < x < 1, so nothing cancels when xB ≪ 1.
template <class Scalar>
struct EpochSums {
  Scalar pa = 1, pb = 1, aa = 0, ab = 0, va = 0, vb = 0, q = 0, t = 0;
  long len = 0;

  void increment(Scalar ma, Scalar xa, Scalar mb, Scalar xb) {
    const Scalar L = Scalar(len);
    const Scalar ra = xa * (va + aa), rb = xb * (vb + ab);  // Σ_{i=1}^{L} (1 − m^i)
    if (len > 0) q = ma * mb * q + ra * rb / (L * (L + Scalar(1)));
    t += aa * ab;
    va += aa;
    vb += ab;
    aa += pa;
    ab += pb;
    pa *= ma;
    pb *= mb;
    ++len;
  }
  void double_up(Scalar xa, Scalar xb) {
    if (len == 0) return;
    const Scalar L = Scalar(len);
    q = q * (Scalar(1) + pa * pb) + xa * xb * aa * aa * ab * ab / (Scalar(2) * L);
    t = t * (Scalar(1) + pa * pb) + L * aa * ab + aa * pb * vb + pa * ab * va;
    va = va * (Scalar(1) + pa) + L * aa;
    vb = vb * (Scalar(1) + pb) + L * ab;
    aa *= Scalar(1) + pa;
    ab *= Scalar(1) + pb;
    pa *= pa;
    pb *= pb;
    len *= 2;
  }
  static EpochSums compute(Scalar ma, Scalar xa, Scalar mb, Scalar xb, long steps) {
    EpochSums s;
    int top = 0;
    while ((steps >> top) > 1) ++top;
    for (int bit = top; bit >= 0; --bit) {
      s.double_up(xa, xb);
      if ((steps >> bit) & 1) s.increment(ma, xa, mb, xb);
    }
    return s;
  }
};

}  // namespace detail

/// SDE limit dθ = −H(θ−θ*) dt + √(ηκ) C^{1/2} dW (t = kη) with κ = noise_law(sampler, N).variance_factor:
/// H Σ + Σ H = ηκ C, E[L − L*] = ½ Tr(HΣ). For C = σ²H and with replacement, Σ = ησ²/(2S) I and
/// E[L − L*] = ησ²/(4S) Tr H (Jastrzębski eq. 7). For shuffled epochs this is the per-step marginal
/// SDE (the fresh-subset one): it ignores the anticorrelation of the batches of an epoch, and is NOT the
/// small-η limit of shuffled-epoch SGD (that limit has κ = (N mod S)/(S(N−1)), docs/theory.md).
/// Status ill_conditioned (H nearly singular) or non_finite as documented at QuadraticStationary.
template <class Scalar>
QuadraticStationary<Scalar> sde_stationary(const Quadratic<Scalar>& q, detail::non_deduced_t<Scalar> eta,
                                           const Sampler& sampler) {
  const char* fn = "sde_stationary";
  require_positive(fn, "eta", eta);
  const NoiseLaw law = noise_law(sampler, detail::quadratic_law_samples(fn, q, sampler));
  auto out = detail::from_eigenbasis(q, detail::independent_stationary(q, eta, Scalar(law.variance_factor), Scalar(0)));
  out.epoch_start_covariance = out.covariance;
  out.excess_loss_by_position = VectorX<Scalar>::Constant(1, out.expected_excess_loss);
  detail::finish_quadratic(out, detail::quadratic_condition(q, Scalar(0)));
  return out;
}

/// Exact stationary law of discrete SGD e_{k+1} = (I − ηH) e_k − η ε_k, ε_k the batch mean of the ξ_n
/// drawn by `sampler` (second moments are exact for any law of ξ; only noise_law enters).
/// Independent steps (with_replacement, fresh_subset): Σ = (I−ηH)Σ(I−ηH) + η²κC, i.e.
/// Σ̃_ab = ηκ C̃_ab/(λ_a + λ_b − ηλ_aλ_b). Shuffled epochs (B = ⌊N/S⌋ batches, the last N mod S samples
/// of each permutation dropped): the cyclostationary law of docs/theory.md "Shuffled epochs", cost
/// O(d³ + d² log B + d B). Status::unstable_step (value η λ_max) when η λ_max ≥ 2; the fields are then
/// zero and the loss +∞; else ill_conditioned (ηλ near 2 or 0 relative to ‖H‖·η) or non_finite as
/// documented at QuadraticStationary.
template <class Scalar>
QuadraticStationary<Scalar> discrete_stationary(const Quadratic<Scalar>& q, detail::non_deduced_t<Scalar> eta,
                                                const Sampler& sampler) {
  const char* fn = "discrete_stationary";
  require_positive(fn, "eta", eta);
  const Index n = detail::quadratic_law_samples(fn, q, sampler);
  const NoiseLaw law = noise_law(sampler, n);
  const Index d = q.dim();
  const auto& lam = q.eigenvalues();
  const Scalar stiff = eta * lam(d - 1);
  if (!(stiff < Scalar(2))) {
    QuadraticStationary<Scalar> out;
    out.covariance = out.epoch_start_covariance = MatrixX<Scalar>::Zero(d, d);
    out.expected_excess_loss = std::numeric_limits<Scalar>::infinity();
    out.excess_loss_by_position = VectorX<Scalar>::Constant(1, out.expected_excess_loss);
    out.condition = out.forward_error_bound = std::numeric_limits<Scalar>::infinity();
    out.outcome = Outcome::failure(Status::unstable_step, -1, double(stiff),
                                   "eta * lambda_max(H) = " + detail::describe(stiff) + " >= 2: SGD diverges");
    return out;
  }
  if (law.independent_steps()) {
    auto out = detail::from_eigenbasis(q, detail::independent_stationary(q, eta, Scalar(law.variance_factor), eta));
    out.epoch_start_covariance = out.covariance;
    out.excess_loss_by_position = VectorX<Scalar>::Constant(1, out.expected_excess_loss);
    detail::finish_quadratic(out, detail::quadratic_condition(q, Scalar(eta)));
    return out;
  }
  // Shuffled epochs. Cov(ε_k, ε_l) = (β δ_kl − γ) C with β = variance − cross, γ = −cross, and
  // δ = β − γB = (N mod S)/(S(N − 1)) ≥ 0 (the variance of the epoch's noise sum, per batch).
  const long nb = law.batches_per_epoch;
  const Scalar bs = Scalar(nb);
  const Scalar beta = Scalar(law.variance_factor - law.cross_factor), gamma = Scalar(-law.cross_factor);
  const Index s = batch_size_of(sampler).low;
  const Scalar delta = n > 1 ? Scalar(double(n - s * Index(nb)) / (double(s) * double(n - 1))) : Scalar(0);
  const Scalar eta2 = eta * eta;
  VectorX<Scalar> x = eta * lam, m = VectorX<Scalar>::Ones(d) - x;
  const MatrixX<Scalar>& ct = q.noise_in_eigenbasis();
  MatrixX<Scalar> start(d, d), avg(d, d);
  for (Index b = 0; b < d; ++b)
    for (Index a = b; a < d; ++a) {
      const auto e = detail::EpochSums<Scalar>::compute(m(a), x(a), m(b), x(b), nb);
      const Scalar one_minus_p = x(a) + x(b) - x(a) * x(b);
      const Scalar g = e.q + e.aa * e.ab / bs;  // Σ_{k<B} (m_a m_b)^k = (1 − p^B)/(1 − p)
      start(a, b) = eta2 * ct(a, b) * (delta * e.aa * e.ab / bs + beta * e.q) / (one_minus_p * g);
      const Scalar spread = bs * x(b) * e.vb + e.ab * x(a) * e.va;  // B² − A_a A_b
      avg(a, b) = eta2 * ct(a, b) * (delta / one_minus_p + gamma / bs * (spread / one_minus_p - e.t));
      start(b, a) = start(a, b);
      avg(b, a) = avg(a, b);
    }
  auto out = detail::from_eigenbasis(q, avg);
  out.epoch_start_covariance = symmetric_part(MatrixX<Scalar>(q.eigenvectors() * start * q.eigenvectors().transpose()));
  // Position j: Σ̃_j = p^j Σ̃_0 + η² C̃ [δ A(j)²/B + β (Q_in(j) + A(j)² (1/j − 1/B))], diagonal only.
  out.excess_loss_by_position = VectorX<Scalar>::Zero(nb);
  for (Index a = 0; a < d; ++a) {
    detail::EpochSums<Scalar> e;  // a = b: aa = ab, q = Q_in(j)
    for (long j = 0; j < nb; ++j) {
      const Scalar noise = j == 0 ? Scalar(0)
                                  : delta * e.aa * e.aa / bs +
                                        beta * (e.q + e.aa * e.aa * (Scalar(1) / Scalar(j) - Scalar(1) / bs));
      out.excess_loss_by_position(j) += Scalar(0.5) * lam(a) * (e.pa * e.pa * start(a, a) + eta2 * ct(a, a) * noise);
      e.increment(m(a), x(a), m(a), x(a));
    }
  }
  detail::finish_quadratic(out, detail::quadratic_condition(q, Scalar(eta)));
  return out;
}

/// Options of simulate_sgd. burn_in < 0 picks ⌈10 τ⌉ steps with τ = −1/log max|1 − ηλ| the slowest
/// relaxation time of the mean (rounded up to whole epochs for shuffled epochs).
struct SgdSimulationOptions {
  long burn_in = -1;
  long blocks = 32;  ///< batch means: the averaged steps are cut into this many blocks (≥ 2)
};

/// Time-averaged excess loss of a simulated SGD run with its batch-means standard error
/// sd(block means)/√blocks (valid when a block is much longer than the loss correlation time τ/2),
/// and the same per position j in the epoch (shuffled epochs: B = ⌊N/S⌋ positions; else one).
template <class Scalar>
struct SgdSimulation {
  Scalar excess_loss = Scalar(0);
  Scalar standard_error = Scalar(0);
  VectorX<Scalar> excess_loss_by_position, standard_error_by_position;
  long burn_in = 0, block_steps = 0, blocks = 0;
  VectorX<Scalar> final_error;  ///< θ − θ* after the last step
  Outcome outcome;
};

/// Runs SGD e_{k+1} = e_k − η(H e_k + ε_k) from e_0 = 0 (θ = θ*) for `steps` steps, ε_k the mean of the
/// offsets ξ_n of batch k drawn by BatchDrawer(sampler, N, stream), and averages ½ e_kᵀHe_k over the
/// steps after the burn-in, in `blocks` blocks of equal length (whole epochs for shuffled epochs; any
/// leftover steps at the end are run but not averaged). Needs per_sample_quadratic. Status::non_finite
/// (with the step) if the iterate blows up. O(steps (d² + S d)).
template <class Scalar>
SgdSimulation<Scalar> simulate_sgd(const Quadratic<Scalar>& q, detail::non_deduced_t<Scalar> eta, const Sampler& sampler,
                                   long steps, RandomStream stream, const SgdSimulationOptions& options = {}) {
  using std::abs;
  using std::ceil;
  using std::log;
  const char* fn = "simulate_sgd";
  require(q.has_samples(), fn, "q", "a Quadratic without per-sample offsets",
          "a quadratic from per_sample_quadratic(H, Xi)");
  require_positive(fn, "eta", eta);
  require(options.blocks >= 2, fn, "options.blocks", options.blocks, "at least 2 blocks");
  BatchDrawer drawer(sampler, q.num_samples(), stream);
  const BatchSizeSchedule& size = batch_size_of(sampler);
  const bool cyclic = std::holds_alternative<ShuffledEpochs>(sampler) && size.is_constant();
  const long epoch = cyclic ? long(q.num_samples() / size.low) : 1;
  const Index d = q.dim();
  long burn = options.burn_in;
  if (burn < 0) {
    const auto& lam = q.eigenvalues();
    const double rho = std::max(abs(1.0 - double(eta) * double(lam(0))), abs(1.0 - double(eta) * double(lam(d - 1))));
    burn = rho < 1 ? long(ceil(10.0 / -log(rho))) : 0;
  }
  burn = (burn + epoch - 1) / epoch * epoch;
  require(steps >= 1, fn, "steps", steps, "a number of steps >= 1");
  const long block = (steps - burn) / options.blocks / epoch * epoch;
  require(block >= 1, fn, "steps", steps,
          ("at least burn_in + blocks x (one epoch) = " + std::to_string(burn + options.blocks * epoch) + " steps").c_str());
  const MatrixX<Scalar>& h = q.hessian();
  const MatrixX<Scalar>& xi = q.offsets();
  SgdSimulation<Scalar> out;
  out.burn_in = burn;
  out.block_steps = block;
  out.blocks = options.blocks;
  // sums(j, b): sum of ½ eᵀHe over the steps of block b at position j of the epoch.
  Eigen::MatrixXd sums = Eigen::MatrixXd::Zero(epoch, options.blocks);
  VectorX<Scalar> e = VectorX<Scalar>::Zero(d), he(d), eps(d);
  Batch batch;
  for (long k = 0; k < steps; ++k) {
    drawer.next(k, batch);
    he.noalias() = h * e;
    const long rel = k - burn;
    if (rel >= 0 && rel < block * options.blocks) sums(rel % epoch, rel / block) += 0.5 * double(e.dot(he));
    eps.setZero();
    for (Index i : batch) eps += xi.col(i);
    e -= eta * (he + eps / Scalar(Index(batch.size())));
    if ((k & 1023) == 0 && !all_finite(e)) {
      out.outcome = Outcome::failure(Status::non_finite, k, 0.0, "SGD iterate became non-finite");
      break;
    }
  }
  if (out.outcome.ok() && !all_finite(e))
    out.outcome = Outcome::failure(Status::non_finite, steps, 0.0, "SGD iterate became non-finite");
  out.final_error = e;
  const double nbk = double(options.blocks);
  auto mean_se = [&](const Eigen::RowVectorXd& means, Scalar& m, Scalar& se) {
    const double mu = means.mean();
    m = Scalar(mu);
    se = Scalar(std::sqrt((means.array() - mu).square().sum() / (nbk - 1) / nbk));
  };
  mean_se(sums.colwise().sum() / double(block), out.excess_loss, out.standard_error);
  out.excess_loss_by_position.resize(epoch);
  out.standard_error_by_position.resize(epoch);
  for (long j = 0; j < epoch; ++j)
    mean_se(sums.row(j) / double(block / epoch), out.excess_loss_by_position(j), out.standard_error_by_position(j));
  return out;
}

/// Result of simulate_sgd_ensemble: the R independent runs (in run order) and their combination.
/// excess_loss is the mean over the successful runs of their time-averaged excess loss and
/// standard_error = sd(run means)/√R_ok (the runs are independent, so this is the plain CLT error,
/// without the batch-means assumption of a single run). outcome is the failure of the lowest-index
/// failed run (its message names the run), with `failed_runs` counting them; success otherwise.
template <class Scalar>
struct SgdEnsemble {
  std::vector<SgdSimulation<Scalar>> runs;
  Scalar excess_loss = Scalar(0);
  Scalar standard_error = Scalar(0);
  long failed_runs = 0;
  Outcome outcome;
};

/// `runs` independent SGD runs of simulate_sgd(q, eta, sampler, steps, ·, options) on up to `threads`
/// threads (core/parallel.hpp; default automatic). Run r draws its batches from
/// stream.substream(stream.stream_id() + r), so each run, and the whole result, is the same bits for
/// every thread count (and equals the single simulate_sgd call with that stream). Throws
/// sgdsde::invalid_argument as simulate_sgd does, and for runs < 2 or threads ≤ 0.
template <class Scalar>
SgdEnsemble<Scalar> simulate_sgd_ensemble(const Quadratic<Scalar>& q, detail::non_deduced_t<Scalar> eta,
                                          const Sampler& sampler, long steps, long runs, const RandomStream& stream,
                                          const SgdSimulationOptions& options = {}, Threads threads = {}) {
  const char* fn = "simulate_sgd_ensemble";
  require(runs >= 2, fn, "runs", runs, "at least 2 independent runs (for a standard error)");
  threads.resolve(fn);
  // Argument errors surface once, from run 0, before any parallel work.
  SgdEnsemble<Scalar> out;
  out.runs.resize(std::size_t(runs));
  out.runs[0] = simulate_sgd(q, eta, sampler, steps, stream, options);
  parallel_for(fn, Index(runs - 1), threads, [&](Index r) {
    out.runs[std::size_t(r + 1)] =
        simulate_sgd(q, eta, sampler, steps, stream.substream(stream.stream_id() + std::uint64_t(r + 1)), options);
  }, Schedule::dynamic);
  double sum = 0.0, sum_sq = 0.0;
  long ok = 0;
  for (std::size_t r = 0; r < out.runs.size(); ++r) {
    const auto& run = out.runs[r];
    if (!run.outcome.ok()) {
      if (out.failed_runs++ == 0)
        out.outcome = Outcome::failure(run.outcome.status, run.outcome.step, run.outcome.value,
                                       "run " + std::to_string(r) + ": " + run.outcome.message);
      continue;
    }
    sum += double(run.excess_loss);
    ++ok;
  }
  if (ok == 0) return out;
  const double mean = sum / double(ok);
  for (const auto& run : out.runs)
    if (run.outcome.ok()) sum_sq += (double(run.excess_loss) - mean) * (double(run.excess_loss) - mean);
  out.excess_loss = Scalar(mean);
  out.standard_error = ok > 1 ? Scalar(std::sqrt(sum_sq / double(ok - 1) / double(ok))) : Scalar(0);
  return out;
}

/// Discrete/continuous ratio of the stationary variance along each eigendirection of H (ascending),
/// 1/(1 − η λ_i / 2), exact for independent steps when H and C commute. +∞ where η λ_i ≥ 2.
template <class Scalar>
VectorX<Scalar> discrete_to_continuous_ratio(const Quadratic<Scalar>& q, detail::non_deduced_t<Scalar> eta) {
  require_positive("discrete_to_continuous_ratio", "eta", eta);
  VectorX<Scalar> r(q.dim());
  for (Index i = 0; i < r.size(); ++i) {
    const Scalar x = eta * q.eigenvalues()(i);
    r(i) = x < Scalar(2) ? Scalar(1) / (Scalar(1) - x / Scalar(2)) : std::numeric_limits<Scalar>::infinity();
  }
  return r;
}

}  // namespace sgdsde
