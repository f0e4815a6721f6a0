// Bad-input sweep of data/ (issue 8, item 9; table in docs/reliability.md): the synthetic generators
// and the IDX reader, fed empty sizes, NaN, ±inf, huge values (whose targets overflow), missing,
// truncated and corrupt files.
#include <cstdio>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "sgdsde/core/random.hpp"
#include "sgdsde/data/idx.hpp"
#include "sgdsde/data/synthetic.hpp"
#include "support/sweep.hpp"

#include <doctest/doctest.h>

namespace {

using Eigen::VectorXd;
using sgdsde::RandomStream;
using sweep::Case;
using sweep::Keep;
using sweep::succeeds;
using sweep::throws;
using sweep::verdict;
namespace data = sgdsde::data;

std::string write_file(const std::string& name, const std::vector<unsigned char>& bytes) {
  const std::string path = std::string("/tmp/sgdsde_sweep_") + name;
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  return path;
}

std::vector<Case> synthetic_cases() {
  std::vector<Case> t;
  const VectorXd theta = VectorXd::Ones(3);
  t.push_back(throws("theta_star", "noisy_linear_regression theta 0", [] {
    (void)data::noisy_linear_regression(VectorXd(0), 0.1, 10, RandomStream(1));
  }));
  for (double v : {sweep::nan, sweep::inf, -sweep::inf}) {
    t.push_back(throws("theta_star", "noisy_linear_regression theta " + std::to_string(v), [=] {
      VectorXd th = theta;
      th(1) = v;
      Keep k(th);
      (void)data::noisy_linear_regression(th, 0.1, 10, RandomStream(1));
    }));
    t.push_back(throws("noise_sd", "noisy_linear_regression noise " + std::to_string(v),
                       [=] { (void)data::noisy_linear_regression(theta, v, 10, RandomStream(1)); }));
    t.push_back(throws("noise_sd", "teacher_student noise " + std::to_string(v), [=] {
      (void)data::teacher_student(data::RandomFeaturesTeacher<double>::draw(2, 3, 1, RandomStream(1)), v, 5, RandomStream(2));
    }));
  }
  t.push_back(throws("noise_sd", "noisy_linear_regression noise -1", [=] { (void)data::noisy_linear_regression(theta, -1.0, 10, RandomStream(1)); }));
  for (long n : {0L, -1L})
    t.push_back(throws("num_samples", "noisy_linear_regression N " + std::to_string(n),
                       [=] { (void)data::noisy_linear_regression(theta, 0.1, n, RandomStream(1)); }));
  // Regression: finite but huge θ* or σ gave ±inf targets in a Dataset that promises finite entries.
  t.push_back(throws("theta_star", "noisy_linear_regression theta 1e308 (targets overflow)",
                     [=] { (void)data::noisy_linear_regression(VectorXd::Constant(3, sweep::huge), 0.1, 50, RandomStream(1)); }));
  t.push_back(throws("noise_sd", "noisy_linear_regression noise 1e308 (targets overflow)",
                     [=] { (void)data::noisy_linear_regression(theta, sweep::huge, 50, RandomStream(1)); }));
  t.push_back(throws("noise_sd", "noisy_linear_regression float noise 3e38",
                     [=] { (void)data::noisy_linear_regression(Eigen::VectorXf::Ones(3), sweep::huge_f, 50, RandomStream(1)); }));
  t.push_back(succeeds("noisy_linear_regression denormal theta, noise 0", [] {
    const auto d = data::noisy_linear_regression(VectorXd::Constant(2, sweep::denormal), 0.0, 20, RandomStream(1));
    d.validate("test");
    return verdict(d.num_samples() == 20);
  }));
  for (const auto& [w, n, o] : std::vector<std::tuple<long, long, long>>{{0, 3, 1}, {3, 0, 1}, {3, 3, 0}})
    t.push_back(throws(w == 0 ? "input_dim" : n == 0 ? "width" : "outputs", "RandomFeaturesTeacher::draw zero size",
                       [w = w, n = n, o = o] { (void)data::RandomFeaturesTeacher<double>::draw(w, n, o, RandomStream(1)); }));
  t.push_back(throws("num_samples", "teacher_student N 0", [] {
    (void)data::teacher_student(data::RandomFeaturesTeacher<double>::draw(2, 3, 1, RandomStream(1)), 0.1, 0, RandomStream(2));
  }));
  t.push_back(throws("teacher", "teacher_student empty teacher", [] {
    (void)data::teacher_student(data::RandomFeaturesTeacher<double>{}, 0.1, 3, RandomStream(2));
  }));
  t.push_back(throws("noise_sd", "teacher_student noise 1e308 (targets overflow)", [] {
    (void)data::teacher_student(data::RandomFeaturesTeacher<double>::draw(2, 3, 1, RandomStream(1)), sweep::huge, 50, RandomStream(2));
  }));
  t.push_back(throws("x", "RandomFeaturesTeacher x of the wrong rows", [] {
    (void)data::RandomFeaturesTeacher<double>::draw(2, 3, 1, RandomStream(1))(Eigen::MatrixXd::Ones(3, 4));
  }));
  // Sine windows.
  auto opts = [](auto f) {
    data::SineWindowOptions o;
    f(o);
    return o;
  };
  t.push_back(throws("options.window", "noisy_sine_windows window 0", [=] { (void)data::noisy_sine_windows(opts([](auto& o) { o.window = 0; }), RandomStream(1)); }));
  t.push_back(throws("options.length", "noisy_sine_windows length = window", [=] { (void)data::noisy_sine_windows(opts([](auto& o) { o.length = 5; }), RandomStream(1)); }));
  for (double v : {sweep::nan, sweep::inf, -1.0})
    t.push_back(throws("options.noise", "noisy_sine_windows noise " + std::to_string(v), [=] { (void)data::noisy_sine_windows(opts([v](auto& o) { o.noise = v; }), RandomStream(1)); }));
  t.push_back(throws("options.frequency", "noisy_sine_windows frequency nan", [=] { (void)data::noisy_sine_windows(opts([](auto& o) { o.frequency = sweep::nan; }), RandomStream(1)); }));
  // Regression: frequency·t overflowed to inf and sin(inf) = NaN filled the inputs.
  t.push_back(throws("options.frequency", "noisy_sine_windows frequency 1e308", [=] { (void)data::noisy_sine_windows(opts([](auto& o) { o.frequency = sweep::huge; }), RandomStream(1)); }));
  t.push_back(throws("options.frequency", "sine_window_clean_targets frequency 1e308", [=] { (void)data::sine_window_clean_targets(opts([](auto& o) { o.frequency = sweep::huge; })); }));
  // Regression: noise 1e308 times a normal > 1.8 overflowed to inf.
  t.push_back(throws("options.noise", "noisy_sine_windows noise 1e308", [=] { (void)data::noisy_sine_windows(opts([](auto& o) { o.noise = sweep::huge; }), RandomStream(1)); }));
  t.push_back(succeeds("noisy_sine_windows noise 0 gives the clean targets", [] {
    data::SineWindowOptions o;
    o.noise = 0;
    const auto d = data::noisy_sine_windows(o, RandomStream(1));
    return verdict(d.targets == data::sine_window_clean_targets(o));
  }));
  return t;
}

std::vector<Case> idx_cases() {
  std::vector<Case> t;
  const std::vector<unsigned char> labels = {0, 0, 8, 1, 0, 0, 0, 3, 1, 0, 2};
  const std::vector<unsigned char> images = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 255, 1, 2, 3, 4};
  const std::string good_labels = write_file("labels.idx", labels);
  const std::string good_images = write_file("images.idx", images);
  t.push_back(throws("path", "read_idx missing file", [] { (void)data::read_idx("/nonexistent/sgdsde.idx", 1); }));
  t.push_back(throws("path", "read_idx empty path", [] { (void)data::read_idx("", 1); }));
  t.push_back(throws("path", "read_idx empty file", [] { (void)data::read_idx(write_file("empty.idx", {}), 1); }));
  t.push_back(throws("path", "read_idx wrong magic", [=] { (void)data::read_idx(good_labels, 3); }));
  t.push_back(throws("path", "read_idx truncated data", [=] {
    auto b = labels;
    b.pop_back();
    (void)data::read_idx(write_file("short.idx", b), 1);
  }));
  t.push_back(throws("path", "read_idx trailing data", [=] {
    auto b = labels;
    b.push_back(0);
    (void)data::read_idx(write_file("long.idx", b), 1);
  }));
  t.push_back(throws("path", "read_idx header claims 2^40 elements",
                     [] { (void)data::read_idx(write_file("huge.idx", {0, 0, 8, 3, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0}), 3); }));
  for (int dims : {0, -1, 256})
    t.push_back(throws("expected_dims", "read_idx dims " + std::to_string(dims), [=] { (void)data::read_idx(good_labels, dims); }));
  for (int c : {0, 257})
    t.push_back(throws("num_classes", "read_idx_labels classes " + std::to_string(c), [=] { (void)data::read_idx_labels(good_labels, c); }));
  t.push_back(throws("path", "read_idx_labels label >= classes", [=] { (void)data::read_idx_labels(good_labels, 2); }));
  t.push_back(throws("path", "read_idx_labelled count mismatch", [=] {
    (void)data::read_idx_labelled(good_images, write_file("two.idx", {0, 0, 8, 1, 0, 0, 0, 2, 0, 1}), 3);
  }));
  // Regression: max_samples = 0 gave a Dataset of 0 samples, which every consumer rejects.
  t.push_back(throws("max_samples", "read_idx_labelled max_samples 0", [=] { (void)data::read_idx_labelled(good_images, good_labels, 3, 0); }));
  t.push_back(throws("max_samples", "read_idx_images max_samples 0", [=] { (void)data::read_idx_images(good_images, 0); }));
  t.push_back(throws("max_samples", "read_idx_labels max_samples 0", [=] { (void)data::read_idx_labels(good_labels, 3, 0); }));
  t.push_back(succeeds("read_idx_labelled good pair, max_samples 2", [=] {
    const auto d = data::read_idx_labelled(good_images, good_labels, 3, 2);
    d.validate("test");
    return verdict(d.num_samples() == 2 && d.inputs(1, 0) == 1.0f && d.labels(1) == 0);
  }));
  return t;
}

}  // namespace

TEST_CASE("bad-input sweep: data (synthetic generators)") { sweep::run("data/synthetic", synthetic_cases()); }
TEST_CASE("bad-input sweep: data (IDX reader)") { sweep::run("data/idx", idx_cases()); }
