// Tests for sgdsde/nn/loss.hpp: loss values from their definitions, output adjoints and their tangents
// against central differences, label validation, views of the caller's data.
#include "sgdsde/nn/loss.hpp"

#include <cmath>

#include <doctest/doctest.h>

using namespace sgdsde;

TEST_CASE_TEMPLATE("loss adjoints and their tangents equal central differences", T, float, double) {
  // h = ε^{1/3}; error h²|l'''|/6 + ε|l|/h: ≈ 1e-10 double, ≈ 1e-4 float → bounds 1e-7 / 3e-3.
  const T h = std::is_same_v<T, double> ? T(6e-6) : T(5e-3);
  const T tol = std::is_same_v<T, double> ? T(1e-7) : T(3e-3);
  using M = Eigen::Matrix<T, 3, 4>;
  M f, y, g, gp, fp, fm, fdot, tse, tce, gpp, gpm;
  f << 0.3, -1.2, 2.0, 0.1, 1.5, 0.4, -0.3, -2.2, -0.7, 0.9, 1.1, 0.6;
  y << 1.0, 0.5, -0.5, 0.0, 0.2, -0.1, 0.3, 0.8, 0.4, 0.6, -0.9, 1.2;
  fdot << 0.5, -0.1, 0.7, 1.0, -0.3, 0.2, 0.9, -0.6, 0.4, 0.8, -1.1, 0.3;
  Labels labels(4);
  labels << 2, 0, 1, 2;
  const nn::SquaredError se(y);
  const nn::SoftmaxCrossEntropy ce(labels);
  const T scale = T(0.25);
  const T se_sum = se.sum_and_adjoint(f, g, scale);
  CHECK(se_sum == doctest::Approx(double(0.5 * (f - y).squaredNorm())).epsilon(1e-6));
  const T ce_sum = ce.sum_and_adjoint(f, gp, scale);
  T ce_ref = 0;
  for (int s = 0; s < 4; ++s) {
    ce_ref += std::log(f.col(s).array().exp().sum()) - f(labels[s], s);
    CHECK(gp.col(s).sum() == doctest::Approx(0.0).epsilon(1e-6).scale(1.0));  // softmax − one-hot sums to 0
  }
  CHECK(ce_sum == doctest::Approx(double(ce_ref)).epsilon(double(tol)));
  M scratch;
  for (int j = 0; j < 12; ++j) {
    fp = f;
    fm = f;
    fp(j) += h;
    fm(j) -= h;
    const T dse = (se.sum_and_adjoint(fp, scratch, T(1)) - se.sum_and_adjoint(fm, scratch, T(1))) / (2 * h);
    const T dce = (ce.sum_and_adjoint(fp, scratch, T(1)) - ce.sum_and_adjoint(fm, scratch, T(1))) / (2 * h);
    CHECK(g(j) == doctest::Approx(double(scale * dse)).epsilon(double(tol)).scale(1.0));
    CHECK(gp(j) == doctest::Approx(double(scale * dce)).epsilon(double(tol)).scale(1.0));
  }
  // Tangent of the adjoint along ḟ: the directional derivative of G(f) = scale·∂(Σ l)/∂f.
  se.adjoint_tangent(f, fdot, tse, scale);
  ce.adjoint_tangent(f, fdot, tce, scale);
  const M fpp = f + h * fdot, fmm = f - h * fdot;
  se.sum_and_adjoint(fpp, gpp, scale);
  se.sum_and_adjoint(fmm, gpm, scale);
  CHECK(((gpp - gpm) / (2 * h) - tse).norm() <= tol * tse.norm());
  ce.sum_and_adjoint(fpp, gpp, scale);
  ce.sum_and_adjoint(fmm, gpm, scale);
  CHECK(((gpp - gpm) / (2 * h) - tce).norm() <= tol * tce.norm());
}

TEST_CASE("losses are views of the caller's data, with Scalar deduced") {
  Eigen::MatrixXf y = Eigen::MatrixXf::Zero(2, 5);
  const nn::SquaredError se(y.middleCols(1, 3));  // SquaredError<float> by deduction
  static_assert(std::is_same_v<decltype(se), const nn::SquaredError<float>>);
  CHECK(se.num_samples() == 3);
  CHECK(se.targets.data() == y.data() + 2);  // no copy
  y(0, 1) = 7.0f;
  CHECK(se.targets(0, 0) == 7.0f);
  Eigen::MatrixXf wide = Eigen::MatrixXf::Zero(4, 5);
  const nn::SquaredError rows(wide.topRows(2));  // a row block: outer stride 4
  CHECK(rows.targets.outerStride() == 4);
  Labels labels(4);
  labels << 0, 1, 2, 1;
  const nn::SoftmaxCrossEntropy ce(labels.tail(2));
  CHECK(ce.labels.data() == labels.data() + 2);
  CHECK(ce.num_samples() == 2);
}

TEST_CASE("labels outside [0, classes) are rejected") {
  Labels labels(3);
  labels << 0, 3, 1;
  CHECK_THROWS_AS(nn::require_labels("f", labels, 3), sgdsde::invalid_argument);
  const nn::SoftmaxCrossEntropy ce(labels);
  CHECK_THROWS_WITH_AS(ce.check("f", 3, 3), doctest::Contains("label 3 at sample 1"), sgdsde::invalid_argument);
  labels[1] = -2;
  CHECK_THROWS_AS(nn::require_labels("f", labels, 3), sgdsde::invalid_argument);
  labels[1] = 2;
  CHECK_NOTHROW(nn::require_labels("f", labels, 3));
  CHECK_NOTHROW(ce.check("f", 3, 3));
  CHECK_THROWS_AS(ce.check("f", 3, 2), sgdsde::invalid_argument);  // one label per sample
}
