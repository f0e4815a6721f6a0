// Tests for sgdsde/optim/sweep.hpp and sgdsde/optim/parallel_train.hpp: grid order and values, the CSV
// file byte-identical for 1, 2 and 3 threads and after an interrupted + resumed run (also with a cut
// last line), failed cells recorded without stopping the others, bad input (thread counts, empty axes,
// a file of another grid, reserved or malformed names); train_seeds equal to separate train() calls
// for every thread count.
#include "sgdsde/optim/sweep.hpp"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "sgdsde/core/random.hpp"
#include "sgdsde/optim/parallel_train.hpp"

#include <doctest/doctest.h>

#include "support/sweep.hpp"

namespace {
using sgdsde::Index;
using sgdsde::optim::SweepCell;
using sgdsde::optim::SweepGrid;
using sgdsde::optim::SweepOptions;
using sgdsde::optim::SweepRecord;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

SweepGrid small_grid() {
  SweepGrid g;
  g.numbers("eta", {0.05, 0.1, 2.5}).integers("S", {4, 16}).labels("sampler", {"replacement", "fresh"}).integers(
      "seed", {1, 2, 3});
  return g;
}

/// A cheap stochastic "experiment": the mean of S·100 normals of the cell's own stream, scaled by η;
/// η = 2.5 stands for a step size past the stability limit (a diverged run).
SweepRecord experiment(const SweepCell& c) {
  const double eta = c.number("eta");
  if (eta > 2.0)
    return SweepRecord{sgdsde::Outcome::failure(sgdsde::Status::diverged, 17, 1e300, "diverged"),
                       {std::nan(""), std::nan("")}};
  Eigen::ArrayXd z(c.integer("S") * 100);
  const std::uint64_t id = c.label("sampler") == "fresh" ? 1 : 0;
  sgdsde::RandomStream(std::uint64_t(c.integer("seed")), id).fill_normal(z);
  return SweepRecord{{}, {eta * z.mean(), z.square().mean()}};
}

const std::vector<std::string> metrics{"mean", "second_moment"};

using sweep::message_of;
}  // namespace

TEST_CASE("SweepGrid: row-major cells, values and labels") {
  const SweepGrid g = small_grid();
  CHECK(g.size() == 36);
  const SweepCell c = g.cell(13);  // 13 = ((1·2 + 0)·2 + 0)·3 + 1 → eta 0.1, S 4, replacement, seed 2
  CHECK(c.number("eta") == 0.1);
  CHECK(c.integer("S") == 4);
  CHECK(c.number("S") == 4.0);
  CHECK(c.label("sampler") == "replacement");
  CHECK(c.integer("seed") == 2);
  CHECK(g.cell(35).label("eta") == "2.5");
  CHECK_THROWS_AS(c.integer("eta"), sgdsde::invalid_argument);
  CHECK_THROWS_AS(c.number("sampler"), sgdsde::invalid_argument);
  CHECK_THROWS_AS(c.number("lr"), sgdsde::invalid_argument);
  CHECK_THROWS_AS(g.cell(36), sgdsde::invalid_argument);
}

TEST_CASE("SweepGrid: bad axes throw naming the argument") {
  SweepGrid g;
  CHECK(message_of([&] { g.numbers("eta", {}); }).find("'values'") != std::string::npos);
  CHECK_THROWS_AS(g.integers("S", {}), sgdsde::invalid_argument);
  CHECK_THROWS_AS(g.labels("s", {}), sgdsde::invalid_argument);
  CHECK_THROWS_AS(g.numbers("eta", {0.1, std::nan("")}), sgdsde::invalid_argument);
  CHECK_THROWS_AS(g.numbers("eta", {0.1, HUGE_VAL}), sgdsde::invalid_argument);
  CHECK_THROWS_AS(g.numbers("", {0.1}), sgdsde::invalid_argument);
  CHECK_THROWS_AS(g.numbers("a,b", {0.1}), sgdsde::invalid_argument);
  CHECK_THROWS_AS(g.numbers("status", {0.1}), sgdsde::invalid_argument);
  CHECK_THROWS_AS(g.labels("s", {"ok", "no|pe"}), sgdsde::invalid_argument);
  g.numbers("eta", {1e-308, 1e308});
  CHECK(g.cell(1).number("eta") == 1e308);  // 17 digits read back exactly
  CHECK_THROWS_AS(g.integers("eta", {1}), sgdsde::invalid_argument);  // duplicate name
  CHECK(g.size() == 2);  // failed additions left the grid unchanged
}

