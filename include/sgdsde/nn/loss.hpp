// sgdsde/nn/loss.hpp — the losses of the MLP as values holding views of the caller's data: squared
// error l = ½‖f − y‖² (docs/conventions.md) and softmax cross-entropy with integer labels; the batch
// loss is the MEAN of l over the S samples (columns). Each gives its output adjoint and its tangent.
#pragma once

#include <cmath>
#include <string>
#include <type_traits>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/types.hpp"

namespace sgdsde::nn {

/// Throws unless every label lies in [0, classes).
inline void require_labels(const char* function, const Eigen::Ref<const Labels>& labels, Index classes) {
  for (Index s = 0; s < labels.size(); ++s)
    if (labels[s] < 0 || labels[s] >= classes)
      sgdsde::detail::throw_invalid_argument(function, "labels",
                                             "label " + std::to_string(labels[s]) + " at sample " + std::to_string(s),
                                             ("labels in [0, " + std::to_string(classes) + ")").c_str());
}

namespace detail {
/// A view of `m` without a hidden copy: m must be stored (a matrix, a Map, a column block).
template <class T, class Derived>
Eigen::Map<const T, 0, Eigen::OuterStride<>> stored_view(const char* fn, const char* name,
                                                         const Eigen::MatrixBase<Derived>& m) {
  static_assert(bool(Derived::Flags & Eigen::DirectAccessBit),
                "a loss holds a view of stored data: pass a matrix/vector or a block of one, not an expression");
  constexpr bool row = bool(Derived::Flags & Eigen::RowMajorBit);
  static_assert(!row || Derived::RowsAtCompileTime == 1, "a loss needs column-major targets (samples as columns)");
  if (!row) require(m.innerStride() == 1 || m.rows() <= 1, fn, name, "a strided view", "contiguous columns");
  return {m.derived().data(), m.rows(), m.cols(), Eigen::OuterStride<>(row ? m.innerStride() : m.outerStride())};
}
}  // namespace detail

/// l(f, y) = ½‖f − y‖²; `targets` is a d_out × S view of the caller's matrix (it must outlive the loss).
/// SquaredError(Y) deduces Scalar from Y; SquaredError(Y.leftCols(S)) views the first S samples.
template <class Scalar>
struct SquaredError {
  Eigen::Ref<const MatrixX<Scalar>> targets;

  template <class Derived>
  SquaredError(const Eigen::MatrixBase<Derived>& y)  // NOLINT: implicit, a loss converts from its targets
      : targets(detail::stored_view<MatrixX<Scalar>>("SquaredError", "targets", y)) {
    static_assert(std::is_same_v<typename Derived::Scalar, Scalar>, "targets must have the network's Scalar");
  }
  SquaredError(MatrixX<Scalar>&&) = delete;  // a view of a temporary would dangle

  static constexpr const char* name = "squared_error";
  Index num_samples() const { return targets.cols(); }

  /// Throws unless the targets are d_out × S and finite.
  void check(const char* fn, Index output_dim, Index S) const {
    require_shape(fn, "targets", targets, output_dim, S);
    if (!targets.allFinite()) require_finite(fn, "targets", targets);
  }

  /// Σ_s ½‖f_s − y_s‖² over the columns of F, and G = scale·(F − Y) = scale·∂(Σ_s l_s)/∂F.
  /// With scale = 1/S, G is the gradient of the mean loss. G may not alias F.
  template <class DF, class DG>
  Scalar sum_and_adjoint(const Eigen::MatrixBase<DF>& f, const Eigen::MatrixBase<DG>& g_, Scalar scale) const {
    auto& g = const_cast<Eigen::MatrixBase<DG>&>(g_).derived();
    g = f - targets;
    const Scalar sum = Scalar(0.5) * g.squaredNorm();
    g *= scale;
    return sum;
  }

  /// Tangent of the adjoint along ḟ: scale·ḟ.
  template <class DF, class DFD, class DD>
  void adjoint_tangent(const Eigen::MatrixBase<DF>&, const Eigen::MatrixBase<DFD>& f_dot,
                       const Eigen::MatrixBase<DD>& dd_, Scalar scale) const {
    const_cast<Eigen::MatrixBase<DD>&>(dd_).derived() = scale * f_dot;
  }
};

template <class Derived>
SquaredError(const Eigen::MatrixBase<Derived>&) -> SquaredError<typename Derived::Scalar>;

/// l(f, y) = log Σ_k exp f_k − f_y with integer labels y in [0, d_out) (d_out ≥ 2); `labels` is a view
/// of the caller's Labels (it must outlive the loss). Serves every Scalar.
struct SoftmaxCrossEntropy {
  Eigen::Ref<const Labels> labels;

