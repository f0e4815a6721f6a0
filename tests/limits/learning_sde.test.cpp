// Tests of limits/model.hpp and limits/learning_sde.hpp (issue 13, items 1 and 3): the per-sample models
// against nn's per-sample gradients and finite differences, the covariance of the learning SDE's
// matrix-free noise, the exact reduction to the OU process on a quadratic (drift, diffusion and the weak
// SGD–SDE gap against the closed-form Euler–Maruyama laws of the ou area), the SME2 drift, and the
// bad-input sweep (item 6): learning rates ≤ 0 / NaN / ±inf, samplers without a Markov SDE limit,
// dt > η and substeps ≤ 0, a network with batch norm, wrong sizes and non-finite θ, weights and data.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <Eigen/Dense>

#include "sgdsde/limits/learning_sde.hpp"
#include "sgdsde/limits/model.hpp"
#include "sgdsde/optim/parallel_train.hpp"
#include "sgdsde/ou/ou_process.hpp"
#include "sgdsde/sde/euler_maruyama.hpp"
#include "sgdsde/sde/integrate.hpp"
#include "sgdsde/sde/stochastic_heun.hpp"

#include "support/sweep.hpp"

#include <doctest/doctest.h>

namespace {

using Eigen::MatrixXd;
using Eigen::VectorXd;
using namespace sgdsde;
using sweep::Case;
using sweep::Keep;
using sweep::succeeds;
using sweep::throws;
using sweep::throws_from;
using sweep::verdict;

/// The bad-input fixture: a tanh MLP 2-3-2 on N = 5 samples.
struct Data {
  nn::Mlp<double> net{std::vector<Index>{2, 3, 2}, nn::Activation::tanh};
  MatrixXd inputs = MatrixXd::Random(2, 5);
  Labels labels = (Labels(5) << 0, 1, 1, 0, 1).finished();
  Data() { net.initialize(RandomStream(3)); }
};


/// A small smooth classification problem: tanh MLP 3-4-3, N = 7 samples.
struct SmallMlp {
  nn::Mlp<double> net{std::vector<Index>{3, 4, 3}, nn::Activation::tanh};
  MatrixXd inputs;
  Labels labels;
  SmallMlp() {
    net.initialize(RandomStream(11));
    RandomStream s(12);
    inputs.resize(3, 7);
    s.fill_normal(inputs);
    labels.resize(7);
    for (Index n = 0; n < 7; ++n) labels[n] = int(n % 3);
  }
};

/// Central finite-difference gradient of a scalar function of θ.
template <class F>
VectorXd fd_gradient(F&& f, const VectorXd& theta, double h) {
  VectorXd g(theta.size());
  for (Index i = 0; i < theta.size(); ++i) {
    VectorXd p = theta, m = theta;
    p[i] += h;
    m[i] -= h;
    g[i] = (f(p) - f(m)) / (2 * h);
  }
  return g;
}

double rel(const VectorXd& a, const VectorXd& b) { return (a - b).norm() / std::max(1e-300, b.norm()); }

/// Centred per-sample gradients → ηκ C by the formula, from a P × N matrix computed elsewhere.
MatrixXd eta_kappa_c(MatrixXd g, double eta_kappa) {
  g.colwise() -= VectorXd(g.rowwise().mean());
  return eta_kappa * g * g.transpose() / double(g.cols());
}

/// The matrix G_eff (P × N) of the noise: column j is add_noise at θ with dW = e_j, so the increment
/// for any dW is G_eff dW and its covariance per unit time is G_eff G_effᵀ.
template <class Sde>
MatrixXd effective_diffusion(const Sde& sde, const VectorXd& theta) {
  const Index n = sde.noise_dim();
  MatrixXd G = theta.replicate(1, n), out = MatrixXd::Zero(sde.dim(), n);
  sde.add_noise(G, MatrixXd::Identity(n, n), 1.0, out);
  return out;
}

}  // namespace

