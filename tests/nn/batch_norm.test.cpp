// Tests for sgdsde/nn/batch_norm.hpp: normalised outputs have batch mean β and variance γ²·v/(v+ε);
// the train-mode adjoint (through μ and v) and eval-mode adjoint equal central differences.
#include "sgdsde/nn/batch_norm.hpp"

#include <cmath>

#include <doctest/doctest.h>

#include "sgdsde/core/random.hpp"

using namespace sgdsde;

namespace {
using Mat = Eigen::MatrixXd;
using Vec = Eigen::VectorXd;

// L(a) = Σ w ⊙ BN(a) for fixed weights w, so dL/dy = w.
double weighted_output(const Mat& a, const Vec& gamma, const Vec& beta, const Mat& w, bool train, const Vec& rm,
                       const Vec& rv) {
  Mat x = a, y(a.rows(), a.cols());
  Vec mean(a.rows()), var(a.rows()), inv(a.rows());
  if (train)
    nn::batch_norm_train_forward(x, gamma, beta, 1e-5, mean, var, inv, y);
  else
    nn::batch_norm_eval_forward(x, gamma, beta, rm, rv, 1e-5, inv, y);
  return w.cwiseProduct(y).sum();
}
}  // namespace

TEST_CASE("batch-norm train forward standardises each feature over the batch") {
  Mat a(3, 8), y(3, 8);
  RandomStream(1, 0).fill_normal(a);
  a.row(1).array() = a.row(1).array() * 5 + 2;
  Vec gamma(3), beta(3), mean(3), var(3), inv(3);
  gamma << 1.5, 0.5, 2.0;
  beta << 0.1, -0.2, 0.3;
  const Mat a0 = a;
  nn::batch_norm_train_forward(a, gamma, beta, 1e-5, mean, var, inv, y);
  for (int i = 0; i < 3; ++i) {
    const double mu = a0.row(i).mean();
    const double v = (a0.row(i).array() - mu).square().mean();
    CHECK(mean[i] == doctest::Approx(mu).epsilon(1e-14));
    CHECK(var[i] == doctest::Approx(v).epsilon(1e-13));
    CHECK(y.row(i).mean() == doctest::Approx(beta[i]).epsilon(1e-13));
    const double vy = (y.row(i).array() - beta[i]).square().mean();
    CHECK(vy == doctest::Approx(gamma[i] * gamma[i] * v / (v + 1e-5)).epsilon(1e-12));
  }
}

TEST_CASE("batch-norm adjoints equal central differences") {
  // h = 6e-6 ≈ ε^{1/3}: central-difference error ≈ 1e-10 relative here; bound 1e-6.
  const double h = 6e-6;
  for (bool train : {true, false}) {
    CAPTURE(train);
    Mat a(4, 6), w(4, 6);
    RandomStream(2, 0).fill_normal(a);
    RandomStream(2, 1).fill_normal(w);
    Vec gamma(4), beta(4), rm(4), rv(4);
    gamma << 1.2, 0.7, -0.4, 2.0;
    beta << 0.3, -0.1, 0.2, 0.0;
    rm << 0.1, -0.3, 0.2, 0.5;
    rv << 1.5, 0.6, 2.0, 0.9;
    // Analytic adjoint.
    Mat x = a, y(4, 6), d = w;
    Vec mean(4), var(4), inv(4), gg(4), gb(4);
    if (train) {
      nn::batch_norm_train_forward(x, gamma, beta, 1e-5, mean, var, inv, y);
      nn::batch_norm_train_backward(x, gamma, inv, d, gg.data(), gb.data());
    } else {
      nn::batch_norm_eval_forward(x, gamma, beta, rm, rv, 1e-5, inv, y);
      nn::batch_norm_eval_backward(x, gamma, inv, d, gg.data(), gb.data());
    }
    Mat fd(4, 6);
    for (int j = 0; j < 24; ++j) {
      Mat ap = a, am = a;
      ap(j) += h;
      am(j) -= h;
      fd(j) = (weighted_output(ap, gamma, beta, w, train, rm, rv) - weighted_output(am, gamma, beta, w, train, rm, rv)) /
              (2 * h);
    }
    CHECK((d - fd).norm() <= 1e-6 * fd.norm());
    Vec fdg(4), fdb(4);
    for (int i = 0; i < 4; ++i) {
      Vec gp = gamma, gm = gamma, bp = beta, bm = beta;
      gp[i] += h;
      gm[i] -= h;
      bp[i] += h;
      bm[i] -= h;
      fdg[i] = (weighted_output(a, gp, beta, w, train, rm, rv) - weighted_output(a, gm, beta, w, train, rm, rv)) / (2 * h);
      fdb[i] = (weighted_output(a, gamma, bp, w, train, rm, rv) - weighted_output(a, gamma, bm, w, train, rm, rv)) / (2 * h);
    }
    CHECK((gg - fdg).norm() <= 1e-6 * fdg.norm());
    CHECK((gb - fdb).norm() <= 1e-6 * fdb.norm());
  }
}
