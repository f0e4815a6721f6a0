// Tests for sgdsde/nn/mlp.hpp: forward pass against an independent per-sample loop, reverse-mode
// gradients (parameters, inputs, output VJPs) against central finite differences for every activation,
// parameterisation, loss and batch-norm mode, initialisation laws, running statistics, bad input.
#include "sgdsde/nn/mlp.hpp"

#include <cmath>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "sgdsde/core/scalar.hpp"

using namespace sgdsde;
using nn::Activation;
using nn::Loss;
using nn::Mode;
using nn::Parameterization;

namespace {

template <class T>
using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
template <class T>
using Vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;

// Finite-difference settings. Central differences have truncation error h²|f'''|/6 and rounding error
// ≈ ε|L|/h; h = ε^{1/3} (6e-6 in double, 5e-3 in float: Constants::fd_step) balances the two, giving
// ≈ 1e-10 relative in double for O(1) losses on these small nets — so the required relative error 1e-6
// leaves a factor ~1e3 and any wrong derivative term (relative error O(1)) still fails. In float the
// rounding term is ≈ 1e-7/5e-3 ≈ 2e-5 per coordinate times the depth of the computation, so 1e-2.
template <class T>
T fd_tolerance() {
  return std::is_same_v<T, double> ? T(1e-6) : T(1e-2);
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
    Vec<double> u(S);
    RandomStream(seed, 3).fill_uniform(u);
    labels.resize(S);
    for (Eigen::Index s = 0; s < S; ++s) labels[s] = int(std::floor(u[s] * double(net.output_dim())));
    // Non-trivial running statistics, so that eval mode differs from train mode.
    for (Eigen::Index l = 0; l < net.num_layers(); ++l)
      if (net.has_batch_norm(l)) {
        Vec<T> r(net.width(l + 1));
        RandomStream(seed, 10 + std::uint64_t(l)).fill_uniform(r);
        net.running_mean(l) = r.array() - T(0.5);
        net.running_var(l) = r.array() * T(2) + T(0.5);
      }
    if (spec.batch_norm) {  // γ, β away from their init so their gradients are generic
      for (Eigen::Index l = 0; l + 1 < net.num_layers(); ++l) {
        RandomStream(seed, 20 + std::uint64_t(l)).fill_uniform(net.bn_scale(l));
        net.bn_scale(l).array() += T(0.5);
        RandomStream(seed, 30 + std::uint64_t(l)).fill_normal(net.bn_shift(l));
      }
    }
  }
  T loss(nn::MlpWorkspace<T>& ws, Mode mode) const {
    return net.spec().loss == Loss::squared_error ? nn::loss(net, x, y, ws, mode) : nn::loss(net, x, labels, ws, mode);
  }
  T loss_and_gradient(Eigen::Ref<Vec<T>> g, nn::MlpWorkspace<T>& ws, Mode mode) const {
    return net.spec().loss == Loss::squared_error ? nn::loss_and_gradient(net, x, y, g, ws, mode)
                                                  : nn::loss_and_gradient(net, x, labels, g, ws, mode);
  }
};

// Smallest |activation input| over the hidden layers: kinks of (leaky) ReLU must be further than
// any finite-difference perturbation can move a pre-activation (≈ h · O(1)).
template <class T>
T min_abs_hidden_preactivation(const nn::Mlp<T>& net, const Mat<T>& x, nn::MlpWorkspace<T>& ws, Mode mode) {
  Mat<T> f(net.output_dim(), x.cols());
  nn::forward(net, x, f, ws, mode);
  T m = std::numeric_limits<T>::infinity();
  for (Eigen::Index l = 0; l + 1 < net.num_layers(); ++l)
    m = std::min(m, ws.pre[std::size_t(l)].leftCols(x.cols()).cwiseAbs().minCoeff());
  return m;
}

// Margin from kinks: a finite-difference step moves a pre-activation by about h·O(1) (6e-6 in double,
// 5e-3 in float), so |pre-activation| must exceed a few times that for the derivative to be smooth.
template <class T>
T kink_margin() {
  return std::is_same_v<T, double> ? T(1e-3) : T(3e-2);
}

