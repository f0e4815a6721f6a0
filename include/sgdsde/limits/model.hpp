// sgdsde/limits/model.hpp — per-sample models over a fixed data set of N samples: the loss
// L(θ) = (1/N) Σ_n l_n(θ), its gradient and Hessian–vector products, the per-sample gradients ∇l_n whose
// covariance C is the noise of the learning SDE (Jastrzębski et al. 2018, eq. 5; Li, Tai & E 2017, SME),
// and the weighted sum Σ_n w_n ∇l_n that samples that noise in one backward pass. Every model is also an
// optim Problem (loss_and_gradient on a Batch), so optim::train runs SGD on it.
//
// The model concept (every model M here; limits/learning_sde.hpp and the studies use only this):
//   using Scalar = S; using scalar_type = S; struct Workspace; Workspace workspace() const;
//   Index num_samples() const;  Index num_parameters() const;
//   S loss(θ) const;                                      L(θ), all N samples
//   VectorX<S> gradient(θ) const;                         ∇L(θ)
//   S gradient(θ, out, ws) const;                         write-into form, returns L(θ)
//   S weighted_gradient(θ, w, out[, ws]) const;           out = Σ_n w_n ∇l_n(θ), returns Σ_n w_n l_n(θ)
//   VectorX<S> hessian_vector_product(θ, v) const;        H v, H = ∇²L(θ)
//   void hessian_vector_product(θ, v, out, ws) const;
//   MatrixX<S> per_sample_gradients(θ) const;             P × N, column n = ∇l_n(θ) (no 1/N)
//   S loss_and_gradient(θ, batch, gradient);              MEAN loss over the batch and its gradient
// Const members are safe to call concurrently from several threads: the returning forms make their own
// workspace, the write-into forms use the caller's (one workspace per thread). loss_and_gradient is not
// const (it keeps the SGD workspaces of optim::train): one model per thread for training (train_seeds
// builds one per run).
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/minibatch.hpp"
#include "sgdsde/core/types.hpp"
#include "sgdsde/curvature/hessian.hpp"
#include "sgdsde/nn/mlp.hpp"
#include "sgdsde/optim/mlp_problem.hpp"
#include "sgdsde/ou/linear_regression.hpp"
#include "sgdsde/ou/sgd_quadratic.hpp"

namespace sgdsde::limits {

namespace detail {
/// Throws unless theta is a finite vector of size p.
template <class Derived>
void check_theta(const char* fn, const char* name, const Eigen::MatrixBase<Derived>& theta, Index p) {
  require_shape(fn, name, theta, p, 1);
  if (!all_finite(theta)) require_finite(fn, name, theta);
}
/// Throws unless the batch indices lie in [0, N) and the batch is non-empty.
inline void check_batch(const char* fn, const Batch& batch, Index n) {
  require(!batch.empty(), fn, "batch.size()", batch.size(), "a batch of at least 1 sample");
  for (Index i : batch) require(i >= 0 && i < n, fn, "batch index", i, "an index in 0..N-1");
}
/// The returning forms every model shares, written once on its write-into forms (CRTP): each allocates
/// a workspace per call.
template <class Model, class Scalar>
class ReturningForms {
 public:
  using Vector = VectorX<Scalar>;
  using ConstVectorRef = Eigen::Ref<const Vector>;
  /// ∇L(θ).
  Vector gradient(const ConstVectorRef& theta) const {
    auto w = self().workspace();
    Vector g(self().num_parameters());
    self().gradient(theta, g, w);
    return g;
  }
  /// out = Σ_n w_n ∇l_n(θ); returns Σ_n w_n l_n(θ).
  Scalar weighted_gradient(const ConstVectorRef& theta, const ConstVectorRef& weights,
                           Eigen::Ref<Vector> out) const {
    auto w = self().workspace();
    return self().weighted_gradient(theta, weights, out, w);
  }
  /// H v, H = ∇²L(θ).
  Vector hessian_vector_product(const ConstVectorRef& theta, const ConstVectorRef& v) const {
    auto w = self().workspace();
    Vector hv(self().num_parameters());
    self().hessian_vector_product(theta, v, hv, w);
    return hv;
  }

