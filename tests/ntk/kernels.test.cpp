// Tests for sgdsde/ntk/kernels.hpp and sgdsde/ntk/empirical.hpp: closed forms against quadrature,
// hand-worked kernels, deep linear nets as polynomials, symmetry/PSD, the input gradient against
// finite differences, numerical safety, the structured empirical NTK against J Jᵀ from
// nn::output_jacobian, the matrix-free product, and empirical → analytic at rate width^(−1/2).
#include "sgdsde/ntk/empirical.hpp"
#include "sgdsde/ntk/kernels.hpp"

#include <cmath>
#include <limits>
#include <utility>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <Eigen/Cholesky>

#include "sgdsde/core/random.hpp"

using namespace sgdsde;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {

MatrixXd normal_points(Index d, Index n, std::uint64_t seed) {
  MatrixXd x(d, n);
  RandomStream(seed).fill_normal(x);
  return x;
}

double max_abs(const MatrixXd& a) { return a.cwiseAbs().maxCoeff(); }

nn::MlpSpec spec_of(std::vector<Index> widths, nn::Activation a, double sw = 1.3, double sb = 0.2) {
  nn::MlpSpec s;
  s.widths = std::move(widths);
  s.hidden_activation = a;
  s.sigma_w = sw;
  s.sigma_b = sb;
  s.leaky_relu_slope = 0.2;
  return s;
}

}  // namespace

TEST_CASE("closed forms agree with the quadrature path to 1e-10") {
  // Points in general position (no pair near correlation ±1, where the ReLU kernel has a cusp and
  // any evaluation is sensitive at √ε): two independent evaluations of the same recursion.
  const MatrixXd x = normal_points(4, 7, 11);
  ntk::KernelOptions quad;
  quad.quadrature = true;
  quad.quadrature_nodes = 64;  // erf' = e^{−u²} is narrow at the large variances of the standard parameterisation
  for (auto a : {nn::Activation::relu, nn::Activation::leaky_relu, nn::Activation::erf, nn::Activation::identity})
    for (auto p : {nn::Parameterization::ntk, nn::Parameterization::standard}) {
      const std::string name = nn::to_string(a);
      CAPTURE(name);
      nn::MlpSpec s = spec_of({4, 50, 40, 30, 1}, a);
      s.parameterization = p;
      const auto c = ntk::analytic_kernels(s, x, x);
      const auto q = ntk::analytic_kernels(s, x, x, quad);
      REQUIRE(c.outcome.ok());
      CHECK(max_abs(c.nngp - q.nngp) <= 1e-10 * max_abs(c.nngp));
      CHECK(max_abs(c.ntk - q.ntk) <= 1e-10 * max_abs(c.ntk));
    }
  // tanh has no closed form: the split Gauss–Legendre rule against tensor Gauss–Hermite (200 nodes)
  ntk::KernelOptions gh;
  gh.quadrature_rule = ntk::QuadratureRule::gauss_hermite;
  gh.quadrature_nodes = 200;
  // (variances O(1): Gauss–Hermite converges slowly for tanh at large variance, see docs)
  const nn::MlpSpec s = spec_of({4, 50, 40, 1}, nn::Activation::tanh, 1.0, 0.2);
  const MatrixXd xt = 0.5 * x;
  const auto a = ntk::analytic_kernels(s, xt);
  const auto b = ntk::analytic_kernels(s, xt, xt, gh);
  CHECK(max_abs(a.ntk - b.ntk) <= 1e-10 * max_abs(a.ntk));
  CHECK(max_abs(a.nngp - b.nngp) <= 1e-10 * max_abs(a.nngp));
  // a user functor equal to tanh gives the built-in tanh kernel exactly (same rule, same nodes)
  const auto f = ntk::activation_function([](double u) { return std::tanh(u); },
                                          [](double u) { return 1 - std::tanh(u) * std::tanh(u); });
  const auto u = ntk::analytic_kernels(s, xt, f);
  CHECK(max_abs(u.ntk - a.ntk) <= 1e-14 * max_abs(a.ntk));
}

