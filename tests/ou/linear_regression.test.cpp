// Tests for sgdsde/ou/linear_regression.hpp: the exact moment recursion against brute-force
// enumeration of all minibatches, its fixed point against iteration, real minibatch SGD (time and path
// averages, batch-means SE) against the exact and SDE predictions, and η/S invariance and its breakdown
// (Jastrzębski et al. 2018, Fig. 5).
#include "sgdsde/ou/linear_regression.hpp"

#include <cmath>
#include <functional>
#include <vector>

#include <Eigen/Dense>

#include "sgdsde/core/random.hpp"

#include <doctest/doctest.h>

namespace {

using sgdsde::LinearRegressionData;
using sgdsde::Minibatch;
using sgdsde::Sampling;

/// x_n ~ N(0, diag(s²)) with s² evenly spread over [0.5, 2], y = xᵀθ_true + σ ε.
LinearRegressionData<double> make_data(Eigen::Index n, Eigen::Index d, double sigma, std::uint64_t seed) {
  Eigen::MatrixXd x(n, d);
  sgdsde::RandomStream(seed, 0).fill_normal(x);
  const Eigen::VectorXd scale = Eigen::VectorXd::LinSpaced(d, 0.5, 2.0).cwiseSqrt();
  x = x * scale.asDiagonal();
  Eigen::VectorXd theta(d), eps(n);
  sgdsde::RandomStream(seed, 1).fill_normal(theta);
  sgdsde::RandomStream(seed, 2).fill_normal(eps);
  const Eigen::VectorXd y = x * theta + sigma * eps;
  return LinearRegressionData<double>(x, y);
}

/// E[e'] and E[e' e'ᵀ] after one SGD step from a point mass at θ, by enumerating every minibatch:
/// all Nˢ ordered index tuples (with replacement) or all S-subsets (without).
void enumerate_step(const LinearRegressionData<double>& data, double eta, const Minibatch& b, const Eigen::VectorXd& theta,
                    Eigen::VectorXd& m, Eigen::MatrixXd& mm) {
  const Eigen::Index n = data.samples(), d = data.dimension();
  const Eigen::MatrixXd& xt = data.inputs_transposed();
  m = Eigen::VectorXd::Zero(d);
  mm = Eigen::MatrixXd::Zero(d, d);
  double count = 0;
  std::vector<Eigen::Index> idx(std::size_t(b.batch_size));
  std::function<void(std::size_t, Eigen::Index)> rec = [&](std::size_t pos, Eigen::Index start) {
    if (pos == idx.size()) {
      Eigen::VectorXd g = Eigen::VectorXd::Zero(d);
      for (Eigen::Index i : idx) g += xt.col(i) * (xt.col(i).dot(theta) - data.targets()(i));
      const Eigen::VectorXd e = theta - eta * g / double(b.batch_size) - data.minimizer();
      m += e;
      mm += e * e.transpose();
      count += 1;
      return;
    }
    const Eigen::Index first = b.sampling == Sampling::with_replacement ? 0 : start;
    for (Eigen::Index i = first; i < n; ++i) {
      idx[pos] = i;
      rec(pos + 1, i + 1);
    }
  };
  rec(0, 0);
  m /= count;
  mm /= count;
}

struct SimResult {
  double mean, se;
};

/// Time- and path-averaged excess loss L(θ) − L* of real minibatch SGD. Each path (own stream id)
/// starts at θ*, discards `burn` steps, then records `blocks` blocks of `block` steps. Block means
/// are treated as independent (block length ≫ the loss autocorrelation time 1/(2ηλ_min), checked
/// by the caller's choice), so SE = sd(block means)/√(number of blocks).
SimResult simulate(const LinearRegressionData<double>& data, double eta, const Minibatch& b, int paths, int burn,
                   int blocks, int block) {
  sgdsde::LinearRegressionSgd<double> sgd(data, eta, b);
  std::vector<double> means;
  for (int p = 0; p < paths; ++p) {
    const sgdsde::RandomStream stream(4242, std::uint64_t(p));
    Eigen::VectorXd theta = data.minimizer();
    REQUIRE(sgd.run(theta, stream, 0, std::uint64_t(burn), [](std::uint64_t, const Eigen::Ref<Eigen::VectorXd>&) {}).ok());
    for (int k = 0; k < blocks; ++k) {
      double acc = 0;
      REQUIRE(sgd.run(theta, stream, std::uint64_t(burn + k * block), std::uint64_t(block),
                      [&](std::uint64_t, const Eigen::Ref<Eigen::VectorXd>& th) {
                        const Eigen::VectorXd e = th - data.minimizer();
                        acc += 0.5 * e.dot(data.hessian() * e);
                      })
                  .ok());
      means.push_back(acc / block);
    }
  }
  double mean = 0, sq = 0;
  for (double v : means) mean += v / double(means.size());
  for (double v : means) sq += (v - mean) * (v - mean) / double(means.size() - 1);
  return {mean, std::sqrt(sq / double(means.size()))};
}

}  // namespace

