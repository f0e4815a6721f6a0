// bench/nn.bench.cpp — one SGD training step (forward, backward, update) of the 784-100-100-100-10 ReLU
// MLP of include/sgdsde/nn/ in float on one thread, against PyTorch (bench/peers/nn.py), and the
// GEMM-only roofline of the same step: the 11 products of forward + backward with plain Eigen, no
// activations, no loss, no update. Items are steps (or gradients, or Hessian–vector products).
#include <benchmark/benchmark.h>

#include <malloc.h>

#include <string>
#include <vector>

#include <Eigen/Core>

#include "sgdsde/core/random.hpp"
#include "sgdsde/nn/mlp.hpp"

namespace {

using Matrix = Eigen::MatrixXf;
using Vector = Eigen::VectorXf;
const std::vector<Eigen::Index> widths = {784, 100, 100, 100, 10};

/// The benchmarked network, He-initialised; the loss is softmax cross-entropy (bench/peers/nn.py:
/// torch.nn.CrossEntropyLoss).
sgdsde::nn::Mlp<float> make_net() {
  sgdsde::nn::Mlp<float> net(widths, sgdsde::nn::Activation::relu, sgdsde::nn::Parameterization::standard);
  net.initialize(sgdsde::RandomStream(99, 0));
  return net;
}

/// A batch of S standard-normal inputs (columns) and labels in [0, 10).
struct Batch {
  Matrix x;
  sgdsde::Labels labels;
  explicit Batch(Eigen::Index s) : x(widths.front(), s), labels(s) {
    sgdsde::RandomStream(1234, 1).fill_normal(x);
    Eigen::VectorXf u(s);
    sgdsde::RandomStream(1234, 2).fill_uniform(u);
    for (Eigen::Index i = 0; i < s; ++i) labels[i] = int(u[i] * float(widths.back()));
  }
};

void set_key(benchmark::State& state, const char* what) {
  state.SetLabel(std::string(what) + "_s" + std::to_string(state.range(0)));
  state.SetItemsProcessed(state.iterations());
}

/// loss_and_gradient + θ ← θ − η g: a full SGD step, as torch.optim.SGD does it.
void mlp_step(benchmark::State& state) {
  const Eigen::Index s = state.range(0);
  sgdsde::nn::Mlp<float> net = make_net();
  sgdsde::nn::MlpWorkspace<float> ws(net, s);
  Vector g(net.num_parameters());
  const Batch batch(s);
  const sgdsde::nn::SoftmaxCrossEntropy loss_fn(batch.labels);
  const float eta = 1e-3f;
  for (auto _ : state) {
    const float loss = sgdsde::nn::loss_and_gradient(net, loss_fn, batch.x, g, ws);
    net.parameters().noalias() -= eta * g;
    benchmark::DoNotOptimize(loss);
  }
  state.counters["loss"] = sgdsde::nn::loss_and_gradient(net, loss_fn, batch.x, g, ws);
  set_key(state, "mlp_step");
}

/// The gradient alone (the denominator of the HVP/gradient cost ratio).
void mlp_grad(benchmark::State& state) {
  const Eigen::Index s = state.range(0);
  sgdsde::nn::Mlp<float> net = make_net();
  sgdsde::nn::MlpWorkspace<float> ws(net, s);
  Vector g(net.num_parameters());
  const Batch batch(s);
  const sgdsde::nn::SoftmaxCrossEntropy loss_fn(batch.labels);
  for (auto _ : state) {
    benchmark::DoNotOptimize(sgdsde::nn::loss_and_gradient(net, loss_fn, batch.x, g, ws));
    benchmark::ClobberMemory();
  }
  set_key(state, "mlp_grad");
}

/// Exact Hessian–vector product of the same loss (forward-over-reverse with dual numbers,
/// nn/tangent.hpp), in a fixed random direction.
void mlp_hvp(benchmark::State& state) {
  const Eigen::Index s = state.range(0);
  sgdsde::nn::Mlp<float> net = make_net();
  sgdsde::nn::TangentWorkspace<float> tw(net, s);
  Vector v(net.num_parameters()), hv(net.num_parameters());
  sgdsde::RandomStream(99, 1).fill_normal(v);
  const Batch batch(s);
  const sgdsde::nn::SoftmaxCrossEntropy loss_fn(batch.labels);
  for (auto _ : state) {
    benchmark::DoNotOptimize(sgdsde::nn::hessian_vector_product(net, loss_fn, batch.x, v, hv, tw));
    benchmark::ClobberMemory();
  }
  set_key(state, "mlp_hvp");
}

/// Roofline: the GEMMs of one step with the same shapes, samples as columns —
/// forward A_l = W_l Z_l (4), weight gradients G_l = D_l Z_lᵀ (4), back-propagation D_{l−1} = W_lᵀ D_l (3).
void mlp_gemms(benchmark::State& state) {
  const Eigen::Index s = state.range(0);
  const std::size_t L = widths.size() - 1;
  std::vector<Matrix> w(L), gw(L), z(L + 1), d(L);
  sgdsde::RandomStream rs(7, 0);
  z[0].resize(widths[0], s);
  rs.fill_normal(z[0]);
  for (std::size_t l = 0; l < L; ++l) {
    w[l].resize(widths[l + 1], widths[l]);
    rs.fill_normal(w[l]);
    w[l] *= 1.0f / float(widths[l]);
    gw[l].resize(widths[l + 1], widths[l]);
    z[l + 1].resize(widths[l + 1], s);
    d[l].resize(widths[l + 1], s);
    rs.fill_normal(d[l]);
  }
  for (auto _ : state) {
    for (std::size_t l = 0; l < L; ++l) z[l + 1].noalias() = w[l] * z[l];
    for (std::size_t l = L; l-- > 0;) {
      gw[l].noalias() = d[l] * z[l].transpose();
      if (l > 0) d[l - 1].noalias() = w[l].transpose() * d[l];
    }
    benchmark::DoNotOptimize(gw[0].data());
    benchmark::ClobberMemory();
  }
  set_key(state, "mlp_gemms");
}

}  // namespace

BENCHMARK(mlp_step)->Arg(32)->Arg(128)->Arg(512)->Unit(benchmark::kMicrosecond);
BENCHMARK(mlp_gemms)->Arg(32)->Arg(128)->Arg(512)->Unit(benchmark::kMicrosecond);
BENCHMARK(mlp_grad)->Arg(128)->Unit(benchmark::kMicrosecond);
BENCHMARK(mlp_hvp)->Arg(128)->Unit(benchmark::kMicrosecond);

// Eigen's GEMM takes its packing buffers (≥ 128 KB here, 2 per product) from malloc on every call.
// With glibc's default thresholds these are mmap'ed or trimmed and faulted in again on many calls,
// which made a step up to 4× slower depending on the heap state left by earlier benchmarks. Keeping
// freed memory in the heap gives every benchmark (and bench/run.py gives the peers, through
// GLIBC_TUNABLES) the same steady state. See docs/benchmarks.md.
int main(int argc, char** argv) {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
