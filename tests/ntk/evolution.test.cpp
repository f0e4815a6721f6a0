// Tests of ntk/evolution.hpp: the closed-form evolution of the linearised network against direct iteration
// of the linearised model in parameter space (GD), against core/expm.hpp on the augmented parameter ODE
// (gradient flow), the ensemble mean/covariance against Monte Carlo over f_0 ~ N(0, K), the input
// Jacobian against finite differences, the stable learning rate, and bad input.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include <Eigen/Dense>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/expm.hpp"
#include "sgdsde/core/random.hpp"
#include "sgdsde/nn/gradient.hpp"
#include "sgdsde/nn/loss.hpp"
#include "sgdsde/nn/network.hpp"
#include "sgdsde/ntk/evolution.hpp"

using namespace sgdsde;
using sgdsde::ntk::Dynamics;
using sgdsde::ntk::EvolutionOptions;
using sgdsde::ntk::RegularizationTarget;

namespace {

using Mat = Eigen::MatrixXd;

/// Every product of this file goes through this one function (one GEMM instantiation: compile time).
Mat mm(const Mat& a, const Mat& b) { return a * b; }
Mat tp(const Mat& a) { return a.transpose(); }

/// A linearised model f(x; θ) = f_0(x) + (θ − θ₀)ᵀ J(x)ᵀ with k outputs (θ is P × k, column r drives output r,
/// all outputs share the Jacobian J, so the kernel is Θ ⊗ I_k as in the library's convention).
struct LinearModel {
  Mat J, Js;         // N × P, N* × P
  Mat theta0;        // P × k
  Mat f0, f0s, Y;    // k × N, k × N*, k × N
  Mat theta() const { return mm(J, tp(J)); }
  Mat theta_test() const { return mm(Js, tp(J)); }
  // Outputs of the linearised model at θ = 0 (the reference of the towards-zero penalty).
  Mat ref() const { return f0 - mm(tp(theta0), tp(J)); }
  Mat ref_test() const { return f0s - mm(tp(theta0), tp(Js)); }
};

LinearModel make_model(Index n, Index ns, Index p, Index k, std::uint64_t seed) {
  RandomStream rs(seed);
  LinearModel m;
  m.J.resize(n, p);
  m.Js.resize(ns, p);
  m.theta0.resize(p, k);
  m.f0.resize(k, n);
  m.f0s.resize(k, ns);
  m.Y.resize(k, n);
  rs.fill_normal(m.J);
  rs.fill_normal(m.Js);
  rs.fill_normal(m.theta0);
  rs.fill_normal(m.f0);
  rs.fill_normal(m.f0s);
  rs.fill_normal(m.Y);
  m.J /= std::sqrt(double(p));
  m.Js /= std::sqrt(double(p));
  return m;
}

double max_rel(const Mat& a, const Mat& b) {
  return (a - b).cwiseAbs().maxCoeff() / std::max(1.0, b.cwiseAbs().maxCoeff());
}

/// Direct GD on the linearised model in parameter space; returns {train, test} outputs after `steps` steps.
std::pair<Mat, Mat> iterate_gd(const LinearModel& m, double eta, double lambda, RegularizationTarget target,
                               long steps) {
  const double n = double(m.J.rows());
  Mat theta = m.theta0;
  const Mat ref = target == RegularizationTarget::zero ? Mat::Zero(m.theta0.rows(), m.theta0.cols()) : m.theta0;
  for (long s = 0; s < steps; ++s) {
    const Mat f = m.f0 + mm(tp(theta - m.theta0), tp(m.J));
    const Mat grad = mm(tp(m.J), tp(f - m.Y)) / n + lambda * (theta - ref);
    theta -= eta * grad;
  }
  return {m.f0 + mm(tp(theta - m.theta0), tp(m.J)), m.f0s + mm(tp(theta - m.theta0), tp(m.Js))};
}

/// Gradient flow dθ/dt = −η ∇L on the linearised model, solved by expm of the augmented (P+1)-matrix.
std::pair<Mat, Mat> flow_expm(const LinearModel& m, double eta, double lambda, RegularizationTarget target,
                              double t) {
  const Index p = m.J.cols(), k = m.theta0.cols();
  const double n = double(m.J.rows());
  const Mat ref = target == RegularizationTarget::zero ? Mat::Zero(p, k) : m.theta0;
  Mat theta(p, k);
  for (Index r = 0; r < k; ++r) {
    Mat a = Mat::Zero(p + 1, p + 1);
    a.topLeftCorner(p, p) = -eta * (mm(tp(m.J), m.J) / n + lambda * Mat::Identity(p, p));
    const Mat resid = tp(m.f0.row(r)) - mm(m.J, m.theta0.col(r)) - tp(m.Y.row(r));
    a.topRightCorner(p, 1) = -eta * (mm(tp(m.J), resid) / n - lambda * ref.col(r));
    Mat z(p + 1, 1);
    z << m.theta0.col(r), 1.0;
    theta.col(r) = mm(expm(Mat(a * t)), z).topRows(p);
  }
  return {m.f0 + mm(tp(theta - m.theta0), tp(m.J)), m.f0s + mm(tp(theta - m.theta0), tp(m.Js))};
}

}  // namespace

