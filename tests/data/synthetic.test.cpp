// Tests for sgdsde/data/synthetic.hpp: the Dataset contract, the window structure of the noisy sine set (Borovykh §3), the
// noise laws of all three generators against CLT bounds, least squares recovering θ*, the teacher
// against an independent loop, determinism, and argument errors.
#include "sgdsde/data/synthetic.hpp"

#include <cmath>

#include <Eigen/Dense>
#include <doctest/doctest.h>

using sgdsde::RandomStream;
namespace data = sgdsde::data;

namespace {

/// Checks that the n values v have mean 0 and variance s² within 5 standard errors:
/// SE(mean) = s/√n; SE(sample variance) = s²·√(2/(n−1)) for normal data. 5 SE is a 1-in-1.7-million
/// event per check under the hypothesis, so a failure means the law is wrong, not bad luck.
template <class V>
void check_normal_moments(const V& v, double s) {
  const double n = double(v.size());
  const double mean = v.template cast<double>().mean();
  const double var = (v.template cast<double>().array() - mean).square().sum() / (n - 1);
  CHECK(std::abs(mean) <= 5 * s / std::sqrt(n));
  CHECK(std::abs(var - s * s) <= 5 * s * s * std::sqrt(2 / (n - 1)));
}

}  // namespace

TEST_CASE_TEMPLATE("noisy sine windows: Borovykh §3 layout and defaults", T, float, double) {
  const sgdsde::Dataset<T> d = data::noisy_sine_windows<T>(RandomStream(7, 3));
  CHECK_NOTHROW(d.validate("test"));
  CHECK(d.has_targets());
  CHECK_FALSE(d.has_labels());
  // t ∈ {0..100}, windows of 5 predicting the next value: 101 − 5 = 96 samples.
  REQUIRE(d.inputs.rows() == 5);
  REQUIRE(d.num_samples() == 96);
  const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> clean = data::sine_window_clean_targets<T>();
  REQUIRE(clean.rows() == 1);
  REQUIRE(clean.cols() == 96);
  for (Eigen::Index j = 0; j + 1 < d.num_samples(); ++j) {
    CHECK(d.inputs.col(j + 1).head(4) == d.inputs.col(j).tail(4));  // windows slide by one
    CHECK(d.targets(0, j) == d.inputs(4, j + 1));                    // target = next window's last value
  }
  for (Eigen::Index j = 0; j < d.num_samples(); ++j)
    CHECK(double(clean(0, j)) == doctest::Approx(std::sin(0.1 * double(j + 5))).epsilon(1e-6));
  // Noise ε_i of the series is value i of stream.normal_at (documented contract): check it for every target.
  Eigen::Matrix<T, Eigen::Dynamic, 1> eps(101);
  RandomStream(7, 3).normal_at(0, eps);
  for (Eigen::Index j = 0; j < d.num_samples(); ++j)
    CHECK(double(d.targets(0, j)) ==
          doctest::Approx(std::sin(0.1 * double(j + 5)) + 0.3 * double(eps[j + 5])).epsilon(1e-5));
  // the caller's stream is not advanced: the same stream gives the same set
  RandomStream s(7, 3);
  CHECK(data::noisy_sine_windows<T>(s).targets == data::noisy_sine_windows<T>(s).targets);
  CHECK(s.blocks_used() == 0);
}

TEST_CASE("noisy sine windows: residuals are N(0, c²)") {
  data::SineWindowOptions o;
  o.length = 40001;
  o.noise = 0.3;
  const auto d = data::noisy_sine_windows(o, RandomStream(11));
  const Eigen::RowVectorXd r = d.targets - data::sine_window_clean_targets(o);
  check_normal_moments(r, 0.3);
}

TEST_CASE_TEMPLATE("noisy linear regression: residual law and least squares recovers θ*", T, float, double) {
  Eigen::Matrix<T, Eigen::Dynamic, 1> theta(4);
  theta << T(1), T(-2), T(0.5), T(3);
  const T sigma = T(0.7);
  const Eigen::Index n = 20000;
  const sgdsde::Dataset<T> d = data::noisy_linear_regression(theta, sigma, n, RandomStream(5, 9));
  CHECK_NOTHROW(d.validate("test"));
  REQUIRE(d.inputs.rows() == 4);
  REQUIRE(d.targets.rows() == 1);
  REQUIRE(d.num_samples() == n);
  const Eigen::Matrix<T, 1, Eigen::Dynamic> r = d.targets - theta.transpose() * d.inputs;
  check_normal_moments(r, double(sigma));
  for (Eigen::Index i = 0; i < 4; ++i) check_normal_moments(d.inputs.row(i), 1.0);
  // OLS: θ̂ − θ* ~ N(0, σ² (X Xᵀ)⁻¹) given X; each coordinate within 5 of its standard deviations.
  const Eigen::MatrixXd X = d.inputs.template cast<double>();
  const Eigen::MatrixXd G = X * X.transpose();
  const Eigen::VectorXd hat = G.ldlt().solve(X * d.targets.template cast<double>().transpose());
  const Eigen::MatrixXd Ginv = G.inverse();
  for (Eigen::Index i = 0; i < 4; ++i)
    CHECK(std::abs(hat[i] - double(theta[i])) <= 5 * double(sigma) * std::sqrt(Ginv(i, i)) + 1e-5);
}

