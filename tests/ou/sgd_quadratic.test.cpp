// Tests for sgdsde/ou/sgd_quadratic.hpp (double, plus float for the isotropic case: each extra Scalar
// instantiation of Eigen's eigensolvers costs ~10 s of compile time, and float is covered in tests/core): Jastrzębski eq. 7 in the isotropic case, the commuting-case
// ratio 1/(1 − ηλ/2), the general case against the Schur Lyapunov/Stein solvers (a second algorithm),
// a simulation of discrete SGD with additive noise (5 SE), sampling without replacement, and errors.
#include "sgdsde/ou/sgd_quadratic.hpp"

#include <cmath>
#include <vector>

#include <Eigen/Dense>

#include "sgdsde/core/lyapunov.hpp"
#include "sgdsde/core/random.hpp"

#include <doctest/doctest.h>

namespace {
template <class T>
using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;

Eigen::MatrixXd random_orthogonal(Eigen::Index d, std::uint64_t id) {
  Eigen::MatrixXd g(d, d);
  sgdsde::RandomStream(31, id).fill_normal(g);
  // Eigenvectors of a symmetric Gaussian matrix: a random orthogonal matrix (reuses the eigensolver
  // instantiation instead of adding a QR one).
  return Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(g + g.transpose()).eigenvectors();
}

/// H = V diag(λ) Vᵀ with λ spread over [0.2, 3].
Eigen::MatrixXd spd(Eigen::Index d, std::uint64_t id, Eigen::VectorXd* lam_out = nullptr) {
  const Eigen::MatrixXd v = random_orthogonal(d, id);
  Eigen::VectorXd lam = Eigen::VectorXd::LinSpaced(d, 0.2, 3.0);
  if (lam_out) *lam_out = lam;
  return v * lam.asDiagonal() * v.transpose();
}
}  // namespace

TEST_CASE_TEMPLATE("C = σ²H: Σ = ησ²/(2S) I and E[L − L*] = ησ²/(4S) Tr H (Jastrzębski eq. 7)", T, float, double) {
  const Mat<T> h = spd(6, 1).cast<T>();
  const T sigma2 = T(0.3), eta = T(0.05);
  const long s = 8;
  const auto st = sgdsde::sde_stationary(h, Mat<T>(sigma2 * h), eta, sgdsde::Minibatch(s));
  REQUIRE(st.outcome.ok());
  const T tol = std::is_same_v<T, float> ? T(1e-5) : T(1e-13);
  const T expect = eta * sigma2 / (4 * T(s)) * h.trace();
  CHECK(std::abs(st.excess_loss - expect) <= tol * expect);
  const Mat<T> iso = (eta * sigma2 / (2 * T(s))) * Mat<T>::Identity(6, 6);
  CHECK((st.covariance - iso).norm() <= tol * iso.norm());
}

TEST_CASE("commuting H and C: discrete/continuous ratio is 1/(1 − ηλ/2) per eigendirection") {
  using T = double;
  const Eigen::Index d = 5;
  const Eigen::MatrixXd v = random_orthogonal(d, 2);
  Eigen::VectorXd lam = Eigen::VectorXd::LinSpaced(d, 0.5, 4.0), c = Eigen::VectorXd::LinSpaced(d, 1.0, 0.2);
  const Mat<T> h = (v * lam.asDiagonal() * v.transpose()).cast<T>();
  const Mat<T> cm = (v * c.asDiagonal() * v.transpose()).cast<T>();
  const T eta = T(0.3);  // ηλ_max = 1.2: strong discretisation effect
  const sgdsde::Minibatch batch(4);
  const auto sde = sgdsde::sde_stationary(h, cm, eta, batch);
  const auto disc = sgdsde::discrete_sgd_stationary(h, cm, eta, batch);
  REQUIRE(disc.outcome.ok());
  const auto ratio = sgdsde::discrete_to_continuous_ratio(h, eta);
  const Mat<T> vt = v.cast<T>();
  const Mat<T> sde_eig = vt.transpose() * sde.covariance * vt, disc_eig = vt.transpose() * disc.covariance * vt;
  const double tol = std::is_same_v<T, float> ? 1e-4 : 1e-12;
  for (Eigen::Index i = 0; i < d; ++i) {
    const double closed = 1.0 / (1.0 - double(eta) * lam(i) / 2);
    CHECK(double(ratio(i)) == doctest::Approx(closed).epsilon(tol));
    CHECK(double(disc_eig(i, i) / sde_eig(i, i)) == doctest::Approx(closed).epsilon(tol * 10));
    // Closed form of the discrete variance: ηκ c/(2λ − ηλ²).
    CHECK(double(disc_eig(i, i)) == doctest::Approx(double(eta) * 0.25 * c(i) / (2 * lam(i) - double(eta) * lam(i) * lam(i))).epsilon(tol * 10));
  }
}

