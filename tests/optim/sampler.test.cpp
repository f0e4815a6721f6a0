// Tests of the minibatch samplers as train() uses them (core/minibatch.hpp: BatchDrawer and noise_law):
// index frequencies with replacement (binomial, 5 SE), fresh subsets without repeats, epochs as
// permutations, uniformity of the shuffles, regenerability of batch k, the variance of a minibatch mean
// and the within-epoch cross-covariance against noise_law (C/S, C/S·(N−S)/(N−1), −C/(N−1)), cyclic
// batch sizes, and bad input.
#include "sgdsde/core/minibatch.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include <doctest/doctest.h>

using sgdsde::Batch;
using sgdsde::BatchDrawer;
using sgdsde::BatchSizeSchedule;
using sgdsde::Index;
using sgdsde::RandomStream;

TEST_CASE("with replacement: every index has frequency 1/N within 5 binomial standard errors") {
  const Index n = 13, s = 7;
  const long k_max = 20000;
  BatchDrawer drawer(sgdsde::with_replacement(s), n, RandomStream(42, 1));
  std::vector<double> counts(std::size_t(n), 0);
  Batch b;
  for (long k = 0; k < k_max; ++k) {
    drawer.next(k, b);
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

TEST_CASE("independent samplers: batch k depends on (stream, k) only; fresh subsets never repeat an index") {
  for (const sgdsde::Sampler sampler : {sgdsde::Sampler(sgdsde::with_replacement(10)), sgdsde::Sampler(sgdsde::fresh_subset(10))}) {
    CAPTURE(sgdsde::name_of(sampler));
    BatchDrawer a(sampler, 100, RandomStream(9, 4)), b(sampler, 100, RandomStream(9, 4)),
        c(sampler, 100, RandomStream(9, 5));
    std::vector<Batch> forward;
    Batch x;
    for (long k = 0; k < 20; ++k) {
      a.next(k, x);
      forward.push_back(x);
    }
    for (long k = 19; k >= 0; --k) CHECK(b.batch(k) == forward[std::size_t(k)]);  // any order
    CHECK(c.batch(0) != forward[0]);  // another stream id, another batch
    CHECK(forward[0] != forward[1]);
    if (std::holds_alternative<sgdsde::FreshSubset>(sampler))
      for (const auto& batch : forward) CHECK(std::set<Index>(batch.begin(), batch.end()).size() == batch.size());
  }
}

TEST_CASE("shuffled epochs: each epoch is a permutation; batches inside an epoch never repeat an index") {
  const Index n = 20, s = 5;
  BatchDrawer drawer(sgdsde::shuffled_epochs(s), n, RandomStream(1, 2));
  Batch b;
  for (long e = 0; e < 10; ++e) {
    std::set<Index> seen;
    for (long j = 0; j < n / s; ++j) {
      drawer.next(e * (n / s) + j, b);
      for (auto i : b) CHECK(seen.insert(i).second);
    }
    CHECK(seen.size() == std::size_t(n));
    std::vector<Index> p = drawer.permutation(e);
    std::sort(p.begin(), p.end());
    for (Index i = 0; i < n; ++i) CHECK(p[std::size_t(i)] == i);
  }
}

TEST_CASE("shuffled epochs: a cyclic batch size keeps epochs without replacement (drop last)") {
  // S_k = 3, 5, 7, 9, 7, 5, 3, ... on N = 23: each batch is a run of the current permutation; a batch
  // that does not fit in the rest of the epoch starts the next permutation.
  const Index n = 23;
  const auto sizes = BatchSizeSchedule::cyclic(3, 9, 3);
  BatchDrawer drawer(sgdsde::shuffled_epochs(sizes), n, RandomStream(3));
  Batch b;
  std::set<Index> seen;
  long epoch = 0;
  Index position = 0;
  for (long k = 0; k < 200; ++k) {
    const Index s = sizes(k);
    if (position + s > n) {
      ++epoch;
      position = 0;
      seen.clear();
    }
    drawer.next(k, b);
    REQUIRE(b.size() == std::size_t(s));
    const auto p = drawer.permutation(epoch);
    CHECK(Batch(p.begin() + position, p.begin() + position + s) == b);
    for (auto i : b) CHECK(seen.insert(i).second);
    position += s;
  }
  CHECK(epoch > 30);
}

TEST_CASE("shuffled epochs: the k-th draw equals batch(k) for a constant batch size") {
  BatchDrawer a(sgdsde::shuffled_epochs(7), 50, RandomStream(8, 8)), b(sgdsde::shuffled_epochs(7), 50, RandomStream(8, 8));
  Batch x;
  std::vector<Batch> drawn;
  for (long k = 0; k < 40; ++k) {  // 7 batches per epoch (1 index dropped), 5+ epochs
    a.next(k, x);
    drawn.push_back(x);
  }
  for (long k = 39; k >= 0; --k) CHECK(b.batch(k) == drawn[std::size_t(k)]);
}

TEST_CASE("shuffled epochs: the shuffle is uniform (position of each element, 5 SE)") {
  // Over E epochs, P(π_e[0] = j) = 1/N for a uniform permutation: count ~ Binomial(E, 1/N).
  // Likewise the position of element 0. 5 SE per cell over 2N cells: false alarm < 1e-5.
  const Index n = 8;
  const long epochs = 20000;
  BatchDrawer drawer(sgdsde::shuffled_epochs(2), n, RandomStream(77));
  std::vector<double> first(std::size_t(n), 0), where0(static_cast<std::size_t>(n), 0);
  for (long e = 0; e < epochs; ++e) {
    const auto p = drawer.permutation(e);
    first[std::size_t(p[0])] += 1;
    where0[std::size_t(std::find(p.begin(), p.end(), 0) - p.begin())] += 1;
  }
  const double mean = double(epochs) / double(n), se = std::sqrt(double(epochs) * (1.0 / n) * (1 - 1.0 / n));
  for (Index j = 0; j < n; ++j) {
    CHECK(std::abs(first[std::size_t(j)] - mean) <= 5 * se);
    CHECK(std::abs(where0[std::size_t(j)] - mean) <= 5 * se);
  }
}

TEST_CASE("minibatch means have the noise law each sampler declares (variance and within-epoch covariance)") {
  // Per-sample "gradients" a_n = n² (any fixed numbers); C = population variance of a. ε_k = batch mean − μ.
  // noise_law gives Var ε_k = v·C and, for two batches of one epoch, Cov(ε_k, ε_j) = c·C.
  const Index n = 12, s = 4;
  std::vector<double> a(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) a[std::size_t(i)] = double(i * i);
  double mu = 0, c = 0;
  for (double v : a) mu += v / double(n);
  for (double v : a) c += (v - mu) * (v - mu) / double(n);
  const long k_max = 60000;  // a multiple of the 3 batches per epoch
  for (const sgdsde::Sampler sampler : {sgdsde::Sampler(sgdsde::with_replacement(s)), sgdsde::Sampler(sgdsde::fresh_subset(s)),
                                        sgdsde::Sampler(sgdsde::shuffled_epochs(s))}) {
    CAPTURE(sgdsde::name_of(sampler));
    const auto law = sgdsde::noise_law(sampler, n);
    BatchDrawer drawer(sampler, n, RandomStream(5, 1));
    Batch b;
    std::vector<double> eps(static_cast<std::size_t>(k_max));
    for (long k = 0; k < k_max; ++k) {
      drawer.next(k, b);
      double m = 0;
      for (auto i : b) m += a[std::size_t(i)] / double(s);
      eps[std::size_t(k)] = m - mu;  // the true mean μ is known: E ε² = Var(batch mean)
    }
    // Units of 3 consecutive batches (an epoch for shuffled epochs, independent across units for every
    // sampler): per unit the mean of ε_k² (estimates v·C) and the mean of the 3 products ε_k ε_j, k < j
    // (estimates c·C). SE of each mean from the sample standard deviation of its unit values (CLT).
    const long per = 3, units = k_max / per;
    std::vector<double> sq(std::size_t(units), 0), cross(std::size_t(units), 0);
    for (long u = 0; u < units; ++u) {
      const double* e = &eps[std::size_t(u * per)];
      sq[std::size_t(u)] = (e[0] * e[0] + e[1] * e[1] + e[2] * e[2]) / 3;
      cross[std::size_t(u)] = (e[0] * e[1] + e[0] * e[2] + e[1] * e[2]) / 3;
    }
    auto mean_se = [&](const std::vector<double>& x) {
      double m = 0, v = 0;
      for (double y : x) m += y / double(x.size());
      for (double y : x) v += (y - m) * (y - m) / double(x.size() - 1);
      return std::pair<double, double>(m, std::sqrt(v / double(x.size())));
    };
    const auto [var_mean, var_se] = mean_se(sq);
    const auto [cross_mean, cross_se] = mean_se(cross);
    CHECK(std::abs(var_mean - law.variance_factor * c) <= 5 * var_se);
    CHECK(std::abs(cross_mean - law.cross_factor * c) <= 5 * cross_se);
    // the laws are distinguishable at this sample size (the checks above have power): with replacement
    // 1/S vs (N−S)/(S(N−1)); shuffled epochs' cross term −C/(N−1) vs 0
    CHECK(std::abs(1.0 / double(s) - double(n - s) / double(s * (n - 1))) * c > 10 * var_se);
    CHECK(c / double(n - 1) > 10 * cross_se);
  }
}

TEST_CASE("batch-size schedules at key steps") {
  const BatchSizeSchedule c = 32;  // a number is a constant schedule
  CHECK(c(0) == 32);
  CHECK(c(1000) == 32);
  CHECK(c.max() == 32);

  // Jastrzębski et al. Fig. 1 CBS: between 128 and 640.
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
  for (long k = 0; k <= 16; ++k) {
    const double eta = 0.005;
    const double clr = eta - (eta - eta * 128.0 / 640.0) * (k <= 8 ? k / 8.0 : (16 - k) / 8.0);
    CHECK(eta / double(inv(k)) == doctest::Approx(clr / 128.0).epsilon(0.5 / 128.0).scale(0));
  }
}

TEST_CASE("samplers reject bad input") {
  CHECK_THROWS_AS(BatchDrawer(sgdsde::with_replacement(1), 0, RandomStream(1)), sgdsde::invalid_argument);
  CHECK_THROWS_AS(BatchDrawer(sgdsde::shuffled_epochs(11), 10, RandomStream(1)), sgdsde::invalid_argument);  // S > N
  CHECK_THROWS_AS(BatchDrawer(sgdsde::fresh_subset(11), 10, RandomStream(1)), sgdsde::invalid_argument);
  CHECK_NOTHROW(BatchDrawer(sgdsde::with_replacement(11), 10, RandomStream(1)));  // S > N is fine with replacement
  CHECK_THROWS_AS(BatchSizeSchedule(0), sgdsde::invalid_argument);
  CHECK_THROWS_AS(BatchSizeSchedule::cyclic(0, 5, 3), sgdsde::invalid_argument);
  CHECK_THROWS_AS(BatchSizeSchedule::cyclic(6, 5, 3), sgdsde::invalid_argument);
  CHECK_THROWS_AS(BatchSizeSchedule::cyclic(1, 5, 0), sgdsde::invalid_argument);
  BatchDrawer b(sgdsde::shuffled_epochs(3), 10, RandomStream(1));
  Batch x;
  CHECK_THROWS_AS(b.next(1, x), sgdsde::invalid_argument);  // out of sequence
  CHECK_THROWS_AS(b.next(-1, x), sgdsde::invalid_argument);
  try {
    BatchDrawer(sgdsde::shuffled_epochs(11), 10, RandomStream(1));
  } catch (const sgdsde::invalid_argument& e) {
    CHECK(std::string(e.what()).find("batch_size") != std::string::npos);
    CHECK(std::string(e.what()).find("11") != std::string::npos);
  }
}