TEST_CASE("mlp_model: gradients against nn per-sample gradients and finite differences") {
  SmallMlp p;
  const nn::SoftmaxCrossEntropy loss(p.labels);
  const auto model = limits::mlp_model(p.net, loss, p.inputs, /*chunk_size*/ 3);  // 3 chunks: 3, 2, 2
  const VectorXd theta = p.net.parameters();
  const Index P = model.num_parameters(), N = model.num_samples();
  REQUIRE(N == 7);
  REQUIRE(P == p.net.num_parameters());

  // Independent: nn's per-sample gradients on the whole batch (no chunking, PerSampleSink).
  const MatrixXd per_sample = nn::per_sample_gradients(p.net, loss, p.inputs);
  VectorXd losses(N);
  for (Index n = 0; n < N; ++n)
    losses[n] = nn::loss(p.net, nn::SoftmaxCrossEntropy(p.labels.segment(n, 1)), p.inputs.col(n));

  SUBCASE("weighted_gradient = per-sample gradients times weights") {
    VectorXd w(N);
    RandomStream(13).fill_normal(w);
    VectorXd out(P);
    const double wl = model.weighted_gradient(theta, w, out);
    CHECK(rel(out, per_sample * w) < 1e-12);
    CHECK(wl == doctest::Approx(losses.dot(w)).epsilon(1e-12));
    CHECK((model.per_sample_gradients(theta) - per_sample).norm() < 1e-12 * per_sample.norm());
  }
  SUBCASE("loss and gradient against finite differences of the loss") {
    CHECK(model.loss(theta) == doctest::Approx(losses.mean()).epsilon(1e-13));
    const VectorXd fd = fd_gradient([&](const VectorXd& t) { return model.loss(t); }, theta, 1e-5);
    // Central differences: truncation O(h²‖∂³L‖) ~ 1e-10, rounding O(ε/h) ~ 1e-11.
    CHECK(rel(model.gradient(theta), fd) < 1e-7);
  }
  SUBCASE("Hessian-vector product against finite differences of the gradient") {
    VectorXd v(P);
    RandomStream(14).fill_normal(v);
    const double h = 1e-5;
    const VectorXd fd = (model.gradient(theta + h * v) - model.gradient(theta - h * v)) / (2 * h);
    CHECK(rel(model.hessian_vector_product(theta, v), fd) < 1e-7);
  }
  SUBCASE("loss_and_gradient on a batch is the mean of the batch's per-sample gradients") {
    auto m = model;
    const Batch batch{4, 0, 4, 6};
    VectorXd g(P);
    const double l = m.loss_and_gradient(theta, batch, g);
    VectorXd expect = VectorXd::Zero(P);
    double lexp = 0;
    for (Index n : batch) {
      expect += per_sample.col(n) / 4.0;
      lexp += losses[n] / 4.0;
    }
    CHECK(rel(g, expect) < 1e-12);
    CHECK(l == doctest::Approx(lexp).epsilon(1e-12));
  }
}

TEST_CASE("mlp_model is an optim Problem: train(model) = train(net, loss, inputs) with the same seed") {
  SmallMlp p;
  const nn::SoftmaxCrossEntropy loss(p.labels);
  auto model = limits::mlp_model(p.net, loss, p.inputs);
  optim::TrainOptions o;
  o.learning_rate = 0.2;
  o.sampler = with_replacement(3);
  o.steps = 25;
  o.seed = 5;
  const VectorXd theta0 = p.net.parameters();
  const auto r = optim::train(model, theta0, o);
  nn::Mlp<double> net = p.net;
  const auto s = optim::train(net, loss, p.inputs, o);
  REQUIRE(r.outcome.ok());
  REQUIRE(s.outcome.ok());
  CHECK(r.steps == 25);
  CHECK((r.parameters - net.parameters()).norm() <= 1e-12 * net.parameters().norm());
  CHECK((r.parameters - theta0).norm() > 1e-3);
  // train_seeds builds one model per run (a copy: fresh SGD buffers, shared data views).
  const auto runs = optim::train_seeds([&](Index) { return model; }, theta0, o, {5, 6}, Threads(2));
  REQUIRE(runs.size() == 2);
  CHECK((runs[0].parameters - r.parameters).norm() <= 1e-12 * r.parameters.norm());
  CHECK((runs[1].parameters - r.parameters).norm() > 1e-6);
}