TEST_CASE("one hidden ReLU layer, worked by hand") {
  // d = 2, σ_w = 1, σ_b = 0: K¹(x, x') = xᵀx'/2. x = e1, x' = e2: K¹ = 0, q = 1/2, θ = π/2,
  // K² = q/(2π)·(sin θ + (π − θ) cos θ) = 1/(4π), Ė = (π − θ)/(2π) = 1/4, Θ² = K² + Ė·Θ¹ = 1/(4π).
  // x' = x: K² = q/2 = 1/4, Θ² = 1/4 + ½·½ = 1/2. x' = −x: θ = π, K² = 0, Θ² = 0 + 0·(−½) = 0.
  // x' = 0: K¹ = 0 and q' = 0 (no 0/0): K² = 0, Θ² = 0.
  const nn::MlpSpec s = spec_of({2, 100, 1}, nn::Activation::relu, 1.0, 0.0);
  MatrixXd x(2, 1), y(2, 4);
  x << 1, 0;
  y << 0, 1, -1, 0, 1, 0, 0, 0;
  const auto k = ntk::analytic_kernels(s, x, y);
  const double pi = 3.14159265358979323846;
  CHECK(k.nngp(0, 0) == doctest::Approx(1 / (4 * pi)).epsilon(1e-15));
  CHECK(k.ntk(0, 0) == doctest::Approx(1 / (4 * pi)).epsilon(1e-15));
  CHECK(k.nngp(0, 1) == doctest::Approx(0.25).epsilon(1e-15));
  CHECK(k.ntk(0, 1) == doctest::Approx(0.5).epsilon(1e-15));
  CHECK(std::abs(k.nngp(0, 2)) <= 1e-16);
  CHECK(std::abs(k.ntk(0, 2)) <= 1e-16);
  CHECK(k.nngp(0, 3) == 0.0);
  CHECK(k.ntk(0, 3) == 0.0);
}

TEST_CASE("deep linear networks: K and Θ are the polynomials in m = xᵀx'/d") {
  // identity φ: K^{l+1} = σ_w² K^l + σ_b², Θ^{l+1} = K^{l+1} + σ_w² Θ^l, so with w = σ_w², b = σ_b²
  // K^L = w^L m + b Σ_{i<L} w^i and Θ^L = Σ_{l=1..L} w^{L−l} K^l (written out here directly).
  const MatrixXd x = normal_points(3, 5, 12);
  for (int L : {1, 2, 5}) {
    std::vector<Index> widths{3};
    for (int l = 1; l < L; ++l) widths.push_back(20);
    widths.push_back(1);
    const double sw = 0.9, sb = 0.3, w = sw * sw, b = sb * sb;
    const auto k = ntk::analytic_kernels(spec_of(widths, nn::Activation::identity, sw, sb), x);
    const MatrixXd m = x.transpose() * x / 3.0;
    MatrixXd kl = MatrixXd::Zero(5, 5), theta = MatrixXd::Zero(5, 5);
    for (int l = 1; l <= L; ++l) {
      double geo = 0;
      for (int i = 0; i < l; ++i) geo += std::pow(w, i);
      kl = std::pow(w, l) * m + MatrixXd::Constant(5, 5, b * geo);  // K^l
      theta += std::pow(w, L - l) * kl;
    }
    CHECK(max_abs(k.nngp - kl) <= 1e-14 * max_abs(kl));
    CHECK(max_abs(k.ntk - theta) <= 1e-14 * max_abs(theta));
  }
}

