// Tests for sgdsde/optim/train.hpp on problems without a network: gradient descent on a quadratic
// against its closed form, minibatch SGD with momentum on linear regression against a hand-written loop
// for the three samplers, injected noise from the one seed, epochs as a stopping criterion, observers,
// the divergence and non-finite outcomes naming the step (η·λ_max > 2), and bad input.
#include "sgdsde/optim/train.hpp"

#include <cmath>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "sgdsde/core/scalar.hpp"

using sgdsde::RandomStream;
using namespace sgdsde::optim;

namespace {

template <class T>
using Vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;
template <class T>
using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;

/// Every sample has the same loss l_n(θ) = ½ (θ − θ*)ᵀ diag(h) (θ − θ*): minibatch SGD is full GD.
template <class T>
struct QuadraticProblem {
  using Scalar = T;
  Vec<T> h, star;
  Eigen::Index n = 10;
  Eigen::Index num_samples() const { return n; }
  Eigen::Index num_parameters() const { return h.size(); }
  T loss_and_gradient(const Eigen::Ref<const Vec<T>>& theta, const sgdsde::Batch&, Eigen::Ref<Vec<T>> grad) {
    grad = h.cwiseProduct(theta - star);
    return T(0.5) * (theta - star).dot(grad);
  }
};

/// Least squares l_n = ½ (x_nᵀθ − y_n)², samples as columns.
template <class T>
struct LinearRegressionProblem {
  using Scalar = T;
  Mat<T> x;
  Vec<T> y;
  Eigen::Index num_samples() const { return x.cols(); }
  Eigen::Index num_parameters() const { return x.rows(); }
  T loss_and_gradient(const Eigen::Ref<const Vec<T>>& theta, const sgdsde::Batch& batch, Eigen::Ref<Vec<T>> grad) {
    grad.setZero();
    T loss = 0;
    for (auto n : batch) {
      const T r = x.col(n).dot(theta) - y[n];
      loss += T(0.5) * r * r;
      grad += r * x.col(n);
    }
    const T s = T(batch.size());
    grad /= s;
    return loss / s;
  }
};

/// y_n = x_nᵀθ* + 0.3 ε_n with x_n, ε_n standard normal (seeded).
template <class T>
LinearRegressionProblem<T> linear_regression(Eigen::Index n, const Vec<T>& star, std::uint64_t seed) {
  LinearRegressionProblem<T> p{Mat<T>(star.size(), n), Vec<T>(n)};
  RandomStream(seed, 0).normal_at(0, p.x);
  RandomStream(seed, 1).normal_at(0, p.y);
  p.y = p.x.transpose() * star + T(0.3) * p.y;
  return p;
}

}  // namespace

TEST_CASE_TEMPLATE("train: gradient descent on a quadratic follows θ_k − θ* = (1 − ηh)^k (θ_0 − θ*)", T, float,
                   double) {
  QuadraticProblem<T> q;
  q.h = Vec<T>(3);
  q.h << T(1.5), T(0.5), T(0.1);
  q.star = Vec<T>::Constant(3, T(1));
  const Vec<T> theta0 = Vec<T>::Zero(3);
  TrainOptions o;
  o.steps = 40;
  o.learning_rate = 0.8;
  o.sampler = sgdsde::shuffled_epochs(4);
  const auto r = train(q, theta0, o);
  REQUIRE(r.outcome.ok());
  CHECK(r.steps == 40);
  CHECK(theta0 == Vec<T>::Zero(3));  // the caller's θ₀ is untouched
  for (int i = 0; i < 3; ++i) {
    using std::pow;
    const T expected = T(1) - pow(T(1) - T(0.8) * q.h[i], T(40));
    CHECK(r.parameters[i] == doctest::Approx(expected).epsilon(100 * sgdsde::Constants<T>::epsilon()));
  }
}

