// Bad-input sweep of ou/ (issue 8, item 9; table in docs/reliability.md): OrnsteinUhlenbeck and its
// laws, OuTransitionSampler, Quadratic / sde_stationary / discrete_stationary / simulate_sgd,
// LinearRegression / next_moments / exact_sgd_stationary / LinearRegressionSgd, fed wrong sizes, NaN,
// ±inf, huge and tiny values, η ≤ 0 and bad batch sizes; plus the condition estimates of item 7.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "sgdsde/core/lyapunov.hpp"
#include "sgdsde/ou/linear_regression.hpp"
#include "sgdsde/ou/ou_process.hpp"
#include "sgdsde/ou/sgd_quadratic.hpp"
#include "support/sweep.hpp"

#include <doctest/doctest.h>

namespace {

using Eigen::MatrixXd;
using Eigen::VectorXd;
using sgdsde::fresh_subset;
using sgdsde::OrnsteinUhlenbeck;
using sgdsde::RandomStream;
using sgdsde::shuffled_epochs;
using sgdsde::Status;
using sgdsde::with_replacement;
using sweep::Case;
using sweep::Keep;
using sweep::returns;
using sweep::succeeds;
using sweep::throws;
using sweep::verdict;

const auto& kNonFinite = sweep::non_finite;

/// Copies of m with entry (0, 0) replaced by each non-finite value.
std::vector<std::pair<std::string, MatrixXd>> poisoned(const MatrixXd& m) {
  std::vector<std::pair<std::string, MatrixXd>> out;
  for (const auto& [name, v] : kNonFinite) {
    MatrixXd c = m;
    c(0, 0) = v;
    out.emplace_back(name, c);
  }
  return out;
}

/// Wrong shapes of an r × c matrix: 0×0, (r+1)×c, r×(c+1).
std::vector<std::pair<std::string, MatrixXd>> misshapen(const MatrixXd& m) {
  return {{"0x0", MatrixXd(0, 0)},
          {"rows+1", MatrixXd::Ones(m.rows() + 1, m.cols())},
          {"cols+1", MatrixXd::Ones(m.rows(), m.cols() + 1)}};
}

const MatrixXd kA = (MatrixXd(2, 2) << 1.0, 0.3, -0.2, 2.0).finished();
const MatrixXd kB = (MatrixXd(2, 2) << 0.5, 0.0, 0.1, 0.7).finished();
const VectorXd kMu = VectorXd::Constant(2, 0.5);

bool finite_law(const sgdsde::GaussianLaw<double>& l) {
  return sgdsde::all_finite(l.mean) && sgdsde::all_finite(l.covariance);
}

std::vector<Case> ou_cases() {
  std::vector<Case> t;
  // Constructor: every matrix argument, wrong shapes and non-finite entries.
  for (const auto& [name, a] : misshapen(kA)) {
    if (name == "cols+1" || name == "rows+1" || name == "0x0")
      t.push_back(throws("A", "OrnsteinUhlenbeck A " + name, [a = a] {
        Keep k(a);
        OrnsteinUhlenbeck<double> ou(a, kB);
      }));
  }
  for (const auto& [name, a] : poisoned(kA))
    t.push_back(throws("A", "OrnsteinUhlenbeck A " + name, [a = a] { OrnsteinUhlenbeck<double> ou(a, kB); }));
  for (const auto& [name, b] : poisoned(kB))
    t.push_back(throws("B", "OrnsteinUhlenbeck B " + name, [b = b] { OrnsteinUhlenbeck<double> ou(kA, b); }));
  t.push_back(throws("B", "OrnsteinUhlenbeck B 3x2", [] { OrnsteinUhlenbeck<double> ou(kA, MatrixXd::Ones(3, 2)); }));
  t.push_back(throws("B", "OrnsteinUhlenbeck B 2x0", [] { OrnsteinUhlenbeck<double> ou(kA, MatrixXd(2, 0)); }));
  t.push_back(throws("mu", "OrnsteinUhlenbeck mu size 3",
                     [] { OrnsteinUhlenbeck<double> ou(kA, kB, VectorXd::Ones(3)); }));
  t.push_back(throws("mu", "OrnsteinUhlenbeck mu size 0",
                     [] { OrnsteinUhlenbeck<double> ou(kA, kB, VectorXd(0)); }));
  for (const auto& [name, v] : kNonFinite) {
    VectorXd mu = kMu;
    mu(1) = v;
    t.push_back(throws("mu", "OrnsteinUhlenbeck mu " + name, [mu] { OrnsteinUhlenbeck<double> ou(kA, kB, mu); }));
  }
  t.push_back(throws("A", "OrnsteinUhlenbeck A 0x0, B 0x0",
                     [] { OrnsteinUhlenbeck<double> ou(MatrixXd(0, 0), MatrixXd(0, 0)); }));

  const OrnsteinUhlenbeck<double> ou(kA, kB, kMu);
  // Times: negative, NaN, ±inf; steps dt ≤ 0 and non-finite.
  for (double time : {-1.0, -1e-300, sweep::nan, sweep::inf, -sweep::inf}) {
    const std::string s = std::to_string(time);
    t.push_back(throws("t", "propagator t=" + s, [ou, time] { (void)ou.propagator(time); }));
    t.push_back(throws("t", "transition_law t=" + s, [ou, time] { (void)ou.transition_law(VectorXd::Zero(2), time); }));
    t.push_back(throws("t", "euler_maruyama_law t=" + s,
                       [ou, time] { (void)ou.euler_maruyama_law(VectorXd::Zero(2), time, 0.1); }));
  }
  for (double dt : {0.0, -0.1, sweep::nan, sweep::inf, -sweep::inf}) {
    const std::string s = std::to_string(dt);
    t.push_back(throws("dt", "euler_maruyama_law dt=" + s,
                       [ou, dt] { (void)ou.euler_maruyama_law(VectorXd::Zero(2), 1.0, dt); }));
    t.push_back(throws("dt", "euler_maruyama_stationary_law dt=" + s,
                       [ou, dt] { (void)ou.euler_maruyama_stationary_law(dt); }));
  }
  // States: wrong size, 0, non-finite.
  for (const auto& [name, x] : std::vector<std::pair<std::string, VectorXd>>{
           {"size 0", VectorXd(0)}, {"size 3", VectorXd::Zero(3)}}) {
    t.push_back(throws("x0", "transition_law x0 " + name, [ou, x = x] { (void)ou.transition_law(x, 1.0); }));
    t.push_back(throws("x0", "euler_maruyama_law x0 " + name,
                       [ou, x = x] { (void)ou.euler_maruyama_law(x, 1.0, 0.1); }));
    t.push_back(throws("x", "transition_log_density x " + name,
                       [ou, x = x] { (void)ou.transition_log_density(VectorXd::Zero(2), x, 1.0); }));
  }
  for (const auto& [name, v] : kNonFinite) {
    const VectorXd x = (VectorXd(2) << 0.0, v).finished();
    t.push_back(throws("x0", "transition_law x0 " + name, [ou, x] {
      Keep k(x);
      (void)ou.transition_law(x, 1.0);
    }));
    t.push_back(throws("x0", "euler_maruyama_law x0 " + name, [ou, x] { (void)ou.euler_maruyama_law(x, 1.0, 0.1); }));
    t.push_back(throws("x", "transition_log_density x " + name,
                       [ou, x] { (void)ou.transition_log_density(VectorXd::Zero(2), x, 1.0); }));
  }
  // Extreme but valid: t = 0 (Φ = I, Σ = 0), t = 1e308 (Φ = 0, Σ = Σ∞), tiny t, huge and tiny A.
  t.push_back(succeeds("propagator t=0", [ou] {
    const auto p = ou.propagator(0.0);
    CHECK(p.transition.isIdentity(0));
    CHECK(p.covariance.isZero(0));
    return p.outcome;
  }));
  t.push_back(succeeds("propagator t=1e308 gives Sigma_inf", [ou] {
    const auto p = ou.propagator(sweep::huge);
    const auto s = ou.stationary_law();
    CHECK(p.transition.isZero(0));
    CHECK((p.covariance - s.covariance).norm() <= 1e-12 * s.covariance.norm());
    return p.outcome;
  }));
  t.push_back(succeeds("propagator t=denormal", [ou] {
    const auto p = ou.propagator(sweep::denormal);
    CHECK(p.transition.isIdentity(0));
    return p.outcome;
  }));
  t.push_back(succeeds("propagator A=1e308 I, t=1", [] {
    const OrnsteinUhlenbeck<double> o(sweep::huge * MatrixXd::Identity(2, 2), MatrixXd::Identity(2, 2));
    const auto p = o.propagator(1.0);
    CHECK(p.transition.isZero(0));
    // Σ = (1 − e^{−2at})/(2a) = 1/(2e308), within the denormal range.
    CHECK(std::abs(p.covariance(0, 0) - 0.5 / sweep::huge) <= 1e-3 * (0.5 / sweep::huge));
    return p.outcome;
  }));
  t.push_back(succeeds("propagator A=1e-308 I, t=1 (Brownian)", [] {
    const OrnsteinUhlenbeck<double> o(sweep::tiny * MatrixXd::Identity(2, 2), MatrixXd::Identity(2, 2));
    const auto p = o.propagator(1.0);
    CHECK(p.transition.isIdentity(1e-15));
    CHECK(p.covariance.isIdentity(1e-15));
    return p.outcome;
  }));
  t.push_back(returns(Status::non_finite, "propagator unstable A, t=1e308", [] {
    const OrnsteinUhlenbeck<double> o(-MatrixXd::Identity(2, 2), MatrixXd::Identity(2, 2));
    return o.propagator(sweep::huge).outcome;
  }));
  t.push_back(returns(Status::non_finite, "transition_law unstable A, t=1e308", [] {
    const OrnsteinUhlenbeck<double> o(-MatrixXd::Identity(2, 2), MatrixXd::Identity(2, 2));
    return o.transition_law(VectorXd::Ones(2), sweep::huge).outcome;
  }));
  t.push_back(succeeds("transition_law x0 = 1e308 (mean finite, decays)", [ou] {
    const VectorXd x = VectorXd::Constant(2, sweep::huge);
    const auto l = ou.transition_law(x, 1.0);
    CHECK(finite_law(l));
    return l.outcome;
  }));
  t.push_back(returns(Status::unstable_step, "stationary_law unstable A", [] {
    const OrnsteinUhlenbeck<double> o(-MatrixXd::Identity(2, 2), MatrixXd::Identity(2, 2));
    return o.stationary_law().outcome;
  }));
  t.push_back(returns(Status::singular, "stationary_law A = 0", [] {
    const OrnsteinUhlenbeck<double> o(MatrixXd::Zero(2, 2), MatrixXd::Identity(2, 2));
    return o.stationary_law().outcome;
  }));
  t.push_back(succeeds("stationary_law A = 1e300 I, B = I", [] {
    const OrnsteinUhlenbeck<double> o(1e300 * MatrixXd::Identity(2, 2), MatrixXd::Identity(2, 2));
    const auto l = o.stationary_law();
    CHECK(std::abs(l.covariance(0, 0) - 0.5e-300) <= 1e-14 * 0.5e-300);
    return l.outcome;
  }));
  t.push_back(returns(Status::non_finite, "stationary_law A = 1e-308 I, B = 1e154 I (Sigma overflows)", [] {
    const OrnsteinUhlenbeck<double> o(sweep::tiny * MatrixXd::Identity(2, 2), 1e154 * MatrixXd::Identity(2, 2));
    return o.stationary_law().outcome;
  }));
  t.push_back(returns(Status::non_finite, "euler_maruyama_law rho > 1 for 1e6 steps", [ou] {
    return ou.euler_maruyama_law(VectorXd::Ones(2), 1e5, 0.1 * 100.0).outcome;
  }));
  t.push_back(returns(Status::unstable_step, "euler_maruyama_stationary_law dt beyond stability", [ou] {
    return ou.euler_maruyama_stationary_law(10.0).outcome;
  }));
  t.push_back(succeeds("euler_maruyama_law dt > t (one short step)", [ou] {
    const auto l = ou.euler_maruyama_law(VectorXd::Ones(2), 0.05, 0.1);
    // One step of 0.05: mean μ + (I − 0.05 A)(x0 − μ), covariance 0.05 BBᵀ.
    const VectorXd m = kMu + (MatrixXd::Identity(2, 2) - 0.05 * kA) * (VectorXd::Ones(2) - kMu);
    CHECK((l.mean - m).norm() <= 1e-15);
    CHECK((l.covariance - 0.05 * kB * kB.transpose()).norm() <= 1e-15);
    return l.outcome;
  }));
  t.push_back(succeeds("euler_maruyama_law t = 0", [ou] {
    const auto l = ou.euler_maruyama_law(VectorXd::Ones(2), 0.0, 0.1);
    CHECK(l.mean == VectorXd::Ones(2));
    CHECK(l.covariance.isZero(0));
    return l.outcome;
  }));
  t.push_back(throws("dt", "euler_maruyama_law t/dt > 2^62", [ou] {
    (void)ou.euler_maruyama_law(VectorXd::Ones(2), 1.0, 1e-30);
  }));
  // OuTransitionSampler.
  for (double lag : {-1.0, sweep::nan, sweep::inf})
    t.push_back(throws("t", "OuTransitionSampler lag=" + std::to_string(lag),
                       [ou, lag] { sgdsde::OuTransitionSampler<double> s(ou, lag); }));
  t.push_back(returns(Status::non_finite, "OuTransitionSampler unstable A, lag 1e308", [] {
    const OrnsteinUhlenbeck<double> o(-MatrixXd::Identity(2, 2), MatrixXd::Identity(2, 2));
    sgdsde::OuTransitionSampler<double> s(o, sweep::huge);
    return s.outcome();
  }));
  t.push_back(throws("this", "OuTransitionSampler::sample after failed construction", [] {
    const OrnsteinUhlenbeck<double> o(-MatrixXd::Identity(2, 2), MatrixXd::Identity(2, 2));
    sgdsde::OuTransitionSampler<double> s(o, sweep::huge);
    VectorXd x = VectorXd::Zero(2);
    RandomStream r(1);
    s.sample(x, r);
  }));
  for (const auto& [name, v] : kNonFinite)
    t.push_back(throws("x", "OuTransitionSampler::sample x " + name, [ou, v = v] {
      sgdsde::OuTransitionSampler<double> s(ou, 0.5);
      VectorXd x = (VectorXd(2) << v, 0.0).finished();
      RandomStream r(1);
      s.sample(x, r);
    }));
  t.push_back(throws("x", "OuTransitionSampler::sample x size 3", [ou] {
    sgdsde::OuTransitionSampler<double> s(ou, 0.5);
    VectorXd x = VectorXd::Zero(3);
    RandomStream r(1);
    s.sample(x, r);
  }));
  t.push_back(succeeds("OuTransitionSampler lag 0 is the identity map", [ou] {
    sgdsde::OuTransitionSampler<double> s(ou, 0.0);
    VectorXd x = VectorXd::Constant(2, 3.0);
    RandomStream r(1);
    s.sample(x, r);
    CHECK(x == VectorXd::Constant(2, 3.0));
    return s.outcome();
  }));
  return t;
}

// ---- quadratic ----------------------------------------------------------------------------------

const MatrixXd kH = (MatrixXd(2, 2) << 2.0, 0.5, 0.5, 1.0).finished();
const MatrixXd kC = (MatrixXd(2, 2) << 1.0, 0.2, 0.2, 0.5).finished();

MatrixXd centred_offsets() {
  MatrixXd xi(2, 6);
  RandomStream(5).fill_normal(xi);
  xi.colwise() -= xi.rowwise().mean();
  return xi;
}

std::vector<Case> quadratic_cases() {
  std::vector<Case> t;
  using Q = sgdsde::Quadratic<double>;
  for (const auto& [name, h] : misshapen(kH))
    t.push_back(throws("H", "Quadratic H " + name, [h = h] { Q q(h, kC); }));
  for (const auto& [name, h] : poisoned(kH))
    t.push_back(throws("H", "Quadratic H " + name, [h = h] { Q q(h, kC); }));
  for (const auto& [name, c] : misshapen(kC))
    t.push_back(throws("C", "Quadratic C " + name, [c = c] { Q q(kH, c); }));
  for (const auto& [name, c] : poisoned(kC))
    t.push_back(throws("C", "Quadratic C " + name, [c = c] { Q q(kH, c); }));
  t.push_back(throws("H", "Quadratic H asymmetric", [] {
    MatrixXd h = kH;
    h(0, 1) += 0.1;
    Q q(h, kC);
  }));
  t.push_back(throws("H", "Quadratic H indefinite", [] { Q q(-kH, kC); }));
  t.push_back(throws("H", "Quadratic H singular", [] { Q q(MatrixXd::Ones(2, 2), kC); }));
  t.push_back(throws("C", "Quadratic C indefinite", [] { Q q(kH, -kC); }));
  t.push_back(throws("num_samples", "Quadratic N = 0", [] { Q q(kH, kC, 0); }));
  t.push_back(throws("num_samples", "Quadratic N = -1", [] { Q q(kH, kC, -1); }));
  t.push_back(throws("Xi", "per_sample_quadratic Xi 2x0", [] { (void)sgdsde::per_sample_quadratic(kH, MatrixXd(2, 0)); }));
  t.push_back(throws("Xi", "per_sample_quadratic Xi 3xN", [] { (void)sgdsde::per_sample_quadratic(kH, MatrixXd::Zero(3, 4)); }));
  t.push_back(throws("Xi", "per_sample_quadratic Xi not centred",
                     [] { (void)sgdsde::per_sample_quadratic(kH, MatrixXd::Ones(2, 4)); }));
  for (const auto& [name, x] : poisoned(centred_offsets()))
    t.push_back(throws("Xi", "per_sample_quadratic Xi " + name, [x = x] { (void)sgdsde::per_sample_quadratic(kH, x); }));

  const Q q(kH, kC, 10);
  for (double eta : {0.0, -0.1, sweep::nan, sweep::inf, -sweep::inf}) {
    const std::string s = std::to_string(eta);
    t.push_back(throws("eta", "sde_stationary eta=" + s, [q, eta] { (void)sde_stationary(q, eta, with_replacement(2)); }));
    t.push_back(throws("eta", "discrete_stationary eta=" + s,
                       [q, eta] { (void)discrete_stationary(q, eta, fresh_subset(2)); }));
    t.push_back(throws("eta", "discrete_to_continuous_ratio eta=" + s,
                       [q, eta] { (void)discrete_to_continuous_ratio(q, eta); }));
  }
  t.push_back(throws("sampler.batch_size", "discrete_stationary fresh_subset S > N",
                     [q] { (void)discrete_stationary(q, 0.1, fresh_subset(11)); }));
  t.push_back(throws("sampler.batch_size", "discrete_stationary shuffled_epochs S > N",
                     [q] { (void)discrete_stationary(q, 0.1, shuffled_epochs(11)); }));
  t.push_back(throws("sampler.batch_size", "discrete_stationary cyclic batch size",
                     [q] { (void)discrete_stationary(q, 0.1, with_replacement(sgdsde::BatchSizeSchedule::cyclic(1, 4, 10))); }));
  t.push_back(throws("q", "discrete_stationary fresh_subset without N",
                     [] { (void)discrete_stationary(Q(kH, kC), 0.1, fresh_subset(2)); }));
  t.push_back(throws("batch_size", "with_replacement(0)", [] { (void)with_replacement(0); }));
  t.push_back(throws("batch_size", "fresh_subset(-1)", [] { (void)fresh_subset(-1); }));
  t.push_back(returns(Status::unstable_step, "discrete_stationary eta lambda_max = 2",
                      [q] { return discrete_stationary(q, 2.0 / q.eigenvalues()(1), with_replacement(2)).outcome; }));
  t.push_back(returns(Status::unstable_step, "discrete_stationary eta = 1e308",
                      [q] { return discrete_stationary(q, sweep::huge, shuffled_epochs(3)).outcome; }));
  t.push_back(succeeds("discrete_stationary with_replacement S = 1000 > N", [q] {
    const auto s = discrete_stationary(q, 0.1, with_replacement(1000));
    return verdict(sgdsde::all_finite(s.covariance));
  }));
  t.push_back(succeeds("sde_stationary eta = 1e-300 (tiny covariance)", [q] {
    const auto s = sde_stationary(q, 1e-300, with_replacement(1));
    const auto r = sde_stationary(q, 1.0, with_replacement(1));
    CHECK((s.covariance - 1e-300 * r.covariance).norm() <= 1e-14 * 1e-300 * r.covariance.norm());
    return s.outcome;
  }));
  t.push_back(returns(Status::non_finite, "sde_stationary C = 1e308 (Sigma overflows)", [] {
    const Q big(1e-10 * MatrixXd::Identity(2, 2), sweep::huge * MatrixXd::Identity(2, 2));
    return sde_stationary(big, 1.0, with_replacement(1)).outcome;
  }));
  t.push_back(returns(Status::non_finite, "discrete_stationary C = 1e308, eta = 1.9 (Sigma overflows)", [] {
    const Q big(MatrixXd::Identity(2, 2), sweep::huge * MatrixXd::Identity(2, 2), 10);
    return discrete_stationary(big, 1.9, shuffled_epochs(3)).outcome;
  }));
  t.push_back(succeeds("discrete_to_continuous_ratio eta lambda >= 2 gives +inf entries", [q] {
    const VectorXd r = discrete_to_continuous_ratio(q, 10.0);
    return verdict(std::isinf(r(1)) && r(1) > 0);
  }));
  // simulate_sgd.
  const Q qs = sgdsde::per_sample_quadratic(kH, centred_offsets());
  t.push_back(throws("q", "simulate_sgd without offsets",
                     [q] { (void)simulate_sgd(q, 0.1, with_replacement(2), 1000, RandomStream(1)); }));
  for (double eta : {0.0, -1.0, sweep::nan, sweep::inf})
    t.push_back(throws("eta", "simulate_sgd eta=" + std::to_string(eta),
                       [qs, eta] { (void)simulate_sgd(qs, eta, with_replacement(2), 1000, RandomStream(1)); }));
  for (long steps : {0L, -5L, 10L})
    t.push_back(throws("steps", "simulate_sgd steps=" + std::to_string(steps),
                       [qs, steps] { (void)simulate_sgd(qs, 0.1, with_replacement(2), steps, RandomStream(1)); }));
  t.push_back(throws("options.blocks", "simulate_sgd blocks = 1", [qs] {
    (void)simulate_sgd(qs, 0.1, with_replacement(2), 1000, RandomStream(1), {-1, 1});
  }));
  t.push_back(throws("sampler.batch_size", "simulate_sgd fresh_subset S > N",
                     [qs] { (void)simulate_sgd(qs, 0.1, fresh_subset(7), 1000, RandomStream(1)); }));
  t.push_back(returns(Status::non_finite, "simulate_sgd eta lambda > 2 blows up",
                      [qs] { return simulate_sgd(qs, 1.5, with_replacement(2), 4000, RandomStream(1), {0, 2}).outcome; }));
  return t;
}

// ---- linear regression ---------------------------------------------------------------------------

sgdsde::Dataset<double> regression_set(double scale = 1.0) {
  MatrixXd x(2, 8);
  RandomStream(11).fill_normal(x);
  Eigen::RowVectorXd y(8);
  RandomStream(12).fill_normal(y);
  return sgdsde::regression_data(MatrixXd(scale * x), y);
}

std::vector<Case> regression_cases() {
  std::vector<Case> t;
  using LR = sgdsde::LinearRegression<double>;
  for (const auto& [name, v] : kNonFinite) {
    auto d = regression_set();
    d.inputs(1, 3) = v;
    t.push_back(throws("data", "LinearRegression inputs " + name, [d] {
      Keep k(d);
      LR r(d);
    }));
    auto e = regression_set();
    e.targets(0, 2) = v;
    t.push_back(throws("data", "LinearRegression targets " + name, [e] { LR r(e); }));
  }
  t.push_back(throws("data", "LinearRegression empty", [] { LR r(sgdsde::Dataset<double>{}); }));
  t.push_back(throws("data.targets", "LinearRegression 2 target rows", [] {
    auto d = regression_set();
    d.targets = MatrixXd::Ones(2, 8);
    LR r(d);
  }));
  t.push_back(throws("data", "LinearRegression classification set", [] {
    auto d = regression_set();
    d.targets.resize(0, 0);
    d.labels = Eigen::VectorXi::Zero(8);
    d.num_classes = 2;
    LR r(d);
  }));
  t.push_back(throws("data.inputs", "LinearRegression rank-deficient inputs (N < d)", [] {
    auto d = regression_set();
    LR r(d.slice(0, 1));
  }));
  t.push_back(throws("data.inputs", "LinearRegression inputs 1e160 (H overflows)", [] { LR r(regression_set(1e160)); }));
  t.push_back(throws("data.inputs", "LinearRegression inputs 1e-170 (H underflows)", [] { LR r(regression_set(1e-170)); }));
  t.push_back(throws("data", "LinearRegression targets 1e308 (loss overflows)", [] {
    auto d = regression_set();
    d.targets *= sweep::huge;
    LR r(d);
  }));
  t.push_back(succeeds("LinearRegression inputs 1e150 (H = 1e300)", [] {
    const LR r(regression_set(1e150));
    const LR s(regression_set());
    CHECK((r.minimizer() * 1e150 - s.minimizer()).norm() <= 1e-12 * s.minimizer().norm());
    return verdict(sgdsde::all_finite(r.hessian()) && std::isfinite(r.minimum_loss()));
  }));
  const LR data(regression_set());
  t.push_back(throws("theta", "LinearRegression::loss theta size 3", [data] { (void)data.loss(VectorXd::Zero(3)); }));
  for (double eta : {0.0, -0.1, sweep::nan, sweep::inf}) {
    const std::string s = std::to_string(eta);
    t.push_back(throws("eta", "exact_sgd_stationary eta=" + s,
                       [data, eta] { (void)exact_sgd_stationary(data, eta, with_replacement(2)); }));
    t.push_back(throws("eta", "additive_noise_stationary eta=" + s,
                       [data, eta] { (void)additive_noise_stationary(data, eta, shuffled_epochs(2)); }));
    t.push_back(throws("eta", "sde_sgd_stationary eta=" + s,
                       [data, eta] { (void)sde_sgd_stationary(data, eta, fresh_subset(2)); }));
    t.push_back(throws("eta", "next_moments eta=" + s, [data, eta] {
      (void)next_moments(data, eta, with_replacement(2), {VectorXd::Zero(2), MatrixXd::Zero(2, 2)});
    }));
    t.push_back(throws("eta", "LinearRegressionSgd eta=" + s,
                       [data, eta] { sgdsde::LinearRegressionSgd s(data, eta, with_replacement(2), RandomStream(1)); }));
  }
  t.push_back(throws("sampler", "exact_sgd_stationary shuffled epochs",
                     [data] { (void)exact_sgd_stationary(data, 0.1, shuffled_epochs(2)); }));
  t.push_back(throws("sampler.batch_size", "exact_sgd_stationary fresh_subset S > N",
                     [data] { (void)exact_sgd_stationary(data, 0.1, fresh_subset(9)); }));
  t.push_back(throws("sampler.batch_size", "LinearRegressionSgd fresh_subset S > N",
                     [data] { sgdsde::LinearRegressionSgd s(data, 0.1, fresh_subset(9), RandomStream(1)); }));
  t.push_back(returns(Status::unstable_step, "exact_sgd_stationary eta = 1e308",
                      [data] { return exact_sgd_stationary(data, sweep::huge, with_replacement(2)).outcome; }));
  t.push_back(succeeds("exact_sgd_stationary with_replacement S = 100 > N", [data] {
    const auto s = exact_sgd_stationary(data, 0.1, with_replacement(100));
    CHECK(s.condition >= 1);
    CHECK(s.condition < 1e3);
    return verdict(sgdsde::all_finite(s.covariance));
  }));
  t.push_back(succeeds("exact_sgd_stationary eta = 1e-300", [data] {
    const auto s = exact_sgd_stationary(data, 1e-300, with_replacement(2));
    const auto r = sde_sgd_stationary(data, 1e-300, with_replacement(2));
    // As η → 0 the exact law tends to the SDE law (relative O(η)).
    CHECK((s.covariance - r.covariance).norm() <= 1e-10 * r.covariance.norm());
    return s.outcome;
  }));
  // next_moments.
  for (const auto& [name, v] : kNonFinite) {
    t.push_back(throws("current.mean_error", "next_moments mean " + name, [data, v = v] {
      const sgdsde::SgdMoments<double> m{VectorXd::Constant(2, v), MatrixXd::Zero(2, 2)};
      Keep k(m.mean_error);
      (void)next_moments(data, 0.1, with_replacement(2), m);
    }));
    t.push_back(throws("current.second_moment", "next_moments second moment " + name, [data, v = v] {
      (void)next_moments(data, 0.1, with_replacement(2), {VectorXd::Zero(2), MatrixXd::Constant(2, 2, v)});
    }));
  }
  t.push_back(throws("current.mean_error", "next_moments mean size 3", [data] {
    (void)next_moments(data, 0.1, with_replacement(2), {VectorXd::Zero(3), MatrixXd::Zero(2, 2)});
  }));
  t.push_back(throws("current.second_moment", "next_moments second moment 0x0", [data] {
    (void)next_moments(data, 0.1, with_replacement(2), {VectorXd::Zero(2), MatrixXd(0, 0)});
  }));
  t.push_back(returns(Status::non_finite, "next_moments second moment 1e308 overflows", [data] {
    const auto m = next_moments(data, 1.9, with_replacement(1), {VectorXd::Zero(2), MatrixXd::Constant(2, 2, sweep::huge)});
    return verdict(sgdsde::all_finite(m.second_moment), "non-finite moments");
  }));
  // LinearRegressionSgd.
  t.push_back(throws("theta", "LinearRegressionSgd::step theta size 3", [data] {
    sgdsde::LinearRegressionSgd s(data, 0.1, with_replacement(2), RandomStream(1));
    VectorXd th = VectorXd::Zero(3);
    s.step(th);
  }));
  t.push_back(throws("theta", "LinearRegressionSgd::run theta NaN", [data] {
    sgdsde::LinearRegressionSgd s(data, 0.1, with_replacement(2), RandomStream(1));
    VectorXd th = VectorXd::Constant(2, sweep::nan);
    (void)s.run(th, 10, [](long, const auto&) {});
  }));
  t.push_back(throws("steps", "LinearRegressionSgd::run steps = -1", [data] {
    sgdsde::LinearRegressionSgd s(data, 0.1, with_replacement(2), RandomStream(1));
    VectorXd th = VectorXd::Zero(2);
    (void)s.run(th, -1, [](long, const auto&) {});
  }));
  t.push_back(returns(Status::non_finite, "LinearRegressionSgd::run eta = 1e308 blows up", [data] {
    sgdsde::LinearRegressionSgd s(data, 1e300, with_replacement(2), RandomStream(1));
    VectorXd th = VectorXd::Ones(2);
    return s.run(th, 50, [](long, const auto&) {});
  }));
  t.push_back(succeeds("LinearRegressionSgd with_replacement S = 50 > N", [data] {
    sgdsde::LinearRegressionSgd s(data, 0.1, with_replacement(50), RandomStream(1));
    VectorXd th = VectorXd::Zero(2);
    return s.run(th, 20, [](long, const auto&) {});
  }));
  return t;
}

}  // namespace

