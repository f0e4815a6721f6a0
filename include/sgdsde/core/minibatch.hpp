// sgdsde/core/minibatch.hpp — the one minibatch model shared by theory (ou), simulation and training
// (optim): three samplers as values, each declaring its exact noise law, and one drawer that makes
// the batches from a counter-based stream (Jastrzębski et al. 2018, eqs. 4–5: Cov g_B = κ C).
//
//   with_replacement(S)  S i.i.d. uniform indices per step           Cov g_B = C/S
//   fresh_subset(S)      a fresh uniform S-subset per step            Cov g_B = C/S · (N−S)/(N−1)
//   shuffled_epochs(S)   a random permutation per epoch, cut into     per step as fresh_subset, but
//                        ⌊N/S⌋ disjoint batches (last partial batch   the batches of one epoch are
//                        dropped); what training uses by default      correlated: Cov(g_Bk, g_Bj) =
//                                                                     −C/(N−1), k ≠ j in one epoch
// C = (1/N) Σ_n (∇l_n − ∇L)(∇l_n − ∇L)ᵀ is the per-sample gradient covariance. The batch size is a
// BatchSizeSchedule (an integer converts to a constant one); theory needs a constant S.
//
// Stream layout (one stream per run; batch k depends on (stream, k) only, except shuffled epochs with
// a varying S, which follow the sequence of draws):
//   with_replacement: batch k = ⌊u·N⌋ for the S double uniforms at [k·2³², k·2³² + S)
//   fresh_subset:     partial Fisher–Yates of (0..N−1) with the S double uniforms at [k·2³², k·2³² + S):
//                     for i < S swap positions i and i + ⌊u_i (N − i)⌋; the batch is positions [0, S)
//   shuffled_epochs:  epoch e is the Fisher–Yates permutation driven by the N−1 double uniforms at
//                     [e·2³², e·2³² + N − 1): for i = N−1 … 1 swap p[i] and p[⌊u (i+1)⌋]
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/random.hpp"
#include "sgdsde/core/types.hpp"

namespace sgdsde {

/// Indices of the samples of one minibatch.
using Batch = std::vector<Index>;

namespace detail {
/// Largest half period of a cyclic schedule (2·half_period must not overflow a long).
constexpr long max_half_period = (std::numeric_limits<long>::max)() / 2;

/// Triangular wave in [0, 1]: 0 at k = 0, 1 at k = h, 0 at k = 2h, period 2h; even in k (a step
/// index k < 0 reads as −k). Needs 1 ≤ h ≤ max_half_period.
inline double triangle(long k, long half_period) {
  const unsigned long period = 2 * static_cast<unsigned long>(half_period);
  const unsigned long mag = k < 0 ? 0UL - static_cast<unsigned long>(k) : static_cast<unsigned long>(k);
  unsigned long pos = mag % period;
  if (pos > static_cast<unsigned long>(half_period)) pos = period - pos;
  return double(pos) / double(half_period);
}
}  // namespace detail

/// Batch size S_k. An integer converts to a constant schedule. Cyclic between `low` and `high` with
/// the triangle tri(k) (S_low at k = 0, S_high at k = half_period, period 2·half_period):
///  - Shape::linear:         S_k = round(low + (high − low)·tri(k));
///  - Shape::inverse_linear: 1/S_k = 1/low − (1/low − 1/high)·tri(k), rounded to the nearest integer,
///    so at a fixed η the SDE noise scale η/S_k is itself a triangle between η/low and η/high
///    (Jastrzębski Fig. 1 pairs S ∈ [128, 640] at η = 0.005 with η ∈ [0.001, 0.005] at S = 128).
struct BatchSizeSchedule {
  enum class Shape { linear, inverse_linear };
  Index low = 1, high = 1;
  long half_period = 1;
  Shape shape = Shape::linear;

  /// S_k = s for every k (s ≥ 1).
  BatchSizeSchedule(Index s = 1) : low(s), high(s) {  // NOLINT: implicit on purpose (a number is a schedule)
    require(s >= 1, "BatchSizeSchedule", "batch_size", s, "an integer >= 1");
  }
  static BatchSizeSchedule constant(Index s) { return BatchSizeSchedule(s); }
  static BatchSizeSchedule cyclic(Index low, Index high, long half_period_steps, Shape shape = Shape::linear) {
    require(low >= 1, "BatchSizeSchedule::cyclic", "low", low, "an integer >= 1");
    require(high >= low, "BatchSizeSchedule::cyclic", "high", high, ">= low");
    require(half_period_steps >= 1 && half_period_steps <= detail::max_half_period, "BatchSizeSchedule::cyclic",
            "half_period_steps", half_period_steps, "an integer in [1, LONG_MAX / 2]");
    BatchSizeSchedule b(low);
    b.high = high;
    b.half_period = half_period_steps;
    b.shape = shape;
    return b;
  }

