// sgdsde/data/synthetic.hpp — synthetic regression sets: the noisy sine windows of Borovykh et al.
// (2019) §3, noisy linear regression y = xᵀθ* + ε, and a random-features teacher–student set.
// Samples are COLUMNS (inputs d × N, targets k × N); every generator takes a RandomStream by value, so
// the caller's stream is never advanced and the same stream always gives the same set.
#pragma once

#include <cmath>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/random.hpp"

namespace sgdsde {

/// A regression set with one column per sample. `clean_targets` are the targets without the
/// observation noise (the function a perfect learner would recover).
template <class Scalar>
struct RegressionData {
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  Matrix inputs;
  Matrix targets;
  Matrix clean_targets;
  Eigen::Index size() const { return inputs.cols(); }
};

/// Parameters of the noisy sine series of Borovykh et al. (2019) §3: y_i = sin(frequency·t_i) + c ε_i,
/// t_i = 0, 1, ..., length − 1, ε_i ~ N(0, 1) i.i.d.; a window of `window` consecutive values
/// (y_{t−window+1}, ..., y_t) predicts y_{t+1}. Defaults are the paper's: c = 0.3, frequency 0.1,
/// t ∈ {0, ..., 100} (length 101), window 5 ("t−4, ..., t to predict t+1").
struct SineWindowOptions {
  double noise = 0.3;
  double frequency = 0.1;
  long length = 101;
  long window = 5;
};

/// The noisy sine window set: N = length − window samples; sample j (0-based) has input
/// (y_j, ..., y_{j+window−1}) and target y_{j+window}; clean_targets hold sin(frequency·(j + window)).
/// The noise ε_i is value i of `stream.normal_at` (so the series can be regenerated point by point).
template <class Scalar>
RegressionData<Scalar> noisy_sine_windows(RandomStream stream, const SineWindowOptions& options = {}) {
  const char* fn = "noisy_sine_windows";
  require(options.window >= 1, fn, "options.window", options.window, "an integer >= 1");
  require(options.length > options.window, fn, "options.length", options.length, "> options.window");
  require(std::isfinite(options.noise) && options.noise >= 0, fn, "options.noise", options.noise,
          "a finite value >= 0");
  require(std::isfinite(options.frequency), fn, "options.frequency", options.frequency, "a finite value");
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> eps(options.length);
  stream.normal_at(0, eps);
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> clean(options.length), y(options.length);
  for (long i = 0; i < options.length; ++i) {
    clean[i] = Scalar(std::sin(options.frequency * double(i)));
    y[i] = clean[i] + Scalar(options.noise) * eps[i];
  }
  const Eigen::Index n = options.length - options.window, w = options.window;
  RegressionData<Scalar> out;
  out.inputs.resize(w, n);
  out.targets.resize(1, n);
  out.clean_targets.resize(1, n);
  for (Eigen::Index j = 0; j < n; ++j) {
    out.inputs.col(j) = y.segment(j, w);
    out.targets(0, j) = y[j + w];
    out.clean_targets(0, j) = clean[j + w];
  }
  return out;
}

/// Noisy linear regression: x_n ~ N(0, I_d) i.i.d., y_n = x_nᵀθ* + σ ε_n, ε_n ~ N(0, 1).
/// Inputs are the first d·N normals of `stream` (column by column), ε the next N.
/// Preconditions: num_samples ≥ 1, θ* finite and non-empty, σ ≥ 0 finite.
template <class Scalar>
RegressionData<Scalar> noisy_linear_regression(RandomStream stream, Eigen::Index num_samples,
                                               const Eigen::Ref<const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>>& theta_star,
                                               Scalar noise_sd) {
  const char* fn = "noisy_linear_regression";
  require(num_samples >= 1, fn, "num_samples", num_samples, "an integer >= 1");
  require(theta_star.size() >= 1, fn, "theta_star", theta_star.size(), "a non-empty vector");
  require_finite(fn, "theta_star", theta_star);
  require(std::isfinite(double(noise_sd)) && noise_sd >= Scalar(0), fn, "noise_sd", noise_sd,
          "a finite value >= 0");
  RegressionData<Scalar> out;
  out.inputs.resize(theta_star.size(), num_samples);
  stream.fill_normal(out.inputs);
  Eigen::Matrix<Scalar, 1, Eigen::Dynamic> eps(num_samples);
  stream.fill_normal(eps);
  out.clean_targets.noalias() = theta_star.transpose() * out.inputs;
  out.targets = out.clean_targets + noise_sd * eps;
  return out;
}

/// A random-features teacher f*(x) = A relu(W x / √d) / √m with W (m × d) and A (k × m) i.i.d. N(0, 1).
template <class Scalar>
struct RandomFeaturesTeacher {
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  Matrix W;
  Matrix A;

  /// Draws W then A from `stream` (by value: the caller's stream does not move).
  static RandomFeaturesTeacher draw(RandomStream stream, Eigen::Index input_dim, Eigen::Index width,
                                    Eigen::Index outputs = 1) {
    const char* fn = "RandomFeaturesTeacher::draw";
    require(input_dim >= 1, fn, "input_dim", input_dim, "an integer >= 1");
    require(width >= 1, fn, "width", width, "an integer >= 1");
    require(outputs >= 1, fn, "outputs", outputs, "an integer >= 1");
    RandomFeaturesTeacher t;
    t.W.resize(width, input_dim);
    t.A.resize(outputs, width);
    stream.fill_normal(t.W);
    stream.fill_normal(t.A);
    return t;
  }

  /// Outputs k × N for inputs d × N (one column per sample).
  Matrix operator()(const Eigen::Ref<const Matrix>& x) const {
    require_shape("RandomFeaturesTeacher", "x", x, W.cols(), -1);
    using std::sqrt;
    Matrix h = (W * x).array().max(Scalar(0)) * (Scalar(1) / sqrt(Scalar(W.cols())));
    Matrix y = (A * h) * (Scalar(1) / sqrt(Scalar(W.rows())));
    return y;
  }
};

/// Teacher–student set: x_n ~ N(0, I_d), y_n = f*(x_n) + σ ε_n with ε_n ~ N(0, I_k), f* the teacher.
/// `stream` gives the inputs (first d·N normals) then the noise (next k·N); draw the teacher from
/// another substream.
template <class Scalar>
RegressionData<Scalar> teacher_student(RandomStream stream, const RandomFeaturesTeacher<Scalar>& teacher,
                                       Eigen::Index num_samples, Scalar noise_sd) {
  const char* fn = "teacher_student";
  require(num_samples >= 1, fn, "num_samples", num_samples, "an integer >= 1");
  require(teacher.W.size() > 0 && teacher.A.cols() == teacher.W.rows(), fn, "teacher", teacher.A.cols(),
          "A.cols() == W.rows() > 0");
  require(std::isfinite(double(noise_sd)) && noise_sd >= Scalar(0), fn, "noise_sd", noise_sd,
          "a finite value >= 0");
  RegressionData<Scalar> out;
  out.inputs.resize(teacher.W.cols(), num_samples);
  stream.fill_normal(out.inputs);
  Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> eps(teacher.A.rows(), num_samples);
  stream.fill_normal(eps);
  out.clean_targets = teacher(out.inputs);
  out.targets = out.clean_targets + noise_sd * eps;
  return out;
}

}  // namespace sgdsde