TEST_CASE("regression_model and quadratic_model: closed forms") {
  SUBCASE("least squares: l_n = (x_n'theta - y_n)^2 / 2") {
    Dataset<double> d;
    d.inputs.resize(2, 5);
    d.inputs << 1, 2, 0, -1, 3, 0.5, -1, 2, 1, 1;
    d.targets.resize(1, 5);
    d.targets << 1, -1, 2, 0.5, 3;
    const LinearRegression<double> lr(d);
    const auto m = limits::regression_model(lr);
    const VectorXd theta = (VectorXd(2) << 0.3, -0.7).finished();
    // By hand: residuals r_n = x_n'θ − y_n.
    VectorXd r(5);
    for (Index n = 0; n < 5; ++n) r[n] = d.inputs(0, n) * 0.3 - d.inputs(1, n) * 0.7 - d.targets(0, n);
    MatrixXd per(2, 5);
    for (Index n = 0; n < 5; ++n) per.col(n) = r[n] * d.inputs.col(n);
    CHECK((m.per_sample_gradients(theta) - per).norm() < 1e-14);
    CHECK(m.loss(theta) == doctest::Approx(0.5 * r.squaredNorm() / 5).epsilon(1e-14));
    CHECK(m.loss(theta) == doctest::Approx(lr.loss(theta)).epsilon(1e-12));  // L* + ½eᵀHe
    CHECK(rel(m.gradient(theta), per.rowwise().mean()) < 1e-14);
    const VectorXd v = (VectorXd(2) << 1.5, 0.25).finished();
    CHECK(rel(m.hessian_vector_product(theta, v), lr.hessian() * v) < 1e-14);
    VectorXd w(5), out(2);
    w << 1, -2, 0.5, 0, 3;
    CHECK(m.weighted_gradient(theta, w, out) == doctest::Approx(0.5 * (w.array() * r.array().square()).sum()));
    CHECK(rel(out, per * w) < 1e-14);
  }
  SUBCASE("quadratic: grad l_n = H theta + xi_n") {
    MatrixXd H(2, 2), Xi(2, 4);
    H << 2, 0.5, 0.5, 1;
    Xi << 1, -2, 0.5, 0.5, 0.25, 1, -1, -0.25;  // rows sum to 0
    const auto q = per_sample_quadratic(H, Xi);
    const auto m = limits::quadratic_model(q);
    const VectorXd theta = (VectorXd(2) << 1, -1).finished();
    const VectorXd ht = (VectorXd(2) << 1.5, -0.5).finished();  // H θ by hand
    CHECK(rel(m.gradient(theta), ht) < 1e-15);
    CHECK(m.loss(theta) == doctest::Approx(0.5 * (1.0 * 1.5 + (-1.0) * (-0.5))));  // ½θᵀ(Hθ) = ½(1.5 + 0.5)
    const MatrixXd per = m.per_sample_gradients(theta);
    for (Index n = 0; n < 4; ++n) CHECK(rel(per.col(n), ht + Xi.col(n)) < 1e-15);
    auto mm = m;
    VectorXd g(2);
    mm.loss_and_gradient(theta, Batch{1, 3}, g);
    CHECK(rel(g, ht + 0.5 * (Xi.col(1) + Xi.col(3))) < 1e-15);
  }
}