TEST_CASE("evolution: GD closed form equals direct iteration of the linearised model (singular Θ)") {
  // N = 8 > P = 5: Θ = J Jᵀ has rank 5, so three directions of f_0 − Y never move and the test formula must
  // not invert Θ. Independent computation: GD on θ itself, no eigendecomposition.
  const LinearModel m = make_model(8, 3, 5, 2, 11);
  const Mat theta = m.theta(), theta_s = m.theta_test();
  const double mu_max = Eigen::SelfAdjointEigenSolver<Mat>(theta).eigenvalues().maxCoeff();
  const double n = 8;
  struct Case {
    double eta, lambda;
    RegularizationTarget target;
  };
  // c·N/μ_max with c = 1.5 makes the top factor 1 − ημ/N negative; the last case has ηλ = 1.3 > 1 (ρ < 0).
  const std::vector<Case> cases = {
      {0.7 * n / mu_max, 0.0, RegularizationTarget::initial_parameters},
      {1.5 * n / mu_max, 0.0, RegularizationTarget::zero},
      {0.7 * n / mu_max, 0.3, RegularizationTarget::initial_parameters},
      {0.7 * n / mu_max, 0.3, RegularizationTarget::zero},
      {0.5, 2.6, RegularizationTarget::zero},
  };
  const std::vector<double> times = {0, 1, 2, 7, 60};
  for (const auto& c : cases) {
    CAPTURE(c.eta);
    CAPTURE(c.lambda);
    CAPTURE(int(c.target));
    EvolutionOptions o;
    o.learning_rate = c.eta;
    o.weight_decay = c.lambda;
    o.target = c.target;
    const auto ev = ntk::linearized_evolution(theta, m.Y, o);
    REQUIRE(ev.outcome().ok());
    CHECK(c.eta < ev.max_stable_learning_rate());
    const auto tr = ev.train_outputs(m.f0, times, m.ref());
    const auto te = ev.test_outputs(theta_s, m.f0, m.f0s, times, m.ref(), m.ref_test());
    REQUIRE(tr.outcome.ok());
    REQUIRE(te.outcome.ok());
    for (std::size_t j = 0; j < times.size(); ++j) {
      const auto direct = iterate_gd(m, c.eta, c.lambda, c.target, long(times[j]));
      CAPTURE(times[j]);
      CHECK(max_rel(tr.outputs[j], direct.first) < 1e-12);
      CHECK(max_rel(te.outputs[j], direct.second) < 1e-12);
    }
  }
  // The null-space component of f_0 − Y does not move: after many steps, (f_t − Y) projected on the null
  // space of Θ equals that of f_0 − Y (computed here from a separate eigendecomposition).
  Eigen::SelfAdjointEigenSolver<Mat> es(theta);
  const Mat null = es.eigenvectors().leftCols(3);  // eigenvalues ≈ 1e-16
  EvolutionOptions o;
  o.learning_rate = 0.7 * n / mu_max;
  const auto ev = ntk::linearized_evolution(theta, m.Y, o);
  const auto tr0 = ev.train_outputs(m.f0, {100000});
  CHECK(max_rel(mm(tr0.outputs[0] - m.Y, null), mm(m.f0 - m.Y, null)) < 1e-10);
  // and the range component has converged to 0
  CHECK(mm(tr0.outputs[0] - m.Y, es.eigenvectors().rightCols(5)).norm() < 1e-10);
}