TEST_CASE("teacher–student: targets equal a direct evaluation of the teacher plus N(0, σ²) noise") {
  const auto teacher = data::RandomFeaturesTeacher<double>::draw(6, 50, 2, RandomStream(3, 1));
  REQUIRE(teacher.W.rows() == 50);
  REQUIRE(teacher.A.rows() == 2);
  CHECK(teacher.input_dim() == 6);
  CHECK(teacher.width() == 50);
  CHECK(teacher.outputs() == 2);
  const auto d = data::teacher_student(teacher, 0.25, 10000, RandomStream(3, 2));
  CHECK_NOTHROW(d.validate("test"));
  const Eigen::MatrixXd clean = teacher(d.inputs);
  REQUIRE(d.inputs.rows() == 6);
  REQUIRE(d.targets.rows() == 2);
  // independent evaluation, element by element
  for (Eigen::Index n = 0; n < 20; ++n)
    for (Eigen::Index o = 0; o < 2; ++o) {
      double y = 0;
      for (Eigen::Index h = 0; h < 50; ++h) {
        double pre = 0;
        for (Eigen::Index i = 0; i < 6; ++i) pre += teacher.W(h, i) * d.inputs(i, n);
        y += teacher.A(o, h) * std::max(0.0, pre / std::sqrt(6.0));
      }
      CHECK(clean(o, n) == doctest::Approx(y / std::sqrt(50.0)).epsilon(1e-12));
    }
  const Eigen::MatrixXd r = d.targets - clean;
  check_normal_moments(r.row(0), 0.25);
  check_normal_moments(r.row(1), 0.25);
  // the teacher is not trivial: its outputs vary across inputs
  CHECK(clean.row(0).array().abs().maxCoeff() > 0.1);
}

TEST_CASE("synthetic sets reject bad arguments") {
  data::SineWindowOptions o;
  o.noise = -1;
  CHECK_THROWS_AS(data::noisy_sine_windows(o, RandomStream(1)), sgdsde::invalid_argument);
  CHECK_THROWS_AS(data::sine_window_clean_targets(o), sgdsde::invalid_argument);
  o = {};
  o.window = 0;
  CHECK_THROWS_AS(data::noisy_sine_windows(o, RandomStream(1)), sgdsde::invalid_argument);
  o = {};
  o.length = 5;
  CHECK_THROWS_AS(data::noisy_sine_windows(o, RandomStream(1)), sgdsde::invalid_argument);
  Eigen::VectorXd theta = Eigen::VectorXd::Ones(3);
  CHECK_THROWS_AS(data::noisy_linear_regression(theta, 0.1, 0, RandomStream(1)), sgdsde::invalid_argument);
  CHECK_THROWS_AS(data::noisy_linear_regression(theta, -0.1, 10, RandomStream(1)), sgdsde::invalid_argument);
  CHECK_THROWS_AS(data::noisy_linear_regression(Eigen::VectorXd(), 0.1, 10, RandomStream(1)),
                  sgdsde::invalid_argument);
  CHECK_THROWS_AS(data::noisy_linear_regression(Eigen::MatrixXd::Ones(3, 2), 0.1, 10, RandomStream(1)),
                  sgdsde::invalid_argument);
  theta[1] = std::nan("");
  CHECK_THROWS_AS(data::noisy_linear_regression(theta, 0.1, 10, RandomStream(1)), sgdsde::invalid_argument);
  CHECK_THROWS_AS(data::RandomFeaturesTeacher<double>::draw(0, 5, 1, RandomStream(1)), sgdsde::invalid_argument);
  const auto t = data::RandomFeaturesTeacher<double>::draw(3, 5, 1, RandomStream(1));
  CHECK_THROWS_AS(t(Eigen::MatrixXd::Zero(4, 2)), sgdsde::invalid_argument);
  CHECK_THROWS_AS(data::teacher_student(t, 0.1, 0, RandomStream(1)), sgdsde::invalid_argument);
  CHECK_THROWS_AS(data::teacher_student(t, -0.1, 10, RandomStream(1)), sgdsde::invalid_argument);
}
