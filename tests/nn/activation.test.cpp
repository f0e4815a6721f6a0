// Tests for sgdsde/nn/activation.hpp: batch application equals the scalar definition, and the
// derivative used by the reverse pass equals central differences of φ (kinks avoided by the grid).
#include "sgdsde/nn/activation.hpp"

#include <cmath>

#include <doctest/doctest.h>

#include "sgdsde/core/dual.hpp"

using namespace sgdsde;
using nn::Activation;

TEST_CASE_TEMPLATE("activation derivatives equal central differences", T, float, double) {
  // Grid of points none closer than 0.05 to the kink at 0; h = ε^{1/3} (6e-6 double, 5e-3 float)
  // stays on one side of it. Error of the central difference: h²|φ'''|/6 + ε/h ≈ 1e-10 (double),
  // ≈ 1e-4 (float) → bounds 1e-7 and 1e-3.
  const T h = std::is_same_v<T, double> ? T(6e-6) : T(5e-3);
  const T tol = std::is_same_v<T, double> ? T(1e-7) : T(1e-3);
  const T slope = T(0.1);
  Eigen::Matrix<T, 4, 6> x;
  for (int j = 0; j < 24; ++j) x(j) = T(-2.35) + T(0.2) * T(j);
  for (Activation a : {Activation::identity, Activation::relu, Activation::leaky_relu, Activation::erf, Activation::tanh}) {
    CAPTURE(nn::to_string(a));
    Eigen::Matrix<T, 4, 6> y, yp, ym, g;
    nn::apply_activation(a, slope, x, y);
    nn::apply_activation(a, slope, (x.array() + h).matrix(), yp);
    nn::apply_activation(a, slope, (x.array() - h).matrix(), ym);
    g.setOnes();
    nn::multiply_by_activation_derivative(a, slope, x, y, g);
    for (int j = 0; j < 24; ++j) {
      CHECK(y(j) == doctest::Approx(double(nn::activate(a, x(j), slope))).epsilon(double(tol)));
      const T fd = (yp(j) - ym(j)) / (T(2) * h);
      CHECK(g(j) == doctest::Approx(double(fd)).epsilon(double(tol)).scale(1.0));
      CHECK(g(j) == doctest::Approx(double(nn::activation_derivative(a, x(j), y(j), slope))).epsilon(double(tol)));
    }
  }
  // Known values: relu and leaky relu branches, erf(1) (Abramowitz & Stegun Table 7.1: 0.8427007929).
  CHECK(nn::activate(Activation::relu, T(-1), slope) == T(0));
  CHECK(nn::activate(Activation::leaky_relu, T(-1), slope) == -slope);
  CHECK(nn::activate(Activation::erf, T(1), slope) == doctest::Approx(0.8427007929).epsilon(1e-6));
}

TEST_CASE("activations on dual numbers carry the derivative") {
  using D = Dual<double>;
  for (Activation a : {Activation::identity, Activation::relu, Activation::leaky_relu, Activation::erf, Activation::tanh})
    for (double x : {-0.7, 0.3}) {
      CAPTURE(nn::to_string(a));
      const D y = nn::activate(a, D(x, 1.0), D(0.1));
      const double yv = nn::activate(a, x, 0.1);
      CHECK(y.value == yv);
      CHECK(y.tangent == doctest::Approx(nn::activation_derivative(a, x, yv, 0.1)).epsilon(1e-15));
    }
}
