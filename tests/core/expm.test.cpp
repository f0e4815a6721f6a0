// Tests for sgdsde/core/expm.hpp: closed forms (rotation, nilpotent, 2×2 upper triangular), the group
// property, Eigen's MatrixFunctions, 50-digit references (Boost cpp_bin_float_50 Taylor series with
// scaling and squaring), overflow reported as a status, and bad input.
#include "sgdsde/core/expm.hpp"

#include <cmath>
#include <limits>

#include <boost/multiprecision/cpp_bin_float.hpp>
#include <Eigen/Dense>
#include <unsupported/Eigen/MatrixFunctions>

#include "sgdsde/core/random.hpp"

#include <doctest/doctest.h>

namespace {
template <class T>
using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;

using Big = boost::multiprecision::number<boost::multiprecision::cpp_bin_float<50>, boost::multiprecision::et_off>;
using BigMat = std::vector<Big>;  // column-major n×n

BigMat big_product(const BigMat& x, const BigMat& y, Eigen::Index n) {
  BigMat z(std::size_t(n * n), Big(0));
  for (Eigen::Index j = 0; j < n; ++j)
    for (Eigen::Index k = 0; k < n; ++k) {
      const Big& ykj = y[std::size_t(j * n + k)];
      for (Eigen::Index i = 0; i < n; ++i) z[std::size_t(j * n + i)] += x[std::size_t(k * n + i)] * ykj;
    }
  return z;
}

/// e^A to about 45 digits, independent of the code under test: Taylor series of A/2^s (‖A/2^s‖₁ ≤ 1/2,
/// terms until they drop below 10^{-60}) squared s times in 50-digit binary floating point.
Eigen::MatrixXd reference_expm(const Eigen::MatrixXd& a) {
  const Eigen::Index n = a.rows();
  const double norm = a.cwiseAbs().colwise().sum().maxCoeff();
  const int s = norm > 0.5 ? int(std::ceil(std::log2(norm / 0.5))) : 0;
  BigMat x(std::size_t(n * n)), term(std::size_t(n * n), Big(0)), sum(std::size_t(n * n), Big(0));
  for (Eigen::Index j = 0; j < n; ++j)
    for (Eigen::Index i = 0; i < n; ++i) x[std::size_t(j * n + i)] = ldexp(Big(a(i, j)), -s);
  for (Eigen::Index i = 0; i < n; ++i) term[std::size_t(i * n + i)] = sum[std::size_t(i * n + i)] = Big(1);
  for (int k = 1; k < 200; ++k) {
    term = big_product(term, x, n);
    Big largest = 0;
    for (auto& t : term) {
      t /= k;
      largest = std::max(largest, Big(abs(t)));
    }
    for (std::size_t i = 0; i < sum.size(); ++i) sum[i] += term[i];
    if (largest < Big("1e-60")) break;
  }
  for (int k = 0; k < s; ++k) sum = big_product(sum, sum, n);
  Eigen::MatrixXd out(n, n);
  for (Eigen::Index j = 0; j < n; ++j)
    for (Eigen::Index i = 0; i < n; ++i) out(i, j) = double(sum[std::size_t(j * n + i)]);
  return out;
}

template <class T>
double relative_error(const Mat<T>& x, const Eigen::MatrixXd& ref) {
  return (x.template cast<double>() - ref).norm() / ref.norm();
}
}  // namespace

