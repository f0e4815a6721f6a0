// sgdsde/nn/mlp.hpp — a multilayer perceptron templated on Scalar (float, double, Dual<·>) with
// reverse-mode gradients; dense layers in NTK parameterisation (Borovykh et al. 2019, eq. 1) or standard.
//
// API notes for callers (optim, curvature, ntk, bench): the public API below is stable.
//   nn::MlpSpec spec{{784, 100, 100, 100, 10}};      spec.loss = nn::Loss::softmax_cross_entropy;
//   nn::Mlp<float> net(spec);  RandomStream rs(seed, id);  net.initialize(rs);
//   nn::MlpWorkspace<float> ws(net, max_batch);  Eigen::VectorXf g(net.num_parameters());
//   float loss = nn::loss_and_gradient(net, X /*d_in×S*/, labels /*VectorXi, S*/, g, ws);
//   net.parameters() -= eta * g;  if (spec.batch_norm) nn::update_batch_norm_statistics(net, ws);
// Layout: samples are COLUMNS. Batch loss = mean over samples. No call allocates once `ws` exists,
// provided inputs/targets are contiguous column blocks (a Matrix, .leftCols/.middleCols, a Map):
// gather a minibatch into a preallocated matrix first. Inputs are checked (finite); if the parameters
// have diverged the loss/gradient are non-finite, and gradient_outcome() turns that into a Status.
// Related: nn/tangent.hpp (hessian_vector_product), nn/jvp.hpp (jvp), nn/per_sample.hpp
// (per_sample_gradients, output_jacobian).
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/random.hpp"
#include "sgdsde/nn/activation.hpp"
#include "sgdsde/nn/batch_norm.hpp"
#include "sgdsde/nn/loss.hpp"

namespace sgdsde::nn {

/// ntk:      a = (σ_w/√n_in) W z + σ_b b, W, b ~ N(0, 1)   (Borovykh eq. 1, neural-tangents convention).
/// standard: a = W z + b, W ~ N(0, 2/n_in) (He) or N(0, 2/(n_in + n_out)) (Glorot), b = 0.
enum class Parameterization { ntk, standard };
enum class StandardInit { he, glorot };

/// Train mode normalises batch-norm layers with the statistics of the current batch; eval mode with
/// the running statistics. Networks without batch norm compute the same thing in both modes.
enum class Mode { train, eval };

/// Architecture of an MLP. widths = {d_in, n_1, ..., n_{L−1}, d_out} (L dense layers).
/// Batch norm (if on) follows the affine map of every HIDDEN layer and precedes its activation:
/// z_{l+1} = φ(γ ⊙ (a − μ)/√(v + ε) + β). Its γ (init 1) and β (init 0) are parameters; the running
/// mean (init 0) and running variance (init 1) are buffers, updated by update_batch_norm_statistics as
/// r ← (1 − momentum) r + momentum·(batch value), with the unbiased batch variance (PyTorch convention).
struct MlpSpec {
  std::vector<Eigen::Index> widths;
  Activation hidden_activation = Activation::relu;
  Activation output_activation = Activation::identity;
  Loss loss = Loss::squared_error;
  Parameterization parameterization = Parameterization::ntk;
  double sigma_w = 1.0;  ///< NTK parameterisation only
  double sigma_b = 0.1;  ///< NTK parameterisation only (0 makes the biases inert)
  StandardInit standard_init = StandardInit::he;  ///< standard parameterisation only
  double leaky_relu_slope = 0.01;
  bool batch_norm = false;
  double batch_norm_epsilon = 1e-5;
  double batch_norm_momentum = 0.1;
};

namespace detail {
inline void validate_spec(const MlpSpec& s) {
  require(s.widths.size() >= 2, "Mlp", "spec.widths.size()", s.widths.size(), "at least 2 (input and output)");
  for (std::size_t k = 0; k < s.widths.size(); ++k)
    require(s.widths[k] > 0, "Mlp", "spec.widths[k]", s.widths[k], "every width > 0");
  require_positive("Mlp", "spec.sigma_w", s.sigma_w);
  require(std::isfinite(s.sigma_b) && s.sigma_b >= 0, "Mlp", "spec.sigma_b", s.sigma_b, "a finite value >= 0");
  require(std::isfinite(s.leaky_relu_slope) && s.leaky_relu_slope >= 0 && s.leaky_relu_slope < 1, "Mlp",
          "spec.leaky_relu_slope", s.leaky_relu_slope, "a value in [0, 1)");
  require_positive("Mlp", "spec.batch_norm_epsilon", s.batch_norm_epsilon);
  require(s.batch_norm_momentum >= 0 && s.batch_norm_momentum <= 1, "Mlp", "spec.batch_norm_momentum",
          s.batch_norm_momentum, "a value in [0, 1]");
  if (s.loss == Loss::softmax_cross_entropy)
    require(s.widths.back() >= 2, "Mlp", "spec.widths.back()", s.widths.back(),
            ">= 2 classes for softmax cross-entropy");
}
}  // namespace detail

/// An MLP with all parameters in ONE flat vector. Per layer l (0-based, l < L) the vector holds, in
/// order: W_l (n_{l+1} × n_l, column-major), b_l (n_{l+1}), then for hidden layers with batch norm
/// γ_l and β_l (n_{l+1} each). The views weights(l), bias(l), ... are Eigen::Maps into that vector,
/// so they stay valid as long as the vector is not resized (copying an Mlp is safe).
template <class Scalar>
class Mlp {
 public:
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  using MatrixMap = Eigen::Map<Matrix>;
  using ConstMatrixMap = Eigen::Map<const Matrix>;
  using VectorMap = Eigen::Map<Vector>;
  using ConstVectorMap = Eigen::Map<const Vector>;
  using MatrixRef = Eigen::Ref<Matrix>;
  using ConstMatrixRef = Eigen::Ref<const Matrix>;
  using VectorRef = Eigen::Ref<Vector>;
  using ConstVectorRef = Eigen::Ref<const Vector>;
  using LabelsRef = Eigen::Ref<const Eigen::VectorXi>;