 private:
  const Model& self() const { return static_cast<const Model&>(*this); }
};
}  // namespace detail

// ------------------------------------------------------------------------------------------------------
// MLP
// ------------------------------------------------------------------------------------------------------

/// An nn::Mlp with a loss over N samples (inputs d_in × N; the loss value views N targets or labels),
/// evaluated in eval mode at any parameter vector θ. Holds a COPY of the network (its architecture; the
/// parameters used are always the θ passed in), a copy of the loss value (a view of the caller's targets
/// or labels) and a view of the inputs: the caller keeps targets/labels and inputs alive and unchanged.
/// The passes over the data run in chunks of at most `chunk_size` samples (memory ∝ chunk_size × widest
/// layer); results do not depend on the chunking up to rounding. Networks with batch norm are refused
/// (see mlp_model).
template <class Scalar_, class LossFn>
class MlpModel : public detail::ReturningForms<MlpModel<Scalar_, LossFn>, Scalar_> {
  using Forms = detail::ReturningForms<MlpModel<Scalar_, LossFn>, Scalar_>;

 public:
  using Forms::gradient;
  using Forms::hessian_vector_product;
  using Forms::weighted_gradient;
  using Scalar = Scalar_;
  using scalar_type = Scalar_;
  using Vector = VectorX<Scalar>;
  using Matrix = MatrixX<Scalar>;
  using ConstVectorRef = Eigen::Ref<const Vector>;
  using VectorRef = Eigen::Ref<Vector>;

  /// Buffers of one thread: a network copy whose parameters are set to θ, the pass buffers for one chunk,
  /// and (made on the first Hessian–vector product) the tangent buffers.
  struct Workspace {
    nn::Mlp<Scalar> net;
    nn::MlpWorkspace<Scalar> ws;
    Vector chunk;
    std::unique_ptr<nn::TangentWorkspace<Scalar>> tangent;
    Workspace(const nn::Mlp<Scalar>& model, Index max_chunk)
        : net(model), ws(model, max_chunk), chunk(model.num_parameters()) {}
  };

  template <class Derived>
  MlpModel(const nn::Mlp<Scalar>& net, const LossFn& loss, const Eigen::MatrixBase<Derived>& inputs, Index chunk_size)
      : data_("mlp_model", check_net(net), loss, inputs, options(chunk_size)) {}
  /// A copy shares the views of the data and starts with fresh SGD buffers. Not assignable (the views
  /// cannot be re-seated).
  MlpModel(const MlpModel& o) : data_(o.data_) {}
  MlpModel(MlpModel&&) noexcept = default;
  MlpModel& operator=(const MlpModel&) = delete;
  MlpModel& operator=(MlpModel&&) = delete;

  Index num_samples() const { return data_.num_samples(); }
  Index num_parameters() const { return data_.net.num_parameters(); }
  /// The network copy (architecture; its parameters are those of the network passed to mlp_model).
  const nn::Mlp<Scalar>& network() const { return data_.net; }
  Index chunk_size() const { return data_.options.chunk_size; }

  Workspace workspace() const { return Workspace(data_.net, data_.max_chunk()); }

  /// L(θ) = (1/N) Σ_n l_n(θ).
  Scalar loss(const ConstVectorRef& theta) const {
    constexpr const char* fn = "MlpModel::loss";
    detail::check_theta(fn, "theta", theta, num_parameters());
    Workspace w = workspace();
    w.net.parameters() = theta;
    Scalar sum(0);
    data_.for_each_chunk([&](const auto& x, const auto& lc, Scalar weight) {
      sum += weight * nn::loss(w.net, lc, x, w.ws, nn::Mode::eval);
    });
    return sum;
  }