TEST_CASE_TEMPLATE("expm reproduces closed forms", T, SGDSDE_TEST_SCALARS) {
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

TEST_CASE_TEMPLATE("expm of the non-normal [[-1, 1e4], [0, -2]] to a few units of roundoff", T, SGDSDE_TEST_SCALARS) {
  // e^A = [[e^{-1}, b (e^{-1} − e^{-2})], [0, e^{-2}]] for A = [[-1, b], [0, -2]]: the (1,2) entry is
  // b (e^{λ2} − e^{λ1}) / (λ2 − λ1) with λ1 = −1, λ2 = −2. Higham 2005 scales by 2^{-11} from ‖A‖₁ ≈ 1e4
  // and loses ≈ 7 digits in the squarings; Al-Mohy–Higham picks s from ‖A^k‖^{1/k} ≈ 2.
  const long double e1 = std::exp(-1.0L), e2 = std::exp(-2.0L);
  for (double b : {1e4, -1e4, 1e8}) {
    CAPTURE(b);
    Mat<T> a(2, 2);
    a << T(-1), T(b), T(0), T(-2);
    const auto r = sgdsde::expm_checked(a);
    REQUIRE(r.outcome.ok());
    const long double exact[4] = {e1, 0.0L, (long double)T(b) * (e1 - e2), e2};  // column-major
    for (int k = 0; k < 4; ++k) {
      const long double got = r.value(k % 2, k / 2);
      CHECK(std::fabs(got - exact[k]) <= 4 * std::numeric_limits<T>::epsilon() * std::fabs(exact[k]));
    }
    // The transpose takes the general path (no exact diagonal). Its condition number grows like |b|,
    // so the normwise check is for the held-out |b| = 1e4 only (Higham 2005 loses 7 digits there).
    if (std::abs(b) > 1e4) continue;
    const auto rt = sgdsde::expm_checked(Mat<T>(a.transpose()));
    REQUIRE(rt.outcome.ok());
    Eigen::Matrix<long double, 2, 2> ex;
    ex << exact[0], exact[1], exact[2], exact[3];
    CHECK(double((rt.value.template cast<long double>() - ex).norm() / ex.norm()) <
          16 * std::numeric_limits<T>::epsilon());
  }
}

TEST_CASE_TEMPLATE("expm against 50-digit references on random matrices", T, SGDSDE_TEST_SCALARS) {
  // Backward-stable algorithm: relative error ≲ cond(exp, A)·u; for these well-conditioned random
  // matrices (Gaussian, n ≤ 10, ‖A‖₁ up to 40) cond ≈ ‖A‖, so the bound is 8·max(1, ‖A‖₁)·n·u.
  const double u = std::numeric_limits<T>::epsilon();
  int case_id = 0;
  for (Eigen::Index n : {2, 5, 10})
    for (double norm : {0.01, 0.2, 0.9, 2.0, 5.0, 40.0}) {
      CAPTURE(n);
      CAPTURE(norm);
      Eigen::MatrixXd g(n, n);
      sgdsde::RandomStream(11, std::uint64_t(++case_id)).fill_normal(g);
      const Eigen::MatrixXd a = g * (norm / g.cwiseAbs().colwise().sum().maxCoeff());
      const Mat<T> at = a.cast<T>();
      const Eigen::MatrixXd ref = reference_expm(at.template cast<double>());
      CHECK(relative_error<T>(sgdsde::expm(at), ref) < 8 * std::max(1.0, norm) * double(n) * u);
    }
}

TEST_CASE_TEMPLATE("expm_symmetric is as accurate as the general path on symmetric input" * doctest::test_suite("slow"), T, SGDSDE_TEST_SCALARS) {
  // Issue 8: the eigendecomposition path had 5e-15 (double) / 1e-4 (float) relative error at n = 50.
  const double u = std::numeric_limits<T>::epsilon();
  for (Eigen::Index n : {10, 50}) {
    CAPTURE(n);
    Eigen::MatrixXd g(n, n);
    sgdsde::RandomStream(12, std::uint64_t(n)).fill_normal(g);
    const Mat<T> s = ((g + g.transpose()) / (2.0 * std::sqrt(2.0 * double(n))) + 2.0 * Eigen::MatrixXd::Identity(n, n))
                         .cast<T>();
    const Eigen::MatrixXd ref = reference_expm(s.template cast<double>());
    const double err_sym = relative_error<T>(sgdsde::expm_symmetric(s), ref);
    const double err_gen = relative_error<T>(sgdsde::expm(s), ref);
    CAPTURE(err_sym);
    CAPTURE(err_gen);
    CHECK(err_sym < 4 * std::sqrt(double(n)) * u);
    CHECK(err_gen < 4 * std::sqrt(double(n)) * u);
  }
}

TEST_CASE_TEMPLATE("expm: group property, symmetric path, derivative at 0", T, SGDSDE_TEST_SCALARS) {
  const T tol = std::is_same_v<T, float> ? T(2e-4) : T(1e-11);
  const Eigen::Index n = 6;
  Eigen::MatrixXd g(n, n);
  sgdsde::RandomStream(7, 1).fill_normal(g);
  const Mat<T> a = (0.5 * g).cast<T>();
  const Mat<T> e1 = sgdsde::expm(a), e2 = sgdsde::expm(Mat<T>(T(2) * a)), em = sgdsde::expm(Mat<T>(-a));
  CHECK((e1 * e1 - e2).norm() / e2.norm() < tol);
  CHECK((e1 * em - Mat<T>::Identity(n, n)).norm() < tol * 10);
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
  // Second implementation: Eigen's unsupported MatrixExponential (Higham 2005, separate code).
  for (Eigen::Index n : {8, 160}) {  // n = 160 takes the 1-norm estimates of ‖A^8‖, ‖A^10‖
    Eigen::MatrixXd g(n, n);
    sgdsde::RandomStream(7, 2).fill_normal(g);
    const double n1 = g.cwiseAbs().colwise().sum().maxCoeff();
    for (double norm : {0.01, 0.2, 0.9, 2.0, 5.0, 40.0}) {  // degrees 3, 5, 7, 9, 13, 13 with squarings
      CAPTURE(n);
      CAPTURE(norm);
      const Eigen::MatrixXd a = g * (norm / n1);
      const Eigen::MatrixXd ours = sgdsde::expm(a), ref = a.exp();
      CHECK((ours - ref).norm() / ref.norm() < 1e-13 * std::max(1.0, norm));
      const Eigen::MatrixXf oursf = sgdsde::expm(Eigen::MatrixXf(a.cast<float>()));
      CHECK((oursf.cast<double>() - ref).norm() / ref.norm() < 2e-6 * std::max(1.0, norm));
    }
  }
}

TEST_CASE_TEMPLATE("expm: a finite A whose exponential overflows gives non_finite, never the identity", T, float,
                   double) {
  // Issue 8, defect 1: ‖A‖₁ = inf made the old scaling exponent undefined (A scaled to 0, e^A = I).
  const T big = std::is_same_v<T, float> ? T(3e38f) : T(1e308);
  const Mat<T> ones = Mat<T>::Ones(2, 2);
  const auto up = sgdsde::expm_checked(Mat<T>(big * ones));  // e^{cJ} = I + (e^{2c} − 1)/2 · J = +inf
  CHECK(up.outcome.status == sgdsde::Status::non_finite);
  CHECK(!up.value.allFinite());
  CHECK(!sgdsde::expm(Mat<T>(big * ones)).allFinite());
  const Mat<T> twenty = sgdsde::expm(Mat<T>(T(20) * ones));  // finite neighbour: e^{40} ≈ 2.4e17
  CHECK(twenty.allFinite());
  // −big·I: e^A = e^{−big} I underflows to exactly 0, which is representable: success.
  // (−big·J is no test: its eigenvalue 0 is perturbed by u·big under a relative perturbation of A,
  // so e^A is ill-conditioned there and ≈ 1000 squarings legitimately amplify rounding by 2^1000.)
  const auto down = sgdsde::expm_checked(Mat<T>(-big * Mat<T>::Identity(2, 2)));
  REQUIRE(down.outcome.ok());
  CHECK(down.value.isZero(T(0)));
  // Nilpotent with a huge entry: e^N = I + N exactly, no squaring needed (‖N^k‖ = 0 for k ≥ 2).
  Mat<T> nil = Mat<T>::Zero(2, 2);
  nil(0, 1) = big;
  const auto en = sgdsde::expm_checked(nil);
  REQUIRE(en.outcome.ok());
  CHECK(en.squarings == 0);
  CHECK(en.value == Mat<T>(Mat<T>::Identity(2, 2) + nil));
  // Large but representable: e^{diag(100, −100)} in double (e^{100} ≈ 2.7e43); in float this overflows.
  Mat<T> d = Mat<T>::Zero(2, 2);
  d(0, 0) = T(100);
  d(1, 1) = T(-100);
  const auto ed = sgdsde::expm_checked(d);
  if (std::is_same_v<T, double>) {
    REQUIRE(ed.outcome.ok());
    CHECK(std::abs(double(ed.value(0, 0)) / std::exp(100.0) - 1) < 1e-14);
  } else {
    CHECK(ed.outcome.status == sgdsde::Status::non_finite);
  }
}

TEST_CASE("expm rejects bad arguments") {
  CHECK_THROWS_AS(sgdsde::expm(Eigen::MatrixXd(2, 3)), sgdsde::invalid_argument);
  CHECK_THROWS_AS(sgdsde::expm_checked(Eigen::MatrixXd(2, 3)), sgdsde::invalid_argument);
  Eigen::MatrixXd a = Eigen::MatrixXd::Identity(2, 2);
  a(0, 1) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_AS(sgdsde::expm(a), sgdsde::invalid_argument);
  a(0, 1) = std::nan("");
  CHECK_THROWS_AS(sgdsde::expm_checked(a), sgdsde::invalid_argument);
  Eigen::MatrixXd b = Eigen::MatrixXd::Identity(2, 2);
  b(0, 1) = 1;
  CHECK_THROWS_AS(sgdsde::expm_symmetric(b), sgdsde::invalid_argument);
  CHECK(sgdsde::expm(Eigen::MatrixXd(0, 0)).size() == 0);
}