TEST_CASE_TEMPLATE("train: minibatch SGD with momentum equals a hand-written loop, all three samplers", T, float,
                   double) {
  Vec<T> star(3);
  star << T(1), T(-0.5), T(2);
  auto prob = linear_regression<T>(64, star, 3);
  const CyclicSchedule lr(0.01, 0.05, 7);
  for (const sgdsde::Sampler sampler : {sgdsde::Sampler(sgdsde::with_replacement(8)),
                                        sgdsde::Sampler(sgdsde::fresh_subset(8)),
                                        sgdsde::Sampler(sgdsde::shuffled_epochs(8))}) {
    CAPTURE(sgdsde::name_of(sampler));
    TrainOptions o;
    o.steps = 30;
    o.learning_rate = lr;
    o.sampler = sampler;
    o.sgd.momentum = 0.5;
    o.seed = 10;
    const Vec<T> theta0 = Vec<T>::Zero(3);
    const auto r = train(prob, theta0, o);
    REQUIRE(r.outcome.ok());
    // reference: batches regenerated from (RandomStream(seed, 1), k), gradient summed by hand, heavy ball
    // written out, η_k = T(lr(k))
    sgdsde::BatchDrawer drawer(sampler, 64, RandomStream(10, 1));
    Vec<T> theta = theta0, v = Vec<T>::Zero(3);
    for (long k = 0; k < 30; ++k) {
      const sgdsde::Batch b = drawer.batch(k);
      Vec<T> g = Vec<T>::Zero(3);
      for (auto n : b) g += (prob.x.col(n).dot(theta) - prob.y[n]) * prob.x.col(n) / T(8);
      v = T(0.5) * v + g;
      theta = theta - T(lr(k)) * v;
    }
    CHECK((r.parameters - theta).norm() <= T(100) * sgdsde::Constants<T>::epsilon() * theta.norm());
  }
}

TEST_CASE("train: injected noise comes from RandomStream(seed, 2) and no stream is needed without it") {
  QuadraticProblem<double> q;
  q.h = Eigen::VectorXd::Constant(4, 1.0);
  q.star = Eigen::VectorXd::Zero(4);
  TrainOptions o;
  o.steps = 5;
  o.learning_rate = 0.1;
  o.sampler = sgdsde::with_replacement(1);
  o.sgd.noise_sigma = 0.7;
  o.sgd.noise_batch = 2;
  o.seed = 33;
  const Eigen::VectorXd theta0 = Eigen::VectorXd::Ones(4);
  const auto r = train(q, theta0, o);
  REQUIRE(r.outcome.ok());
  // reference: θ ← θ − η h(θ − θ*) + σ η/√M ξ_k, ξ_k the normals [4k, 4k + 4) of RandomStream(33, 2)
  Eigen::VectorXd theta = theta0, xi(4);
  for (long k = 0; k < 5; ++k) {
    RandomStream(33, 2).normal_at(std::uint64_t(4 * k), xi);
    theta = theta - 0.1 * theta + 0.7 * 0.1 / std::sqrt(2.0) * xi;
  }
  CHECK((r.parameters - theta).norm() <= 1e-14);
  const auto same = train(q, theta0, o);
  CHECK(same.parameters == r.parameters);  // reproducible from the seed alone
  o.seed = 34;
  CHECK((train(q, theta0, o).parameters - r.parameters).norm() > 1e-3);
}

