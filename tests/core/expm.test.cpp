// Tests for sgdsde/core/expm.hpp: closed forms (rotation, nilpotent), the group property, the
// symmetric path against the general one, a second implementation (Eigen's MatrixFunctions), bad input.
#include "sgdsde/core/expm.hpp"

#include <cmath>

#include <Eigen/Dense>
#include <unsupported/Eigen/MatrixFunctions>

#include "sgdsde/core/random.hpp"

#include <doctest/doctest.h>

namespace {
template <class T>
using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
}

TEST_CASE_TEMPLATE("expm reproduces closed forms", T, float, double) {
  const T tol = std::is_same_v<T, float> ? T(1e-5) : T(1e-14);
  const T th = T(0.7);
  Mat<T> r(2, 2);
  r << 0, -th, th, 0;  // generator of rotations: e^R = [[cos, −sin], [sin, cos]]
  const Mat<T> e = sgdsde::expm(r);
  CHECK(std::abs(e(0, 0) - std::cos(th)) < tol);
  CHECK(std::abs(e(1, 0) - std::sin(th)) < tol);
  CHECK(std::abs(e(0, 1) + std::sin(th)) < tol);
  Mat<T> nil = Mat<T>::Zero(3, 3);
  nil(0, 1) = 1;
  nil(1, 2) = 1;  // e^N = I + N + N²/2
  const Mat<T> en = sgdsde::expm(nil);
  Mat<T> expect = Mat<T>::Identity(3, 3) + nil + T(0.5) * nil * nil;
  CHECK((en - expect).norm() < tol);
}

TEST_CASE_TEMPLATE("expm: group property, symmetric path, derivative at 0", T, float, double) {
  const T tol = std::is_same_v<T, float> ? T(2e-4) : T(1e-11);
  const Eigen::Index n = 6;
  Eigen::MatrixXd g(n, n);
  sgdsde::RandomStream(7, 1).fill_normal(g);
  const Mat<T> a = (0.5 * g).cast<T>();
  const Mat<T> e1 = sgdsde::expm(a), e2 = sgdsde::expm(Mat<T>(T(2) * a)), em = sgdsde::expm(Mat<T>(-a));
  CHECK((e1 * e1 - e2).norm() / e2.norm() < tol);
  CHECK((e1 * em - Mat<T>::Identity(n, n)).norm() < tol * 10);
  // Symmetric path against the general one.
  const Mat<T> s = (g + g.transpose()).cast<T>() * T(0.25);
  const Mat<T> es1 = sgdsde::expm_symmetric(s), eg1 = sgdsde::expm(s);
  CHECK((es1 - eg1).norm() / eg1.norm() < tol);
  // d/dt e^{tA} at t = 0 is A: central difference with step h (error O(h²‖A‖³)).
  const double h = 1e-4;
  const Eigen::MatrixXd gd = 0.5 * g;
  const Eigen::MatrixXd fd = (sgdsde::expm(Eigen::MatrixXd(h * gd)) - sgdsde::expm(Eigen::MatrixXd(-h * gd))) / (2 * h);
  CHECK((fd - gd).norm() / gd.norm() < 1e-6);
}

TEST_CASE("expm agrees with Eigen's MatrixFunctions at every Padé degree and with squaring") {
  // Second implementation: Eigen's unsupported MatrixExponential (also Higham 2005, separate code).
  Eigen::MatrixXd g(8, 8);
  sgdsde::RandomStream(7, 2).fill_normal(g);
  const double n1 = g.cwiseAbs().colwise().sum().maxCoeff();
  for (double norm : {0.01, 0.2, 0.9, 2.0, 5.0, 40.0}) {  // degrees 3, 5, 7, 9, 13, 13 with squarings
    CAPTURE(norm);
    const Eigen::MatrixXd a = g * (norm / n1);
    const Eigen::MatrixXd ours = sgdsde::expm(a), ref = a.exp();
    CHECK((ours - ref).norm() / ref.norm() < 1e-13 * std::max(1.0, norm));
    const Eigen::MatrixXf oursf = sgdsde::expm(Eigen::MatrixXf(a.cast<float>()));
    CHECK((oursf.cast<double>() - ref).norm() / ref.norm() < 2e-6 * std::max(1.0, norm));
  }
}

TEST_CASE("expm rejects bad arguments") {
  CHECK_THROWS_AS(sgdsde::expm(Eigen::MatrixXd(2, 3)), sgdsde::invalid_argument);
  Eigen::MatrixXd a = Eigen::MatrixXd::Identity(2, 2);
  a(0, 1) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_AS(sgdsde::expm(a), sgdsde::invalid_argument);
  Eigen::MatrixXd b = Eigen::MatrixXd::Identity(2, 2);
  b(0, 1) = 1;
  CHECK_THROWS_AS(sgdsde::expm_symmetric(b), sgdsde::invalid_argument);
}
