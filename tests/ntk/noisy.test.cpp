// Tests of ntk/noisy.hpp (noisy GD in the NTK regime, Borovykh 2019 §2.2.1, §2.2.3, Lemma 3 corrected):
//  - closed forms against an independent computation in PARAMETER space: the noise part δ of the linear model
//    f = f_0 + Jδ is an OU process dδ = −κ(JᵀJ + NλI)δ dt + B dW; its exact law (flow: full-matrix formula in
//    A's eigenbasis, written here) or the exact law of its Euler–Maruyama chain with dt = 1 step (GD: the
//    library's ou::OrnsteinUhlenbeck::euler_maruyama_law, Stein recursion), pushed through [J; J*]; also
//    rank-deficient and nearly singular Θ, and the t → ∞ laws;
//  - Monte Carlo, SDE form: exact sampling of the parameter OU law, and sde::integrate(EulerMaruyama) at fine dt;
//  - Monte Carlo, discrete form: the linear model trained by optim::Sgd with injected noise (σ, M);
//  - the printed Lemma 3 (N² instead of M, Θ² instead of Θ; either reading of its doubled index) is rejected
//    by the same simulations, and its Frobenius reading is what OutputNoise (label noise) gives;
//  - bad input.
// Statistical bounds: each checked quantity is a sample mean of R i.i.d. runs (fixed seeds, counter-based
// RandomStream: run r uses its own stream or its own block of counters), so by the CLT its error is
// ≈ N(0, s²/R) with s the sample standard deviation (finite fourth moments: Gaussian outputs). We require
// |mean − exact| ≤ 5 SE (two-sided P ≈ 6e-7 per check if the formula is right) and, to reject a formula,
// |mean − printed| ≥ 20 SE.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include <Eigen/Dense>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/random.hpp"
#include "sgdsde/ntk/noisy.hpp"
#include "sgdsde/optim/sgd.hpp"
#include "sgdsde/ou/ou_process.hpp"
#include "sgdsde/sde/euler_maruyama.hpp"
#include "sgdsde/sde/integrate.hpp"

using namespace sgdsde;
using ntk::Dynamics;
using ntk::EvolutionOptions;