TEST_CASE("learning SDE noise: covariance eta kappa C dt") {
  SmallMlp p;
  const nn::SoftmaxCrossEntropy loss(p.labels);
  const auto model = limits::mlp_model(p.net, loss, p.inputs);
  limits::LearningSdeOptions o;
  o.learning_rate = 0.3;
  o.sampler = fresh_subset(3);  // κ = (N − S)/(S(N − 1)) = 4/18
  const auto sde = limits::learning_sde(model, o);
  CHECK(sde.variance_factor() == doctest::Approx(4.0 / 18.0).epsilon(1e-15));
  const VectorXd theta = p.net.parameters();
  const Index P = sde.dim(), N = sde.noise_dim();
  REQUIRE(N == 7);
  // Independent C: nn's per-sample gradients, centred, outer products / N.
  const MatrixXd expect = eta_kappa_c(nn::per_sample_gradients(p.net, loss, p.inputs), 0.3 * 4.0 / 18.0);

  SUBCASE("exact: the effective diffusion G_eff satisfies G_eff G_eff' = eta kappa C") {
    const MatrixXd g = effective_diffusion(sde, theta);
    CHECK((g * g.transpose() - expect).norm() < 1e-13 * expect.norm());
    CHECK((sde.diffusion_covariance(theta) - expect).norm() < 1e-13 * expect.norm());
  }
  SUBCASE("Monte Carlo: increments over dt have covariance eta kappa C dt") {
    const Index M = 20000;
    const double dt = 0.01;
    MatrixXd dW(N, M);
    RandomStream(21).fill_normal(dW);
    dW *= std::sqrt(dt);
    const MatrixXd G = theta.replicate(1, M);
    MatrixXd inc = MatrixXd::Zero(P, M);
    sde.add_noise(G, dW, 1.0, inc);
    // The increment is exactly Gaussian with mean 0 (linear in dW), so Σ̂_ij = mean_m inc_i inc_j is a
    // mean of M i.i.d. terms with variance Σ_ii Σ_jj + Σ_ij² (Isserlis); by the CLT
    // |Σ̂_ij − Σ_ij| ≤ 5 SE fails with probability ≈ 6e-7 per entry (P² = 900 entries: < 1e-3 overall).
    const MatrixXd sigma = expect * dt;
    const MatrixXd hat = inc * inc.transpose() / double(M);
    double worst = 0;
    for (Index j = 0; j < P; ++j)
      for (Index i = 0; i < P; ++i) {
        const double se = std::sqrt((sigma(i, i) * sigma(j, j) + sigma(i, j) * sigma(i, j)) / double(M));
        if (se > 0) worst = std::max(worst, std::abs(hat(i, j) - sigma(i, j)) / se);
      }
    MESSAGE("largest |covariance error| / SE over the entries: " << worst);
    CHECK(worst < 5.0);
    // Power: the covariance is not zero (the test would see a missing √(ηκ) factor of √0.067).
    CHECK(sigma.trace() > 50 * std::sqrt(2.0 * (sigma * sigma).trace() / double(M)));
  }
  SUBCASE("the fused Euler-Maruyama step equals drift + diffusion + add_noise") {
    const Index M = 5;
    MatrixXd X = theta.replicate(1, M), dW(N, M);
    RandomStream(22).fill_normal(dW);
    dW *= 0.1;
    MatrixXd F(P, M), G(P, M);
    sde.drift(0.0, X, F);
    sde.diffusion(0.0, X, G);
    MatrixXd manual = X + 0.01 * F;
    sde.add_noise(G, dW, 1.0, manual);
    MatrixXd fused = X;
    sde.euler_maruyama_step(0.0, 0.01, dW, fused);
    CHECK((fused - manual).norm() < 1e-13 * manual.norm());
    // And through integrate (EulerMaruyama picks the fused step): a finite run.
    const auto sol = integrate(sde, EulerMaruyama{}, theta, sde.time_grid(0.6, 2), Ensemble(3), RandomStream(3));
    CHECK(sol.outcome.ok());
    CHECK(sol.steps_taken == 4);
    const auto heun = integrate(sde, StochasticHeun{}, theta, sde.time_grid(0.6, 2), Ensemble(3), RandomStream(3));
    CHECK(heun.outcome.ok());
  }
}

