// sgdsde/optim/train.hpp — the minibatch SGD training loop θ_{k+1} = θ_k − η_k g_{B_k}(θ_k)
// (Jastrzębski et al. 2018 eq. 4, with momentum, weight decay and injected noise of sgd.hpp), generic over
// a Problem, with samplers (core/minibatch.hpp) and schedules as values, and progress through an observer.
//
// A Problem is any type with
//   using Scalar = ...;                                   (float or double)
//   Index num_samples() const;                            N
//   Index num_parameters() const;                         P
//   Scalar loss_and_gradient(const Eigen::Ref<const VectorX<Scalar>>& theta, const sgdsde::Batch& batch,
//                            Eigen::Ref<VectorX<Scalar>> gradient);
// returning the MEAN loss (1/S) Σ_{n∈batch} l_n(θ) and writing its gradient (the mean per-sample
// gradient) into `gradient`. It may keep workspaces (the member need not be const).
// Optionally it may also have
//   VectorX<Scalar>& parameter_storage();
// its own parameter vector (e.g. a network's): train() then iterates θ in that vector, swapping it with
// a second buffer each step, so a problem that reads θ from there needs no copy per step; when train()
// returns (or throws) the final θ is back in the vector's ORIGINAL buffer, so pointers and maps taken
// before training stay valid.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/minibatch.hpp"
#include "sgdsde/core/random.hpp"
#include "sgdsde/core/types.hpp"
#include "sgdsde/optim/schedule.hpp"
#include "sgdsde/optim/sgd.hpp"