  template <class Derived>
  SoftmaxCrossEntropy(const Eigen::MatrixBase<Derived>& y)  // NOLINT: implicit, a loss converts from its labels
      : labels(Eigen::Map<const Labels>(y.derived().data(), y.size())) {
    static_assert(std::is_same_v<typename Derived::Scalar, int>, "labels are integers (sgdsde::Labels)");
    static_assert(bool(Derived::Flags & Eigen::DirectAccessBit) && Derived::IsVectorAtCompileTime,
                  "labels must be a stored vector or a segment of one");
    require(y.innerStride() == 1 || y.size() <= 1, "SoftmaxCrossEntropy", "labels", "a strided view",
            "contiguous labels");
  }
  SoftmaxCrossEntropy(Labels&&) = delete;  // a view of a temporary would dangle

  static constexpr const char* name = "softmax_cross_entropy";
  Index num_samples() const { return labels.size(); }

  /// Throws unless d_out ≥ 2 and there are S labels in [0, d_out).
  void check(const char* fn, Index output_dim, Index S) const {
    require(output_dim >= 2, fn, "loss", "softmax cross-entropy on 1 output", "a network with >= 2 outputs (classes)");
    require(labels.size() == S, fn, "labels.size()", labels.size(), "one label per input column");
    require_labels(fn, labels, output_dim);
  }

  /// Σ_s (log Σ_k exp f_ks − f_{y_s, s}) over the columns of F, computed as m + log Σ exp(f − m) with
  /// m = max_k f_ks (no overflow), and G = scale·(softmax(f_s) − e_{y_s}) column by column.
  template <class DF, class DG, class Scalar = typename DF::Scalar>
  Scalar sum_and_adjoint(const Eigen::MatrixBase<DF>& f, const Eigen::MatrixBase<DG>& g_, Scalar scale) const {
    using std::exp;
    using std::log;
    auto& g = const_cast<Eigen::MatrixBase<DG>&>(g_).derived();
    Scalar sum(0);
    if constexpr (std::is_floating_point_v<Scalar> && bool(DG::Flags & Eigen::DirectAccessBit) &&
                  !bool(DG::Flags & Eigen::RowMajorBit)) {
      if (g.innerStride() == 1 && g.outerStride() == g.rows()) {
        // Vectorised: g = f − m column by column, then ONE packet exp over the contiguous d_out × S block
        // (d_out = 10 is shorter than a packet: per-column exp would run scalar), then the column sums.
        for (Index s = 0; s < f.cols(); ++s) {
          const Scalar m = f.col(s).maxCoeff();
          g.col(s) = f.col(s).array() - m;
          sum += m - f(labels[s], s);
        }
        Eigen::Map<Eigen::Array<Scalar, Eigen::Dynamic, 1>> flat(g.data(), g.size());
        flat = flat.exp();
        for (Index s = 0; s < f.cols(); ++s) {
          const Scalar z = g.col(s).sum();
          sum += log(z);
          g.col(s) *= Scalar(scale / z);
          g(labels[s], s) -= scale;
        }
        return sum;
      }
    }
    for (Index s = 0; s < f.cols(); ++s) {
      const Scalar m = f.col(s).maxCoeff();
      g.col(s) = (f.col(s).array() - m).unaryExpr([](const Scalar& v) { return Scalar(exp(v)); }).matrix();
      const Scalar z = g.col(s).sum();
      sum += m + log(z) - f(labels[s], s);
      g.col(s) *= Scalar(scale / z);
      g(labels[s], s) -= scale;
    }
    return sum;
  }

  /// Tangent of the adjoint along ḟ: scale·(p ⊙ ḟ − p (pᵀḟ)), p = softmax(f).
  template <class DF, class DFD, class DD, class Scalar = typename DF::Scalar>
  void adjoint_tangent(const Eigen::MatrixBase<DF>& f, const Eigen::MatrixBase<DFD>& f_dot,
                       const Eigen::MatrixBase<DD>& dd_, Scalar scale) const {
    auto& dd = const_cast<Eigen::MatrixBase<DD>&>(dd_).derived();
    for (Index s = 0; s < f.cols(); ++s) {
      const Scalar m = f.col(s).maxCoeff();
      dd.col(s) = (f.col(s).array() - m).exp().matrix();
      dd.col(s) /= dd.col(s).sum();  // p
      const Scalar pf = dd.col(s).dot(f_dot.col(s));
      dd.col(s) = scale * (dd.col(s).array() * (f_dot.col(s).array() - pf)).matrix();
    }
  }
};

/// True when LossFn is a loss a network of Scalar accepts.
template <class LossFn, class Scalar>
struct is_loss_for : std::false_type {};
template <class Scalar>
struct is_loss_for<SquaredError<Scalar>, Scalar> : std::true_type {};
template <class Scalar>
struct is_loss_for<SoftmaxCrossEntropy, Scalar> : std::true_type {};

namespace detail {
template <class LossFn, class Scalar>
void static_check_loss() {
  static_assert(is_loss_for<LossFn, Scalar>::value,
                "the loss must be SquaredError<Scalar> (targets of the network's Scalar) or SoftmaxCrossEntropy");
}
}  // namespace detail

}  // namespace sgdsde::nn