TEST_CASE("evolution: gradient flow equals expm of the augmented parameter ODE") {
  const LinearModel m = make_model(6, 4, 9, 2, 12);
  const Mat theta = m.theta(), theta_s = m.theta_test();
  const std::vector<double> times = {0, 0.5, 3.25, 17.3, 120};
  for (double lambda : {0.0, 0.15}) {
    for (auto target : {RegularizationTarget::initial_parameters, RegularizationTarget::zero}) {
      CAPTURE(lambda);
      CAPTURE(int(target));
      EvolutionOptions o;
      o.learning_rate = 0.9;
      o.dynamics = Dynamics::gradient_flow;
      o.weight_decay = lambda;
      o.target = target;
      const auto ev = ntk::linearized_evolution(theta, m.Y, o);
      REQUIRE(ev.outcome().ok());
      CHECK(std::isinf(ev.max_stable_learning_rate()));
      const auto tr = ev.train_outputs(m.f0, times, m.ref());
      const auto te = ev.test_outputs(theta_s, m.f0, m.f0s, times, m.ref(), m.ref_test());
      for (std::size_t j = 0; j < times.size(); ++j) {
        CAPTURE(times[j]);
        const auto exact = flow_expm(m, 0.9, lambda, target, times[j]);
        CHECK(max_rel(tr.outputs[j], exact.first) < 1e-11);
        CHECK(max_rel(te.outputs[j], exact.second) < 1e-11);
      }
    }
  }
  // GD and flow differ at finite η (by O(η) per unit time) and agree as η → 0 at fixed ηt.
  EvolutionOptions gd, fl;
  gd.learning_rate = fl.learning_rate = 0.5;
  fl.dynamics = Dynamics::gradient_flow;
  const auto a = ntk::linearized_evolution(theta, m.Y, gd).train_outputs(m.f0, {10}).outputs[0];
  const auto b = ntk::linearized_evolution(theta, m.Y, fl).train_outputs(m.f0, {10}).outputs[0];
  CHECK(max_rel(a, b) > 1e-3);
  gd.learning_rate = fl.learning_rate = 0.5e-3;
  const auto c = ntk::linearized_evolution(theta, m.Y, gd).train_outputs(m.f0, {10000}).outputs[0];
  const auto d = ntk::linearized_evolution(theta, m.Y, fl).train_outputs(m.f0, {10000}).outputs[0];
  CHECK(max_rel(c, d) < 1e-3 * max_rel(a, b));
}

TEST_CASE("evolution: filters are exact at μ' = 0 and stable near it") {
  // Θ = diag(0, 1e-300, 1e-12, 2): φ(t) must be ηt/N at 0 and continuous next to it (no 0/0, no cancellation).
  Mat theta = Mat::Zero(4, 4);
  theta.diagonal() << 0, 1e-300, 1e-12, 2;
  const Mat y = Mat::Ones(1, 4);
  for (auto dyn : {Dynamics::gradient_descent, Dynamics::gradient_flow}) {
    EvolutionOptions o;
    o.learning_rate = 0.8;
    o.dynamics = dyn;
    const auto ev = ntk::linearized_evolution(theta, y, o);
    const Eigen::VectorXd phi = ev.accumulation(25);
    const double lim = 0.8 * 25 / 4;
    CHECK(phi[0] == doctest::Approx(lim).epsilon(1e-15));
    CHECK(phi[1] == doctest::Approx(lim).epsilon(1e-15));
    // first-order expansion: φ ≈ (ηt/N)(1 − (t∓1)x/2...) with x = η·1e-12/4 — relative correction < 1e-9
    CHECK(std::abs(phi[2] / lim - 1) < 1e-9);
    const double x = 0.8 * 2 / 4;
    const double expected = dyn == Dynamics::gradient_flow ? (1 - std::exp(-x * 25)) / 2 : (1 - std::pow(1 - x, 25)) / 2;
    CHECK(phi[3] == doctest::Approx(expected).epsilon(1e-14));
  }
}

