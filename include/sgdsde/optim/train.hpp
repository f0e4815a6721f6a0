// sgdsde/optim/train.hpp — the minibatch SGD training loop (Jastrzębski et al. 2018 eq. 4, with the
// options of sgd.hpp), generic over a "problem", with loss/accuracy curves, divergence detection and
// progress reports.
//
// A Problem is any type with
//   using Scalar = ...;                                   (float or double)
//   Eigen::Index num_samples() const;                     N
//   Eigen::Index num_parameters() const;                  P
//   Scalar loss_and_gradient(const Eigen::Ref<const Eigen::Matrix<Scalar, -1, 1>>& theta,
//                            const sgdsde::Batch& batch,
//                            Eigen::Ref<Eigen::Matrix<Scalar, -1, 1>> gradient);
// returning the MEAN loss (1/S) Σ_{n∈batch} l_n(θ) and writing its gradient (the mean per-sample
// gradient) into `gradient`. It may keep workspaces (the member need not be const).
// Optionally it may also have
//   Eigen::Matrix<Scalar, -1, 1>& parameter_storage();
// its own parameter vector (e.g. the network's): train() then iterates θ in that vector, swapping it
// with a second buffer each step, so a problem that reads θ from there needs no copy per step.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/random.hpp"
#include "sgdsde/optim/sampler.hpp"
#include "sgdsde/optim/schedule.hpp"
#include "sgdsde/optim/sgd.hpp"

