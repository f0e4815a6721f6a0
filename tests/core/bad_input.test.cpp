// Bad-input sweep of core/ (issue 8, item 9; table in docs/reliability.md): expm / expm_checked /
// expm_symmetric, the Lyapunov solvers, symmetric helpers, Dataset and its makers, batch-size
// schedules, samplers, noise_law, BatchDrawer and RandomStream fills, fed wrong sizes (including 0),
// NaN, ±inf, huge (1e308, float 3e38) and tiny (1e-308, denormal) values.
#include <climits>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "sgdsde/core/dataset.hpp"
#include "sgdsde/core/expm.hpp"
#include "sgdsde/core/lyapunov.hpp"
#include "sgdsde/core/minibatch.hpp"
#include "sgdsde/core/random.hpp"
#include "sgdsde/core/symmetric.hpp"
#include "support/sweep.hpp"

#include <doctest/doctest.h>

namespace {

using Eigen::MatrixXd;
using Eigen::MatrixXf;
using Eigen::VectorXd;
using sgdsde::BatchDrawer;
using sgdsde::BatchSizeSchedule;
using sgdsde::RandomStream;
using sgdsde::Status;
using sweep::Case;
using sweep::Keep;
using sweep::returns;
using sweep::succeeds;
using sweep::throws;
using sweep::verdict;

const auto& kNonFinite = sweep::non_finite;

using sweep::with_entry;
const MatrixXd kA = (MatrixXd(2, 2) << -1.0, 0.5, 0.0, -2.0).finished();
const MatrixXd kS = (MatrixXd(2, 2) << 2.0, 0.5, 0.5, 1.0).finished();

std::vector<Case> expm_cases() {
  std::vector<Case> t;
  t.push_back(throws("A", "expm 2x3", [] { (void)sgdsde::expm(MatrixXd::Ones(2, 3)); }));
  t.push_back(throws("A", "expm_checked 3x2", [] { (void)sgdsde::expm_checked(MatrixXd::Ones(3, 2)); }));
  t.push_back(throws("A", "expm_symmetric 1x2", [] { (void)sgdsde::expm_symmetric(MatrixXd::Ones(1, 2)); }));
  for (const auto& [name, v] : kNonFinite) {
    const MatrixXd a = with_entry(kA, 1, 0, v);
    t.push_back(throws("A", "expm " + name, [a] {
      Keep k(a);
      (void)sgdsde::expm(a);
    }));
    t.push_back(throws("A", "expm_checked " + name, [a] { (void)sgdsde::expm_checked(a); }));
    t.push_back(throws("A", "expm_symmetric " + name, [v = v] { (void)sgdsde::expm_symmetric(MatrixXd::Constant(2, 2, v)); }));
    t.push_back(throws("A", "expm float " + name, [v = v] { (void)sgdsde::expm(MatrixXf::Constant(2, 2, float(v))); }));
  }
  t.push_back(succeeds("expm 0x0", [] { return verdict(sgdsde::expm_checked(MatrixXd(0, 0)).value.size() == 0); }));
  t.push_back(returns(Status::non_finite, "expm_checked 1e308 ones (norm overflows)",
                      [] { return sgdsde::expm_checked(MatrixXd::Constant(2, 2, sweep::huge)).outcome; }));
  t.push_back(returns(Status::non_finite, "expm_checked float 3e38 ones",
                      [] { return sgdsde::expm_checked(MatrixXf::Constant(2, 2, sweep::huge_f)).outcome; }));
  t.push_back(succeeds("expm_checked -1e308 I underflows to 0", [] {
    const auto r = sgdsde::expm_checked(MatrixXd(-sweep::huge * MatrixXd::Identity(2, 2)));
    CHECK(r.value.isZero(0));
    return r.outcome;
  }));
  for (double v : {sweep::tiny, sweep::denormal, -sweep::denormal})
    t.push_back(succeeds("expm_checked " + std::to_string(v) + " ones = I + A", [v] {
      const MatrixXd a = MatrixXd::Constant(2, 2, v);
      const auto r = sgdsde::expm_checked(a);
      CHECK((r.value - MatrixXd::Identity(2, 2) - a).norm() <= 4e-16);
      return r.outcome;
    }));
  t.push_back(succeeds("expm_checked float denormal = I", [] {
    const auto r = sgdsde::expm_checked(MatrixXf::Constant(2, 2, sweep::denormal_f));
    CHECK(r.value.isIdentity(1e-7f));
    return r.outcome;
  }));
  t.push_back(throws("A", "expm_symmetric asymmetric", [] { (void)sgdsde::expm_symmetric(kA); }));
  // Regression: ‖A − Aᵀ‖ and ‖A‖ both overflowed to inf, and inf <= tol·inf let this through.
  t.push_back(throws("A", "expm_symmetric asymmetric with entries ±1e308", [] {
    const MatrixXd a = (MatrixXd(2, 2) << 0.0, sweep::huge, -sweep::huge, 0.0).finished();
    (void)sgdsde::expm_symmetric(a);
  }));
  // Regression: symmetric_part(A) = ½(A + Aᵀ) overflowed to inf for entries 1e308.
  t.push_back(succeeds("expm_symmetric -1e308 I underflows to 0", [] {
    const MatrixXd e = sgdsde::expm_symmetric(MatrixXd(-sweep::huge * MatrixXd::Identity(2, 2)));
    return verdict(e.isZero(0));
  }));
  t.push_back(succeeds("symmetric_part of 1e308 ones stays finite", [] {
    const MatrixXd a = MatrixXd::Constant(2, 2, sweep::huge);
    return verdict(sgdsde::symmetric_part(a) == a);
  }));
  t.push_back(succeeds("require_symmetric of 1e308 ones passes", [] {
    sgdsde::require_symmetric("f", "A", MatrixXd::Constant(2, 2, sweep::huge), 1e-10);
    return sgdsde::Outcome{};
  }));
  t.push_back(succeeds("require_symmetric of the zero and the empty matrix pass", [] {
    sgdsde::require_symmetric("f", "A", MatrixXd::Zero(2, 2), 1e-10);
    sgdsde::require_symmetric("f", "A", MatrixXd(0, 0), 1e-10);
    return sgdsde::Outcome{};
  }));
  return t;
}

std::vector<Case> lyapunov_cases() {
  std::vector<Case> t;
  using sgdsde::solve_continuous_lyapunov;
  using sgdsde::solve_discrete_lyapunov;
  for (bool discrete : {false, true}) {
    const std::string f = discrete ? "discrete " : "continuous ";
    auto solve = [discrete](const MatrixXd& a, const MatrixXd& q) {
      return discrete ? solve_discrete_lyapunov(a, q) : solve_continuous_lyapunov(a, q);
    };
    t.push_back(throws("A", f + "A 2x3", [solve] { (void)solve(MatrixXd::Ones(2, 3), kS); }));
    t.push_back(throws("Q", f + "Q 3x3", [solve] { (void)solve(kA, MatrixXd::Identity(3, 3)); }));
    t.push_back(throws("Q", f + "Q 0x0", [solve] { (void)solve(kA, MatrixXd(0, 0)); }));
    for (const auto& [name, v] : kNonFinite) {
      t.push_back(throws("A", f + "A " + name, [solve, v = v] {
        const MatrixXd a = with_entry(kA, 0, 1, v);
        Keep k(a);
        (void)solve(a, kS);
      }));
      t.push_back(throws("Q", f + "Q " + name, [solve, v = v] { (void)solve(MatrixXd(0.25 * kA), with_entry(kS, 1, 1, v)); }));
    }
    t.push_back(succeeds(f + "Q = 0 gives X = 0", [solve, discrete] {
      const auto s = solve(discrete ? MatrixXd(0.25 * kA) : MatrixXd(-kA), MatrixXd::Zero(2, 2));
      CHECK(s.X.isZero(0));
      return s.outcome;
    }));
    t.push_back(succeeds(f + "Q = 1e-308 I", [solve, discrete] {
      const MatrixXd a = discrete ? MatrixXd(0.25 * kA) : MatrixXd(-kA);
      const auto s = solve(a, MatrixXd(sweep::tiny * MatrixXd::Identity(2, 2)));
      const auto r = solve(a, MatrixXd::Identity(2, 2));
      CHECK((s.X / sweep::tiny - r.X).norm() <= 1e-12 * r.X.norm());
      return s.outcome;
    }));
  }
  t.push_back(returns(Status::singular, "continuous A = 0", [] {
    return sgdsde::solve_continuous_lyapunov(MatrixXd::Zero(2, 2), kS).outcome;
  }));
  t.push_back(returns(Status::unstable_step, "discrete rho(A) = 2", [] {
    return sgdsde::solve_discrete_lyapunov(MatrixXd(2.0 * MatrixXd::Identity(2, 2)), kS).outcome;
  }));
  t.push_back(throws("A", "symmetric_eigen method with asymmetric A", [] {
    (void)sgdsde::solve_continuous_lyapunov(kA, kS, sgdsde::LyapunovMethod::symmetric_eigen);
  }));
  return t;
}

sgdsde::Dataset<double> regression(Eigen::Index d = 2, Eigen::Index n = 5) {
  return sgdsde::regression_data(MatrixXd::Ones(d, n), MatrixXd::Zero(1, n));
}
sgdsde::Dataset<double> classification() {
  return sgdsde::classification_data(MatrixXd::Ones(2, 4), (Eigen::VectorXi(4) << 0, 1, 2, 1).finished(), 3);
}

std::vector<Case> dataset_cases() {
  std::vector<Case> t;
  using sgdsde::classification_data;
  using sgdsde::regression_data;
  t.push_back(throws("data", "regression_data 0 samples", [] { (void)regression_data(MatrixXd(2, 0), MatrixXd(1, 0)); }));
  t.push_back(throws("data", "regression_data 0 input rows", [] { (void)regression_data(MatrixXd(0, 3), MatrixXd::Ones(1, 3)); }));
  t.push_back(throws("data", "regression_data targets of N + 1 columns",
                     [] { (void)regression_data(MatrixXd::Ones(2, 3), MatrixXd::Ones(1, 4)); }));
  t.push_back(throws("data", "regression_data 0x0 targets", [] { (void)regression_data(MatrixXd::Ones(2, 3), MatrixXd(0, 0)); }));
  for (const auto& [name, v] : kNonFinite) {
    t.push_back(throws("data", "regression_data inputs " + name, [v = v] {
      const MatrixXd x = with_entry(MatrixXd::Ones(2, 3), 1, 2, v);
      Keep k(x);
      (void)regression_data(x, MatrixXd::Ones(1, 3));
    }));
    t.push_back(throws("data", "regression_data targets " + name,
                       [v = v] { (void)regression_data(MatrixXd::Ones(2, 3), with_entry(MatrixXd::Ones(1, 3), 0, 0, v)); }));
    t.push_back(throws("data", "classification_data inputs " + name, [v = v] {
      (void)classification_data(with_entry(MatrixXd::Ones(2, 2), 0, 0, v), Eigen::VectorXi::Zero(2), 2);
    }));
  }
  t.push_back(succeeds("regression_data huge and denormal entries", [] {
    const MatrixXd x = (MatrixXd(1, 3) << sweep::huge, sweep::denormal, -sweep::huge).finished();
    const auto d = regression_data(x, x);
    return verdict(d.inputs == x && d.targets == x);
  }));
  t.push_back(throws("data", "classification_data label = num_classes",
                     [] { (void)classification_data(MatrixXd::Ones(2, 2), (Eigen::VectorXi(2) << 0, 2).finished(), 2); }));
  t.push_back(throws("data", "classification_data label -1",
                     [] { (void)classification_data(MatrixXd::Ones(2, 2), (Eigen::VectorXi(2) << -1, 0).finished(), 2); }));
  t.push_back(throws("data", "classification_data num_classes 0",
                     [] { (void)classification_data(MatrixXd::Ones(2, 2), Eigen::VectorXi::Zero(2), 0); }));
  t.push_back(throws("data", "classification_data 3 labels for 2 samples",
                     [] { (void)classification_data(MatrixXd::Ones(2, 2), Eigen::VectorXi::Zero(3), 2); }));
  t.push_back(throws("data", "classification_data 0 labels", [] { (void)classification_data(MatrixXd::Ones(2, 2), Eigen::VectorXi(0), 2); }));
  t.push_back(throws("data", "validate: both targets and labels", [] {
    auto d = regression();
    d.labels = Eigen::VectorXi::Zero(5);
    d.num_classes = 1;
    d.validate("f");
  }));
  t.push_back(throws("data", "validate: neither targets nor labels", [] {
    sgdsde::Dataset<double> d;
    d.inputs = MatrixXd::Ones(2, 2);
    d.validate("f");
  }));
  for (const auto& [first, count] : std::vector<std::pair<long, long>>{{-1, 1}, {6, 0}, {LONG_MAX, 1}}) {
    t.push_back(throws("first", "slice first=" + std::to_string(first), [first = first, count = count] {
      const auto d = regression();
      Keep k(d);
      (void)d.slice(first, count);
    }));
  }
  // Regression: first + count overflowed (undefined behaviour) for count = LONG_MAX.
  for (const auto& [first, count] : std::vector<std::pair<long, long>>{{0, -1}, {0, 6}, {3, 3}, {1, LONG_MAX}})
    t.push_back(throws("count", "slice first=" + std::to_string(first) + " count=" + std::to_string(count),
                       [first = first, count = count] { (void)regression().slice(first, count); }));
  t.push_back(succeeds("slice of 0 samples at the end", [] {
    const auto s = regression().slice(5, 0);
    return verdict(s.num_samples() == 0 && s.inputs.rows() == 2);
  }));
  t.push_back(succeeds("slice of a classification set keeps labels", [] {
    const auto s = classification().slice(1, 2);
    return verdict(s.labels == (Eigen::VectorXi(2) << 1, 2).finished() && s.num_classes == 3);
  }));
  return t;
}

std::vector<Case> sampler_cases() {
  std::vector<Case> t;
  using sgdsde::fresh_subset;
  using sgdsde::noise_law;
  using sgdsde::shuffled_epochs;
  using sgdsde::with_replacement;
  for (long s : {0L, -1L, LONG_MIN})
    t.push_back(throws("batch_size", "BatchSizeSchedule(" + std::to_string(s) + ")", [s] { (void)BatchSizeSchedule(s); }));
  t.push_back(throws("low", "cyclic low 0", [] { (void)BatchSizeSchedule::cyclic(0, 4, 10); }));
  t.push_back(throws("high", "cyclic high < low", [] { (void)BatchSizeSchedule::cyclic(4, 3, 10); }));
  t.push_back(throws("half_period_steps", "cyclic half period 0", [] { (void)BatchSizeSchedule::cyclic(1, 4, 0); }));
  // Regression: 2·half_period overflowed in the triangle wave (undefined behaviour).
  t.push_back(throws("half_period_steps", "cyclic half period LONG_MAX",
                     [] { (void)BatchSizeSchedule::cyclic(1, 4, LONG_MAX); }));
  t.push_back(succeeds("cyclic half period LONG_MAX / 2 at k = LONG_MAX", [] {
    const auto b = BatchSizeSchedule::cyclic(1, 5, LONG_MAX / 2);
    // tri(LONG_MAX) = (2h − LONG_MAX)/h with LONG_MAX = 2h + 1: pos = 1 → tri ≈ 0 → S = 1.
    return verdict(b(LONG_MAX) == 1 && b(LONG_MAX / 2) == 5);
  }));
  // Regression: k < 0 gave a negative remainder, so S_k < low (here S_{-5} = −1).
  t.push_back(succeeds("cyclic at k < 0 is the mirror image", [] {
    const auto b = BatchSizeSchedule::cyclic(1, 11, 10);
    return verdict(b(-5) == b(5) && b(-15) == b(15) && b(LONG_MIN) >= 1 && b(LONG_MIN) <= 11);
  }));
  t.push_back(throws("num_samples", "noise_law N = 0", [] { (void)noise_law(with_replacement(1), 0); }));
  t.push_back(throws("num_samples", "noise_law N = -3", [] { (void)noise_law(fresh_subset(1), -3); }));
  t.push_back(throws("sampler.batch_size", "noise_law fresh S > N", [] { (void)noise_law(fresh_subset(6), 5); }));
  t.push_back(throws("sampler.batch_size", "noise_law shuffled S > N", [] { (void)noise_law(shuffled_epochs(6), 5); }));
  t.push_back(throws("sampler.batch_size", "noise_law cyclic",
                     [] { (void)noise_law(with_replacement(BatchSizeSchedule::cyclic(1, 2, 3)), 5); }));
  t.push_back(succeeds("noise_law with replacement S = 1000 > N = 5", [] {
    return verdict(noise_law(with_replacement(1000), 5).variance_factor == 1e-3);
  }));
  t.push_back(succeeds("noise_law fresh S = N = 1 (no noise)", [] {
    const auto l = noise_law(fresh_subset(1), 1);
    return verdict(l.variance_factor == 0 && l.independent_steps());
  }));
  t.push_back(succeeds("noise_law shuffled S = N: one batch per epoch, no noise", [] {
    const auto l = noise_law(shuffled_epochs(5), 5);
    return verdict(l.variance_factor == 0 && l.batches_per_epoch == 1);
  }));
  t.push_back(throws("num_samples", "BatchDrawer N = 0", [] { BatchDrawer b(with_replacement(1), 0, RandomStream(1)); }));
  t.push_back(throws("sampler.batch_size", "BatchDrawer fresh S > N", [] { BatchDrawer b(fresh_subset(4), 3, RandomStream(1)); }));
  t.push_back(throws("k", "BatchDrawer::next k = -1", [] {
    BatchDrawer b(with_replacement(2), 3, RandomStream(1));
    sgdsde::Batch out;
    b.next(-1, out);
  }));
  t.push_back(throws("k", "BatchDrawer::next shuffled out of order", [] {
    BatchDrawer b(shuffled_epochs(2), 5, RandomStream(1));
    sgdsde::Batch out;
    b.next(1, out);
  }));
  t.push_back(throws("k", "BatchDrawer::batch k = LONG_MIN", [] { (void)BatchDrawer(fresh_subset(2), 3, RandomStream(1)).batch(LONG_MIN); }));
  t.push_back(throws("e", "BatchDrawer::permutation e = -1", [] { (void)BatchDrawer(shuffled_epochs(2), 3, RandomStream(1)).permutation(-1); }));
  t.push_back(throws("sampler.batch_size", "BatchDrawer::batch shuffled cyclic", [] {
    (void)BatchDrawer(shuffled_epochs(BatchSizeSchedule::cyclic(1, 2, 3)), 5, RandomStream(1)).batch(0);
  }));
  for (const sgdsde::Sampler& s : {sgdsde::Sampler(with_replacement(7)), sgdsde::Sampler(fresh_subset(3)),
                                    sgdsde::Sampler(shuffled_epochs(3))})
    t.push_back(succeeds(std::string("BatchDrawer::batch(LONG_MAX) in range, ") + sgdsde::name_of(s), [s] {
      BatchDrawer b(s, 3, RandomStream(1));
      const sgdsde::Batch x = b.batch(LONG_MAX);
      bool ok = x.size() == std::size_t(sgdsde::batch_size_of(s).low);
      for (auto i : x) ok = ok && i >= 0 && i < 3;
      return verdict(ok);
    }));
  return t;
}

std::vector<Case> random_cases() {
  std::vector<Case> t;
  t.push_back(succeeds("fill_normal of an empty vector", [] {
    RandomStream r(1);
    VectorXd x(0);
    r.fill_normal(x);
    return verdict(r.blocks_used() == 0);
  }));
  // Regression: a range crossing index 2^64 wrote nothing (first + n wrapped, the loop never ran),
  // leaving the caller's buffer as it was.
  t.push_back(succeeds("normal_at first = 2^64 - 4 continues at index 0", [] {
    const RandomStream r(1);
    VectorXd x = VectorXd::Constant(8, sweep::nan), head(4), tail(4);
    r.normal_at(~std::uint64_t(0) - 3, x);
    r.normal_at(~std::uint64_t(0) - 3, head);
    r.normal_at(0, tail);
    return verdict(x.head(4) == head && x.tail(4) == tail);
  }));
  for (std::uint64_t first : {std::uint64_t(0), std::uint64_t(1) << 40, ~std::uint64_t(0) - 7}) {
    t.push_back(succeeds("uniform_at double in [0, 1), first = " + std::to_string(first), [first] {
      Eigen::ArrayXd u(4096);
      RandomStream(3, 9).uniform_at(first, u);
      return verdict(u.minCoeff() >= 0 && u.maxCoeff() < 1);
    }));
    t.push_back(succeeds("uniform_at float in [0, 1), first = " + std::to_string(first), [first] {
      Eigen::ArrayXf u(4096);
      RandomStream(3, 9).uniform_at(first, u);
      return verdict(u.minCoeff() >= 0 && u.maxCoeff() < 1);
    }));
    t.push_back(succeeds("normal_at float finite, first = " + std::to_string(first), [first] {
      Eigen::ArrayXf z(4096);
      RandomStream(~std::uint64_t(0), ~std::uint64_t(0)).normal_at(first, z);
      return verdict(sgdsde::all_finite(z.matrix()));
    }));
    t.push_back(succeeds("rademacher_at is ±1, first = " + std::to_string(first), [first] {
      Eigen::ArrayXd z(1000);
      RandomStream(5).rademacher_at(first, z);
      return verdict((z.abs() == 1.0).all());
    }));
  }
  t.push_back(succeeds("fill_normal into a block expression writes only the block", [] {
    MatrixXd m = MatrixXd::Zero(3, 3);
    RandomStream(1).fill_normal(m.col(1));
    return verdict(m.col(0).isZero(0) && m.col(2).isZero(0) && sgdsde::all_finite(m));
  }));
  return t;
}

}  // namespace

TEST_CASE("bad-input sweep: core (expm, symmetric helpers)") { sweep::run("core/expm", expm_cases()); }
TEST_CASE("bad-input sweep: core (Lyapunov solvers)") { sweep::run("core/lyapunov", lyapunov_cases()); }
TEST_CASE("bad-input sweep: core (Dataset)") { sweep::run("core/dataset", dataset_cases()); }
TEST_CASE("bad-input sweep: core (schedules, samplers, BatchDrawer)") { sweep::run("core/minibatch", sampler_cases()); }
TEST_CASE("bad-input sweep: core (RandomStream)") { sweep::run("core/random", random_cases()); }