TEST_CASE("train: epochs as the stopping criterion, epoch losses and observer calls") {
  // N = 50 samples. Shuffled epochs of S = 8: ⌊50/8⌋ = 6 batches per epoch (2 samples dropped), so 3
  // epochs are 18 updates. With replacement, S = 8: epoch e ends at the update where 8k ≥ 50e, i.e.
  // k = ⌈50e/8⌉: 3 epochs are ⌈150/8⌉ = 19 updates.
  Eigen::VectorXd star = Eigen::VectorXd::Ones(2);
  auto prob = linear_regression<double>(50, star, 4);
  for (bool shuffled : {true, false}) {
    CAPTURE(shuffled);
    TrainOptions o;
    o.epochs = 3;
    o.learning_rate = 0.05;
    o.sampler = shuffled ? sgdsde::Sampler(sgdsde::shuffled_epochs(8)) : sgdsde::Sampler(sgdsde::with_replacement(8));
    std::vector<long> ends, steps;
    std::vector<double> losses;
    double epoch_sum = 0;
    long epoch_n = 0, finals = 0, total = 0;
    const auto r = train(prob, Eigen::VectorXd::Zero(2), o, [&](const Progress<double>& p) {
      total = p.total_steps;
      if (p.done) {
        ++finals;
        return;
      }
      steps.push_back(p.step);
      CHECK(p.step >= 1);  // no call before the first update
      CHECK(std::isfinite(p.batch_loss));
      epoch_sum += p.batch_loss;
      ++epoch_n;
      CHECK(p.epoch_loss == doctest::Approx(epoch_sum / double(epoch_n)));
      CHECK(p.epochs_seen == doctest::Approx(8.0 * double(p.step) / 50.0));
      CHECK(p.parameters.size() == 2);
      if (p.end_of_epoch) {
        ends.push_back(p.step);
        losses.push_back(p.epoch_loss);
        CHECK(p.epoch == long(ends.size()));
        epoch_sum = 0;
        epoch_n = 0;
      }
    });
    REQUIRE(r.outcome.ok());
    const std::vector<long> expected_ends = shuffled ? std::vector<long>{6, 12, 18} : std::vector<long>{7, 13, 19};
    CHECK(ends == expected_ends);
    CHECK(r.steps == expected_ends.back());
    CHECK(total == r.steps);
    CHECK(r.epochs == 3);
    CHECK(r.epoch_loss == losses);
    CHECK(steps.size() == std::size_t(r.steps));  // after each update only
    CHECK(!r.stopped_by_observer);
    CHECK(finals == 1);
    CHECK(r.epoch_loss.back() < r.epoch_loss.front());
  }
}

TEST_CASE("train: every_epoch observers, an observer returning false stops training, progress_every prints") {
  Eigen::VectorXd star = Eigen::VectorXd::Ones(2);
  auto prob = linear_regression<double>(40, star, 5);
  TrainOptions o;
  o.epochs = 5;
  o.learning_rate = 0.05;
  o.sampler = sgdsde::shuffled_epochs(10);  // 4 updates per epoch
  std::vector<long> at;
  auto r = train(prob, Eigen::VectorXd::Zero(2), o, every_epoch([&](const auto& p) { at.push_back(p.step); }));
  CHECK(at == std::vector<long>{4, 8, 12, 16, 20});
  // stop after the second epoch
  r = train(prob, Eigen::VectorXd::Zero(2), o, every_epoch([](const auto& p) { return p.epoch < 2; }));
  CHECK(r.outcome.ok());
  CHECK(r.steps == 8);
  CHECK(r.epochs == 2);
  CHECK(r.outcome.message.find("stopped by the observer") != std::string::npos);
  CHECK(r.stopped_by_observer);
  // progress_every(0) prints every call: 20 updates + the final line
  std::FILE* f = std::tmpfile();
  REQUIRE(f != nullptr);
  train(prob, Eigen::VectorXd::Zero(2), o, progress_every(0, f));
  std::rewind(f);
  int lines = 0;
  for (int ch; (ch = std::fgetc(f)) != EOF;) lines += ch == '\n';
  std::fclose(f);
  CHECK(lines == 21);
}

