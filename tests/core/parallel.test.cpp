// Tests for sgdsde/core/parallel.hpp and the parallel forms built on it: thread counts, deterministic
// chunking, every item run exactly once, the lowest-index exception, ordered reductions; and the
// determinism contract end to end: ensembles (fused OU kernel d = 1 and d = 5, the chunked stepper loop,
// a diverging ensemble) give the same bits with 1, 2 and 3 threads, and agree with an independent
// serial computation. (simulate_sgd_ensemble is tested in tests/ou/sgd_quadratic.test.cpp, where its
// instantiations already exist: compile time.)
#include "sgdsde/core/parallel.hpp"

#include <atomic>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "sgdsde/core/random.hpp"
#include "sgdsde/ou/ou_process.hpp"
#include "sgdsde/sde/euler_maruyama.hpp"
#include "sgdsde/sde/integrate.hpp"
#include "sgdsde/sde/problem.hpp"

#include <doctest/doctest.h>

#include "support/sweep.hpp"

namespace {
using sgdsde::Index;
using sgdsde::Threads;

using sweep::message_of;
}  // namespace

TEST_CASE("Threads: automatic, explicit, and bad counts named in the message") {
  CHECK(Threads().automatic());
  CHECK(Threads().resolve("f") == sgdsde::available_threads());
  CHECK(Threads(3).resolve("f") == 3);
  CHECK(Threads(3).requested() == 3);
  for (int bad : {0, -1, -1000}) {
    CHECK_THROWS_AS(Threads(bad).resolve("f"), sgdsde::invalid_argument);
    const std::string m = message_of([&] { Threads(bad).resolve("my_function", "options.threads"); });
    CHECK(m.find("my_function") != std::string::npos);
    CHECK(m.find("'options.threads'") != std::string::npos);
    CHECK(m.find(std::to_string(bad)) != std::string::npos);
    CHECK_THROWS_AS(sgdsde::parallel_for("f", 3, bad, [](Index) {}), sgdsde::invalid_argument);
  }
  // Our own test programs are built with OpenMP (sgdsde::openmp through the internal flags).
  CHECK(sgdsde::openmp_enabled());
}

TEST_CASE("chunk_range covers [0, n) in order, independently of any thread count") {
  for (Index n : {0, 1, 7, 64, 1000}) {
    for (Index grain : {1, 3, 64, 5000}) {
      const Index chunks = sgdsde::chunk_count(n, grain);
      CHECK(chunks == (n == 0 ? 0 : (n - 1) / grain + 1));
      Index next = 0;
      for (Index c = 0; c < chunks; ++c) {
        const auto r = sgdsde::chunk_range(n, grain, c);
        CHECK(r.begin == next);
        CHECK(r.size() >= 1);
        CHECK(r.size() <= grain);
        next = r.end;
      }
      CHECK(next == n);
    }
  }
  CHECK_THROWS_AS(sgdsde::chunk_count(10, 0), sgdsde::invalid_argument);
  CHECK_THROWS_AS(sgdsde::chunk_count(-1, 4), sgdsde::invalid_argument);
}

TEST_CASE("parallel_for runs every item once, with slots in range, for 1, 2, 3 threads and both schedules") {
  for (int threads : {1, 2, 3}) {
    for (auto schedule : {sgdsde::Schedule::contiguous, sgdsde::Schedule::dynamic}) {
      for (Index n : {0, 1, 2, 7, 1000}) {
        std::vector<int> count(std::size_t(n), 0);
        const int slots = sgdsde::parallel_slots("t", n, threads);
        CHECK(slots >= 1);
        CHECK(slots <= threads);
        std::atomic<int> bad_slot{0};
        sgdsde::parallel_for("t", n, threads, [&](Index i, int slot) {
          ++count[std::size_t(i)];
          if (slot < 0 || slot >= slots) ++bad_slot;
        }, schedule);
        CHECK(bad_slot.load() == 0);
        for (int c : count) CHECK(c == 1);
      }
    }
  }
  // Two threads really are used for two or more items (the machine may have one core; OpenMP still
  // starts the threads we ask for).
  CHECK(sgdsde::parallel_slots("t", 10, 2) == 2);
}

