// Tests for sgdsde/sde/euler_maruyama.hpp: one step by hand for each noise kind, and the law of a
// scalar Ornstein–Uhlenbeck ensemble at two times against its closed form.
#include <cmath>
#include <vector>

#include <doctest/doctest.h>

#include "sgdsde/sde/brownian.hpp"
#include "sgdsde/sde/euler_maruyama.hpp"
#include "sgdsde/sde/integrate.hpp"
#include "sgdsde/ou/ou_process.hpp"

namespace {
template <class Scalar>
using Mat = sgdsde::MatrixX<Scalar>;
}

TEST_CASE_TEMPLATE("Euler–Maruyama step is X + f dt + G ΔW", T, SGDSDE_TEST_SCALARS) {
  using M = Mat<T>;
  using Ref = Eigen::Ref<M>;
  using CRef = const Eigen::Ref<const M>&;
  static_assert(sgdsde::EulerMaruyama::calculus == sgdsde::Calculus::ito);
  // Declared orders depend on the noise kind: strong 1/2 in general, 1 for additive noise.
  static_assert(sgdsde::EulerMaruyama::strong_order(sgdsde::NoiseKind::general) == 0.5);
  static_assert(sgdsde::EulerMaruyama::strong_order(sgdsde::NoiseKind::diagonal) == 0.5);
  static_assert(sgdsde::EulerMaruyama::strong_order(sgdsde::NoiseKind::additive) == 1.0);
  static_assert(sgdsde::EulerMaruyama::weak_order(sgdsde::NoiseKind::general) == 1.0);
  // d = 2, m = 2, G(x) = [[x0, 1], [0, x1²]] per path.
  const auto p = sgdsde::general_noise_sde(
      2, 2, [](T t, CRef x, Ref f) { f = (t * x.array().cos()).matrix(); },
      [](T, CRef x, Ref g) {
        g.row(0) = x.row(0);  // G(0,0)
        g.row(1).setZero();   // G(1,0)
        g.row(2).setOnes();   // G(0,1)
        g.row(3) = x.row(1).array().square().matrix();  // G(1,1)
      });
  M x(2, 3), dw(2, 3);
  x << 0.3, -1.0, 2.0, 0.5, 0.25, -0.75;
  dw << 0.1, -0.2, 0.3, 0.05, 0.0, -0.1;
  const T t = T(0.5), dt = T(0.04);
  M expected(2, 3);
  for (int j = 0; j < 3; ++j) {
    expected(0, j) = x(0, j) + t * std::cos(x(0, j)) * dt + x(0, j) * dw(0, j) + dw(1, j);
    expected(1, j) = x(1, j) + t * std::cos(x(1, j)) * dt + x(1, j) * x(1, j) * dw(1, j);
  }
  auto workspace = sgdsde::EulerMaruyama{}.workspace(p, 3);
  workspace.step(p, t, dt, dw, x);
  CHECK((x - expected).cwiseAbs().maxCoeff() <= T(20) * std::numeric_limits<T>::epsilon());
}

TEST_CASE_TEMPLATE("Euler–Maruyama on scalar OU: mean and variance at two times match the closed form" * doctest::test_suite("slow"), T, float,
                   double) {
  // dX = −a X dt + b dW, X_0 = x0: E X_t = x0 e^{−at}, Var X_t = b²(1 − e^{−2at})/(2a).
  using M = Mat<T>;
  const double a = 2.0, b = 1.0, x0 = 1.5;
  constexpr int paths = 20000, levels = 10;
  // The OrnsteinUhlenbeck problem driven by a BrownianPath: the generic stepper loop (no fused kernel).
  const sgdsde::OrnsteinUhlenbeck p(M::Constant(1, 1, T(a)), M::Constant(1, 1, T(b)));
  const sgdsde::BrownianPath<T> path(sgdsde::RandomStream(31), T(0), T(1), 1, paths, levels);
  const double dt = 1.0 / (1 << levels);
  const auto sol = sgdsde::integrate(p, sgdsde::EulerMaruyama{}, M::Constant(1, paths, T(x0)), sgdsde::TimeGrid<T>(T(0), T(1), T(dt)),
                                     path, {T(0.25), T(1)});
  REQUIRE(sol.outcome.ok());
  REQUIRE(sol.states.size() == 2);
  for (int s = 0; s < 2; ++s) {
    const double t = double(sol.times[s]);
    const Eigen::ArrayXd x = sol.states[s].row(0).transpose().template cast<double>().array();
    const double mean = x.mean(), var = (x - mean).square().sum() / (paths - 1);
    const double exact_mean = x0 * std::exp(-a * t), exact_var = b * b * (1 - std::exp(-2 * a * t)) / (2 * a);
    // Standard errors: sd/√M for the mean, and sd((x − m)²)/√M for the variance (CLT).
    const double se_mean = std::sqrt(var / paths);
    const double se_var = std::sqrt(((x - mean).square() - var).square().sum() / (paths - 1) / paths);
    // The exact law of EM itself (mean (1 − a dt)^n x0, variance b² dt Σ (1 − a dt)^{2k}) differs from the
    // SDE's by O(dt); at dt = 2⁻¹⁰ that bias is below half a standard error, so 5 SE bound both.
    const double n = t / dt, r = 1 - a * dt;
    const double em_mean = x0 * std::pow(r, n), em_var = b * b * dt * (1 - std::pow(r, 2 * n)) / (1 - r * r);
    CHECK(std::abs(em_mean - exact_mean) <= 0.5 * se_mean);
    CHECK(std::abs(em_var - exact_var) <= 0.5 * se_var);
    INFO("t = " << t << ": mean " << mean << " vs " << exact_mean << " (SE " << se_mean << "), var " << var
                << " vs " << exact_var << " (SE " << se_var << ")");
    CHECK(std::abs(mean - exact_mean) <= 5 * se_mean);
    CHECK(std::abs(var - exact_var) <= 5 * se_var);
  }
}
