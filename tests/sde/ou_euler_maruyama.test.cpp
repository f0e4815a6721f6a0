// Tests for sgdsde/sde/ou_euler_maruyama.hpp through integrate(): an OrnsteinUhlenbeck problem stepped by
// EulerMaruyama (or Milstein) with BrownianIncrements goes to the fused kernel, which reproduces the
// generic stepper loop on the same SDE written as an opaque drift; and a 2-d OU ensemble has the
// closed-form mean e^{−At} x0 and covariance vec Σ(t) = (A ⊕ A)^{-1} (I − e^{−(A ⊕ A) t}) vec(BBᵀ)
// within 5 standard errors.
#include <cmath>
#include <limits>
#include <vector>

#include <doctest/doctest.h>
#include <unsupported/Eigen/MatrixFunctions>

#include "sgdsde/sde/brownian.hpp"
#include "sgdsde/sde/euler_maruyama.hpp"
#include "sgdsde/sde/milstein.hpp"
#include "sgdsde/sde/stochastic_heun.hpp"
#include "sgdsde/sde/integrate.hpp"
#include "sgdsde/ou/ou_process.hpp"

namespace {
template <class Scalar>
using Mat = sgdsde::MatrixX<Scalar>;

/// Closed-form OU moments for the test (independent of the library): mean e^{−At} x0 and the
/// covariance from the vectorised Lyapunov ODE Σ' = −AΣ − ΣAᵀ + BBᵀ, Σ(0) = 0.
struct OuMoments {
  Eigen::VectorXd mean;
  Eigen::MatrixXd cov;
};
/// The OU SDE dX = −A(X − μ) dt + B dW with the drift as an opaque callable: integrate() cannot
/// recognise its linear drift, so it runs the generic stepper loop.
template <class T>
auto opaque_ou(const Mat<T>& a, const Mat<T>& b, const sgdsde::VectorX<T>& mu) {
  return sgdsde::additive_noise_sde(
      [a, mu](T, const Eigen::Ref<const Mat<T>>& x, Eigen::Ref<Mat<T>> f) {
        f.noalias() = -a * x;
        f.colwise() += a * mu;
      },
      b);
}

OuMoments ou_closed_form(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b, const Eigen::VectorXd& x0, double t) {
  const Eigen::Index d = a.rows();
  const Eigen::MatrixXd id = Eigen::MatrixXd::Identity(d, d);
  Eigen::MatrixXd k(d * d, d * d);  // I ⊗ A + A ⊗ I acting on column-major vec
  for (Eigen::Index i = 0; i < d; ++i)
    for (Eigen::Index j = 0; j < d; ++j) k.block(i * d, j * d, d, d) = id(i, j) * a + a(i, j) * id;
  const Eigen::MatrixXd q = b * b.transpose();
  const Eigen::VectorXd vq = Eigen::Map<const Eigen::VectorXd>(q.data(), d * d);
  const Eigen::MatrixXd ek = (-t * k).exp();
  const Eigen::VectorXd vs = k.lu().solve(vq - ek * vq);
  return {(-t * a).exp() * x0, Eigen::Map<const Eigen::MatrixXd>(vs.data(), d, d)};
}
}  // namespace

TEST_CASE("the OU closed form used below satisfies the Lyapunov ODE (finite differences)") {
  Eigen::MatrixXd a(2, 2), b(2, 2);
  a << 1.0, 0.5, -0.3, 2.0;
  b << 0.7, 0.0, 0.3, 0.5;
  const Eigen::VectorXd x0 = Eigen::Vector2d(1, -1);
  const double t = 0.6, h = 1e-5;
  const OuMoments m = ou_closed_form(a, b, x0, t);
  const Eigen::MatrixXd dcov = (ou_closed_form(a, b, x0, t + h).cov - ou_closed_form(a, b, x0, t - h).cov) / (2 * h);
  const Eigen::VectorXd dmean = (ou_closed_form(a, b, x0, t + h).mean - ou_closed_form(a, b, x0, t - h).mean) / (2 * h);
  // Central differences: truncation O(h²)·|Σ'''| ≈ 1e-10, rounding ≈ ε/h ≈ 1e-11.
  CHECK((dcov - (-a * m.cov - m.cov * a.transpose() + b * b.transpose())).cwiseAbs().maxCoeff() < 1e-8);
  CHECK((dmean + a * m.mean).cwiseAbs().maxCoeff() < 1e-8);
  CHECK(ou_closed_form(a, b, x0, 0.0).cov.cwiseAbs().maxCoeff() < 1e-15);
}