TEST_CASE("one step of the moment recursion equals the enumeration of all minibatches") {
  const auto data = make_data(5, 2, 0.7, 11);
  const double eta = 0.3;
  for (auto b : {Minibatch(2), Minibatch(3), Minibatch(2, Sampling::without_replacement, 5),
                 Minibatch(4, Sampling::without_replacement, 5)}) {
    CAPTURE(b.batch_size);
    CAPTURE(int(b.sampling));
    // A two-point law for θ (weights 0.3, 0.7) so that M is not rank one.
    const Eigen::VectorXd t1 = data.minimizer() + Eigen::Vector2d(0.5, -0.2);
    const Eigen::VectorXd t2 = data.minimizer() + Eigen::Vector2d(-0.1, 0.4);
    Eigen::VectorXd m1, m2;
    Eigen::MatrixXd mm1, mm2;
    enumerate_step(data, eta, b, t1, m1, mm1);
    enumerate_step(data, eta, b, t2, m2, mm2);
    sgdsde::SgdMoments<double> cur;
    const Eigen::VectorXd e1 = t1 - data.minimizer(), e2 = t2 - data.minimizer();
    cur.mean_error = 0.3 * e1 + 0.7 * e2;
    cur.second_moment = 0.3 * e1 * e1.transpose() + 0.7 * e2 * e2.transpose();
    const auto next = sgdsde::next_moments(data, eta, b, cur);
    CHECK((next.mean_error - (0.3 * m1 + 0.7 * m2)).norm() < 1e-12);
    CHECK((next.second_moment - (0.3 * mm1 + 0.7 * mm2)).norm() < 1e-12);
  }
}

TEST_CASE("exact stationary moments are the limit of the iterated recursion") {
  const auto data = make_data(60, 4, 0.5, 12);
  for (auto b : {Minibatch(3), Minibatch(20, Sampling::without_replacement, 60)}) {
    const double eta = 0.4;
    const auto st = sgdsde::exact_sgd_stationary(data, eta, b);
    REQUIRE(st.outcome.ok());
    sgdsde::SgdMoments<double> cur{Eigen::VectorXd::Ones(4), Eigen::MatrixXd::Identity(4, 4)};
    for (int k = 0; k < 3000; ++k) cur = sgdsde::next_moments(data, eta, b, cur);  // contraction ≤ (1 − 0.4·0.3)^k
    CHECK(cur.mean_error.norm() < 1e-12);
    const Eigen::MatrixXd cov = cur.second_moment - cur.mean_error * cur.mean_error.transpose();
    CHECK((cov - st.covariance).norm() < 1e-11 * st.covariance.norm());
    CHECK(st.expected_loss == doctest::Approx(data.minimum_loss() + 0.5 * (data.hessian() * cov).trace()).epsilon(1e-11));
    CHECK((st.mean - data.minimizer()).norm() == 0.0);
  }
}