TEST_CASE("learning SDE of a quadratic is the OU process; SGD-SDE weak gap equals the closed form" *
          doctest::test_suite("slow")) {
  // d = 3, N = 8 per-sample offsets (centred), H with eigenvalues in [0.5, 3].
  MatrixXd H(3, 3), Xi(3, 8);
  H << 2.0, 0.5, 0.0, 0.5, 1.0, 0.3, 0.0, 0.3, 0.8;
  RandomStream(31).fill_normal(Xi);
  Xi.colwise() -= VectorXd(Xi.rowwise().mean());
  const auto q = per_sample_quadratic(H, Xi);
  const auto model = limits::quadratic_model(q);
  const double eta = 0.1;
  const Index S = 2;
  limits::LearningSdeOptions o;
  o.learning_rate = eta;
  o.sampler = with_replacement(S);
  const auto sde = limits::learning_sde(model, o);
  const double kappa = 1.0 / double(S);
  const MatrixXd C = q.noise_covariance();  // Xi Xiᵀ/N, computed by ou

  SUBCASE("drift -H e and diffusion eta kappa C") {
    const VectorXd e = (VectorXd(3) << 1.0, -2.0, 0.5).finished();
    CHECK(rel(sde.drift_at(e), -(H * e)) < 1e-14);
    const MatrixXd g = effective_diffusion(sde, e);
    CHECK((g * g.transpose() - eta * kappa * C).norm() < 1e-13 * C.norm());
    // The diffusion does not depend on the state (additive noise, as for the OU process).
    const MatrixXd g0 = effective_diffusion(sde, VectorXd::Zero(3));
    CHECK((g0 * g0.transpose() - eta * kappa * C).norm() < 1e-13 * C.norm());
  }

  SUBCASE("weak gap E phi(SGD) - E phi(SDE EM, dt = eta/m) against the exact Euler-Maruyama laws") {
    const VectorXd theta0 = (VectorXd(3) << 2.0, -1.5, 1.0).finished();
    const long K = 10, m = 4;  // T = Kη = 1
    const double T = double(K) * eta;
    const Index R = 40000;
    // Closed form: OU dX = −H X dt + B dW, BBᵀ = ηκC (B = Cholesky-free: the symmetric square root).
    Eigen::SelfAdjointEigenSolver<MatrixXd> es(eta * kappa * C);
    const MatrixXd B = es.eigenvectors() * es.eigenvalues().cwiseMax(0.0).cwiseSqrt().asDiagonal() *
                       es.eigenvectors().transpose();
    const OrnsteinUhlenbeck<double> ou(H, B);
    const auto law_sgd = ou.euler_maruyama_law(theta0, T, eta);           // SGD's first two moments
    const auto law_sde = ou.euler_maruyama_law(theta0, T, eta / double(m));  // the SDE's EM chain
    REQUIRE(law_sgd.outcome.ok());
    REQUIRE(law_sde.outcome.ok());
    auto norm2 = [](const auto& law) { return law.mean.squaredNorm() + law.covariance.trace(); };
    auto loss = [&](const auto& law) { return 0.5 * (law.mean.dot(H * law.mean) + (H * law.covariance).trace()); };
    const double gap_norm = norm2(law_sgd) - norm2(law_sde), gap_loss = loss(law_sgd) - loss(law_sde);

    // SGD: R independent runs of optim::train on the model, run r with seed r (counter-based streams).
    std::vector<double> sgd_n(R), sgd_l(R);
    optim::TrainOptions to;
    to.learning_rate = eta;
    to.sampler = with_replacement(S);
    to.steps = K;
    auto mm = model;
    for (Index r = 0; r < R; ++r) {
      to.seed = std::uint64_t(1000 + r);
      const auto res = optim::train(mm, theta0, to);
      sgd_n[std::size_t(r)] = res.parameters.squaredNorm();
      sgd_l[std::size_t(r)] = 0.5 * res.parameters.dot(H * res.parameters);
    }
    // SDE: R paths of Euler–Maruyama at dt = η/m (another stream: independent of the SGD runs).
    const auto sol = integrate(sde, EulerMaruyama{}, theta0, sde.time_grid(T, m), Ensemble(R), RandomStream(77));
    REQUIRE(sol.outcome.ok());
    auto mean_se = [](const std::vector<double>& v) {
      double s = 0, s2 = 0;
      for (double x : v) s += x;
      const double mu = s / double(v.size());
      for (double x : v) s2 += (x - mu) * (x - mu);
      return std::pair<double, double>{mu, std::sqrt(s2 / double(v.size() - 1) / double(v.size()))};
    };
    std::vector<double> sde_n(R), sde_l(R);
    for (Index r = 0; r < R; ++r) {
      const VectorXd x = sol.final_state.col(r);
      sde_n[std::size_t(r)] = x.squaredNorm();
      sde_l[std::size_t(r)] = 0.5 * x.dot(H * x);
    }
    const auto [a_n, se_an] = mean_se(sgd_n);
    const auto [b_n, se_bn] = mean_se(sde_n);
    const auto [a_l, se_al] = mean_se(sgd_l);
    const auto [b_l, se_bl] = mean_se(sde_l);
    // The two ensembles are independent, so the SE of the difference of means is √(SE_a² + SE_b²); by
    // the CLT each check fails with probability ≈ 6e-7.
    const double se_n = std::hypot(se_an, se_bn), se_l = std::hypot(se_al, se_bl);
    MESSAGE("|theta|^2: simulated gap " << a_n - b_n << " +- " << se_n << ", exact " << gap_norm);
    MESSAGE("loss:      simulated gap " << a_l - b_l << " +- " << se_l << ", exact " << gap_loss);
    CHECK(std::abs((a_n - b_n) - gap_norm) < 5 * se_n);
    CHECK(std::abs((a_l - b_l) - gap_loss) < 5 * se_l);
    // Each side also matches its own law (SGD: exact moments; SDE: the EM law at dt = η/m).
    CHECK(std::abs(a_n - norm2(law_sgd)) < 5 * se_an);
    CHECK(std::abs(b_n - norm2(law_sde)) < 5 * se_bn);
    // Power: the gap is resolved (more than 5 SE from 0), so a wrong gap would be seen.
    CHECK(std::abs(gap_norm) > 5 * se_n);
  }
}