TEST_CASE("bad-input sweep: ou (OrnsteinUhlenbeck, laws, OuTransitionSampler)") { sweep::run("ou/process", ou_cases()); }
TEST_CASE("bad-input sweep: ou (Quadratic, stationary laws, simulate_sgd)") {
  sweep::run("ou/quadratic", quadratic_cases());
}
TEST_CASE("bad-input sweep: ou (LinearRegression, moments, SGD)") { sweep::run("ou/regression", regression_cases()); }

// ---- item 7: condition estimates of the stationary solves ---------------------------------------------

TEST_CASE("quadratic stationary solves report their condition (issue 8, item 7)") {
  using Q = sgdsde::Quadratic<double>;
  const double eps = std::numeric_limits<double>::epsilon();
  // Well conditioned: κ(H) = 2.
  const Q good(kH, kC, 10);
  const auto s = sgdsde::sde_stationary(good, 0.1, with_replacement(2));
  CHECK(s.outcome.ok());
  CHECK(s.condition >= 1);
  CHECK(s.condition < 20);
  CHECK(s.forward_error_bound == doctest::Approx(s.condition * eps));
  // Nearly singular H: λ = 1, 1e-10. The SDE solve divides by 2λ_min with λ_min known to ±ε‖H‖:
  // condition ≈ 2e10, so condition·ε ≈ 4e-6 > √ε ≈ 1.5e-8.
  const Q near(MatrixXd((VectorXd(2) << 1.0, 1e-10).finished().asDiagonal()), kC, 10);
  const auto n = sgdsde::sde_stationary(near, 0.1, with_replacement(2));
  CHECK(n.outcome.status == Status::ill_conditioned);
  CHECK(n.condition > 1 / std::sqrt(eps));
  CHECK(sgdsde::all_finite(n.covariance));
  const auto nd = sgdsde::discrete_stationary(near, 0.1, fresh_subset(2));
  CHECK(nd.outcome.status == Status::ill_conditioned);
  const auto ns = sgdsde::discrete_stationary(near, 0.1, shuffled_epochs(2));
  CHECK(ns.outcome.status == Status::ill_conditioned);
  // ηλ_max = 2 − 1e-12 (stable but the denominator λ(2 − ηλ) has lost 12 digits).
  const double lmax = good.eigenvalues()(1);
  const double eta = (2 - 1e-12) / lmax;
  const auto e = sgdsde::discrete_stationary(good, eta, with_replacement(2));
  CHECK(e.outcome.status == Status::ill_conditioned);
  CHECK(e.condition > 1e11);
  // ... and ηλ_max = 1.9 is fine.
  const auto f = sgdsde::discrete_stationary(good, 1.9 / lmax, with_replacement(2));
  CHECK(f.outcome.ok());
  CHECK(f.condition < 100);
  // The actual error at the well-conditioned case is within the bound: C = H gives Σ = ηκ/2 I (SDE).
  const auto iso = sgdsde::sde_stationary(Q(kH, kH, 10), 0.1, with_replacement(2));
  CHECK(iso.outcome.ok());
  CHECK((iso.covariance - 0.025 * MatrixXd::Identity(2, 2)).norm() / 0.025 <= 10 * iso.forward_error_bound);
}

