// Tests for sgdsde/optim/train.hpp on problems without a network: gradient descent on a quadratic
// against its closed form, minibatch SGD on linear regression against a hand-written loop, the
// divergence and non-finite outcomes naming the step (η·λ_max > 2), curve recording, and bad input.
#include "sgdsde/optim/train.hpp"

#include <cmath>
#include <vector>

#include <doctest/doctest.h>

#include "sgdsde/core/scalar.hpp"
#include "sgdsde/data/synthetic.hpp"

using sgdsde::RandomStream;

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

}  // namespace

TEST_CASE_TEMPLATE("train: gradient descent on a quadratic follows θ_k − θ* = (1 − ηh)^k (θ_0 − θ*)", T, float,
                   double) {
  QuadraticProblem<T> q;
  q.h = Vec<T>(3);
  q.h << T(1.5), T(0.5), T(0.1);
  q.star = Vec<T>::Constant(3, T(1));
  const Vec<T> theta0 = Vec<T>::Zero(3);
  sgdsde::TrainOptions<T> o;
  o.steps = 40;
  o.learning_rate = sgdsde::ConstantSchedule<T>(T(0.8));
  o.batch_size = sgdsde::BatchSizeSchedule::constant(4);
  const auto r = sgdsde::train(q, theta0, o, RandomStream(1), RandomStream(2));
  REQUIRE(r.outcome.ok());
  CHECK(r.steps == 40);
  CHECK(theta0 == Vec<T>::Zero(3));  // the caller's θ₀ is untouched
  for (int i = 0; i < 3; ++i) {
    using std::pow;
    const T expected = T(1) - pow(T(1) - T(0.8) * q.h[i], T(40));
    CHECK(r.theta[i] == doctest::Approx(expected).epsilon(100 * sgdsde::Constants<T>::epsilon()));
  }
}

TEST_CASE_TEMPLATE("train: minibatch SGD with momentum equals a hand-written loop, both samplers", T, float,
                   double) {
  Vec<T> star(3);
  star << T(1), T(-0.5), T(2);
  const auto data = sgdsde::noisy_linear_regression<T>(RandomStream(3, 0), 64, star, T(0.3));
  LinearRegressionProblem<T> prob{data.inputs, data.targets.row(0).transpose()};
  const sgdsde::CyclicSchedule<T> lr(T(0.01), T(0.05), 7);
  for (auto sampling : {sgdsde::SamplerKind::with_replacement, sgdsde::SamplerKind::shuffled_epochs}) {
    sgdsde::TrainOptions<T> o;
    o.steps = 30;
    o.learning_rate = lr;
    o.batch_size = sgdsde::BatchSizeSchedule::constant(8);
    o.sampling = sampling;
    o.sgd.momentum = T(0.5);
    const Vec<T> theta0 = Vec<T>::Zero(3);
    const auto r = sgdsde::train(prob, theta0, o, RandomStream(10, 1), RandomStream(10, 2));
    REQUIRE(r.outcome.ok());
    // reference: batches regenerated from (stream, k), gradient summed by hand, heavy ball written out
    sgdsde::WithReplacementSampler iid(64, RandomStream(10, 1));
    sgdsde::ShuffledEpochSampler shuffled(64, RandomStream(10, 1));
    Vec<T> theta = theta0, v = Vec<T>::Zero(3);
    for (long k = 0; k < 30; ++k) {
      const sgdsde::Batch b =
          sampling == sgdsde::SamplerKind::with_replacement ? iid.batch(k, 8) : shuffled.batch(k, 8);
      Vec<T> g = Vec<T>::Zero(3);
      for (auto n : b) g += (data.inputs.col(n).dot(theta) - data.targets(0, n)) * data.inputs.col(n) / T(8);
      v = T(0.5) * v + g;
      theta = theta - lr(k) * v;
    }
    CHECK((r.theta - theta).norm() <= T(100) * sgdsde::Constants<T>::epsilon() * theta.norm());
  }
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
  sgdsde::TrainOptions<T> o;
  o.steps = 2000;
  o.learning_rate = sgdsde::ConstantSchedule<T>(T(1));
  o.batch_size = sgdsde::BatchSizeSchedule::constant(1);
  o.loss_bound = 1e6;
  auto r = sgdsde::train(q, theta0, o, RandomStream(1), RandomStream(2));
  CHECK(r.outcome.status == sgdsde::Status::diverged);
  CHECK(r.outcome.step == 10);
  CHECK(r.outcome.value == doctest::Approx(1.5 * 1048576.0));
  CHECK(r.outcome.message.find("step 10") != std::string::npos);
  CHECK(r.steps == 10);
  CHECK(r.theta[0] == T(1024));
  CHECK(r.theta[1] == T(0));

  // Without a bound the loss overflows: L_k = 1.5·4^k is first infinite when 4^k = 2^{2k} exceeds the
  // largest finite value, 2k ≥ 1024 (double) or 2k ≥ 128 (float).
  o.loss_bound = std::numeric_limits<double>::infinity();
  r = sgdsde::train(q, theta0, o, RandomStream(1), RandomStream(2));
  const long expected = std::is_same_v<T, double> ? 512 : 64;
  CHECK(r.outcome.status == sgdsde::Status::non_finite);
  CHECK(r.outcome.step == expected);
  CHECK(r.theta.allFinite());
  CHECK(r.curve.size() == 1);  // only the initial point: no point is recorded from a failed run's end
}