TEST_CASE("SME2 drift = -grad(L + eta/4 |grad L|^2) by finite differences") {
  SmallMlp p;
  const nn::SoftmaxCrossEntropy loss(p.labels);
  const auto model = limits::mlp_model(p.net, loss, p.inputs, 4);
  limits::LearningSdeOptions o;
  o.learning_rate = 0.5;
  o.sampler = with_replacement(2);
  o.equation = limits::ModifiedEquation::sme2;
  const auto sme2 = limits::learning_sde(model, o);
  o.equation = limits::ModifiedEquation::sme1;
  const auto sme1 = limits::learning_sde(model, o);
  const VectorXd theta = p.net.parameters();
  auto modified = [&](const VectorXd& t) { return model.loss(t) + 0.5 / 4 * model.gradient(t).squaredNorm(); };
  const VectorXd fd = fd_gradient(modified, theta, 1e-5);
  CHECK(rel(sme2.drift_at(theta), -fd) < 1e-7);
  CHECK(rel(sme1.drift_at(theta), -model.gradient(theta)) < 1e-15);
  // The correction is visible at this η (so the check distinguishes SME2 from SME1).
  CHECK(rel(sme2.drift_at(theta), sme1.drift_at(theta)) > 1e-3);
  // Through the problem interface (drift on a block of paths) and the fused step (dW = 0: pure drift).
  MatrixXd X = theta.replicate(1, 2), F(theta.size(), 2);
  sme2.drift(0.0, X, F);
  CHECK(rel(F.col(1), -fd) < 1e-7);
  MatrixXd Y = X;
  sme2.euler_maruyama_step(0.0, 0.01, MatrixXd::Zero(7, 2), Y);
  CHECK(rel((Y.col(0) - theta) / 0.01, -fd) < 1e-7);
}

TEST_CASE("limits bad input: learning_sde options") {
  Data d;
  const nn::SoftmaxCrossEntropy loss(d.labels);
  const auto model = limits::mlp_model(d.net, loss, d.inputs);
  auto with = [](double eta, Sampler s) {
    limits::LearningSdeOptions o;
    o.learning_rate = eta;
    o.sampler = s;
    return o;
  };
  std::vector<Case> t;
  for (double eta : {0.0, -0.1, sweep::nan, sweep::inf, -sweep::inf})
    t.push_back(throws_from("learning_sde", "options.learning_rate", "eta=" + std::to_string(eta),
                            [&, eta] { (void)limits::learning_sde(model, with(eta, with_replacement(2))); }));
  t.push_back(throws_from("learning_sde", "options.sampler", "shuffled_epochs",
                          [&] { (void)limits::learning_sde(model, with(0.1, shuffled_epochs(2))); }));
  t.push_back(throws_from("learning_sde", "options.sampler", "cyclic batch size", [&] {
    (void)limits::learning_sde(model, with(0.1, with_replacement(BatchSizeSchedule::cyclic(1, 3, 4))));
  }));
  t.push_back(throws_from("learning_sde", "options.sampler", "fresh_subset S > N",
                          [&] { (void)limits::learning_sde(model, with(0.1, fresh_subset(6))); }));
  t.push_back(throws_from("learning_sde", "options.equation", "equation out of range", [&] {
    auto o = with(0.1, with_replacement(2));
    o.equation = static_cast<limits::ModifiedEquation>(7);
    (void)limits::learning_sde(model, o);
  }));
  // Extreme but valid: tiny and huge η, S = N without replacement (κ = 0: gradient flow).
  t.push_back(succeeds("eta=1e-308", [&] {
    const auto s = limits::learning_sde(model, with(sweep::tiny, with_replacement(2)));
    return verdict(s.noise_scale() >= 0 && std::isfinite(s.noise_scale()));
  }));
  t.push_back(succeeds("eta=1e308", [&] {
    const auto s = limits::learning_sde(model, with(sweep::huge, with_replacement(2)));
    return verdict(std::isfinite(s.noise_scale()));
  }));
  t.push_back(succeeds("fresh_subset S = N", [&] {
    const auto s = limits::learning_sde(model, with(0.1, fresh_subset(5)));
    return verdict(s.variance_factor() == 0 && s.noise_scale() == 0);
  }));
  // The time grid and the time step: substeps m ≤ 0, bad horizons, dt > η.
  const auto sde = limits::learning_sde(model, with(0.1, with_replacement(2)));
  for (long m : {0L, -1L})
    t.push_back(throws_from("LearningSde::time_grid", "substeps", "m=" + std::to_string(m),
                            [&, m] { (void)sde.time_grid(1.0, m); }));
  for (double h : {0.0, -1.0, sweep::nan, sweep::inf})
    t.push_back(throws_from("LearningSde::time_grid", "horizon", "T=" + std::to_string(h),
                            [&, h] { (void)sde.time_grid(h, 2); }));
  for (double dt : {0.2, 0.1002, 0.0, -0.05, sweep::nan, sweep::inf})
    t.push_back(throws_from("my_study", "dt", "dt=" + std::to_string(dt), [&, dt] { sde.check_time_step("my_study", dt); }));
  t.push_back(throws_from("integrate", "dt", "grid with dt = 2 eta", [&] {
    (void)integrate(sde, EulerMaruyama{}, d.net.parameters(), TimeGrid(0.0, 0.4, 0.2), Ensemble(2), RandomStream(1));
  }));
  t.push_back(succeeds("dt = eta", [&] {
    sde.check_time_step("my_study", 0.1);
    return verdict(sde.time_grid(1.0, 4).dt() == 0.025);
  }));
  // The problem through integrate: x0 of the wrong size or non-finite.
  t.push_back(throws_from("integrate", "x0", "x0 wrong size", [&] {
    (void)integrate(sde, EulerMaruyama{}, VectorXd::Zero(3), sde.time_grid(0.2, 1), Ensemble(2), RandomStream(1));
  }));
  t.push_back(throws_from("integrate", "x0", "x0 NaN", [&] {
    VectorXd x0 = d.net.parameters();
    x0[1] = sweep::nan;
    (void)integrate(sde, EulerMaruyama{}, x0, sde.time_grid(0.2, 1), Ensemble(2), RandomStream(1));
  }));
  sweep::run("learning_sde", t);
}