  bool is_constant() const { return low == high; }
  Index max() const { return high; }
  Index operator()(long k) const {
    if (low == high) return low;
    const double t = detail::triangle(k, half_period);
    if (shape == Shape::linear) return Index(std::lround(double(low) + double(high - low) * t));
    const double inv = 1.0 / double(low) - (1.0 / double(low) - 1.0 / double(high)) * t;
    return Index(std::lround(1.0 / inv));
  }
};

/// The exact second-order law of the minibatch gradient noise ε_k = g_Bk − ∇L over a data set of N
/// samples with per-sample gradient covariance C: Cov ε_k = variance_factor·C, and for two batches
/// k ≠ j of the same epoch Cov(ε_k, ε_j) = cross_factor·C (0 when batches are independent);
/// batches_per_epoch = 0 when steps are independent (no epochs). E ε_k = 0 always.
struct NoiseLaw {
  double variance_factor = 0;
  double cross_factor = 0;
  long batches_per_epoch = 0;
  bool independent_steps() const { return batches_per_epoch == 0; }
};

/// S indices drawn i.i.d. uniformly each step: Cov g_B = C/S (any N ≥ 1, any S ≥ 1).
struct WithReplacement {
  BatchSizeSchedule batch_size;
  static constexpr const char* name = "with_replacement";
};
/// A fresh uniform S-subset each step (independent across steps): Cov g_B = C/S·(N−S)/(N−1), S ≤ N.
struct FreshSubset {
  BatchSizeSchedule batch_size;
  static constexpr const char* name = "fresh_subset";
};
/// Shuffled epochs: disjoint batches of a random permutation, ⌊N/S⌋ per epoch, S ≤ N (see file comment).
struct ShuffledEpochs {
  BatchSizeSchedule batch_size;
  static constexpr const char* name = "shuffled_epochs";
};

inline WithReplacement with_replacement(BatchSizeSchedule s) { return WithReplacement{s}; }
inline FreshSubset fresh_subset(BatchSizeSchedule s) { return FreshSubset{s}; }
inline ShuffledEpochs shuffled_epochs(BatchSizeSchedule s) { return ShuffledEpochs{s}; }

/// Any of the three samplers (a value: store it in options, pass it to theory and simulation).
using Sampler = std::variant<WithReplacement, FreshSubset, ShuffledEpochs>;

inline const BatchSizeSchedule& batch_size_of(const Sampler& s) {
  return std::visit([](const auto& x) -> const BatchSizeSchedule& { return x.batch_size; }, s);
}
inline const char* name_of(const Sampler& s) {
  return std::visit([](const auto& x) { return std::decay_t<decltype(x)>::name; }, s);
}

/// Throws unless every batch size of `s` fits a data set of N samples (S ≤ N without replacement).
inline void check_sampler(const char* fn, const Sampler& s, Index num_samples) {
  require(num_samples >= 1, fn, "num_samples", num_samples, "a data set with N >= 1 samples");
  const BatchSizeSchedule& b = batch_size_of(s);
  if (!std::holds_alternative<WithReplacement>(s)) {
    const std::string e = std::string("batch sizes <= N = ") + std::to_string(num_samples) + " for " + name_of(s);
    require(b.max() <= num_samples, fn, "sampler.batch_size", b.max(), e.c_str());
  }
}

/// The exact noise law of `s` at constant batch size over N samples (throws if S varies or S > N).
/// With replacement: variance 1/S. Fresh subset: (N−S)/(S(N−1)) (0 when N = 1). Shuffled epochs: the
/// same variance, cross −1/(N−1) within an epoch, ⌊N/S⌋ batches per epoch.
inline NoiseLaw noise_law(const Sampler& s, Index num_samples) {
  const char* fn = "noise_law";
  check_sampler(fn, s, num_samples);
  const BatchSizeSchedule& b = batch_size_of(s);
  require(b.is_constant(), fn, "sampler.batch_size", "a cyclic schedule", "a constant batch size");
  const double S = double(b.low), N = double(num_samples);
  NoiseLaw law;
  if (std::holds_alternative<WithReplacement>(s)) {
    law.variance_factor = 1.0 / S;
    return law;
  }
  law.variance_factor = num_samples > 1 ? (N - S) / (S * (N - 1)) : 0.0;
  if (std::holds_alternative<ShuffledEpochs>(s)) {
    law.cross_factor = num_samples > 1 ? -1.0 / (N - 1) : 0.0;
    law.batches_per_epoch = long(num_samples / b.low);
  }
  return law;
}

/// Draws the batches of a sampler over N samples from one RandomStream (layout in the file comment).
/// `next(k, out)` gives batch k of a run (k must count 0, 1, 2, … for shuffled epochs, which follow
/// the sequence when S varies); `batch(k)` is the stateless form for a constant S. After the first
/// draws reach the largest S, `next` allocates nothing.
class BatchDrawer {
 public:
  BatchDrawer(const Sampler& sampler, Index num_samples, RandomStream stream)
      : sampler_(sampler), n_(num_samples), stream_(stream) {
    check_sampler("BatchDrawer", sampler, num_samples);
    const Index smax = batch_size_of(sampler).max();
    u_.resize(std::holds_alternative<ShuffledEpochs>(sampler) ? std::max<Index>(n_ - 1, 1) : smax);
    if (std::holds_alternative<FreshSubset>(sampler)) {
      perm_.resize(std::size_t(n_));
      std::iota(perm_.begin(), perm_.end(), Index(0));
      swaps_.resize(std::size_t(smax));
    }
  }

