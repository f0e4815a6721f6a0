// Tests for sgdsde/nn/per_sample.hpp: per-sample gradients average to the batch gradient and equal
// single-sample gradients; Jacobian rows equal VJPs of unit cotangents and central differences.
#include "sgdsde/nn/per_sample.hpp"

#include <cmath>
#include <limits>

#include <doctest/doctest.h>

#include "support/nn_problem.hpp"

TEST_CASE_TEMPLATE("per-sample gradients average to the batch gradient and equal one-sample gradients", T, float,
                   double) {
  // Both sides are exact reverse-mode computations with different summation orders: agreement to
  // rounding, a few hundred ε.
  const T tol = T(300) * Constants<T>::epsilon();
  std::uint64_t seed = 40;
  for (LossKind loss : {LossKind::squared_error, LossKind::cross_entropy})
    for (bool bn : {false, true})
      for (Activation a : {Activation::relu, Activation::tanh}) {
        Config c{nn::MlpSpec{{5, 7, 6, 3}}, loss};
        c.spec.batch_norm = bn;
        c.spec.hidden_activation = a;
        const Index S = 9;
        const Problem<T> p(c, S, ++seed);
        nn::MlpWorkspace<T> ws(p.net, S);
        Mat<T> G(p.net.num_parameters(), S);
        Vec<T> g(p.net.num_parameters()), g1(p.net.num_parameters());
        // With batch norm, per-sample gradients are defined in eval mode; compare in that mode.
        const T lg = p.with_loss([&](const auto& l) { return nn::per_sample_gradients(p.net, l, p.x, G, ws); });
        const T lb = p.loss_and_gradient(p.net, g, ws, Mode::eval);
        CHECK(lg == doctest::Approx(double(lb)).epsilon(double(tol)));
        CHECK(relative_error<T>(G.rowwise().mean(), g) <= tol);
        for (Index s = 0; s < S; s += 4) {
          if (p.squared())
            nn::loss_and_gradient(p.net, nn::SquaredError(p.y.col(s)), p.x.col(s), g1, ws, Mode::eval);
          else
            nn::loss_and_gradient(p.net, nn::SoftmaxCrossEntropy(p.labels.segment(s, 1)), p.x.col(s), g1, ws,
                                  Mode::eval);
          CHECK(relative_error<T>(G.col(s), g1) <= tol);
        }
        // The returning form is the same computation.
        const Mat<T> G2 = p.with_loss([&](const auto& l) { return Mat<T>(nn::per_sample_gradients(p.net, l, p.x)); });
        CHECK(G2 == G);
      }
}

TEST_CASE_TEMPLATE("Jacobian rows equal VJPs of unit cotangents", T, float, double) {
  const T tol = T(300) * Constants<T>::epsilon();
  for (bool bn : {false, true}) {
    Config c{nn::MlpSpec{{4, 6, 3}}};
    c.spec.batch_norm = bn;
    c.spec.hidden_activation = Activation::erf;
    const Index S = 4, d = 3;
    const Problem<T> p(c, S, 5);
    const nn::Mlp<T>& net = p.net;
    nn::MlpWorkspace<T> ws(net, S);
    Mat<T> J(S * d, net.num_parameters());
    nn::output_jacobian(net, p.x, J, ws);
    CHECK(nn::output_jacobian(net, p.x) == J);
    Mat<T> u(d, S), xbar(4, S);
    Vec<T> row(net.num_parameters());
    for (Index s = 0; s < S; ++s)
      for (Index k = 0; k < d; ++k) {
        u.setZero();
        u(k, s) = T(1);
        nn::output_vjp(net, p.x, u, row, xbar, ws);
        CHECK(relative_error<T>(J.row(s * d + k).transpose(), row) <= tol);
      }
    // The empirical NTK J Jᵀ is symmetric positive semi-definite with a positive diagonal.
    const Mat<T> theta = J * J.transpose();
    CHECK(theta.diagonal().minCoeff() > T(0));
    // A Jacobian written into a block of a larger matrix (outer stride ≠ rows) is the same.
    Mat<T> big = Mat<T>::Zero(S * d + 3, net.num_parameters());
    nn::output_jacobian(net, p.x, big.topRows(S * d), ws);
    CHECK(big.topRows(S * d) == J);
    CHECK(big.bottomRows(3).isZero());
  }
}

TEST_CASE("Jacobian equals central differences of the outputs") {
  Config c{nn::MlpSpec{{3, 5, 2}}};
  c.spec.hidden_activation = Activation::tanh;
  c.spec.output_activation = Activation::erf;
  const Index S = 3;
  Problem<double> p(c, S, 9);
  nn::Mlp<double>& net = p.net;
  nn::MlpWorkspace<double> ws(net, S);
  Mat<double> J(S * 2, net.num_parameters()), fd(J.rows(), J.cols());
  nn::output_jacobian(net, p.x, J, ws);
  // h = ε^{1/3}: central-difference error ≈ 1e-10 relative on O(1) outputs; bound 1e-6 (fd_tolerance).
  const double h = Constants<double>::fd_step();
  Mat<double> fp(2, S), fm(2, S);
  for (Index i = 0; i < net.num_parameters(); ++i) {
    const double th = net.parameters()[i];
    net.parameters()[i] = th + h;
    nn::forward(net, p.x, fp, ws);
    net.parameters()[i] = th - h;
    nn::forward(net, p.x, fm, ws);
    net.parameters()[i] = th;
    const Mat<double> col = (fp - fm) / (2 * h);
    fd.col(i) = Eigen::Map<const Vec<double>>(col.data(), col.size());
  }
  CHECK(relative_error<double>(J, fd) < fd_tolerance<double>());
}

TEST_CASE("per-sample functions reject train-mode batch norm and bad shapes") {
  Config c{nn::MlpSpec{{3, 4, 2}}};
  c.spec.batch_norm = true;
  const Problem<double> p(c, 4, 1);
  const nn::Mlp<double>& net = p.net;
  nn::MlpWorkspace<double> ws(net, 4);
  const nn::SquaredError se(p.y);
  Mat<double> G(net.num_parameters(), 4), J(8, net.num_parameters());
  CHECK_THROWS_AS(nn::per_sample_gradients(net, se, p.x, G, ws, Mode::train), sgdsde::invalid_argument);
  CHECK_THROWS_AS(nn::output_jacobian(net, p.x, J, ws, Mode::train), sgdsde::invalid_argument);
  Mat<double> G_bad(net.num_parameters(), 3), J_bad(7, net.num_parameters());
  CHECK_THROWS_AS(nn::per_sample_gradients(net, se, p.x, G_bad, ws), sgdsde::invalid_argument);
  CHECK_THROWS_AS(nn::output_jacobian(net, p.x, J_bad, ws), sgdsde::invalid_argument);
  Mat<double> x_bad = Mat<double>::Ones(2, 4);
  CHECK_THROWS_AS(nn::output_jacobian(net, x_bad, J, ws), sgdsde::invalid_argument);
  CHECK_NOTHROW(nn::per_sample_gradients(net, se, p.x, G, ws));
}
