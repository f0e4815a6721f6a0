// Tests for sgdsde/optim/sgd.hpp: plain, weight-decay and momentum updates against independently
// written recurrences on a quadratic, the injected-noise variance σ²η²/M (5 SE), regenerability of
// step k's noise, and bad input.
#include "sgdsde/optim/sgd.hpp"

#include "sgdsde/core/scalar.hpp"

#include <cmath>
#include <vector>

#include <doctest/doctest.h>

using sgdsde::RandomStream;
using sgdsde::optim::Sgd;
using sgdsde::optim::SgdOptions;

namespace {
template <class T>
using Vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;

/// Gradient of L(θ) = ½ (θ − θ*)ᵀ H (θ − θ*) with H = diag(h).
template <class T>
Vec<T> quad_grad(const Vec<T>& theta, const Vec<T>& h, const Vec<T>& star) {
  return h.cwiseProduct(theta - star);
}
}  // namespace

TEST_CASE_TEMPLATE("plain SGD and weight decay match θ ← (1 − ηλ)θ − η g written out", T, float, double) {
  Vec<T> h(3), star(3), theta(3);
  h << T(2), T(0.5), T(1);
  star << T(1), T(-1), T(0.25);
  theta << T(0.3), T(0.7), T(-2);
  for (T lambda : {T(0), T(0.1)}) {
    SgdOptions o;
    o.weight_decay = double(lambda);
    Sgd<T> sgd(3, o);  // no noise: no stream needed
    Vec<T> a = theta;
    // reference: each coordinate, by hand, for a changing η
    std::vector<T> b = {theta[0], theta[1], theta[2]};
    for (long k = 0; k < 4; ++k) {
      const T eta = T(0.1) * T(k + 1);
      sgd.step(k, eta, a, quad_grad<T>(a, h, star));
      for (int i = 0; i < 3; ++i) b[i] = b[i] - eta * (h[i] * (b[i] - star[i]) + lambda * b[i]);
    }
    for (int i = 0; i < 3; ++i) CHECK(a[i] == doctest::Approx(b[i]).epsilon(10 * sgdsde::Constants<T>::epsilon()));
  }
}

TEST_CASE_TEMPLATE("momentum matches the two-step form θ_{k+1} = θ_k − η d_k + μ (θ_k − θ_{k−1})", T, float,
                   double) {
  // For constant η, v_k = μ v_{k−1} + d_k and θ_{k+1} = θ_k − η v_k imply
  // θ_{k+1} − θ_k = μ (θ_k − θ_{k−1}) − η d_k with θ_{−1} = θ_0: an independent recurrence.
  Vec<T> h(2), star(2), theta(2);
  h << T(3), T(0.2);
  star << T(0.5), T(2);
  theta << T(-1), T(1);
  const T eta = T(0.05), mu = T(0.9), lambda = T(0.01);
  SgdOptions o;
  o.momentum = 0.9;  // the same μ and λ as above, converted to T by Sgd
  o.weight_decay = 0.01;
  Sgd<T> sgd(2, o);
  Vec<T> a = theta, prev = theta, cur = theta;
  for (long k = 0; k < 6; ++k) {
    sgd.step(k, eta, a, quad_grad<T>(a, h, star));
    const Vec<T> d = quad_grad<T>(cur, h, star) + lambda * cur;
    const Vec<T> next = cur - eta * d + mu * (cur - prev);
    prev = cur;
    cur = next;
    CHECK((a - cur).norm() <= T(50) * sgdsde::Constants<T>::epsilon() * (T(1) + cur.norm()));
  }
  // velocity after 6 steps is (θ_6 − θ_5)/(−η)
  CHECK((sgd.velocity() + (cur - prev) / eta).norm() <= T(1e3) * sgdsde::Constants<T>::epsilon());
  sgd.reset();
  CHECK(sgd.velocity().norm() == T(0));
}

TEST_CASE_TEMPLATE("gradient descent on a quadratic converges at rate |1 − η h_i| per coordinate", T, float, double) {
  Vec<T> h(3), star(3), theta(3);
  h << T(4), T(1), T(0.25);
  star << T(1), T(2), T(3);
  theta.setZero();
  const T eta = T(0.3);
  Sgd<T> sgd(3);
  for (long k = 0; k < 50; ++k) sgd.step(k, eta, theta, quad_grad<T>(theta, h, star));
  for (int i = 0; i < 3; ++i) {
    using std::pow;
    const T expected = star[i] - star[i] * pow(T(1) - eta * h[i], T(50));  // θ_k − θ* = (1 − ηh)^k (θ_0 − θ*)
    CHECK(theta[i] == doctest::Approx(expected).epsilon(1e3 * sgdsde::Constants<T>::epsilon()));
  }
}