  /// out = ∇L(θ); returns L(θ).
  Scalar gradient(const ConstVectorRef& theta, VectorRef out, Workspace& w) const {
    constexpr const char* fn = "MlpModel::gradient";
    detail::check_theta(fn, "theta", theta, num_parameters());
    require_shape(fn, "out", out, num_parameters(), 1);
    set_parameters(fn, w, theta);
    out.setZero();
    Scalar sum(0);
    data_.for_each_chunk([&](const auto& x, const auto& lc, Scalar weight) {
      sum += weight * nn::loss_and_gradient(w.net, lc, x, w.chunk, w.ws, nn::Mode::eval);
      out.noalias() += weight * w.chunk;
    });
    return sum;
  }

  /// out = Σ_n w_n ∇l_n(θ) (no 1/N; weights of size N, any sign); returns Σ_n w_n l_n(θ). One forward
  /// pass and one backward pass per chunk, the loss adjoint of sample n scaled by w_n: no P × N matrix.
  Scalar weighted_gradient(const ConstVectorRef& theta, const ConstVectorRef& weights, VectorRef out,
                           Workspace& w) const {
    constexpr const char* fn = "MlpModel::weighted_gradient";
    detail::check_theta(fn, "theta", theta, num_parameters());
    require_shape(fn, "weights", weights, num_samples(), 1);
    if (!all_finite(weights)) require_finite(fn, "weights", weights);
    require_shape(fn, "out", out, num_parameters(), 1);
    set_parameters(fn, w, theta);
    const std::size_t last = std::size_t(w.net.num_layers() - 1);
    Scalar sum(0);
    Index first = 0;
    data_.for_each_chunk([&](const auto& chunk_inputs, const auto& lc, Scalar) {
      const Eigen::Ref<const Matrix> x(chunk_inputs);
      const Index s = x.cols();
      nn::detail::forward_pass(w.net, x, w.ws, nn::Mode::eval);
      auto f = w.ws.post[last].leftCols(s);
      auto d = w.ws.delta[last].leftCols(s);
      for (Index j = 0; j < s; ++j) {
        const Scalar wn = weights[first + j];
        sum += wn * curvature::detail::loss_chunk(lc, j, 1).sum_and_adjoint(f.col(j), d.col(j), Scalar(1));
        d.col(j) *= wn;
      }
      Scalar* target = first == 0 ? out.data() : w.chunk.data();
      nn::detail::GradientSink<Scalar> sink{w.net, w.ws, nn::Mode::eval, target, nullptr};
      nn::detail::reverse_pass(w.net, x, w.ws, sink);
      if (first != 0) out += w.chunk;
      first += s;
    });
    return sum;
  }

  /// out = H v with H = ∇²L(θ) (exact forward-over-reverse, nn::hessian_vector_product, eval mode).
  void hessian_vector_product(const ConstVectorRef& theta, const ConstVectorRef& v, VectorRef out,
                              Workspace& w) const {
    constexpr const char* fn = "MlpModel::hessian_vector_product";
    detail::check_theta(fn, "theta", theta, num_parameters());
    detail::check_theta(fn, "v", v, num_parameters());
    require_shape(fn, "out", out, num_parameters(), 1);
    set_parameters(fn, w, theta);
    if (!w.tangent) w.tangent = std::make_unique<nn::TangentWorkspace<Scalar>>(w.net, data_.max_chunk());
    out.setZero();
    data_.for_each_chunk([&](const auto& x, const auto& lc, Scalar weight) {
      nn::hessian_vector_product(w.net, lc, x, v, w.chunk, *w.tangent, nn::Mode::eval);
      out.noalias() += weight * w.chunk;
    });
  }