namespace sgdsde {

/// Which minibatch sampler train() uses (see optim/sampler.hpp).
enum class SamplerKind { shuffled_epochs, with_replacement };

namespace detail {
template <class P, class = void>
struct HasParameterStorage : std::false_type {};
template <class P>
struct HasParameterStorage<P, std::void_t<decltype(std::declval<P&>().parameter_storage())>> : std::true_type {};

/// The vector train() iterates in: the problem's own storage if it has one, else `fallback`.
template <class Problem, class Vector>
Vector& training_storage(Problem& problem, Vector& fallback) {
  if constexpr (HasParameterStorage<Problem>::value) return problem.parameter_storage();
  else return fallback;
}
}  // namespace detail

/// Loss and accuracy of a parameter vector on some data (accuracy NaN when it does not apply).
struct Evaluation {
  double loss = std::numeric_limits<double>::quiet_NaN();
  double accuracy = std::numeric_limits<double>::quiet_NaN();
};

/// One point of the training curve, taken after `step` updates.
struct CurvePoint {
  long step = 0;
  double epoch = 0;            ///< samples seen so far / N
  double mean_batch_loss = 0;  ///< mean of the batch losses of the updates since the previous point (NaN at step 0)
  double learning_rate = 0;    ///< η of the last update
  long batch_size = 0;         ///< S of the last update
  Evaluation evaluation;       ///< from TrainOptions::evaluate (NaN if not given)
};

template <class Scalar>
struct TrainOptions {
  long steps = 0;
  LearningRateSchedule<Scalar> learning_rate = ConstantSchedule<Scalar>(Scalar(0.1));
  BatchSizeSchedule batch_size = BatchSizeSchedule::constant(32);
  SamplerKind sampling = SamplerKind::shuffled_epochs;
  SgdOptions<Scalar> sgd{};
  /// Record a CurvePoint at step 0, every `record_every` updates and after the last one (0: only the
  /// first and last).
  long record_every = 0;
  /// Called at every curve point with the current parameters (e.g. test loss and accuracy).
  std::function<Evaluation(const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>&)> evaluate;
  /// Called at every curve point after it is recorded (e.g. to print it).
  std::function<void(const CurvePoint&)> observer;
  /// Status diverged when a batch loss exceeds this bound (non-finite losses/parameters always stop).
  double loss_bound = std::numeric_limits<double>::infinity();
  /// Print progress to stderr at most this often (seconds); 0 for silence.
  double progress_seconds = 0;
};

template <class Scalar>
struct TrainResult {
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> theta;  ///< last finite iterate θ_steps
  long steps = 0;                                  ///< updates completed
  Outcome outcome;                                 ///< success, or where and why training stopped
  std::vector<CurvePoint> curve;
};

/// Runs `options.steps` SGD updates from θ₀ (the caller's θ₀ is not modified).
/// Step k: S_k = batch_size(k), η_k = learning_rate(k), batch from the sampler on `batch_stream`
/// (batch k depends on (stream, k) for with_replacement and constant-S shuffled epochs), then
/// Sgd::step(k, η_k, θ, g) with injected noise from `noise_stream`.
/// Stops early with an Outcome naming step k when the batch loss at θ_k is non-finite (non_finite) or
/// exceeds loss_bound (diverged), or when the gradient or θ_{k+1} has a non-finite entry (non_finite);
/// `theta` is then θ_k, the last finite iterate, and `steps` = k.
/// Throws sgdsde::invalid_argument for bad arguments: θ₀ of the wrong size or non-finite, steps < 0,
/// a batch size > N (or < 1), η ≤ 0, N = 0, bad SGD options.
template <class Problem, class Derived>
TrainResult<typename Problem::Scalar> train(Problem& problem, const Eigen::MatrixBase<Derived>& theta0,
                                            const TrainOptions<typename Problem::Scalar>& options,
                                            RandomStream batch_stream, RandomStream noise_stream) {
  using Scalar = typename Problem::Scalar;
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  const char* fn = "train";
  const Eigen::Index n = problem.num_samples(), p = problem.num_parameters();
  require(n >= 1, fn, "problem.num_samples()", n, ">= 1 (non-empty data)");
  require(theta0.size() == p, fn, "theta0.size()", theta0.size(), "problem.num_parameters()");
  require_finite(fn, "theta0", theta0);
  require(options.steps >= 0, fn, "options.steps", options.steps, ">= 0");
  require(options.record_every >= 0, fn, "options.record_every", options.record_every, ">= 0");
  require(options.batch_size.low >= 1, fn, "options.batch_size", options.batch_size.low, "batch sizes >= 1");
  const std::string max_s = "batch sizes <= the number of samples N = " + std::to_string(n);
  require(options.batch_size.max() <= n, fn, "options.batch_size", options.batch_size.max(), max_s.c_str());
  require(options.loss_bound > 0, fn, "options.loss_bound", options.loss_bound, "a value > 0");
  options.sgd.validate(fn);

  TrainResult<Scalar> result;
  Vector& theta = detail::training_storage(problem, result.theta);
  theta = theta0;
  Vector grad(p), next(p);
  Sgd<Scalar> sgd(p, options.sgd, noise_stream);
  WithReplacementSampler iid(n, batch_stream);
  ShuffledEpochSampler epochs(n, batch_stream);
  Batch batch;
  batch.reserve(std::size_t(options.batch_size.max()));

  double samples_seen = 0, loss_sum = 0;
  long loss_count = 0;
  Scalar last_eta = learning_rate_at(options.learning_rate, 0);
  Eigen::Index last_s = options.batch_size(0);
  auto record = [&](long step) {
    CurvePoint pt;
    pt.step = step;
    pt.epoch = samples_seen / double(n);
    pt.mean_batch_loss = loss_count ? loss_sum / double(loss_count) : std::numeric_limits<double>::quiet_NaN();
    pt.learning_rate = double(last_eta);
    pt.batch_size = long(last_s);
    if (options.evaluate) pt.evaluation = options.evaluate(theta);
    result.curve.push_back(pt);
    if (options.observer) options.observer(pt);
    loss_sum = 0;
    loss_count = 0;
  };
  record(0);

  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto last_report = start;
  for (long k = 0; k < options.steps; ++k) {
    const Eigen::Index s = options.batch_size(k);
    const Scalar eta = learning_rate_at(options.learning_rate, k);
    require_positive(fn, "learning_rate(k)", eta);
    if (options.sampling == SamplerKind::with_replacement) iid.draw(k, s, batch);
    else epochs.draw(k, s, batch);
    const Scalar loss = problem.loss_and_gradient(theta, batch, grad);
    const double loss_d = double(loss);
    if (!std::isfinite(loss_d)) {
      result.outcome = Outcome::failure(Status::non_finite, k, loss_d,
                                        "batch loss at step " + std::to_string(k) + " is not finite");
      break;
    }
    if (loss_d > options.loss_bound) {
      result.outcome = Outcome::failure(Status::diverged, k, loss_d,
                                        "batch loss at step " + std::to_string(k) + " is " + detail::describe(loss_d) +
                                            ", above the bound " + detail::describe(options.loss_bound));
      break;
    }
    if (!all_finite(grad)) {
      result.outcome = Outcome::failure(Status::non_finite, k, loss_d,
                                        "gradient at step " + std::to_string(k) + " is not finite");
      break;
    }
    sgd.step(k, eta, theta, grad, next);  // θ_k stays in `theta` until θ_{k+1} is known to be finite
    if (!all_finite(next)) {
      Eigen::Index bad = 0;
      while (bad < p && std::isfinite(double(next[bad]))) ++bad;
      result.outcome = Outcome::failure(Status::non_finite, k, double(next[bad]),
                                        "parameter " + std::to_string(bad) + " is not finite after step " +
                                            std::to_string(k));
      break;
    }
    theta.swap(next);
    samples_seen += double(s);
    loss_sum += loss_d;
    ++loss_count;
    last_eta = eta;
    last_s = s;
    result.steps = k + 1;
    if (options.record_every > 0 && (k + 1) % options.record_every == 0 && k + 1 < options.steps) record(k + 1);
    if (options.progress_seconds > 0) {
      const auto now = Clock::now();
      if (std::chrono::duration<double>(now - last_report).count() >= options.progress_seconds) {
        last_report = now;
        std::fprintf(stderr, "train: step %ld/%ld (%.1f%%), epoch %.2f, batch loss %.5g, %.1f s\n", k + 1,
                     options.steps, 100.0 * double(k + 1) / double(options.steps), samples_seen / double(n), loss_d,
                     std::chrono::duration<double>(now - start).count());
      }
    }
  }
  if (result.outcome.ok()) record(result.steps);
  if (&theta != &result.theta) result.theta = theta;
  return result;
}

}  // namespace sgdsde
