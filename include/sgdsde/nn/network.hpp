// sgdsde/nn/network.hpp — the MLP itself: all parameters in one flat vector with per-layer views, the
// initialisation laws and the batch-norm buffers; dense layers a = c_w W z + c_b b (Borovykh eq. 1).
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/random.hpp"
#include "sgdsde/core/types.hpp"
#include "sgdsde/nn/spec.hpp"

namespace sgdsde::nn {

/// An MLP with all parameters in ONE flat vector. Per layer l (0-based, l < L) the vector holds, in
/// order: W_l (n_{l+1} × n_l, column-major), b_l (n_{l+1}), then for hidden layers with batch norm
/// γ_l and β_l (n_{l+1} each). The views weights(l), bias(l), ... are Eigen::Maps into that vector,
/// so they stay valid as long as the vector is not resized or swapped (copying an Mlp is safe;
/// optim::train leaves the trained parameters in the vector's original buffer).
/// Scalar: float, double, or Dual<float/double> (forward-mode derivatives; no initialize()).
template <class Scalar>
class Mlp {
 public:
  using Vector = VectorX<Scalar>;
  using Matrix = MatrixX<Scalar>;
  using MatrixMap = Eigen::Map<Matrix>;
  using ConstMatrixMap = Eigen::Map<const Matrix>;
  using VectorMap = Eigen::Map<Vector>;
  using ConstVectorMap = Eigen::Map<const Vector>;
  using MatrixRef = Eigen::Ref<Matrix>;
  using ConstMatrixRef = Eigen::Ref<const Matrix>;
  using VectorRef = Eigen::Ref<Vector>;
  using ConstVectorRef = Eigen::Ref<const Vector>;

  /// Validates the spec (throws invalid_argument); parameters start at zero, γ at 1.
  explicit Mlp(MlpSpec spec) : spec_(std::move(spec)) { build(); }
  /// The spec with these widths, hidden activation and parameterisation, other fields at their defaults:
  /// Mlp<double> net({5, 32, 1});
  explicit Mlp(std::vector<Index> widths, Activation hidden_activation = Activation::relu,
               Parameterization parameterization = Parameterization::ntk)
      : spec_(make_spec(std::move(widths), hidden_activation, parameterization)) {
    build();
  }

  const MlpSpec& spec() const { return spec_; }
  /// Number of dense layers L (= widths.size() − 1).
  Index num_layers() const { return Index(spec_.widths.size()) - 1; }
  Index input_dim() const { return spec_.widths.front(); }
  Index output_dim() const { return spec_.widths.back(); }
  /// widths[k]: k = 0 is the input, k = L the output.
  Index width(Index k) const { return spec_.widths[std::size_t(k)]; }
  Index num_parameters() const { return params_.size(); }

  Vector& parameters() { return params_; }
  const Vector& parameters() const { return params_; }

  /// Draws the parameters from `stream` (continuing its sequence): one fill_normal of the whole flat
  /// vector, then per parameterisation — ntk: W, b stay N(0, 1); standard: W scaled to He/Glorot
  /// variance, b = 0 — and γ = 1, β = 0. Running statistics are reset (mean 0, variance 1).
  /// Requires Scalar float or double. A temporary stream is accepted: net.initialize(RandomStream(2)).
  void initialize(RandomStream& stream) {
    stream.fill_normal(params_);
    for (Index l = 0; l < num_layers(); ++l) {
      const LayerInfo& li = info(l);
      if (spec_.parameterization == Parameterization::standard) {
        const double var = spec_.standard_init == StandardInit::he ? 2.0 / double(li.n_in)
                                                                   : 2.0 / double(li.n_in + li.n_out);
        weights(l) *= Scalar(std::sqrt(var));
        bias(l).setZero();
      }
      if (li.batch_norm) {
        bn_scale(l).setConstant(Scalar(1));
        bn_shift(l).setZero();
        running_mean_[std::size_t(l)].setZero();
        running_var_[std::size_t(l)].setConstant(Scalar(1));
      }
    }
  }
  void initialize(RandomStream&& stream) { initialize(stream); }