  /// P × N, column n = ∇l_n(θ) (nn::per_sample_gradients, eval mode). Memory P·N: small problems only.
  Matrix per_sample_gradients(const ConstVectorRef& theta) const {
    constexpr const char* fn = "MlpModel::per_sample_gradients";
    detail::check_theta(fn, "theta", theta, num_parameters());
    Workspace w = workspace();
    w.net.parameters() = theta;
    Matrix g(num_parameters(), num_samples());
    Index first = 0;
    data_.for_each_chunk([&](const auto& x, const auto& lc, Scalar) {
      auto block = g.middleCols(first, x.cols());
      nn::per_sample_gradients(w.net, lc, x, block, w.ws, nn::Mode::eval);
      first += x.cols();
    });
    return g;
  }

  /// The optim Problem member: mean loss over `batch` at θ and its gradient (optim::MlpProblem on a
  /// network copy owned by this model; its buffers grow to the largest batch seen).
  Scalar loss_and_gradient(const ConstVectorRef& theta, const Batch& batch, VectorRef gradient) {
    const Index s = Index(batch.size());
    if (!sgd_ || sgd_->problem.max_batch() < s) {
      detail::check_batch("MlpModel::loss_and_gradient", batch, num_samples());
      sgd_ = std::make_unique<SgdState>(data_, std::max<Index>(s, 1));
    }
    return sgd_->problem.loss_and_gradient(theta, batch, gradient);
  }

 private:
  struct SgdState {
    nn::Mlp<Scalar> net;
    optim::MlpProblem<Scalar, LossFn> problem;
    SgdState(const curvature::detail::ChunkedData<Scalar, LossFn>& d, Index max_batch)
        : net(d.net), problem(net, d.loss, d.inputs, max_batch) {}
  };

  // Sets the workspace network to θ after checking the workspace belongs to a model of this architecture
  // and chunk size (another model's workspace would re-size the network's parameters under its layer maps).
  void set_parameters(const char* fn, Workspace& w, const ConstVectorRef& theta) const {
    const nn::MlpSpec &mine = data_.net.spec(), &theirs = w.net.spec();
    const bool same = theirs.widths == mine.widths && theirs.hidden_activation == mine.hidden_activation &&
                      theirs.output_activation == mine.output_activation &&
                      theirs.parameterization == mine.parameterization && theirs.sigma_w == mine.sigma_w &&
                      theirs.sigma_b == mine.sigma_b && theirs.leaky_relu_slope == mine.leaky_relu_slope &&
                      theirs.standard_init == mine.standard_init && w.ws.max_batch >= data_.max_chunk();
    require(same, fn, "workspace", "one from another model", "a workspace from this model's workspace()");
    w.net.parameters() = theta;
  }

  static const nn::Mlp<Scalar>& check_net(const nn::Mlp<Scalar>& net) {
    require(!net.spec().batch_norm, "mlp_model", "net", "a network with batch norm",
            "a network without batch norm (batch statistics couple the samples of a batch, so per-sample "
            "gradients and the gradient-noise covariance C of the learning SDE are undefined)");
    return net;
  }
  static curvature::DataPassOptions options(Index chunk_size) {
    require(chunk_size >= 1, "mlp_model", "chunk_size", chunk_size, "an integer >= 1");
    curvature::DataPassOptions o;
    // Clamped so that the chunk count ceil(N / chunk_size) cannot overflow (a chunk never exceeds N).
    o.chunk_size = std::min(chunk_size, std::numeric_limits<Index>::max() / 2);
    o.mode = nn::Mode::eval;
    return o;
  }