namespace {

using Mat = Eigen::MatrixXd;
using Vec = Eigen::VectorXd;

/// Linear model f(x; δ) = f_0(x) + J(x)δ, one output; J, J* rows = training / test gradients.
struct Model {
  Mat J, Js;      // N × P, N* × P
  Mat f0, f0s;    // 1 × N, 1 × N*
  Mat y, ys;      // 1 × N, 1 × N*
  Mat theta() const { return J * J.transpose(); }
  Mat theta_ts() const { return Js * J.transpose(); }
  Mat theta_s() const { return Js * Js.transpose(); }
};

Model make_model(Index n, Index ns, Index p, std::uint64_t seed) {
  RandomStream rs(seed);
  Model m;
  m.J.resize(n, p);
  m.Js.resize(ns, p);
  m.f0.resize(1, n);
  m.f0s.resize(1, ns);
  m.y.resize(1, n);
  m.ys.resize(1, ns);
  for (Mat* x : {&m.J, &m.Js, &m.f0, &m.f0s, &m.y, &m.ys}) rs.fill_normal(*x);
  m.J /= std::sqrt(double(p));
  m.Js /= std::sqrt(double(p));
  return m;
}

/// Per-step output-noise amplitude B in parameter space: ParameterNoise → c·I_P, OutputNoise → (ση/N) Jᵀ.
Mat noise_factor(const Model& m, const ntk::NoiseModel& noise, double eta) {
  const double n = double(m.J.rows());
  if (const auto* p = std::get_if<ntk::ParameterNoise>(&noise))
    return (p->sigma * eta / std::sqrt(p->m)) * Mat::Identity(m.J.cols(), m.J.cols());
  return (std::get<ntk::OutputNoise>(noise).sigma * eta / n) * m.J.transpose();
}

/// Exact law of the OU process dx = −A(x − μ) dt + B dW at time t from x0, A symmetric PSD (BBᵀ = Q), computed
/// in A's eigenbasis A = U diag(a) Uᵀ: mean μ + U e^{−at} Uᵀ(x0 − μ), covariance U C Uᵀ with
/// C_kl = [UᵀQU]_kl (1 − e^{−(a_k + a_l)t})/(a_k + a_l) (= t·[UᵀQU]_kl when a_k + a_l = 0); t = ∞ drops the
/// exponentials (needs A positive definite). Written for this test: a full-matrix (non-commuting) formula in
/// the space it is given, independent of noisy.hpp's output-space reduction.
struct Gaussian {
  Vec mean;
  Mat covariance;
};
Gaussian ou_law(const Mat& a, const Mat& q, const Vec& x0, const Vec& mu, double t) {
  Eigen::SelfAdjointEigenSolver<Mat> es(a);
  const Mat u = es.eigenvectors();
  const Vec ev = es.eigenvalues().cwiseMax(0.0);
  const Mat qt = u.transpose() * q * u;
  Mat c(a.rows(), a.rows());
  Vec decay(a.rows());
  for (Index k = 0; k < a.rows(); ++k) {
    decay[k] = std::isinf(t) ? 0.0 : std::exp(-ev[k] * t);
    for (Index l = 0; l < a.rows(); ++l) {
      const double s = ev[k] + ev[l];
      c(k, l) = qt(k, l) * (std::isinf(t) ? 1 / s : (s == 0 ? t : -std::expm1(-s * t) / s));
    }
  }
  return {mu + u * decay.asDiagonal() * u.transpose() * (x0 - mu), u * c * u.transpose()};
}

/// Covariance of δ_t (noise part of the parameters), an OU process with A = κ(JᵀJ + NλI), B = noise_factor:
/// flow by ou_law; GD by the library's exact law of the Euler–Maruyama chain with dt = 1 step
/// (δ_{s+1} = (I − A)δ_s + Bξ_s, Stein recursion by doubling, accurate at any t; t = ∞ taken as t = 10⁹, which
/// relaxes every mode when λ > 0).
Mat parameter_covariance(const Model& m, const ntk::NoiseModel& noise, double eta, double lambda, Dynamics dyn,
                         double t) {
  const double n = double(m.J.rows());
  const Index p = m.J.cols();
  const Mat a = (eta / n) * (m.J.transpose() * m.J + n * lambda * Mat::Identity(p, p));
  const Mat b = noise_factor(m, noise, eta);
  if (dyn == Dynamics::gradient_flow) return ou_law(a, b * b.transpose(), Vec::Zero(p), Vec::Zero(p), t).covariance;
  OrnsteinUhlenbeck ou(a, b);
  return ou.euler_maruyama_law(Vec::Zero(p), std::isinf(t) ? 1e9 : t, 1.0).covariance;
}

double rel_err(const Mat& a, const Mat& b) { return (a - b).norm() / std::max(1e-300, b.norm()); }

/// Borovykh's Lemma 3 as printed, divided by N (MSE), for the flow: first term + σ²η²/N² ∫₀ᵗ (double sum) ds.
/// frobenius = true reads Σ_{i}Σ_{j} [e^{−A(t−s)}Θ]_ij²; false reads the doubled index literally, N Σ_i [·]_ii².
/// Evaluated from a dense eigendecomposition of Θ in this test (independent of the library's code).
double printed_lemma3_mse(const Model& m, double sigma, double eta, double t, bool frobenius) {
  const Index n = m.J.rows();
  const double kappa = eta / double(n);
  Eigen::SelfAdjointEigenSolver<Mat> es(m.theta());
  const Vec mu = es.eigenvalues();
  const Mat v = es.eigenvectors();
  const Vec r = (m.f0 - m.y).transpose();
  const Vec c = v.transpose() * r;
  double first = 0;
  for (Index i = 0; i < n; ++i) first += c[i] * c[i] * std::exp(-2 * kappa * mu[i] * t);
  double second = 0;
  if (frobenius) {  // ∫ tr(e^{−2Au} Θ²) du
    for (Index i = 0; i < n; ++i) second += mu[i] * mu[i] * (1 - std::exp(-2 * kappa * mu[i] * t)) / (2 * kappa * mu[i]);
  } else {          // N Σ_i ∫ (Σ_k V_ik² μ_k e^{−κμ_k u})² du
    for (Index i = 0; i < n; ++i)
      for (Index k = 0; k < n; ++k)
        for (Index l = 0; l < n; ++l) {
          const double s = kappa * (mu[k] + mu[l]);
          second += double(n) * v(i, k) * v(i, k) * v(i, l) * v(i, l) * mu[k] * mu[l] * (1 - std::exp(-s * t)) / s;
        }
  }
  return (first + sigma * sigma * eta * eta / double(n * n) * second) / double(n);
}

/// Sample mean and standard error of a set of values.
struct MeanSe {
  double mean = 0, se = 0;
};
MeanSe mean_se(const std::vector<double>& z) {
  double s = 0, s2 = 0;
  for (double x : z) s += x;
  const double mean = s / double(z.size());
  for (double x : z) s2 += (x - mean) * (x - mean);
  return {mean, std::sqrt(s2 / double(z.size() - 1) / double(z.size()))};
}

/// Monte Carlo checks of one ensemble of final parameters δ (P × R): the train MSE against `mse` and every
/// entry of the joint (train, test) covariance against [cov, crossᵀ; cross, test] (products centred on the
/// exact means, so each is an unbiased sample mean of i.i.d. values; 5 SE).
struct McResult {
  MeanSe mse;
  int covariance_failures = 0;
  double worst_z = 0;
};
McResult check_ensemble(const Model& m, const Mat& delta, const Mat& mean_train, const Mat& mean_test,
                        const Mat& cov, const Mat& cross, const Mat& test) {
  const Index n = m.J.rows(), ns = m.Js.rows(), r = delta.cols();
  const Mat f = (m.J * delta).colwise() + m.f0.transpose().col(0);    // N × R
  const Mat fs = (m.Js * delta).colwise() + m.f0s.transpose().col(0); // N* × R
  std::vector<double> z(static_cast<std::size_t>(r));
  for (Index j = 0; j < r; ++j) z[std::size_t(j)] = (f.col(j) - m.y.transpose()).squaredNorm() / double(n);
  McResult out;
  out.mse = mean_se(z);
  Mat joint(n + ns, r);
  joint.topRows(n) = f.colwise() - mean_train.transpose().col(0);
  joint.bottomRows(ns) = fs.colwise() - mean_test.transpose().col(0);
  Mat exact(n + ns, n + ns);
  exact << cov, cross.transpose(), cross, test;
  for (Index a = 0; a < n + ns; ++a)
    for (Index b = a; b < n + ns; ++b) {
      std::vector<double> prod(static_cast<std::size_t>(r));
      for (Index j = 0; j < r; ++j) prod[std::size_t(j)] = joint(a, j) * joint(b, j);
      const MeanSe c = mean_se(prod);
      const double zscore = std::abs(c.mean - exact(a, b)) / c.se;
      out.worst_z = std::max(out.worst_z, zscore);
      if (zscore > 5) ++out.covariance_failures;
    }
  return out;
}

/// Minimum-norm parameter shift that fits: δ* with Jδ* = y − f0 (P ≥ N, Θ invertible): δ* = Jᵀ Θ⁻¹ (y − f0)ᵀ.
Vec fit_shift(const Model& m) { return m.J.transpose() * m.theta().ldlt().solve((m.y - m.f0).transpose()); }

}  // namespace