TEST_CASE("evolution: ensemble mean and covariance agree with Monte Carlo over f_0 ~ N(0, K)") {
  // Joint NNGP K on N = 5 train and N* = 3 test points; Θ an independent PSD matrix on the same points.
  // M = 40000 draws of f_0 (rows) pushed through test_outputs; each sample mean is within 5 standard errors
  // sqrt(C_jj/M) of the predicted mean, each sample covariance within 5 sqrt((C_ii C_jj + C_ij²)/M) (the
  // large-M standard deviation of a Gaussian sample covariance), so a failure is a ≥ 5σ event.
  const Index n = 5, ns = 3, M = 40000;
  RandomStream rs(21);
  Mat b(n + ns, n + ns), c(n + ns, n + 2);
  rs.fill_normal(b);
  rs.fill_normal(c);
  const Mat K = mm(b, tp(b)) / double(n + ns) + 0.1 * Mat::Identity(n + ns, n + ns);
  const Mat Th = mm(c, tp(c)) / double(n + 2);
  Mat y(1, n);
  rs.fill_normal(y);
  const Mat L = Eigen::SelfAdjointEigenSolver<Mat>(K).operatorSqrt();  // any L with L Lᵀ = K
  Mat z(n + ns, M);
  rs.fill_normal(z);
  const Mat f = tp(mm(L, z));  // M × (N + N*)
  const Mat f0 = f.leftCols(n), f0s = f.rightCols(ns);
  const Mat ym = y.replicate(M, 1);
  struct Case {
    Dynamics dyn;
    double lambda;
    RegularizationTarget target;
    double t;
  };
  for (const Case& cs : {Case{Dynamics::gradient_descent, 0.0, RegularizationTarget::initial_parameters, 4},
                         Case{Dynamics::gradient_descent, 0.0, RegularizationTarget::initial_parameters, 400},
                         Case{Dynamics::gradient_flow, 0.2, RegularizationTarget::initial_parameters, 7.5},
                         Case{Dynamics::gradient_flow, 0.2, RegularizationTarget::zero, 7.5},
                         Case{Dynamics::gradient_descent, 0.1, RegularizationTarget::zero, 30}}) {
    CAPTURE(int(cs.dyn));
    CAPTURE(cs.lambda);
    CAPTURE(int(cs.target));
    CAPTURE(cs.t);
    EvolutionOptions o;
    o.learning_rate = 1.0;
    o.dynamics = cs.dyn;
    o.weight_decay = cs.lambda;
    o.target = cs.target;
    const auto ev1 = ntk::linearized_evolution(Mat(Th.topLeftCorner(n, n)), y, o);
    const auto pred = ev1.ensemble(K.topLeftCorner(n, n), K.bottomLeftCorner(ns, n), K.bottomRightCorner(ns, ns),
                                   Th.bottomLeftCorner(ns, n), {cs.t});
    REQUIRE(pred.outcome.ok());
    const auto evm = ntk::linearized_evolution(Mat(Th.topLeftCorner(n, n)), ym, o);
    const Mat out = evm.test_outputs(Th.bottomLeftCorner(ns, n), f0, f0s, {cs.t}).outputs[0];  // M × N*
    const Eigen::RowVectorXd mean = out.colwise().mean();
    const Mat centred = out.rowwise() - mean;
    const Mat cov = mm(tp(centred), centred) / double(M - 1);
    const Mat& C = pred.covariance[0];
    for (Index i = 0; i < ns; ++i) {
      CHECK(std::abs(mean[i] - pred.mean[0](0, i)) < 5 * std::sqrt(C(i, i) / M));
      for (Index j = 0; j < ns; ++j)
        CHECK(std::abs(cov(i, j) - C(i, j)) < 5 * std::sqrt((C(i, i) * C(j, j) + C(i, j) * C(i, j)) / M));
    }
  }
}

namespace {
// A smooth PSD kernel (linear + squared exponential) and smooth initial outputs, for the input Jacobian.
double kern(const Eigen::VectorXd& a, const Eigen::VectorXd& b) {
  return a.dot(b) / double(a.size()) + std::exp(-(a - b).squaredNorm() / 4);
}
Eigen::VectorXd kern_grad(const Eigen::VectorXd& a, const Eigen::VectorXd& b) {  // ∂/∂a
  return b / double(a.size()) - std::exp(-(a - b).squaredNorm() / 4) * (a - b) / 2;
}
Eigen::VectorXd fun(const Eigen::VectorXd& x, double s) {  // two outputs
  Eigen::VectorXd v(2);
  v << std::sin(x[0] - 0.5 * x[2] + s), s * std::cos(x[1] + 0.3 * x[0]);
  return v;
}
Mat fun_jac(const Eigen::VectorXd& x, double s) {
  Mat j = Mat::Zero(2, 3);
  const double c0 = std::cos(x[0] - 0.5 * x[2] + s), s1 = -s * std::sin(x[1] + 0.3 * x[0]);
  j(0, 0) = c0;
  j(0, 2) = -0.5 * c0;
  j(1, 0) = 0.3 * s1;
  j(1, 1) = s1;
  return j;
}
}  // namespace

