// bench/limits.bench.cpp — the learning SDE of limits/learning_sde.hpp on the 784-100-100-10 ReLU MLP (float, one
// thread, N = 256 synthetic inputs of Fashion-MNIST shape): one Euler–Maruyama step of the SDE (drift and the
// matrix-free diffusion from per-sample gradients, full batch N; fused SME1 step, the unfused drift + noise, and
// SME2) against one SGD step at batch S = N on the same network, and per-sample gradients (nn::per_sample_gradients)
// against PyTorch's functorch.vmap and a per-sample loop (bench/peers/limits.py). One item = one step of one path,
// or one P × N matrix of per-sample gradients.
#include <benchmark/benchmark.h>

#include <numeric>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "sgdsde/core/random.hpp"
#include "sgdsde/limits/learning_sde.hpp"
#include "sgdsde/limits/model.hpp"
#include "sgdsde/nn/mlp.hpp"

namespace {

using Matrix = Eigen::MatrixXf;
using Vector = Eigen::VectorXf;
constexpr Eigen::Index kSamples = 256;

/// He-initialised network (as bench/peers/limits.py: torch.nn.Linear layers, ReLU, CrossEntropyLoss).
sgdsde::nn::Mlp<float> make_net() {
  sgdsde::nn::Mlp<float> net({784, 100, 100, 10}, sgdsde::nn::Activation::relu, sgdsde::nn::Parameterization::standard);
  net.initialize(sgdsde::RandomStream(99, 0));
  return net;
}

/// 256 synthetic images: uniform [0, 1) pixels, labels uniform in [0, 10).
struct Data {
  Matrix x{784, kSamples};
  sgdsde::Labels labels{kSamples};
  Data() {
    sgdsde::RandomStream(4321, 1).fill_uniform(x);
    Vector u(kSamples);
    sgdsde::RandomStream(4321, 2).fill_uniform(u);
    for (Eigen::Index i = 0; i < kSamples; ++i) labels[i] = int(u[i] * 10.0f);
  }
};
const Data& data() {
  static const Data d;
  return d;
}

void set_key(benchmark::State& state, const std::string& key) {
  state.SetLabel(key);
  state.SetItemsProcessed(state.iterations());
}

/// GEMM flops of one forward + backward pass over the N samples (forward, weight gradients, and the adjoints of
/// every layer input but the data's): 2N(2 Σ_l n_l n_{l+1} + Σ_{l≥1} n_l n_{l+1}). bench/run.py divides it by
/// the FMA peak of the same run.
double pass_flops(const sgdsde::nn::Mlp<float>& net) {
  double all = 0, inner = 0;
  for (sgdsde::Index l = 0; l < net.num_layers(); ++l) {
    const double w = double(net.width(l)) * double(net.width(l + 1));
    all += w;
    if (l > 0) inner += w;
  }
  return 2.0 * double(kSamples) * (2.0 * all + inner);
}

sgdsde::limits::LearningSdeOptions sde_options(sgdsde::limits::ModifiedEquation eq) {
  sgdsde::limits::LearningSdeOptions o;
  o.learning_rate = 0.05;
  o.sampler = sgdsde::with_replacement(32);
  o.equation = eq;
  return o;
}

/// One SGD step θ ← θ − η g_B at S = N (the model's optim Problem member: optim::MlpProblem underneath).
void lim_sgd_step(benchmark::State& state) {
  const auto net = make_net();
  const sgdsde::nn::SoftmaxCrossEntropy loss(data().labels);
  auto model = sgdsde::limits::mlp_model(net, loss, data().x);
  sgdsde::Batch batch(kSamples);
  std::iota(batch.begin(), batch.end(), sgdsde::Index(0));
  Vector theta = net.parameters(), g(net.num_parameters());
  for (auto _ : state) {
    benchmark::DoNotOptimize(model.loss_and_gradient(theta, batch, g));
    theta -= 0.05f * g;
  }
  state.counters["flop_per_item"] = pass_flops(net);
  set_key(state, "lim_sgd_step_n256");
}

/// One Euler–Maruyama step of one path of the learning SDE, dt = η: the fused step (SME1: one weighted pass),
/// the unfused one (drift pass + noise pass) or SME2 (gradient, HVP and noise passes). Normals included.
void lim_sde_step(benchmark::State& state) {
  const auto net = make_net();
  const sgdsde::nn::SoftmaxCrossEntropy loss(data().labels);
  const auto model = sgdsde::limits::mlp_model(net, loss, data().x);
  const int variant = int(state.range(0));
  const auto sde = sgdsde::limits::learning_sde(
      model, sde_options(variant == 2 ? sgdsde::limits::ModifiedEquation::sme2 : sgdsde::limits::ModifiedEquation::sme1));
  Matrix X = net.parameters(), dW(kSamples, 1), F(X.rows(), 1), G(X.rows(), 1);
  const float dt = 0.05f;
  sgdsde::RandomStream stream(5, 0);
  for (auto _ : state) {
    stream.fill_normal(dW);
    dW *= std::sqrt(dt);
    if (variant == 1) {
      sde.drift(0.0f, X, F);
      sde.diffusion(0.0f, X, G);
      X += dt * F;
      sde.add_noise(G, dW, 1.0f, X);
    } else {
      sde.euler_maruyama_step(0.0f, dt, dW, X);
    }
    benchmark::DoNotOptimize(X.data());
  }
  if (variant == 0) state.counters["flop_per_item"] = pass_flops(net);
  set_key(state, variant == 0 ? "lim_sde_step_n256" : variant == 1 ? "lim_sde_step_unfused_n256" : "lim_sme2_step_n256");
}

/// The P × N per-sample gradients (nn::per_sample_gradients, write-into form with its workspace).
void lim_per_sample(benchmark::State& state) {
  const auto net = make_net();
  const sgdsde::nn::SoftmaxCrossEntropy loss(data().labels);
  sgdsde::nn::MlpWorkspace<float> ws(net, kSamples);
  Matrix g(net.num_parameters(), kSamples);
  for (auto _ : state) {
    benchmark::DoNotOptimize(sgdsde::nn::per_sample_gradients(net, loss, data().x, g, ws));
  }
  set_key(state, "lim_per_sample_n256");
}

}  // namespace

BENCHMARK(lim_sgd_step)->Unit(benchmark::kMicrosecond);
BENCHMARK(lim_sde_step)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond);
BENCHMARK(lim_per_sample)->Unit(benchmark::kMicrosecond);

#include "heap_main.hpp"