TEST_CASE("noisy_outputs: covariances equal the parameter-space OU law (flow and GD, both noise models)") {
  const Model m = make_model(6, 3, 16, 11);
  for (Dynamics dyn : {Dynamics::gradient_flow, Dynamics::gradient_descent})
    for (double lambda : {0.0, 0.02})
      for (const ntk::NoiseModel& noise : {ntk::NoiseModel(ntk::ParameterNoise{0.7, 3.0}),
                                           ntk::NoiseModel(ntk::OutputNoise{0.9})}) {
        const double eta = 1.3;
        const auto evo = ntk::linearized_evolution(m.theta(), m.y, EvolutionOptions{eta, dyn, lambda});
        const std::vector<double> times{0, 1, 7, 40};
        const auto law = ntk::noisy_outputs(evo, noise, m.f0, m.theta_ts(), m.theta_s(), m.f0s, times);
        REQUIRE(law.outcome.ok());
        REQUIRE(law.covariance.size() == times.size());
        for (std::size_t j = 0; j < times.size(); ++j) {
          CAPTURE(int(dyn));
          CAPTURE(lambda);
          CAPTURE(times[j]);
          const Mat sd = parameter_covariance(m, noise, eta, lambda, dyn, times[j]);
          if (times[j] == 0) {
            CHECK(law.covariance[j].norm() == 0.0);
            CHECK(law.test_covariance[j].norm() == 0.0);
            continue;
          }
          CHECK(rel_err(law.covariance[j], m.J * sd * m.J.transpose()) < 1e-9);
          CHECK(rel_err(law.test_train_covariance[j], m.Js * sd * m.J.transpose()) < 1e-9);
          CHECK(rel_err(law.test_covariance[j], m.Js * sd * m.Js.transpose()) < 1e-9);
        }
        // expected_mse agrees with the trace of the covariance plus the noiseless error.
        const auto mse = ntk::expected_mse(evo, noise, m.f0, m.theta_ts(), m.theta_s(), m.f0s, m.ys, times);
        const auto train_only = ntk::expected_mse(evo, noise, m.f0, times);
        REQUIRE(mse.outcome.ok());
        for (std::size_t j = 0; j < times.size(); ++j) {
          const double direct = (law.mean[j] - m.y).squaredNorm() / 6 + law.covariance[j].trace() / 6;
          CHECK(std::abs(mse.train[j] - direct) <= 1e-12 * direct);
          CHECK(std::abs(train_only.train[j] - direct) <= 1e-12 * direct);
          CHECK(std::abs(train_only.train_noise[j] - law.covariance[j].trace() / 6) <= 1e-12 * direct);
          const double direct_test = (law.test_mean[j] - m.ys).squaredNorm() / 3 + law.test_covariance[j].trace() / 3;
          CHECK(std::abs(mse.test[j] - direct_test) <= 1e-12 * direct_test);
        }
      }
}