TEST_CASE_TEMPLATE("integrate picks the fused kernel for OU + Euler–Maruyama; it equals the generic loop", T, float,
                   double) {
  using M = Mat<T>;
  using V = sgdsde::VectorX<T>;
  using OU = sgdsde::OrnsteinUhlenbeck<T>;
  static_assert(sgdsde::detail::uses_fused_kernel_v<OU, sgdsde::EulerMaruyama, sgdsde::BrownianIncrements>);
  static_assert(sgdsde::detail::uses_fused_kernel_v<OU, sgdsde::Milstein, sgdsde::BrownianIncrements>);
  static_assert(!sgdsde::detail::uses_fused_kernel_v<OU, sgdsde::StochasticHeun, sgdsde::BrownianIncrements>);
  static_assert(!sgdsde::detail::uses_fused_kernel_v<OU, sgdsde::EulerMaruyama, sgdsde::BrownianPath<T>>);
  const T tol = T(200) * std::numeric_limits<T>::epsilon();
  SUBCASE("d = 1 with a mean, two blocks of paths, a shortened last step") {
    const M a = M::Constant(1, 1, T(1.5)), b = M::Constant(1, 1, T(0.8));
    const V mu = V::Constant(1, T(0.3));
    const sgdsde::OrnsteinUhlenbeck ou(a, b, mu);
    const M x0 = M::Constant(1, 10000, T(1));
    const sgdsde::BrownianIncrements noise(sgdsde::RandomStream(5), 1, 10000);
    const sgdsde::TimeGrid<T> grid(T(0), T(0.5), T(0.03));  // last step shortened
    const auto generic = sgdsde::integrate(opaque_ou(a, b, mu), sgdsde::EulerMaruyama{}, x0, grid, noise, {T(0.3), T(0.5)});
    const auto fused = sgdsde::integrate(ou, sgdsde::EulerMaruyama{}, x0, grid, noise, {T(0.3), T(0.5)});
    REQUIRE(fused.outcome.ok());
    REQUIRE(fused.states.size() == 2);
    CHECK(fused.steps_taken == generic.steps_taken);
    CHECK(fused.final_time == generic.final_time);
    CHECK(fused.times == generic.times);
    for (int s = 0; s < 2; ++s) CHECK((fused.states[s] - generic.states[s]).cwiseAbs().maxCoeff() <= tol);
  }
  SUBCASE("d = 3 with a dense B, a mean, and several blocks; Milstein is the same chain") {
    M a(3, 3), b(3, 2);
    a << 2, 0.3, 0, -0.2, 1, 0.4, 0.1, 0, 3;
    b << 0.5, 0.1, 0, 0.7, 0.2, 0.2;
    const V mu = V::LinSpaced(3, T(-1), T(1));
    const sgdsde::OrnsteinUhlenbeck ou(a, b, mu);
    const M x0 = M::Random(3, 6000);
    const sgdsde::BrownianIncrements noise(sgdsde::RandomStream(6), 2, 6000);
    const sgdsde::TimeGrid<T> grid(T(0), T(0.25), T(0.01));
    const auto generic = sgdsde::integrate(opaque_ou(a, b, mu), sgdsde::EulerMaruyama{}, x0, grid, noise);
    const auto fused = sgdsde::integrate(ou, sgdsde::EulerMaruyama{}, x0, grid, noise);
    CHECK((fused.final_state - generic.final_state).cwiseAbs().maxCoeff() <= tol);
    const auto milstein = sgdsde::integrate(ou, sgdsde::Milstein{}, x0, grid, noise);
    CHECK(milstein.final_state == fused.final_state);
  }
  SUBCASE("d = 4 with a diagonal B") {
    M a = M::Identity(4, 4) * T(2);
    a(0, 3) = T(0.5);
    const M b = V::LinSpaced(4, T(0.1), T(0.4)).asDiagonal();
    const sgdsde::OrnsteinUhlenbeck ou(a, b);
    const M x0 = M::Random(4, 300);
    const sgdsde::BrownianIncrements noise(sgdsde::RandomStream(7), 4, 300);
    const sgdsde::TimeGrid<T> grid(T(0), T(0.2), T(0.01));
    const auto generic = sgdsde::integrate(opaque_ou(a, b, V(V::Zero(4))), sgdsde::EulerMaruyama{}, x0, grid, noise);
    const auto fused = sgdsde::integrate(ou, sgdsde::EulerMaruyama{}, x0, grid, noise);
    CHECK((fused.final_state - generic.final_state).cwiseAbs().maxCoeff() <= tol);
  }
  SUBCASE("observers see the same states in both paths") {
    const M a = M::Constant(1, 1, T(1)), b = M::Constant(1, 1, T(0.5));
    const sgdsde::OrnsteinUhlenbeck ou(a, b);
    const sgdsde::BrownianIncrements noise(sgdsde::RandomStream(8), 1, 50);
    const sgdsde::TimeGrid<T> grid(T(0), T(1), T(0.25));
    std::vector<M> fused_states, generic_states;
    sgdsde::integrate(ou, sgdsde::EulerMaruyama{}, M(M::Ones(1, 50)), grid, noise,
                      [&](long, T, const M& x) { fused_states.push_back(x); });
    sgdsde::integrate(opaque_ou(a, b, V(V::Zero(1))), sgdsde::EulerMaruyama{}, M(M::Ones(1, 50)), grid, noise,
                      [&](long, T, const M& x) { generic_states.push_back(x); });
    REQUIRE(fused_states.size() == 5);
    REQUIRE(generic_states.size() == 5);
    for (int k = 0; k < 5; ++k) CHECK((fused_states[k] - generic_states[k]).cwiseAbs().maxCoeff() <= tol);
  }
}