TEST_CASE_TEMPLATE("injected noise has variance σ²η²/M per coordinate and step", T, float, double) {
  // Zero gradient: θ_{k+1} − θ_k = σ η/√M ξ_k exactly. Over K steps and P coordinates the increments are
  // i.i.d. N(0, s²), s = σ η/√M. Checks at 5 SE: mean (SE s/√n), variance (SE s²√(2/(n−1))),
  // and the lag-one correlation of increments (SE 1/√n) — a 1-in-a-million false alarm each.
  const Eigen::Index p = 500;
  const long steps = 200;
  SgdOptions o;
  o.noise_sigma = 0.8;
  o.noise_batch = 4;
  const T eta = T(0.5);
  const double s = 0.8 * 0.5 / 2.0;
  Sgd<T> sgd(p, o, RandomStream(31, 7));
  Vec<T> theta = Vec<T>::Zero(p), before(p), zero = Vec<T>::Zero(p);
  Eigen::MatrixXd inc(p, steps);
  for (long k = 0; k < steps; ++k) {
    before = theta;
    sgd.step(k, eta, theta, zero);
    inc.col(k) = (theta - before).template cast<double>();
  }
  const double n = double(inc.size());
  const double mean = inc.mean();
  const double var = (inc.array() - mean).square().sum() / (n - 1);
  CHECK(std::abs(mean) <= 5 * s / std::sqrt(n));
  CHECK(std::abs(var - s * s) <= 5 * s * s * std::sqrt(2 / (n - 1)));
  const double lag = (inc.leftCols(steps - 1).array() * inc.rightCols(steps - 1).array()).mean() / (s * s);
  CHECK(std::abs(lag) <= 5 / std::sqrt(double(p * (steps - 1))));

  // step k's noise is regenerable alone: a fresh updater applying only step 37 gives the same increment
  Sgd<T> fresh(p, o, RandomStream(31, 7));
  Vec<T> t2 = Vec<T>::Zero(p);
  fresh.step(37, eta, t2, zero);
  CHECK((t2.template cast<double>() - inc.col(37)).norm() <= 1e-5 * inc.col(37).norm());
}

TEST_CASE("Sgd rejects bad input") {
  SgdOptions o;
  CHECK_THROWS_AS(Sgd<double>(0, o, RandomStream(0)), sgdsde::invalid_argument);
  CHECK_THROWS_AS(Sgd<double>(0), sgdsde::invalid_argument);
  o.noise_sigma = 0.5;  // injected noise needs a stream
  CHECK_THROWS_AS(Sgd<double>(2, o), sgdsde::invalid_argument);
  try {
    Sgd<double> bad(2, o);
  } catch (const sgdsde::invalid_argument& e) {
    CHECK(std::string(e.what()).find("noise_stream") != std::string::npos);
  }
  CHECK_NOTHROW(Sgd<double>(2, o, RandomStream(0)));
  o = {};
  o.momentum = 1.0;
  CHECK_THROWS_AS(Sgd<double>(2, o, RandomStream(0)), sgdsde::invalid_argument);
  o = {};
  o.weight_decay = -0.1;
  CHECK_THROWS_AS(Sgd<double>(2, o, RandomStream(0)), sgdsde::invalid_argument);
  o = {};
  o.noise_sigma = -1;
  CHECK_THROWS_AS(Sgd<double>(2, o, RandomStream(0)), sgdsde::invalid_argument);
  o = {};
  o.noise_batch = 0;
  CHECK_THROWS_AS(Sgd<double>(2, o, RandomStream(0)), sgdsde::invalid_argument);
  Sgd<double> sgd(2);
  Eigen::VectorXd theta = Eigen::VectorXd::Ones(2), g = Eigen::VectorXd::Ones(2);
  CHECK_THROWS_AS(sgd.step(0, 0.0, theta, g), sgdsde::invalid_argument);
  CHECK_THROWS_AS(sgd.step(0, -1.0, theta, g), sgdsde::invalid_argument);
  CHECK_THROWS_AS(sgd.step(0, std::nan(""), theta, g), sgdsde::invalid_argument);
  Eigen::VectorXd g3 = Eigen::VectorXd::Ones(3);
  CHECK_THROWS_AS(sgd.step(0, 0.1, theta, g3), sgdsde::invalid_argument);
  CHECK(theta == Eigen::VectorXd::Ones(2));  // untouched by the failed calls
}