TEST_CASE("evolution: input Jacobian (Borovykh eq. 2) agrees with central finite differences") {
  const Index n = 6, d = 3;
  RandomStream rs(31);
  Mat X(d, n), y(2, n);
  rs.fill_normal(X);
  rs.fill_normal(y);
  Mat th(n, n), f0(2, n), a(2, n);
  for (Index i = 0; i < n; ++i) {
    for (Index j = 0; j < n; ++j) th(i, j) = kern(X.col(i), X.col(j));
    f0.col(i) = fun(X.col(i), 0.4);
    a.col(i) = fun(X.col(i), -0.7);  // the reference outputs (towards zero) as another smooth function
  }
  Eigen::VectorXd xs(d);
  xs << 0.3, -0.2, 0.5;
  auto f_at = [&](const auto& ev, const Eigen::VectorXd& x, double t) {
    Mat ts(1, n);
    for (Index j = 0; j < n; ++j) ts(0, j) = kern(x, X.col(j));
    return Mat(ev.test_outputs(ts, f0, Mat(fun(x, 0.4)), {t}, a, Mat(fun(x, -0.7))).outputs[0]);
  };
  Mat g(d, n);
  for (Index j = 0; j < n; ++j) g.col(j) = kern_grad(xs, X.col(j));
  for (double lambda : {0.0, 0.05}) {
    for (auto target : {RegularizationTarget::initial_parameters, RegularizationTarget::zero}) {
      EvolutionOptions o;
      o.learning_rate = 1.5;
      o.weight_decay = lambda;
      o.target = target;
      const auto ev = ntk::linearized_evolution(th, y, o);
      const double t = 40;
      const auto jac = ev.input_jacobian(g, f0, fun_jac(xs, 0.4), {0, t}, a, fun_jac(xs, -0.7));
      REQUIRE(jac.outcome.ok());
      Mat fd(2, d);
      const double h = 1e-5;
      for (Index k = 0; k < d; ++k) {
        Eigen::VectorXd xp = xs, xm = xs;
        xp[k] += h;
        xm[k] -= h;
        fd.col(k) = (f_at(ev, xp, t) - f_at(ev, xm, t)) / (2 * h);
      }
      CAPTURE(lambda);
      CAPTURE(int(target));
      CHECK(max_rel(jac.jacobian[1], fd) < 1e-8);
      CHECK(max_rel(jac.jacobian[0], fun_jac(xs, 0.4)) < 1e-15);
      CHECK(jac.frobenius_norm[1] == doctest::Approx(fd.norm()).epsilon(1e-7));
    }
  }
}

TEST_CASE("evolution: stable learning rate and statuses") {
  const LinearModel m = make_model(6, 2, 8, 1, 41);
  const Mat theta = m.theta();
  const double mu_max = Eigen::SelfAdjointEigenSolver<Mat>(theta).eigenvalues().maxCoeff();
  for (double lambda : {0.0, 0.4}) {
    EvolutionOptions o;
    o.weight_decay = lambda;
    o.learning_rate = 1;
    const double limit = ntk::linearized_evolution(theta, m.Y, o).max_stable_learning_rate();
    CHECK(limit == doctest::Approx(2 * 6 / (mu_max + 6 * lambda)).epsilon(1e-12));
    o.learning_rate = 0.999 * limit;
    auto ok = ntk::linearized_evolution(theta, m.Y, o);
    CHECK(ok.outcome().ok());
    // just below the limit the top direction still contracts: |f_t − Y| shrinks over 10⁵ steps for λ = 0
    if (lambda == 0.0) {
      const auto far = ok.train_outputs(m.f0, {100000}).outputs[0];
      CHECK((far - m.Y).norm() < 1e-6 * (m.f0 - m.Y).norm());
    }
    o.learning_rate = 1.001 * limit;
    auto bad = ntk::linearized_evolution(theta, m.Y, o);
    CHECK(bad.outcome().status == Status::unstable_step);
    CHECK(bad.outcome().value == doctest::Approx(2 * 1.001).epsilon(1e-9));
    // the outputs it computes carry the status (and grow), they are never a silent success
    const auto grown = bad.train_outputs(m.f0, {2000});
    CHECK(grown.outcome.status == Status::unstable_step);
    CHECK((grown.outputs[0] - m.Y).norm() > (m.f0 - m.Y).norm());
    const auto huge = bad.train_outputs(m.f0, {1e7});
    CHECK(huge.outcome.status == Status::unstable_step);
  }
  // gradient flow: every η is stable
  EvolutionOptions fl;
  fl.dynamics = Dynamics::gradient_flow;
  fl.learning_rate = 1e6;
  CHECK(ntk::linearized_evolution(theta, m.Y, fl).outcome().ok());
  // an indefinite "kernel": status with the smallest eigenvalue
  Mat indef = theta;
  indef(0, 0) -= 5.0;
  const double lo = Eigen::SelfAdjointEigenSolver<Mat>(indef).eigenvalues().minCoeff();
  REQUIRE(lo < 0);
  const auto ev = ntk::linearized_evolution(indef, m.Y, EvolutionOptions{});
  CHECK(ev.outcome().status == Status::not_positive_definite);
  CHECK(ev.outcome().value == doctest::Approx(lo).epsilon(1e-12));
  CHECK(ev.train_outputs(m.f0, {3}).outcome.status == Status::not_positive_definite);
  // rounding-level negative eigenvalues of a singular PSD kernel are accepted
  const LinearModel s = make_model(9, 2, 3, 1, 42);
  CHECK(ntk::linearized_evolution(s.theta(), s.Y, EvolutionOptions{}).outcome().ok());
}

