// Tests for sgdsde/sde/problem.hpp: noise structures applied against a per-path loop, Scalar deduced
// from the drift, the OrnsteinUhlenbeck object as a problem (linear drift −A(X − μ)), and dimension
// checks that name the offending argument (d = 0 rejected everywhere).
#include <type_traits>

#include <doctest/doctest.h>

#include "sgdsde/ou/ou_process.hpp"
#include "sgdsde/sde/problem.hpp"

namespace {
template <class Scalar>
using Mat = sgdsde::MatrixX<Scalar>;
}

TEST_CASE_TEMPLATE("add_noise applies G dW path by path for every noise kind", T, SGDSDE_TEST_SCALARS) {
  using M = Mat<T>;
  using Ref = Eigen::Ref<M>;
  using CRef = const Eigen::Ref<const M>&;
  const Eigen::Index d = 3, m = 2, paths = 4;
  const M x = M::Random(d, paths), dw = M::Random(m, paths), dwd = M::Random(d, paths), dws = M::Random(1, paths);
  const T tol = T(50) * std::numeric_limits<T>::epsilon();
  auto zero_drift = [](T, CRef, Ref f) { f.setZero(); };

  SUBCASE("general: G(x) = [x, x²] (d×2) per path") {
    const auto p = sgdsde::general_noise_sde(d, m, zero_drift, [d](T, CRef X, Ref G) {
      G.topRows(d) = X;
      G.bottomRows(d) = X.array().square().matrix();
    });
    static_assert(std::is_same_v<typename decltype(p)::scalar_type, T>);  // deduced from the drift's t
    CHECK(p.diffusion_rows() == d * m);
    M g(d * m, paths), out = M::Zero(d, paths);
    p.diffusion(T(0), x, g);
    p.add_noise(g, dw, T(2), out);
    for (Eigen::Index j = 0; j < paths; ++j)
      for (Eigen::Index i = 0; i < d; ++i)
        CHECK(std::abs(out(i, j) - T(2) * (x(i, j) * dw(0, j) + x(i, j) * x(i, j) * dw(1, j))) <= tol);
  }
  SUBCASE("diagonal: dX_i += g_i(x_i) dW_i") {
    const auto p = sgdsde::diagonal_noise_sde(d, zero_drift, [](T, CRef X, Ref G) { G = X.cwiseAbs(); });
    M g(d, paths), out = M::Ones(d, paths);
    p.diffusion(T(0), x, g);
    p.add_noise(g, dwd, T(1), out);
    for (Eigen::Index j = 0; j < paths; ++j)
      for (Eigen::Index i = 0; i < d; ++i) CHECK(std::abs(out(i, j) - (1 + std::abs(x(i, j)) * dwd(i, j))) <= tol);
  }
  SUBCASE("scalar: one Brownian motion per path, dX += g(x) dW") {
    const auto p = sgdsde::scalar_noise_sde(d, zero_drift, [](T, CRef X, Ref G) { G = T(3) * X; });
    CHECK(p.noise_dim() == 1);
    M g(d, paths), out = M::Zero(d, paths);
    p.diffusion(T(0), x, g);
    p.add_noise(g, dws, T(1), out);
    for (Eigen::Index j = 0; j < paths; ++j)
      for (Eigen::Index i = 0; i < d; ++i) CHECK(std::abs(out(i, j) - T(3) * x(i, j) * dws(0, j)) <= tol);
  }
  SUBCASE("additive: dense and diagonal B") {
    M b(d, m);
    b << 1, 2, 3, 4, 5, 6;
    const auto p = sgdsde::additive_noise_sde(zero_drift, b);
    CHECK(p.diffusion_rows() == 0);
    M g(0, paths), out = M::Zero(d, paths);
    p.add_noise(g, dw, T(1), out);
    for (Eigen::Index j = 0; j < paths; ++j)
      for (Eigen::Index i = 0; i < d; ++i)
        CHECK(std::abs(out(i, j) - (b(i, 0) * dw(0, j) + b(i, 1) * dw(1, j))) <= T(10) * tol);
    const M bd = Eigen::Matrix<T, Eigen::Dynamic, 1>::LinSpaced(d, T(1), T(3)).asDiagonal();
    const auto q = sgdsde::additive_noise_sde(zero_drift, bd);
    M out2 = M::Zero(d, paths);
    q.add_noise(g, dwd, T(0.5), out2);
    CHECK((out2 - T(0.5) * bd * dwd).cwiseAbs().maxCoeff() <= tol);
  }
}

