// Tests for sgdsde/optim/sampler.hpp: index frequencies of the i.i.d. sampler (binomial, 5 SE), epochs
// as permutations, uniformity of the shuffles, regenerability of batch k, the variance of a minibatch
// mean with and without replacement (C/S and C/S·(N−S)/(N−1), DESIGN.md conventions), and bad input.
#include "sgdsde/optim/sampler.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include <doctest/doctest.h>

using sgdsde::Batch;
using sgdsde::RandomStream;
using sgdsde::ShuffledEpochSampler;
using sgdsde::WithReplacementSampler;

TEST_CASE("with replacement: every index has frequency 1/N within 5 binomial standard errors") {
  const Eigen::Index n = 13, s = 7;
  const long k_max = 20000;
  WithReplacementSampler sampler(n, RandomStream(42, 1));
  std::vector<double> counts(std::size_t(n), 0);
  Batch b;
  for (long k = 0; k < k_max; ++k) {
    sampler.draw(k, s, b);
    REQUIRE(b.size() == std::size_t(s));
    for (auto i : b) {
      REQUIRE(i >= 0);
      REQUIRE(i < n);
      counts[std::size_t(i)] += 1;
    }
  }
  // Each of the m = K·S draws hits index i with probability p = 1/N independently:
  // count_i ~ Binomial(m, p), SE = sqrt(m p (1 − p)). 5 SE: a false alarm has probability < 1e-5 over 13 indices.
  const double m = double(k_max * s), p = 1.0 / double(n), se = std::sqrt(m * p * (1 - p));
  for (double c : counts) CHECK(std::abs(c - m * p) <= 5 * se);
}

TEST_CASE("with replacement: batch k depends on (stream, k) only") {
  WithReplacementSampler a(100, RandomStream(9, 4)), b(100, RandomStream(9, 4)), c(100, RandomStream(9, 5));
  std::vector<Batch> forward;
  for (long k = 0; k < 20; ++k) forward.push_back(a.batch(k, 10));
  for (long k = 19; k >= 0; --k) CHECK(b.batch(k, 10) == forward[std::size_t(k)]);  // any order
  // the first S' indices of batch k do not depend on S (prefix of the same uniforms)
  const Batch longer = b.batch(3, 30);
  CHECK(Batch(longer.begin(), longer.begin() + 10) == forward[3]);
  CHECK(c.batch(0, 10) != forward[0]);  // another stream id, another batch
  CHECK(forward[0] != forward[1]);
}

TEST_CASE("shuffled epochs: each epoch is a permutation; batches inside an epoch never repeat an index") {
  const Eigen::Index n = 20, s = 5;
  ShuffledEpochSampler sampler(n, RandomStream(1, 2));
  Batch b;
  for (long e = 0; e < 10; ++e) {
    std::set<Eigen::Index> seen;
    for (long j = 0; j < n / s; ++j) {
      sampler.draw(e * (n / s) + j, s, b);
      for (auto i : b) CHECK(seen.insert(i).second);
    }
    CHECK(seen.size() == std::size_t(n));
    std::vector<Eigen::Index> p = sampler.permutation(e);
    std::sort(p.begin(), p.end());
    for (Eigen::Index i = 0; i < n; ++i) CHECK(p[std::size_t(i)] == i);
  }
}

TEST_CASE("shuffled epochs: changing batch sizes keep epochs without replacement (drop last)") {
  const Eigen::Index n = 23;
  ShuffledEpochSampler sampler(n, RandomStream(3));
  const Eigen::Index sizes[] = {4, 7, 3, 9, 5};
  Batch b;
  std::set<Eigen::Index> seen;
  long epoch = 0;
  for (long k = 0; k < 200; ++k) {
    const Eigen::Index s = sizes[k % 5];
    sampler.draw(k, s, b);
    if (sampler.epoch() != epoch) {
      epoch = sampler.epoch();
      seen.clear();
    }
    for (auto i : b) CHECK(seen.insert(i).second);
    CHECK(sampler.position() <= n);
  }
  CHECK(epoch > 10);
}

TEST_CASE("shuffled epochs: the k-th draw equals batch(k) for a constant batch size") {
  ShuffledEpochSampler a(50, RandomStream(8, 8)), b(50, RandomStream(8, 8));
  Batch x;
  std::vector<Batch> drawn;
  for (long k = 0; k < 40; ++k) {  // 7 batches per epoch (1 index dropped), 5+ epochs
    a.draw(k, 7, x);
    drawn.push_back(x);
  }
  for (long k = 39; k >= 0; --k) CHECK(b.batch(k, 7) == drawn[std::size_t(k)]);
}