  curvature::detail::ChunkedData<Scalar, LossFn> data_;
  std::unique_ptr<SgdState> sgd_;
};

/// The per-sample model of an MLP: l_n(θ) = loss(f_θ(x_n), y_n) over the N columns of `inputs`
/// (d_in × N, the loss value views N targets or labels). Eval mode. Linear / logistic regression are the
/// Mlp with widths {d, k} (identity output). Copies the network, views inputs and targets/labels (keep
/// them alive). Throws invalid_argument for batch norm (argument `net`: per-sample gradients are
/// undefined when batch statistics couple the samples), chunk_size < 1, inputs not d_in × N finite with
/// N ≥ 1, targets/labels not matching N, non-finite network parameters.
template <class Scalar, class LossFn, class Derived>
MlpModel<Scalar, LossFn> mlp_model(const nn::Mlp<Scalar>& net, const LossFn& loss,
                                   const Eigen::MatrixBase<Derived>& inputs, Index chunk_size = 1024) {
  static_assert(std::is_same_v<typename Derived::Scalar, Scalar>, "inputs must have the network's Scalar");
  return MlpModel<Scalar, LossFn>(net, loss, inputs, chunk_size);
}
template <class Scalar, class LossFn>
MlpModel<Scalar, LossFn> mlp_model(const nn::Mlp<Scalar>&, const LossFn&, MatrixX<Scalar>&&, Index = 1024) = delete;

// ------------------------------------------------------------------------------------------------------
// Linear least squares
// ------------------------------------------------------------------------------------------------------

/// l_n(θ) = ½ (x_nᵀθ − y_n)² over the N samples of a LinearRegression (copies X and y).
template <class Scalar_>
class RegressionModel : public detail::ReturningForms<RegressionModel<Scalar_>, Scalar_> {
  using Forms = detail::ReturningForms<RegressionModel<Scalar_>, Scalar_>;

 public:
  using Forms::gradient;
  using Forms::hessian_vector_product;
  using Forms::weighted_gradient;
  using Scalar = Scalar_;
  using scalar_type = Scalar_;
  using Vector = VectorX<Scalar>;
  using Matrix = MatrixX<Scalar>;
  using ConstVectorRef = Eigen::Ref<const Vector>;
  using VectorRef = Eigen::Ref<Vector>;
  /// The residuals r = Xᵀθ − y of one call.
  struct Workspace {
    Vector residual;
  };

  explicit RegressionModel(const LinearRegression<Scalar>& data) : x_(data.inputs()), y_(data.targets()) {}

  Index num_samples() const { return x_.cols(); }
  Index num_parameters() const { return x_.rows(); }
  const Matrix& inputs() const { return x_; }
  const Vector& targets() const { return y_; }
  Workspace workspace() const { return Workspace{Vector(num_samples())}; }

  Scalar loss(const ConstVectorRef& theta) const {
    detail::check_theta("RegressionModel::loss", "theta", theta, num_parameters());
    return Scalar(0.5) * (x_.transpose() * theta - y_).squaredNorm() / Scalar(double(num_samples()));
  }
  /// out = ∇L = X r / N; returns L.
  Scalar gradient(const ConstVectorRef& theta, VectorRef out, Workspace& w) const {
    constexpr const char* fn = "RegressionModel::gradient";
    detail::check_theta(fn, "theta", theta, num_parameters());
    require_shape(fn, "out", out, num_parameters(), 1);
    residuals(theta, w);
    out.noalias() = x_ * w.residual;
    out /= Scalar(double(num_samples()));
    return Scalar(0.5) * w.residual.squaredNorm() / Scalar(double(num_samples()));
  }
  /// out = Σ_n w_n r_n x_n; returns Σ_n w_n r_n²/2.
  Scalar weighted_gradient(const ConstVectorRef& theta, const ConstVectorRef& weights, VectorRef out,
                           Workspace& w) const {
    constexpr const char* fn = "RegressionModel::weighted_gradient";
    detail::check_theta(fn, "theta", theta, num_parameters());
    require_shape(fn, "weights", weights, num_samples(), 1);
    if (!all_finite(weights)) require_finite(fn, "weights", weights);
    require_shape(fn, "out", out, num_parameters(), 1);
    residuals(theta, w);
    const Scalar sum = Scalar(0.5) * (weights.array() * w.residual.array().square()).sum();
    w.residual.array() *= weights.array();
    out.noalias() = x_ * w.residual;
    return sum;
  }
  /// out = H v = X Xᵀ v / N (independent of θ).
  void hessian_vector_product(const ConstVectorRef& theta, const ConstVectorRef& v, VectorRef out,
                              Workspace& w) const {
    constexpr const char* fn = "RegressionModel::hessian_vector_product";
    detail::check_theta(fn, "theta", theta, num_parameters());
    detail::check_theta(fn, "v", v, num_parameters());
    require_shape(fn, "out", out, num_parameters(), 1);
    w.residual.noalias() = x_.transpose() * v;
    out.noalias() = x_ * w.residual;
    out /= Scalar(double(num_samples()));
  }
  /// Column n = r_n x_n.
  Matrix per_sample_gradients(const ConstVectorRef& theta) const {
    detail::check_theta("RegressionModel::per_sample_gradients", "theta", theta, num_parameters());
    const Vector r = x_.transpose() * theta - y_;
    return x_ * r.asDiagonal();
  }
  /// Mean loss over the batch and its gradient (1/S) Σ_{n∈batch} r_n x_n.
  Scalar loss_and_gradient(const ConstVectorRef& theta, const Batch& batch, VectorRef gradient) {
    constexpr const char* fn = "RegressionModel::loss_and_gradient";
    detail::check_theta(fn, "theta", theta, num_parameters());
    require_shape(fn, "gradient", gradient, num_parameters(), 1);
    detail::check_batch(fn, batch, num_samples());
    gradient.setZero();
    Scalar sum(0);
    for (Index n : batch) {
      const Scalar r = x_.col(n).dot(theta) - y_[n];
      sum += Scalar(0.5) * r * r;
      gradient.noalias() += r * x_.col(n);
    }
    const Scalar inv = Scalar(1) / Scalar(double(batch.size()));
    gradient *= inv;
    return sum * inv;
  }

