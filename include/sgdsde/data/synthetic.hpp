// sgdsde/data/synthetic.hpp — synthetic regression sets as core Datasets: the noisy sine windows of
// Borovykh et al. (2019) §3, noisy linear regression y = xᵀθ* + ε, and a random-features teacher–student set.
// Samples are COLUMNS (inputs d × N, targets k × N). Every generator takes its RandomStream last and by
// value, so the caller's stream is never advanced and the same stream always gives the same set.
#pragma once

#include <cmath>

#include <Eigen/Core>

#include "sgdsde/core/dataset.hpp"
#include "sgdsde/core/error.hpp"
#include "sgdsde/core/random.hpp"
#include "sgdsde/core/types.hpp"

namespace sgdsde::data {

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

namespace detail {
inline void check_sine_options(const char* fn, const SineWindowOptions& options) {
  require(options.window >= 1, fn, "options.window", options.window, "an integer >= 1");
  require(options.length > options.window, fn, "options.length", options.length, "> options.window");
  require(std::isfinite(options.noise) && options.noise >= 0, fn, "options.noise", options.noise,
          "a finite value >= 0");
  require(std::isfinite(options.frequency) && std::isfinite(options.frequency * double(options.length)), fn,
          "options.frequency", options.frequency, "a finite value with frequency * length finite");
}

/// Throws (naming `argument`) unless the generated targets are finite: finite but huge parameters
/// can overflow them, and a Dataset promises finite entries.
template <class Derived>
void require_finite_output(const char* fn, const char* argument, const Eigen::MatrixBase<Derived>& m) {
  if (!sgdsde::all_finite(m))
    sgdsde::detail::throw_invalid_argument(fn, argument, "so large that the generated targets overflow",
                                           "a value whose targets are finite in this Scalar");
}
}  // namespace detail

/// The noisy sine window set: N = length − window samples; sample j (0-based) has input
/// (y_j, ..., y_{j+window−1}) and target y_{j+window}. The noise ε_i is value i of
/// `stream.normal_at` (so the series can be regenerated point by point).
template <class Scalar = double>
Dataset<Scalar> noisy_sine_windows(const SineWindowOptions& options, RandomStream stream) {
  detail::check_sine_options("noisy_sine_windows", options);
  VectorX<Scalar> y(options.length);
  stream.normal_at(0, y);
  for (long i = 0; i < options.length; ++i)
    y[i] = Scalar(std::sin(options.frequency * double(i))) + Scalar(options.noise) * y[i];
  detail::require_finite_output("noisy_sine_windows", "options.noise", y);
  const Index n = options.length - options.window, w = options.window;
  Dataset<Scalar> out;
  out.inputs.resize(w, n);
  out.targets.resize(1, n);
  for (Index j = 0; j < n; ++j) {
    out.inputs.col(j) = y.segment(j, w);
    out.targets(0, j) = y[j + w];
  }
  return out;
}

/// The noisy sine window set with the paper's default options.
template <class Scalar = double>
Dataset<Scalar> noisy_sine_windows(RandomStream stream) {
  return noisy_sine_windows<Scalar>(SineWindowOptions{}, stream);
}

/// The targets of `noisy_sine_windows(options, ·)` without noise, 1 × N: sin(frequency·(j + window)).
template <class Scalar = double>
MatrixX<Scalar> sine_window_clean_targets(const SineWindowOptions& options = {}) {
  detail::check_sine_options("sine_window_clean_targets", options);
  const Index n = options.length - options.window;
  MatrixX<Scalar> clean(1, n);
  for (Index j = 0; j < n; ++j) clean(0, j) = Scalar(std::sin(options.frequency * double(j + options.window)));
  return clean;
}

/// Noisy linear regression: x_n ~ N(0, I_d) i.i.d., y_n = x_nᵀθ* + σ ε_n, ε_n ~ N(0, 1); d = θ*.size().
/// Inputs are the first d·N normals of `stream` (column by column), ε the next N. Scalar is θ*'s.
/// The clean targets are θ*ᵀ inputs. Preconditions: num_samples ≥ 1, θ* finite and non-empty, σ ≥ 0 finite.
template <class Derived>
Dataset<typename Derived::Scalar> noisy_linear_regression(const Eigen::MatrixBase<Derived>& theta_star,
                                                          sgdsde::detail::non_deduced_t<typename Derived::Scalar> noise_sd,
                                                          Index num_samples, RandomStream stream) {
  using Scalar = typename Derived::Scalar;
  const char* fn = "noisy_linear_regression";
  require(theta_star.cols() == 1 && theta_star.size() >= 1, fn, "theta_star",
          std::to_string(theta_star.rows()) + "x" + std::to_string(theta_star.cols()), "a non-empty column vector");
  require_finite(fn, "theta_star", theta_star);
  require(std::isfinite(double(noise_sd)) && noise_sd >= Scalar(0), fn, "noise_sd", noise_sd, "a finite value >= 0");
  require(num_samples >= 1, fn, "num_samples", num_samples, "an integer >= 1");
  Dataset<Scalar> out;
  out.inputs.resize(theta_star.size(), num_samples);
  stream.fill_normal(out.inputs);
  out.targets.resize(1, num_samples);
  stream.fill_normal(out.targets);
  const MatrixX<Scalar> clean = theta_star.transpose() * out.inputs;
  detail::require_finite_output(fn, "theta_star", clean);
  out.targets = clean + noise_sd * out.targets;
  detail::require_finite_output(fn, "noise_sd", out.targets);
  return out;
}

/// A random-features teacher f*(x) = A relu(W x / √d) / √m with W (m × d) and A (k × m) i.i.d. N(0, 1).
template <class Scalar>
struct RandomFeaturesTeacher {
  MatrixX<Scalar> W;
  MatrixX<Scalar> A;

