// sgdsde/curvature/hessian.hpp — the Hessian H of an MLP's training loss L(θ) = (1/N) Σₙ lₙ(θ) as a matrix-free
// LinearOperator (Jastrzębski et al. 2018 §2 "width of a minimum" and Fig. 3): exact forward-over-reverse HVP chunked
// over the data, the paper's central finite-difference HVP, the generalised Gauss–Newton operator, the dense Hessian.
#pragma once

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include <Eigen/Core>

#include "sgdsde/core/dataset.hpp"
#include "sgdsde/core/error.hpp"
#include "sgdsde/core/types.hpp"
#include "sgdsde/curvature/operator.hpp"
#include "sgdsde/nn/mlp.hpp"

namespace sgdsde::curvature {

/// How an operator passes over the N samples: in ⌈N/chunk_size⌉ consecutive chunks of nearly equal size, at
/// most `chunk_size` columns each (memory ∝ chunk_size × the widest layer, so the 60,000 Fashion-MNIST images
/// never sit in one batch), and in which batch-norm mode. Every chunk gives the derivative of the MEAN loss over its n_c samples; the operator
/// returns Σ_c (n_c/N)·(chunk result), which is the derivative of L = (1/N) Σₙ lₙ.
///  - Mode::eval: batch norm uses the running statistics (constants), samples do not interact and the
///    result does not depend on chunk_size (up to rounding). Networks without batch norm: either mode.
///  - Mode::train: batch norm uses each chunk's own batch statistics and H includes their dependence on θ;
///    the operator is then the size-weighted average of the chunk Hessians and DEPENDS on chunk_size
///    (and on the order of the samples), as the minibatch loss of training does.
struct DataPassOptions {
  Index chunk_size = 1024;
  nn::Mode mode = nn::Mode::eval;
};

namespace detail {

/// The loss of samples [first, first + count) of a loss value over N samples (a view, no copy).
inline nn::SoftmaxCrossEntropy loss_chunk(const nn::SoftmaxCrossEntropy& loss, Index first, Index count) {
  return nn::SoftmaxCrossEntropy(loss.labels.segment(first, count));
}
template <class Scalar>
nn::SquaredError<Scalar> loss_chunk(const nn::SquaredError<Scalar>& loss, Index first, Index count) {
  return nn::SquaredError<Scalar>(loss.targets.middleCols(first, count));
}

/// Calls f(loss) with the loss value of a Dataset: SquaredError(targets) or SoftmaxCrossEntropy(labels).
template <class Scalar, class F>
decltype(auto) with_dataset_loss(const char* fn, const Dataset<Scalar>& data, F&& f) {
  data.validate(fn, "data");
  if (data.has_targets()) return f(nn::SquaredError<Scalar>(data.targets));
  return f(nn::SoftmaxCrossEntropy(data.labels));
}

template <class Scalar>
void require_finite_parameters(const char* fn, const nn::Mlp<Scalar>& net, const char* name = "net") {
  if (!all_finite(net.parameters())) require_finite(fn, name, net.parameters());
}

/// What every data-set operator holds: its own copy of the network (so later changes to the caller's
/// network do not move the point θ of the operator, and perturbations never touch the caller's), the
/// loss value and a view of the inputs (both of which the caller keeps alive and unchanged).
template <class Scalar, class LossFn>
struct ChunkedData {
  using InputsView = Eigen::Map<const MatrixX<Scalar>, 0, Eigen::OuterStride<>>;
  nn::Mlp<Scalar> net;
  LossFn loss;
  InputsView inputs;
  DataPassOptions options;

  template <class Derived>
  ChunkedData(const char* fn, const nn::Mlp<Scalar>& model, const LossFn& loss_fn,
              const Eigen::MatrixBase<Derived>& x, const DataPassOptions& opts)
      : net(model), loss(loss_fn), inputs(nn::detail::stored_view<MatrixX<Scalar>>(fn, "inputs", x)), options(opts) {
    nn::detail::static_check_loss<LossFn, Scalar>();
    static_assert(std::is_same_v<typename Derived::Scalar, Scalar>, "inputs must have the network's Scalar");
    require_shape(fn, "inputs", inputs, net.input_dim(), -1);
    require(inputs.cols() >= 1, fn, "inputs.cols()", inputs.cols(), "at least 1 sample (column)");
    if (!all_finite(inputs)) require_finite(fn, "inputs", inputs);
    require(opts.chunk_size >= 1, fn, "options.chunk_size", opts.chunk_size, "an integer >= 1");
    require(opts.mode == nn::Mode::eval || opts.mode == nn::Mode::train, fn, "options.mode", int(opts.mode),
            "nn::Mode::eval or nn::Mode::train");
    require_finite_parameters(fn, net);
    loss.check(fn, net.output_dim(), inputs.cols());
  }

