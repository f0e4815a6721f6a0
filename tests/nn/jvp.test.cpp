// Tests for sgdsde/nn/jvp.hpp: forward-mode JVPs against central differences and against the
// reverse-mode Jacobian (J·v); bad arguments.
#include "sgdsde/nn/jvp.hpp"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "sgdsde/core/scalar.hpp"
#include "sgdsde/nn/per_sample.hpp"

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

TEST_CASE_TEMPLATE("JVP equals central differences of the outputs in parameters and inputs", T, float, double) {
  std::uint64_t seed = 1;
  for (const nn::MlpSpec& s : specs())
    for (Mode mode : {Mode::eval, Mode::train}) {
      if (!s.batch_norm && mode == Mode::train) continue;
      CAPTURE(describe(s, mode));
      const Eigen::Index S = 5;
      Problem<T> p = kink_free_problem<T>(s, S, ++seed, mode);
      nn::TangentWorkspace<T> tw(p.net, S);
      nn::MlpWorkspace<T> ws(p.net, S);
      Vec<T> v(p.net.num_parameters());
      Mat<T> u(p.net.input_dim(), S);
      RandomStream(seed, 50).fill_normal(v);
      RandomStream(seed, 51).fill_normal(u);
      Mat<T> f(p.net.output_dim(), S), df(p.net.output_dim(), S);
      nn::jvp(p.net, p.x, v, u, f, df, tw, mode);
      Mat<T> f_ref(p.net.output_dim(), S), fp(f_ref), fm(f_ref);
      nn::forward(p.net, p.x, f_ref, ws, mode);
      CHECK(relative_error<T>(f, f_ref) <= T(10) * Constants<T>::epsilon());
      // d/dt f(θ + t v; X + t U) at t = 0.
      const T h = Constants<T>::fd_step();
      nn::Mlp<T> np = p.net, nm = p.net;
      np.parameters() += h * v;
      nm.parameters() -= h * v;
      const Mat<T> xp = p.x + h * u, xm = p.x - h * u;
      nn::forward(np, xp, fp, ws, mode);
      nn::forward(nm, xm, fm, ws, mode);
      const Mat<T> fd = (fp - fm) / (T(2) * h);
      CHECK(relative_error<T>(df, fd) <= fd_tolerance<T>());
      // Directions one at a time (empty = zero direction) add up.
      Mat<T> df_p(df), df_x(df);
      nn::jvp(p.net, p.x, v, Mat<T>(), f, df_p, tw, mode);
      nn::jvp(p.net, p.x, Vec<T>(), u, f, df_x, tw, mode);
      CHECK(relative_error<T>(df_p + df_x, df) <= T(100) * Constants<T>::epsilon());
    }
}

TEST_CASE("JVP equals the reverse-mode Jacobian times v") {
  std::uint64_t seed = 300;
  for (const nn::MlpSpec& s : specs()) {
    CAPTURE(describe(s, Mode::eval));
    const Eigen::Index S = 4;
    Problem<double> p(s, S, ++seed);
    nn::TangentWorkspace<double> tw(p.net, S);
    nn::MlpWorkspace<double> ws(p.net, S);
    Mat<double> J(S * p.net.output_dim(), p.net.num_parameters());
    nn::output_jacobian(p.net, p.x, J, ws);
    Vec<double> v(p.net.num_parameters());
    RandomStream(seed, 5).fill_normal(v);
    Mat<double> f(p.net.output_dim(), S), df(p.net.output_dim(), S);
    nn::jvp(p.net, p.x, v, Mat<double>(), f, df, tw);
    const Vec<double> jv = J * v;
    // Two exact algorithms (forward duals vs reverse adjoints): agree to rounding.
    CHECK(relative_error<double>(Eigen::Map<const Vec<double>>(df.data(), df.size()), jv) < 1e-12);
  }
}

TEST_CASE("jvp rejects bad arguments") {
  nn::MlpSpec spec{{3, 4, 2}};
  Problem<double> p(spec, 4, 1);
  nn::TangentWorkspace<double> tw(p.net, 4);
  Vec<double> v = Vec<double>::Ones(p.net.num_parameters()), short_v(3);
  Mat<double> f(2, 4), df(2, 4), u_bad(3, 3);
  u_bad.setOnes();
  CHECK_THROWS_AS(nn::jvp(p.net, p.x, v, u_bad, f, df, tw), sgdsde::invalid_argument);
  CHECK_THROWS_AS(nn::jvp(p.net, p.x, short_v, Mat<double>(), f, df, tw), sgdsde::invalid_argument);
  Vec<double> bad = v;
  bad[0] = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_AS(nn::jvp(p.net, p.x, bad, Mat<double>(), f, df, tw), sgdsde::invalid_argument);
  Mat<double> f_bad(2, 3);
  CHECK_THROWS_AS(nn::jvp(p.net, p.x, v, Mat<double>(), f_bad, df, tw), sgdsde::invalid_argument);
  Mat<double> x_bad(3, 5);
  x_bad.setOnes();
  CHECK_THROWS_AS(nn::jvp(p.net, x_bad, v, Mat<double>(), f, df, tw), sgdsde::invalid_argument);
  CHECK_NOTHROW(nn::jvp(p.net, p.x, v, Mat<double>(), f, df, tw));
}
