// Tests for sgdsde/nn/per_sample.hpp: per-sample gradients average to the batch gradient and equal
// single-sample gradients; Jacobian rows equal VJPs of unit cotangents and central differences.
#include "sgdsde/nn/per_sample.hpp"

#include <cmath>
#include <limits>

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

template <class T>
T relative_error(const Eigen::Ref<const Mat<T>>& a, const Eigen::Ref<const Mat<T>>& b) {
  return (a - b).norm() / std::max(b.norm(), std::numeric_limits<T>::min());
}

template <class T>
nn::Mlp<T> make_net(const nn::MlpSpec& spec, std::uint64_t seed) {
  nn::Mlp<T> net(spec);
  RandomStream rs(seed, 0);
  net.initialize(rs);
  for (Eigen::Index l = 0; l < net.num_layers(); ++l)
    if (net.has_batch_norm(l)) {
      RandomStream(seed, 10 + std::uint64_t(l)).fill_normal(net.running_mean(l));
      RandomStream(seed, 20 + std::uint64_t(l)).fill_uniform(net.running_var(l));
      net.running_var(l).array() += T(0.5);
      RandomStream(seed, 30 + std::uint64_t(l)).fill_normal(net.bn_shift(l));
    }
  return net;
}

}  // namespace

TEST_CASE_TEMPLATE("per-sample gradients average to the batch gradient and equal one-sample gradients", T, float,
                   double) {
  // Both sides are exact reverse-mode computations with different summation orders: agreement to
  // rounding, a few hundred ε.
  const T tol = T(300) * Constants<T>::epsilon();
  std::uint64_t seed = 40;
  for (Loss loss : {Loss::squared_error, Loss::softmax_cross_entropy})
    for (bool bn : {false, true})
      for (Activation a : {Activation::relu, Activation::tanh}) {
        nn::MlpSpec spec{{5, 7, 6, 3}};
        spec.loss = loss;
        spec.batch_norm = bn;
        spec.hidden_activation = a;
        const nn::Mlp<T> net = make_net<T>(spec, ++seed);
        const Eigen::Index S = 9;
        Mat<T> x(5, S), y(3, S);
        RandomStream(seed, 1).fill_normal(x);
        RandomStream(seed, 2).fill_normal(y);
        Eigen::VectorXi labels(S);
        for (Eigen::Index s = 0; s < S; ++s) labels[s] = int(s % 3);
        nn::MlpWorkspace<T> ws(net, S);
        Mat<T> G(net.num_parameters(), S);
        Vec<T> g(net.num_parameters()), g1(net.num_parameters());
        // With batch norm, per-sample gradients are defined in eval mode; compare in that mode.
        const T lg = loss == Loss::squared_error ? nn::per_sample_gradients(net, x, y, G, ws)
                                                 : nn::per_sample_gradients(net, x, labels, G, ws);
        const T lb = loss == Loss::squared_error ? nn::loss_and_gradient(net, x, y, g, ws, Mode::eval)
                                                 : nn::loss_and_gradient(net, x, labels, g, ws, Mode::eval);
        CHECK(lg == doctest::Approx(double(lb)).epsilon(double(tol)));
        CHECK(relative_error<T>(G.rowwise().mean(), g) <= tol);
        for (Eigen::Index s = 0; s < S; s += 4) {
          if (loss == Loss::squared_error)
            nn::loss_and_gradient(net, x.col(s), y.col(s), g1, ws, Mode::eval);
          else
            nn::loss_and_gradient(net, x.col(s), labels.segment(s, 1), g1, ws, Mode::eval);
          CHECK(relative_error<T>(G.col(s), g1) <= tol);
        }
      }
}