  /// Draws W (width × input_dim) then A (outputs × width) from `stream` (by value: the caller's
  /// stream does not move).
  static RandomFeaturesTeacher draw(Index input_dim, Index width, Index outputs, RandomStream stream) {
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

  Index input_dim() const { return W.cols(); }
  Index width() const { return W.rows(); }
  Index outputs() const { return A.rows(); }

  /// Outputs k × N for inputs d × N (one column per sample).
  MatrixX<Scalar> operator()(const Eigen::Ref<const MatrixX<Scalar>>& x) const {
    require_shape("RandomFeaturesTeacher", "x", x, W.cols(), -1);
    using std::sqrt;
    const MatrixX<Scalar> h = (W * x).array().max(Scalar(0)) * (Scalar(1) / sqrt(Scalar(W.cols())));
    return (A * h) * (Scalar(1) / sqrt(Scalar(W.rows())));
  }
};

/// Teacher–student set: x_n ~ N(0, I_d), y_n = f*(x_n) + σ ε_n with ε_n ~ N(0, I_k), f* the teacher
/// (clean targets: teacher(inputs)). `stream` gives the inputs (first d·N normals) then the noise
/// (next k·N); draw the teacher from another substream.
template <class Scalar>
Dataset<Scalar> teacher_student(const RandomFeaturesTeacher<Scalar>& teacher,
                                sgdsde::detail::non_deduced_t<Scalar> noise_sd, Index num_samples,
                                RandomStream stream) {
  const char* fn = "teacher_student";
  require(teacher.W.size() > 0 && teacher.A.size() > 0 && teacher.A.cols() == teacher.W.rows(), fn, "teacher",
          teacher.A.cols(), "a teacher with A.cols() == W.rows() > 0");
  require(std::isfinite(double(noise_sd)) && noise_sd >= Scalar(0), fn, "noise_sd", noise_sd, "a finite value >= 0");
  require(num_samples >= 1, fn, "num_samples", num_samples, "an integer >= 1");
  Dataset<Scalar> out;
  out.inputs.resize(teacher.W.cols(), num_samples);
  stream.fill_normal(out.inputs);
  MatrixX<Scalar> eps(teacher.A.rows(), num_samples);
  stream.fill_normal(eps);
  const MatrixX<Scalar> clean = teacher(out.inputs);
  detail::require_finite_output(fn, "teacher", clean);
  out.targets = clean + noise_sd * eps;
  detail::require_finite_output(fn, "noise_sd", out.targets);
  return out;
}

}  // namespace sgdsde::data