TEST_CASE("noisy_outputs: rank-deficient and nearly singular Θ (zero and tiny eigenvalues) match the OU law") {
  // P = 3 < N = 6: Θ = JJᵀ has three zero eigenvalues. Second model: one parameter direction scaled by 1e-7,
  // giving an eigenvalue ~1e-14 relative (the small-μ branch of the divided difference).
  Model a = make_model(6, 2, 3, 5);
  Model b = make_model(5, 2, 9, 6);
  b.J.col(0) *= 1e-7;
  b.Js.col(0) *= 1e-7;
  for (const Model* m : {&a, &b})
    for (Dynamics dyn : {Dynamics::gradient_flow, Dynamics::gradient_descent}) {
      const ntk::ParameterNoise noise{0.5, 2.0};
      const auto evo = ntk::linearized_evolution(m->theta(), m->y, EvolutionOptions{0.8, dyn, 0.0});
      const std::vector<double> times{3, 500};
      const auto law = ntk::noisy_outputs(evo, noise, m->f0, m->theta_ts(), m->theta_s(), m->f0s, times);
      REQUIRE(law.outcome.ok());
      for (std::size_t j = 0; j < times.size(); ++j) {
        CAPTURE(times[j]);
        const Mat sd = parameter_covariance(*m, noise, 0.8, 0.0, dyn, times[j]);
        CHECK(rel_err(law.covariance[j], m->J * sd * m->J.transpose()) < 1e-8);
        CHECK(rel_err(law.test_covariance[j], m->Js * sd * m->Js.transpose()) < 1e-8);
        CHECK(rel_err(law.test_train_covariance[j], m->Js * sd * m->J.transpose()) < 1e-8);
      }
    }
}