namespace sgdsde::optim {

/// Options of train(): an aggregate with defaults. Set the members you need (standard C++17):
///   optim::TrainOptions options;
///   options.learning_rate = 0.1;                 // a number is a constant schedule
///   options.sampler = shuffled_epochs(64);       // with_replacement(S), fresh_subset(S), shuffled_epochs(S)
///   options.epochs = 10;                         // or options.steps = 5000 (exactly one of the two)
/// Randomness comes from `seed` alone: batches from RandomStream(seed, 1), injected noise from
/// RandomStream(seed, 2) (used only when sgd.noise_sigma > 0); stream id 0 is left to the caller
/// (e.g. the initialisation RandomStream(seed)).
struct TrainOptions {
  LearningRateSchedule learning_rate = 0.1;  ///< η_k
  Sampler sampler = shuffled_epochs(32);     ///< batches and batch sizes S_k
  long epochs = 0;                           ///< stop after this many epochs (see train()), or
  long steps = 0;                            ///< stop after this many updates
  SgdOptions sgd{};                          ///< momentum, weight decay, injected noise
  std::uint64_t seed = 0;                    ///< the one seed of the batch and noise streams
  /// Status diverged when a batch loss exceeds this bound (non-finite losses/parameters always stop).
  double loss_bound = std::numeric_limits<double>::infinity();
};

/// What an observer sees: called after every successful update (step ≥ 1), and once more with `done`
/// set when training ends (finished, failed or stopped); never before the first update. See train().
template <class Scalar>
struct Progress {
  long step = 0;                 ///< updates done so far
  long total_steps = 0;          ///< updates train() will do if nothing stops it
  long epoch = 0;                ///< epochs completed
  bool end_of_epoch = false;     ///< the last update completed an epoch (false in the final call)
  bool done = false;             ///< the final call, after the last update's own call (result.outcome tells why)
  double epochs_seen = 0;        ///< samples used so far / N
  /// Loss of the last update's batch, at θ before it (NaN only in a final call after no update).
  double batch_loss = std::numeric_limits<double>::quiet_NaN();
  /// Mean batch loss of the current (or just completed) epoch (NaN only in a final call after no update).
  double epoch_loss = std::numeric_limits<double>::quiet_NaN();
  double learning_rate = 0;      ///< η of the last update
  Index batch_size = 0;          ///< S of the last update
  double seconds = 0;            ///< wall time since train() started
  const VectorX<Scalar>& parameters;  ///< θ after `step` updates (the network's own vector for a network)
};

/// Common part of the results of train(): where training stopped and the training curve.
struct TrainSummary {
  long steps = 0;                  ///< updates completed
  long epochs = 0;                 ///< epochs completed
  Outcome outcome;                 ///< success, or where and why training stopped
  /// True when the observer returned false (outcome is then success: nothing went wrong, but the run
  /// did fewer than the requested updates); false when the run finished or failed.
  bool stopped_by_observer = false;
  std::vector<double> epoch_loss;  ///< mean batch loss of each completed epoch
  double seconds = 0;              ///< wall time of train()
};

/// Result of train() on a generic Problem: the summary and the final parameters (for a network the
/// parameters are in the network itself, and train() returns the TrainSummary alone).
template <class Scalar>
struct TrainResult : TrainSummary {
  VectorX<Scalar> parameters;  ///< the last finite iterate θ_steps
};

/// The default observer: does nothing.
struct NoObserver {
  template <class P>
  void operator()(const P&) const {}
};

/// An observer printing one progress line to `out` at most every `seconds` seconds, and a last one at
/// the end: step, percentage, epoch, mean batch loss of the current epoch, wall time.
struct ProgressEvery {
  double seconds = 1.0;
  std::FILE* out = stderr;
  double last = -1e300;
  template <class Scalar>
  void operator()(const Progress<Scalar>& p) {
    if (!p.done && p.seconds - last < seconds) return;
    last = p.seconds;
    std::fprintf(out, "train: step %ld/%ld (%.1f%%), epoch %.2f, epoch loss %.5g, %.1f s%s\n", p.step,
                 p.total_steps, p.total_steps ? 100.0 * double(p.step) / double(p.total_steps) : 100.0,
                 p.epochs_seen, p.epoch_loss, p.seconds, p.done ? " (done)" : "");
    std::fflush(out);
  }
};
inline ProgressEvery progress_every(double seconds, std::FILE* out = stderr) {
  require(seconds >= 0 && std::isfinite(seconds), "progress_every", "seconds", seconds, "a finite value >= 0");
  return ProgressEvery{seconds, out};
}

/// An observer calling f(progress) after each completed epoch (f may return bool: false stops training).
template <class F>
struct EveryEpoch {
  F f;
  template <class Scalar>
  bool operator()(const Progress<Scalar>& p) {
    if (!p.end_of_epoch) return true;
    if constexpr (std::is_same_v<std::invoke_result_t<F&, const Progress<Scalar>&>, bool>) return f(p);
    else {
      f(p);
      return true;
    }
  }
};
template <class F>
EveryEpoch<std::decay_t<F>> every_epoch(F&& f) {
  return EveryEpoch<std::decay_t<F>>{std::forward<F>(f)};
}

namespace detail {
template <class P, class = void>
struct HasParameterStorage : std::false_type {};
template <class P>
struct HasParameterStorage<P, std::void_t<decltype(std::declval<P&>().parameter_storage())>> : std::true_type {};

/// Epoch boundaries of a sampler: for shuffled epochs an epoch ends when the next batch does not fit in
/// the rest of the permutation (BatchDrawer's drop-last rule); for the independent samplers epoch e ends
/// at the update that brings the samples used to e·N or more.
class EpochCounter {
 public:
  EpochCounter(const Sampler& s, Index n) : schedule_(batch_size_of(s)), n_(n), shuffled_(std::holds_alternative<ShuffledEpochs>(s)) {}
  /// Records update k (batch size S_k); returns true if it completed an epoch.
  bool update(long k) {
    const Index s = schedule_(k);
    seen_ += s;
    if (shuffled_) {
      position_ += s;
      if (position_ + schedule_(k + 1) > n_) {
        position_ = 0;
        ++epochs_;
        return true;
      }
      return false;
    }
    const long e = long(seen_ / n_);
    const bool ended = e > epochs_;
    epochs_ = e;
    return ended;
  }
  long epochs() const { return epochs_; }
  double epochs_seen() const { return double(seen_) / double(n_); }