TEST_CASE("train: a non-finite parameter after an update is reported and θ_k returned") {
  // h = 10, θ_0 = 1, η = 1e308: L_0 = 5 is finite, but θ_1 = 1 − 1e309 overflows to −inf.
  QuadraticProblem<double> q;
  q.h = Eigen::VectorXd::Constant(1, 10.0);
  q.star = Eigen::VectorXd::Zero(1);
  sgdsde::TrainOptions<double> o;
  o.steps = 5;
  o.learning_rate = sgdsde::ConstantSchedule<double>(1e308);
  o.batch_size = sgdsde::BatchSizeSchedule::constant(1);
  const auto r = sgdsde::train(q, Eigen::VectorXd::Ones(1), o, RandomStream(1), RandomStream(2));
  CHECK(r.outcome.status == sgdsde::Status::non_finite);
  CHECK(r.outcome.step == 0);
  CHECK(r.outcome.message.find("parameter 0") != std::string::npos);
  CHECK(r.steps == 0);
  CHECK(r.theta[0] == 1.0);
}

TEST_CASE("train: curve points, observer calls and epoch accounting with a cyclic batch size") {
  Eigen::VectorXd star = Eigen::VectorXd::Ones(2);
  const auto data = sgdsde::noisy_linear_regression<double>(RandomStream(4), 50, star, 0.1);
  LinearRegressionProblem<double> prob{data.inputs, data.targets.row(0).transpose()};
  sgdsde::TrainOptions<double> o;
  o.steps = 35;
  o.record_every = 10;
  o.learning_rate = sgdsde::ConstantSchedule<double>(0.05);
  o.batch_size = sgdsde::BatchSizeSchedule::cyclic(2, 10, 4);
  int calls = 0, evaluations = 0;
  o.observer = [&](const sgdsde::CurvePoint&) { ++calls; };
  o.evaluate = [&](const Eigen::VectorXd& theta) {
    ++evaluations;
    return sgdsde::Evaluation{(theta - star).squaredNorm(), 0.5};
  };
  const auto r = sgdsde::train(prob, Eigen::VectorXd::Zero(2), o, RandomStream(5), RandomStream(6));
  REQUIRE(r.outcome.ok());
  REQUIRE(r.curve.size() == 5);
  const long steps[] = {0, 10, 20, 30, 35};
  double seen = 0;
  long k = 0;
  for (int i = 0; i < 5; ++i) {
    for (; k < steps[i]; ++k) seen += double(o.batch_size(k));
    CHECK(r.curve[std::size_t(i)].step == steps[i]);
    CHECK(r.curve[std::size_t(i)].epoch == doctest::Approx(seen / 50.0));
    CHECK(r.curve[std::size_t(i)].evaluation.accuracy == 0.5);
  }
  CHECK(std::isnan(r.curve[0].mean_batch_loss));
  CHECK(r.curve[4].batch_size == o.batch_size(34));
  CHECK(r.curve[4].evaluation.loss == doctest::Approx((r.theta - star).squaredNorm()));
  CHECK(r.curve[4].evaluation.loss < r.curve[0].evaluation.loss);
  CHECK(calls == 5);
  CHECK(evaluations == 5);
}

