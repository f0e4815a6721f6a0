// bench/parallel.bench.cpp — scaling of the parallel loops (include/sgdsde/core/parallel.hpp) with the
// thread count, compared by bench/run.py with numpy (one thread) and PyTorch (all cores) in
// bench/peers/parallel.py. Timed in WALL-CLOCK time (UseRealTime: the CPU time of the main thread says
// nothing about a parallel loop); every key ends in _t<threads> (or _all = every core). Keys:
//   par_em_d1_t*      EM on OU d = 1, 10^5 paths (fused kernel), per path-step
//   par_em_d1big_t*   the same with 4·10^6 paths (64 MB of state: the memory-bandwidth end)
//   par_em_d64_t*     EM on OU d = 64 (dense SPD A, B = σ I), 4096 paths, per path-step
//   par_sgd_runs_t*   simulate_sgd_ensemble: 16 runs of SGD on a 16-d quadratic, per SGD step
//   par_train_t*      optim::train_seeds: 16 runs of train() on least squares (d = 16, N = 512), per step
//   par_sweep_t*      optim::run_sweep: a 4 × 4 grid (η × S) of simulate_sgd cells, per SGD step
// The speed-up from 1 to 2 threads is the ratio of the _t1 and _t2 figures (target ≥ 1.8, DESIGN.md).
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <Eigen/QR>

#include "sgdsde/core/parallel.hpp"
#include "sgdsde/core/random.hpp"
#include "sgdsde/optim/parallel_train.hpp"
#include "sgdsde/optim/sweep.hpp"
#include "sgdsde/ou/ou_process.hpp"
#include "sgdsde/ou/sgd_quadratic.hpp"
#include "sgdsde/sde/brownian.hpp"
#include "sgdsde/sde/euler_maruyama.hpp"
#include "sgdsde/sde/integrate.hpp"

#include <string>
#include <vector>

