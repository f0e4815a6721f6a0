// bench/nn.bench.cpp — one SGD training step (forward, backward, update) of the 784-100-100-100-10 ReLU
// MLP of include/sgdsde/nn/ on one thread, in float (mlp_step_s*) and double (mlp_step_f64_s*), against
// PyTorch (bench/peers/nn.py), and the GEMM-only rooflines of the same step: the 11 products of forward +
// backward alone, no activations, no loss, no update, with our kernels (mlp_gemms_s*, nn/detail/gemm.hpp)
// and with Eigen's GEMM (mlp_gemms_eigen_s*). Items are steps (or gradients, or Hessian–vector products).
// GEMM-shaped benchmarks carry the counter flop_per_item (2 per multiply–add of their 11 products) and
// flop_f64, from which bench/run.py reports them as a fraction of the FMA peak of bench/peak.bench.cpp.
#include <benchmark/benchmark.h>

#include <string>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

#include "sgdsde/core/random.hpp"
#include "sgdsde/nn/mlp.hpp"

namespace {

const std::vector<Eigen::Index> widths = {784, 100, 100, 100, 10};

/// Flops of the 11 products of one step on S samples: forward W z and weight gradients δ zᵀ for every
/// layer, back-propagation Wᵀ δ for every layer but the first; 2 flops per multiply–add.
double step_flops(Eigen::Index s) {
  double macs = 0;
  for (std::size_t l = 0; l + 1 < widths.size(); ++l) {
    const double w = double(widths[l]) * double(widths[l + 1]);
    macs += (l == 0 ? 2.0 : 3.0) * w * double(s);
  }
  return 2.0 * macs;
}

template <class Scalar>
void set_flops(benchmark::State& state) {
  state.counters["flop_per_item"] = step_flops(state.range(0));
  state.counters["flop_f64"] = std::is_same_v<Scalar, double> ? 1 : 0;
}

/// The benchmarked network, He-initialised; the loss is softmax cross-entropy (bench/peers/nn.py:
/// torch.nn.CrossEntropyLoss).
template <class Scalar = float>
sgdsde::nn::Mlp<Scalar> make_net() {
  sgdsde::nn::Mlp<Scalar> net(widths, sgdsde::nn::Activation::relu, sgdsde::nn::Parameterization::standard);
  net.initialize(sgdsde::RandomStream(99, 0));
  return net;
}

/// A batch of S standard-normal inputs (columns) and labels in [0, 10).
template <class Scalar = float>
struct Batch {
  Eigen::Matrix<Scalar, -1, -1> x;
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
template <class Scalar>
void step_impl(benchmark::State& state, const char* key) {
  const Eigen::Index s = state.range(0);
  sgdsde::nn::Mlp<Scalar> net = make_net<Scalar>();
  sgdsde::nn::MlpWorkspace<Scalar> ws(net, s);
  Eigen::Matrix<Scalar, -1, 1> g(net.num_parameters());
  const Batch<Scalar> batch(s);
  const sgdsde::nn::SoftmaxCrossEntropy loss_fn(batch.labels);
  const Scalar eta = Scalar(1e-3);
  for (auto _ : state) {
    const Scalar loss = sgdsde::nn::loss_and_gradient(net, loss_fn, batch.x, g, ws);
    net.parameters().noalias() -= eta * g;
    benchmark::DoNotOptimize(loss);
  }
  state.counters["loss"] = double(sgdsde::nn::loss_and_gradient(net, loss_fn, batch.x, g, ws));
  set_flops<Scalar>(state);
  set_key(state, key);
}
void mlp_step(benchmark::State& state) { step_impl<float>(state, "mlp_step"); }
void mlp_step_f64(benchmark::State& state) { step_impl<double>(state, "mlp_step_f64"); }

/// The gradient alone (the denominator of the HVP/gradient cost ratio).
void mlp_grad(benchmark::State& state) {
  const Eigen::Index s = state.range(0);
  sgdsde::nn::Mlp<float> net = make_net();
  sgdsde::nn::MlpWorkspace<float> ws(net, s);
  Eigen::VectorXf g(net.num_parameters());
  const Batch<float> batch(s);
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
  Eigen::VectorXf v(net.num_parameters()), hv(net.num_parameters());
  sgdsde::RandomStream(99, 1).fill_normal(v);
  const Batch<float> batch(s);
  const sgdsde::nn::SoftmaxCrossEntropy loss_fn(batch.labels);
  for (auto _ : state) {
    benchmark::DoNotOptimize(sgdsde::nn::hessian_vector_product(net, loss_fn, batch.x, v, hv, tw));
    benchmark::ClobberMemory();
  }
  set_key(state, "mlp_hvp");
}

/// Roofline: the GEMMs of one step with the same shapes, samples as columns —
/// forward A_l = W_l Z_l (4), weight gradients G_l = D_l Z_lᵀ (4), back-propagation D_{l−1} = W_lᵀ D_l (3) —
/// with our kernels (UseEigen = false) or Eigen's GEMM (UseEigen = true).
template <class Scalar, bool UseEigen>
void gemms_impl(benchmark::State& state, const char* key) {
  using Matrix = Eigen::Matrix<Scalar, -1, -1>;
  namespace nd = sgdsde::nn::detail;
  const Eigen::Index s = state.range(0);
  const std::size_t L = widths.size() - 1;
  std::vector<Matrix> w(L), gw(L), z(L + 1), d(L);
  sgdsde::RandomStream rs(7, 0);
  z[0].resize(widths[0], s);
  rs.fill_normal(z[0]);
  for (std::size_t l = 0; l < L; ++l) {
    w[l].resize(widths[l + 1], widths[l]);
    rs.fill_normal(w[l]);
    w[l] *= Scalar(1) / Scalar(widths[l]);
    gw[l].resize(widths[l + 1], widths[l]);
    z[l + 1].resize(widths[l + 1], s);
    d[l].resize(widths[l + 1], s);
    rs.fill_normal(d[l]);
  }
  for (auto _ : state) {
    for (std::size_t l = 0; l < L; ++l) {
      if constexpr (UseEigen) z[l + 1].noalias() = w[l] * z[l];
      else nd::gemm_nn<Scalar>(z[l + 1], Scalar(1), w[l], z[l]);
    }
    for (std::size_t l = L; l-- > 0;) {
      if constexpr (UseEigen) gw[l].noalias() = d[l] * z[l].transpose();
      else nd::gemm_nt<Scalar>(gw[l], Scalar(1), d[l], z[l]);
      if (l > 0) {
        if constexpr (UseEigen) d[l - 1].noalias() = w[l].transpose() * d[l];
        else nd::gemm_tn<Scalar>(d[l - 1], Scalar(1), w[l], d[l]);
      }
    }
    benchmark::DoNotOptimize(gw[0].data());
    benchmark::ClobberMemory();
  }
  set_flops<Scalar>(state);
  set_key(state, key);
}
void mlp_gemms(benchmark::State& state) { gemms_impl<float, false>(state, "mlp_gemms"); }
void mlp_gemms_f64(benchmark::State& state) { gemms_impl<double, false>(state, "mlp_gemms_f64"); }
void mlp_gemms_eigen(benchmark::State& state) { gemms_impl<float, true>(state, "mlp_gemms_eigen"); }

}  // namespace

BENCHMARK(mlp_step)->Arg(32)->Arg(128)->Arg(512)->Unit(benchmark::kMicrosecond);
BENCHMARK(mlp_step_f64)->Arg(32)->Arg(128)->Arg(512)->Unit(benchmark::kMicrosecond);
BENCHMARK(mlp_gemms)->Arg(32)->Arg(128)->Arg(512)->Unit(benchmark::kMicrosecond);
BENCHMARK(mlp_gemms_f64)->Arg(32)->Arg(128)->Arg(512)->Unit(benchmark::kMicrosecond);
BENCHMARK(mlp_gemms_eigen)->Arg(32)->Arg(512)->Unit(benchmark::kMicrosecond);
BENCHMARK(mlp_grad)->Arg(128)->Unit(benchmark::kMicrosecond);
BENCHMARK(mlp_hvp)->Arg(128)->Unit(benchmark::kMicrosecond);

// The step allocates nothing (the kernels of nn/detail/gemm.hpp use no packing buffers), so no malloc
// tuning is needed; only the Eigen reference mlp_gemms_eigen_s* still allocates per product.
BENCHMARK_MAIN();