TEST_CASE("K(X, X) and Θ(X, X) are symmetric, positive semi-definite and equal the cross form") {
  const MatrixXd x = normal_points(5, 300, 13);  // 300 > the 256-entry chunk: exercises the blocking
  for (auto a : {nn::Activation::relu, nn::Activation::erf, nn::Activation::leaky_relu}) {
    const nn::MlpSpec s = spec_of({5, 10, 10, 10, 1}, a);
    const auto k = ntk::analytic_kernels(s, x);
    const auto c = ntk::analytic_kernels(s, x, x);
    CHECK(k.nngp == k.nngp.transpose());
    CHECK(k.ntk == k.ntk.transpose());
    // off the diagonal both forms run the same arithmetic; on it the cross form sees ρ = 1 − O(ε),
    // which the ReLU cusp turns into O(√ε) relative
    CHECK(max_abs(k.ntk - c.ntk) <= 1e-7 * max_abs(k.ntk));
    // PSD: M + δI has a Cholesky factor for δ = 1e-12·max diag (a negative eigenvalue below −δ would
    // make the factorisation fail)
    for (const MatrixXd* m : {&k.nngp, &k.ntk}) {
      const MatrixXd shifted = *m + 1e-12 * m->diagonal().maxCoeff() * MatrixXd::Identity(m->rows(), m->cols());
      CHECK(Eigen::LLT<MatrixXd>(shifted).info() == Eigen::Success);
    }
  }
}

TEST_CASE("the input gradient agrees with central finite differences") {
  // central differences with h = 1e-5: truncation O(h²·K''') ≈ 1e-10, rounding ε/h ≈ 1e-11 relative
  const MatrixXd x = normal_points(3, 9, 14);
  VectorXd xs = normal_points(3, 1, 15);
  for (auto a : {nn::Activation::relu, nn::Activation::leaky_relu, nn::Activation::erf, nn::Activation::identity,
                 nn::Activation::tanh})
    for (auto p : {nn::Parameterization::ntk, nn::Parameterization::standard}) {
      const std::string name = nn::to_string(a);
      CAPTURE(name);
      nn::MlpSpec s = spec_of({3, 20, 20, 20, 1}, a);
      s.parameterization = p;
      const auto g = ntk::analytic_kernel_input_gradient(s, xs, x);
      REQUIRE(g.outcome.ok());
      const auto k = ntk::analytic_kernels(s, MatrixXd(xs), x);
      CHECK(max_abs(g.ntk.transpose() - k.ntk) <= 1e-13 * max_abs(k.ntk));
      CHECK(max_abs(g.nngp.transpose() - k.nngp) <= 1e-13 * max_abs(k.nngp));
      const double h = 1e-5;
      MatrixXd fd_t(3, 9), fd_k(3, 9);
      for (int i = 0; i < 3; ++i) {
        VectorXd xp = xs, xm = xs;
        xp(i) += h;
        xm(i) -= h;
        const auto kp = ntk::analytic_kernels(s, MatrixXd(xp), x), km = ntk::analytic_kernels(s, MatrixXd(xm), x);
        fd_t.row(i) = (kp.ntk - km.ntk) / (2 * h);
        fd_k.row(i) = (kp.nngp - km.nngp) / (2 * h);
      }
      CHECK(max_abs(g.ntk_gradient - fd_t) <= 1e-7 * max_abs(fd_t));
      CHECK(max_abs(g.nngp_gradient - fd_k) <= 1e-7 * max_abs(fd_k));
    }
}