// The first problem at or after `seed` whose hidden pre-activations all keep kink_margin away from
// the ReLU kink (deterministic: the same seed is found on every machine).
template <class T>
Problem<T> kink_free_problem(const nn::MlpSpec& spec, Eigen::Index S, std::uint64_t seed, Mode mode) {
  const bool kinked =
      spec.hidden_activation == Activation::relu || spec.hidden_activation == Activation::leaky_relu;
  for (int attempt = 0; attempt < 1000; ++attempt, seed += 1000003) {
    Problem<T> p(spec, S, seed);
    nn::MlpWorkspace<T> ws(p.net, S);
    if (!kinked || min_abs_hidden_preactivation(p.net, p.x, ws, mode) > kink_margin<T>()) return p;
  }
  FAIL("no kink-free problem found");
  return Problem<T>(spec, S, seed);
}

template <class T>
T relative_error(const Eigen::Ref<const Mat<T>>& a, const Eigen::Ref<const Mat<T>>& b) {
  return (a - b).norm() / std::max(b.norm(), std::numeric_limits<T>::min());
}

std::string describe(const nn::MlpSpec& s, Mode mode) {
  return std::string(nn::to_string(s.hidden_activation)) + "/" + nn::to_string(s.output_activation) + "/" +
         nn::to_string(s.loss) + (s.parameterization == Parameterization::ntk ? "/ntk" : "/standard") +
         (s.batch_norm ? (mode == Mode::train ? "/bn-train" : "/bn-eval") : "");
}

// Reverse-mode gradient of the mean loss vs central differences of the loss, all coordinates.
template <class T>
void check_parameter_gradient(const nn::MlpSpec& spec, Mode mode, std::uint64_t seed) {
  Problem<T> p = kink_free_problem<T>(spec, 7, seed, mode);
  nn::MlpWorkspace<T> ws(p.net, 9);
  CAPTURE(describe(spec, mode));
  Vec<T> g(p.net.num_parameters());
  const T l0 = p.loss_and_gradient(g, ws, mode);
  CHECK(l0 == doctest::Approx(double(p.loss(ws, mode))).epsilon(1e-6));
  const T h = Constants<T>::fd_step();
  Vec<T> fd(g.size());
  nn::Mlp<T> net = p.net;
  for (Eigen::Index i = 0; i < g.size(); ++i) {
    const T theta = p.net.parameters()[i];
    p.net.parameters()[i] = theta + h;
    const T lp = p.loss(ws, mode);
    p.net.parameters()[i] = theta - h;
    const T lm = p.loss(ws, mode);
    p.net.parameters()[i] = theta;
    fd[i] = (lp - lm) / (T(2) * h);
  }
  CHECK(relative_error<T>(g, fd) <= fd_tolerance<T>());
  CHECK(g.norm() > T(1e-3));  // the comparison is not between two zero vectors
}

std::vector<nn::MlpSpec> all_specs() {
  std::vector<nn::MlpSpec> out;
  for (Activation a : {Activation::relu, Activation::leaky_relu, Activation::erf, Activation::tanh, Activation::identity})
    for (Parameterization p : {Parameterization::ntk, Parameterization::standard})
      for (Loss loss : {Loss::squared_error, Loss::softmax_cross_entropy})
        for (bool bn : {false, true}) {
          nn::MlpSpec s{{4, 6, 5, 3}};
          s.hidden_activation = a;
          s.parameterization = p;
          s.loss = loss;
          s.batch_norm = bn;
          s.sigma_w = 1.3;
          s.sigma_b = 0.4;
          s.leaky_relu_slope = 0.2;
          s.standard_init = a == Activation::relu ? nn::StandardInit::he : nn::StandardInit::glorot;
          out.push_back(s);
        }
  return out;
}

}  // namespace

