// Bad-input sweep of optim/ (issue 8, item 9; table in docs/reliability.md): SgdOptions, Sgd and its
// step, the learning-rate schedules, MlpProblem and both forms of train, fed wrong sizes (including 0),
// NaN, ±inf, huge (1e308, LONG_MAX epochs) and tiny values. Every invalid_argument must also name the
// function the user called (prefix "<fn>: "), and train(net, …) must leave the network's parameters in
// their original buffer.
#include <climits>
#include <cmath>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "sgdsde/core/minibatch.hpp"
#include "sgdsde/core/random.hpp"
#include "sgdsde/nn/mlp.hpp"
#include "sgdsde/optim/mlp_problem.hpp"
#include "sgdsde/optim/schedule.hpp"
#include "sgdsde/optim/sgd.hpp"
#include "sgdsde/optim/train.hpp"
#include "support/sweep.hpp"

#include <doctest/doctest.h>

namespace {

using Eigen::MatrixXd;
using Eigen::VectorXd;
using sgdsde::Labels;
using sgdsde::RandomStream;
using sgdsde::Status;
using sweep::Case;
using sweep::Keep;
using sweep::returns;
using sweep::succeeds;
using sweep::verdict;
namespace nn = sgdsde::nn;
namespace optim = sgdsde::optim;
using nn::Mlp;
using optim::CyclicSchedule;
using optim::Sgd;
using optim::SgdOptions;
using optim::StepDecaySchedule;
using optim::TrainOptions;

const auto& kNonFinite = sweep::non_finite;

template <class F>
Case throws(const std::string& fn, const std::string& argument, const std::string& name, F f) {
  return sweep::throws_from(fn, argument, name, std::move(f));
}

std::vector<Case> sgd_cases() {
  std::vector<Case> t;
  for (Eigen::Index p : {0L, -1L, LONG_MIN, LONG_MAX})
    t.push_back(throws("Sgd", "num_parameters", "P = " + std::to_string(p), [p] { return Sgd<double>(p); }));
  t.push_back(throws("Sgd", "noise_stream", "noise without a stream", [] {
    SgdOptions o;
    o.noise_sigma = 1;
    return Sgd<double>(3, o);
  }));
  struct Field {
    const char* arg;
    double SgdOptions::*field;
    std::vector<double> bad;
  };
  const std::vector<Field> fields = {
      {"sgd.momentum", &SgdOptions::momentum, {-0.1, 1.0, sweep::nan, sweep::inf}},
      {"sgd.weight_decay", &SgdOptions::weight_decay, {-1e-300, sweep::nan, sweep::inf}},
      {"sgd.noise_sigma", &SgdOptions::noise_sigma, {-1.0, sweep::nan, sweep::inf}},
      {"sgd.noise_batch", &SgdOptions::noise_batch, {0.0, -1.0, sweep::nan, sweep::inf}},
  };
  for (const Field& f : fields)
    for (double v : f.bad)
      t.push_back(throws("Sgd", f.arg, std::string(f.arg) + " = " + std::to_string(v), [f, v] {
        SgdOptions o;
        o.*(f.field) = v;
        return Sgd<double>(3, o, RandomStream(1));
      }));
  const VectorXd theta = (VectorXd(3) << 1.0, -2.0, 0.5).finished();
  const VectorXd grad = (VectorXd(3) << 0.25, 0.5, -1.0).finished();
  for (double eta : {0.0, -1.0, sweep::nan, sweep::inf})
    t.push_back(throws("Sgd::step", "eta", "eta = " + std::to_string(eta), [theta, grad, eta] {
      Sgd<double> sgd(3);
      VectorXd th = theta;
      return sgd.step(0, eta, th, grad);
    }));
  t.push_back(throws("Sgd::step", "eta", "float eta 1e300 (inf in float)", [] {
    Sgd<float> sgd(2);
    Eigen::VectorXf th = Eigen::VectorXf::Ones(2);
    return sgd.step(0, 1e300, th, Eigen::VectorXf(Eigen::VectorXf::Ones(2)));
  }));
  t.push_back(throws("Sgd::step", "theta.size()", "theta of size 2", [grad] {
    Sgd<double> sgd(3);
    VectorXd th = VectorXd::Ones(2);
    return sgd.step(0, 0.1, th, grad);
  }));
  t.push_back(throws("Sgd::step", "grad.size()", "grad of size 0", [theta] {
    Sgd<double> sgd(3);
    VectorXd th = theta;
    return sgd.step(0, 0.1, th, VectorXd(0));
  }));
  t.push_back(throws("Sgd::step", "next.size()", "next of size 4", [theta, grad] {
    Sgd<double> sgd(3);
    VectorXd next(4);
    return sgd.step(0, 0.1, theta, grad, next);
  }));
  // Regression: a negative k indexed the noise stream at 2^64 − |k|·P (silently another run's noise).
  t.push_back(throws("Sgd::step", "k", "k = -1", [theta, grad] {
    Sgd<double> sgd(3);
    VectorXd th = theta;
    return sgd.step(-1, 0.1, th, grad);
  }));
  // Regression: NaN/inf in θ or g went straight through into θ_{k+1} (and the velocity).
  for (const auto& [name, v] : kNonFinite) {
    t.push_back(throws("Sgd::step", "theta", "theta " + name, [theta, grad, v = v] {
      Sgd<double> sgd(3);
      VectorXd th = theta;
      th[1] = v;
      const VectorXd before = th;
      try {
        (void)sgd.step(0, 0.1, th, grad);
      } catch (...) {
        CHECK(sweep::same(th, before));
        CHECK(sgd.velocity().isZero(0));
        throw;
      }
    }));
    t.push_back(throws("Sgd::step", "grad", "grad " + name, [theta, grad, v = v] {
      SgdOptions o;
      o.momentum = 0.9;
      Sgd<double> sgd(3, o);
      VectorXd g = grad, next(3);
      g[2] = v;
      Keep k(theta, g);
      return sgd.step(0, 0.1, theta, g, next);
    }));
  }
  // Regression: step returned void, so an overflowing update gave θ = ±inf with nothing said.
  t.push_back(returns(Status::non_finite, "eta 1e308, |g| = 10: theta overflows", [theta] {
    Sgd<double> sgd(3);
    VectorXd next(3);
    const VectorXd g = VectorXd::Constant(3, 10.0);
    Keep k(theta, g);
    const auto o = sgd.step(7, 1e308, theta, g, next);
    CHECK(o.step == 7);
    CHECK(o.message.find("parameter 0") != std::string::npos);
    return o;
  }));
  t.push_back(returns(Status::non_finite, "weight decay 1e308 with eta 10", [theta, grad] {
    SgdOptions o;
    o.weight_decay = 1e308;
    Sgd<double> sgd(3, o);
    VectorXd th = theta;
    return sgd.step(0, 10.0, th, grad);
  }));
  t.push_back(succeeds("theta 1e308, grad 1e-308, eta 1e-308: theta unchanged", [] {
    Sgd<double> sgd(2);
    VectorXd th = VectorXd::Constant(2, sweep::huge);
    const auto o = sgd.step(0, sweep::tiny, th, VectorXd(VectorXd::Constant(2, sweep::tiny)));
    CHECK(th == VectorXd::Constant(2, sweep::huge));
    return o;
  }));
  t.push_back(succeeds("denormal theta and grad, noise on, k = LONG_MAX", [] {
    SgdOptions o;
    o.noise_sigma = 1e-3;
    Sgd<double> sgd(2, o, RandomStream(5));
    VectorXd th = VectorXd::Constant(2, sweep::denormal);
    const auto out = sgd.step(LONG_MAX, 0.1, th, VectorXd(VectorXd::Constant(2, sweep::denormal)));
    CHECK(th.allFinite());
    return out;
  }));
  return t;
}

std::vector<Case> schedule_cases() {
  std::vector<Case> t;
  for (double v : {0.0, -1.0, sweep::nan, sweep::inf}) {
    const std::string s = std::to_string(v);
    t.push_back(throws("ConstantSchedule", "value", "value " + s, [v] { return optim::ConstantSchedule(v); }));
    t.push_back(throws("ConstantSchedule", "value", "LearningRateSchedule from " + s,
                       [v] { return optim::LearningRateSchedule(v); }));
    t.push_back(throws("StepDecaySchedule", "initial_value", "initial " + s, [v] { return StepDecaySchedule(v, 0.5, 10); }));
    t.push_back(throws("StepDecaySchedule", "decay_factor", "factor " + s, [v] { return StepDecaySchedule(0.1, v, 10); }));
    t.push_back(throws("CyclicSchedule", "low_value", "low " + s, [v] { return CyclicSchedule(v, 0.5, 10); }));
  }
  for (long e : {0L, -1L, LONG_MIN})
    t.push_back(throws("StepDecaySchedule", "every_steps", "every " + std::to_string(e), [e] { return StepDecaySchedule(0.1, 0.5, e); }));
  t.push_back(throws("CyclicSchedule", "high_value", "high < low", [] { return CyclicSchedule(0.5, 0.1, 10); }));
  t.push_back(throws("CyclicSchedule", "high_value", "high inf", [] { return CyclicSchedule(0.5, sweep::inf, 10); }));
  t.push_back(throws("CyclicSchedule", "high_value", "high nan", [] { return CyclicSchedule(0.5, sweep::nan, 10); }));
  for (long h : {0L, LONG_MAX})
    t.push_back(throws("CyclicSchedule", "half_period_steps", "half period " + std::to_string(h),
                       [h] { return CyclicSchedule(0.1, 0.5, h); }));
  t.push_back(throws("LearningRateSchedule::range", "steps", "range(0)", [] { return optim::LearningRateSchedule(0.1).range(0); }));
  // Regression: factor^n underflowed to 0 (overflowed to inf) before the product with `initial`, so
  // 1e300·(1e-10)^40 = 1e-100 read 0 and 1e-300·1e10^40 = 1e100 read inf.
  t.push_back(succeeds("step decay 1e300·(1e-10)^40 = 1e-100", [] {
    const double v = StepDecaySchedule(1e300, 1e-10, 3)(120);
    return verdict(std::abs(v / 1e-100 - 1) < 1e-12);
  }));
  t.push_back(succeeds("step decay 1e-300·(1e10)^40 = 1e100", [] {
    const double v = StepDecaySchedule(1e-300, 1e10, 1)(40);
    return verdict(std::abs(v / 1e100 - 1) < 1e-12);
  }));
  t.push_back(succeeds("step decay beyond the range gives 0 and inf; range() reports them", [] {
    const StepDecaySchedule down(0.1, 0.5, 1), up(1, 2, 1);
    const auto r = optim::LearningRateSchedule(down).range(2000);
    return verdict(down(2000) == 0 && std::isinf(up(2000)) && r.first == 0 && r.second == 0.1);
  }));
  t.push_back(succeeds("cyclic k = LONG_MIN, LONG_MAX stays within [low, high]", [] {
    const CyclicSchedule c(0.1, 0.5, 7);
    const double a = c(LONG_MIN), b = c(LONG_MAX);
    return verdict(a >= 0.1 && a <= 0.5 && b >= 0.1 && b <= 0.5);
  }));
  return t;
}

// A 2 → 4 → 2 network on N = 12 samples.
struct Fixture {
  Mlp<double> net0;
  MatrixXd x, y;
  Labels labels;
  Fixture() : net0({2, 4, 2}), x(2, 12), y(2, 12), labels(12) {
    net0.initialize(RandomStream(1));
    RandomStream(2).normal_at(0, x);
    RandomStream(3).normal_at(0, y);
    for (Eigen::Index i = 0; i < 12; ++i) labels[i] = x(0, i) > 0 ? 1 : 0;
  }
};
const Fixture& fx() {
  static const Fixture f;
  return f;
}
TrainOptions steps_of(long steps, sgdsde::Sampler s = sgdsde::shuffled_epochs(4)) {
  TrainOptions o;
  o.steps = steps;
  o.sampler = s;
  o.learning_rate = 0.05;
  return o;
}

/// train(net, …) on a copy of the fixture network; checks the inputs are unchanged.
template <class Mutate>
optim::TrainSummary train_net(Mutate mutate) {
  const auto& f = fx();
  Mlp<double> net = f.net0;
  MatrixXd x = f.x, y = f.y;
  TrainOptions o = steps_of(5);
  mutate(net, x, y, o);
  Keep k(x, y);
  return optim::train(net, nn::SquaredError(y), x, o);
}

std::vector<Case> train_cases() {
  std::vector<Case> t;
  using Net = Mlp<double>;
  // Regression: errors from train(net, …) named MlpProblem ("MlpProblem: argument 'inputs'").
  for (const auto& [name, v] : kNonFinite) {
    t.push_back(throws("train", "inputs", "inputs " + name,
                       [v = v] { return train_net([v](Net&, MatrixXd& x, MatrixXd&, TrainOptions&) { x(1, 5) = v; }); }));
    t.push_back(throws("train", "targets", "targets " + name,
                       [v = v] { return train_net([v](Net&, MatrixXd&, MatrixXd& y, TrainOptions&) { y(0, 0) = v; }); }));
    t.push_back(throws("train", "net.parameters()", "net parameters " + name, [v = v] {
      return train_net([v](Net& n, MatrixXd&, MatrixXd&, TrainOptions&) { n.parameters()[3] = v; });
    }));
  }
  t.push_back(throws("train", "inputs", "inputs 3x12",
                     [] { return train_net([](Net&, MatrixXd& x, MatrixXd&, TrainOptions&) { x = MatrixXd::Ones(3, 12); }); }));
  t.push_back(throws("train", "inputs.cols()", "inputs 2x0", [] {
    return train_net([](Net&, MatrixXd& x, MatrixXd& y, TrainOptions&) {
      x.resize(2, 0);
      y.resize(2, 0);
    });
  }));
  t.push_back(throws("train", "targets", "targets 2x11",
                     [] { return train_net([](Net&, MatrixXd&, MatrixXd& y, TrainOptions&) { y = MatrixXd::Ones(2, 11); }); }));
  t.push_back(throws("train", "labels", "label 2 with 2 classes", [] {
    const auto& f = fx();
    Net net = f.net0;
    Labels l = f.labels;
    l[4] = 2;
    return optim::train(net, nn::SoftmaxCrossEntropy(l), f.x, steps_of(3));
  }));
  auto opt = [](std::string name, std::string arg, auto mutate) {
    return throws("train", arg, std::move(name), [mutate] {
      return train_net([mutate](Net&, MatrixXd&, MatrixXd&, TrainOptions& o) { mutate(o); });
    });
  };
  t.push_back(opt("steps -1", "options.steps", [](TrainOptions& o) { o.steps = -1; }));
  t.push_back(opt("steps and epochs 0", "options.steps", [](TrainOptions& o) { o.steps = 0; }));
  t.push_back(opt("steps and epochs both set", "options.steps", [](TrainOptions& o) { o.epochs = 2; }));
  t.push_back(opt("epochs LONG_MIN", "options.epochs", [](TrainOptions& o) {
    o.steps = 0;
    o.epochs = LONG_MIN;
  }));
  // Regression: total_steps() counted the updates of an epochs-based run one by one: LONG_MAX epochs
  // hung train() before the first update. Now closed form; a count beyond LONG_MAX is rejected.
  for (const char* s : {"shuffled", "with_replacement", "fresh"}) {
    t.push_back(opt(std::string("epochs LONG_MAX, ") + s, "options.epochs", [s](TrainOptions& o) {
      o.steps = 0;
      o.epochs = LONG_MAX;
      o.sampler = std::string(s) == "shuffled" ? sgdsde::Sampler(sgdsde::shuffled_epochs(4))
                  : std::string(s) == "fresh"  ? sgdsde::Sampler(sgdsde::fresh_subset(5))
                                               : sgdsde::Sampler(sgdsde::with_replacement(5));
    }));
  }
  t.push_back(opt("epochs 1e9 with a cyclic batch size (counted: at most 2^28 updates)", "options.epochs",
                  [](TrainOptions& o) {
                    o.steps = 0;
                    o.epochs = 1000000000L;
                    o.sampler = sgdsde::with_replacement(sgdsde::BatchSizeSchedule::cyclic(2, 6, 5));
                  }));
  t.push_back(succeeds("epochs LONG_MAX / 12 with replacement, S = 12: stopped by the observer at once", [] {
    const auto& f = fx();
    Net net = f.net0;
    TrainOptions o;
    o.epochs = LONG_MAX / 12;
    o.sampler = sgdsde::with_replacement(12);
    long total = 0;
    const auto r = optim::train(net, nn::SquaredError(f.y), f.x, o, [&](const optim::Progress<double>& p) {
      total = p.total_steps;
      return p.step < 3;
    });
    CHECK(total == LONG_MAX / 12);  // ⌈E·N/S⌉ = E
    CHECK(r.steps == 3);
    CHECK(r.stopped_by_observer);
    return r.outcome;
  }));
  t.push_back(succeeds("epochs 3 with replacement, S = 5 of N = 12: ceil(36 / 5) = 8 updates", [] {
    const auto& f = fx();
    Net net = f.net0;
    TrainOptions o;
    o.epochs = 3;
    o.sampler = sgdsde::with_replacement(5);
    const auto r = optim::train(net, nn::SquaredError(f.y), f.x, o);
    CHECK(r.steps == 8);
    CHECK(r.epochs == 3);
    return r.outcome;
  }));
  // Regression: these said "MlpProblem: …" or named the sampler function, not train().
  t.push_back(opt("shuffled S = 13 > N", "sampler.batch_size", [](TrainOptions& o) { o.sampler = sgdsde::shuffled_epochs(13); }));
  t.push_back(opt("fresh S = 13 > N", "sampler.batch_size", [](TrainOptions& o) { o.sampler = sgdsde::fresh_subset(13); }));
  t.push_back(opt("fresh cyclic S up to 20 > N", "sampler.batch_size", [](TrainOptions& o) {
    o.sampler = sgdsde::fresh_subset(sgdsde::BatchSizeSchedule::cyclic(2, 20, 3));
  }));
  t.push_back(succeeds("with replacement S = 30 > N = 12", [] {
    const auto r = train_net([](Net&, MatrixXd&, MatrixXd&, TrainOptions& o) { o.sampler = sgdsde::with_replacement(30); });
    CHECK(r.steps == 5);
    return r.outcome;
  }));
  for (double b : {0.0, -1.0, sweep::nan})
    t.push_back(opt("loss_bound " + std::to_string(b), "options.loss_bound", [b](TrainOptions& o) { o.loss_bound = b; }));
  t.push_back(opt("momentum 1", "sgd.momentum", [](TrainOptions& o) { o.sgd.momentum = 1; }));
  t.push_back(opt("noise_batch nan", "sgd.noise_batch", [](TrainOptions& o) { o.sgd.noise_batch = sweep::nan; }));
  // Regression: a step decay reaching 0 (or inf) threw "learning_rate(k)" in the middle of the run,
  // after the network had been trained part way. Now checked before the first update, naming the step.
  t.push_back(opt("step decay 0.1·0.5^k below DBL_MIN from k = 1019", "options.learning_rate", [](TrainOptions& o) {
    o.steps = 2000;
    o.learning_rate = StepDecaySchedule(0.1, 0.5, 1);
  }));
  t.push_back(throws("train", "options.learning_rate", "the message names the first step (0.1·2^-k < 2^-1022 iff k ≥ 1019)", [] {
    try {
      (void)train_net([](Net&, MatrixXd&, MatrixXd&, TrainOptions& o) {
        o.steps = 2000;
        o.learning_rate = StepDecaySchedule(0.1, 0.5, 1);
      });
    } catch (const sgdsde::invalid_argument& e) {
      CHECK(std::string(e.what()).find("at step 1019 of 2000") != std::string::npos);
      throw;
    }
  }));
  t.push_back(opt("step decay 2^k overflows at k = 1024", "options.learning_rate", [](TrainOptions& o) {
    o.steps = 1100;
    o.learning_rate = StepDecaySchedule(1.0, 2.0, 1);
  }));
  t.push_back(opt("constant eta denormal", "options.learning_rate", [](TrainOptions& o) { o.learning_rate = sweep::denormal; }));
  t.push_back(throws("train", "options.learning_rate", "float net, cyclic rate up to 1e39", [] {
    Mlp<float> net({2, 4, 2});
    net.initialize(RandomStream(1));
    const Eigen::MatrixXf x = fx().x.cast<float>(), y = fx().y.cast<float>();
    TrainOptions o = steps_of(50);
    o.learning_rate = CyclicSchedule(0.1, 1e39, 10);
    return optim::train(net, nn::SquaredError(y), x, o);
  }));
  t.push_back(succeeds("step decay staying in range over the run (0.1·0.5^k, 1000 steps) trains", [] {
    const auto r = train_net([](Net&, MatrixXd&, MatrixXd&, TrainOptions& o) {
      o.steps = 1000;
      o.learning_rate = StepDecaySchedule(0.1, 0.5, 1);
    });
    CHECK(r.steps == 1000);
    return r.outcome;
  }));
  // Numerical trouble: a status naming the step, the network at the last finite iterate, in its buffer.
  t.push_back(returns(Status::non_finite, "eta 1e308: theta overflows, the network keeps the last finite iterate", [] {
    const auto& f = fx();
    Net net = f.net0;
    const double* buffer = net.parameters().data();
    TrainOptions o = steps_of(5);
    o.learning_rate = 1e308;
    const auto r = optim::train(net, nn::SquaredError(f.y), f.x, o);
    CHECK(r.steps <= 2);  // |θ_1| ~ 1e308·|g_0|: θ_2 overflows at the latest
    CHECK(r.outcome.step == r.steps);
    CHECK(net.parameters().allFinite());
    if (r.steps == 0) CHECK(net.parameters() == f.net0.parameters());
    CHECK(net.parameters().data() == buffer);
    return r.outcome;
  }));
  t.push_back(returns(Status::non_finite, "targets 1e308: the first batch loss is inf", [] {
    return train_net([](Net&, MatrixXd&, MatrixXd& y, TrainOptions&) { y.setConstant(sweep::huge); }).outcome;
  }));
  t.push_back(returns(Status::diverged, "loss_bound 1e-300", [] {
    return train_net([](Net&, MatrixXd&, MatrixXd&, TrainOptions& o) { o.loss_bound = 1e-300; }).outcome;
  }));
  t.push_back(succeeds("inputs and targets denormal", [] {
    return train_net([](Net&, MatrixXd& x, MatrixXd& y, TrainOptions&) {
             x.setConstant(sweep::denormal);
             y.setConstant(sweep::denormal);
           })
        .outcome;
  }));
  t.push_back(succeeds("eta 1e-300: the parameters do not move", [] {
    const auto& f = fx();
    Net net = f.net0;
    TrainOptions o = steps_of(4);
    o.learning_rate = 1e-300;
    const auto r = optim::train(net, nn::SquaredError(f.y), f.x, o);
    CHECK(net.parameters() == f.net0.parameters());
    return r.outcome;
  }));
  return t;
}

std::vector<Case> problem_cases() {
  std::vector<Case> t;
  const auto& f = fx();
  auto problem = [&f](Mlp<double>& net) { return optim::MlpProblem(net, nn::SquaredError(f.y), f.x, 4); };
  t.push_back(throws("MlpProblem", "max_batch", "max_batch 0", [&f] {
    Mlp<double> net = f.net0;
    return optim::MlpProblem(net, nn::SquaredError(f.y), f.x, 0);
  }));
  t.push_back(throws("MlpProblem", "inputs", "inputs nan", [&f] {
    Mlp<double> net = f.net0;
    MatrixXd x = f.x;
    x(0, 0) = sweep::nan;
    return optim::MlpProblem(net, nn::SquaredError(f.y), x, 4);
  }));
  t.push_back(throws("MlpProblem", "targets", "targets of 11 columns", [&f] {
    Mlp<double> net = f.net0;
    const MatrixXd y = f.y.leftCols(11);
    return optim::MlpProblem(net, nn::SquaredError(y), f.x, 4);
  }));
  const std::string fn = "MlpProblem::loss_and_gradient";
  t.push_back(throws(fn, "theta.size()", "theta of size 1", [problem, &f] {
    Mlp<double> net = f.net0;
    auto p = problem(net);
    VectorXd g(net.num_parameters());
    return p.loss_and_gradient(VectorXd::Ones(1), sgdsde::Batch{0, 1}, g);
  }));
  t.push_back(throws(fn, "gradient.size()", "gradient of size 1", [problem, &f] {
    Mlp<double> net = f.net0;
    auto p = problem(net);
    VectorXd g(1);
    return p.loss_and_gradient(net.parameters(), sgdsde::Batch{0, 1}, g);
  }));
  // Regression: a NaN θ was copied into the network and gave a NaN loss with no error.
  for (const auto& [name, v] : kNonFinite)
    t.push_back(throws(fn, "theta", "theta " + name, [problem, &f, v = v] {
      Mlp<double> net = f.net0;
      auto p = problem(net);
      VectorXd theta = net.parameters(), g(net.num_parameters());
      theta[0] = v;
      Keep k(theta);
      return p.loss_and_gradient(theta, sgdsde::Batch{0, 1}, g);
    }));
  t.push_back(throws(fn, "batch.size()", "empty batch", [problem, &f] {
    Mlp<double> net = f.net0;
    auto p = problem(net);
    VectorXd g(net.num_parameters());
    return p.loss_and_gradient(net.parameters(), sgdsde::Batch{}, g);
  }));
  t.push_back(throws(fn, "batch.size()", "batch of 5 > max_batch 4", [problem, &f] {
    Mlp<double> net = f.net0;
    auto p = problem(net);
    VectorXd g(net.num_parameters());
    return p.loss_and_gradient(net.parameters(), sgdsde::Batch{0, 1, 2, 3, 4}, g);
  }));
  for (Eigen::Index bad : {-1L, 12L, LONG_MAX})
    t.push_back(throws(fn, "batch index", "batch index " + std::to_string(bad), [problem, &f, bad] {
      Mlp<double> net = f.net0;
      auto p = problem(net);
      VectorXd g(net.num_parameters());
      return p.loss_and_gradient(net.parameters(), sgdsde::Batch{0, bad}, g);
    }));
  // Generic train(problem, θ₀, …).
  t.push_back(throws("train", "theta0.size()", "theta0 of size 3", [problem, &f] {
    Mlp<double> net = f.net0;
    auto p = problem(net);
    return optim::train(p, VectorXd(VectorXd::Zero(3)), steps_of(3));
  }));
  for (const auto& [name, v] : kNonFinite)
    t.push_back(throws("train", "theta0", "theta0 " + name, [problem, &f, v = v] {
      Mlp<double> net = f.net0;
      auto p = problem(net);
      VectorXd theta0 = net.parameters();
      theta0[1] = v;
      Keep k(theta0);
      return optim::train(p, theta0, steps_of(3));
    }));
  t.push_back(succeeds("train(problem, theta0) leaves theta0 unchanged", [problem, &f] {
    Mlp<double> net = f.net0;
    auto p = problem(net);
    const VectorXd theta0 = f.net0.parameters();
    Keep k(theta0);
    const auto r = optim::train(p, theta0, steps_of(3));
    CHECK(r.parameters == net.parameters());
    return r.outcome;
  }));
  return t;
}

}  // namespace

