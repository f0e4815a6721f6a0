// Tests for sgdsde/nn/tangent.hpp: exact forward-over-reverse HVPs against central differences of the
// gradient, against the reverse pass run on Dual scalars, against the closed-form Hessian of a linear
// layer, and symmetry uᵀHv = vᵀHu.
#include "sgdsde/nn/tangent.hpp"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "sgdsde/core/scalar.hpp"

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

TEST_CASE_TEMPLATE("HVP equals central differences of the reverse-mode gradient", T, float, double) {
  std::uint64_t seed = 600;
  for (const nn::MlpSpec& s : specs())
    for (Mode mode : {Mode::train, Mode::eval}) {
      if (!s.batch_norm && mode == Mode::eval) continue;
      CAPTURE(describe(s, mode));
      const Eigen::Index S = 6;
      Problem<T> p = kink_free_problem<T>(s, S, ++seed, mode);
      nn::TangentWorkspace<T> tw(p.net, S);
      nn::MlpWorkspace<T> ws(p.net, S);
      const Eigen::Index n = p.net.num_parameters();
      Vec<T> v(n), hv(n), g(n), g2(n), hv2(n), gp(n), gm(n);
      RandomStream(seed, 60).fill_normal(v);
      const T loss = p.hvp(v, hv, tw, mode);
      const T loss_ref = p.loss_and_gradient(p.net, g, ws, mode);
      CHECK(loss == doctest::Approx(double(loss_ref)).epsilon(double(100 * Constants<T>::epsilon())));
      // The value part of the dual gradient is the gradient.
      if (p.squared())
        nn::gradient_and_hessian_vector_product(p.net, p.x, p.y, v, g2, hv2, tw, mode);
      else
        nn::gradient_and_hessian_vector_product(p.net, p.x, p.labels, v, g2, hv2, tw, mode);
      CHECK(relative_error<T>(g2, g) <= T(100) * Constants<T>::epsilon());
      CHECK(hv2 == hv);
      const T h = Constants<T>::fd_step();
      nn::Mlp<T> np = p.net, nm = p.net;
      np.parameters() += h * v;
      nm.parameters() -= h * v;
      p.loss_and_gradient(np, gp, ws, mode);
      p.loss_and_gradient(nm, gm, ws, mode);
      const Vec<T> fd = (gp - gm) / (T(2) * h);
      if (s.hidden_activation != Activation::relu || s.batch_norm || s.loss != Loss::squared_error) {
        CHECK(hv.norm() > T(1e-3));
      }
      // With squared error, ReLU and no batch norm the output is piecewise linear in each layer's
      // weights but not in θ as a whole (products of layers), so H ≠ 0 there as well.
      CHECK(relative_error<T>(hv, fd) <= fd_tolerance<T>());
    }
}

TEST_CASE("split value/tangent HVP equals the reverse pass run on Dual scalars") {
  // hessian_vector_product runs forward-over-reverse on split value/tangent buffers; the second
  // algorithm runs the ordinary reverse pass (loss_and_gradient) on a Dual<double> network seeded
  // with θ + ε·v. Both are exact: agreement to rounding.
  using D = Dual<double>;
  std::uint64_t seed = 700;
  for (const nn::MlpSpec& s : specs())
    for (Mode mode : {Mode::train, Mode::eval}) {
      if (!s.batch_norm && mode == Mode::eval) continue;
      CAPTURE(describe(s, mode));
      Problem<double> p(s, 6, ++seed);
      nn::TangentWorkspace<double> tw(p.net, 6);
      const Eigen::Index n = p.net.num_parameters();
      Vec<double> v(n), hv(n), g(n);
      RandomStream(seed, 1).fill_normal(v);
      const double loss = p.squared()
                              ? nn::gradient_and_hessian_vector_product(p.net, p.x, p.y, v, g, hv, tw, mode)
                              : nn::gradient_and_hessian_vector_product(p.net, p.x, p.labels, v, g, hv, tw, mode);
      nn::Mlp<D> dm = p.net.cast<D>();
      for (Eigen::Index i = 0; i < n; ++i) dm.parameters()[i].tangent = v[i];
      nn::MlpWorkspace<D> wd(dm, 6);
      const Mat<D> xd = p.x.cast<D>(), yd = p.y.cast<D>();
      Vec<D> gd(n);
      const D ld = p.squared() ? nn::loss_and_gradient(dm, xd, yd, gd, wd, mode)
                               : nn::loss_and_gradient(dm, xd, p.labels, gd, wd, mode);
      const Vec<double> hv_ref = gd.unaryExpr([](const D& x) { return x.tangent; });
      const Vec<double> g_ref = gd.unaryExpr([](const D& x) { return x.value; });
      CHECK(loss == doctest::Approx(ld.value).epsilon(1e-14));
      CHECK(relative_error<double>(hv, hv_ref) < 1e-12);
      CHECK(relative_error<double>(g, g_ref) < 1e-12);
    }
}