TEST_CASE("run_sweep: the same file and records for 1, 2 and 3 threads; failed cells recorded") {
  const SweepGrid g = small_grid();
  const std::string path = "sweep_test_threads.csv";
  std::string first;
  std::vector<SweepRecord> first_records;
  for (int threads : {1, 2, 3}) {
    SweepOptions o;
    o.csv_path = path;
    o.resume = false;
    o.threads = threads;
    const auto r = sgdsde::optim::run_sweep(g, metrics, experiment, o);
    CHECK(r.evaluated == 36);
    CHECK(r.resumed == 0);
    CHECK(r.failed == 12);  // every cell with η = 2.5
    const std::string text = read_all(path);
    if (threads == 1) {
      first = text;
      first_records = r.records;
      continue;
    }
    CHECK(text == first);
    for (std::size_t i = 0; i < r.records.size(); ++i) {
      CHECK(r.records[i].outcome.status == first_records[i].outcome.status);
      if (r.records[i].outcome.ok()) CHECK(r.records[i].values == first_records[i].values);
    }
  }
  // The file: fingerprint, header, 36 rows in cell order; a diverged cell has its status and step.
  CHECK(first.rfind("# sgdsde sweep v1: eta=0.050000000000000003|0.10000000000000001|2.5; S=4|16;", 0) == 0);
  CHECK(first.find("\ncell,eta,S,sampler,seed,status,step,mean,second_moment\n0,0.050000000000000003,4,replacement,1,"
                   "success,-1,") != std::string::npos);
  CHECK(first.find("\n35,2.5,16,fresh,3,diverged,17,nan,nan\n") != std::string::npos);
  // Values: cell 13 against the experiment computed directly, and read back bit for bit.
  const SweepRecord direct = experiment(g.cell(13));
  CHECK(first_records[13].values == direct.values);
  std::remove(path.c_str());
}

TEST_CASE("run_sweep: interrupted runs resume to the same bytes, skipping finished cells") {
  const SweepGrid g = small_grid();
  const std::string path = "sweep_test_resume.csv";
  SweepOptions o;
  o.csv_path = path;
  o.resume = false;
  o.threads = 1;
  sgdsde::optim::run_sweep(g, metrics, experiment, o);
  const std::string reference = read_all(path);

  // First attempt: cell 20 "crashes" (throws); every other cell still runs and is written.
  o.threads = 2;
  const std::string m = message_of([&] {
    sgdsde::optim::run_sweep(g, metrics, [](const SweepCell& c) {
      if (c.index() == 20 || c.index() == 30) throw std::runtime_error("crash in " + std::to_string(c.index()));
      return experiment(c);
    }, o);
  });
  CHECK(m == "crash in 20");
  // Resume: only cells 20 and 30 are evaluated; the file becomes the uninterrupted one.
  o.resume = true;
  o.threads = 1;  // the evaluator below records the cells it sees (not thread-safe)
  std::vector<Index> evaluated;
  auto r = sgdsde::optim::run_sweep(g, metrics, [&](const SweepCell& c) {
    evaluated.push_back(c.index());
    return experiment(c);
  }, o);
  o.threads = 3;
  CHECK(evaluated == std::vector<Index>{20, 30});
  CHECK(r.resumed == 34);
  CHECK(r.evaluated == 2);
  CHECK(read_all(path) == reference);
  CHECK(r.records[13].values == experiment(g.cell(13)).values);  // parsed back bit for bit
  CHECK(r.records[35].outcome.status == sgdsde::Status::diverged);
  CHECK(r.records[35].outcome.step == 17);

  // A run cut in the middle of writing a line: that cell is recomputed.
  {
    std::string cut = reference.substr(0, reference.size() - 10);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << cut;
  }
  r = sgdsde::optim::run_sweep(g, metrics, experiment, o);
  CHECK(r.evaluated == 1);
  CHECK(read_all(path) == reference);
  // Nothing left to do: a complete file is read back, nothing evaluated.
  r = sgdsde::optim::run_sweep(g, metrics, experiment, o);
  CHECK(r.evaluated == 0);
  CHECK(read_all(path) == reference);

  // A file of another grid (or other metrics) is refused, and left as it was.
  SweepGrid other = small_grid();
  other.numbers("momentum", {0.0, 0.9});
  CHECK(message_of([&] { sgdsde::optim::run_sweep(other, metrics, experiment, o); }).find("'options.csv_path'") !=
        std::string::npos);
  CHECK_THROWS_AS(sgdsde::optim::run_sweep(g, {"mean", "variance"}, experiment, o), sgdsde::invalid_argument);
  CHECK(read_all(path) == reference);
  // A corrupt row (axis values that do not match its cell) is refused too.
  {
    std::string bad = reference;
    const auto at = bad.find("\n5,");
    bad.replace(bad.find(",4,", at), 3, ",8,");
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bad;
  }
  CHECK_THROWS_AS(sgdsde::optim::run_sweep(g, metrics, experiment, o), sgdsde::invalid_argument);
  std::remove(path.c_str());
}