  const Sampler& sampler() const { return sampler_; }
  Index num_samples() const { return n_; }
  /// Batch size of step k.
  Index batch_size(long k) const { return batch_size_of(sampler_)(k); }

  /// Batch k of the run into `out` (resized to S_k).
  void next(long k, Batch& out) {
    const char* fn = "BatchDrawer::next";
    require(k >= 0, fn, "k", k, "a step index >= 0");
    const Index s = batch_size(k);
    if (std::holds_alternative<ShuffledEpochs>(sampler_)) {
      require(k == draws_, fn, "k", k, "the number of batches drawn so far (shuffled epochs follow the sequence)");
      if (position_ + s > n_) {
        ++epoch_;
        position_ = 0;
      }
      const std::vector<Index>& p = permutation_cached(epoch_);
      out.assign(p.begin() + position_, p.begin() + position_ + s);
      position_ += s;
      ++draws_;
      return;
    }
    draw_independent(k, s, out);
  }

  /// Batch k for a constant batch size, whatever was drawn before (stateless).
  Batch batch(long k) {
    const char* fn = "BatchDrawer::batch";
    require(k >= 0, fn, "k", k, "a step index >= 0");
    const BatchSizeSchedule& b = batch_size_of(sampler_);
    Batch out;
    if (std::holds_alternative<ShuffledEpochs>(sampler_)) {
      require(b.is_constant(), fn, "sampler.batch_size", "a cyclic schedule",
              "a constant batch size (use next() to follow a varying one)");
      const long per_epoch = long(n_ / b.low);
      const std::vector<Index>& p = permutation_cached(k / per_epoch);
      const auto first = p.begin() + Index(k % per_epoch) * b.low;
      out.assign(first, first + b.low);
      return out;
    }
    draw_independent(k, b(k), out);
    return out;
  }

  /// Epoch e's permutation (shuffled epochs).
  std::vector<Index> permutation(long e) const {
    require(e >= 0, "BatchDrawer::permutation", "e", e, "an epoch index >= 0");
    std::vector<Index> p(static_cast<std::size_t>(n_));
    std::iota(p.begin(), p.end(), Index(0));
    if (n_ < 2) return p;
    Eigen::Array<double, Eigen::Dynamic, 1> u(n_ - 1);
    stream_.uniform_at(std::uint64_t(e) << 32, u);
    for (Index i = n_ - 1; i >= 1; --i) {
      Index j = Index(u[n_ - 1 - i] * double(i + 1));
      if (j > i) j = i;
      std::swap(p[std::size_t(i)], p[std::size_t(j)]);
    }
    return p;
  }

 private:
  void draw_independent(long k, Index s, Batch& out) {
    auto u = u_.head(s);
    stream_.uniform_at(std::uint64_t(k) << 32, u);
    out.resize(std::size_t(s));
    if (std::holds_alternative<WithReplacement>(sampler_)) {
      for (Index i = 0; i < s; ++i) {
        const Index j = Index(u[i] * double(n_));
        out[std::size_t(i)] = j < n_ ? j : n_ - 1;
      }
      return;
    }
    // Fresh subset: partial Fisher–Yates on perm_, then undo the swaps so perm_ is the identity again.
    for (Index i = 0; i < s; ++i) {
      Index j = i + Index(u[i] * double(n_ - i));
      if (j > n_ - 1) j = n_ - 1;
      swaps_[std::size_t(i)] = j;
      std::swap(perm_[std::size_t(i)], perm_[std::size_t(j)]);
      out[std::size_t(i)] = perm_[std::size_t(i)];
    }
    for (Index i = s; i-- > 0;) std::swap(perm_[std::size_t(i)], perm_[std::size_t(swaps_[std::size_t(i)])]);
  }
  const std::vector<Index>& permutation_cached(long e) {
    if (e != cached_epoch_) {
      cached_ = permutation(e);
      cached_epoch_ = e;
    }
    return cached_;
  }

  Sampler sampler_;
  Index n_;
  RandomStream stream_;
  Eigen::Array<double, Eigen::Dynamic, 1> u_;
  std::vector<Index> perm_, swaps_, cached_;
  long epoch_ = 0, draws_ = 0, cached_epoch_ = -1;
  Index position_ = 0;
};

}  // namespace sgdsde