TEST_CASE("exact_sgd_stationary reports the condition mu_max/mu_min of its solve (issue 8, item 7)") {
  const double eps = std::numeric_limits<double>::epsilon();
  const sgdsde::LinearRegression<double> data(regression_set());
  const auto s = sgdsde::exact_sgd_stationary(data, 0.1, with_replacement(2));
  CHECK(s.outcome.ok());
  CHECK(s.condition >= 1);
  CHECK(s.condition < 1e3);
  CHECK(s.forward_error_bound == doctest::Approx(s.condition * eps));
  // Check the solve against 4000 iterations of the recursion (contraction ≤ 1 − ημ_min per step).
  sgdsde::SgdMoments<double> m{VectorXd::Zero(2), MatrixXd::Zero(2, 2)};
  for (int k = 0; k < 4000; ++k) m = sgdsde::next_moments(data, 0.1, with_replacement(2), m);
  CHECK((m.second_moment - s.covariance).norm() <= 1e-10 * s.covariance.norm());
  // Nearly singular H: the second input coordinate scaled by 1e-6 gives λ_min(H) ≈ 1e-12, μ_min ≈ 2e-12.
  auto d = regression_set();
  d.inputs.row(1) *= 1e-6;
  const sgdsde::LinearRegression<double> near(d);
  const auto n = sgdsde::exact_sgd_stationary(near, 0.1, with_replacement(2));
  CHECK(n.outcome.status == Status::ill_conditioned);
  CHECK(n.condition > 1 / std::sqrt(eps));
  CHECK(sgdsde::all_finite(n.covariance));
  // The quadratic laws of the same data report it too.
  CHECK(sgdsde::sde_sgd_stationary(near, 0.1, with_replacement(2)).outcome.status == Status::ill_conditioned);
  CHECK(sgdsde::sde_sgd_stationary(data, 0.1, with_replacement(2)).outcome.ok());
}
