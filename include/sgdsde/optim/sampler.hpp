// sgdsde/optim/sampler.hpp — minibatch samplers for SGD: i.i.d. with replacement (Cov g_B = C/S) and
// shuffled epochs without replacement (Cov g_B = C/S·(N−S)/(N−1)); the two noise models of the SDE
// limit dθ = −∇L dt + sqrt(η/S) C^{1/2} dW (Jastrzębski et al. 2018, eq. 5).
// Both are deterministic functions of their RandomStream: batch k can be regenerated from (stream, k).
#pragma once

#include <cstdint>
#include <numeric>
#include <vector>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/random.hpp"

namespace sgdsde {

/// Indices of the samples of one minibatch.
using Batch = std::vector<Eigen::Index>;

/// S indices drawn i.i.d. uniformly from {0, ..., N−1}. Batch k uses the double uniforms
/// [k·2³², k·2³² + S) of the stream (index ⌊u·N⌋), so batch k depends on (stream, k) only, for any S
/// and whatever batches were drawn before. Preconditions: N ≥ 1; 1 ≤ S ≤ N (checked in `draw`).
class WithReplacementSampler {
 public:
  WithReplacementSampler(Eigen::Index num_samples, RandomStream stream)
      : n_(num_samples), stream_(stream) {
    require(num_samples >= 1, "WithReplacementSampler", "num_samples", num_samples, "an integer >= 1 (non-empty data)");
  }

  Eigen::Index num_samples() const { return n_; }

  /// Batch k of size S into `out` (resized to S; no allocation once its capacity suffices).
  void draw(long k, Eigen::Index batch_size, Batch& out) {
    require(k >= 0, "WithReplacementSampler::draw", "k", k, "a step index >= 0");
    check_batch_size("WithReplacementSampler::draw", batch_size, n_);
    u_.resize(batch_size);
    stream_.uniform_at(std::uint64_t(k) << 32, u_);
    out.resize(std::size_t(batch_size));
    for (Eigen::Index i = 0; i < batch_size; ++i) {
      const auto j = Eigen::Index(u_[i] * double(n_));
      out[std::size_t(i)] = j < n_ ? j : n_ - 1;
    }
  }
  /// Stateless form: batch k of size S (same as `draw`).
  Batch batch(long k, Eigen::Index batch_size) {
    Batch b;
    draw(k, batch_size, b);
    return b;
  }

  static void check_batch_size(const char* fn, Eigen::Index s, Eigen::Index n) {
    require(s >= 1, fn, "batch_size", s, "an integer >= 1");
    require(s <= n, fn, "batch_size", s, "<= the number of samples N");
  }

 private:
  Eigen::Index n_;
  RandomStream stream_;
  Eigen::Array<double, Eigen::Dynamic, 1> u_;
};

/// Shuffled epochs without replacement: epoch e is a uniformly random permutation π_e of {0..N−1}
/// (Fisher–Yates driven by the double uniforms [e·2³², e·2³² + N−1) of the stream); the batches walk
/// through π_0, π_1, ... in order, S at a time, and a batch never straddles two epochs: when fewer than
/// S indices remain in the current epoch they are dropped and the next epoch begins ("drop last").
///
/// `draw(k, S, out)` follows the sequence of calls, so batch sizes may change from step to step
/// (cyclic batch-size schedules) and every epoch is still sampled without replacement. With a constant
/// S the result of the k-th draw equals the stateless `batch(k, S)`: epoch ⌊k/B⌋, position (k mod B)·S,
/// B = ⌊N/S⌋, so any batch can be regenerated from (stream, k) alone.
class ShuffledEpochSampler {
 public:
  ShuffledEpochSampler(Eigen::Index num_samples, RandomStream stream) : n_(num_samples), stream_(stream) {
    require(num_samples >= 1, "ShuffledEpochSampler", "num_samples", num_samples,
            "an integer >= 1 (non-empty data)");
  }

  Eigen::Index num_samples() const { return n_; }
  /// Epoch of the next `draw` and the position in it.
  long epoch() const { return epoch_; }
  Eigen::Index position() const { return position_; }

  /// The next batch of size S (k is the step index; checked to be the number of draws so far, which
  /// keeps the sequence honest when a caller restarts a loop).
  void draw(long k, Eigen::Index batch_size, Batch& out) {
    const char* fn = "ShuffledEpochSampler::draw";
    WithReplacementSampler::check_batch_size(fn, batch_size, n_);
    require(k == draws_, fn, "k", k, "the number of batches drawn so far (use batch(k, S) for random access)");
    if (position_ + batch_size > n_) {
      ++epoch_;
      position_ = 0;
    }
    const std::vector<Eigen::Index>& p = permutation_cached(epoch_);
    out.assign(p.begin() + position_, p.begin() + position_ + batch_size);
    position_ += batch_size;
    ++draws_;
  }

  /// Batch k when every batch has size S (stateless; see the class comment).
  Batch batch(long k, Eigen::Index batch_size) {
    WithReplacementSampler::check_batch_size("ShuffledEpochSampler::batch", batch_size, n_);
    require(k >= 0, "ShuffledEpochSampler::batch", "k", k, "a step index >= 0");
    const long per_epoch = long(n_ / batch_size);
    const std::vector<Eigen::Index>& p = permutation_cached(k / per_epoch);
    const auto first = p.begin() + Eigen::Index(k % per_epoch) * batch_size;
    return Batch(first, first + batch_size);
  }

  /// The permutation π_e of epoch e.
  std::vector<Eigen::Index> permutation(long e) const {
    require(e >= 0, "ShuffledEpochSampler::permutation", "e", e, "an epoch index >= 0");
    std::vector<Eigen::Index> p(static_cast<std::size_t>(n_));
    std::iota(p.begin(), p.end(), Eigen::Index(0));
    if (n_ < 2) return p;
    Eigen::Array<double, Eigen::Dynamic, 1> u(n_ - 1);
    stream_.uniform_at(std::uint64_t(e) << 32, u);
    // Fisher–Yates: for i = N−1 down to 1 swap p[i] with p[j], j uniform in {0..i}.
    for (Eigen::Index i = n_ - 1; i >= 1; --i) {
      Eigen::Index j = Eigen::Index(u[n_ - 1 - i] * double(i + 1));
      if (j > i) j = i;
      std::swap(p[std::size_t(i)], p[std::size_t(j)]);
    }
    return p;
  }

 private:
  const std::vector<Eigen::Index>& permutation_cached(long e) {
    if (e != cached_epoch_) {
      cached_ = permutation(e);
      cached_epoch_ = e;
    }
    return cached_;
  }

  Eigen::Index n_;
  RandomStream stream_;
  long epoch_ = 0;
  Eigen::Index position_ = 0;
  long draws_ = 0;
  long cached_epoch_ = -1;
  std::vector<Eigen::Index> cached_;
};

}  // namespace sgdsde
