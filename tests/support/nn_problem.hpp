// Test support for the nn tests: small MLP problems (network, inputs, targets and labels, non-trivial
// batch-norm parameters and running statistics) over every activation, parameterisation, loss and
// batch-norm mode, with inputs kept away from ReLU kinks, and the finite-difference bounds.
// Test-only: it opens namespace sgdsde for the including test file.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "sgdsde/core/random.hpp"
#include "sgdsde/core/scalar.hpp"
#include "sgdsde/nn/mlp.hpp"

using namespace sgdsde;
using nn::Activation;
using nn::Mode;
using nn::Parameterization;

namespace {

template <class T>
using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
template <class T>
using Vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;

// Central differences with h = ε^{1/3} (Constants::fd_step) have truncation error h²|f'''|/6 and
// rounding error ≈ ε|L|/h, ≈ 1e-10 relative in double on these O(1) quantities, so 1e-6 leaves a
// margin of ~1e3 while a missing or wrong derivative term gives O(1). Float: rounding ≈ 1e-7/5e-3 per
// evaluation times the depth of the computation → 1e-2.
template <class T>
T fd_tolerance() {
  return std::is_same_v<T, double> ? T(1e-6) : T(1e-2);
}
// A finite-difference step moves a pre-activation by about h·O(1) (6e-6 in double, 5e-3 in float), so
// |pre-activation| must exceed a few times that for a (leaky) ReLU to be smooth across the stencil.
template <class T>
T kink_margin() {
  return std::is_same_v<T, double> ? T(1e-3) : T(3e-2);
}

template <class T>
T relative_error(const Eigen::Ref<const Mat<T>>& a, const Eigen::Ref<const Mat<T>>& b) {
  return (a - b).norm() / std::max(b.norm(), std::numeric_limits<T>::min());
}

enum class LossKind { squared_error, cross_entropy };

/// An architecture and the loss it is tested with.
struct Config {
  nn::MlpSpec spec;
  LossKind loss = LossKind::squared_error;
};

template <class T>
struct Problem {
  nn::Mlp<T> net;
  Mat<T> x, y;
  Labels labels;
  LossKind kind;

  Problem(const Config& c, Index S, std::uint64_t seed) : net(c.spec), kind(c.loss) {
    net.initialize(RandomStream(seed, 0));
    x.resize(net.input_dim(), S);
    y.resize(net.output_dim(), S);
    RandomStream(seed, 1).fill_normal(x);
    RandomStream(seed, 2).fill_normal(y);
    labels.resize(S);
    for (Index s = 0; s < S; ++s) labels[s] = int((seed + 7 * std::uint64_t(s)) % std::uint64_t(net.output_dim()));
    // γ, β away from their init and non-trivial running statistics, so that eval mode differs from
    // train mode and the batch-norm gradients are generic.
    for (Index l = 0; l < net.num_layers(); ++l)
      if (net.has_batch_norm(l)) {
        Vec<T> r(net.width(l + 1));
        RandomStream(seed, 10 + std::uint64_t(l)).fill_uniform(r);
        net.running_mean(l) = r.array() - T(0.5);
        net.running_var(l) = r.array() * T(2) + T(0.5);
        RandomStream(seed, 20 + std::uint64_t(l)).fill_uniform(net.bn_scale(l));
        net.bn_scale(l).array() += T(0.5);
        RandomStream(seed, 30 + std::uint64_t(l)).fill_normal(net.bn_shift(l));
      }
  }
  bool squared() const { return kind == LossKind::squared_error; }

  /// f(loss value of this problem): the one place that chooses between the two losses.
  template <class F>
  decltype(auto) with_loss(F&& f) const {
    return squared() ? f(nn::SquaredError(y)) : f(nn::SoftmaxCrossEntropy(labels));
  }
  T loss(const nn::Mlp<T>& n, nn::MlpWorkspace<T>& ws, Mode mode) const {
    return with_loss([&](const auto& l) { return nn::loss(n, l, x, ws, mode); });
  }
  T loss_and_gradient(const nn::Mlp<T>& n, Eigen::Ref<Vec<T>> g, nn::MlpWorkspace<T>& ws, Mode mode) const {
    return with_loss([&](const auto& l) { return nn::loss_and_gradient(n, l, x, g, ws, mode); });
  }
  T hvp(const Vec<T>& v, Eigen::Ref<Vec<T>> hv, nn::TangentWorkspace<T>& tw, Mode mode) const {
    return with_loss([&](const auto& l) { return nn::hessian_vector_product(net, l, x, v, hv, tw, mode); });
  }
};

/// The first problem at or after `seed` whose hidden pre-activations all keep kink_margin away from
/// the ReLU kink (deterministic: the same seed is found on every machine).
template <class T>
Problem<T> kink_free_problem(const Config& c, Index S, std::uint64_t seed, Mode mode) {
  const bool kinked =
      c.spec.hidden_activation == Activation::relu || c.spec.hidden_activation == Activation::leaky_relu;
  for (int attempt = 0; attempt < 1000; ++attempt, seed += 1000003) {
    Problem<T> p(c, S, seed);
    if (!kinked) return p;
    nn::MlpWorkspace<T> ws(p.net, S);
    Mat<T> f(p.net.output_dim(), S);
    nn::forward(p.net, p.x, f, ws, mode);
    T m = std::numeric_limits<T>::infinity();
    for (Index l = 0; l + 1 < p.net.num_layers(); ++l)
      m = std::min(m, ws.pre[std::size_t(l)].leftCols(S).cwiseAbs().minCoeff());
    if (m > kink_margin<T>()) return p;
  }
  FAIL("no kink-free problem found");
  return Problem<T>(c, S, seed);
}

/// Every activation × parameterisation × loss × batch norm on a 4-6-5-3 network (erf with a tanh
/// output layer, so the output activation is exercised too).
std::vector<Config> configs() {
  std::vector<Config> out;
  for (Activation a : {Activation::relu, Activation::leaky_relu, Activation::erf, Activation::tanh, Activation::identity})
    for (Parameterization p : {Parameterization::ntk, Parameterization::standard})
      for (LossKind loss : {LossKind::squared_error, LossKind::cross_entropy})
        for (bool bn : {false, true}) {
          Config c{nn::MlpSpec{{4, 6, 5, 3}}, loss};
          c.spec.hidden_activation = a;
          if (a == Activation::erf) c.spec.output_activation = Activation::tanh;
          c.spec.parameterization = p;
          c.spec.batch_norm = bn;
          c.spec.sigma_w = 1.3;
          c.spec.sigma_b = 0.4;
          c.spec.leaky_relu_slope = 0.2;
          c.spec.standard_init = a == Activation::relu ? nn::StandardInit::he : nn::StandardInit::glorot;
          out.push_back(c);
        }
  return out;
}

std::string describe(const Config& c, Mode mode) {
  const nn::MlpSpec& s = c.spec;
  return std::string(nn::to_string(s.hidden_activation)) + "/" + nn::to_string(s.output_activation) + "/" +
         (c.loss == LossKind::squared_error ? "squared_error" : "cross_entropy") +
         (s.parameterization == Parameterization::ntk ? "/ntk" : "/standard") +
         (s.batch_norm ? (mode == Mode::train ? "/bn-train" : "/bn-eval") : "");
}

}  // namespace
