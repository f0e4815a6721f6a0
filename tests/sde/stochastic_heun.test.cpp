// Tests for sgdsde/sde/stochastic_heun.hpp: one step by hand, and Stratonovich convergence with
// general (d×m) and scalar noise, where the exact solution on the same path is known.
#include <cmath>

#include <doctest/doctest.h>

#include "sgdsde/sde/brownian.hpp"
#include "sgdsde/sde/convergence.hpp"
#include "sgdsde/sde/stochastic_heun.hpp"

namespace {
template <class Scalar>
using Mat = sgdsde::MatrixX<Scalar>;
}

TEST_CASE_TEMPLATE("stochastic Heun step matches the predictor–corrector formula", T, SGDSDE_TEST_SCALARS) {
  using M = Mat<T>;
  using Ref = Eigen::Ref<M>;
  using CRef = const Eigen::Ref<const M>&;
  // d = 1, m = 2: dX = −X² dt + (X, 1) ∘ dW.
  const auto p = sgdsde::general_noise_sde(
      1, 2, [](T, CRef x, Ref f) { f = -x.array().square().matrix(); },
      [](T, CRef x, Ref g) {
        g.row(0) = x.row(0);
        g.row(1).setOnes();
      });
  M x(1, 2), dw(2, 2);
  x << 0.5, -0.3;
  dw << 0.1, -0.2, 0.05, 0.3;
  const T dt = T(0.02);
  M expected(1, 2);
  for (int j = 0; j < 2; ++j) {
    const T x0 = x(0, j), w1 = dw(0, j), w2 = dw(1, j);
    const T pred = x0 - x0 * x0 * dt + x0 * w1 + w2;
    expected(0, j) = x0 + T(0.5) * (-x0 * x0 - pred * pred) * dt + T(0.5) * (x0 + pred) * w1 + w2;
  }
  static_assert(sgdsde::StochasticHeun::strong_order(sgdsde::NoiseKind::general) == 0.5);
  static_assert(sgdsde::StochasticHeun::strong_order(sgdsde::NoiseKind::scalar) == 1.0);
  static_assert(sgdsde::StochasticHeun::weak_order(sgdsde::NoiseKind::additive) == 2.0);
  auto s = sgdsde::StochasticHeun{}.workspace(p, 2);
  s.step(p, T(0), dt, dw, x);
  CHECK((x - expected).cwiseAbs().maxCoeff() <= T(20) * std::numeric_limits<T>::epsilon());
}

namespace {
using M = Mat<double>;
using Ref = Eigen::Ref<M>;
using CRef = const Eigen::Ref<const M>&;
constexpr double mu = 0.3, s1 = 0.3, s2 = 0.2;
constexpr double m1 = 0.2, m2 = -0.4, sg = 0.35;
}  // namespace

TEST_CASE("stochastic Heun with general commutative noise converges with strong order 1" * doctest::test_suite("slow")) {
  // dX = μX dt + X (s1 ∘ dW1 + s2 ∘ dW2): the noise fields X·s1, X·s2 commute, and the
  // Stratonovich solution is X_T = X_0 exp(μT + s1 W1_T + s2 W2_T).
  const auto p = sgdsde::general_noise_sde(
      1, 2, [](double, CRef x, Ref f) { f = mu * x; },
      [](double, CRef x, Ref g) {
        g.row(0) = s1 * x.row(0);
        g.row(1) = s2 * x.row(0);
      });
  const auto exact = [](const M& x0, const M& w, Ref out) {
    out = (x0.array() * (mu + s1 * w.row(0).array() + s2 * w.row(1).array()).exp()).matrix();
  };
  constexpr int paths = 2000;
  const sgdsde::BrownianPath<double> path(sgdsde::RandomStream(5), 0.0, 1.0, 2, paths, 9);
  const auto s = sgdsde::convergence_study(p, sgdsde::StochasticHeun{}, M::Ones(1, paths), path, 3, 9,
                                           exact, [](const auto& x) { return x(0); });
  REQUIRE(s.outcome.ok());
  // Bound: 5 batch standard errors of the slope plus the pre-asymptotic band justified in
  // convergence.test.cpp (0.04; here the noise scale √(s1² + s2²) ≈ 0.36 < 0.4 as there).
  INFO("order " << s.strong_fit.order << " ± " << s.strong_order_batch_standard_error);
  CHECK(std::abs(s.strong_fit.order - 1.0) <= 5 * s.strong_order_batch_standard_error + 0.04);
}

TEST_CASE("stochastic Heun with scalar noise on a 2-d linear system converges with strong order 1" * doctest::test_suite("slow")) {
  // dX = diag(μ1, μ2) X dt + σ X ∘ dW (one Brownian motion): X_i,T = X_i,0 exp(μ_i T + σ W_T).
  const auto p = sgdsde::scalar_noise_sde(
      2,
      [](double, CRef x, Ref f) {
        f.row(0) = m1 * x.row(0);
        f.row(1) = m2 * x.row(1);
      },
      [](double, CRef x, Ref g) { g = sg * x; });
  const auto exact = [](const M& x0, const M& w, Ref out) {
    out.row(0) = (x0.row(0).array() * (m1 + sg * w.row(0).array()).exp()).matrix();
    out.row(1) = (x0.row(1).array() * (m2 + sg * w.row(0).array()).exp()).matrix();
  };
  constexpr int paths = 2000;
  M x0(2, paths);
  x0.row(0).setConstant(1.0);
  x0.row(1).setConstant(-2.0);
  const sgdsde::BrownianPath<double> path(sgdsde::RandomStream(6), 0.0, 1.0, 1, paths, 9);
  const auto s = sgdsde::convergence_study(p, sgdsde::StochasticHeun{}, x0, path, 3, 9, exact,
                                           [](const auto& x) { return x(0) + x(1); });
  REQUIRE(s.outcome.ok());
  INFO("order " << s.strong_fit.order << " ± " << s.strong_order_batch_standard_error);
  CHECK(std::abs(s.strong_fit.order - 1.0) <= 5 * s.strong_order_batch_standard_error + 0.04);
}