TEST_CASE_TEMPLATE("train: η·λ_max > 2 on a quadratic diverges, and the outcome names the step", T, float,
                   double) {
  // h = (3, 1), θ* = 0, θ_0 = (1, 1), η = 1: θ_k = ((−2)^k, 0) for k ≥ 1 and the loss is
  // L_0 = 2, L_k = 1.5·4^k. With the bound 1e6 the first loss above it is L_10 = 1.57e6 (L_9 = 3.9e5).
  QuadraticProblem<T> q;
  q.h = Vec<T>(2);
  q.h << T(3), T(1);
  q.star = Vec<T>::Zero(2);
  const Vec<T> theta0 = Vec<T>::Ones(2);
  TrainOptions o;
  o.steps = 2000;
  o.learning_rate = 1;
  o.sampler = sgdsde::shuffled_epochs(1);
  o.loss_bound = 1e6;
  bool final_seen = false;
  auto r = train(q, theta0, o, [&](const Progress<T>& p) { final_seen = final_seen || p.done; });
  CHECK(r.outcome.status == sgdsde::Status::diverged);
  CHECK(r.outcome.step == 10);
  CHECK(r.outcome.value == doctest::Approx(1.5 * 1048576.0));
  CHECK(r.outcome.message.find("step 10") != std::string::npos);
  CHECK(r.steps == 10);
  CHECK(r.parameters[0] == T(1024));
  CHECK(r.parameters[1] == T(0));
  CHECK(final_seen);

  // Without a bound the loss overflows: L_k = 1.5·4^k is first infinite when 4^k = 2^{2k} exceeds the
  // largest finite value, 2k ≥ 1024 (double) or 2k ≥ 128 (float).
  o.loss_bound = std::numeric_limits<double>::infinity();
  r = train(q, theta0, o);
  const long expected = std::is_same_v<T, double> ? 512 : 64;
  CHECK(r.outcome.status == sgdsde::Status::non_finite);
  CHECK(r.outcome.step == expected);
  CHECK(r.parameters.allFinite());
}

TEST_CASE("train: a non-finite parameter after an update is reported and θ_k returned") {
  // h = 10, θ_0 = 1, η = 1e308: L_0 = 5 is finite, but θ_1 = 1 − 1e309 overflows to −inf.
  QuadraticProblem<double> q;
  q.h = Eigen::VectorXd::Constant(1, 10.0);
  q.star = Eigen::VectorXd::Zero(1);
  TrainOptions o;
  o.steps = 5;
  o.learning_rate = 1e308;
  o.sampler = sgdsde::shuffled_epochs(1);
  const auto r = train(q, Eigen::VectorXd::Ones(1), o);
  CHECK(r.outcome.status == sgdsde::Status::non_finite);
  CHECK(r.outcome.step == 0);
  CHECK(r.outcome.message.find("parameter 0") != std::string::npos);
  CHECK(r.steps == 0);
  CHECK(r.parameters[0] == 1.0);
}

TEST_CASE("train rejects bad input") {
  Eigen::VectorXd star = Eigen::VectorXd::Ones(2);
  auto prob = linear_regression<double>(20, star, 4);
  const Eigen::VectorXd theta0 = Eigen::VectorXd::Zero(2);
  auto run = [&](const TrainOptions& o, const Eigen::VectorXd& t0) { return train(prob, t0, o); };
  TrainOptions o;
  o.steps = 3;
  o.sampler = sgdsde::shuffled_epochs(21);  // S > N
  CHECK_THROWS_AS(run(o, theta0), sgdsde::invalid_argument);
  o.sampler = sgdsde::fresh_subset(sgdsde::BatchSizeSchedule::cyclic(5, 25, 3));  // max S > N
  CHECK_THROWS_AS(run(o, theta0), sgdsde::invalid_argument);
  o.sampler = sgdsde::shuffled_epochs(5);
  CHECK_THROWS_AS(run(o, Eigen::VectorXd::Zero(3)), sgdsde::invalid_argument);
  CHECK_THROWS_AS(run(o, Eigen::VectorXd::Constant(2, std::nan(""))), sgdsde::invalid_argument);
  o.steps = -1;
  CHECK_THROWS_AS(run(o, theta0), sgdsde::invalid_argument);
  o.steps = 0;  // neither steps nor epochs
  CHECK_THROWS_AS(run(o, theta0), sgdsde::invalid_argument);
  o.steps = 3;
  o.epochs = 2;  // both
  CHECK_THROWS_AS(run(o, theta0), sgdsde::invalid_argument);
  o.epochs = 0;
  o.sgd.momentum = -0.5;
  CHECK_THROWS_AS(run(o, theta0), sgdsde::invalid_argument);
  o.sgd = {};
  o.loss_bound = 0;
  CHECK_THROWS_AS(run(o, theta0), sgdsde::invalid_argument);
  CHECK_THROWS_AS(progress_every(-1), sgdsde::invalid_argument);
  // empty data
  LinearRegressionProblem<double> empty{Eigen::MatrixXd(2, 0), Eigen::VectorXd(0)};
  o = {};
  o.steps = 1;
  o.sampler = sgdsde::with_replacement(1);
  CHECK_THROWS_AS(train(empty, theta0, o), sgdsde::invalid_argument);
  try {
    TrainOptions bad;
    bad.steps = 1;
    bad.sampler = sgdsde::shuffled_epochs(21);
    run(bad, theta0);
    FAIL("no exception");
  } catch (const sgdsde::invalid_argument& e) {
    const std::string m = e.what();
    CHECK(m.find("batch_size") != std::string::npos);
    CHECK(m.find("21") != std::string::npos);
    CHECK(m.find("N = 20") != std::string::npos);
  }
}

