// bench/sde.bench.cpp — Euler–Maruyama on Ornstein–Uhlenbeck ensembles through integrate() (which picks the
// fused kernel of include/sgdsde/sde/ou_euler_maruyama.hpp for an OrnsteinUhlenbeck problem, and the generic
// stepper loop for the same drift written as a callable), compared by bench/run.py with numpy (bench/peers/sde.py).
// Items are path-steps (paths × steps); f64; the state of every path is carried across iterations.
//   em_ou_d1        d = 1, 10^5 paths, fused kernel
//   em_ou_d64       d = 64, 1000 paths, dense SPD A, B = σ I, fused kernel
//   gemm_d64        the 64×64 by 64×1000 product alone (the roofline of em_ou_d64), per path-step
//   em_ou_d64_dense d = 64 with a dense 64×64 B (two GEMMs per step; no peer)
//   em_ou_d1_generic, em_ou_d64_generic  the same drift as a callable: the generic EulerMaruyama loop (no peer)
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <Eigen/QR>

#include "sgdsde/core/random.hpp"
#include "sgdsde/ou/ou_process.hpp"
#include "sgdsde/sde/brownian.hpp"
#include "sgdsde/sde/euler_maruyama.hpp"
#include "sgdsde/sde/integrate.hpp"
#include "sgdsde/sde/problem.hpp"

namespace {

using Mat = Eigen::MatrixXd;
constexpr long steps_per_iteration = 100;

/// A dense SPD matrix with eigenvalues in [0.5, 2]: Q diag(λ) Qᵀ with Q from a QR of a random matrix.
Mat spd_matrix(Eigen::Index d) {
  Mat g(d, d);
  sgdsde::RandomStream(99).fill_normal(g);
  const Mat q = Eigen::HouseholderQR<Mat>(g).householderQ();
  const Eigen::VectorXd lambda = Eigen::VectorXd::LinSpaced(d, 0.5, 2.0);
  return q * lambda.asDiagonal() * q.transpose();
}

template <bool Fused>
void run_ou(benchmark::State& state, Eigen::Index d, Eigen::Index paths, const Mat& a, const Mat& b,
            const char* key) {
  const sgdsde::OrnsteinUhlenbeck ou(a, b);
  // The same SDE with the drift as an opaque callable: integrate() cannot fuse it.
  const auto generic = sgdsde::additive_noise_sde(
      [&a](double, const Eigen::Ref<const Mat>& x, Eigen::Ref<Mat> f) {
        if (a.rows() == 1)
          f.array() = -a(0, 0) * x.array();
        else
          f.noalias() = -a * x;
      },
      b);
  const sgdsde::BrownianIncrements noise(sgdsde::RandomStream(7, 1), b.cols(), paths);
  Mat x = Mat::Zero(d, paths);
  const double dt = 0.01;
  const sgdsde::TimeGrid grid(0.0, steps_per_iteration * dt, dt);
  for (auto _ : state) {
    if constexpr (Fused) {
      auto sol = sgdsde::integrate(ou, sgdsde::EulerMaruyama{}, x, grid, noise);
      x.swap(sol.final_state);
    } else {
      auto sol = sgdsde::integrate(generic, sgdsde::EulerMaruyama{}, x, grid, noise);
      x.swap(sol.final_state);
    }
    benchmark::DoNotOptimize(x.data());
  }
  state.SetItemsProcessed(state.iterations() * steps_per_iteration * paths);
  state.SetLabel(key);
}

void em_ou_d1(benchmark::State& s) {
  run_ou<true>(s, 1, 100000, Mat::Constant(1, 1, 1.0), Mat::Constant(1, 1, 0.5), "em_ou_d1");
}
void em_ou_d1_generic(benchmark::State& s) {
  run_ou<false>(s, 1, 100000, Mat::Constant(1, 1, 1.0), Mat::Constant(1, 1, 0.5), "em_ou_d1_generic");
}
void em_ou_d64(benchmark::State& s) {
  run_ou<true>(s, 64, 1000, spd_matrix(64), 0.5 * Mat::Identity(64, 64), "em_ou_d64");
}
void em_ou_d64_generic(benchmark::State& s) {
  run_ou<false>(s, 64, 1000, spd_matrix(64), 0.5 * Mat::Identity(64, 64), "em_ou_d64_generic");
}
void em_ou_d64_dense(benchmark::State& s) {
  run_ou<true>(s, 64, 1000, spd_matrix(64), 0.1 * spd_matrix(64), "em_ou_d64_dense");
}

void gemm_d64(benchmark::State& state) {
  const Mat p = Mat::Identity(64, 64) - 0.01 * spd_matrix(64);
  Mat x = Mat::Ones(64, 1000), y(64, 1000);
  for (auto _ : state) {
    y.noalias() = p * x;
    x.swap(y);
    benchmark::DoNotOptimize(x.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * 1000);
  state.SetLabel("gemm_d64");
}

}  // namespace

BENCHMARK(em_ou_d1)->Unit(benchmark::kMillisecond);
BENCHMARK(em_ou_d1_generic)->Unit(benchmark::kMillisecond);
BENCHMARK(em_ou_d64)->Unit(benchmark::kMillisecond);
BENCHMARK(em_ou_d64_generic)->Unit(benchmark::kMillisecond);
BENCHMARK(em_ou_d64_dense)->Unit(benchmark::kMillisecond);
BENCHMARK(gemm_d64)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
