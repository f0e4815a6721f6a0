// Test support for the nn derivative tests (tangent, jvp): small MLP problems over every activation,
// loss and batch-norm mode, with inputs kept away from ReLU kinks, and the finite-difference bounds.
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
#include "sgdsde/nn/tangent.hpp"

using namespace sgdsde;
using nn::Activation;
using nn::Loss;
using nn::Mode;

namespace {

template <class T>
using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
template <class T>
using Vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;

// Central differences with h = ε^{1/3} (Constants::fd_step) have relative error ≈ 1e-10 in double
// on these O(1) quantities (truncation h²/6·|f'''|, rounding ε/h), so 1e-6 has a margin of ~1e3 while
// a missing or wrong derivative term gives O(1). Float: rounding ≈ 1e-7/5e-3 per evaluation → 1e-2.
template <class T>
T fd_tolerance() {
  return std::is_same_v<T, double> ? T(1e-6) : T(1e-2);
}
template <class T>
T kink_margin() {
  return std::is_same_v<T, double> ? T(1e-3) : T(3e-2);
}

template <class T>
T relative_error(const Eigen::Ref<const Mat<T>>& a, const Eigen::Ref<const Mat<T>>& b) {
  return (a - b).norm() / std::max(b.norm(), std::numeric_limits<T>::min());
}

template <class T>
struct Problem {
  nn::Mlp<T> net;
  Mat<T> x, y;
  Eigen::VectorXi labels;
  Problem(const nn::MlpSpec& spec, Eigen::Index S, std::uint64_t seed) : net(spec) {
    RandomStream init(seed, 0);
    net.initialize(init);
    x.resize(net.input_dim(), S);
    y.resize(net.output_dim(), S);
    RandomStream(seed, 1).fill_normal(x);
    RandomStream(seed, 2).fill_normal(y);
    labels.resize(S);
    for (Eigen::Index s = 0; s < S; ++s) labels[s] = int((seed + 7 * std::uint64_t(s)) % std::uint64_t(net.output_dim()));
    for (Eigen::Index l = 0; l < net.num_layers(); ++l)
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
  bool squared() const { return net.spec().loss == Loss::squared_error; }
  T loss_and_gradient(const nn::Mlp<T>& n, Eigen::Ref<Vec<T>> g, nn::MlpWorkspace<T>& ws, Mode mode) const {
    return squared() ? nn::loss_and_gradient(n, x, y, g, ws, mode) : nn::loss_and_gradient(n, x, labels, g, ws, mode);
  }
  T hvp(const Vec<T>& v, Eigen::Ref<Vec<T>> hv, nn::TangentWorkspace<T>& tw, Mode mode) const {
    return squared() ? nn::hessian_vector_product(net, x, y, v, hv, tw, mode)
                     : nn::hessian_vector_product(net, x, labels, v, hv, tw, mode);
  }
};

template <class T>
Problem<T> kink_free_problem(const nn::MlpSpec& spec, Eigen::Index S, std::uint64_t seed, Mode mode) {
  const bool kinked =
      spec.hidden_activation == Activation::relu || spec.hidden_activation == Activation::leaky_relu;
  for (int attempt = 0; attempt < 1000; ++attempt, seed += 1000003) {
    Problem<T> p(spec, S, seed);
    if (!kinked) return p;
    nn::MlpWorkspace<T> ws(p.net, S);
    Mat<T> f(p.net.output_dim(), S);
    nn::forward(p.net, p.x, f, ws, mode);
    T m = std::numeric_limits<T>::infinity();
    for (Eigen::Index l = 0; l + 1 < p.net.num_layers(); ++l)
      m = std::min(m, ws.pre[std::size_t(l)].leftCols(S).cwiseAbs().minCoeff());
    if (m > kink_margin<T>()) return p;
  }
  FAIL("no kink-free problem found");
  return Problem<T>(spec, S, seed);
}

std::vector<nn::MlpSpec> specs() {
  std::vector<nn::MlpSpec> out;
  for (Activation a : {Activation::relu, Activation::leaky_relu, Activation::erf, Activation::tanh, Activation::identity})
    for (Loss loss : {Loss::squared_error, Loss::softmax_cross_entropy})
      for (bool bn : {false, true}) {
        nn::MlpSpec s{{4, 6, 5, 3}};
        s.hidden_activation = a;
        s.loss = loss;
        s.batch_norm = bn;
        s.sigma_w = 1.3;
        s.sigma_b = 0.4;
        s.leaky_relu_slope = 0.2;
        if (a == Activation::erf) s.output_activation = Activation::tanh;
        out.push_back(s);
      }
  nn::MlpSpec standard{{4, 6, 3}};
  standard.parameterization = nn::Parameterization::standard;
  standard.hidden_activation = Activation::tanh;
  out.push_back(standard);
  return out;
}

std::string describe(const nn::MlpSpec& s, Mode mode) {
  return std::string(nn::to_string(s.hidden_activation)) + "/" + nn::to_string(s.loss) +
         (s.batch_norm ? (mode == Mode::train ? "/bn-train" : "/bn-eval") : "");
}

}  // namespace