TEST_CASE("parallel_for: the exception of the lowest item is rethrown and every item still runs") {
  for (int threads : {1, 2, 3}) {
    std::vector<int> ran(40, 0);
    const std::string m = message_of([&] {
      sgdsde::parallel_for("t", 40, threads, [&](Index i) {
        ran[std::size_t(i)] = 1;
        if (i == 31 || i == 7 || i == 19) throw std::runtime_error("item " + std::to_string(i));
      }, sgdsde::Schedule::dynamic);
    });
    CHECK(m == "item 7");
    for (int r : ran) CHECK(r == 1);
  }
}

TEST_CASE("nested loops run serially inside a parallel region") {
  std::vector<int> inner_slots(4, 0);
  sgdsde::parallel_for("outer", 4, 2, [&](Index i) {
    inner_slots[std::size_t(i)] = sgdsde::parallel_slots("inner", 100, 4);
  });
  // Items run on two threads, so each call sees an active region (with one thread there is none).
  for (int s : inner_slots) CHECK(s == 1);
}

TEST_CASE("parallel_reduce sums in item order: the same bits for 1, 2, 3 threads as a serial loop") {
  auto term = [](Index i) { return std::sin(double(i)) / double(i + 1); };
  double serial = 0.25;
  for (Index i = 0; i < 10001; ++i) serial += term(i);
  for (int threads : {1, 2, 3}) {
    const double s = sgdsde::parallel_reduce("t", 10001, threads, 0.25, term, [](double a, double b) { return a + b; });
    CHECK(s == serial);  // bitwise: same order of additions
  }
  const auto squares = sgdsde::parallel_map("t", 5, 3, [](Index i) { return i * i; });
  CHECK(squares == std::vector<Index>{0, 1, 4, 9, 16});
}

TEST_CASE("OU ensembles: the fused kernel gives the same bits for 1, 2, 3 threads") {
  using sgdsde::EulerMaruyama;
  using sgdsde::integrate;
  const sgdsde::TimeGrid grid(0.0, 1.0, 0.01);
  // d = 1: 40000 paths = 20 blocks of 2048 (above the 32768-entry threshold of the threaded step). Against an independent loop over the same normals
  // (normal index k·M + p of the stream): equal to rounding (FMA contraction may differ).
  {
    Eigen::MatrixXd A(1, 1), B(1, 1);
    A << 1.5;
    B << 0.7;
    sgdsde::OrnsteinUhlenbeck ou(A, B);
    Eigen::VectorXd x0(1);
    x0 << 2.0;
    const Index M = 40000;
    const auto one = integrate(ou, EulerMaruyama{}, x0, grid, sgdsde::Ensemble(M), sgdsde::RandomStream(5), 1);
    for (int threads : {2, 3}) {
      const auto r = integrate(ou, EulerMaruyama{}, x0, grid, sgdsde::Ensemble(M), sgdsde::RandomStream(5), threads);
      CHECK(r.outcome.ok());
      CHECK(r.final_state == one.final_state);
    }
    Eigen::ArrayXd x = Eigen::ArrayXd::Constant(M, 2.0), z(M);
    const double dt = 0.01;
    for (long k = 0; k < grid.steps(); ++k) {
      sgdsde::RandomStream(5).normal_at(std::uint64_t(k) * std::uint64_t(M), z);
      x = (1.0 - 1.5 * dt) * x + 0.7 * std::sqrt(dt) * z;
    }
    CHECK((one.final_state.row(0).transpose().array() - x).abs().maxCoeff() < 1e-12);
    // Step-major (an observer forces it) and block-major give the same bits.
    auto none = [](long, double, const Eigen::MatrixXd&) {};
    const auto stepped = integrate(ou, EulerMaruyama{}, x0, grid, sgdsde::Ensemble(M), sgdsde::RandomStream(5), none, 2);
    CHECK(stepped.final_state == one.final_state);
  }
  // d = 5 with a full B (the GEMM path), 8000 paths in blocks of 1632, and save-at states.
  {
    Eigen::MatrixXd A = Eigen::MatrixXd::Identity(5, 5) * 2.0, B(5, 5);
    A(0, 1) = A(1, 0) = 0.3;
    sgdsde::RandomStream(9).fill_normal(B);
    sgdsde::OrnsteinUhlenbeck ou(A, B);
    const Eigen::VectorXd x0 = Eigen::VectorXd::LinSpaced(5, -1.0, 1.0);
    const std::vector<double> save{0.5, 1.0};
    const auto one = integrate(ou, EulerMaruyama{}, x0, grid, sgdsde::Ensemble(8000), sgdsde::RandomStream(6), save, 1);
    // Without an observer the kernel runs block-major (each block through all steps): the same bits.
    for (int threads : {1, 3}) {
      const auto r = integrate(ou, EulerMaruyama{}, x0, grid, sgdsde::Ensemble(8000), sgdsde::RandomStream(6), threads);
      CHECK(r.final_state == one.final_state);
    }
    for (int threads : {2, 3}) {
      const auto r = integrate(ou, EulerMaruyama{}, x0, grid, sgdsde::Ensemble(8000), sgdsde::RandomStream(6), save, threads);
      CHECK(r.final_state == one.final_state);
      REQUIRE(r.states.size() == 2);
      CHECK(r.states[0] == one.states[0]);
    }
  }
}