TEST_CASE("forward pass equals an independent per-sample computation") {
  for (bool bn : {false, true})
    for (Mode mode : {Mode::train, Mode::eval}) {
      nn::MlpSpec spec{{3, 4, 2}};
      spec.hidden_activation = Activation::tanh;
      spec.output_activation = Activation::erf;
      spec.batch_norm = bn;
      spec.sigma_w = 1.7;
      spec.sigma_b = 0.3;
      Problem<double> p(spec, 5, 11);
      nn::MlpWorkspace<double> ws(p.net, 5);
      Mat<double> f(2, 5);
      nn::forward(p.net, p.x, f, ws, mode);
      const auto& net = p.net;
      // Plain loops: a = σ_w/√n_in Σ_j W_ij z_j + σ_b b_i (Borovykh eq. 1).
      Mat<double> a1(4, 5);
      for (int s = 0; s < 5; ++s)
        for (int i = 0; i < 4; ++i) {
          double acc = 0;
          for (int j = 0; j < 3; ++j) acc += net.weights(0)(i, j) * p.x(j, s);
          a1(i, s) = 1.7 / std::sqrt(3.0) * acc + 0.3 * net.bias(0)[i];
        }
      if (bn) {
        for (int i = 0; i < 4; ++i) {
          double mu = net.running_mean(0)[i], var = net.running_var(0)[i];
          if (mode == Mode::train) {
            mu = 0;
            for (int s = 0; s < 5; ++s) mu += a1(i, s) / 5;
            var = 0;
            for (int s = 0; s < 5; ++s) var += (a1(i, s) - mu) * (a1(i, s) - mu) / 5;
          }
          for (int s = 0; s < 5; ++s)
            a1(i, s) = net.bn_scale(0)[i] * (a1(i, s) - mu) / std::sqrt(var + 1e-5) + net.bn_shift(0)[i];
        }
      }
      for (int s = 0; s < 5; ++s)
        for (int k = 0; k < 2; ++k) {
          double acc = 0;
          for (int i = 0; i < 4; ++i) acc += net.weights(1)(k, i) * std::tanh(a1(i, s));
          const double expected = std::erf(1.7 / 2.0 * acc + 0.3 * net.bias(1)[k]);
          CHECK(f(k, s) == doctest::Approx(expected).epsilon(1e-13));
        }
    }
}

TEST_CASE("losses follow the ½ mean squared-error and mean cross-entropy conventions") {
  nn::MlpSpec spec{{3, 5, 4}};
  Problem<double> p(spec, 6, 5);
  nn::MlpWorkspace<double> ws(p.net, 6);
  Mat<double> f(4, 6);
  nn::forward(p.net, p.x, f, ws, Mode::eval);
  CHECK(nn::loss(p.net, p.x, p.y, ws) == doctest::Approx(0.5 * (f - p.y).squaredNorm() / 6).epsilon(1e-14));
  spec.loss = Loss::softmax_cross_entropy;
  nn::Mlp<double> net(spec);
  net.parameters() = p.net.parameters();
  double ce = 0;
  for (int s = 0; s < 6; ++s) ce += std::log(f.col(s).array().exp().sum()) - f(p.labels[s], s);
  CHECK(nn::loss(net, p.x, p.labels, ws) == doctest::Approx(ce / 6).epsilon(1e-13));
}

TEST_CASE("parameter gradient equals central differences (double, every configuration)") {
  std::uint64_t seed = 100;
  for (const nn::MlpSpec& s : all_specs()) {
    check_parameter_gradient<double>(s, Mode::train, ++seed);
    if (s.batch_norm) check_parameter_gradient<double>(s, Mode::eval, ++seed);
  }
  nn::MlpSpec out_tanh{{5, 4, 3}};
  out_tanh.output_activation = Activation::tanh;
  check_parameter_gradient<double>(out_tanh, Mode::train, 7);
}

TEST_CASE_TEMPLATE("parameter gradient equals central differences (float and double)", T, float, double) {
  std::uint64_t seed = 500;
  for (const nn::MlpSpec& s : all_specs())
    if (s.parameterization == Parameterization::ntk) check_parameter_gradient<T>(s, Mode::train, ++seed);
}