TEST_CASE("limits bad input: models") {
  Data d;
  const nn::SoftmaxCrossEntropy loss(d.labels);
  std::vector<Case> t;
  t.push_back(throws_from("mlp_model", "net", "batch norm", [&] {
    nn::MlpSpec spec = d.net.spec();
    spec.batch_norm = true;
    nn::Mlp<double> bn(spec);
    (void)limits::mlp_model(bn, loss, d.inputs);
  }));
  t.push_back(throws_from("mlp_model", "chunk_size", "chunk 0", [&] { (void)limits::mlp_model(d.net, loss, d.inputs, 0); }));
  for (const char* which : {"gradient", "weighted_gradient", "hessian_vector_product"}) {
    // A workspace of a model with other widths (2-4-2) must be refused, not used to re-size θ.
    t.push_back(throws_from(std::string("MlpModel::") + which, "workspace", std::string("foreign workspace, ") + which, [&, which] {
      const auto model = limits::mlp_model(d.net, loss, d.inputs);
      nn::Mlp<double> other(std::vector<Index>{2, 4, 2}, nn::Activation::tanh);
      const auto other_model = limits::mlp_model(other, loss, d.inputs);
      auto w = other_model.workspace();
      const VectorXd theta = d.net.parameters();
      VectorXd out(theta.size());
      const std::string f = which;
      if (f == "gradient") (void)model.gradient(theta, out, w);
      else if (f == "weighted_gradient") (void)model.weighted_gradient(theta, VectorXd::Ones(5), out, w);
      else model.hessian_vector_product(theta, theta, out, w);
    }));
  }
  t.push_back(succeeds("chunk LONG_MAX (no overflow of the chunk count)", [&] {
    const auto m = limits::mlp_model(d.net, loss, d.inputs, std::numeric_limits<Index>::max());
    return verdict(std::isfinite(m.loss(d.net.parameters())));
  }));
  t.push_back(throws_from("mlp_model", "inputs", "inputs 3 rows", [&] {
    const MatrixXd x = MatrixXd::Zero(3, 5);
    (void)limits::mlp_model(d.net, loss, x);
  }));
  t.push_back(throws_from("mlp_model", "labels.size()", "labels for 5 samples, inputs 4", [&] {
    const MatrixXd x = MatrixXd::Zero(2, 4);
    (void)limits::mlp_model(d.net, loss, x);
  }));
  for (const auto& [name, v] : sweep::non_finite)
    t.push_back(throws_from("mlp_model", "inputs", "inputs " + name, [&, v = v] {
      const MatrixXd x = sweep::with_entry(d.inputs, 1, 2, v);
      (void)limits::mlp_model(d.net, loss, x);
    }));
  t.push_back(throws_from("quadratic_model", "q", "Quadratic(H, C) without offsets", [] {
    const Quadratic<double> q(MatrixXd::Identity(2, 2), MatrixXd::Identity(2, 2));
    (void)limits::quadratic_model(q);
  }));

  const auto model = limits::mlp_model(d.net, loss, d.inputs, 2);
  const Index P = model.num_parameters();
  const VectorXd theta = d.net.parameters();
  const VectorXd w = VectorXd::Ones(5);
  Keep keep(theta, w, d.inputs);
  VectorXd out(P);
  t.push_back(throws_from("MlpModel::loss", "theta", "theta size P+1",
                          [&] { (void)model.loss(VectorXd::Zero(P + 1)); }));
  t.push_back(throws_from("MlpModel::gradient", "theta", "theta empty", [&] { (void)model.gradient(VectorXd()); }));
  for (const auto& [name, v] : sweep::non_finite) {
    t.push_back(throws_from("MlpModel::weighted_gradient", "theta", "theta " + name, [&, v = v] {
      VectorXd th = theta;
      th[0] = v;
      (void)model.weighted_gradient(th, w, out);
    }));
    t.push_back(throws_from("MlpModel::weighted_gradient", "weights", "weights " + name, [&, v = v] {
      VectorXd ww = w;
      ww[4] = v;
      (void)model.weighted_gradient(theta, ww, out);
    }));
    t.push_back(throws_from("MlpModel::hessian_vector_product", "v", "v " + name, [&, v = v] {
      VectorXd vv = theta;
      vv[2] = v;
      (void)model.hessian_vector_product(theta, vv);
    }));
  }
  t.push_back(throws_from("MlpModel::weighted_gradient", "weights", "weights size 4",
                          [&] { (void)model.weighted_gradient(theta, VectorXd::Ones(4), out); }));
  t.push_back(throws_from("MlpModel::weighted_gradient", "out", "out size P-1", [&] {
    VectorXd o(P - 1);
    (void)model.weighted_gradient(theta, w, o);
  }));
  t.push_back(throws("batch index", "loss_and_gradient index 5", [&] {
    auto m = model;
    VectorXd g(P);
    (void)m.loss_and_gradient(theta, Batch{0, 5}, g);
  }));
  t.push_back(throws("batch.size()", "loss_and_gradient empty batch", [&] {
    auto m = model;
    VectorXd g(P);
    (void)m.loss_and_gradient(theta, Batch{}, g);
  }));
  t.push_back(succeeds("tiny weights 1e-308", [&] {
    VectorXd o2(P);
    const double s = model.weighted_gradient(theta, VectorXd::Constant(5, 1e-308), o2);
    return verdict(std::isfinite(s) && all_finite(o2));
  }));
  // Regression and quadratic models: wrong sizes and batches.
  MatrixXd H(2, 2), Xi(2, 3);
  H << 2, 0, 0, 1;
  Xi << 1, -2, 1, 0.5, 0.5, -1;
  const auto qm = limits::quadratic_model(per_sample_quadratic(H, Xi));
  t.push_back(throws_from("QuadraticModel::gradient", "theta", "theta size 3",
                          [&] { (void)qm.gradient(VectorXd::Zero(3)); }));
  t.push_back(throws_from("QuadraticModel::loss_and_gradient", "batch index", "index -1", [&] {
    auto m = qm;
    VectorXd g(2);
    (void)m.loss_and_gradient(VectorXd::Zero(2), Batch{-1}, g);
  }));
  Dataset<double> ds;
  ds.inputs = (MatrixXd(2, 3) << 1, 0, 1, 0, 1, 1).finished();
  ds.targets = (MatrixXd(1, 3) << 1, 2, 3).finished();
  const auto rm = limits::regression_model(LinearRegression<double>(ds));
  t.push_back(throws_from("RegressionModel::weighted_gradient", "weights", "weights size 2", [&] {
    VectorXd g(2);
    (void)rm.weighted_gradient(VectorXd::Zero(2), VectorXd::Ones(2), g);
  }));
  t.push_back(throws_from("RegressionModel::per_sample_gradients", "theta", "theta NaN",
                          [&] { (void)rm.per_sample_gradients(VectorXd::Constant(2, sweep::nan)); }));
  sweep::run("models", t);
}