TEST_CASE("numerical safety: correlation ±1, zero-norm inputs, depth 20, tiny scales") {
  MatrixXd x = normal_points(4, 6, 16);
  x.col(1) = 3.0 * x.col(0);   // ρ = 1 exactly in every layer
  x.col(2) = -x.col(0);        // ρ = −1 at the input
  x.col(3).setZero();          // zero norm
  x.col(4) = 1e-150 * x.col(5);
  for (auto a : {nn::Activation::relu, nn::Activation::leaky_relu, nn::Activation::erf, nn::Activation::tanh})
    for (double sb : {0.0, 0.2}) {
      const std::string name = nn::to_string(a);
      CAPTURE(name);
      std::vector<Index> widths(21, 8);
      widths.front() = 4;
      widths.back() = 1;
      const nn::MlpSpec s = spec_of(widths, a, 1.4, sb);
      const auto k = ntk::analytic_kernels(s, x);
      CHECK(k.outcome.ok());
      CHECK(k.nngp.allFinite());
      CHECK(k.ntk.allFinite());
      const auto c = ntk::analytic_kernels(s, x, x);
      CHECK(c.ntk.allFinite());
      const auto g = ntk::analytic_kernel_input_gradient(s, VectorXd(x.col(0)), x);
      CHECK(g.ntk_gradient.allFinite());
      CHECK(g.nngp_gradient.allFinite());
      if (a == nn::Activation::relu && sb == 0.0) {
        // positive homogeneity of the ReLU recursion with σ_b = 0: K(x, 3x) = 3·K(x, x), Θ likewise.
        // K is smooth at ρ = 1 (1e-12); Θ has a cusp there, so the O(ε) rounding of the correlation of
        // x and 3x shows as O(√ε) (1e-7 allows a factor 10 over √ε·depth-free constant).
        CHECK(k.nngp(0, 1) == doctest::Approx(3 * k.nngp(0, 0)).epsilon(1e-12));
        CHECK(k.ntk(0, 1) == doctest::Approx(3 * k.ntk(0, 0)).epsilon(1e-7));
        // ρ = −1 at the input: one ReLU layer maps (x, −x) to disjoint supports, E[φ(u)φ(−u)] = 0 and
        // E[φ'(u)φ'(−u)] = 0, so K² = Θ² = 0 exactly
        const auto one = ntk::analytic_kernels(spec_of({4, 8, 1}, a, 1.4, 0.0), x);
        CHECK(std::abs(one.nngp(0, 2)) <= 1e-15 * one.nngp(0, 0));
        CHECK(std::abs(one.ntk(0, 2)) <= 1e-15 * one.ntk(0, 0));
      }
    }
  // overflow is a status, not a silent NaN
  const MatrixXd big = MatrixXd::Constant(4, 2, 1e154);
  const auto o = ntk::analytic_kernels(spec_of({4, 8, 8, 1}, nn::Activation::relu, 10.0), big);
  CHECK(o.outcome.status == Status::non_finite);
}

TEST_CASE("empirical NTK: structured layers against J Jᵀ, and the matrix-free product") {
  // J Jᵀ from nn::output_jacobian is an independent computation (per-sample outer products, one GEMM)
  for (Index k : {1, 3})
    for (auto a : {nn::Activation::relu, nn::Activation::tanh}) {
      nn::MlpSpec s = spec_of({4, 16, 12, k}, a);
      nn::Mlp<double> net(s);
      net.initialize(RandomStream(21, std::uint64_t(k)));
      const MatrixXd x1 = normal_points(4, 5, 22), x2 = normal_points(4, 7, 23);
      const MatrixXd j1 = nn::output_jacobian(net, x1), j2 = nn::output_jacobian(net, x2);
      const MatrixXd ref12 = j1 * j2.transpose(), ref11 = j1 * j1.transpose();
      const MatrixXd t12 = ntk::empirical_ntk(net, x1, x2), t11 = ntk::empirical_ntk(net, x1);
      CHECK(max_abs(t12 - ref12) <= 1e-13 * max_abs(ref12));
      CHECK(max_abs(t11 - ref11) <= 1e-13 * max_abs(ref11));
      CHECK(t11 == t11.transpose());
      // Θ̂(X1, X2)·V, with V shaped like the outputs on X2 (k × N2), sample-major vec
      const MatrixXd v = normal_points(k, 7, 24);
      const MatrixXd pv = ntk::empirical_ntk_product(net, x1, x2, v);
      const VectorXd ref = ref12 * Eigen::Map<const VectorXd>(v.data(), v.size());
      CHECK(max_abs(Eigen::Map<const VectorXd>(pv.data(), pv.size()) - ref) <= 1e-12 * max_abs(ref));
    }
  // batch norm (eval mode) goes through output_jacobian; same contract
  nn::MlpSpec s = spec_of({4, 16, 2}, nn::Activation::relu);
  s.batch_norm = true;
  nn::Mlp<double> net(s);
  net.initialize(RandomStream(25));
  const MatrixXd x = normal_points(4, 6, 26);
  const MatrixXd j = nn::output_jacobian(net, x);
  CHECK(max_abs(ntk::empirical_ntk(net, x) - j * j.transpose()) <= 1e-13 * max_abs(j * j.transpose()));
}

