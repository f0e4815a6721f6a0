// Tests for sgdsde/sde/milstein.hpp: one step against the scheme written out by hand, and agreement of
// the analytic and derivative-free corrections to O(dt^{3/2}) (their strong order 1 is in convergence.test.cpp).
#include <cmath>

#include <doctest/doctest.h>

#include "sgdsde/ou/ou_process.hpp"
#include "sgdsde/sde/milstein.hpp"

namespace {
template <class Scalar>
using Mat = sgdsde::MatrixX<Scalar>;
}

TEST_CASE_TEMPLATE("Milstein step matches the formula for diagonal noise", T, SGDSDE_TEST_SCALARS) {
  using M = Mat<T>;
  using Ref = Eigen::Ref<M>;
  using CRef = const Eigen::Ref<const M>&;
  // dX_i = −X_i dt + sin(X_i) dW_i, g' = cos.
  const auto p = sgdsde::diagonal_noise_sde(
      2, [](T, CRef x, Ref f) { f = -x; }, [](T, CRef x, Ref g) { g = x.array().sin().matrix(); },
      [](T, CRef x, Ref dg) { dg = x.array().cos().matrix(); });
  M x(2, 3), dw(2, 3);
  x << 0.3, -1.2, 2.0, 0.7, 0.1, -0.4;
  dw << 0.05, -0.1, 0.2, 0.0, 0.15, -0.02;
  const T dt = T(0.01);
  M expected(2, 3);
  for (Eigen::Index j = 0; j < 3; ++j)
    for (Eigen::Index i = 0; i < 2; ++i) {
      const T xi = x(i, j), w = dw(i, j);
      expected(i, j) = xi - xi * dt + std::sin(xi) * w + T(0.5) * std::sin(xi) * std::cos(xi) * (w * w - dt);
    }
  auto stepper = sgdsde::Milstein{}.workspace(p, 3);
  M y = x;
  stepper.step(p, T(0), dt, dw, y);
  CHECK((y - expected).cwiseAbs().maxCoeff() <= T(20) * std::numeric_limits<T>::epsilon());

  // Platen's derivative-free correction differs from the analytic one by O(dt^{3/2}) per step when
  // ΔW = O(√dt): here |ΔW| ≤ 0.2 = 2√dt, so the difference must be far below the correction itself.
  const auto q = sgdsde::diagonal_noise_sde(
      2, [](T, CRef x, Ref f) { f = -x; }, [](T, CRef x, Ref g) { g = x.array().sin().matrix(); });
  auto df = sgdsde::Milstein{}.workspace(q, 3);
  M z = x;
  df.step(q, T(0), dt, dw, z);
  // Bound: |g''|·g²·√dt·|ΔW² − dt|/4 + |g'|·|f|·dt... ≤ 4·dt^{3/2} for these inputs (|g|,|g'|,|g''| ≤ 1, |x| ≤ 2).
  CHECK((z - y).cwiseAbs().maxCoeff() <= T(4) * std::pow(dt, T(1.5)));
}

TEST_CASE_TEMPLATE("Milstein with additive noise is Euler–Maruyama", T, SGDSDE_TEST_SCALARS) {
  using M = Mat<T>;
  M a(2, 2), b(2, 2);
  a << 1, 0.2, 0.1, 2;
  b << 0.5, 0.1, 0, 0.3;
  const sgdsde::OrnsteinUhlenbeck p(a, b);
  static_assert(sgdsde::Milstein::is_euler_maruyama(sgdsde::NoiseKind::additive));
  static_assert(!sgdsde::Milstein::is_euler_maruyama(sgdsde::NoiseKind::diagonal));
  M x = M::Random(2, 4), dw = M::Random(2, 4);
  const M expected = x - T(0.1) * a * x + b * dw;
  auto s = sgdsde::Milstein{}.workspace(p, 4);
  s.step(p, T(0), T(0.1), dw, x);
  CHECK((x - expected).cwiseAbs().maxCoeff() <= T(20) * std::numeric_limits<T>::epsilon());
}