TEST_CASE("minibatch SGD on noisy linear regression matches the exact discrete prediction (5 SE)") {
  const auto data = make_data(1000, 10, 0.5, 13);
  const double eta = 0.1;
  const Minibatch b(10);
  const auto exact = sgdsde::exact_sgd_stationary(data, eta, b);
  const auto sde = sgdsde::sde_sgd_stationary(data, eta, b);
  REQUIRE(exact.outcome.ok());
  // λ_min(H) ≈ 0.5: loss autocorrelation time ≈ 1/(2·0.1·0.5) = 10 steps ≪ block = 500 steps.
  const SimResult sim = simulate(data, eta, b, 16, 500, 40, 500);
  CAPTURE(sim.mean);
  CAPTURE(sim.se);
  CAPTURE(exact.excess_loss);
  CAPTURE(sde.excess_loss);
  CHECK(std::abs(sim.mean - exact.excess_loss) < 5 * sim.se);
  // The SDE limit is off by its O(η) bias, which the simulation resolves...
  CHECK(std::abs(sim.mean - sde.excess_loss) > 5 * sim.se);
  // ...and that bias is first order in η: relative bias b(η) = (exact − sde)/sde satisfies
  // b(η)/b(η/2) → 2 as η → 0 (here within 10%), and the simulation is within 2·b(η) of the SDE value.
  auto rel_bias = [&](double e) {
    const double ex = sgdsde::exact_sgd_stationary(data, e, b).excess_loss;
    const double sd = sgdsde::sde_sgd_stationary(data, e, b).excess_loss;
    return (ex - sd) / sd;
  };
  const double b1 = rel_bias(eta), b2 = rel_bias(eta / 2), b3 = rel_bias(eta / 4);
  CHECK(b1 / b2 == doctest::Approx(2.0).epsilon(0.1));
  CHECK(b2 / b3 == doctest::Approx(2.0).epsilon(0.05));
  CHECK(std::abs(sim.mean - sde.excess_loss) < 2 * b1 * sde.excess_loss + 5 * sim.se);
}

TEST_CASE("η/S invariance for small β and its breakdown for large β and S → N (Jastrzębski Fig. 5)") {
  const auto data = make_data(1000, 10, 0.5, 14);
  const double eta0 = 0.01;
  const long s0 = 2;
  const auto base = sgdsde::exact_sgd_stationary(data, eta0, Minibatch(s0));
  REQUIRE(base.outcome.ok());
  // Exact theory: (βη, βS) changes E[L − L*] only at first order in βη (with replacement): the
  // relative deviation grows linearly in β − 1 (ratio of deviations at β = 4 and β = 2 is ≈ 3) and
  // stays a few per cent for β ≤ 4...
  std::vector<double> dev;
  for (double beta : {2.0, 4.0}) {
    const auto st = sgdsde::exact_sgd_stationary(data, beta * eta0, Minibatch(long(beta) * s0));
    dev.push_back(st.excess_loss / base.excess_loss - 1);
  }
  CAPTURE(dev[0]);
  CAPTURE(dev[1]);
  CHECK(std::abs(dev[0]) < 0.01);
  CHECK(std::abs(dev[1]) < 0.03);
  CHECK(dev[1] / dev[0] == doctest::Approx(3.0).epsilon(0.1));
  // ...and the simulations at β = 1 and β = 4 agree with it (5 SE; correlation time ≤ 1/(2·0.01·0.5) = 100 steps).
  const SimResult sim1 = simulate(data, eta0, Minibatch(s0), 8, 2000, 20, 2500);
  CHECK(std::abs(sim1.mean - base.excess_loss) < 5 * sim1.se);
  const auto st4 = sgdsde::exact_sgd_stationary(data, 4 * eta0, Minibatch(4 * s0));
  const SimResult sim4 = simulate(data, 4 * eta0, Minibatch(4 * s0), 8, 1000, 20, 1000);
  CHECK(std::abs(sim4.mean - st4.excess_loss) < 5 * sim4.se);
  // Large β = 60 with replacement (η = 0.6, S = 120): discretisation inflates the loss well above
  // the base value; the simulation confirms the exact prediction and rejects the base value.
  const auto big = sgdsde::exact_sgd_stationary(data, 60 * eta0, Minibatch(60 * s0));
  REQUIRE(big.outcome.ok());
  CHECK(big.excess_loss / base.excess_loss > 1.3);
  const SimResult simb = simulate(data, 60 * eta0, Minibatch(60 * s0), 8, 200, 40, 100);
  CHECK(std::abs(simb.mean - big.excess_loss) < 5 * simb.se);
  CHECK(std::abs(simb.mean - base.excess_loss) > 5 * simb.se);
  // S → N without replacement: base (η, S) = (0.001, 2); β = 4 keeps the loss (within 2%), β = 450
  // (η = 0.45, S = 900 of N = 1000) collapses it, since Cov g_B carries (N − S)/(N − 1) ≈ 0.1.
  const long n = data.samples();
  const auto wbase = sgdsde::exact_sgd_stationary(data, 0.001, Minibatch(2, Sampling::without_replacement, n));
  const auto w4 = sgdsde::exact_sgd_stationary(data, 0.004, Minibatch(8, Sampling::without_replacement, n));
  const auto w450 = sgdsde::exact_sgd_stationary(data, 0.45, Minibatch(900, Sampling::without_replacement, n));
  REQUIRE(w450.outcome.ok());
  CHECK(std::abs(w4.excess_loss / wbase.excess_loss - 1) < 0.02);
  CHECK(w450.excess_loss / wbase.excess_loss < 0.3);
  const SimResult simw = simulate(data, 0.45, Minibatch(900, Sampling::without_replacement, n), 8, 200, 40, 100);
  CHECK(std::abs(simw.mean - w450.excess_loss) < 5 * simw.se);
  CHECK(std::abs(simw.mean - wbase.excess_loss) > 5 * simw.se);
}