TEST_CASE_TEMPLATE("fused OU Euler–Maruyama reports divergence and rejects bad arguments", T, SGDSDE_TEST_SCALARS) {
  using M = Mat<T>;
  // A = −1000: x ← 1001 x per step without noise overflows at a step computed here by the scalar loop.
  const sgdsde::OrnsteinUhlenbeck ou(M::Constant(1, 1, T(-1000)), M::Zero(1, 1));
  long expected = -1;
  T x = T(1);
  for (long k = 0; k < 1000 && expected < 0; ++k) {
    x = T(1001) * x;
    if (!std::isfinite(x)) expected = k;
  }
  const sgdsde::BrownianIncrements noise(sgdsde::RandomStream(1), 1, 4);
  const auto sol = sgdsde::integrate(ou, sgdsde::EulerMaruyama{}, M(M::Ones(1, 4)),
                                     sgdsde::TimeGrid<T>(T(0), T(1000), T(1)), noise);
  CHECK(sol.outcome.status == sgdsde::Status::non_finite);
  CHECK(sol.outcome.step == expected);
  CHECK(sol.outcome.message.find("linear drift") != std::string::npos);  // the fused kernel ran
  CHECK_THROWS_WITH_AS(sgdsde::integrate(ou, sgdsde::EulerMaruyama{}, M(M::Ones(2, 4)),
                                         sgdsde::TimeGrid<T>(T(0), T(1), T(1)), noise),
                       doctest::Contains("'x0'"), sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(sgdsde::integrate(ou, sgdsde::EulerMaruyama{}, M(M::Ones(1, 5)),
                                         sgdsde::TimeGrid<T>(T(0), T(1), T(1)), noise),
                       doctest::Contains("'noise'"), sgdsde::invalid_argument);
}

TEST_CASE_TEMPLATE("2-d OU ensemble: mean and covariance at two times match the closed form" * doctest::test_suite("slow"), T, SGDSDE_TEST_SCALARS) {
  using M = Mat<T>;
  Eigen::MatrixXd a(2, 2), b(2, 2);
  a << 1.0, 0.5, -0.3, 2.0;  // not symmetric; eigenvalues (3 ± √0.4)/2 > 0
  b << 0.7, 0.0, 0.3, 0.5;
  const Eigen::VectorXd x0 = Eigen::Vector2d(1, -1);
  constexpr int paths = 10000;
  const double dt = 1.0 / 4096;
  const sgdsde::OrnsteinUhlenbeck ou(a.cast<T>().eval(), b.cast<T>().eval());
  const auto sol = sgdsde::integrate(ou, sgdsde::EulerMaruyama{}, x0.cast<T>().eval(), sgdsde::TimeGrid(0.0, 1.0, dt),
                                     sgdsde::Ensemble(paths), sgdsde::RandomStream(2718), {T(0.25), T(1)});
  REQUIRE(sol.outcome.ok());
  for (int s = 0; s < 2; ++s) {
    const double t = double(sol.times[s]);
    const Eigen::MatrixXd x = sol.states[s].template cast<double>();
    const Eigen::VectorXd mean = x.rowwise().mean();
    const Eigen::MatrixXd c = x.colwise() - mean;
    const OuMoments exact = ou_closed_form(a, b, x0, t);
    // Exact moments of the EM recursion (m ← P m, S ← P S Pᵀ + dt BBᵀ, P = I − A dt): its O(dt)
    // bias against the SDE must stay below half a standard error for the 5 SE bounds to hold.
    const Eigen::MatrixXd pm = Eigen::MatrixXd::Identity(2, 2) - dt * a;
    Eigen::VectorXd em_mean = x0;
    Eigen::MatrixXd em_cov = Eigen::MatrixXd::Zero(2, 2);
    for (long k = 0; k < std::lround(t / dt); ++k) {
      em_mean = pm * em_mean;
      em_cov = pm * em_cov * pm.transpose() + dt * b * b.transpose();
    }
    for (int i = 0; i < 2; ++i) {
      const double se_mean = std::sqrt(c.row(i).squaredNorm() / (paths - 1) / paths);
      INFO("t = " << t << ", mean " << i << ": " << mean(i) << " vs " << exact.mean(i) << " (SE " << se_mean << ")");
      CHECK(std::abs(em_mean(i) - exact.mean(i)) <= 0.5 * se_mean);
      CHECK(std::abs(mean(i) - exact.mean(i)) <= 5 * se_mean);
      for (int j = 0; j <= i; ++j) {
        const Eigen::ArrayXd prod = (c.row(i).array() * c.row(j).array()).transpose();
        const double cov = prod.sum() / (paths - 1);
        const double se_cov = std::sqrt((prod - prod.mean()).square().sum() / (paths - 1) / paths);
        INFO("t = " << t << ", cov(" << i << "," << j << "): " << cov << " vs " << exact.cov(i, j) << " (SE "
                    << se_cov << ")");
        CHECK(std::abs(em_cov(i, j) - exact.cov(i, j)) <= 0.5 * se_cov);
        CHECK(std::abs(cov - exact.cov(i, j)) <= 5 * se_cov);
      }
    }
  }
}
