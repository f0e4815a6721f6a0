// Tests for sgdsde/optim/schedule.hpp: values at key steps from the definitions (constant, step decay,
// cyclic triangular learning rate), a number converting to a constant schedule, and bad input.
// (Batch-size schedules are core/minibatch.hpp's; their cyclic values are tested in sampler.test.cpp.)
#include "sgdsde/optim/schedule.hpp"

#include <doctest/doctest.h>

using namespace sgdsde::optim;

namespace {
/// Relative comparison (doctest's Approx adds an absolute scale of 1, useless for η ≈ 1e-3).
doctest::Approx rel(double x, double eps = 1e-12) { return doctest::Approx(x).epsilon(eps).scale(0); }
}  // namespace

TEST_CASE("learning-rate schedules at key steps") {
  const ConstantSchedule c(0.05);
  CHECK(c(0) == 0.05);
  CHECK(c(123456) == 0.05);

  // VGG11 in Jastrzębski et al. footnote 7: η halved every 25 epochs; here every 25 steps.
  const StepDecaySchedule d(0.1, 0.5, 25);
  CHECK(d(0) == 0.1);
  CHECK(d(24) == 0.1);
  CHECK(d(25) == rel(0.05));
  CHECK(d(49) == rel(0.05));
  CHECK(d(50) == rel(0.025));
  CHECK(d(100) == rel(0.00625));

  // Fig. 1 CLR: between 0.001 and 0.005, here with half period 10 steps.
  const CyclicSchedule y(0.001, 0.005, 10);
  CHECK(y(0) == rel(0.001));
  CHECK(y(5) == rel(0.003));
  CHECK(y(10) == rel(0.005));
  CHECK(y(15) == rel(0.003));
  CHECK(y(20) == rel(0.001));
  CHECK(y(22) == rel(0.0018));
  CHECK(y(1010) == rel(0.005));
  for (long k = 0; k < 100; ++k) {
    CHECK(y(k) >= 0.001 * (1 - 1e-12));
    CHECK(y(k) <= 0.005 * (1 + 1e-12));
    CHECK(y(k) == rel(y(k + 20)));  // period 2·half_period
  }
}

TEST_CASE("LearningRateSchedule: a number is a constant schedule; schedules keep their values") {
  LearningRateSchedule s = 0.25;
  CHECK(s(0) == 0.25);
  CHECK(s(99999) == 0.25);
  CHECK(std::holds_alternative<ConstantSchedule>(s.alternatives()));
  s = 0.5f;  // any arithmetic type converts
  CHECK(s(3) == 0.5);
  s = CyclicSchedule(0.001, 0.005, 10);
  CHECK(s(5) == rel(0.003));
  s = StepDecaySchedule(0.1, 0.5, 25);
  CHECK(s(50) == rel(0.025));
  CHECK_THROWS_AS(LearningRateSchedule(0.0), sgdsde::invalid_argument);  // η ≤ 0 is not a schedule
}

TEST_CASE("schedules reject bad input") {
  CHECK_THROWS_AS(ConstantSchedule(0.0), sgdsde::invalid_argument);
  CHECK_THROWS_AS(ConstantSchedule(-0.1), sgdsde::invalid_argument);
  CHECK_THROWS_AS(StepDecaySchedule(0.1, 0.5, 0), sgdsde::invalid_argument);
  CHECK_THROWS_AS(StepDecaySchedule(0.1, 0.0, 5), sgdsde::invalid_argument);
  CHECK_THROWS_AS(CyclicSchedule(0.0, 0.1, 5), sgdsde::invalid_argument);
  CHECK_THROWS_AS(CyclicSchedule(0.2, 0.1, 5), sgdsde::invalid_argument);
  CHECK_THROWS_AS(CyclicSchedule(0.1, 0.2, 0), sgdsde::invalid_argument);
  try {
    CyclicSchedule(0.2, 0.1, 5);
  } catch (const sgdsde::invalid_argument& e) {
    CHECK(std::string(e.what()).find("high_value") != std::string::npos);
  }
}