TEST_CASE("unstable learning rate and bad input for linear regression") {
  const auto data = make_data(200, 3, 0.5, 15);
  const auto st = sgdsde::exact_sgd_stationary(data, 5.0, Minibatch(4));
  CHECK(st.outcome.status == sgdsde::Status::unstable_step);
  CHECK(std::isinf(st.excess_loss));
  using sgdsde::invalid_argument;
  CHECK_THROWS_AS(sgdsde::exact_sgd_stationary(data, 0.0, Minibatch(4)), invalid_argument);
  CHECK_THROWS_AS(sgdsde::exact_sgd_stationary(data, 0.1, Minibatch(4, Sampling::without_replacement, 100)),
                  invalid_argument);  // batch says N = 100, data has 200
  CHECK_THROWS_AS(LinearRegressionData<double>(Eigen::MatrixXd::Ones(10, 2), Eigen::VectorXd::Zero(10)),
                  invalid_argument);  // rank-deficient design
  CHECK_THROWS_AS(LinearRegressionData<double>(Eigen::MatrixXd::Identity(3, 3), Eigen::VectorXd::Zero(4)),
                  invalid_argument);
  Eigen::MatrixXd x = Eigen::MatrixXd::Identity(3, 3);
  x(0, 0) = std::nan("");
  CHECK_THROWS_AS(LinearRegressionData<double>(x, Eigen::VectorXd::Zero(3)), invalid_argument);
  CHECK_THROWS_AS(sgdsde::LinearRegressionSgd<double>(data, -1.0, Minibatch(4)), invalid_argument);
  // SGD that diverges reports the step where the iterate became non-finite.
  sgdsde::LinearRegressionSgd<double> sgd(data, 50.0, Minibatch(4));
  Eigen::VectorXd theta = data.minimizer() + Eigen::VectorXd::Ones(3);
  const auto out = sgd.run(theta, sgdsde::RandomStream(1, 0), 0, 100000, [](std::uint64_t, const Eigen::Ref<Eigen::VectorXd>&) {});
  CHECK(out.status == sgdsde::Status::non_finite);
  CHECK(out.step > 0);
}