TEST_CASE("evolution: bad input throws invalid_argument naming the argument; inputs are not modified") {
  const LinearModel m = make_model(4, 2, 6, 2, 51);
  const Mat theta = m.theta(), ts = m.theta_test();
  const Mat theta_copy = theta, f0_copy = m.f0;
  const double inf = std::numeric_limits<double>::infinity(), nan = std::nan("");
  auto throws_naming = [](auto&& call, const char* what) {
    try {
      call();
    } catch (const sgdsde::invalid_argument& e) {
      return std::string(e.what()).find(what) != std::string::npos;
    }
    return false;
  };
  auto opts = [](double eta, double lambda = 0, Dynamics dyn = Dynamics::gradient_descent) {
    EvolutionOptions o;
    o.learning_rate = eta;
    o.weight_decay = lambda;
    o.dynamics = dyn;
    return o;
  };
  using ntk::linearized_evolution;
  CHECK(throws_naming([&] { linearized_evolution(Mat(theta.leftCols(3)), m.Y, opts(1)); }, "'theta_train'"));
  CHECK(throws_naming([&] { linearized_evolution(Mat(0, 0), Mat(1, 0), opts(1)); }, "'theta_train'"));
  CHECK(throws_naming([&] { linearized_evolution(theta, Mat(m.Y.leftCols(3)), opts(1)); }, "'targets'"));
  CHECK(throws_naming([&] { linearized_evolution(theta, Mat(0, 4), opts(1)); }, "'targets.rows()'"));
  for (double eta : {0.0, -1.0, nan, inf})
    CHECK(throws_naming([&] { linearized_evolution(theta, m.Y, opts(eta)); }, "'options.learning_rate'"));
  for (double lambda : {-0.1, nan, inf})
    CHECK(throws_naming([&] { linearized_evolution(theta, m.Y, opts(1, lambda)); }, "'options.weight_decay'"));
  Mat bad = theta;
  bad(1, 2) = nan;
  CHECK(throws_naming([&] { linearized_evolution(bad, m.Y, opts(1)); }, "'theta_train'"));
  bad = theta;
  bad(1, 2) += 1.0;  // asymmetric
  CHECK(throws_naming([&] { linearized_evolution(bad, m.Y, opts(1)); }, "'theta_train'"));
  Mat ybad = m.Y;
  ybad(0, 0) = inf;
  CHECK(throws_naming([&] { linearized_evolution(theta, ybad, opts(1)); }, "'targets'"));
  // extreme but valid magnitudes are accepted
  CHECK_NOTHROW(linearized_evolution(Mat(theta * 1e300), m.Y, opts(1e-300)));
  CHECK_NOTHROW(linearized_evolution(Mat(theta * 1e-300), m.Y, opts(1e300)));

  const auto ev = linearized_evolution(theta, m.Y, opts(0.5));
  const auto fl = linearized_evolution(theta, m.Y, opts(0.5, 0, Dynamics::gradient_flow));
  CHECK(throws_naming([&] { ev.train_outputs(m.f0, {-1.0}); }, "'times'"));
  CHECK(throws_naming([&] { ev.train_outputs(m.f0, {nan}); }, "'times'"));
  CHECK(throws_naming([&] { ev.train_outputs(m.f0, {inf}); }, "'times'"));
  CHECK(throws_naming([&] { ev.train_outputs(m.f0, {2.5}); }, "'times'"));  // GD: integer steps
  CHECK_NOTHROW(fl.train_outputs(m.f0, {2.5}));
  CHECK(throws_naming([&] { fl.train_outputs(m.f0, {-0.5}); }, "'times'"));
  CHECK(throws_naming([&] { ev.accumulation(-1); }, "'t'"));
  CHECK(throws_naming([&] { ev.train_outputs(Mat(m.f0.leftCols(3)), {1}); }, "'f0'"));
  Mat f0bad = m.f0;
  f0bad(1, 1) = nan;
  CHECK(throws_naming([&] { ev.train_outputs(f0bad, {1}); }, "'f0'"));
  CHECK(throws_naming([&] { ev.test_outputs(Mat(ts.leftCols(3)), m.f0, m.f0s, {1}); }, "'theta_test_train'"));
  CHECK(throws_naming([&] { ev.test_outputs(ts, m.f0, Mat(m.f0s.leftCols(1)), {1}); }, "'f0_test'"));
  Mat tsbad = ts;
  tsbad(0, 0) = -inf;
  CHECK(throws_naming([&] { ev.test_outputs(tsbad, m.f0, m.f0s, {1}); }, "'theta_test_train'"));
  CHECK(throws_naming([&] { ev.test_projection(tsbad); }, "'theta_test_train'"));
  const auto ez = linearized_evolution(theta, m.Y, [] {
    EvolutionOptions o;
    o.weight_decay = 0.1;
    o.target = RegularizationTarget::zero;
    return o;
  }());
  CHECK(throws_naming([&] { ez.train_outputs(m.f0, {1}, Mat(m.f0.leftCols(2))); }, "'reference'"));
  CHECK(throws_naming([&] { ez.test_outputs(ts, m.f0, m.f0s, {1}, m.f0, Mat(3, 3)); }, "'reference_test'"));
  const Mat k = theta;
  CHECK(throws_naming([&] { ev.ensemble(Mat(k.leftCols(2)), Mat(2, 4), Mat(2, 2), ts, {1}); }, "'nngp_train'"));
  CHECK(throws_naming([&] { ev.ensemble(k, Mat(3, 4), Mat(2, 2), ts, {1}); }, "'nngp_test_train'"));
  CHECK(throws_naming([&] { ev.ensemble(k, Mat::Zero(2, 4), Mat(2, 3), ts, {1}); }, "'nngp_test'"));
  Mat kbad = k;
  kbad(0, 0) = nan;
  CHECK(throws_naming([&] { ev.ensemble(kbad, Mat::Zero(2, 4), Mat::Zero(2, 2), ts, {1}); }, "'nngp_train'"));
  CHECK(throws_naming([&] { ev.input_jacobian(Mat(3, 2), m.f0, Mat(2, 3), {1}); }, "'ntk_input_gradient'"));
  CHECK(throws_naming([&] { ev.input_jacobian(Mat::Zero(3, 4), m.f0, Mat(2, 2), {1}); }, "'f0_input_jacobian'"));
  CHECK(throws_naming([&] { ev.input_jacobian(Mat::Zero(3, 4), m.f0, Mat::Zero(2, 3), {-2.0}); }, "'times'"));
  // nothing the caller passed was modified
  CHECK(theta == theta_copy);
  CHECK(m.f0 == f0_copy);
  // empty time lists and zero test points are valid
  CHECK(ev.train_outputs(m.f0, {}).outputs.empty());
  CHECK(ev.test_outputs(Mat(0, 4), m.f0, Mat(2, 0), {3}).outputs[0].cols() == 0);
}

