// sgdsde/optim/schedule.hpp — learning-rate and batch-size schedules as small values called with the
// step index k = 0, 1, ...: constant, step decay, and the cyclic (triangular) schedules of
// Jastrzębski et al. (2018) Fig. 1 (cyclic η between 0.001 and 0.005 at S = 128; cyclic S between 128
// and 640 at η = 0.005), which keep the SDE noise scale η/S on the same cycle.
#pragma once

#include <cmath>
#include <variant>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"

namespace sgdsde {

namespace detail {
/// Triangular wave in [0, 1]: 0 at k = 0, 1 at k = h, 0 at k = 2h, period 2h.
inline double triangle(long k, long half_period) {
  const long pos = k % (2 * half_period);
  return pos <= half_period ? double(pos) / double(half_period) : double(2 * half_period - pos) / double(half_period);
}
}  // namespace detail

/// η_k = value.
template <class Scalar>
struct ConstantSchedule {
  Scalar value;
  explicit ConstantSchedule(Scalar v) : value(v) { require_positive("ConstantSchedule", "value", v); }
  Scalar operator()(long) const { return value; }
};

/// η_k = initial · factor^⌊k / every⌋ (e.g. factor ½ every 25 epochs' worth of steps).
template <class Scalar>
struct StepDecaySchedule {
  Scalar initial, factor;
  long every;
  StepDecaySchedule(Scalar initial_value, Scalar decay_factor, long every_steps)
      : initial(initial_value), factor(decay_factor), every(every_steps) {
    require_positive("StepDecaySchedule", "initial_value", initial_value);
    require_positive("StepDecaySchedule", "decay_factor", decay_factor);
    require(every_steps >= 1, "StepDecaySchedule", "every_steps", every_steps, "an integer >= 1");
  }
  Scalar operator()(long k) const {
    using std::pow;
    return initial * pow(factor, Scalar(k / every));
  }
};

/// Cyclic triangular learning rate: η_k = low + (high − low)·tri(k), tri rising linearly from 0 at
/// k = 0 to 1 at k = half_period and back to 0 at k = 2·half_period (period 2·half_period steps).
template <class Scalar>
struct CyclicSchedule {
  Scalar low, high;
  long half_period;
  CyclicSchedule(Scalar low_value, Scalar high_value, long half_period_steps)
      : low(low_value), high(high_value), half_period(half_period_steps) {
    require_positive("CyclicSchedule", "low_value", low_value);
    require(high_value >= low_value && std::isfinite(double(high_value)), "CyclicSchedule", "high_value", high_value,
            "a finite value >= low_value");
    require(half_period_steps >= 1, "CyclicSchedule", "half_period_steps", half_period_steps, "an integer >= 1");
  }
  Scalar operator()(long k) const { return low + (high - low) * Scalar(detail::triangle(k, half_period)); }
};

/// Any of the learning-rate schedules above (a value, so it can be stored in options).
template <class Scalar>
using LearningRateSchedule = std::variant<ConstantSchedule<Scalar>, StepDecaySchedule<Scalar>, CyclicSchedule<Scalar>>;

template <class Scalar>
Scalar learning_rate_at(const LearningRateSchedule<Scalar>& s, long k) {
  return std::visit([k](const auto& f) { return Scalar(f(k)); }, s);
}

/// Batch size S_k. `constant(S)`: S_k = S. Cyclic between `low` and `high` with the triangle tri(k) of
/// CyclicSchedule (S_low at k = 0, S_high at k = half_period):
///  - Shape::linear:        S_k = round(low + (high − low)·tri(k)), S itself triangular;
///  - Shape::inverse_linear: 1/S_k = 1/low − (1/low − 1/high)·tri(k), rounded to the nearest integer,
///    so at a fixed η the SDE noise scale η/S_k is itself a triangle between η/low and η/high: the
///    same η/S path as a cyclic learning rate between η·low/high and η at the fixed batch size `low`
///    (Jastrzębski Fig. 1 pairs S ∈ [128, 640] at η = 0.005 with η ∈ [0.001, 0.005] at S = 128).
struct BatchSizeSchedule {
  enum class Shape { linear, inverse_linear };
  Eigen::Index low = 1, high = 1;
  long half_period = 1;
  Shape shape = Shape::linear;

  static BatchSizeSchedule constant(Eigen::Index s) {
    require(s >= 1, "BatchSizeSchedule::constant", "s", s, "an integer >= 1");
    return BatchSizeSchedule{s, s, 1, Shape::linear};
  }
  static BatchSizeSchedule cyclic(Eigen::Index low, Eigen::Index high, long half_period_steps,
                                  Shape shape = Shape::linear) {
    require(low >= 1, "BatchSizeSchedule::cyclic", "low", low, "an integer >= 1");
    require(high >= low, "BatchSizeSchedule::cyclic", "high", high, ">= low");
    require(half_period_steps >= 1, "BatchSizeSchedule::cyclic", "half_period_steps", half_period_steps,
            "an integer >= 1");
    return BatchSizeSchedule{low, high, half_period_steps, shape};
  }

  Eigen::Index max() const { return high; }
  Eigen::Index operator()(long k) const {
    if (low == high) return low;
    const double t = detail::triangle(k, half_period);
    if (shape == Shape::linear) return Eigen::Index(std::lround(double(low) + double(high - low) * t));
    const double inv = 1.0 / double(low) - (1.0 / double(low) - 1.0 / double(high)) * t;
    return Eigen::Index(std::lround(1.0 / inv));
  }
};

}  // namespace sgdsde