TEST_CASE("optim bad-input sweep") {
  std::size_t n = 0;
  n += sweep::run("optim/Sgd", sgd_cases());
  n += sweep::run("optim/schedules", schedule_cases());
  n += sweep::run("optim/train", train_cases());
  n += sweep::run("optim/MlpProblem", problem_cases());
  CHECK(n > 100);
}

TEST_CASE("train(net, …) leaves the trained parameters in the network's original buffer") {
  // The loop swaps two buffers every step: an odd number of steps used to leave the parameters in the
  // second buffer, so a pointer or Map taken before training read θ_{steps−1}, not θ_steps.
  const auto& f = fx();
  for (long steps : {1L, 2L, 3L, 8L}) {
    CAPTURE(steps);
    Mlp<double> net = f.net0;
    const double* buffer = net.parameters().data();
    const auto w = net.weights(1);  // a Map into the buffer
    const auto r = optim::train(net, nn::SquaredError(f.y), f.x, steps_of(steps), [&](const optim::Progress<double>& p) {
      CHECK(&p.parameters == &net.parameters());
    });
    REQUIRE(r.outcome.ok());
    CHECK(net.parameters().data() == buffer);
    CHECK(w == net.weights(1));
    CHECK(net.parameters() != f.net0.parameters());
    // the same run through the generic form gives the same parameters
    Mlp<double> net2 = f.net0;
    optim::MlpProblem prob(net2, nn::SquaredError(f.y), f.x, 4);
    CHECK(optim::train(prob, f.net0.parameters(), steps_of(steps)).parameters == net.parameters());
  }
  // stopped by the observer after an odd number of updates
  Mlp<double> net = f.net0;
  const double* buffer = net.parameters().data();
  const auto r = optim::train(net, nn::SquaredError(f.y), f.x, steps_of(10),
                              [](const optim::Progress<double>& p) { return p.step < 3; });
  CHECK(r.stopped_by_observer);
  CHECK(r.steps == 3);
  CHECK(net.parameters().data() == buffer);
}