  /// Validates the spec (throws invalid_argument); parameters start at zero, γ at 1.
  explicit Mlp(MlpSpec spec) : spec_(std::move(spec)) {
    detail::validate_spec(spec_);
    const Eigen::Index L = num_layers();
    layers_.resize(std::size_t(L));
    Eigen::Index offset = 0;
    for (Eigen::Index l = 0; l < L; ++l) {
      LayerInfo& li = layers_[std::size_t(l)];
      li.n_in = spec_.widths[std::size_t(l)];
      li.n_out = spec_.widths[std::size_t(l) + 1];
      li.weights = offset;
      offset += li.n_in * li.n_out;
      li.bias = offset;
      offset += li.n_out;
      li.batch_norm = spec_.batch_norm && l + 1 < L;
      if (li.batch_norm) {
        li.bn_scale = offset;
        offset += li.n_out;
        li.bn_shift = offset;
        offset += li.n_out;
      }
      if (spec_.parameterization == Parameterization::ntk) {
        li.weight_multiplier = spec_.sigma_w / std::sqrt(double(li.n_in));
        li.bias_multiplier = spec_.sigma_b;
      } else {
        li.weight_multiplier = 1.0;
        li.bias_multiplier = 1.0;
      }
    }
    params_ = Vector::Zero(offset);
    running_mean_.resize(std::size_t(L));
    running_var_.resize(std::size_t(L));
    for (Eigen::Index l = 0; l < L; ++l)
      if (has_batch_norm(l)) {
        bn_scale(l).setConstant(Scalar(1));
        running_mean_[std::size_t(l)] = Vector::Zero(width(l + 1));
        running_var_[std::size_t(l)] = Vector::Constant(width(l + 1), Scalar(1));
      }
  }

  const MlpSpec& spec() const { return spec_; }
  /// Number of dense layers L (= widths.size() − 1).
  Eigen::Index num_layers() const { return Eigen::Index(spec_.widths.size()) - 1; }
  Eigen::Index input_dim() const { return spec_.widths.front(); }
  Eigen::Index output_dim() const { return spec_.widths.back(); }
  /// widths[k]: k = 0 is the input, k = L the output.
  Eigen::Index width(Eigen::Index k) const { return spec_.widths[std::size_t(k)]; }
  Eigen::Index num_parameters() const { return params_.size(); }

  Vector& parameters() { return params_; }
  const Vector& parameters() const { return params_; }