  MatrixMap weights(Index l) { return {params_.data() + info(l).weights, info(l).n_out, info(l).n_in}; }
  ConstMatrixMap weights(Index l) const { return {params_.data() + info(l).weights, info(l).n_out, info(l).n_in}; }
  VectorMap bias(Index l) { return {params_.data() + info(l).bias, info(l).n_out}; }
  ConstVectorMap bias(Index l) const { return {params_.data() + info(l).bias, info(l).n_out}; }
  /// True for hidden layers when spec.batch_norm is on.
  bool has_batch_norm(Index l) const { return info(l).batch_norm; }
  /// γ_l and β_l (only for has_batch_norm(l)).
  VectorMap bn_scale(Index l) { return {params_.data() + info(l).bn_scale, info(l).n_out}; }
  ConstVectorMap bn_scale(Index l) const { return {params_.data() + info(l).bn_scale, info(l).n_out}; }
  VectorMap bn_shift(Index l) { return {params_.data() + info(l).bn_shift, info(l).n_out}; }
  ConstVectorMap bn_shift(Index l) const { return {params_.data() + info(l).bn_shift, info(l).n_out}; }
  /// Offsets of each block in the flat vector (bn_* are −1 without batch norm).
  Index weights_offset(Index l) const { return info(l).weights; }
  Index bias_offset(Index l) const { return info(l).bias; }
  Index bn_scale_offset(Index l) const { return info(l).bn_scale; }
  Index bn_shift_offset(Index l) const { return info(l).bn_shift; }
  /// c_w and c_b in a = c_w W z + c_b b: σ_w/√n_in and σ_b (ntk), 1 and 1 (standard).
  Scalar weight_multiplier(Index l) const { return Scalar(info(l).weight_multiplier); }
  Scalar bias_multiplier(Index l) const { return Scalar(info(l).bias_multiplier); }
  /// Activation φ of layer l (hidden for l < L − 1, output for the last layer).
  Activation activation(Index l) const {
    return l + 1 < num_layers() ? spec_.hidden_activation : spec_.output_activation;
  }

  /// Running statistics of batch-norm layer l (buffers, not parameters).
  Vector& running_mean(Index l) { return running_mean_[std::size_t(l)]; }
  const Vector& running_mean(Index l) const { return running_mean_[std::size_t(l)]; }
  Vector& running_var(Index l) { return running_var_[std::size_t(l)]; }
  const Vector& running_var(Index l) const { return running_var_[std::size_t(l)]; }

  /// The same network with parameters and buffers converted to Other (e.g. Dual<Scalar>).
  template <class Other>
  Mlp<Other> cast() const {
    Mlp<Other> out(spec_);
    out.parameters() = params_.template cast<Other>();
    for (Index l = 0; l < num_layers(); ++l)
      if (has_batch_norm(l)) {
        out.running_mean(l) = running_mean_[std::size_t(l)].template cast<Other>();
        out.running_var(l) = running_var_[std::size_t(l)].template cast<Other>();
      }
    return out;
  }

 private:
  struct LayerInfo {
    Index n_in = 0, n_out = 0;
    Index weights = -1, bias = -1, bn_scale = -1, bn_shift = -1;
    bool batch_norm = false;
    double weight_multiplier = 1.0, bias_multiplier = 1.0;
  };
  const LayerInfo& info(Index l) const { return layers_[std::size_t(l)]; }

  static MlpSpec make_spec(std::vector<Index> widths, Activation hidden, Parameterization parameterization) {
    MlpSpec s;
    s.widths = std::move(widths);
    s.hidden_activation = hidden;
    s.parameterization = parameterization;
    return s;
  }

  void build() {
    detail::validate_spec(spec_);
    const Index L = num_layers();
    layers_.resize(std::size_t(L));
    Index offset = 0;
    // P must fit in an Index and its bytes in a size_t: huge widths are rejected, not wrapped around.
    const Index max_count = Index((std::numeric_limits<std::size_t>::max)() / sizeof(Scalar) / 2);
    auto add = [&](Index n) {
      require(n <= max_count - offset, "Mlp", "spec.widths", "a parameter count beyond the addressable range",
              "widths whose parameter count fits in memory (n_l·n_{l+1} summed over layers)");
      offset += n;
    };
    for (Index l = 0; l < L; ++l) {
      LayerInfo& li = layers_[std::size_t(l)];
      li.n_in = spec_.widths[std::size_t(l)];
      li.n_out = spec_.widths[std::size_t(l) + 1];
      li.weights = offset;
      require(li.n_in <= max_count / li.n_out, "Mlp", "spec.widths",
              "a layer of " + std::to_string(li.n_out) + " x " + std::to_string(li.n_in) + " weights",
              "widths whose parameter count fits in memory (n_l·n_{l+1} summed over layers)");
      add(li.n_in * li.n_out);
      li.bias = offset;
      add(li.n_out);
      li.batch_norm = spec_.batch_norm && l + 1 < L;
      if (li.batch_norm) {
        li.bn_scale = offset;
        add(li.n_out);
        li.bn_shift = offset;
        add(li.n_out);
      }
      if (spec_.parameterization == Parameterization::ntk) {
        li.weight_multiplier = spec_.sigma_w / std::sqrt(double(li.n_in));
        li.bias_multiplier = spec_.sigma_b;
      }
    }
    params_ = Vector::Zero(offset);
    running_mean_.resize(std::size_t(L));
    running_var_.resize(std::size_t(L));
    for (Index l = 0; l < L; ++l)
      if (has_batch_norm(l)) {
        bn_scale(l).setConstant(Scalar(1));
        running_mean_[std::size_t(l)] = Vector::Zero(width(l + 1));
        running_var_[std::size_t(l)] = Vector::Constant(width(l + 1), Scalar(1));
      }
  }

  MlpSpec spec_;
  std::vector<LayerInfo> layers_;
  Vector params_;
  std::vector<Vector> running_mean_, running_var_;
};

}  // namespace sgdsde::nn