TEST_CASE("run_sweep: bad input") {
  const SweepGrid g = small_grid();
  for (int bad : {0, -2}) {
    SweepOptions o;
    o.threads = bad;
    const std::string m = message_of([&] { sgdsde::optim::run_sweep(g, metrics, experiment, o); });
    CHECK(m.find("run_sweep") != std::string::npos);
    CHECK(m.find("'options.threads'") != std::string::npos);
  }
  CHECK(message_of([&] { sgdsde::optim::run_sweep(SweepGrid{}, metrics, experiment); }).find("'grid'") !=
        std::string::npos);
  CHECK_THROWS_AS(sgdsde::optim::run_sweep(g, {"a", "a"}, experiment), sgdsde::invalid_argument);
  CHECK_THROWS_AS(sgdsde::optim::run_sweep(g, {"a,b"}, experiment), sgdsde::invalid_argument);
  // An evaluator returning the wrong number of values is an error (after the other cells ran).
  CHECK_THROWS_AS(sgdsde::optim::run_sweep(g, {"only_one"}, experiment), sgdsde::invalid_argument);
  SweepOptions unwritable;
  unwritable.csv_path = "/nonexistent-dir/sweep.csv";
  CHECK_THROWS_AS(sgdsde::optim::run_sweep(g, metrics, experiment, unwritable), sgdsde::invalid_argument);
}

namespace {
/// Least squares on 20 samples of y = 2x − 1 + noise, θ = (slope, intercept): a minimal Problem.
struct LineFit {
  using Scalar = double;
  Eigen::ArrayXd x, y;
  LineFit() : x(Eigen::ArrayXd::LinSpaced(20, -1.0, 1.0)), y(20) {
    sgdsde::RandomStream(77).fill_normal(y);
    y = 2.0 * x - 1.0 + 0.1 * y;
  }
  Index num_samples() const { return 20; }
  Index num_parameters() const { return 2; }
  double loss_and_gradient(const Eigen::Ref<const Eigen::VectorXd>& theta, const sgdsde::Batch& batch,
                           Eigen::Ref<Eigen::VectorXd> gradient) {
    double loss = 0.0;
    gradient.setZero();
    for (Index n : batch) {
      const double r = theta(0) * x(n) + theta(1) - y(n);
      loss += 0.5 * r * r;
      gradient(0) += r * x(n);
      gradient(1) += r;
    }
    gradient /= double(batch.size());
    return loss / double(batch.size());
  }
};
}  // namespace

TEST_CASE("train_seeds: each run equals its own train() call, for 1, 2 and 3 threads") {
  sgdsde::optim::TrainOptions options;
  options.learning_rate = 0.2;
  options.sampler = sgdsde::with_replacement(4);
  options.steps = 300;
  const std::vector<std::uint64_t> seeds{3, 1, 4, 1, 5};
  const Eigen::VectorXd theta0 = Eigen::VectorXd::Zero(2);
  std::vector<Eigen::VectorXd> alone;
  for (auto seed : seeds) {
    LineFit p;
    auto o = options;
    o.seed = seed;
    alone.push_back(sgdsde::optim::train(p, theta0, o).parameters);
  }
  CHECK(alone[1] == alone[3]);     // same seed, same run
  CHECK(alone[0] != alone[1]);     // different seeds, different batches
  CHECK(std::abs(alone[0](0) - 2.0) < 0.2);  // and it did learn the line (noise 0.1, η = 0.2)
  for (int threads : {1, 2, 3}) {
    const auto runs = sgdsde::optim::train_seeds([](Index) { return LineFit(); }, theta0, options, seeds, threads);
    REQUIRE(runs.size() == seeds.size());
    for (std::size_t r = 0; r < seeds.size(); ++r) {
      CHECK(runs[r].outcome.ok());
      CHECK(runs[r].parameters == alone[r]);
    }
  }
  CHECK_THROWS_AS(sgdsde::optim::train_seeds([](Index) { return LineFit(); }, theta0, options, {}, 2),
                  sgdsde::invalid_argument);
  CHECK_THROWS_AS(sgdsde::optim::train_seeds([](Index) { return LineFit(); }, theta0, options, seeds, 0),
                  sgdsde::invalid_argument);
}