  /// Draws the parameters from `stream` (continuing its sequence): one fill_normal of the whole flat
  /// vector, then per parameterisation — ntk: W, b stay N(0, 1); standard: W scaled to He/Glorot
  /// variance, b = 0 — and γ = 1, β = 0. Running statistics are reset (mean 0, variance 1).
  /// Requires Scalar float or double.
  void initialize(RandomStream& stream) {
    stream.fill_normal(params_);
    for (Eigen::Index l = 0; l < num_layers(); ++l) {
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

  MatrixMap weights(Eigen::Index l) { return {params_.data() + info(l).weights, info(l).n_out, info(l).n_in}; }
  ConstMatrixMap weights(Eigen::Index l) const {
    return {params_.data() + info(l).weights, info(l).n_out, info(l).n_in};
  }
  VectorMap bias(Eigen::Index l) { return {params_.data() + info(l).bias, info(l).n_out}; }
  ConstVectorMap bias(Eigen::Index l) const { return {params_.data() + info(l).bias, info(l).n_out}; }
  /// True for hidden layers when spec.batch_norm is on.
  bool has_batch_norm(Eigen::Index l) const { return info(l).batch_norm; }
  /// γ_l and β_l (only for has_batch_norm(l)).
  VectorMap bn_scale(Eigen::Index l) { return {params_.data() + info(l).bn_scale, info(l).n_out}; }
  ConstVectorMap bn_scale(Eigen::Index l) const { return {params_.data() + info(l).bn_scale, info(l).n_out}; }
  VectorMap bn_shift(Eigen::Index l) { return {params_.data() + info(l).bn_shift, info(l).n_out}; }
  ConstVectorMap bn_shift(Eigen::Index l) const { return {params_.data() + info(l).bn_shift, info(l).n_out}; }
  /// Offsets of each block in the flat vector (bn_* are −1 without batch norm).
  Eigen::Index weights_offset(Eigen::Index l) const { return info(l).weights; }
  Eigen::Index bias_offset(Eigen::Index l) const { return info(l).bias; }
  Eigen::Index bn_scale_offset(Eigen::Index l) const { return info(l).bn_scale; }
  Eigen::Index bn_shift_offset(Eigen::Index l) const { return info(l).bn_shift; }
  /// c_w and c_b in a = c_w W z + c_b b: σ_w/√n_in and σ_b (ntk), 1 and 1 (standard).
  Scalar weight_multiplier(Eigen::Index l) const { return Scalar(info(l).weight_multiplier); }
  Scalar bias_multiplier(Eigen::Index l) const { return Scalar(info(l).bias_multiplier); }

  /// Running statistics of batch-norm layer l (buffers, not parameters).
  Vector& running_mean(Eigen::Index l) { return running_mean_[std::size_t(l)]; }
  const Vector& running_mean(Eigen::Index l) const { return running_mean_[std::size_t(l)]; }
  Vector& running_var(Eigen::Index l) { return running_var_[std::size_t(l)]; }
  const Vector& running_var(Eigen::Index l) const { return running_var_[std::size_t(l)]; }

  /// The same network with parameters and buffers converted to Other (e.g. Dual<Scalar>).
  template <class Other>
  Mlp<Other> cast() const {
    Mlp<Other> out(spec_);
    out.parameters() = params_.template cast<Other>();
    for (Eigen::Index l = 0; l < num_layers(); ++l)
      if (has_batch_norm(l)) {
        out.running_mean(l) = running_mean_[std::size_t(l)].template cast<Other>();
        out.running_var(l) = running_var_[std::size_t(l)].template cast<Other>();
      }
    return out;
  }

 private:
  struct LayerInfo {
    Eigen::Index n_in = 0, n_out = 0;
    Eigen::Index weights = -1, bias = -1, bn_scale = -1, bn_shift = -1;
    bool batch_norm = false;
    double weight_multiplier = 1.0, bias_multiplier = 1.0;
  };
  const LayerInfo& info(Eigen::Index l) const { return layers_[std::size_t(l)]; }

  MlpSpec spec_;
  std::vector<LayerInfo> layers_;
  Vector params_;
  std::vector<Vector> running_mean_, running_var_;
};

using Mlpf = Mlp<float>;
using Mlpd = Mlp<double>;

/// Preallocated buffers for batches of up to `max_batch` samples; every network function takes one
/// and allocates nothing else. Holds the activations of the last forward pass (and, after a train-mode
/// pass, the batch statistics used by update_batch_norm_statistics). One workspace per thread.
template <class Scalar>
struct MlpWorkspace {
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;

  MlpWorkspace(const Mlp<Scalar>& model, Eigen::Index max_batch_size) : widths(model.spec().widths) {
    require(max_batch_size > 0, "MlpWorkspace", "max_batch", max_batch_size, "> 0");
    max_batch = max_batch_size;
    const std::size_t L = std::size_t(model.num_layers());
    pre.resize(L);
    post.resize(L);
    delta.resize(L);
    bn_hat.resize(L);
    bn_mean.resize(L);
    bn_var.resize(L);
    bn_inv_std.resize(L);
    for (std::size_t l = 0; l < L; ++l) {
      const Eigen::Index n = widths[l + 1];
      pre[l].resize(n, max_batch);
      post[l].resize(n, max_batch);
      delta[l].resize(n, max_batch);
      if (model.has_batch_norm(Eigen::Index(l))) {
        bn_hat[l].resize(n, max_batch);
        bn_mean[l].resize(n);
        bn_var[l].resize(n);
        bn_inv_std[l].resize(n);
      }
    }
    input.resize(widths.front(), max_batch);
    input_tangent.resize(widths.front(), max_batch);
    per_sample_loss.resize(max_batch);
  }

  /// Largest batch this workspace serves.
  Eigen::Index max_batch = 0;
  std::vector<Eigen::Index> widths;
  // Per dense layer l: pre = activation input, post = φ(pre) (post of the last layer = outputs f),
  // delta = adjoint buffer, bn_hat = normalised x̂ (batch-norm layers), bn_* = statistics used.
  std::vector<Matrix> pre, post, delta, bn_hat;
  std::vector<Vector> bn_mean, bn_var, bn_inv_std;
  Matrix input, input_tangent;  ///< staging for inputs of another scalar type (dual networks)
  Vector per_sample_loss;
  Eigen::Index batch = 0;          ///< batch size of the last forward pass
  bool has_batch_statistics = false;  ///< last forward pass was train mode with batch norm
};

namespace detail {

// The three products of a layer, through one function each so that every Scalar instantiates
// Eigen's GEMM once per shape of transposition (compile time), never with a temporary:
// c = α a b, c = α a bᵀ, c = α aᵀ b, or c += ... when `accumulate`.
template <class Scalar>
void gemm_nn(typename Mlp<Scalar>::MatrixRef c, Scalar alpha, const typename Mlp<Scalar>::ConstMatrixRef& a,
             const typename Mlp<Scalar>::ConstMatrixRef& b, bool accumulate = false) {
  if (accumulate)
    c.noalias() += (alpha * a) * b;
  else
    c.noalias() = (alpha * a) * b;
}
template <class Scalar>
void gemm_nt(typename Mlp<Scalar>::MatrixRef c, Scalar alpha, const typename Mlp<Scalar>::ConstMatrixRef& a,
             const typename Mlp<Scalar>::ConstMatrixRef& b, bool accumulate = false) {
  if (accumulate)
    c.noalias() += (alpha * a) * b.transpose();
  else
    c.noalias() = (alpha * a) * b.transpose();
}
template <class Scalar>
void gemm_tn(typename Mlp<Scalar>::MatrixRef c, Scalar alpha, const typename Mlp<Scalar>::ConstMatrixRef& a,
             const typename Mlp<Scalar>::ConstMatrixRef& b, bool accumulate = false) {
  if (accumulate)
    c.noalias() += (alpha * a.transpose()) * b;
  else
    c.noalias() = (alpha * a.transpose()) * b;
}

template <class Scalar>
void check_workspace(const char* fn, const Mlp<Scalar>& model, const MlpWorkspace<Scalar>& ws) {
  require(ws.widths == model.spec().widths, fn, "workspace", "built for other widths",
          "a workspace made for this network");
}

/// Checks the input batch (width, 1 ≤ S ≤ max_batch, finite) and returns S.
template <class Scalar, class DX>
Eigen::Index check_inputs(const char* fn, const Mlp<Scalar>& model, const Eigen::MatrixBase<DX>& x,
                          const MlpWorkspace<Scalar>& ws) {
  check_workspace(fn, model, ws);
  require_shape(fn, "inputs", x, model.input_dim(), -1);
  require(x.cols() >= 1, fn, "inputs.cols()", x.cols(), "a batch of at least 1 sample");
  require(x.cols() <= ws.max_batch, fn, "inputs.cols()", x.cols(), "<= the workspace's max_batch");
  if (!x.allFinite()) require_finite(fn, "inputs", x);
  return x.cols();
}

/// Forward pass on S = x.cols() samples: fills ws.pre/post (and batch-norm statistics in train mode).
template <class Scalar>
void forward_pass(const Mlp<Scalar>& model, const Eigen::Ref<const typename Mlp<Scalar>::Matrix>& x,
                  MlpWorkspace<Scalar>& ws, Mode mode) {
  const Eigen::Index S = x.cols();
  const Eigen::Index L = model.num_layers();
  const Scalar slope(model.spec().leaky_relu_slope);
  const Scalar eps(model.spec().batch_norm_epsilon);
  bool stats = false;
  for (Eigen::Index l = 0; l < L; ++l) {
    const std::size_t k = std::size_t(l);
    const Activation act = l + 1 < L ? model.spec().hidden_activation : model.spec().output_activation;
    auto pre = ws.pre[k].leftCols(S);
    auto post = ws.post[k].leftCols(S);
    const Scalar cw = model.weight_multiplier(l);
    const Scalar cb = model.bias_multiplier(l);
    auto a = model.has_batch_norm(l) ? ws.bn_hat[k].leftCols(S) : ws.pre[k].leftCols(S);
    if (l == 0)
      gemm_nn<Scalar>(a, cw, model.weights(l), x);
    else
      gemm_nn<Scalar>(a, cw, model.weights(l), ws.post[k - 1].leftCols(S));
    a.colwise() += cb * model.bias(l);
    if (model.has_batch_norm(l)) {
      if (mode == Mode::train) {
        batch_norm_train_forward(a, model.bn_scale(l), model.bn_shift(l), eps, ws.bn_mean[k], ws.bn_var[k],
                                 ws.bn_inv_std[k], pre);
        stats = true;
      } else {
        batch_norm_eval_forward(a, model.bn_scale(l), model.bn_shift(l), model.running_mean(l),
                                model.running_var(l), eps, ws.bn_inv_std[k], pre);
      }
    }
    apply_activation(act, slope, pre, post);
  }
  ws.batch = S;
  ws.has_batch_statistics = stats;
}

/// Reverse pass. On entry ws.delta[L−1] holds dL/df (d_out × S); on exit `grad` (if non-null,
/// num_parameters long) holds dL/dθ and `input_grad` (if non-null, d_in × S) dL/dx. Uses the
/// activations of the forward pass just run on the same x and mode.
template <class Scalar>
void backward_pass(const Mlp<Scalar>& model, const Eigen::Ref<const typename Mlp<Scalar>::Matrix>& x,
                   MlpWorkspace<Scalar>& ws, Mode mode, Scalar* grad,
                   Eigen::Ref<typename Mlp<Scalar>::Matrix>* input_grad) {
  using Matrix = typename Mlp<Scalar>::Matrix;
  using Vector = typename Mlp<Scalar>::Vector;
  const Eigen::Index S = x.cols();
  const Eigen::Index L = model.num_layers();
  const Scalar slope(model.spec().leaky_relu_slope);
  for (Eigen::Index l = L - 1; l >= 0; --l) {
    const std::size_t k = std::size_t(l);
    const Activation act = l + 1 < L ? model.spec().hidden_activation : model.spec().output_activation;
    auto d = ws.delta[k].leftCols(S);
    multiply_by_activation_derivative(act, slope, ws.pre[k].leftCols(S), ws.post[k].leftCols(S), d);
    const Scalar cw = model.weight_multiplier(l);
    const Scalar cb = model.bias_multiplier(l);
    const Eigen::Index n_out = model.width(l + 1), n_in = model.width(l);
    if (model.has_batch_norm(l)) {
      Scalar* gs = grad ? grad + model.bn_scale_offset(l) : nullptr;
      Scalar* gb = grad ? grad + model.bn_shift_offset(l) : nullptr;
      if (mode == Mode::train)
        batch_norm_train_backward(ws.bn_hat[k].leftCols(S), model.bn_scale(l), ws.bn_inv_std[k], d, gs, gb);
      else
        batch_norm_eval_backward(ws.bn_hat[k].leftCols(S), model.bn_scale(l), ws.bn_inv_std[k], d, gs, gb);
    }
    if (grad) {
      Eigen::Map<Matrix> gw(grad + model.weights_offset(l), n_out, n_in);
      if (l == 0)
        gemm_nt<Scalar>(gw, cw, d, x);
      else
        gemm_nt<Scalar>(gw, cw, d, ws.post[k - 1].leftCols(S));
      Eigen::Map<Vector>(grad + model.bias_offset(l), n_out).noalias() = cb * d.rowwise().sum();
    }
    if (l > 0) {
      gemm_tn<Scalar>(ws.delta[k - 1].leftCols(S), cw, model.weights(l), d);
    } else if (input_grad) {
      gemm_tn<Scalar>(*input_grad, cw, model.weights(l), d);
    }
  }
}

/// Fills ws.delta[L−1] with scale·∂(Σ_s l_s)/∂f and returns Σ_s l_s (squared error).
template <class Scalar>
Scalar output_adjoint(const Mlp<Scalar>& model, const Eigen::Ref<const typename Mlp<Scalar>::Matrix>& targets,
                      MlpWorkspace<Scalar>& ws, Scalar scale) {
  const std::size_t k = std::size_t(model.num_layers() - 1);
  const Eigen::Index S = ws.batch;
  return squared_error_sum(ws.post[k].leftCols(S), targets, ws.delta[k].leftCols(S), scale);
}
/// Same for softmax cross-entropy; per-sample losses go to ws.per_sample_loss.
template <class Scalar>
Scalar output_adjoint(const Mlp<Scalar>& model, const Eigen::Ref<const Eigen::VectorXi>& labels,
                      MlpWorkspace<Scalar>& ws, Scalar scale) {
  const std::size_t k = std::size_t(model.num_layers() - 1);
  const Eigen::Index S = ws.batch;
  return softmax_cross_entropy_sum(ws.post[k].leftCols(S), labels, ws.delta[k].leftCols(S), scale,
                                   ws.per_sample_loss.data());
}

template <class Scalar>
void check_targets(const char* fn, const Mlp<Scalar>& model,
                   const Eigen::Ref<const typename Mlp<Scalar>::Matrix>& targets, Eigen::Index S) {
  require(model.spec().loss == Loss::squared_error, fn, "targets", "a d_out x S matrix",
          "integer labels (the network's loss is softmax cross-entropy)");
  require_shape(fn, "targets", targets, model.output_dim(), S);
  if (!targets.allFinite()) require_finite(fn, "targets", targets);
}
template <class Scalar>
void check_targets(const char* fn, const Mlp<Scalar>& model, const Eigen::Ref<const Eigen::VectorXi>& labels,
                   Eigen::Index S) {
  require(model.spec().loss == Loss::softmax_cross_entropy, fn, "targets", "integer labels",
          "a d_out x S matrix (the network's loss is squared error)");
  require(labels.size() == S, fn, "labels.size()", labels.size(), "one label per input column");
  require_labels(fn, labels, model.output_dim());
}

}  // namespace detail

/// Forward pass: outputs (d_out × S) = f(inputs), inputs d_in × S with 1 ≤ S ≤ ws.max_batch.
/// Default eval mode (running batch-norm statistics). Throws invalid_argument on wrong shapes or
/// non-finite inputs.
template <class Scalar>
void forward(const Mlp<Scalar>& model, const typename Mlp<Scalar>::ConstMatrixRef& inputs,
             typename Mlp<Scalar>::MatrixRef outputs, MlpWorkspace<Scalar>& ws, Mode mode = Mode::eval) {
  const Eigen::Index S = detail::check_inputs("forward", model, inputs, ws);
  require_shape("forward", "outputs", outputs, model.output_dim(), S);
  detail::forward_pass(model, inputs, ws, mode);
  outputs = ws.post[std::size_t(model.num_layers() - 1)].leftCols(S);
}

/// Mean squared-error loss L = (1/S) Σ_s ½‖f(x_s) − y_s‖² (targets d_out × S) and its gradient
/// dL/dθ written to `gradient` (num_parameters). Default train mode (batch statistics; running
/// statistics are NOT updated — call update_batch_norm_statistics). Exact up to rounding.
template <class Scalar>
Scalar loss_and_gradient(const Mlp<Scalar>& model, const typename Mlp<Scalar>::ConstMatrixRef& inputs,
                         const typename Mlp<Scalar>::ConstMatrixRef& targets,
                         typename Mlp<Scalar>::VectorRef gradient, MlpWorkspace<Scalar>& ws,
                         Mode mode = Mode::train) {
  const char* fn = "loss_and_gradient";
  const Eigen::Index S = detail::check_inputs(fn, model, inputs, ws);
  detail::check_targets(fn, model, targets, S);
  require_shape(fn, "gradient", gradient, model.num_parameters(), 1);
  detail::forward_pass(model, inputs, ws, mode);
  const Scalar inv_s = Scalar(1) / Scalar(double(S));
  const Scalar sum = detail::output_adjoint(model, targets, ws, inv_s);
  detail::backward_pass<Scalar>(model, inputs, ws, mode, gradient.data(), nullptr);
  return sum * inv_s;
}

/// Mean softmax cross-entropy L = (1/S) Σ_s (logsumexp f(x_s) − f(x_s)_{y_s}) for labels in
/// [0, d_out) and its gradient; otherwise as above.
template <class Scalar>
Scalar loss_and_gradient(const Mlp<Scalar>& model, const typename Mlp<Scalar>::ConstMatrixRef& inputs,
                         const typename Mlp<Scalar>::LabelsRef& labels, typename Mlp<Scalar>::VectorRef gradient,
                         MlpWorkspace<Scalar>& ws, Mode mode = Mode::train) {
  const char* fn = "loss_and_gradient";
  const Eigen::Index S = detail::check_inputs(fn, model, inputs, ws);
  detail::check_targets(fn, model, labels, S);
  require_shape(fn, "gradient", gradient, model.num_parameters(), 1);
  detail::forward_pass(model, inputs, ws, mode);
  const Scalar inv_s = Scalar(1) / Scalar(double(S));
  const Scalar sum = detail::output_adjoint(model, labels, ws, inv_s);
  detail::backward_pass<Scalar>(model, inputs, ws, mode, gradient.data(), nullptr);
  return sum * inv_s;
}

/// Mean loss only (targets: d_out × S matrix or integer labels per spec.loss). Default eval mode.
template <class Scalar>
Scalar loss(const Mlp<Scalar>& model, const typename Mlp<Scalar>::ConstMatrixRef& inputs,
            const typename Mlp<Scalar>::ConstMatrixRef& targets, MlpWorkspace<Scalar>& ws, Mode mode = Mode::eval) {
  const Eigen::Index S = detail::check_inputs("loss", model, inputs, ws);
  detail::check_targets("loss", model, targets, S);
  detail::forward_pass(model, inputs, ws, mode);
  return detail::output_adjoint(model, targets, ws, Scalar(1)) / Scalar(double(S));
}
template <class Scalar>
Scalar loss(const Mlp<Scalar>& model, const typename Mlp<Scalar>::ConstMatrixRef& inputs,
            const typename Mlp<Scalar>::LabelsRef& labels, MlpWorkspace<Scalar>& ws, Mode mode = Mode::eval) {
  const Eigen::Index S = detail::check_inputs("loss", model, inputs, ws);
  detail::check_targets("loss", model, labels, S);
  detail::forward_pass(model, inputs, ws, mode);
  return detail::output_adjoint(model, labels, ws, Scalar(1)) / Scalar(double(S));
}

/// Gradient of the mean loss with respect to the INPUTS, dL/dX (d_in × S); returns the loss.
/// Default train mode. (Column s is (1/S)·∂l_s/∂x_s when batch norm is off or in eval mode.)
template <class Scalar>
Scalar loss_input_gradient(const Mlp<Scalar>& model, const typename Mlp<Scalar>::ConstMatrixRef& inputs,
                           const typename Mlp<Scalar>::ConstMatrixRef& targets,
                           typename Mlp<Scalar>::MatrixRef input_gradient, MlpWorkspace<Scalar>& ws,
                           Mode mode = Mode::train) {
  const char* fn = "loss_input_gradient";
  const Eigen::Index S = detail::check_inputs(fn, model, inputs, ws);
  detail::check_targets(fn, model, targets, S);
  require_shape(fn, "input_gradient", input_gradient, model.input_dim(), S);
  detail::forward_pass(model, inputs, ws, mode);
  const Scalar inv_s = Scalar(1) / Scalar(double(S));
  const Scalar sum = detail::output_adjoint(model, targets, ws, inv_s);
  detail::backward_pass<Scalar>(model, inputs, ws, mode, nullptr, &input_gradient);
  return sum * inv_s;
}
template <class Scalar>
Scalar loss_input_gradient(const Mlp<Scalar>& model, const typename Mlp<Scalar>::ConstMatrixRef& inputs,
                           const typename Mlp<Scalar>::LabelsRef& labels,
                           typename Mlp<Scalar>::MatrixRef input_gradient, MlpWorkspace<Scalar>& ws,
                           Mode mode = Mode::train) {
  const char* fn = "loss_input_gradient";
  const Eigen::Index S = detail::check_inputs(fn, model, inputs, ws);
  detail::check_targets(fn, model, labels, S);
  require_shape(fn, "input_gradient", input_gradient, model.input_dim(), S);
  detail::forward_pass(model, inputs, ws, mode);
  const Scalar inv_s = Scalar(1) / Scalar(double(S));
  const Scalar sum = detail::output_adjoint(model, labels, ws, inv_s);
  detail::backward_pass<Scalar>(model, inputs, ws, mode, nullptr, &input_gradient);
  return sum * inv_s;
}

/// Vector–Jacobian product of the outputs: with F = f(X) (d_out × S) and a cotangent U of the same
/// shape, parameter_vjp = Σ_{k,s} U_ks ∂F_ks/∂θ (num_parameters) and input_vjp = ∂⟨U, F⟩/∂X
/// (d_in × S). Pass an empty (0-size) vector/matrix to skip either. Default eval mode.
template <class Scalar>
void output_vjp(const Mlp<Scalar>& model, const typename Mlp<Scalar>::ConstMatrixRef& inputs,
                const typename Mlp<Scalar>::ConstMatrixRef& cotangent, typename Mlp<Scalar>::VectorRef parameter_vjp,
                typename Mlp<Scalar>::MatrixRef input_vjp, MlpWorkspace<Scalar>& ws, Mode mode = Mode::eval) {
  const char* fn = "output_vjp";
  const Eigen::Index S = detail::check_inputs(fn, model, inputs, ws);
  require_shape(fn, "cotangent", cotangent, model.output_dim(), S);
  if (!cotangent.allFinite()) require_finite(fn, "cotangent", cotangent);
  const bool want_p = parameter_vjp.size() != 0, want_x = input_vjp.size() != 0;
  if (want_p) require_shape(fn, "parameter_vjp", parameter_vjp, model.num_parameters(), 1);
  if (want_x) require_shape(fn, "input_vjp", input_vjp, model.input_dim(), S);
  detail::forward_pass(model, inputs, ws, mode);
  ws.delta[std::size_t(model.num_layers() - 1)].leftCols(S) = cotangent;
  detail::backward_pass<Scalar>(model, inputs, ws, mode, want_p ? parameter_vjp.data() : nullptr,
                                want_x ? &input_vjp : nullptr);
}

/// Status of a loss/gradient evaluation: success, or Status::non_finite (value = the loss, message
/// naming the first non-finite entry) when the loss or the gradient is not finite — e.g. after the
/// parameters diverged. Cheap (one pass over the gradient).
template <class Scalar, class Derived>
Outcome gradient_outcome(Scalar loss, const Eigen::MatrixBase<Derived>& gradient) {
  using std::isfinite;
  if (!isfinite(loss))
    return Outcome::failure(Status::non_finite, -1, double(loss), "loss is not finite");
  if (!gradient.allFinite()) {
    for (Eigen::Index i = 0; i < gradient.size(); ++i)
      if (!isfinite(gradient(i)))
        return Outcome::failure(Status::non_finite, -1, double(loss),
                                "gradient entry " + std::to_string(i) + " is not finite");
  }
  return Outcome{};
}

/// Running-statistics update from the batch statistics of the last train-mode pass held in `ws`
/// (see MlpSpec). No-op for networks without batch norm. Throws if `ws` holds no batch statistics.
template <class Scalar>
void update_batch_norm_statistics(Mlp<Scalar>& model, const MlpWorkspace<Scalar>& ws) {
  if (!model.spec().batch_norm) return;
  detail::check_workspace("update_batch_norm_statistics", model, ws);
  require(ws.has_batch_statistics, "update_batch_norm_statistics", "workspace", "without batch statistics",
          "a workspace whose last forward pass was in train mode");
  const Scalar m(model.spec().batch_norm_momentum);
  const Eigen::Index S = ws.batch;
  const Scalar unbias = S > 1 ? Scalar(double(S) / double(S - 1)) : Scalar(1);
  for (Eigen::Index l = 0; l < model.num_layers(); ++l) {
    if (!model.has_batch_norm(l)) continue;
    const std::size_t k = std::size_t(l);
    model.running_mean(l) = (Scalar(1) - m) * model.running_mean(l) + m * ws.bn_mean[k];
    model.running_var(l) = (Scalar(1) - m) * model.running_var(l) + (m * unbias) * ws.bn_var[k];
  }
}

}  // namespace sgdsde::nn