TEST_CASE("float gradient agrees with the double gradient of the same network") {
  nn::MlpSpec spec{{6, 8, 8, 3}};
  spec.batch_norm = true;
  spec.loss = Loss::softmax_cross_entropy;
  Problem<double> p(spec, 10, 3);
  nn::Mlp<float> nf = p.net.cast<float>();
  nn::MlpWorkspace<double> wd(p.net, 10);
  nn::MlpWorkspace<float> wf(nf, 10);
  Vec<double> gd(p.net.num_parameters());
  Vec<float> gf(nf.num_parameters());
  nn::loss_and_gradient(p.net, p.x, p.labels, gd, wd);
  const Mat<float> xf = p.x.cast<float>();
  nn::loss_and_gradient(nf, xf, p.labels, gf, wf);
  // float rounding (ε ≈ 6e-8) through a depth-3 network with batch norm: ~1e-6 relative.
  CHECK(relative_error<double>(gf.cast<double>(), gd) < 1e-4);
}

TEST_CASE_TEMPLATE("input gradient and output VJPs equal central differences", T, float, double) {
  std::uint64_t seed = 900;
  for (const nn::MlpSpec& s : all_specs()) {
    if (s.parameterization != Parameterization::ntk) continue;
    for (Mode mode : {Mode::train, Mode::eval}) {
      if (!s.batch_norm && mode == Mode::eval) continue;
      Problem<T> p = kink_free_problem<T>(s, 5, ++seed, mode);
      CAPTURE(describe(s, mode));
      nn::MlpWorkspace<T> ws(p.net, 5);
      const T h = Constants<T>::fd_step();
      // dL/dX
      Mat<T> gx(p.net.input_dim(), 5);
      if (s.loss == Loss::squared_error)
        nn::loss_input_gradient(p.net, p.x, p.y, gx, ws, mode);
      else
        nn::loss_input_gradient(p.net, p.x, p.labels, gx, ws, mode);
      Mat<T> fdx(gx.rows(), gx.cols());
      Problem<T> q = p;
      for (Eigen::Index j = 0; j < gx.size(); ++j) {
        const T v = p.x(j);
        q.x(j) = v + h;
        const T lp = q.loss(ws, mode);
        q.x(j) = v - h;
        const T lm = q.loss(ws, mode);
        q.x(j) = v;
        fdx(j) = (lp - lm) / (T(2) * h);
      }
      CHECK(relative_error<T>(gx, fdx) <= fd_tolerance<T>());
      // VJP of the outputs with a random cotangent U: ∂⟨U, f⟩/∂θ and ∂⟨U, f⟩/∂X.
      Mat<T> u(p.net.output_dim(), 5);
      RandomStream(seed, 77).fill_normal(u);
      Vec<T> vjp_p(p.net.num_parameters());
      Mat<T> vjp_x(p.net.input_dim(), 5);
      nn::output_vjp(p.net, p.x, u, vjp_p, vjp_x, ws, mode);
      Mat<T> f(p.net.output_dim(), 5);
      auto inner = [&](const nn::Mlp<T>& net, const Mat<T>& x) {
        nn::forward(net, x, f, ws, mode);
        return T(u.cwiseProduct(f).sum());
      };
      Vec<T> fdp(vjp_p.size());
      nn::Mlp<T> net = p.net;
      for (Eigen::Index i = 0; i < fdp.size(); ++i) {
        const T th = net.parameters()[i];
        net.parameters()[i] = th + h;
        const T lp = inner(net, p.x);
        net.parameters()[i] = th - h;
        const T lm = inner(net, p.x);
        net.parameters()[i] = th;
        fdp[i] = (lp - lm) / (T(2) * h);
      }
      CHECK(relative_error<T>(vjp_p, fdp) <= fd_tolerance<T>());
      Mat<T> x = p.x;
      for (Eigen::Index j = 0; j < x.size(); ++j) {
        const T v = x(j);
        x(j) = v + h;
        const T lp = inner(p.net, x);
        x(j) = v - h;
        const T lm = inner(p.net, x);
        x(j) = v;
        fdx(j) = (lp - lm) / (T(2) * h);
      }
      CHECK(relative_error<T>(vjp_x, fdx) <= fd_tolerance<T>());
    }
  }
}