TEST_CASE("shuffled epochs: the shuffle is uniform (position of each element, 5 SE)") {
  // Over E epochs, P(π_e[0] = j) = 1/N for a uniform permutation: count ~ Binomial(E, 1/N).
  // Likewise the position of element 0. 5 SE per cell over 2N cells: false alarm < 1e-5.
  const Eigen::Index n = 8;
  const long epochs = 20000;
  ShuffledEpochSampler sampler(n, RandomStream(77));
  std::vector<double> first(std::size_t(n), 0), where0(static_cast<std::size_t>(n), 0);
  for (long e = 0; e < epochs; ++e) {
    const auto p = sampler.permutation(e);
    first[std::size_t(p[0])] += 1;
    where0[std::size_t(std::find(p.begin(), p.end(), 0) - p.begin())] += 1;
  }
  const double mean = double(epochs) / double(n), se = std::sqrt(double(epochs) * (1.0 / n) * (1 - 1.0 / n));
  for (Eigen::Index j = 0; j < n; ++j) {
    CHECK(std::abs(first[std::size_t(j)] - mean) <= 5 * se);
    CHECK(std::abs(where0[std::size_t(j)] - mean) <= 5 * se);
  }
}

TEST_CASE("variance of a minibatch mean: C/S with replacement, C/S·(N−S)/(N−1) without") {
  // Per-sample "gradients" a_n = n² (any fixed numbers); C = population variance of a.
  const Eigen::Index n = 12, s = 4;
  std::vector<double> a(static_cast<std::size_t>(n));
  for (Eigen::Index i = 0; i < n; ++i) a[std::size_t(i)] = double(i * i);
  double mu = 0, c = 0;
  for (double v : a) mu += v / double(n);
  for (double v : a) c += (v - mu) * (v - mu) / double(n);
  const long k_max = 60000;
  for (bool replace : {true, false}) {
    WithReplacementSampler iid(n, RandomStream(5, 1));
    ShuffledEpochSampler shuffled(n, RandomStream(5, 2));
    Batch b;
    std::vector<double> z(static_cast<std::size_t>(k_max));
    for (long k = 0; k < k_max; ++k) {
      if (replace) iid.draw(k, s, b);
      else shuffled.draw(k, s, b);
      double m = 0;
      for (auto i : b) m += a[std::size_t(i)] / double(s);
      z[std::size_t(k)] = (m - mu) * (m - mu);  // the true mean μ is known: E z = Var(batch mean)
    }
    const double expected = replace ? c / double(s) : c / double(s) * double(n - s) / double(n - 1);
    // E z = expected; SE of the mean of z from its own sample standard deviation (CLT). Batches of one
    // epoch are dependent (they partition π_e), so for the shuffled sampler use epoch means of z
    // (independent across epochs) as the unit: 3 batches per epoch here.
    const long per = replace ? 1 : long(n / s);
    const long units = k_max / per;
    double mz = 0, vz = 0;
    std::vector<double> u(std::size_t(units), 0);
    for (long k = 0; k < units * per; ++k) u[std::size_t(k / per)] += z[std::size_t(k)] / double(per);
    for (double v : u) mz += v / double(units);
    for (double v : u) vz += (v - mz) * (v - mz) / double(units - 1);
    CAPTURE(replace);
    CHECK(std::abs(mz - expected) <= 5 * std::sqrt(vz / double(units)));
    // and the two models are distinguishable at this sample size (the check above has power)
    const double other = replace ? c / double(s) * double(n - s) / double(n - 1) : c / double(s);
    CHECK(std::abs(other - expected) > 10 * std::sqrt(vz / double(units)));
  }
}

TEST_CASE("samplers reject bad input") {
  CHECK_THROWS_AS(WithReplacementSampler(0, RandomStream(1)), sgdsde::invalid_argument);
  CHECK_THROWS_AS(ShuffledEpochSampler(0, RandomStream(1)), sgdsde::invalid_argument);
  WithReplacementSampler a(10, RandomStream(1));
  ShuffledEpochSampler b(10, RandomStream(1));
  Batch x;
  CHECK_THROWS_AS(a.draw(0, 11, x), sgdsde::invalid_argument);  // S > N
  CHECK_THROWS_AS(a.draw(0, 0, x), sgdsde::invalid_argument);   // S < 1
  CHECK_THROWS_AS(a.draw(-1, 3, x), sgdsde::invalid_argument);
  CHECK_THROWS_AS(b.draw(0, 11, x), sgdsde::invalid_argument);
  CHECK_THROWS_AS(b.draw(0, 0, x), sgdsde::invalid_argument);
  CHECK_THROWS_AS(b.draw(1, 3, x), sgdsde::invalid_argument);  // out of sequence
  CHECK_THROWS_AS(b.batch(0, 11), sgdsde::invalid_argument);
  try {
    a.draw(0, 11, x);
  } catch (const sgdsde::invalid_argument& e) {
    CHECK(std::string(e.what()).find("batch_size") != std::string::npos);
    CHECK(std::string(e.what()).find("11") != std::string::npos);
  }
}