TEST_CASE("general H, C: agreement with Bartels–Stewart on the Lyapunov and Stein equations") {
  using T = double;
  const Eigen::Index d = 7;
  const Mat<T> h = spd(d, 3).cast<T>();
  Eigen::MatrixXd g(d, d);
  sgdsde::RandomStream(8, 8).fill_normal(g);
  const Mat<T> c = (g * g.transpose() / double(d)).cast<T>();
  const T eta = T(0.4);
  const long s = 3;
  const sgdsde::Minibatch batch(s);
  const auto sde = sgdsde::sde_stationary(h, c, eta, batch);
  const auto disc = sgdsde::discrete_sgd_stationary(h, c, eta, batch);
  const auto ly = sgdsde::solve_continuous_lyapunov(h, Mat<T>(eta / T(s) * c), sgdsde::LyapunovMethod::schur);
  const Mat<T> a = Mat<T>::Identity(d, d) - eta * h;
  const auto st = sgdsde::solve_discrete_lyapunov(a, Mat<T>(eta * eta / T(s) * c), sgdsde::LyapunovMethod::schur);
  const T tol = std::is_same_v<T, float> ? T(1e-4) : T(1e-11);
  CHECK((sde.covariance - ly.X).norm() <= tol * ly.X.norm());
  CHECK((disc.covariance - st.X).norm() <= tol * st.X.norm() * 10);
  CHECK(disc.excess_loss == doctest::Approx(T(0.5) * (h * st.X).trace()).epsilon(double(tol) * 10));
  CHECK(disc.excess_loss > sde.excess_loss);  // discretisation inflates the variance (1/(1 − ηλ/2) > 1)
}

TEST_CASE("discrete SGD with additive Gaussian noise reaches the Stein covariance (5 SE)") {
  const Eigen::Index d = 3;
  const Eigen::MatrixXd h = spd(d, 4);
  Eigen::MatrixXd c(d, d);
  c << 1.0, 0.3, 0.0, 0.3, 0.5, 0.1, 0.0, 0.1, 0.8;
  const double eta = 0.4;  // ηλ_max = 1.2
  const long s = 2;
  const auto disc = sgdsde::discrete_sgd_stationary(h, c, eta, sgdsde::Minibatch(s));
  const auto sde = sgdsde::sde_stationary(h, c, eta, sgdsde::Minibatch(s));
  REQUIRE(disc.outcome.ok());
  const Eigen::MatrixXd root = Eigen::LLT<Eigen::MatrixXd>(c / double(s)).matrixL();
  const int paths = 1000, burn = 200, steps = 400;  // slowest contraction |1 − 0.4·0.2| = 0.92: 0.92^200 ≈ 6e-8
  Eigen::MatrixXd theta = Eigen::MatrixXd::Zero(d, paths), z(d, paths), grad(d, paths);
  Eigen::VectorXd loss_per_path = Eigen::VectorXd::Zero(paths);
  const sgdsde::RandomStream stream(77, 3);
  for (int k = 0; k < burn + steps; ++k) {
    stream.normal_at(std::uint64_t(k) * d * paths, z);
    grad.noalias() = h * theta;
    grad.noalias() += root * z;
    theta -= eta * grad;
    if (k >= burn) loss_per_path += 0.5 * (theta.array() * (h * theta).array()).colwise().sum().matrix().transpose() / steps;
  }
  // One batch mean per path (time average over 400 steps ≫ correlation time ≈ 12 steps); paths are
  // independent, so SE = sd(batch means)/√paths.
  const double mean = loss_per_path.mean();
  const double se = std::sqrt((loss_per_path.array() - mean).square().sum() / (paths - 1) / paths);
  CHECK(std::abs(mean - disc.excess_loss) < 5 * se);
  CHECK(std::abs(mean - sde.excess_loss) > 5 * se);  // the SDE value is excluded: the test has power
}