TEST_CASE("initialisation: NTK draws N(0,1); standard draws He/Glorot weights and zero biases") {
  nn::MlpSpec spec{{200, 300, 50}};
  spec.batch_norm = true;
  nn::Mlp<double> net(spec);
  RandomStream rs(42, 0);
  net.initialize(rs);
  // Sample mean of n i.i.d. N(0, σ²) has sd σ/√n; sample variance has sd ≈ σ²√(2/n). Bounds: 5 sd.
  auto check_normal = [](const Eigen::Ref<const Eigen::VectorXd>& v, double var) {
    const double n = double(v.size());
    const double mean = v.mean();
    const double s2 = (v.array() - mean).square().sum() / (n - 1);
    CHECK(std::abs(mean) < 5 * std::sqrt(var / n));
    CHECK(std::abs(s2 - var) < 5 * var * std::sqrt(2 / n));
  };
  auto flat = [](auto m) { return Eigen::VectorXd(Eigen::Map<const Eigen::VectorXd>(m.data(), m.size())); };
  check_normal(flat(net.weights(0)), 1.0);
  check_normal(flat(net.weights(1)), 1.0);
  check_normal(net.bias(0), 1.0);
  CHECK(net.bn_scale(0).isOnes());
  CHECK(net.bn_shift(0).isZero());
  CHECK(net.weight_multiplier(0) == doctest::Approx(1.0 / std::sqrt(200.0)));
  spec.parameterization = Parameterization::standard;
  nn::Mlp<double> he(spec);
  RandomStream rs2(42, 0);
  he.initialize(rs2);
  check_normal(flat(he.weights(0)), 2.0 / 200);
  check_normal(flat(he.weights(1)), 2.0 / 300);
  CHECK(he.bias(0).isZero());
  CHECK(he.weight_multiplier(1) == 1.0);
  spec.standard_init = nn::StandardInit::glorot;
  nn::Mlp<double> gl(spec);
  RandomStream rs3(43, 0);
  gl.initialize(rs3);
  check_normal(flat(gl.weights(0)), 2.0 / 500);
  // Same stream → same draws: initialisation is reproducible.
  nn::Mlp<double> again(spec);
  RandomStream rs4(43, 0);
  again.initialize(rs4);
  CHECK(again.parameters() == gl.parameters());
}

TEST_CASE("flat parameter layout and per-layer views") {
  nn::MlpSpec spec{{3, 4, 2}};
  spec.batch_norm = true;
  nn::Mlp<float> net(spec);
  CHECK(net.num_parameters() == 3 * 4 + 4 + 4 + 4 + 4 * 2 + 2);
  CHECK(net.weights_offset(0) == 0);
  CHECK(net.bias_offset(0) == 12);
  CHECK(net.bn_scale_offset(0) == 16);
  CHECK(net.bn_shift_offset(0) == 20);
  CHECK(net.weights_offset(1) == 24);
  CHECK(net.bias_offset(1) == 32);
  CHECK(!net.has_batch_norm(1));
  net.weights(1)(1, 2) = 5.0f;  // column-major: element (1, 2) of a 2 × 4 block
  CHECK(net.parameters()[24 + 2 * 2 + 1] == 5.0f);
  net.parameters()[13] = -1.0f;
  CHECK(net.bias(0)[1] == -1.0f);
}