  Index num_samples() const { return inputs.cols(); }
  Index max_chunk() const { return std::min(options.chunk_size, num_samples()); }

  /// f(x_c, loss_c, weight_c) for every chunk, weight_c = n_c / N: K = ⌈N / chunk_size⌉ consecutive chunks
  /// of nearly equal sizes (they differ by at most 1, so no chunk is a tiny remainder).
  template <class F>
  void for_each_chunk(F&& f) const {
    const Index n = num_samples();
    const Index k = (n + options.chunk_size - 1) / options.chunk_size;
    for (Index c = 0; c < k; ++c) {
      const Index first = c * (n / k) + std::min(c, n % k);
      const Index count = n / k + (c < n % k ? 1 : 0);
      f(inputs.middleCols(first, count), loss_chunk(loss, first, count), Scalar(double(count) / double(n)));
    }
  }
};

template <class Scalar, class LossFn>
struct HvpState {
  ChunkedData<Scalar, LossFn> data;
  nn::TangentWorkspace<Scalar> tw;
  VectorX<Scalar> chunk_hv;
  template <class Derived>
  HvpState(const char* fn, const nn::Mlp<Scalar>& net, const LossFn& loss, const Eigen::MatrixBase<Derived>& x,
           const DataPassOptions& o)
      : data(fn, net, loss, x, o), tw(data.net, data.max_chunk()), chunk_hv(net.num_parameters()) {}
};

template <class Scalar, class LossFn>
struct FiniteDifferenceState {
  ChunkedData<Scalar, LossFn> data;
  nn::Mlp<Scalar> shifted;  ///< θ ± h v (a second copy: data.net stays at θ)
  nn::MlpWorkspace<Scalar> ws;
  VectorX<Scalar> chunk_gradient, plus, minus;
  Scalar epsilon;
  template <class Derived>
  FiniteDifferenceState(const char* fn, const nn::Mlp<Scalar>& net, const LossFn& loss,
                        const Eigen::MatrixBase<Derived>& x, Scalar eps, const DataPassOptions& o)
      : data(fn, net, loss, x, o),
        shifted(data.net),
        ws(data.net, data.max_chunk()),
        chunk_gradient(net.num_parameters()),
        plus(net.num_parameters()),
        minus(net.num_parameters()),
        epsilon(eps) {}