 private:
  BatchSizeSchedule schedule_;
  Index n_;
  bool shuffled_;
  Index position_ = 0, seen_ = 0;
  long epochs_ = 0;
};

/// Most updates an epochs-based run with a cyclic batch size may have (its length is found by counting).
constexpr long max_counted_steps = 1L << 28;

/// Number of updates of a run: options.steps, or the updates until options.epochs epochs are complete.
/// Constant S: closed form, ⌊N/S⌋·epochs (shuffled) or ⌈epochs·N/S⌉ (independent samplers). Cyclic S:
/// counted update by update, for at most max_counted_steps updates. Throws (argument 'options.epochs',
/// function `fn`) when the count exceeds LONG_MAX, or max_counted_steps for a cyclic S.
inline long total_steps(const char* fn, const TrainOptions& o, Index n) {
  if (o.steps > 0) return o.steps;
  const BatchSizeSchedule& b = batch_size_of(o.sampler);
  const bool shuffled = std::holds_alternative<ShuffledEpochs>(o.sampler);
  constexpr long max = (std::numeric_limits<long>::max)();
  if (b.is_constant()) {
    const long per_epoch = shuffled ? long(n / b.low) : 0;
    if (shuffled) {
      require(o.epochs <= max / per_epoch, fn, "options.epochs", o.epochs,
              "at most LONG_MAX updates in all (epochs x batches per epoch)");
      return o.epochs * per_epoch;
    }
    // ⌈E·N/S⌉ without forming E·N: E·N = q·S + r with q = E·⌊N/S⌋ + ⌊E·(N mod S)/S⌋ (E·(N mod S) < E·S).
    const long nq = long(n / b.low), nr = long(n % b.low), s = long(b.low);
    require(nq == 0 || o.epochs <= max / nq, fn, "options.epochs", o.epochs, "at most LONG_MAX updates in all");
    const long a = o.epochs * nq;
    // E·nr may overflow: split E = e1·S + e0, E·nr = e1·S·nr + e0·nr, (e0·nr < S²).
    const long e1 = o.epochs / s, e0 = o.epochs % s;
    const __int128 rest = __int128(e1) * nr * s + __int128(e0) * nr;  // = E·nr
    const __int128 total = __int128(a) + rest / s + (rest % s != 0 ? 1 : 0);
    require(total <= max, fn, "options.epochs", o.epochs, "at most LONG_MAX updates in all");
    return long(total);
  }
  // Each update uses at least b.low samples and each epoch has at least one update.
  const long bound_per_epoch = long((n + b.low - 1) / b.low) + 1;
  require(o.epochs <= max_counted_steps / bound_per_epoch, fn, "options.epochs", o.epochs,
          "with a cyclic batch size, at most 2^28 updates' worth of epochs (set options.steps instead)");
  EpochCounter c(o.sampler, n);
  long k = 0;
  while (c.epochs() < o.epochs) c.update(k++);
  return k;
}

/// Throws unless η_k, k < total, lies in the normal range of Scalar (> 0, not denormal, finite after the
/// conversion to Scalar); the message names the first step out of range.
template <class Scalar>
void check_learning_rate(const char* fn, const LearningRateSchedule& eta, long total) {
  const double lo_ok = double(std::numeric_limits<Scalar>::min()), hi_ok = double((std::numeric_limits<Scalar>::max)());
  const auto [lo, hi] = eta.range(total);
  if (lo >= lo_ok && hi <= hi_ok) return;
  auto bad = [&](long k) {
    const double v = eta(k);
    return !(v >= lo_ok && v <= hi_ok);
  };
  long first = 0;  // η_0 out of range, or the first k of a monotone run (step decay; rising half of a cycle)
  if (!bad(0)) {
    long a = 0, b = total - 1;
    if (const auto* c = std::get_if<CyclicSchedule>(&eta.alternatives())) b = std::min(b, c->half_period);
    while (b - a > 1) {
      const long m = a + (b - a) / 2;
      (bad(m) ? b : a) = m;
    }
    first = b;
  }
  const std::string value = "a schedule with eta_" + std::to_string(first) + " = " + sgdsde::detail::describe(eta(first)) +
                            " at step " + std::to_string(first) + " of " + std::to_string(total);
  const std::string expected = "learning rates in the normal range [" + sgdsde::detail::describe(lo_ok) + ", " +
                               sgdsde::detail::describe(hi_ok) + "] of the model's scalar at every step of the run";
  require(false, fn, "options.learning_rate", value, expected.c_str());
}

template <class Observer, class P>
bool notify(Observer& observer, const P& progress) {
  if constexpr (std::is_same_v<std::invoke_result_t<Observer&, const P&>, bool>) return observer(progress);
  else {
    observer(progress);
    return true;
  }
}

/// The loop of train(), iterating in `theta` (already θ₀); fills the summary.
template <class Problem, class Observer>
void train_loop(Problem& problem, VectorX<typename Problem::Scalar>& theta, const TrainOptions& options,
                Observer& observer, TrainSummary& result) {
  using Scalar = typename Problem::Scalar;
  const char* fn = "train";
  const Index n = problem.num_samples(), p = problem.num_parameters();
  const long total = total_steps(fn, options, n);
  check_learning_rate<Scalar>(fn, options.learning_rate, total);
  VectorX<Scalar> grad(p), next(p);
  // The loop swaps `theta` with `next`; this puts the final θ back into theta's original buffer on
  // every exit (also by exception), so views taken into it before training stay valid.
  struct RestoreBuffer {
    VectorX<Scalar>& theta;
    VectorX<Scalar>& other;
    const Scalar* original;
    ~RestoreBuffer() {
      if (theta.data() == original) return;
      other = theta;  // `other` owns the original buffer
      theta.swap(other);
    }
  } restore{theta, next, theta.data()};
  Sgd<Scalar> sgd(p, options.sgd, RandomStream(options.seed, 2));
  BatchDrawer drawer(options.sampler, n, RandomStream(options.seed, 1));
  EpochCounter epochs(options.sampler, n);
  Batch batch;
  batch.reserve(std::size_t(batch_size_of(options.sampler).max()));

  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  double epoch_sum = 0, last_loss = std::numeric_limits<double>::quiet_NaN(), last_eta = 0;
  long epoch_count = 0;
  Index last_s = 0;
  bool end_of_epoch = false;
  auto progress = [&](bool done) {
    Progress<Scalar> pr{result.steps, total, epochs.epochs(), end_of_epoch, done, epochs.epochs_seen(), last_loss,
                        epoch_count ? epoch_sum / double(epoch_count) : std::numeric_limits<double>::quiet_NaN(),
                        last_eta, last_s, seconds(), theta};
    return notify(observer, pr);
  };

  bool go_on = true;
  for (long k = 0; k < total && go_on; ++k) {
    const Scalar eta = Scalar(options.learning_rate(k));
    require_positive(fn, "learning_rate(k)", eta);
    drawer.next(k, batch);
    const Scalar loss = problem.loss_and_gradient(theta, batch, grad);
    const double loss_d = double(loss);
    if (!std::isfinite(loss_d)) {
      result.outcome = Outcome::failure(Status::non_finite, k, loss_d,
                                        "batch loss at step " + std::to_string(k) + " is not finite");
      break;
    }
    if (loss_d > options.loss_bound) {
      result.outcome = Outcome::failure(Status::diverged, k, loss_d,
                                        "batch loss at step " + std::to_string(k) + " is " + sgdsde::detail::describe(loss_d) +
                                            ", above the bound " + sgdsde::detail::describe(options.loss_bound));
      break;
    }
    if (!all_finite(grad)) {
      result.outcome = Outcome::failure(Status::non_finite, k, loss_d,
                                        "gradient at step " + std::to_string(k) + " is not finite");
      break;
    }
    Outcome stepped = sgd.step(k, eta, theta, grad, next);  // θ_k stays in `theta` until θ_{k+1} is finite
    if (!stepped.ok()) {
      result.outcome = std::move(stepped);
      break;
    }
    theta.swap(next);
    if (end_of_epoch) {  // the previous update closed an epoch: start a new mean
      epoch_sum = 0;
      epoch_count = 0;
    }
    epoch_sum += loss_d;
    ++epoch_count;
    last_loss = loss_d;
    last_eta = double(eta);
    last_s = Index(batch.size());
    result.steps = k + 1;
    end_of_epoch = epochs.update(k);
    if (end_of_epoch) result.epoch_loss.push_back(epoch_sum / double(epoch_count));
    go_on = progress(false);
    if (!go_on) {
      result.stopped_by_observer = true;
      result.outcome = Outcome{Status::success, k, loss_d, "stopped by the observer after step " + std::to_string(k)};
    }
  }
  result.epochs = epochs.epochs();
  result.seconds = seconds();
  end_of_epoch = false;  // the final call repeats no event
  progress(true);
}

template <class Problem>
VectorX<typename Problem::Scalar>& training_storage(Problem& problem, VectorX<typename Problem::Scalar>& fallback) {
  if constexpr (HasParameterStorage<Problem>::value) return problem.parameter_storage();
  else return fallback;
}

/// Throws unless the options make sense for a data set of N samples.
inline void check_options(const char* fn, const TrainOptions& o, Index n) {
  require(n >= 1, fn, "problem.num_samples()", n, ">= 1 (non-empty data)");
  require(o.steps >= 0, fn, "options.steps", o.steps, ">= 0");
  require(o.epochs >= 0, fn, "options.epochs", o.epochs, ">= 0");
  require((o.steps > 0) != (o.epochs > 0), fn, "options.steps",
          "steps = " + std::to_string(o.steps) + " with epochs = " + std::to_string(o.epochs),
          "exactly one of options.steps and options.epochs > 0");
  check_sampler(fn, o.sampler, n);
  require(o.loss_bound > 0, fn, "options.loss_bound", o.loss_bound, "a value > 0");
  o.sgd.validate(fn);
}
}  // namespace detail

/// Trains a generic Problem by minibatch SGD from θ₀ (the caller's θ₀ is not modified).
/// Update k: S_k from options.sampler, η_k = options.learning_rate(k), batch k from the sampler's
/// BatchDrawer on RandomStream(seed, 1), then Sgd::step(k, η_k, θ, g) (noise from RandomStream(seed, 2)).
/// Length: options.steps updates, or options.epochs epochs: with shuffled epochs an epoch is one
/// permutation (⌊N/S⌋ batches at a constant S, the rest dropped); with the independent samplers an epoch
/// ends at the update that brings the samples used to a multiple of N.
/// The observer (any callable taking const Progress<Scalar>&; returning false stops training, with
/// outcome success and stopped_by_observer = true) is called after every successful update and once at
/// the end with done = true; not before the first update.
/// Stops early with an Outcome naming step k when the batch loss at θ_k is non-finite (non_finite) or
/// exceeds loss_bound (diverged), or when the gradient or θ_{k+1} has a non-finite entry (non_finite);
/// `parameters` is then θ_k, the last finite iterate, and `steps` = k.
/// Throws sgdsde::invalid_argument for bad arguments: θ₀ of the wrong size or non-finite, not exactly one
/// of steps and epochs > 0, a batch size > N without replacement, N = 0, bad SGD options, a run longer
/// than LONG_MAX updates, a learning rate leaving the normal range of Scalar at some step of the run.
template <class Problem, class Derived, class Observer = NoObserver>
TrainResult<typename Problem::Scalar> train(Problem& problem, const Eigen::MatrixBase<Derived>& theta0,
                                            const TrainOptions& options, Observer&& observer = {}) {
  const char* fn = "train";
  detail::check_options(fn, options, problem.num_samples());
  require(theta0.size() == problem.num_parameters(), fn, "theta0.size()", theta0.size(), "problem.num_parameters()");
  require_finite(fn, "theta0", theta0);
  TrainResult<typename Problem::Scalar> result;
  auto& theta = detail::training_storage(problem, result.parameters);
  theta = theta0.template cast<typename Problem::Scalar>();
  detail::train_loop(problem, theta, options, observer, result);
  if (&theta != &result.parameters) result.parameters = theta;
  return result;
}

}  // namespace sgdsde::optim