TEST_CASE("running statistics: exponential average of batch mean and unbiased batch variance") {
  nn::MlpSpec spec{{3, 4, 2}};
  spec.batch_norm = true;
  spec.batch_norm_momentum = 0.25;
  Problem<double> p(spec, 6, 8);
  const Eigen::VectorXd rm0 = p.net.running_mean(0), rv0 = p.net.running_var(0);
  nn::MlpWorkspace<double> ws(p.net, 6);
  Eigen::VectorXd g(p.net.num_parameters());
  CHECK_THROWS_AS(nn::update_batch_norm_statistics(p.net, ws), sgdsde::invalid_argument);
  nn::loss_and_gradient(p.net, p.x, p.y, g, ws);
  CHECK(p.net.running_mean(0) == rm0);  // the gradient does not touch the buffers
  nn::update_batch_norm_statistics(p.net, ws);
  const Eigen::MatrixXd a =
      (p.net.weight_multiplier(0) * p.net.weights(0) * p.x).colwise() + p.net.bias_multiplier(0) * p.net.bias(0);
  for (int i = 0; i < 4; ++i) {
    const double mu = a.row(i).mean();
    const double var = (a.row(i).array() - mu).square().sum() / 5;  // unbiased, S − 1 = 5
    CHECK(p.net.running_mean(0)[i] == doctest::Approx(0.75 * rm0[i] + 0.25 * mu).epsilon(1e-13));
    CHECK(p.net.running_var(0)[i] == doctest::Approx(0.75 * rv0[i] + 0.25 * var).epsilon(1e-13));
  }
  // After an eval pass the workspace holds no batch statistics.
  Eigen::MatrixXd f(2, 6);
  nn::forward(p.net, p.x, f, ws);
  CHECK_THROWS_AS(nn::update_batch_norm_statistics(p.net, ws), sgdsde::invalid_argument);
}

TEST_CASE("diverged parameters give a non_finite outcome, not a silent NaN") {
  nn::MlpSpec spec{{3, 4, 2}};
  Problem<double> p(spec, 4, 2);
  nn::MlpWorkspace<double> ws(p.net, 4);
  Eigen::VectorXd g(p.net.num_parameters());
  double l = nn::loss_and_gradient(p.net, p.x, p.y, g, ws);
  CHECK(nn::gradient_outcome(l, g).ok());
  p.net.weights(1)(0, 0) = std::numeric_limits<double>::infinity();
  l = nn::loss_and_gradient(p.net, p.x, p.y, g, ws);
  const Outcome o = nn::gradient_outcome(l, g);
  CHECK(o.status == Status::non_finite);
  CHECK(!o.ok());
  g.setZero();
  g[5] = std::numeric_limits<double>::quiet_NaN();
  const Outcome o2 = nn::gradient_outcome(1.0, g);
  CHECK(o2.status == Status::non_finite);
  CHECK(o2.message == "gradient entry 5 is not finite");
}

TEST_CASE("softmax cross-entropy is stable for huge logits") {
  nn::MlpSpec spec{{2, 3}};
  spec.loss = Loss::softmax_cross_entropy;
  spec.hidden_activation = Activation::identity;
  spec.parameterization = Parameterization::standard;
  nn::Mlp<double> net(spec);
  net.weights(0) << 1, 0, 0, 1, 0, 0;  // f = (x1, x2, 0)
  nn::MlpWorkspace<double> ws(net, 2);
  Eigen::MatrixXd x(2, 1);
  x << 1000.0, 999.0;
  Eigen::VectorXi y(1);
  y << 1;
  Eigen::VectorXd g(net.num_parameters());
  const double l = nn::loss_and_gradient(net, x, y, g, ws);
  // log(e^1000 + e^999 + 1) − 999 = 1 + log(1 + e^{-1} + e^{-1000}) exactly to double precision.
  CHECK(l == doctest::Approx(1.0 + std::log1p(std::exp(-1.0))).epsilon(1e-14));
  CHECK(g.allFinite());
}