  /// ∇L at the parameters of `shifted`, chunked.
  void gradient(VectorX<Scalar>& out) {
    out.setZero();
    data.for_each_chunk([&](const auto& x, const auto& loss, Scalar w) {
      nn::loss_and_gradient(shifted, loss, x, chunk_gradient, ws, data.options.mode);
      out.noalias() += w * chunk_gradient;
    });
  }
};

template <class Scalar, class LossFn>
struct GaussNewtonState {
  ChunkedData<Scalar, LossFn> data;
  nn::TangentWorkspace<Scalar> tw;
  nn::MlpWorkspace<Scalar> ws;
  MatrixX<Scalar> outputs, tangent, cotangent, no_input_direction, no_input_vjp;
  VectorX<Scalar> chunk_gv;
  template <class Derived>
  GaussNewtonState(const char* fn, const nn::Mlp<Scalar>& net, const LossFn& loss,
                   const Eigen::MatrixBase<Derived>& x, const DataPassOptions& o)
      : data(fn, net, loss, x, o),
        tw(data.net, data.max_chunk()),
        ws(data.net, data.max_chunk()),
        outputs(net.output_dim(), data.max_chunk()),
        tangent(net.output_dim(), data.max_chunk()),
        cotangent(net.output_dim(), data.max_chunk()),
        chunk_gv(net.num_parameters()) {}
};

/// The dense matrix of an operator, column j = A e_j (O(n) applications).
template <class Scalar>
MatrixX<Scalar> operator_columns(const LinearOperator<Scalar>& op) {
  const Index n = op.dim();
  MatrixX<Scalar> a(n, n);
  VectorX<Scalar> e = VectorX<Scalar>::Zero(n);
  for (Index j = 0; j < n; ++j) {
    e[j] = Scalar(1);
    op.apply(e, a.col(j));
    e[j] = Scalar(0);
  }
  return a;
}

}  // namespace detail

/// The Hessian H = ∇²L(θ) of the mean training loss L = (1/N) Σₙ l(f_θ(xₙ), yₙ) at the network's current
/// parameters, as an operator v ↦ H v: the exact forward-over-reverse HVP of nn/tangent.hpp (no finite
/// differences) on chunks of `options.chunk_size` samples, averaged with weights n_c/N (batch-norm mode and
/// chunking: see DataPassOptions). `inputs` is d_in × N (samples as columns) and `loss` holds the N targets or
/// labels; a minibatch is the same call on the batch's columns. The operator copies the network (it stays at
/// this θ) but only VIEWS the inputs and the loss's targets: keep them alive and unchanged while it is used.
/// One application costs ≈ 2.5 gradients over the N samples (about 4.5 with batch norm in train mode).
/// Not thread-safe (one workspace per operator; copy-construct a second operator per thread).
/// Throws invalid_argument on inputs of the wrong shape or non-finite, a loss not matching N samples,
/// non-finite parameters, chunk_size < 1; an application throws on a non-finite or wrong-size v.
template <class Scalar, class LossFn, class Derived>
LinearOperator<Scalar> hessian_operator(const nn::Mlp<Scalar>& net, const LossFn& loss,
                                        const Eigen::MatrixBase<Derived>& inputs, DataPassOptions options = {}) {
  auto st = std::make_shared<detail::HvpState<Scalar, LossFn>>("hessian_operator", net, loss, inputs, options);
  return LinearOperator<Scalar>(
      net.num_parameters(), [st](const Eigen::Ref<const VectorX<Scalar>>& v, Eigen::Ref<VectorX<Scalar>> out) {
        out.setZero();
        st->data.for_each_chunk([&](const auto& x, const auto& chunk_loss, Scalar w) {
          nn::hessian_vector_product(st->data.net, chunk_loss, x, v, st->chunk_hv, st->tw, st->data.options.mode);
          out.noalias() += w * st->chunk_hv;
        });
      });
}
/// Same on a Dataset (squared error on its targets, or softmax cross-entropy on its labels).
template <class Scalar>
LinearOperator<Scalar> hessian_operator(const nn::Mlp<Scalar>& net, const Dataset<Scalar>& data,
                                        DataPassOptions options = {}) {
  return detail::with_dataset_loss("hessian_operator", data,
                                   [&](const auto& loss) { return hessian_operator(net, loss, data.inputs, options); });
}
template <class Scalar, class LossFn>
LinearOperator<Scalar> hessian_operator(const nn::Mlp<Scalar>&, const LossFn&, MatrixX<Scalar>&&,
                                        DataPassOptions = {}) = delete;  // the view of the inputs would dangle
template <class Scalar>
LinearOperator<Scalar> hessian_operator(const nn::Mlp<Scalar>&, Dataset<Scalar>&&, DataPassOptions = {}) = delete;

/// The central finite-difference HVP that Jastrzębski et al. (2018, §4) used for Fig. 3:
///   H v ≈ (∇L(θ + h v) − ∇L(θ − h v)) / (2h),  h = ε / ‖v‖,
/// so ε is the Euclidean length of the parameter perturbation whatever the scale of v (v = 0 gives 0).
/// Truncation error O(ε²)·‖v‖ (third derivatives), rounding error O(u·|∇L| ‖v‖/ε) with u the unit
/// roundoff: ε ≈ (3u)^{1/3}·‖θ‖-scale, about 1e-5 in double and 1e-2 in float, for smooth activations.
/// With ReLU, kinks crossed within ±ε add an error that does not shrink with ε (docs/theory.md). The
/// gradients are chunked like hessian_operator (same DataPassOptions). The perturbed parameters live in
/// a copy of the network. Cost: 2 gradients over the N samples per application. Throws invalid_argument
/// unless ε is finite and > 0 (and as hessian_operator).
template <class Scalar, class LossFn, class Derived>
LinearOperator<Scalar> finite_difference_hessian_operator(const nn::Mlp<Scalar>& net, const LossFn& loss,
                                                          const Eigen::MatrixBase<Derived>& inputs,
                                                          sgdsde::detail::non_deduced_t<Scalar> epsilon,
                                                          DataPassOptions options = {}) {
  const char* fn = "finite_difference_hessian_operator";
  using std::isfinite;
  require(isfinite(epsilon) && epsilon > Scalar(0), fn, "epsilon", epsilon, "a finite value > 0");
  auto st = std::make_shared<detail::FiniteDifferenceState<Scalar, LossFn>>(fn, net, loss, inputs, epsilon, options);
  return LinearOperator<Scalar>(
      net.num_parameters(), [st](const Eigen::Ref<const VectorX<Scalar>>& v, Eigen::Ref<VectorX<Scalar>> out) {
        using std::isfinite;
        if (!all_finite(v)) require_finite("finite_difference_hessian_operator", "v", v);
        const Scalar norm = v.norm();
        if (norm == Scalar(0)) {
          out.setZero();
          return;
        }
        const Scalar h = st->epsilon / norm;
        const VectorX<Scalar>& theta = st->data.net.parameters();
        st->shifted.parameters() = theta + h * v;
        st->gradient(st->plus);
        st->shifted.parameters() = theta - h * v;
        st->gradient(st->minus);
        out = (st->plus - st->minus) / (Scalar(2) * h);
      });
}
/// Same on a Dataset.
template <class Scalar>
LinearOperator<Scalar> finite_difference_hessian_operator(const nn::Mlp<Scalar>& net, const Dataset<Scalar>& data,
                                                          sgdsde::detail::non_deduced_t<Scalar> epsilon,
                                                          DataPassOptions options = {}) {
  return detail::with_dataset_loss("finite_difference_hessian_operator", data, [&](const auto& loss) {
    return finite_difference_hessian_operator(net, loss, data.inputs, epsilon, options);
  });
}
template <class Scalar, class LossFn>
LinearOperator<Scalar> finite_difference_hessian_operator(const nn::Mlp<Scalar>&, const LossFn&, MatrixX<Scalar>&&,
                                                          sgdsde::detail::non_deduced_t<Scalar>,
                                                          DataPassOptions = {}) = delete;  // dangling view
template <class Scalar>
LinearOperator<Scalar> finite_difference_hessian_operator(const nn::Mlp<Scalar>&, Dataset<Scalar>&&,
                                                          sgdsde::detail::non_deduced_t<Scalar>,
                                                          DataPassOptions = {}) = delete;

/// The (generalised) Gauss–Newton operator G = (1/N) Σₙ Jₙᵀ H_ℓ,ₙ Jₙ, Jₙ = ∂f(xₙ)/∂θ and H_ℓ,ₙ = ∂²l/∂f² at
/// f(xₙ): H_ℓ = I for squared error (then G is also the Fisher of the Gaussian model), diag(p) − p pᵀ for
/// softmax cross-entropy (p = softmax f; then G equals the Fisher information of the model's predictive
/// distribution). G is positive semi-definite and equals H minus the terms with second derivatives of f:
/// for a network linear in θ with squared loss G = H exactly. Applied as jvp (J v), the loss's output
/// Hessian, output_vjp (Jᵀ u) on each chunk; chunking and batch-norm mode as hessian_operator (in train
/// mode J includes the chunk statistics). Cost ≈ one dual-number forward + one gradient per application.
template <class Scalar, class LossFn, class Derived>
LinearOperator<Scalar> gauss_newton_operator(const nn::Mlp<Scalar>& net, const LossFn& loss,
                                             const Eigen::MatrixBase<Derived>& inputs, DataPassOptions options = {}) {
  auto st = std::make_shared<detail::GaussNewtonState<Scalar, LossFn>>("gauss_newton_operator", net, loss, inputs,
                                                                         options);
  return LinearOperator<Scalar>(
      net.num_parameters(), [st](const Eigen::Ref<const VectorX<Scalar>>& v, Eigen::Ref<VectorX<Scalar>> out) {
        out.setZero();
        const nn::Mode mode = st->data.options.mode;
        st->data.for_each_chunk([&](const auto& x, const auto& chunk_loss, Scalar w) {
          const Index s = x.cols();
          auto f = st->outputs.leftCols(s);
          auto t = st->tangent.leftCols(s);
          auto u = st->cotangent.leftCols(s);
          nn::jvp(st->data.net, x, v, st->no_input_direction, f, t, st->tw, mode);
          chunk_loss.adjoint_tangent(f, t, u, w / Scalar(double(s)));  // (n_c/N)(1/n_c) H_ℓ J v
          nn::output_vjp(st->data.net, x, u, st->chunk_gv, st->no_input_vjp, st->ws, mode);
          out += st->chunk_gv;
        });
      });
}
/// Same on a Dataset.
template <class Scalar>
LinearOperator<Scalar> gauss_newton_operator(const nn::Mlp<Scalar>& net, const Dataset<Scalar>& data,
                                             DataPassOptions options = {}) {
  return detail::with_dataset_loss("gauss_newton_operator", data, [&](const auto& loss) {
    return gauss_newton_operator(net, loss, data.inputs, options);
  });
}
template <class Scalar, class LossFn>
LinearOperator<Scalar> gauss_newton_operator(const nn::Mlp<Scalar>&, const LossFn&, MatrixX<Scalar>&&,
                                             DataPassOptions = {}) = delete;  // dangling view
template <class Scalar>
LinearOperator<Scalar> gauss_newton_operator(const nn::Mlp<Scalar>&, Dataset<Scalar>&&, DataPassOptions = {}) = delete;

/// A dense Hessian and how symmetric it came out before symmetrisation.
template <class Scalar>
struct DenseHessian {
  MatrixX<Scalar> hessian;  ///< (A + Aᵀ)/2 of the P × P matrix A of exact HVP columns A e_j
  Scalar asymmetry{};       ///< ‖A − Aᵀ‖_F / ‖A‖_F before symmetrisation (0 for A = 0)
  Outcome outcome;          ///< non_finite; ill_conditioned when asymmetry > √ε (fewer than half the digits agree)
};

/// Largest P accepted by dense_hessian (a P × P matrix: 8·P² bytes in double, 0.8 GB at the limit).
inline constexpr Index dense_hessian_max_parameters = 10000;

/// The exact Hessian of a small model as a dense matrix: P applications of hessian_operator to the unit
/// vectors (cost P HVPs over the data), symmetrised, with the asymmetry it had as the check (the exact HVP
/// is symmetric up to rounding: an asymmetry far above ε signals a wrong derivative or lost digits).
/// Throws invalid_argument if P > dense_hessian_max_parameters (and as hessian_operator).
template <class Scalar, class LossFn, class Derived>
DenseHessian<Scalar> dense_hessian(const nn::Mlp<Scalar>& net, const LossFn& loss,
                                   const Eigen::MatrixBase<Derived>& inputs, DataPassOptions options = {}) {
  require(net.num_parameters() <= dense_hessian_max_parameters, "dense_hessian", "net.num_parameters()",
          net.num_parameters(), "at most dense_hessian_max_parameters = 10000 (use hessian_operator)");
  const MatrixX<Scalar> a = detail::operator_columns(hessian_operator(net, loss, inputs, options));
  DenseHessian<Scalar> r;
  r.hessian = (a + a.transpose()) * Scalar(0.5);
  if (!all_finite(a)) {
    r.outcome = Outcome::failure(Status::non_finite, -1, 0.0, "dense_hessian: a Hessian entry is not finite");
    return r;
  }
  const Scalar norm = a.norm();
  r.asymmetry = norm > Scalar(0) ? Scalar((a - a.transpose()).norm() / norm) : Scalar(0);
  using std::sqrt;
  if (r.asymmetry > sqrt(std::numeric_limits<Scalar>::epsilon()))
    r.outcome = Outcome::failure(Status::ill_conditioned, -1, double(r.asymmetry),
                                 "dense_hessian: the HVP columns are asymmetric beyond sqrt(eps)");
  return r;
}
/// Same on a Dataset.
template <class Scalar>
DenseHessian<Scalar> dense_hessian(const nn::Mlp<Scalar>& net, const Dataset<Scalar>& data,
                                   DataPassOptions options = {}) {
  return detail::with_dataset_loss("dense_hessian", data,
                                   [&](const auto& loss) { return dense_hessian(net, loss, data.inputs, options); });
}

}  // namespace sgdsde::curvature