 private:
  void residuals(const ConstVectorRef& theta, Workspace& w) const {
    w.residual.resize(num_samples());
    w.residual.noalias() = x_.transpose() * theta;
    w.residual -= y_;
  }
  Matrix x_;
  Vector y_;
};

/// The per-sample model of a least-squares problem: l_n(θ) = ½ (x_nᵀθ − y_n)² (copies the data).
template <class Scalar>
RegressionModel<Scalar> regression_model(const LinearRegression<Scalar>& data) {
  return RegressionModel<Scalar>(data);
}

// ------------------------------------------------------------------------------------------------------
// Quadratic with per-sample offsets
// ------------------------------------------------------------------------------------------------------

/// The quadratic of per_sample_quadratic(H, Xi) with θ* = 0: l_n(θ) = ½ θᵀHθ + ξ_nᵀθ, so
/// ∇l_n = Hθ + ξ_n, L = ½ θᵀHθ + ξ̄ᵀθ (ξ̄ = 0 up to rounding), C = Xi Xiᵀ/N whatever θ (copies H, Xi).
template <class Scalar_>
class QuadraticModel : public detail::ReturningForms<QuadraticModel<Scalar_>, Scalar_> {
  using Forms = detail::ReturningForms<QuadraticModel<Scalar_>, Scalar_>;

 public:
  using Forms::gradient;
  using Forms::hessian_vector_product;
  using Forms::weighted_gradient;
  using Scalar = Scalar_;
  using scalar_type = Scalar_;
  using Vector = VectorX<Scalar>;
  using Matrix = MatrixX<Scalar>;
  using ConstVectorRef = Eigen::Ref<const Vector>;
  using VectorRef = Eigen::Ref<Vector>;
  /// Holds Hθ of one call.
  struct Workspace {
    Vector h_theta;
  };

  explicit QuadraticModel(const Quadratic<Scalar>& q) : h_(check(q).hessian()), xi_(q.offsets()) {
    xi_mean_ = xi_.rowwise().mean();
  }

  Index num_samples() const { return xi_.cols(); }
  Index num_parameters() const { return h_.rows(); }
  const Matrix& hessian() const { return h_; }
  const Matrix& offsets() const { return xi_; }
  Workspace workspace() const { return Workspace{Vector(num_parameters())}; }

