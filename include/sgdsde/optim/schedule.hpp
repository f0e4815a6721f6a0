// sgdsde/optim/schedule.hpp — learning-rate schedules η_k as values called with the step index k:
// constant, step decay, and the cyclic (triangular) rate of Jastrzębski et al. (2018) Fig. 1 (η between
// 0.001 and 0.005 at S = 128). A number converts to a constant schedule. Cyclic batch sizes are the
// sampler's BatchSizeSchedule (core/minibatch.hpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <variant>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/minibatch.hpp"

namespace sgdsde::optim {

/// η_k = value.
struct ConstantSchedule {
  double value;
  explicit ConstantSchedule(double v) : value(v) { require_positive("ConstantSchedule", "value", v); }
  double operator()(long) const { return value; }
};

/// η_k = initial · factor^⌊k / every⌋ (e.g. factor ½ every 25 epochs' worth of steps).
struct StepDecaySchedule {
  double initial, factor;
  long every;
  StepDecaySchedule(double initial_value, double decay_factor, long every_steps)
      : initial(initial_value), factor(decay_factor), every(every_steps) {
    require_positive("StepDecaySchedule", "initial_value", initial_value);
    require_positive("StepDecaySchedule", "decay_factor", decay_factor);
    require(every_steps >= 1, "StepDecaySchedule", "every_steps", every_steps, "an integer >= 1");
  }
  /// factor^n is formed in the log domain when it alone would overflow or underflow, so η_k is the
  /// correctly scaled value whenever η_k itself is in range (e.g. 1e300·(1e-10)^40 = 1e-100, not 0).
  double operator()(long k) const {
    const double n = double(k / every), r = std::pow(factor, n);
    if (r >= std::numeric_limits<double>::min() && r <= (std::numeric_limits<double>::max)()) return initial * r;
    return std::exp(std::log(initial) + n * std::log(factor));
  }
};

/// Cyclic triangular learning rate: η_k = low + (high − low)·tri(k), tri rising linearly from 0 at
/// k = 0 to 1 at k = half_period and back to 0 at k = 2·half_period (period 2·half_period steps).
struct CyclicSchedule {
  double low, high;
  long half_period;
  CyclicSchedule(double low_value, double high_value, long half_period_steps)
      : low(low_value), high(high_value), half_period(half_period_steps) {
    require_positive("CyclicSchedule", "low_value", low_value);
    require(high_value >= low_value && std::isfinite(high_value), "CyclicSchedule", "high_value", high_value,
            "a finite value >= low_value");
    require(half_period_steps >= 1 && half_period_steps <= sgdsde::detail::max_half_period, "CyclicSchedule",
            "half_period_steps", half_period_steps, "an integer in [1, LONG_MAX / 2]");
  }
  double operator()(long k) const { return low + (high - low) * detail::triangle(k, half_period); }
};

/// Any of the schedules above, as a value. A number converts to a constant schedule, so options read
/// `options.learning_rate = 0.1;` or `options.learning_rate = CyclicSchedule(0.001, 0.005, 500);`.
/// Rates are hyperparameters kept in double whatever the Scalar of the model; a step uses Scalar(η_k).
class LearningRateSchedule {
 public:
  LearningRateSchedule(double eta) : schedule_(ConstantSchedule(eta)) {}  // NOLINT: a number is a schedule
  LearningRateSchedule(ConstantSchedule s) : schedule_(s) {}               // NOLINT
  LearningRateSchedule(StepDecaySchedule s) : schedule_(s) {}              // NOLINT
  LearningRateSchedule(CyclicSchedule s) : schedule_(s) {}                 // NOLINT

  /// η_k (> 0 and finite for every k by construction).
  double operator()(long k) const {
    return std::visit([k](const auto& s) { return s(k); }, schedule_);
  }
  const std::variant<ConstantSchedule, StepDecaySchedule, CyclicSchedule>& alternatives() const { return schedule_; }

  /// The smallest and largest η_k over the steps k = 0 … steps − 1 (steps ≥ 1). train() checks them
  /// before the first update: a step decay that leaves the range of the model's Scalar is rejected
  /// up front (argument 'options.learning_rate', naming the first step out of range), not mid-run.
  std::pair<double, double> range(long steps) const {
    require(steps >= 1, "LearningRateSchedule::range", "steps", steps, "an integer >= 1");
    if (const auto* d = std::get_if<StepDecaySchedule>(&schedule_)) {
      const double first = (*d)(0), last = (*d)(steps - 1);
      return {std::min(first, last), std::max(first, last)};
    }
    if (const auto* c = std::get_if<CyclicSchedule>(&schedule_))
      return {c->low, steps > c->half_period ? c->high : (*c)(steps - 1)};
    const double v = std::get<ConstantSchedule>(schedule_).value;
    return {v, v};
  }

 private:
  std::variant<ConstantSchedule, StepDecaySchedule, CyclicSchedule> schedule_;
};

}  // namespace sgdsde::optim