namespace {
/// Analytic NTK and NNGP of a ReLU MLP in NTK parameterisation on the joint point set Z (d × M), written out
/// here from the recursion in docs/conventions.md (an implementation independent of ntk/kernels.hpp, which
/// would also cost ~20 s of compile time here): K¹ = σ_w² zᵀz'/d + σ_b², Θ¹ = K¹; per ReLU layer, with
/// c = K12/√(K11 K22), ϑ = arccos c: K ← σ_w² √(K11 K22)(sin ϑ + (π − ϑ) c)/(2π) + σ_b², Θ ← K + σ_w² Θ (π − ϑ)/(2π).
Mat relu_ntk(const nn::MlpSpec& spec, const Mat& z) {
  const double sw2 = spec.sigma_w * spec.sigma_w, sb2 = spec.sigma_b * spec.sigma_b, pi = 3.141592653589793;
  Mat k = sw2 * mm(tp(z), z) / double(z.rows());
  k.array() += sb2;
  Mat th = k;
  for (std::size_t l = 2; l < spec.widths.size(); ++l) {
    const Eigen::VectorXd dg = k.diagonal();
    for (Index j = 0; j < k.cols(); ++j)
      for (Index i = 0; i < k.rows(); ++i) {
        const double s = std::sqrt(dg[i] * dg[j]);
        const double c = std::clamp(k(i, j) / s, -1.0, 1.0), v = std::acos(c);
        k(i, j) = sw2 * s * (std::sin(v) + (pi - v) * c) / (2 * pi) + sb2;
        th(i, j) = k(i, j) + sw2 * th(i, j) * (pi - v) / (2 * pi);
      }
  }
  return th;
}
}  // namespace