namespace {
/// Quadratic with its own parameter vector (the optional Problem::parameter_storage) and a gradient
/// that turns NaN once θ₀ passes `nan_above` (to exercise the gradient check).
struct StoredQuadratic {
  using Scalar = double;
  Eigen::VectorXd storage = Eigen::VectorXd::Zero(2);
  double nan_above = std::numeric_limits<double>::infinity();
  long calls_with_storage = 0;
  Eigen::Index num_samples() const { return 4; }
  Eigen::Index num_parameters() const { return 2; }
  Eigen::VectorXd& parameter_storage() { return storage; }
  double loss_and_gradient(const Eigen::Ref<const Eigen::VectorXd>& theta, const sgdsde::Batch&,
                           Eigen::Ref<Eigen::VectorXd> grad) {
    calls_with_storage += theta.data() == storage.data();
    grad = theta - Eigen::Vector2d(1, 2);
    const double loss = 0.5 * grad.squaredNorm();  // stays finite: only the gradient goes bad
    if (theta[0] > nan_above) grad[1] = std::nan("");
    return loss;
  }
};
}  // namespace

TEST_CASE("train: a problem's own parameter storage is used as the iterate, with the same result") {
  StoredQuadratic sq;
  QuadraticProblem<double> q;
  q.h = Eigen::VectorXd::Ones(2);
  q.star = Eigen::Vector2d(1, 2);
  TrainOptions o;
  o.steps = 7;
  o.learning_rate = 0.3;
  o.sampler = sgdsde::shuffled_epochs(2);
  const Eigen::VectorXd theta0 = Eigen::Vector2d(-1, 0.5);
  const auto a = train(sq, theta0, o);
  const auto b = train(q, theta0, o);
  REQUIRE(a.outcome.ok());
  CHECK(a.parameters == b.parameters);
  CHECK(sq.storage == a.parameters);  // the storage holds the last iterate
  CHECK(sq.calls_with_storage == 7);  // every gradient was taken at the storage itself (no copy)
  CHECK(theta0 == Eigen::Vector2d(-1, 0.5));
}

TEST_CASE("train: a non-finite gradient stops training at that step") {
  // θ₀ goes 0 → 0.3 → 0.51 → 0.657 with η = 0.3 towards 1, so the gradient is NaN from step 2 (θ₀ > 0.5).
  StoredQuadratic sq;
  sq.nan_above = 0.5;
  TrainOptions o;
  o.steps = 10;
  o.learning_rate = 0.3;
  o.sampler = sgdsde::shuffled_epochs(1);
  const auto r = train(sq, Eigen::VectorXd::Zero(2), o);
  CHECK(r.outcome.status == sgdsde::Status::non_finite);
  CHECK(r.outcome.step == 2);
  CHECK(r.outcome.message.find("gradient") != std::string::npos);
  CHECK(r.steps == 2);
  CHECK(r.parameters[0] == doctest::Approx(0.51));
}