TEST_CASE_TEMPLATE("OrnsteinUhlenbeck is an additive-noise problem with the linear drift −A(X − μ)", T, float,
                   double) {
  using M = Mat<T>;
  using V = sgdsde::VectorX<T>;
  M a(2, 2), b(2, 2);
  a << 2, 1, 0, 3;
  b << 1, 0, 0.5, 2;
  V mean(2);
  mean << 1, -1;
  const sgdsde::OrnsteinUhlenbeck ou(a, b, mean);
  static_assert(std::is_same_v<typename decltype(ou)::scalar_type, T>);
  static_assert(decltype(ou)::has_linear_drift);
  static_assert(decltype(ou)::noise_kind == sgdsde::NoiseKind::additive);
  CHECK(ou.dim() == 2);
  CHECK(ou.noise_dim() == 2);
  CHECK(ou.diffusion_rows() == 0);
  const M x = M::Random(2, 5), dw = M::Random(2, 5);
  M f(2, 5), out = M::Zero(2, 5), g(0, 5);
  ou.drift(T(0), x, f);
  ou.add_noise(g, dw, T(0.5), out);
  const T tol = T(10) * std::numeric_limits<T>::epsilon();
  for (Eigen::Index j = 0; j < 5; ++j) {
    const V expected = -a * (x.col(j) - mean);
    CHECK((f.col(j) - expected).cwiseAbs().maxCoeff() <= tol);
    CHECK((out.col(j) - T(0.5) * b * dw.col(j)).cwiseAbs().maxCoeff() <= tol);
  }
  // d = 1 takes a scalar path: same formula.
  const sgdsde::OrnsteinUhlenbeck ou1(M::Constant(1, 1, T(2)), M::Constant(1, 1, T(0.5)), V::Constant(1, T(0.25)));
  M f1(1, 5);
  ou1.drift(T(0), x.topRows(1), f1);
  CHECK((f1.array() - (-T(2) * (x.row(0).array() - T(0.25)))).abs().maxCoeff() <= tol);
}

TEST_CASE_TEMPLATE("problems reject mismatched dimensions and name the argument", T, SGDSDE_TEST_SCALARS) {
  using M = Mat<T>;
  using Ref = Eigen::Ref<M>;
  using CRef = const Eigen::Ref<const M>&;
  auto f = [](T, CRef, Ref out) { out.setZero(); };
  auto g = [](T, CRef, Ref out) { out.setZero(); };
  using V = sgdsde::VectorX<T>;
  // Drift of dimension 3 with a 2×2 diffusion.
  CHECK_THROWS_WITH_AS(sgdsde::OrnsteinUhlenbeck(M::Identity(3, 3), M::Identity(2, 2)), doctest::Contains("'B'"),
                       sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(sgdsde::OrnsteinUhlenbeck(M::Identity(3, 2), M::Identity(3, 2)), doctest::Contains("'A'"),
                       sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(sgdsde::OrnsteinUhlenbeck(M::Identity(2, 2), M::Identity(2, 2), V::Zero(3)),
                       doctest::Contains("'mu'"), sgdsde::invalid_argument);
  M bad = M::Identity(2, 2);
  bad(0, 1) = T(NAN);
  CHECK_THROWS_WITH_AS(sgdsde::OrnsteinUhlenbeck(M::Identity(2, 2), bad), doctest::Contains("'B'"),
                       sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(sgdsde::additive_noise_sde(f, bad), doctest::Contains("'diffusion'"), sgdsde::invalid_argument);
  // Dimension 0, one rule everywhere: invalid_argument naming the argument.
  CHECK_THROWS_WITH_AS(sgdsde::general_noise_sde(0, 1, f, g), doctest::Contains("'dim'"), sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(sgdsde::diagonal_noise_sde(0, f, g), doctest::Contains("'dim'"), sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(sgdsde::scalar_noise_sde(0, f, g), doctest::Contains("'dim'"), sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(sgdsde::additive_noise_sde(f, M(0, 0)), doctest::Contains("'dim'"), sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(sgdsde::OrnsteinUhlenbeck(M(0, 0), M(0, 0)), doctest::Contains("'A'"), sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(sgdsde::OrnsteinUhlenbeck(M::Identity(2, 2), M(2, 0)), doctest::Contains("'B'"),
                       sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(sgdsde::general_noise_sde(2, 0, f, g), doctest::Contains("'noise_dim'"),
                       sgdsde::invalid_argument);
  using Diagonal = sgdsde::SdeProblem<T, sgdsde::NoiseKind::diagonal, decltype(f), decltype(g)>;
  CHECK_THROWS_WITH_AS(Diagonal(3, 2, f, g), doctest::Contains("'noise_dim'"), sgdsde::invalid_argument);
  using Scalar1 = sgdsde::SdeProblem<T, sgdsde::NoiseKind::scalar, decltype(f), decltype(g)>;
  CHECK_THROWS_WITH_AS(Scalar1(3, 2, f, g), doctest::Contains("'noise_dim'"), sgdsde::invalid_argument);
  // State checks used by integrate.
  const auto p = sgdsde::diagonal_noise_sde(2, f, g);
  CHECK_THROWS_WITH_AS(p.check_state("f", "x0", M::Zero(3, 4)), doctest::Contains("'x0'"), sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(p.check_state("f", "x0", M::Zero(2, 0)), doctest::Contains("'paths'"),
                       sgdsde::invalid_argument);
  M nonfinite = M::Zero(2, 2);
  nonfinite(1, 1) = T(INFINITY);
  CHECK_THROWS_WITH_AS(p.check_state("f", "x0", nonfinite), doctest::Contains("'x0'"), sgdsde::invalid_argument);
}