TEST_CASE("bad arguments throw invalid_argument") {
  nn::MlpSpec spec{{3, 4, 2}};
  Problem<double> p(spec, 4, 1);
  nn::MlpWorkspace<double> ws(p.net, 4);
  Eigen::VectorXd g(p.net.num_parameters());
  Eigen::MatrixXd wrong_width(5, 4), empty(3, 0), too_many(3, 5);
  wrong_width.setZero();
  too_many.setZero();
  CHECK_THROWS_AS(nn::loss_and_gradient(p.net, wrong_width, p.y, g, ws), sgdsde::invalid_argument);
  CHECK_THROWS_AS(nn::loss_and_gradient(p.net, empty, Eigen::MatrixXd(2, 0), g, ws), sgdsde::invalid_argument);
  CHECK_THROWS_AS(nn::loss_and_gradient(p.net, too_many, Eigen::MatrixXd::Zero(2, 5), g, ws),
                  sgdsde::invalid_argument);
  Eigen::MatrixXd bad = p.x;
  bad(1, 2) = std::nan("");
  CHECK_THROWS_WITH_AS(nn::loss_and_gradient(p.net, bad, p.y, g, ws),
                       doctest::Contains("argument 'inputs' is non-finite at (1, 2)"), sgdsde::invalid_argument);
  bad(1, 2) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_AS(nn::loss_and_gradient(p.net, bad, p.y, g, ws), sgdsde::invalid_argument);
  CHECK_THROWS_AS(nn::loss_and_gradient(p.net, p.x, Eigen::MatrixXd(p.y.topRows(1)), g, ws), sgdsde::invalid_argument);
  Eigen::VectorXd short_g(3);
  CHECK_THROWS_AS(nn::loss_and_gradient(p.net, p.x, p.y, short_g, ws), sgdsde::invalid_argument);
  // Labels with a squared-error network, and out-of-range labels with a cross-entropy network.
  CHECK_THROWS_AS(nn::loss_and_gradient(p.net, p.x, p.labels, g, ws), sgdsde::invalid_argument);
  spec.loss = Loss::softmax_cross_entropy;
  nn::Mlp<double> ce(spec);
  Eigen::VectorXi labels(4);
  labels << 0, 1, 2, 1;
  CHECK_THROWS_WITH_AS(nn::loss_and_gradient(ce, p.x, labels, g, ws), doctest::Contains("label 2 at sample 2"),
                       sgdsde::invalid_argument);
  labels[2] = -1;
  CHECK_THROWS_AS(nn::loss_and_gradient(ce, p.x, labels, g, ws), sgdsde::invalid_argument);
  CHECK_THROWS_AS(nn::loss_and_gradient(ce, p.x, Eigen::VectorXi::Zero(3), g, ws), sgdsde::invalid_argument);
  CHECK_THROWS_AS(nn::loss_and_gradient(ce, p.x, p.y, g, ws), sgdsde::invalid_argument);
  // A workspace of another network, bad specs, bad workspace size.
  nn::Mlp<double> other(nn::MlpSpec{{3, 5, 2}});
  nn::MlpWorkspace<double> other_ws(other, 4);
  CHECK_THROWS_AS(nn::loss_and_gradient(p.net, p.x, p.y, g, other_ws), sgdsde::invalid_argument);
  CHECK_THROWS_AS(nn::MlpWorkspace<double>(p.net, 0), sgdsde::invalid_argument);
  CHECK_THROWS_AS(nn::Mlp<double>(nn::MlpSpec{{3}}), sgdsde::invalid_argument);
  CHECK_THROWS_AS(nn::Mlp<double>(nn::MlpSpec{{3, 0, 2}}), sgdsde::invalid_argument);
  nn::MlpSpec neg{{3, 2}};
  neg.sigma_w = -1;
  CHECK_THROWS_AS(nn::Mlp<double>{neg}, sgdsde::invalid_argument);
  neg.sigma_w = 1;
  neg.loss = Loss::softmax_cross_entropy;
  neg.widths = {3, 1};
  CHECK_THROWS_AS(nn::Mlp<double>{neg}, sgdsde::invalid_argument);
  // Outputs of the wrong shape; the caller's arrays are untouched by a failed call.
  Eigen::MatrixXd f(2, 3);
  CHECK_THROWS_AS(nn::forward(p.net, p.x, f, ws), sgdsde::invalid_argument);
  const Eigen::VectorXd before = p.net.parameters();
  CHECK(p.net.parameters() == before);
}

// Every member of the class templates compiles for both scalars.
template class sgdsde::nn::Mlp<float>;
template class sgdsde::nn::Mlp<double>;
template struct sgdsde::nn::MlpWorkspace<float>;
template struct sgdsde::nn::MlpWorkspace<double>;