TEST_CASE("HVP is symmetric: uᵀ H v = vᵀ H u") {
  std::uint64_t seed = 800;
  for (const nn::MlpSpec& s : specs()) {
    CAPTURE(describe(s, Mode::train));
    Problem<double> p(s, 6, ++seed);
    nn::TangentWorkspace<double> tw(p.net, 8);
    const Eigen::Index n = p.net.num_parameters();
    Vec<double> u(n), v(n), hu(n), hv(n);
    RandomStream(seed, 1).fill_normal(u);
    RandomStream(seed, 2).fill_normal(v);
    p.hvp(u, hu, tw, Mode::train);
    p.hvp(v, hv, tw, Mode::train);
    // Two different passes compute the two sides; they agree to rounding of O(n) sums.
    CHECK(u.dot(hv) == doctest::Approx(v.dot(hu)).epsilon(1e-11));
    // Linear in the direction: H(2u + v) = 2Hu + Hv.
    Vec<double> w = 2.0 * u + v, hw(n);
    p.hvp(w, hw, tw, Mode::train);
    CHECK(relative_error<double>(hw, 2.0 * hu + hv) < 1e-12);
  }
}

TEST_CASE("HVP of a single linear layer equals its closed-form Hessian") {
  // f = c_w W x + c_b b, L = (1/2S) Σ_s ‖f_s − y_s‖²: H(V, v_b) has W-block
  // (c_w/S) Σ_s (c_w V x_s + c_b v_b) x_sᵀ and b-block (c_b/S) Σ_s (c_w V x_s + c_b v_b).
  nn::MlpSpec spec{{5, 3}};
  spec.hidden_activation = Activation::identity;
  spec.sigma_w = 1.5;
  spec.sigma_b = 0.7;
  Problem<double> p(spec, 8, 3);
  nn::TangentWorkspace<double> tw(p.net, 8);
  Vec<double> v(p.net.num_parameters()), hv(v.size());
  RandomStream(3, 9).fill_normal(v);
  p.hvp(v, hv, tw, Mode::train);
  const double cw = 1.5 / std::sqrt(5.0), cb = 0.7;
  const Eigen::Map<const Mat<double>> V(v.data(), 3, 5);
  const Eigen::Map<const Vec<double>> vb(v.data() + 15, 3);
  Mat<double> hw = Mat<double>::Zero(3, 5);
  Vec<double> hb = Vec<double>::Zero(3);
  for (int s = 0; s < 8; ++s) {
    const Vec<double> df = cw * V * p.x.col(s) + cb * vb;
    hw += cw / 8 * df * p.x.col(s).transpose();
    hb += cb / 8 * df;
  }
  CHECK(relative_error<double>(Eigen::Map<const Vec<double>>(hv.data(), 15), Eigen::Map<const Vec<double>>(hw.data(), 15)) < 1e-13);
  CHECK(relative_error<double>(hv.tail(3), hb) < 1e-13);
}

TEST_CASE("tangent functions reject bad arguments") {
  nn::MlpSpec spec{{3, 4, 2}};
  Problem<double> p(spec, 4, 1);
  nn::TangentWorkspace<double> tw(p.net, 4);
  Vec<double> v = Vec<double>::Ones(p.net.num_parameters()), hv(v.size());
  Vec<double> short_v(3);
  CHECK_THROWS_AS(nn::hessian_vector_product(p.net, p.x, p.y, short_v, hv, tw), sgdsde::invalid_argument);
  Vec<double> bad = v;
  bad[3] = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_AS(nn::hessian_vector_product(p.net, p.x, p.y, bad, hv, tw), sgdsde::invalid_argument);
  Mat<double> x5(3, 5);
  x5.setOnes();
  CHECK_THROWS_AS(nn::hessian_vector_product(p.net, x5, Mat<double>::Zero(2, 5), v, hv, tw), sgdsde::invalid_argument);
  Mat<double> xw(4, 4);
  xw.setOnes();
  CHECK_THROWS_AS(nn::hessian_vector_product(p.net, xw, p.y, v, hv, tw), sgdsde::invalid_argument);
  Mat<double> xn = p.x;
  xn(0, 0) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_AS(nn::hessian_vector_product(p.net, xn, p.y, v, hv, tw), sgdsde::invalid_argument);
  CHECK_THROWS_AS(nn::hessian_vector_product(p.net, p.x, p.labels, v, hv, tw), sgdsde::invalid_argument);
  nn::Mlp<double> other(nn::MlpSpec{{3, 5, 2}});
  nn::TangentWorkspace<double> other_tw(other, 4);
  CHECK_THROWS_AS(nn::hessian_vector_product(p.net, p.x, p.y, v, hv, other_tw), sgdsde::invalid_argument);
}