TEST_CASE("noisy_limit: stationary laws equal the parameter-space and output-space OU limits; truthful statuses") {
  const Model m = make_model(6, 3, 16, 12);
  for (Dynamics dyn : {Dynamics::gradient_flow, Dynamics::gradient_descent}) {
    CAPTURE(int(dyn));
    // Weight decay towards θ₀ bounds the test variance: compare every block with the OU stationary law.
    for (const ntk::NoiseModel& noise :
         {ntk::NoiseModel(ntk::ParameterNoise{0.6, 2.0}), ntk::NoiseModel(ntk::OutputNoise{0.8})}) {
      const auto evo = ntk::linearized_evolution(m.theta(), m.y, EvolutionOptions{1.1, dyn, 0.05});
      const auto lim = ntk::noisy_limit(evo, noise, m.f0, m.theta_ts(), m.theta_s(), m.f0s, m.ys);
      REQUIRE(lim.outcome.ok());
      const Mat sd = parameter_covariance(m, noise, 1.1, 0.05, dyn, INFINITY);
      CHECK(rel_err(lim.covariance, m.J * sd * m.J.transpose()) < 1e-9);
      CHECK(rel_err(lim.test_train_covariance, m.Js * sd * m.J.transpose()) < 1e-9);
      CHECK(rel_err(lim.test_covariance, m.Js * sd * m.Js.transpose()) < 1e-9);
      // Limit mean: the regularised minimiser, by a dense solve in parameter space:
      // (JᵀJ/N + λI) δ = Jᵀ(y − f0)ᵀ/N.
      const Mat h = m.J.transpose() * m.J / 6.0 + 0.05 * Mat::Identity(16, 16);
      const Vec d = h.ldlt().solve(m.J.transpose() * (m.y - m.f0).transpose() / 6.0);
      CHECK(rel_err(lim.mean, m.f0 + (m.J * d).transpose()) < 1e-9);
      CHECK(rel_err(lim.test_mean, m.f0s + (m.Js * d).transpose()) < 1e-9);
      CHECK(std::abs(lim.train_mse - ((lim.mean - m.y).squaredNorm() + lim.covariance.trace()) / 6) <=
            1e-12 * lim.train_mse);
    }
    // Without weight decay, train limit: the output OU dn = −κΘ n dt + √α J dW (BBᵀ = αΘ), stationary law by
    // ou_law (flow) or the library's EM chain with dt = 1 at t = 10⁹ steps (GD): every mode relaxed.
    const double eta = 0.9, sigma = 0.4, mm = 5.0, alpha = sigma * sigma * eta * eta / mm;
    const auto evo = ntk::linearized_evolution(m.theta(), m.y, EvolutionOptions{eta, dyn, 0.0});
    const auto lim = ntk::noisy_limit(evo, ntk::ParameterNoise{sigma, mm}, m.f0, m.theta_ts(), m.theta_s(), m.f0s, m.ys);
    const Mat out_a = (eta / 6) * m.theta(), out_q = alpha * m.theta();
    const Mat stationary =
        dyn == Dynamics::gradient_flow
            ? ou_law(out_a, out_q, Vec::Zero(6), Vec::Zero(6), INFINITY).covariance
            : OrnsteinUhlenbeck(out_a, Mat(std::sqrt(alpha) * m.J)).euler_maruyama_law(Vec::Zero(6), 1e9, 1.0).covariance;
    CHECK(rel_err(lim.covariance, stationary) < 1e-9);
    CHECK(rel_err(lim.mean, m.y) < 1e-9);
    // GD, parameter noise, full-rank Θ: noise MSE = (σ²η/M) Σ_i 1/(2 − ημ_i/N) (flow: σ²ηN/(2M)).
    if (dyn == Dynamics::gradient_flow) CHECK(std::abs(lim.train_noise - alpha / eta * 6 / 2) < 1e-10);
    // The test variance grows ∝ t: status diverged, value = α max_j [Θ** − Θ*X Θ⁻¹ ΘX*]_jj (dense solve here).
    CHECK(lim.outcome.status == Status::diverged);
    const Mat schur = m.theta_s() - m.theta_ts() * m.theta().ldlt().solve(m.theta_ts().transpose());
    CHECK(std::abs(lim.outcome.value - alpha * schur.diagonal().maxCoeff()) < 1e-8 * alpha * schur.diagonal().maxCoeff());
    // And indeed: the finite-t test variance minus α t·schur stays bounded (slope check at two large times).
    const auto law = ntk::noisy_outputs(evo, ntk::ParameterNoise{sigma, mm}, m.f0, m.theta_ts(), m.theta_s(), m.f0s,
                                        {2000, 4000});
    const Mat slope = (law.test_covariance[1] - law.test_covariance[0]) / 2000;
    CHECK(rel_err(slope, alpha * schur) < 1e-6);
  }
  // Rank-deficient Θ (P = 3 < N = 6, three zero eigenvalues) with weight decay: the limit still equals the
  // parameter-space stationary law (zero modes carry no noise and keep their initial residual).
  {
    const Model r = make_model(6, 2, 3, 13);
    for (Dynamics dyn : {Dynamics::gradient_flow, Dynamics::gradient_descent}) {
      const ntk::ParameterNoise noise{0.6, 2.0};
      const auto evo = ntk::linearized_evolution(r.theta(), r.y, EvolutionOptions{1.0, dyn, 0.04});
      const auto lim = ntk::noisy_limit(evo, noise, r.f0, r.theta_ts(), r.theta_s(), r.f0s, r.ys);
      REQUIRE(lim.outcome.ok());
      const Mat sd = parameter_covariance(r, noise, 1.0, 0.04, dyn, INFINITY);
      CHECK(rel_err(lim.covariance, r.J * sd * r.J.transpose()) < 1e-9);
      CHECK(rel_err(lim.test_covariance, r.Js * sd * r.Js.transpose()) < 1e-9);
      const Mat h = r.J.transpose() * r.J / 6.0 + 0.04 * Mat::Identity(3, 3);
      const Vec d = h.ldlt().solve(r.J.transpose() * (r.y - r.f0).transpose() / 6.0);
      CHECK(rel_err(lim.mean, r.f0 + (r.J * d).transpose()) < 1e-9);
      CHECK(rel_err(lim.test_mean, r.f0s + (r.Js * d).transpose()) < 1e-9);
    }
  }
  // Unstable GD: no limit.
  const auto evo = ntk::linearized_evolution(m.theta(), m.y, EvolutionOptions{50.0, Dynamics::gradient_descent, 0.0});
  const auto lim = ntk::noisy_limit(evo, ntk::ParameterNoise{0.1, 1.0}, m.f0);
  CHECK(lim.outcome.status == Status::unstable_step);
  const auto law = ntk::noisy_outputs(evo, ntk::ParameterNoise{0.1, 1.0}, m.f0, {100000});
  CHECK_FALSE(law.outcome.ok());
}