TEST_CASE("sampling without replacement scales the noise by (N − S)/(N − 1)") {
  const Eigen::MatrixXd h = spd(4, 5);
  const Eigen::MatrixXd c = Eigen::MatrixXd::Identity(4, 4);
  const long n = 100;
  const auto with = sgdsde::sde_stationary(h, c, 0.1, sgdsde::Minibatch(10, sgdsde::Sampling::with_replacement));
  const auto without =
      sgdsde::sde_stationary(h, c, 0.1, sgdsde::Minibatch(10, sgdsde::Sampling::without_replacement, n));
  CHECK(without.excess_loss == doctest::Approx(with.excess_loss * 90.0 / 99.0).epsilon(1e-13));
  const auto full = sgdsde::discrete_sgd_stationary(h, c, 0.1, sgdsde::Minibatch(n, sgdsde::Sampling::without_replacement, n));
  CHECK(full.excess_loss == 0.0);  // S = N: full-batch gradient descent, no noise
}

TEST_CASE("unstable step size is a status, not a NaN") {
  Eigen::VectorXd lam;
  const Eigen::MatrixXd h = spd(4, 6, &lam);  // λ_max = 3
  const Eigen::MatrixXd c = Eigen::MatrixXd::Identity(4, 4);
  const auto ok = sgdsde::discrete_sgd_stationary(h, c, 0.66, sgdsde::Minibatch(1));
  CHECK(ok.outcome.ok());
  const auto bad = sgdsde::discrete_sgd_stationary(h, c, 0.67, sgdsde::Minibatch(1));
  CHECK(bad.outcome.status == sgdsde::Status::unstable_step);
  CHECK(bad.outcome.value == doctest::Approx(0.67 * 3.0));
  CHECK(!bad.covariance.hasNaN());
  const auto r = sgdsde::discrete_to_continuous_ratio(h, 0.67);
  CHECK(std::isinf(r(3)));
  CHECK(std::isfinite(r(0)));
}

TEST_CASE("SGD-on-a-quadratic functions reject bad arguments") {
  const Eigen::MatrixXd h = spd(3, 7);
  const Eigen::MatrixXd c = Eigen::MatrixXd::Identity(3, 3);
  const sgdsde::Minibatch b(2);
  using sgdsde::invalid_argument;
  CHECK_THROWS_AS(sgdsde::sde_stationary(h, c, 0.0, b), invalid_argument);
  CHECK_THROWS_AS(sgdsde::sde_stationary(h, c, -0.1, b), invalid_argument);
  CHECK_THROWS_AS(sgdsde::sde_stationary(h, Eigen::MatrixXd::Identity(2, 2), 0.1, b), invalid_argument);
  CHECK_THROWS_AS(sgdsde::sde_stationary(Eigen::MatrixXd(3, 2), c, 0.1, b), invalid_argument);
  Eigen::MatrixXd asym = h;
  asym(0, 1) += 0.5;
  CHECK_THROWS_AS(sgdsde::discrete_sgd_stationary(asym, c, 0.1, b), invalid_argument);
  CHECK_THROWS_AS(sgdsde::discrete_sgd_stationary(Eigen::MatrixXd(-h), c, 0.1, b), invalid_argument);  // not PD
  CHECK_THROWS_AS(sgdsde::discrete_sgd_stationary(h, Eigen::MatrixXd(-c), 0.1, b), invalid_argument);  // not PSD
  Eigen::MatrixXd nan = c;
  nan(2, 2) = std::nan("");
  CHECK_THROWS_AS(sgdsde::sde_stationary(h, nan, 0.1, b), invalid_argument);
  CHECK_THROWS_AS(sgdsde::Minibatch(0), invalid_argument);
  CHECK_THROWS_AS(sgdsde::Minibatch(11, sgdsde::Sampling::without_replacement, 10), invalid_argument);
  try {
    sgdsde::sde_stationary(h, c, -0.1, b);
  } catch (const invalid_argument& e) {
    CHECK(std::string(e.what()).find("eta") != std::string::npos);
  }
}
