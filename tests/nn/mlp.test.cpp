// Tests for sgdsde/nn/mlp.hpp: forward pass against an independent per-sample loop, reverse-mode
// gradients (parameters, inputs, output VJPs) against central finite differences for every activation,
// parameterisation, loss and batch-norm mode, initialisation laws, running statistics, bad input.
#include "sgdsde/nn/mlp.hpp"

#include <cmath>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "support/nn_problem.hpp"

namespace {

// Reverse-mode gradient of the mean loss vs central differences of the loss, all coordinates.
template <class T>
void check_parameter_gradient(const Config& c, Mode mode, std::uint64_t seed) {
  Problem<T> p = kink_free_problem<T>(c, 7, seed, mode);
  nn::MlpWorkspace<T> ws(p.net, 9);
  CAPTURE(describe(c, mode));
  Vec<T> g(p.net.num_parameters());
  const T l0 = p.loss_and_gradient(p.net, g, ws, mode);
  CHECK(l0 == doctest::Approx(double(p.loss(p.net, ws, mode))).epsilon(1e-6));
  const T h = Constants<T>::fd_step();
  Vec<T> fd(g.size());
  nn::Mlp<T> net = p.net;
  for (Index i = 0; i < g.size(); ++i) {
    const T theta = net.parameters()[i];
    net.parameters()[i] = theta + h;
    const T lp = p.loss(net, ws, mode);
    net.parameters()[i] = theta - h;
    const T lm = p.loss(net, ws, mode);
    net.parameters()[i] = theta;
    fd[i] = (lp - lm) / (T(2) * h);
  }
  CHECK(relative_error<T>(g, fd) <= fd_tolerance<T>());
  CHECK(g.norm() > T(1e-3));  // the comparison is not between two zero vectors
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
      Problem<double> p(Config{spec}, 5, 11);
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
  Problem<double> p(Config{nn::MlpSpec{{3, 5, 4}}}, 6, 5);
  nn::MlpWorkspace<double> ws(p.net, 6);
  Mat<double> f(4, 6);
  nn::forward(p.net, p.x, f, ws, Mode::eval);
  CHECK(nn::loss(p.net, nn::SquaredError(p.y), p.x, ws) ==
        doctest::Approx(0.5 * (f - p.y).squaredNorm() / 6).epsilon(1e-14));
  double ce = 0;
  for (int s = 0; s < 6; ++s) ce += std::log(f.col(s).array().exp().sum()) - f(p.labels[s], s);
  CHECK(nn::loss(p.net, nn::SoftmaxCrossEntropy(p.labels), p.x, ws) == doctest::Approx(ce / 6).epsilon(1e-13));
  // The returning forms compute the same values.
  CHECK(nn::loss(p.net, nn::SoftmaxCrossEntropy(p.labels), p.x) == doctest::Approx(ce / 6).epsilon(1e-13));
  CHECK(nn::forward(p.net, p.x) == f);
}

TEST_CASE("parameter gradient equals central differences (double, every configuration)") {
  std::uint64_t seed = 100;
  for (const Config& c : configs()) {
    check_parameter_gradient<double>(c, Mode::train, ++seed);
    if (c.spec.batch_norm) check_parameter_gradient<double>(c, Mode::eval, ++seed);
  }
  Config out_tanh{nn::MlpSpec{{5, 4, 3}}};
  out_tanh.spec.output_activation = Activation::tanh;
  check_parameter_gradient<double>(out_tanh, Mode::train, 7);
}

TEST_CASE_TEMPLATE("parameter gradient equals central differences (float and double)", T, float, double) {
  std::uint64_t seed = 500;
  for (const Config& c : configs())
    if (c.spec.parameterization == Parameterization::ntk) check_parameter_gradient<T>(c, Mode::train, ++seed);
}

TEST_CASE("float gradient agrees with the double gradient of the same network") {
  nn::MlpSpec spec{{6, 8, 8, 3}};
  spec.batch_norm = true;
  Problem<double> p(Config{spec, LossKind::cross_entropy}, 10, 3);
  nn::Mlp<float> nf = p.net.cast<float>();
  nn::MlpWorkspace<double> wd(p.net, 10);
  nn::MlpWorkspace<float> wf(nf, 10);
  Vec<double> gd(p.net.num_parameters());
  Vec<float> gf(nf.num_parameters());
  nn::loss_and_gradient(p.net, nn::SoftmaxCrossEntropy(p.labels), p.x, gd, wd);
  const Mat<float> xf = p.x.cast<float>();
  nn::loss_and_gradient(nf, nn::SoftmaxCrossEntropy(p.labels), xf, gf, wf);
  // float rounding (ε ≈ 6e-8) through a depth-3 network with batch norm: ~1e-6 relative.
  CHECK(relative_error<double>(gf.cast<double>(), gd) < 1e-4);
}

TEST_CASE_TEMPLATE("input gradient and output VJPs equal central differences", T, float, double) {
  std::uint64_t seed = 900;
  for (const Config& c : configs()) {
    if (c.spec.parameterization != Parameterization::ntk) continue;
    for (Mode mode : {Mode::train, Mode::eval}) {
      if (!c.spec.batch_norm && mode == Mode::eval) continue;
      Problem<T> p = kink_free_problem<T>(c, 5, ++seed, mode);
      CAPTURE(describe(c, mode));
      nn::MlpWorkspace<T> ws(p.net, 5);
      const T h = Constants<T>::fd_step();
      // dL/dX
      Mat<T> gx(p.net.input_dim(), 5);
      p.with_loss([&](const auto& loss) { return nn::loss_input_gradient(p.net, loss, p.x, gx, ws, mode); });
      Mat<T> fdx(gx.rows(), gx.cols());
      Problem<T> q = p;
      for (Eigen::Index j = 0; j < gx.size(); ++j) {
        const T v = p.x(j);
        q.x(j) = v + h;
        const T lp = q.loss(q.net, ws, mode);
        q.x(j) = v - h;
        const T lm = q.loss(q.net, ws, mode);
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
  net.initialize(RandomStream(42, 0));
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
  Problem<double> p(Config{spec}, 6, 8);
  const Eigen::VectorXd rm0 = p.net.running_mean(0), rv0 = p.net.running_var(0);
  nn::MlpWorkspace<double> ws(p.net, 6);
  Eigen::VectorXd g(p.net.num_parameters());
  CHECK_THROWS_AS(nn::update_batch_norm_statistics(p.net, ws), sgdsde::invalid_argument);
  nn::loss_and_gradient(p.net, nn::SquaredError(p.y), p.x, g, ws);
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
  Problem<double> p(Config{nn::MlpSpec{{3, 4, 2}}}, 4, 2);
  nn::MlpWorkspace<double> ws(p.net, 4);
  Eigen::VectorXd g(p.net.num_parameters());
  double l = nn::loss_and_gradient(p.net, nn::SquaredError(p.y), p.x, g, ws);
  CHECK(nn::gradient_outcome(l, g).ok());
  CHECK(nn::loss_and_gradient(p.net, nn::SquaredError(p.y), p.x).outcome.ok());
  p.net.weights(1)(0, 0) = std::numeric_limits<double>::infinity();
  l = nn::loss_and_gradient(p.net, nn::SquaredError(p.y), p.x, g, ws);
  const Outcome o = nn::gradient_outcome(l, g);
  CHECK(o.status == Status::non_finite);
  CHECK(!o.ok());
  CHECK(nn::loss_and_gradient(p.net, nn::SquaredError(p.y), p.x).outcome.status == Status::non_finite);
  g.setZero();
  g[5] = std::numeric_limits<double>::quiet_NaN();
  const Outcome o2 = nn::gradient_outcome(1.0, g);
  CHECK(o2.status == Status::non_finite);
  CHECK(o2.message == "gradient entry 5 is not finite");
}

TEST_CASE("softmax cross-entropy is stable for huge logits") {
  nn::MlpSpec spec{{2, 3}};
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
  const double l = nn::loss_and_gradient(net, nn::SoftmaxCrossEntropy(y), x, g, ws);
  // log(e^1000 + e^999 + 1) − 999 = 1 + log(1 + e^{-1} + e^{-1000}) exactly to double precision.
  CHECK(l == doctest::Approx(1.0 + std::log1p(std::exp(-1.0))).epsilon(1e-14));
  CHECK(g.allFinite());
}

TEST_CASE("bad arguments throw invalid_argument") {
  nn::MlpSpec spec{{3, 4, 2}};
  Problem<double> p(Config{spec}, 4, 1);
  nn::MlpWorkspace<double> ws(p.net, 4);
  Eigen::VectorXd g(p.net.num_parameters());
  const nn::SquaredError se(p.y);
  Eigen::MatrixXd wrong_width(5, 4), empty(3, 0), too_many(3, 5), y0(2, 0), y5 = Eigen::MatrixXd::Zero(2, 5);
  wrong_width.setZero();
  too_many.setZero();
  CHECK_THROWS_AS(nn::loss_and_gradient(p.net, se, wrong_width, g, ws), sgdsde::invalid_argument);
  CHECK_THROWS_AS(nn::loss_and_gradient(p.net, nn::SquaredError(y0), empty, g, ws), sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::loss_and_gradient(p.net, nn::SquaredError(y5), too_many, g, ws),
                       doctest::Contains("max_batch"), sgdsde::invalid_argument);
  Eigen::MatrixXd bad = p.x;
  bad(1, 2) = std::nan("");
  CHECK_THROWS_WITH_AS(nn::loss_and_gradient(p.net, se, bad, g, ws),
                       doctest::Contains("argument 'inputs' is non-finite at (1, 2)"), sgdsde::invalid_argument);
  bad(1, 2) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_AS(nn::loss_and_gradient(p.net, se, bad, g, ws), sgdsde::invalid_argument);
  CHECK_THROWS_AS(nn::loss_and_gradient(p.net, nn::SquaredError(p.y.topRows(1)), p.x, g, ws),
                  sgdsde::invalid_argument);
  CHECK_THROWS_AS(nn::loss_and_gradient(p.net, nn::SquaredError(p.y.leftCols(3)), p.x, g, ws),
                  sgdsde::invalid_argument);
  Eigen::MatrixXd y_nan = p.y;
  y_nan(0, 1) = std::nan("");
  CHECK_THROWS_WITH_AS(nn::loss_and_gradient(p.net, nn::SquaredError(y_nan), p.x, g, ws),
                       doctest::Contains("targets"), sgdsde::invalid_argument);
  Eigen::VectorXd short_g(3);
  CHECK_THROWS_AS(nn::loss_and_gradient(p.net, se, p.x, short_g, ws), sgdsde::invalid_argument);
  // Out-of-range or missing labels; cross-entropy on a single output.
  Labels labels(4);
  labels << 0, 1, 2, 1;
  CHECK_THROWS_WITH_AS(nn::loss_and_gradient(p.net, nn::SoftmaxCrossEntropy(labels), p.x, g, ws),
                       doctest::Contains("label 2 at sample 2"), sgdsde::invalid_argument);
  labels[2] = -1;
  CHECK_THROWS_AS(nn::loss_and_gradient(p.net, nn::SoftmaxCrossEntropy(labels), p.x, g, ws),
                  sgdsde::invalid_argument);
  labels[2] = 0;
  CHECK_THROWS_AS(nn::loss_and_gradient(p.net, nn::SoftmaxCrossEntropy(labels.head(3)), p.x, g, ws),
                  sgdsde::invalid_argument);
  CHECK_NOTHROW(nn::loss_and_gradient(p.net, nn::SoftmaxCrossEntropy(labels), p.x, g, ws));
  nn::Mlp<double> one({3, 1});
  nn::MlpWorkspace<double> ws1(one, 4);
  Eigen::VectorXd g1(one.num_parameters());
  const Labels zeros = Labels::Zero(4);
  CHECK_THROWS_WITH_AS(nn::loss_and_gradient(one, nn::SoftmaxCrossEntropy(zeros), p.x, g1, ws1),
                       doctest::Contains(">= 2 outputs"), sgdsde::invalid_argument);
  // Bad specs and workspace sizes.
  CHECK_THROWS_AS(nn::MlpWorkspace<double>(p.net, 0), sgdsde::invalid_argument);
  CHECK_THROWS_AS(nn::Mlp<double>(nn::MlpSpec{{3}}), sgdsde::invalid_argument);
  CHECK_THROWS_AS(nn::Mlp<double>({3, 0, 2}), sgdsde::invalid_argument);
  nn::MlpSpec neg{{3, 2}};
  neg.sigma_w = -1;
  CHECK_THROWS_AS(nn::Mlp<double>{neg}, sgdsde::invalid_argument);
  // Outputs of the wrong shape; the caller's arrays are untouched by a failed call.
  Eigen::MatrixXd f(2, 3);
  const Eigen::VectorXd before = p.net.parameters();
  CHECK_THROWS_AS(nn::forward(p.net, p.x, f, ws), sgdsde::invalid_argument);
  CHECK(p.net.parameters() == before);
}

TEST_CASE("a workspace made for another network is a named error, not a crash") {
  // Regression: a batch-norm network with a workspace built without batch norm used to segfault in
  // loss_and_gradient, forward and per_sample_gradients (the batch-norm buffers were empty).
  nn::MlpSpec plain{{3, 4, 2}}, with_bn = plain, wider{{3, 5, 2}};
  with_bn.batch_norm = true;
  Problem<double> bn(Config{with_bn}, 4, 3), pl(Config{plain}, 4, 3);
  const nn::Mlp<double> other(wider);
  nn::MlpWorkspace<double> ws_plain(pl.net, 4), ws_bn(bn.net, 4), ws_wide(other, 4), ws_small(bn.net, 3);
  nn::TangentWorkspace<double> tw_plain(pl.net, 4), tw_bn(bn.net, 4);
  const nn::SquaredError se(bn.y);
  Eigen::VectorXd g(bn.net.num_parameters()), hv(g.size()), v = Eigen::VectorXd::Ones(g.size());
  Eigen::MatrixXd f(2, 4), G(g.size(), 4), J(8, g.size()), gx(3, 4);
  const auto named = doctest::Contains("without batch norm");
  CHECK_THROWS_WITH_AS(nn::loss_and_gradient(bn.net, se, bn.x, g, ws_plain), named, sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::forward(bn.net, bn.x, f, ws_plain), named, sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::per_sample_gradients(bn.net, se, bn.x, G, ws_plain), named, sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::loss(bn.net, se, bn.x, ws_plain), named, sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::loss_input_gradient(bn.net, se, bn.x, gx, ws_plain), named, sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::output_jacobian(bn.net, bn.x, J, ws_plain), named, sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::update_batch_norm_statistics(bn.net, ws_plain), named, sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::hessian_vector_product(bn.net, se, bn.x, v, hv, tw_plain), named,
                       sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::jvp(bn.net, bn.x, v, Eigen::MatrixXd(), f, f, tw_plain), named, sgdsde::invalid_argument);
  // The other way round, other widths, and too small a batch.
  Eigen::VectorXd gp(pl.net.num_parameters());
  CHECK_THROWS_WITH_AS(nn::loss_and_gradient(pl.net, nn::SquaredError(pl.y), pl.x, gp, ws_bn),
                       doctest::Contains("with batch norm"), sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::loss_and_gradient(bn.net, se, bn.x, g, ws_wide), doctest::Contains("other widths"),
                       sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::loss_and_gradient(bn.net, se, bn.x, g, ws_small), doctest::Contains("max_batch"),
                       sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::per_sample_gradients(bn.net, se, bn.x, G, ws_small), doctest::Contains("max_batch"),
                       sgdsde::invalid_argument);
  // The matching workspaces work.
  CHECK_NOTHROW(nn::loss_and_gradient(bn.net, se, bn.x, g, ws_bn));
  CHECK_NOTHROW(nn::hessian_vector_product(bn.net, se, bn.x, v, hv, tw_bn));
}

TEST_CASE("first-program constructors and returning forms") {
  // Mlp from widths, initialised from a temporary stream: the same draws as from a named stream.
  nn::Mlp<double> net({5, 32, 1});
  net.initialize(RandomStream(2));
  nn::Mlp<double> again(nn::MlpSpec{{5, 32, 1}});
  RandomStream named(2);
  again.initialize(named);
  CHECK(net.parameters() == again.parameters());
  CHECK(net.spec().hidden_activation == Activation::relu);
  CHECK(net.spec().parameterization == Parameterization::ntk);
  nn::Mlp<float> standard({4, 3}, Activation::tanh, Parameterization::standard);
  CHECK(standard.spec().parameterization == Parameterization::standard);
  // Returning forms equal the write-into forms (same arithmetic: bitwise equal).
  Problem<double> p(Config{nn::MlpSpec{{3, 6, 2}}}, 5, 4);
  nn::MlpWorkspace ws(p.net, 5);  // Scalar deduced
  Eigen::VectorXd g(p.net.num_parameters());
  const double l = nn::loss_and_gradient(p.net, nn::SquaredError(p.y), p.x, g, ws);
  const auto r = nn::loss_and_gradient(p.net, nn::SquaredError(p.y), p.x);
  CHECK(r.loss == l);
  CHECK(r.gradient == g);
  // A loss over a block of the data equals the loss over a copy of that block.
  const Eigen::MatrixXd y3 = p.y.leftCols(3), x3 = p.x.leftCols(3);
  CHECK(nn::loss(p.net, nn::SquaredError(p.y.leftCols(3)), p.x.leftCols(3)) ==
        nn::loss(p.net, nn::SquaredError(y3), x3));
  const Labels lab3 = p.labels.head(3);
  CHECK(nn::loss(p.net, nn::SoftmaxCrossEntropy(p.labels.head(3)), x3) ==
        nn::loss(p.net, nn::SoftmaxCrossEntropy(lab3), x3));
}

TEST_CASE_TEMPLATE("accuracy is the fraction of argmax hits", T, float, double) {
  // Identity network f = x on 3 classes: the argmax of each column is known by construction.
  nn::Mlp<T> net({3, 3}, Activation::identity, Parameterization::standard);
  net.weights(0).setIdentity();
  Mat<T> x(3, 5);
  x << 1, 0, 0, 2, 0,  //
      0, 1, 0, 1, 3,   //
      0, 0, 1, 0, 1;
  Labels y(5);
  y << 0, 1, 1, 0, 2;  // hits: samples 0, 1, 3
  CHECK(nn::accuracy(net, x, y) == doctest::Approx(3.0 / 5.0));
  const Dataset<T> data = classification_data(x, y, 3);
  CHECK(nn::accuracy(net, data) == doctest::Approx(3.0 / 5.0));
  CHECK_THROWS_AS(nn::accuracy(net, x, y.head(4).eval()), sgdsde::invalid_argument);
}
