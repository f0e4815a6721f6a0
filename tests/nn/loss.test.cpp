// Tests for sgdsde/nn/loss.hpp: loss values from their definitions, output gradients against central
// differences, label validation.
#include "sgdsde/nn/loss.hpp"

#include <cmath>

#include <doctest/doctest.h>

using namespace sgdsde;

TEST_CASE_TEMPLATE("loss gradients equal central differences", T, float, double) {
  // h = ε^{1/3}; error h²|l'''|/6 + ε|l|/h: ≈ 1e-10 double, ≈ 1e-4 float → bounds 1e-7 / 3e-3.
  const T h = std::is_same_v<T, double> ? T(6e-6) : T(5e-3);
  const T tol = std::is_same_v<T, double> ? T(1e-7) : T(3e-3);
  Eigen::Matrix<T, 3, 4> f, y, g, gp, fp, fm;
  f << 0.3, -1.2, 2.0, 0.1, 1.5, 0.4, -0.3, -2.2, -0.7, 0.9, 1.1, 0.6;
  y << 1.0, 0.5, -0.5, 0.0, 0.2, -0.1, 0.3, 0.8, 0.4, 0.6, -0.9, 1.2;
  Eigen::VectorXi labels(4);
  labels << 2, 0, 1, 2;
  const T scale = T(0.25);
  const T se = nn::squared_error_sum(f, y, g, scale);
  CHECK(se == doctest::Approx(double(0.5 * (f - y).squaredNorm())).epsilon(1e-6));
  T per_sample[4];
  const T ce = nn::softmax_cross_entropy_sum(f, labels, gp, scale, per_sample);
  T ce_ref = 0;
  for (int s = 0; s < 4; ++s) {
    const T ls = std::log(f.col(s).array().exp().sum()) - f(labels[s], s);
    CHECK(per_sample[s] == doctest::Approx(double(ls)).epsilon(double(tol)));
    ce_ref += ls;
    CHECK(gp.col(s).sum() == doctest::Approx(0.0).epsilon(1e-6).scale(1.0));  // softmax − one-hot sums to 0
  }
  CHECK(ce == doctest::Approx(double(ce_ref)).epsilon(double(tol)));
  for (int j = 0; j < 12; ++j) {
    fp = f;
    fm = f;
    fp(j) += h;
    fm(j) -= h;
    Eigen::Matrix<T, 3, 4> scratch;
    const T dse = (nn::squared_error_sum(fp, y, scratch, T(1)) - nn::squared_error_sum(fm, y, scratch, T(1))) / (2 * h);
    const T dce = (nn::softmax_cross_entropy_sum(fp, labels, scratch, T(1)) -
                   nn::softmax_cross_entropy_sum(fm, labels, scratch, T(1))) / (2 * h);
    CHECK(g(j) == doctest::Approx(double(scale * dse)).epsilon(double(tol)).scale(1.0));
    CHECK(gp(j) == doctest::Approx(double(scale * dce)).epsilon(double(tol)).scale(1.0));
  }
}

TEST_CASE("labels outside [0, classes) are rejected") {
  Eigen::VectorXi labels(3);
  labels << 0, 3, 1;
  CHECK_THROWS_AS(nn::require_labels("f", labels, 3), sgdsde::invalid_argument);
  labels[1] = -2;
  CHECK_THROWS_AS(nn::require_labels("f", labels, 3), sgdsde::invalid_argument);
  labels[1] = 2;
  CHECK_NOTHROW(nn::require_labels("f", labels, 3));
}