TEST_CASE_TEMPLATE("Jacobian rows equal VJPs of unit cotangents", T, float, double) {
  const T tol = T(300) * Constants<T>::epsilon();
  for (bool bn : {false, true}) {
    nn::MlpSpec spec{{4, 6, 3}};
    spec.batch_norm = bn;
    spec.hidden_activation = Activation::erf;
    const nn::Mlp<T> net = make_net<T>(spec, 5);
    const Eigen::Index S = 4, d = 3;
    Mat<T> x(4, S);
    RandomStream(5, 1).fill_normal(x);
    nn::MlpWorkspace<T> ws(net, S);
    Mat<T> J(S * d, net.num_parameters());
    nn::output_jacobian(net, x, J, ws);
    Mat<T> u(d, S), xbar(4, S);
    Vec<T> row(net.num_parameters());
    for (Eigen::Index s = 0; s < S; ++s)
      for (Eigen::Index k = 0; k < d; ++k) {
        u.setZero();
        u(k, s) = T(1);
        nn::output_vjp(net, x, u, row, xbar, ws);
        CHECK(relative_error<T>(J.row(s * d + k).transpose(), row) <= tol);
      }
    // The empirical NTK J Jᵀ is symmetric positive semi-definite with a positive diagonal.
    const Mat<T> theta = J * J.transpose();
    CHECK(theta.diagonal().minCoeff() > T(0));
    // A Jacobian written into a block of a larger matrix (outer stride ≠ rows) is the same.
    Mat<T> big = Mat<T>::Zero(S * d + 3, net.num_parameters());
    nn::output_jacobian(net, x, big.topRows(S * d), ws);
    CHECK(big.topRows(S * d) == J);
    CHECK(big.bottomRows(3).isZero());
  }
}

TEST_CASE("Jacobian equals central differences of the outputs") {
  nn::MlpSpec spec{{3, 5, 2}};
  spec.hidden_activation = Activation::tanh;
  spec.output_activation = Activation::erf;
  nn::Mlp<double> net = make_net<double>(spec, 9);
  const Eigen::Index S = 3;
  Mat<double> x(3, S);
  RandomStream(9, 1).fill_normal(x);
  nn::MlpWorkspace<double> ws(net, S);
  Mat<double> J(S * 2, net.num_parameters()), fd(J.rows(), J.cols());
  nn::output_jacobian(net, x, J, ws);
  // h = ε^{1/3}: central-difference error ≈ 1e-10 relative on O(1) outputs; bound 1e-6 (see mlp tests).
  const double h = Constants<double>::fd_step();
  Mat<double> fp(2, S), fm(2, S);
  for (Eigen::Index i = 0; i < net.num_parameters(); ++i) {
    const double th = net.parameters()[i];
    net.parameters()[i] = th + h;
    nn::forward(net, x, fp, ws);
    net.parameters()[i] = th - h;
    nn::forward(net, x, fm, ws);
    net.parameters()[i] = th;
    const Mat<double> col = (fp - fm) / (2 * h);
    fd.col(i) = Eigen::Map<const Vec<double>>(col.data(), col.size());
  }
  CHECK(relative_error<double>(J, fd) < 1e-6);
}

TEST_CASE("per-sample functions reject train-mode batch norm and bad shapes") {
  nn::MlpSpec spec{{3, 4, 2}};
  spec.batch_norm = true;
  const nn::Mlp<double> net = make_net<double>(spec, 1);
  nn::MlpWorkspace<double> ws(net, 4);
  Mat<double> x = Mat<double>::Ones(3, 4), y = Mat<double>::Zero(2, 4);
  Mat<double> G(net.num_parameters(), 4), J(8, net.num_parameters());
  CHECK_THROWS_AS(nn::per_sample_gradients(net, x, y, G, ws, Mode::train), sgdsde::invalid_argument);
  CHECK_THROWS_AS(nn::output_jacobian(net, x, J, ws, Mode::train), sgdsde::invalid_argument);
  Mat<double> G_bad(net.num_parameters(), 3), J_bad(7, net.num_parameters());
  CHECK_THROWS_AS(nn::per_sample_gradients(net, x, y, G_bad, ws), sgdsde::invalid_argument);
  CHECK_THROWS_AS(nn::output_jacobian(net, x, J_bad, ws), sgdsde::invalid_argument);
  Mat<double> x_bad = Mat<double>::Ones(2, 4);
  CHECK_THROWS_AS(nn::output_jacobian(net, x_bad, J, ws), sgdsde::invalid_argument);
  CHECK_NOTHROW(nn::per_sample_gradients(net, x, y, G, ws));
}
