// Tests for sgdsde/optim/schedule.hpp: values at key steps from the definitions (constant, step decay,
// cyclic triangular learning rate, cyclic batch size linear and with η/S matched), and bad input.
#include "sgdsde/optim/schedule.hpp"

#include <doctest/doctest.h>

using sgdsde::BatchSizeSchedule;

namespace {
/// Relative comparison (doctest's Approx adds an absolute scale of 1, useless for η ≈ 1e-3).
doctest::Approx rel(double x, double eps = 1e-5) { return doctest::Approx(x).epsilon(eps).scale(0); }
}  // namespace

TEST_CASE_TEMPLATE("learning-rate schedules at key steps", T, float, double) {
  const sgdsde::ConstantSchedule<T> c(T(0.05));
  CHECK(c(0) == T(0.05));
  CHECK(c(123456) == T(0.05));

  // VGG11 in Jastrzębski et al. footnote 7: η halved every 25 epochs; here every 25 steps.
  const sgdsde::StepDecaySchedule<T> d(T(0.1), T(0.5), 25);
  CHECK(d(0) == T(0.1));
  CHECK(d(24) == T(0.1));
  CHECK(d(25) == rel((0.05)));
  CHECK(d(49) == rel((0.05)));
  CHECK(d(50) == rel((0.025)));
  CHECK(d(100) == rel((0.00625)));

  // Fig. 1 CLR: between 0.001 and 0.005, here with half period 10 steps.
  const sgdsde::CyclicSchedule<T> y(T(0.001), T(0.005), 10);
  CHECK(y(0) == rel((0.001)));
  CHECK(y(5) == rel((0.003)));
  CHECK(y(10) == rel((0.005)));
  CHECK(y(15) == rel((0.003)));
  CHECK(y(20) == rel((0.001)));
  CHECK(y(22) == rel((0.0018)));
  CHECK(y(1010) == rel((0.005)));
  for (long k = 0; k < 100; ++k) {
    CHECK(y(k) >= T(0.001) * T(0.9999));
    CHECK(y(k) <= T(0.005) * T(1.0001));
    CHECK(y(k) == rel(y(k + 20)));  // period 2·half_period
  }

  const sgdsde::LearningRateSchedule<T> v = y;
  CHECK(sgdsde::learning_rate_at(v, 10) == y(10));
}

TEST_CASE("batch-size schedules at key steps") {
  const auto c = BatchSizeSchedule::constant(32);
  CHECK(c(0) == 32);
  CHECK(c(1000) == 32);
  CHECK(c.max() == 32);

  // Fig. 1 CBS: between 128 and 640.
  const auto lin = BatchSizeSchedule::cyclic(128, 640, 8);
  CHECK(lin(0) == 128);
  CHECK(lin(4) == 384);
  CHECK(lin(8) == 640);
  CHECK(lin(12) == 384);
  CHECK(lin(16) == 128);
  CHECK(lin.max() == 640);

  // inverse_linear: 1/S is the triangle, so at the quarter period S is the harmonic mean of 128 and 640,
  // 2/(1/128 + 1/640) = 213.33 -> 213, and η/S at fixed η is halfway between η/128 and η/640.
  const auto inv = BatchSizeSchedule::cyclic(128, 640, 8, BatchSizeSchedule::Shape::inverse_linear);
  CHECK(inv(0) == 128);
  CHECK(inv(4) == 213);
  CHECK(inv(8) == 640);
  CHECK(inv(16) == 128);
  // η/S_k matches the cyclic learning rate between η·128/640 and η at S = 128, up to rounding of S
  for (long k = 0; k <= 16; ++k) {
    const double eta = 0.005;
    const double clr = eta - (eta - eta * 128.0 / 640.0) * (k <= 8 ? k / 8.0 : (16 - k) / 8.0);
    CHECK(eta / double(inv(k)) == rel(clr / 128.0, 0.5 / 128.0));
  }
}

TEST_CASE("schedules reject bad input") {
  CHECK_THROWS_AS(sgdsde::ConstantSchedule<double>(0.0), sgdsde::invalid_argument);
  CHECK_THROWS_AS(sgdsde::ConstantSchedule<double>(-0.1), sgdsde::invalid_argument);
  CHECK_THROWS_AS(sgdsde::StepDecaySchedule<double>(0.1, 0.5, 0), sgdsde::invalid_argument);
  CHECK_THROWS_AS(sgdsde::StepDecaySchedule<double>(0.1, 0.0, 5), sgdsde::invalid_argument);
  CHECK_THROWS_AS(sgdsde::CyclicSchedule<double>(0.0, 0.1, 5), sgdsde::invalid_argument);
  CHECK_THROWS_AS(sgdsde::CyclicSchedule<double>(0.2, 0.1, 5), sgdsde::invalid_argument);
  CHECK_THROWS_AS(sgdsde::CyclicSchedule<double>(0.1, 0.2, 0), sgdsde::invalid_argument);
  CHECK_THROWS_AS(BatchSizeSchedule::constant(0), sgdsde::invalid_argument);
  CHECK_THROWS_AS(BatchSizeSchedule::cyclic(0, 5, 3), sgdsde::invalid_argument);
  CHECK_THROWS_AS(BatchSizeSchedule::cyclic(6, 5, 3), sgdsde::invalid_argument);
  CHECK_THROWS_AS(BatchSizeSchedule::cyclic(1, 5, 0), sgdsde::invalid_argument);
}