TEST_CASE("stepper-loop ensembles: chunks of paths give the unchunked bits, for 1, 2, 3 threads") {
  using sgdsde::EulerMaruyama;
  using sgdsde::integrate;
  using Ref = Eigen::Ref<const Eigen::MatrixXd>;
  using Out = Eigen::Ref<Eigen::MatrixXd>;
  // Geometric Brownian motion in 2 dimensions (diagonal noise): elementwise, so the unchunked run (the
  // observer form is never chunked) is an independent reference, bit for bit.
  auto gbm = sgdsde::diagonal_noise_sde(2, [](double, const Ref& X, Out F) { F = 0.1 * X; },
                                        [](double, const Ref& X, Out G) { G = 0.4 * X; });
  const sgdsde::TimeGrid grid(0.0, 1.0, 0.02);
  const Eigen::VectorXd x0 = Eigen::VectorXd::Ones(2);
  const Index M = 1000;  // 4 chunks of 256
  auto none = [](long, double, const Eigen::MatrixXd&) {};
  const auto whole = integrate(gbm, EulerMaruyama{}, x0, grid, sgdsde::Ensemble(M), sgdsde::RandomStream(8), none);
  for (int threads : {1, 2, 3}) {
    const auto r = integrate(gbm, EulerMaruyama{}, x0, grid, sgdsde::Ensemble(M), sgdsde::RandomStream(8), threads);
    CHECK(r.outcome.ok());
    CHECK(r.steps_taken == grid.steps());
    CHECK(r.final_time == whole.final_time);
    CHECK(r.final_state == whole.final_state);
  }
  // A diverging ensemble (dX = X³ dt + dW from large starts) reports the ensemble's first failing step,
  // the same for every thread count.
  auto blowup = sgdsde::additive_noise_sde([](double, const Ref& X, Out F) { F = X.array().cube().matrix(); },
                                           Eigen::MatrixXd::Identity(1, 1));
  Eigen::VectorXd start(1);
  start << 3.0;
  const auto fail1 = integrate(blowup, EulerMaruyama{}, start, grid, sgdsde::Ensemble(600), sgdsde::RandomStream(2), 1);
  CHECK(fail1.outcome.status == sgdsde::Status::non_finite);
  CHECK(fail1.outcome.step >= 0);
  for (int threads : {2, 3}) {
    const auto r = integrate(blowup, EulerMaruyama{}, start, grid, sgdsde::Ensemble(600), sgdsde::RandomStream(2), threads);
    CHECK(r.outcome.status == sgdsde::Status::non_finite);
    CHECK(r.outcome.step == fail1.outcome.step);
    CHECK(r.final_state.cwiseEqual(fail1.final_state).count() + r.final_state.array().isNaN().count() ==
          r.final_state.size());
  }
  CHECK_THROWS_AS(integrate(gbm, EulerMaruyama{}, x0, grid, sgdsde::Ensemble(M), sgdsde::RandomStream(8), 0),
                  sgdsde::invalid_argument);
}