  Scalar loss(const ConstVectorRef& theta) const {
    detail::check_theta("QuadraticModel::loss", "theta", theta, num_parameters());
    return Scalar(0.5) * theta.dot(h_ * theta) + xi_mean_.dot(theta);
  }
  /// out = Hθ + ξ̄; returns L.
  Scalar gradient(const ConstVectorRef& theta, VectorRef out, Workspace& w) const {
    constexpr const char* fn = "QuadraticModel::gradient";
    detail::check_theta(fn, "theta", theta, num_parameters());
    require_shape(fn, "out", out, num_parameters(), 1);
    w.h_theta.noalias() = h_ * theta;
    out = w.h_theta + xi_mean_;
    return Scalar(0.5) * theta.dot(w.h_theta) + xi_mean_.dot(theta);
  }
  /// out = (Σ w_n) Hθ + Xi w; returns Σ_n w_n l_n.
  Scalar weighted_gradient(const ConstVectorRef& theta, const ConstVectorRef& weights, VectorRef out,
                           Workspace& w) const {
    constexpr const char* fn = "QuadraticModel::weighted_gradient";
    detail::check_theta(fn, "theta", theta, num_parameters());
    require_shape(fn, "weights", weights, num_samples(), 1);
    if (!all_finite(weights)) require_finite(fn, "weights", weights);
    require_shape(fn, "out", out, num_parameters(), 1);
    w.h_theta.noalias() = h_ * theta;
    const Scalar total = weights.sum();
    out.noalias() = xi_ * weights;
    const Scalar sum = total * Scalar(0.5) * theta.dot(w.h_theta) + out.dot(theta);
    out += total * w.h_theta;
    return sum;
  }
  /// out = H v.
  void hessian_vector_product(const ConstVectorRef& theta, const ConstVectorRef& v, VectorRef out,
                              Workspace&) const {
    constexpr const char* fn = "QuadraticModel::hessian_vector_product";
    detail::check_theta(fn, "theta", theta, num_parameters());
    detail::check_theta(fn, "v", v, num_parameters());
    require_shape(fn, "out", out, num_parameters(), 1);
    out.noalias() = h_ * v;
  }
  /// Column n = Hθ + ξ_n.
  Matrix per_sample_gradients(const ConstVectorRef& theta) const {
    detail::check_theta("QuadraticModel::per_sample_gradients", "theta", theta, num_parameters());
    Matrix g = xi_;
    g.colwise() += h_ * theta;
    return g;
  }
  /// Mean loss over the batch and its gradient Hθ + (1/S) Σ_{n∈batch} ξ_n.
  Scalar loss_and_gradient(const ConstVectorRef& theta, const Batch& batch, VectorRef gradient) {
    constexpr const char* fn = "QuadraticModel::loss_and_gradient";
    detail::check_theta(fn, "theta", theta, num_parameters());
    require_shape(fn, "gradient", gradient, num_parameters(), 1);
    detail::check_batch(fn, batch, num_samples());
    gradient.setZero();
    for (Index n : batch) gradient += xi_.col(n);
    gradient /= Scalar(double(batch.size()));
    const Scalar lin = gradient.dot(theta);
    const Vector ht = h_ * theta;
    gradient += ht;
    return Scalar(0.5) * theta.dot(ht) + lin;
  }

 private:
  static const Quadratic<Scalar>& check(const Quadratic<Scalar>& q) {
    require(q.has_samples(), "quadratic_model", "q", "a Quadratic without per-sample offsets",
            "a Quadratic made by per_sample_quadratic(H, Xi) (the per-sample gradients must be known)");
    return q;
  }
  Matrix h_, xi_;
  Vector xi_mean_;
};

/// The per-sample model of per_sample_quadratic(H, Xi) (θ* = 0): ∇l_n(θ) = Hθ + ξ_n. Throws for a
/// Quadratic built from (H, C) without offsets.
template <class Scalar>
QuadraticModel<Scalar> quadratic_model(const Quadratic<Scalar>& q) {
  return QuadraticModel<Scalar>(q);
}

}  // namespace sgdsde::limits