TEST_CASE("Monte Carlo, SDE form (exact OU transition sampling): corrected Lemma 3 holds, the printed one fails") {
  // Parameter SDE dθ = −κ Jᵀ(f0 + Jθ − y) dt + B dW (t in steps) = OU with A = κJᵀJ, mean δ* = fit_shift; its
  // exact law at t (ou_law) sampled directly: no discretisation error.
  const Model m = make_model(6, 3, 16, 21);
  const double eta = 1.0, t = 12;
  const Index runs = 40000;
  const Mat a = (eta / 6) * m.J.transpose() * m.J;
  const Vec target = fit_shift(m);
  for (const ntk::NoiseModel& noise :
       {ntk::NoiseModel(ntk::ParameterNoise{0.8, 1.0}), ntk::NoiseModel(ntk::OutputNoise{0.8})}) {
    const bool parameter = std::holds_alternative<ntk::ParameterNoise>(noise);
    CAPTURE(parameter);
    const Mat b = noise_factor(m, noise, eta);
    const Gaussian exact = ou_law(a, b * b.transpose(), Vec::Zero(16), target, t);
    Eigen::SelfAdjointEigenSolver<Mat> es(exact.covariance);
    const Mat root = es.eigenvectors() * es.eigenvalues().cwiseMax(0.0).cwiseSqrt().asDiagonal();
    Mat xi(16, runs);
    RandomStream(2024).normal_at(0, xi);
    const Mat delta = (root * xi).colwise() + exact.mean;
    const auto evo = ntk::linearized_evolution(m.theta(), m.y, EvolutionOptions{eta, Dynamics::gradient_flow, 0.0});
    const auto law = ntk::noisy_outputs(evo, noise, m.f0, m.theta_ts(), m.theta_s(), m.f0s, {t});
    const auto mse = ntk::expected_mse(evo, noise, m.f0, {t});
    const McResult mc = check_ensemble(m, delta, law.mean[0], law.test_mean[0], law.covariance[0],
                                       law.test_train_covariance[0], law.test_covariance[0]);
    CAPTURE(mc.mse.mean);
    CAPTURE(mc.mse.se);
    CAPTURE(mse.train[0]);
    CHECK(std::abs(mc.mse.mean - mse.train[0]) <= 5 * mc.mse.se);
    CHECK(mc.covariance_failures == 0);
    CAPTURE(mc.worst_z);
    const double printed = printed_lemma3_mse(m, 0.8, eta, t, true);
    const double literal = printed_lemma3_mse(m, 0.8, eta, t, false);
    CAPTURE(printed);
    CAPTURE(literal);
    // The literal doubled index is wrong under both noise models.
    CHECK(std::abs(mc.mse.mean - literal) >= 20 * mc.mse.se);
    if (parameter) {
      CHECK(std::abs(mc.mse.mean - printed) >= 20 * mc.mse.se);  // N² and Θ²: rejected
    } else {
      CHECK(std::abs(mc.mse.mean - printed) <= 5 * mc.mse.se);   // it is the label-noise law
      CHECK(std::abs(printed - mse.train[0]) <= 1e-10 * printed); // and equals ours for OutputNoise
    }
  }
}

TEST_CASE("Monte Carlo, SDE form (sde::integrate, Euler–Maruyama): train MSE and covariances" *
          doctest::test_suite("slow")) {
  const Model m = make_model(4, 2, 8, 31);
  const double eta = 1.0, t = 5, dt = 0.01;
  const Index runs = 5000;
  const ntk::ParameterNoise noise{0.9, 2.0};
  const Mat a = (eta / 4) * m.J.transpose() * m.J;
  OrnsteinUhlenbeck ou(a, noise_factor(m, noise, eta), fit_shift(m));
  const auto sol = integrate(ou, EulerMaruyama{}, Vec::Zero(8), TimeGrid(0.0, t, dt), Ensemble(runs), RandomStream(77));
  REQUIRE(sol.outcome.ok());
  const auto evo = ntk::linearized_evolution(m.theta(), m.y, EvolutionOptions{eta, Dynamics::gradient_flow, 0.0});
  const auto law = ntk::noisy_outputs(evo, noise, m.f0, m.theta_ts(), m.theta_s(), m.f0s, {t});
  const auto mse = ntk::expected_mse(evo, noise, m.f0, {t});
  // Discretisation bias of EM at dt, from the exact law of the EM chain (independent of noisy.hpp): added to
  // the bound, and required small against the standard error so the check keeps its power.
  const auto em = ou.euler_maruyama_law(Vec::Zero(8), t, dt);
  const Mat em_f = m.J * em.covariance * m.J.transpose();
  const Vec em_mean = m.J * em.mean + m.f0.transpose();
  const double em_mse = ((em_mean - m.y.transpose()).squaredNorm() + em_f.trace()) / 4;
  const double bias = std::abs(em_mse - mse.train[0]);
  const McResult mc = check_ensemble(m, sol.final_state, law.mean[0], law.test_mean[0], law.covariance[0],
                                     law.test_train_covariance[0], law.test_covariance[0]);
  CAPTURE(mc.mse.mean);
  CAPTURE(mc.mse.se);
  CAPTURE(bias);
  CHECK(bias < 0.3 * mc.mse.se);
  CHECK(std::abs(mc.mse.mean - mse.train[0]) <= 5 * mc.mse.se + bias);
  CHECK(mc.covariance_failures == 0);
  CHECK(std::abs(mc.mse.mean - printed_lemma3_mse(m, 0.9, eta, t, true)) >= 20 * mc.mse.se);
}

