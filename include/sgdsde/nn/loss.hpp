// sgdsde/nn/loss.hpp — per-sample losses of the MLP and their output gradients: squared error with the
// ½ convention l = ½‖f − y‖² (DESIGN.md conventions) and softmax cross-entropy with integer labels.
#pragma once

#include <cmath>
#include <string>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"

namespace sgdsde::nn {

/// squared_error: l(f, y) = ½‖f − y‖², targets are a d_out × S matrix.
/// softmax_cross_entropy: l(f, y) = log Σ_k exp f_k − f_y, targets are integer labels in [0, d_out).
/// The batch loss is always the MEAN of l over the S samples (columns).
enum class Loss { squared_error, softmax_cross_entropy };

inline const char* to_string(Loss l) {
  return l == Loss::squared_error ? "squared_error" : "softmax_cross_entropy";
}

/// Throws unless every label lies in [0, classes).
inline void require_labels(const char* function, const Eigen::Ref<const Eigen::VectorXi>& labels,
                           Eigen::Index classes) {
  for (Eigen::Index s = 0; s < labels.size(); ++s)
    if (labels[s] < 0 || labels[s] >= classes)
      sgdsde::detail::throw_invalid_argument(function, "labels",
                                     "label " + std::to_string(labels[s]) + " at sample " + std::to_string(s),
                                     ("labels in [0, " + std::to_string(classes) + ")").c_str());
}

/// Σ_s ½‖f_s − y_s‖² over the columns of F, and G = scale·(F − Y) = scale·∂(Σ_s l_s)/∂F.
/// With scale = 1/S, G is the gradient of the mean loss. Shapes are the caller's responsibility
/// (checked by the public network functions). G may not alias F or Y.
template <class Scalar, class DF, class DY, class DG>
inline Scalar squared_error_sum(const Eigen::MatrixBase<DF>& f, const Eigen::MatrixBase<DY>& y,
                                const Eigen::MatrixBase<DG>& g_, Scalar scale) {
  auto& g = const_cast<Eigen::MatrixBase<DG>&>(g_).derived();
  g = f - y;
  const Scalar sum = Scalar(0.5) * g.squaredNorm();
  g *= scale;
  return sum;
}

/// Σ_s (log Σ_k exp f_ks − f_{y_s, s}) over the columns of F, computed as m + log Σ exp(f − m) with
/// m = max_k f_ks (no overflow), and G = scale·(softmax(f_s) − e_{y_s}) column by column.
/// `per_sample` (if non-null, length S) receives each l_s. Labels must already be checked.
template <class Scalar, class DF, class DG>
inline Scalar softmax_cross_entropy_sum(const Eigen::MatrixBase<DF>& f,
                                        const Eigen::Ref<const Eigen::VectorXi>& labels,
                                        const Eigen::MatrixBase<DG>& g_, Scalar scale,
                                        Scalar* per_sample = nullptr) {
  using std::exp;
  using std::log;
  auto& g = const_cast<Eigen::MatrixBase<DG>&>(g_).derived();
  Scalar sum(0);
  for (Eigen::Index s = 0; s < f.cols(); ++s) {
    const Scalar m = f.col(s).maxCoeff();
    g.col(s) = (f.col(s).array() - m).unaryExpr([](const Scalar& v) { return Scalar(exp(v)); }).matrix();
    const Scalar z = g.col(s).sum();
    const Scalar l = m + log(z) - f(labels[s], s);
    sum += l;
    if (per_sample) per_sample[s] = l;
    g.col(s) *= Scalar(scale / z);
    g(labels[s], s) -= scale;
  }
  return sum;
}

}  // namespace sgdsde::nn