TEST_CASE("empirical NTK converges to the analytic one at rate width^(-1/2)" * doctest::test_suite("slow")) {
  // ReLU, NTK parameterisation, 2 hidden layers. For each width n and seed, e = ‖Θ̂ − Θ‖_F/‖Θ‖_F; the
  // fluctuations of Θ̂ at initialisation are O(n^(−1/2)) (CLT over the n units of each layer), so
  // log e = a − ½ log n + noise. Least squares of log e on log n over all (n, seed) points gives the
  // slope and its standard error from the residual variance; the slope must be within 5 standard errors
  // of −1/2 (a 5σ band: false-alarm rate < 1e-6 if the model holds).
  const MatrixXd x = normal_points(3, 6, 31);
  const std::vector<Index> widths{64, 128, 256, 512, 1024, 2048};
  const int seeds = 6;
  std::vector<double> lx, ly;
  double err_largest = 0;
  for (Index n : widths) {
    const nn::MlpSpec s = spec_of({3, n, n, 1}, nn::Activation::relu, 1.3, 0.2);
    const MatrixXd theta = ntk::analytic_kernels(s, x).ntk;
    for (int seed = 0; seed < seeds; ++seed) {
      nn::Mlp<double> net(s);
      net.initialize(RandomStream(1000 + std::uint64_t(seed), std::uint64_t(n)));
      const double e = (ntk::empirical_ntk(net, x) - theta).norm() / theta.norm();
      lx.push_back(std::log(double(n)));
      ly.push_back(std::log(e));
      if (n == widths.back()) err_largest += e / seeds;
    }
  }
  const double m = double(lx.size());
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < lx.size(); ++i) mx += lx[i] / m, my += ly[i] / m;
  double sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < lx.size(); ++i) sxx += (lx[i] - mx) * (lx[i] - mx), sxy += (lx[i] - mx) * (ly[i] - my);
  const double slope = sxy / sxx, icpt = my - slope * mx;
  double rss = 0;
  for (std::size_t i = 0; i < lx.size(); ++i) rss += std::pow(ly[i] - icpt - slope * lx[i], 2);
  const double se = std::sqrt(rss / (m - 2) / sxx);
  MESSAGE("fitted slope " << slope << " ± " << se << " (standard error); mean relative error at width 2048: "
                          << err_largest);
  CHECK(std::abs(slope + 0.5) <= 5 * se);
  CHECK(se < 0.1);  // the fit is informative (a vague slope cannot pass by a wide band)
  CHECK(err_largest < 0.1);
}

namespace {
/// Runs f, which must throw sgdsde::invalid_argument whose message names `argument`.
template <class F>
void check_rejects(F&& f, const std::string& argument) {
  CAPTURE(argument);
  bool thrown = false;
  try {
    f();
  } catch (const sgdsde::invalid_argument& e) {
    thrown = true;
    CHECK(std::string(e.what()).find("'" + argument + "'") != std::string::npos);
  }
  CHECK(thrown);
}
}  // namespace