TEST_CASE("Monte Carlo, discrete form (optim::Sgd with injected noise σ η/√M): GD law, train and test") {
  // θ_{s+1} = θ_s − η[Jᵀ(f0 + Jθ_s − y)ᵀ/N + λθ_s] + (σ η/√M) ξ_s, full batch; optim::Sgd's noise convention is
  // exactly ParameterNoise{σ, M} (σ η/√M per coordinate and step), so no mapping is needed.
  const Model m = make_model(6, 3, 16, 41);
  const double eta = 1.2, sigma = 0.7, mm = 2.0;
  const long steps = 25;
  const Index runs = 20000;
  for (double lambda : {0.0, 0.03}) {
    CAPTURE(lambda);
    optim::SgdOptions options;
    options.noise_sigma = sigma;
    options.noise_batch = mm;
    options.weight_decay = lambda;
    Mat delta(16, runs);
    Vec theta(16), grad(16);
    bool all_ok = true;
    for (Index r = 0; r < runs; ++r) {
      optim::Sgd<double> sgd(16, options, RandomStream(99, std::uint64_t(r)));
      theta.setZero();
      for (long k = 0; k < steps; ++k) {
        grad = m.J.transpose() * ((m.f0 + (m.J * theta).transpose() - m.y).transpose()) / 6.0;
        all_ok = sgd.step(k, eta, theta, grad).ok() && all_ok;
      }
      delta.col(r) = theta;
    }
    REQUIRE(all_ok);
    const auto evo =
        ntk::linearized_evolution(m.theta(), m.y, EvolutionOptions{eta, Dynamics::gradient_descent, lambda});
    const ntk::ParameterNoise noise{sigma, mm};
    const auto law = ntk::noisy_outputs(evo, noise, m.f0, m.theta_ts(), m.theta_s(), m.f0s, {double(steps)});
    const auto mse = ntk::expected_mse(evo, noise, m.f0, m.theta_ts(), m.theta_s(), m.f0s, m.ys, {double(steps)});
    REQUIRE(law.outcome.ok());
    const McResult mc = check_ensemble(m, delta, law.mean[0], law.test_mean[0], law.covariance[0],
                                       law.test_train_covariance[0], law.test_covariance[0]);
    CAPTURE(mc.mse.mean);
    CAPTURE(mc.mse.se);
    CAPTURE(mse.train[0]);
    CAPTURE(mc.worst_z);
    CHECK(std::abs(mc.mse.mean - mse.train[0]) <= 5 * mc.mse.se);
    CHECK(mc.covariance_failures == 0);
    // Test MSE: sample mean of (1/N*)‖f(X*) − y*‖².
    std::vector<double> zt(static_cast<std::size_t>(runs));
    for (Index r = 0; r < runs; ++r)
      zt[std::size_t(r)] = ((m.Js * delta.col(r)).transpose() + m.f0s - m.ys).squaredNorm() / 3.0;
    const MeanSe test = mean_se(zt);
    CHECK(std::abs(test.mean - mse.test[0]) <= 5 * test.se);
    // The printed Lemma 3 (flow, N², Θ²) is far off the discrete simulation too.
    CHECK(std::abs(mc.mse.mean - printed_lemma3_mse(m, sigma, eta, double(steps), true)) >= 20 * mc.mse.se);
  }
}