namespace {

using Mat = Eigen::MatrixXd;
using sgdsde::Index;

Mat spd_matrix(Index d, double lo, double hi) {
  Mat g(d, d);
  sgdsde::RandomStream(99).fill_normal(g);
  const Mat q = Eigen::HouseholderQR<Mat>(g).householderQ();
  const Eigen::VectorXd lambda = Eigen::VectorXd::LinSpaced(d, lo, hi);
  return q * lambda.asDiagonal() * q.transpose();
}

int threads_of(const benchmark::State& state) {
  return state.range(0) == 0 ? sgdsde::available_threads() : int(state.range(0));
}

std::string key(const char* base, const benchmark::State& state) {
  return std::string(base) + (state.range(0) == 0 ? "_all" : "_t" + std::to_string(state.range(0)));
}

void em(benchmark::State& state, Index d, Index paths, long steps, const char* base) {
  const Mat a = d == 1 ? Mat::Constant(1, 1, 1.0) : spd_matrix(d, 0.5, 2.0);
  const Mat b = 0.5 * Mat::Identity(d, d);
  const sgdsde::OrnsteinUhlenbeck ou(a, b);
  const sgdsde::BrownianIncrements noise(sgdsde::RandomStream(7, 1), d, paths);
  Mat x = Mat::Zero(d, paths);
  const double dt = 0.01;
  const sgdsde::TimeGrid grid(0.0, double(steps) * dt, dt);
  const int threads = threads_of(state);
  for (auto _ : state) {
    auto sol = sgdsde::integrate(ou, sgdsde::EulerMaruyama{}, x, grid, noise, threads);
    x.swap(sol.final_state);
    benchmark::DoNotOptimize(x.data());
  }
  state.SetItemsProcessed(state.iterations() * steps * paths);
  state.SetLabel(key(base, state));
}

void par_em_d1(benchmark::State& s) { em(s, 1, 100000, 20, "par_em_d1"); }
void par_em_d1big(benchmark::State& s) { em(s, 1, 4000000, 2, "par_em_d1big"); }
void par_em_d64(benchmark::State& s) { em(s, 64, 4096, 10, "par_em_d64"); }

/// A 16-d quadratic with N = 256 per-sample offsets.
sgdsde::Quadratic<double> quadratic() {
  Mat xi(16, 256);
  sgdsde::RandomStream(5).fill_normal(xi);
  xi.colwise() -= xi.rowwise().mean();
  return sgdsde::per_sample_quadratic(spd_matrix(16, 0.2, 2.0), xi);
}

void par_sgd_runs(benchmark::State& state) {
  const auto q = quadratic();
  const long steps = 4000, runs = 16;
  const int threads = threads_of(state);
  for (auto _ : state) {
    auto r = sgdsde::simulate_sgd_ensemble(q, 0.1, sgdsde::with_replacement(8), steps, runs, sgdsde::RandomStream(1),
                                           {}, threads);
    benchmark::DoNotOptimize(r.excess_loss);
  }
  state.SetItemsProcessed(state.iterations() * steps * runs);
  state.SetLabel(key("par_sgd_runs", state));
}

/// Least squares L = (1/2N) Σ (xₙᵀθ − yₙ)², d = 16, N = 512: a Problem for optim::train.
struct LeastSquares {
  using Scalar = double;
  Mat x;
  Eigen::VectorXd y, r;
  LeastSquares() : x(16, 512), y(512), r(512) {
    sgdsde::RandomStream(3).fill_normal(x);
    sgdsde::RandomStream(4).fill_normal(y);
  }
  Index num_samples() const { return 512; }
  Index num_parameters() const { return 16; }
  double loss_and_gradient(const Eigen::Ref<const Eigen::VectorXd>& theta, const sgdsde::Batch& batch,
                           Eigen::Ref<Eigen::VectorXd> g) {
    g.setZero();
    double loss = 0.0;
    for (Index n : batch) {
      const double e = x.col(n).dot(theta) - y(n);
      loss += 0.5 * e * e;
      g.noalias() += e * x.col(n);
    }
    g /= double(batch.size());
    return loss / double(batch.size());
  }
};

void par_train(benchmark::State& state) {
  sgdsde::optim::TrainOptions options;
  options.learning_rate = 0.05;
  options.sampler = sgdsde::with_replacement(32);
  options.steps = 1000;
  std::vector<std::uint64_t> seeds(16);
  for (std::size_t i = 0; i < seeds.size(); ++i) seeds[i] = i + 1;
  const Eigen::VectorXd theta0 = Eigen::VectorXd::Zero(16);
  const int threads = threads_of(state);
  for (auto _ : state) {
    auto runs = sgdsde::optim::train_seeds([](Index) { return LeastSquares(); }, theta0, options, seeds, threads);
    benchmark::DoNotOptimize(runs.data());
  }
  state.SetItemsProcessed(state.iterations() * options.steps * Index(seeds.size()));
  state.SetLabel(key("par_train", state));
}

void par_sweep(benchmark::State& state) {
  const auto q = quadratic();
  sgdsde::optim::SweepGrid grid;
  grid.numbers("eta", {0.02, 0.05, 0.1, 0.2}).integers("S", {4, 8, 16, 32});
  const long steps = 4000;
  sgdsde::optim::SweepOptions o;
  o.threads = threads_of(state);
  for (auto _ : state) {
    auto r = sgdsde::optim::run_sweep(grid, {"excess_loss", "standard_error"}, [&](const sgdsde::optim::SweepCell& c) {
      const auto sim = sgdsde::simulate_sgd(q, c.number("eta"), sgdsde::with_replacement(c.integer("S")), steps,
                                            sgdsde::RandomStream(std::uint64_t(c.index())));
      return sgdsde::optim::SweepRecord{sim.outcome, {sim.excess_loss, sim.standard_error}};
    }, o);
    benchmark::DoNotOptimize(r.records.data());
  }
  state.SetItemsProcessed(state.iterations() * steps * grid.size());
  state.SetLabel(key("par_sweep", state));
}

void thread_counts(benchmark::internal::Benchmark* b) {
  b->Arg(1)->Arg(2)->Arg(0)->UseRealTime()->Unit(benchmark::kMillisecond);
}

}  // namespace

BENCHMARK(par_em_d1)->Apply(thread_counts);
BENCHMARK(par_em_d1big)->Apply(thread_counts);
BENCHMARK(par_em_d64)->Apply(thread_counts);
BENCHMARK(par_sgd_runs)->Apply(thread_counts);
BENCHMARK(par_train)->Apply(thread_counts);
BENCHMARK(par_sweep)->Apply(thread_counts);

BENCHMARK_MAIN();