TEST_CASE("train: the observer is not called before the first update; stopped_by_observer tells a stop apart") {
  const auto& f = fx();
  Mlp<double> net = f.net0;
  std::vector<long> seen;
  long finals = 0;
  auto r = optim::train(net, nn::SquaredError(f.y), f.x, steps_of(4), [&](const optim::Progress<double>& p) {
    if (p.done) ++finals;
    else seen.push_back(p.step);
    CHECK(std::isfinite(p.batch_loss));
    CHECK(p.learning_rate == 0.05);
    CHECK(p.batch_size == 4);
  });
  CHECK(seen == std::vector<long>{1, 2, 3, 4});
  CHECK(finals == 1);
  CHECK(r.outcome.ok());
  CHECK(!r.stopped_by_observer);
  // a run stopped on its last update is still a stop by the observer
  net = f.net0;
  r = optim::train(net, nn::SquaredError(f.y), f.x, steps_of(4),
                   [&](const optim::Progress<double>& p) { return p.step < 4; });
  CHECK(r.steps == 4);
  CHECK(r.stopped_by_observer);
  // a failing run is not
  net = f.net0;
  TrainOptions o = steps_of(4);
  o.loss_bound = 1e-300;
  r = optim::train(net, nn::SquaredError(f.y), f.x, o, [](const optim::Progress<double>&) { return false; });
  CHECK(r.outcome.status == Status::diverged);
  CHECK(!r.stopped_by_observer);
}