TEST_CASE("noisy: bad input throws invalid_argument naming the argument; inputs are not modified") {
  const Model m = make_model(4, 2, 8, 51);
  const auto evo = ntk::linearized_evolution(m.theta(), m.y, EvolutionOptions{1.0, Dynamics::gradient_descent, 0.0});
  const ntk::ParameterNoise good{0.5, 2.0};
  const Mat f0 = m.f0, ts = m.theta_ts(), tt = m.theta_s(), f0s = m.f0s, ys = m.ys;
  auto throws_naming = [](auto&& f, const char* name) {
    try {
      f();
    } catch (const sgdsde::invalid_argument& e) {
      return std::string(e.what()).find(name) != std::string::npos;
    }
    return false;
  };
  const double nan = std::nan(""), inf = INFINITY;
  CHECK(throws_naming([&] { ntk::noisy_outputs(evo, good, Mat(f0.leftCols(3)), {1.0}); }, "f0"));
  CHECK(throws_naming([&] { ntk::noisy_outputs(evo, good, Mat(Mat::Zero(0, 0)), {1.0}); }, "f0"));
  Mat bad = f0;
  bad(0, 1) = nan;
  CHECK(throws_naming([&] { ntk::noisy_outputs(evo, good, bad, {1.0}); }, "f0"));
  bad(0, 1) = inf;
  CHECK(throws_naming([&] { ntk::expected_mse(evo, good, bad, {1.0}); }, "f0"));
  CHECK(throws_naming([&] { ntk::noisy_outputs(evo, good, f0, {-1.0}); }, "times"));
  CHECK(throws_naming([&] { ntk::noisy_outputs(evo, good, f0, {nan}); }, "times"));
  CHECK(throws_naming([&] { ntk::noisy_outputs(evo, good, f0, {1e308 * 10}); }, "times"));
  CHECK(throws_naming([&] { ntk::expected_mse(evo, good, f0, {2.5}); }, "times"));
  CHECK(throws_naming([&] { ntk::noisy_outputs(evo, ntk::ParameterNoise{-0.1, 1.0}, f0, {1.0}); }, "noise.sigma"));
  CHECK(throws_naming([&] { ntk::noisy_outputs(evo, ntk::ParameterNoise{nan, 1.0}, f0, {1.0}); }, "noise.sigma"));
  CHECK(throws_naming([&] { ntk::noisy_outputs(evo, ntk::ParameterNoise{0.1, 0.0}, f0, {1.0}); }, "noise.m"));
  CHECK(throws_naming([&] { ntk::noisy_outputs(evo, ntk::ParameterNoise{0.1, -2.0}, f0, {1.0}); }, "noise.m"));
  CHECK(throws_naming([&] { ntk::noisy_outputs(evo, ntk::ParameterNoise{0.1, inf}, f0, {1.0}); }, "noise.m"));
  CHECK(throws_naming([&] { ntk::noisy_outputs(evo, ntk::ParameterNoise{1e300, 1e-300}, f0, {1.0}); }, "noise"));
  CHECK(throws_naming([&] { ntk::noisy_outputs(evo, ntk::OutputNoise{-1.0}, f0, {1.0}); }, "noise.sigma"));
  CHECK(throws_naming([&] { ntk::noisy_limit(evo, ntk::OutputNoise{inf}, f0); }, "noise.sigma"));
  CHECK(throws_naming([&] { ntk::noisy_outputs(evo, good, f0, Mat(ts.leftCols(3)), tt, f0s, {1.0}); },
                      "theta_test_train"));
  CHECK(throws_naming([&] { ntk::noisy_outputs(evo, good, f0, Mat(Mat::Zero(0, 4)), Mat(Mat::Zero(0, 0)),
                                               Mat(Mat::Zero(1, 0)), {1.0}); },
                      "theta_test_train"));
  CHECK(throws_naming([&] { ntk::noisy_outputs(evo, good, f0, ts, Mat(tt.leftCols(1)), f0s, {1.0}); }, "theta_test"));
  Mat badtt = tt;
  badtt(1, 1) = nan;
  CHECK(throws_naming([&] { ntk::noisy_outputs(evo, good, f0, ts, badtt, f0s, {1.0}); }, "theta_test"));
  CHECK(throws_naming([&] { ntk::noisy_outputs(evo, good, f0, ts, tt, Mat(f0s.leftCols(1)), {1.0}); }, "f0_test"));
  CHECK(throws_naming([&] { ntk::expected_mse(evo, good, f0, ts, tt, f0s, Mat(ys.leftCols(1)), {1.0}); },
                      "targets_test"));
  Mat badys = ys;
  badys(0, 0) = -inf;
  CHECK(throws_naming([&] { ntk::noisy_limit(evo, good, f0, ts, tt, f0s, badys); }, "targets_test"));
  const auto towards_zero = ntk::linearized_evolution(
      m.theta(), m.y, EvolutionOptions{1.0, Dynamics::gradient_descent, 0.1, ntk::RegularizationTarget::zero});
  CHECK(throws_naming([&] { ntk::noisy_limit(towards_zero, good, f0); }, "evo.target()"));
  // Extreme but valid: σ = 0 gives zero covariance and the noiseless MSE; huge t is fine for a stable GD.
  const auto quiet = ntk::expected_mse(evo, ntk::ParameterNoise{0.0, 1.0}, f0, {1e15});
  CHECK(quiet.outcome.ok());
  CHECK(quiet.train_noise[0] == 0.0);
  const auto tiny = ntk::noisy_outputs(evo, ntk::ParameterNoise{1e-300, 1.0}, f0, {1e12});
  CHECK(tiny.outcome.ok());
  // Overflow is a status, not a silent inf: outputs of 1e200 have an MSE beyond the double range.
  const auto huge = ntk::expected_mse(evo, good, Mat(Mat::Constant(1, 4, 1e200)), {1.0});
  CHECK(huge.outcome.status == Status::non_finite);
  const auto huge_test = ntk::expected_mse(evo, good, f0, ts, tt, Mat(Mat::Constant(1, 2, 1e200)), ys, {1.0});
  CHECK(huge_test.outcome.status == Status::non_finite);
  // Nothing the caller passed was modified.
  CHECK(f0 == m.f0);
  CHECK(ts == m.theta_ts());
  CHECK(tt == m.theta_s());
  CHECK(ys == m.ys);
}