TEST_CASE("bad input to the kernel functions throws invalid_argument naming the argument") {
  const nn::MlpSpec good = spec_of({3, 8, 1}, nn::Activation::relu);
  const MatrixXd x = normal_points(3, 4, 41);
  const MatrixXd x_copy = x;
  const VectorXd xs = normal_points(3, 1, 42);
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  auto with = [&](auto edit) {
    nn::MlpSpec s = good;
    edit(s);
    return s;
  };
  const std::vector<std::pair<nn::MlpSpec, std::string>> bad_specs{
      {with([](nn::MlpSpec& s) { s.widths = {3}; }), "spec.widths.size()"},
      {with([](nn::MlpSpec& s) { s.widths = {3, 0, 1}; }), "spec.widths[k]"},
      {with([](nn::MlpSpec& s) { s.sigma_w = 0; }), "spec.sigma_w"},
      {with([&](nn::MlpSpec& s) { s.sigma_w = nan; }), "spec.sigma_w"},
      {with([&](nn::MlpSpec& s) { s.sigma_w = inf; }), "spec.sigma_w"},
      {with([](nn::MlpSpec& s) { s.sigma_b = -1; }), "spec.sigma_b"},
      {with([](nn::MlpSpec& s) { s.leaky_relu_slope = 1.5; }), "spec.leaky_relu_slope"},
      {with([](nn::MlpSpec& s) { s.batch_norm = true; }), "spec.batch_norm"},
      {with([](nn::MlpSpec& s) { s.output_activation = nn::Activation::tanh; }), "spec.output_activation"}};
  for (const auto& [s, name] : bad_specs) {
    check_rejects([&] { ntk::analytic_kernels(s, x); }, name);
    check_rejects([&] { ntk::analytic_kernels(s, x, x); }, name);
    check_rejects([&] { ntk::analytic_kernel_input_gradient(s, xs, x); }, name);
  }
  // shapes, empty sets, non-finite entries (NaN, ±Inf), huge but finite values are accepted
  const MatrixXd wrong_d = normal_points(4, 4, 43), empty(3, 0);
  MatrixXd with_nan = x, with_inf = x;
  with_nan(1, 2) = nan;
  with_inf(0, 3) = -inf;
  check_rejects([&] { ntk::analytic_kernels(good, wrong_d); }, "x");
  check_rejects([&] { ntk::analytic_kernels(good, empty); }, "x");
  check_rejects([&] { ntk::analytic_kernels(good, with_nan); }, "x");
  check_rejects([&] { ntk::analytic_kernels(good, x, wrong_d); }, "x2");
  check_rejects([&] { ntk::analytic_kernels(good, wrong_d, x); }, "x1");
  check_rejects([&] { ntk::analytic_kernels(good, x, empty); }, "x2");
  check_rejects([&] { ntk::analytic_kernels(good, with_inf, x); }, "x1");
  ntk::KernelOptions few;
  few.quadrature_nodes = 1;
  check_rejects([&] { ntk::analytic_kernels(good, x, few); }, "options.quadrature_nodes");
  MatrixXd k(4, 4), t(3, 4);
  check_rejects([&] { ntk::analytic_kernels(good, x, x, k, t); }, "ntk");
  check_rejects([&] { ntk::analytic_kernel_input_gradient(good, VectorXd(VectorXd::Zero(4)), x); }, "x_star");
  VectorXd xs_nan = xs;
  xs_nan(0) = nan;
  check_rejects([&] { ntk::analytic_kernel_input_gradient(good, xs_nan, x); }, "x_star");
  check_rejects([&] { ntk::analytic_kernel_input_gradient(good, xs, with_nan); }, "x");
  CHECK(ntk::analytic_kernels(good, MatrixXd(1e300 * x)).outcome.status == Status::non_finite);
  CHECK(ntk::analytic_kernels(good, MatrixXd(1e-300 * x)).outcome.ok());

  // the empirical NTK
  nn::Mlp<double> net(spec_of({3, 8, 2}, nn::Activation::relu));
  net.initialize(RandomStream(44));
  check_rejects([&] { ntk::empirical_ntk(net, wrong_d); }, "x");
  check_rejects([&] { ntk::empirical_ntk(net, empty); }, "x");
  check_rejects([&] { ntk::empirical_ntk(net, x, with_nan); }, "x2");
  check_rejects([&] { ntk::empirical_ntk(net, wrong_d, x); }, "x1");
  check_rejects([&] { ntk::empirical_ntk_product(net, x, MatrixXd(MatrixXd::Zero(1, 4))); }, "v");
  MatrixXd v_nan = MatrixXd::Zero(2, 4);
  v_nan(1, 1) = inf;
  check_rejects([&] { ntk::empirical_ntk_product(net, x, v_nan); }, "v");
  CHECK(x == x_copy);  // nothing the caller passed was modified
}