TEST_CASE("evolution: wide NTK-parameterised MLPs trained by full-batch GD track the closed form") {
  // 4-w-w-1 ReLU MLPs (NTK parameterisation), N = 8 train and N* = 4 test inputs, 120 full-batch GD steps at
  // η = half the largest stable rate of the ANALYTIC Θ. Deviation = ‖f_net − f_closed‖ / ‖f_closed − f_0‖ over
  // train and test outputs at steps 30 and 120 (f_0 the network's own outputs at init, shared by both).
  // Both the finite-width kernel fluctuation and the linearisation error are O(w^{-1/2}), so quadrupling the
  // width should roughly halve the deviation; we require a ratio < 0.75 (averaged over 2 seeds) and a small
  // deviation at the largest width.
  const Index n = 8, ns = 4, d = 4;
  RandomStream rs(61);
  Mat x(d, n), xs(d, ns), y(1, n);
  rs.fill_normal(x);
  rs.fill_normal(xs);
  for (Index j = 0; j < n; ++j) y(0, j) = std::sin(x(0, j) + 0.5 * x(1, j));
  const std::vector<double> times = {30, 120};
  std::vector<double> dev;
  for (Index w : {256, 1024}) {
    double sum = 0;
    for (std::uint64_t seed : {1u, 2u}) {
      nn::MlpSpec spec;
      spec.widths = {d, w, w, 1};
      nn::Mlp<double> net(spec);
      net.initialize(RandomStream(seed));
      Mat z(d, n + ns);
      z << x, xs;
      const Mat th = relu_ntk(spec, z);
      EvolutionOptions o;
      o.learning_rate = 1.0;
      o.learning_rate = 0.5 * ntk::linearized_evolution(th.topLeftCorner(n, n), y, o).max_stable_learning_rate();
      const auto ev = ntk::linearized_evolution(th.topLeftCorner(n, n), y, o);
      const Mat f0 = nn::forward(net, x), f0s = nn::forward(net, xs);
      const auto tr = ev.train_outputs(f0, times);
      const auto te = ev.test_outputs(th.bottomLeftCorner(ns, n), f0, f0s, times);
      nn::MlpWorkspace<double> ws(net, n);
      Eigen::VectorXd g(net.num_parameters());
      double worst = 0;
      long done = 0;
      for (std::size_t j = 0; j < times.size(); ++j) {
        for (; done < long(times[j]); ++done) {
          nn::loss_and_gradient(net, nn::SquaredError<double>(y), x, g, ws);
          net.parameters() -= o.learning_rate * g;
        }
        Mat a(1, n + ns), b(1, n + ns), f00(1, n + ns);
        a << nn::forward(net, x), nn::forward(net, xs);
        b << tr.outputs[j], te.outputs[j];
        f00 << f0, f0s;
        worst = std::max(worst, (a - b).norm() / (b - f00).norm());
      }
      sum += worst / 2;
    }
    MESSAGE("width " << w << ": relative deviation of GD training from the closed form " << sum);
    dev.push_back(sum);
  }
  CHECK(dev[1] < 0.75 * dev[0]);
  CHECK(dev[1] < 0.1);
}