TEST_CASE("train rejects bad input") {
  Eigen::VectorXd star = Eigen::VectorXd::Ones(2);
  const auto data = sgdsde::noisy_linear_regression<double>(RandomStream(4), 20, star, 0.1);
  LinearRegressionProblem<double> prob{data.inputs, data.targets.row(0).transpose()};
  const Eigen::VectorXd theta0 = Eigen::VectorXd::Zero(2);
  auto run = [&](const sgdsde::TrainOptions<double>& o, const Eigen::VectorXd& t0) {
    return sgdsde::train(prob, t0, o, RandomStream(1), RandomStream(2));
  };
  sgdsde::TrainOptions<double> o;
  o.steps = 3;
  o.batch_size = sgdsde::BatchSizeSchedule::constant(21);  // S > N
  CHECK_THROWS_AS(run(o, theta0), sgdsde::invalid_argument);
  o.batch_size = sgdsde::BatchSizeSchedule::cyclic(5, 25, 3);  // max S > N
  CHECK_THROWS_AS(run(o, theta0), sgdsde::invalid_argument);
  o.batch_size = sgdsde::BatchSizeSchedule::constant(5);
  CHECK_THROWS_AS(run(o, Eigen::VectorXd::Zero(3)), sgdsde::invalid_argument);
  CHECK_THROWS_AS(run(o, Eigen::VectorXd::Constant(2, std::nan(""))), sgdsde::invalid_argument);
  o.steps = -1;
  CHECK_THROWS_AS(run(o, theta0), sgdsde::invalid_argument);
  o.steps = 3;
  o.sgd.momentum = -0.5;
  CHECK_THROWS_AS(run(o, theta0), sgdsde::invalid_argument);
  o.sgd = {};
  o.loss_bound = 0;
  CHECK_THROWS_AS(run(o, theta0), sgdsde::invalid_argument);
  // η ≤ 0 cannot even be expressed as a schedule
  CHECK_THROWS_AS(sgdsde::ConstantSchedule<double>(0.0), sgdsde::invalid_argument);
  // empty data
  LinearRegressionProblem<double> empty{Eigen::MatrixXd(2, 0), Eigen::VectorXd(0)};
  o = {};
  o.steps = 1;
  o.batch_size = sgdsde::BatchSizeSchedule::constant(1);
  CHECK_THROWS_AS(sgdsde::train(empty, theta0, o, RandomStream(1), RandomStream(2)), sgdsde::invalid_argument);
  try {
    sgdsde::TrainOptions<double> bad;
    bad.steps = 1;
    bad.batch_size = sgdsde::BatchSizeSchedule::constant(21);
    run(bad, theta0);
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
  sgdsde::TrainOptions<double> o;
  o.steps = 7;
  o.learning_rate = sgdsde::ConstantSchedule<double>(0.3);
  o.batch_size = sgdsde::BatchSizeSchedule::constant(2);
  const Eigen::VectorXd theta0 = Eigen::Vector2d(-1, 0.5);
  const auto a = sgdsde::train(sq, theta0, o, RandomStream(1), RandomStream(2));
  const auto b = sgdsde::train(q, theta0, o, RandomStream(1), RandomStream(2));
  REQUIRE(a.outcome.ok());
  CHECK(a.theta == b.theta);
  CHECK(sq.storage == a.theta);         // the storage holds the last iterate
  CHECK(sq.calls_with_storage == 7);    // every gradient was taken at the storage itself (no copy)
  CHECK(theta0 == Eigen::Vector2d(-1, 0.5));
}

TEST_CASE("train: a non-finite gradient stops training at that step") {
  // θ₀ goes 0 → 0.3 → 0.51 → 0.657 with η = 0.3 towards 1, so the gradient is NaN from step 2 (θ₀ > 0.5).
  StoredQuadratic sq;
  sq.nan_above = 0.5;
  sgdsde::TrainOptions<double> o;
  o.steps = 10;
  o.learning_rate = sgdsde::ConstantSchedule<double>(0.3);
  o.batch_size = sgdsde::BatchSizeSchedule::constant(1);
  const auto r = sgdsde::train(sq, Eigen::VectorXd::Zero(2), o, RandomStream(1), RandomStream(2));
  CHECK(r.outcome.status == sgdsde::Status::non_finite);
  CHECK(r.outcome.step == 2);
  CHECK(r.outcome.message.find("gradient") != std::string::npos);
  CHECK(r.steps == 2);
  CHECK(r.theta[0] == doctest::Approx(0.51));
}
