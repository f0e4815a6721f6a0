// bench/curvature.bench.cpp — Hessian spectrum estimates of the 784-100-100-100-10 ReLU MLP (float, one thread) on
// 10,000 inputs, against PyTorch double-backward loops (bench/peers/curvature.py): 20 power iterations for λ_max,
// Hutchinson's trace with 100 Rademacher probes, and one HVP / one gradient over the 10,000 samples. The data are
// synthetic, of Fashion-MNIST shape (784 uniform [0, 1) pixels, 10 classes), so no data set is needed. Items are
// whole estimates (one power iteration run of 20 HVPs, one 100-probe trace) or single HVPs / gradients.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include <Eigen/Core>

#include "sgdsde/core/random.hpp"
#include "sgdsde/curvature/hessian.hpp"
#include "sgdsde/curvature/trace.hpp"
#include "sgdsde/nn/mlp.hpp"

namespace {

using Vector = Eigen::VectorXf;
constexpr Eigen::Index kSamples = 10000;

/// He-initialised network (as bench/peers/curvature.py: torch.nn.Linear layers, ReLU, CrossEntropyLoss).
sgdsde::nn::Mlp<float> make_net() {
  sgdsde::nn::Mlp<float> net({784, 100, 100, 100, 10}, sgdsde::nn::Activation::relu,
                             sgdsde::nn::Parameterization::standard);
  net.initialize(sgdsde::RandomStream(99, 0));
  return net;
}

/// 10,000 synthetic images of Fashion-MNIST shape: uniform [0, 1) pixels, labels uniform in [0, 10).
struct Data {
  Eigen::MatrixXf x{784, kSamples};
  sgdsde::Labels labels{kSamples};
  Data() {
    sgdsde::RandomStream(4321, 1).fill_uniform(x);
    Eigen::VectorXf u(kSamples);
    sgdsde::RandomStream(4321, 2).fill_uniform(u);
    for (Eigen::Index i = 0; i < kSamples; ++i) labels[i] = int(u[i] * 10.0f);
  }
};
const Data& data() {
  static const Data d;
  return d;
}

/// The chunk of the operators: large enough for efficient GEMMs, small enough to stay in cache-sized buffers.
sgdsde::curvature::DataPassOptions pass(Eigen::Index chunk) {
  sgdsde::curvature::DataPassOptions o;
  o.chunk_size = chunk;
  o.mode = sgdsde::nn::Mode::eval;
  return o;
}

void set_key(benchmark::State& state, const std::string& key) {
  state.SetLabel(key);
  state.SetItemsProcessed(state.iterations());
}

/// λ_max by 20 power iterations v ← Hv/‖Hv‖ on the full-data Hessian operator (the loop PyHessian runs).
void curv_power20(benchmark::State& state) {
  const auto net = make_net();
  const sgdsde::nn::SoftmaxCrossEntropy loss(data().labels);
  const auto h = sgdsde::curvature::hessian_operator(net, loss, data().x, pass(state.range(0)));
  Vector v(net.num_parameters()), w(net.num_parameters());
  float lambda = 0;
  for (auto _ : state) {
    sgdsde::RandomStream(7, 0).fill_normal(v);
    v.normalize();
    for (int i = 0; i < 20; ++i) {
      h.apply(v, w);
      lambda = v.dot(w);
      v = w / w.norm();
    }
    benchmark::DoNotOptimize(lambda);
  }
  state.counters["lambda_max"] = lambda;
  set_key(state, state.range(0) == 1024 ? "curv_power20_n10000" : "curv_power20_n10000_chunk" + std::to_string(state.range(0)));
}

/// Hutchinson's Tr H with 100 Rademacher probes (curvature/trace.hpp), 100 HVPs over the data.
void curv_hutch100(benchmark::State& state) {
  const auto net = make_net();
  const sgdsde::nn::SoftmaxCrossEntropy loss(data().labels);
  const auto h = sgdsde::curvature::hessian_operator(net, loss, data().x, pass(1024));
  float trace = 0;
  for (auto _ : state) {
    const auto est = sgdsde::curvature::hutchinson_trace(h, 100, sgdsde::RandomStream(8, 0));
    trace = est.estimate;
    benchmark::DoNotOptimize(trace);
  }
  state.counters["trace"] = trace;
  set_key(state, "curv_hutch100_n10000");
}

/// One HVP over the 10,000 samples, and one gradient (the HVP/gradient cost ratio at the operator level).
void curv_hvp(benchmark::State& state) {
  const auto net = make_net();
  const sgdsde::nn::SoftmaxCrossEntropy loss(data().labels);
  const auto h = sgdsde::curvature::hessian_operator(net, loss, data().x, pass(1024));
  Vector v(net.num_parameters()), w(net.num_parameters());
  sgdsde::RandomStream(9, 0).fill_normal(v);
  for (auto _ : state) {
    h.apply(v, w);
    benchmark::DoNotOptimize(w.data());
  }
  set_key(state, "curv_hvp_n10000");
}

void curv_grad(benchmark::State& state) {
  const auto net = make_net();
  const auto& d = data();
  sgdsde::nn::MlpWorkspace<float> ws(net, 1000);
  Vector g(net.num_parameters()), gc(net.num_parameters());
  for (auto _ : state) {
    g.setZero();
    for (Eigen::Index first = 0; first < kSamples; first += 1000) {
      const sgdsde::nn::SoftmaxCrossEntropy loss(d.labels.segment(first, 1000));
      sgdsde::nn::loss_and_gradient(net, loss, d.x.middleCols(first, 1000), gc, ws, sgdsde::nn::Mode::eval);
      g += 0.1f * gc;
    }
    benchmark::DoNotOptimize(g.data());
  }
  set_key(state, "curv_grad_n10000");
}

}  // namespace

BENCHMARK(curv_power20)->Arg(1024)->Arg(10000)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(curv_hutch100)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(curv_hvp)->Unit(benchmark::kMillisecond);
BENCHMARK(curv_grad)->Unit(benchmark::kMillisecond);

#include "heap_main.hpp"
