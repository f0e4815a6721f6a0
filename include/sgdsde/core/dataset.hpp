// sgdsde/core/dataset.hpp — the one data contract: a data set of N samples stored as columns, with
// regression targets or class labels. Made by data/, consumed by ou, nn and optim alike.
#pragma once

#include <string>
#include <vector>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"
#include "sgdsde/core/types.hpp"

namespace sgdsde {

/// N samples as columns: inputs (d × N) and either targets (k × N, regression) or labels (N entries
/// in [0, num_classes), classification); the other is empty.
template <class Scalar>
struct Dataset {
  MatrixX<Scalar> inputs;   ///< d × N, column n is x_n
  MatrixX<Scalar> targets;  ///< k × N, column n is y_n (empty for classification)
  Labels labels;            ///< N labels (empty for regression)
  int num_classes = 0;      ///< number of classes of a classification set (0 for regression)

  Index num_samples() const { return inputs.cols(); }
  Index input_dim() const { return inputs.rows(); }
  bool has_targets() const { return targets.size() > 0; }
  bool has_labels() const { return labels.size() > 0; }

  /// Throws sgdsde::invalid_argument (function `fn`, argument `name`) unless the set is non-empty,
  /// finite, and has exactly one of targets (k × N) or labels (N entries in [0, num_classes)).
  void validate(const char* fn, const char* name = "data") const {
    require(inputs.cols() >= 1 && inputs.rows() >= 1, fn, name,
            std::to_string(inputs.rows()) + "x" + std::to_string(inputs.cols()) + " inputs",
            "a data set with d >= 1 and N >= 1 samples as columns");
    require(has_targets() != has_labels(), fn, name,
            has_targets() ? "a set with both targets and labels" : "a set with neither targets nor labels",
            "exactly one of targets (k x N) or labels (N)");
    require_finite(fn, name, inputs);
    if (has_targets()) {
      if (targets.cols() != inputs.cols())
        require_shape(fn, name, targets, -1, inputs.cols());
      require_finite(fn, name, targets);
    } else {
      require(labels.size() == inputs.cols(), fn, name, std::to_string(labels.size()) + " labels",
              "one label per sample (column of inputs)");
      require(num_classes >= 1, fn, name, num_classes, "num_classes >= 1 for a labelled set");
      for (Index n = 0; n < labels.size(); ++n)
        if (labels[n] < 0 || labels[n] >= num_classes)
          detail::throw_invalid_argument(fn, name, "label " + std::to_string(labels[n]) + " at sample " +
                                                       std::to_string(n),
                                         "labels in [0, " + std::to_string(num_classes) + ")");
    }
  }

  /// Samples [first, first + count) as a new data set.
  Dataset slice(Index first, Index count) const {
    require(first >= 0 && first <= num_samples(), "Dataset::slice", "first", first, "an index in [0, N]");
    require(count >= 0 && count <= num_samples() - first, "Dataset::slice", "count", count,
            "a range [first, first + count) inside [0, N)");
    Dataset out;
    out.inputs = inputs.middleCols(first, count);
    if (has_targets()) out.targets = targets.middleCols(first, count);
    if (has_labels()) out.labels = labels.segment(first, count);
    out.num_classes = num_classes;
    return out;
  }
};

/// A regression set from inputs (d × N) and targets (k × N); validated.
template <class DX, class DY>
Dataset<typename DX::Scalar> regression_data(const Eigen::MatrixBase<DX>& inputs, const Eigen::MatrixBase<DY>& targets) {
  Dataset<typename DX::Scalar> d;
  d.inputs = inputs;
  d.targets = targets.template cast<typename DX::Scalar>();
  d.validate("regression_data");
  return d;
}

/// A classification set from inputs (d × N) and labels in [0, num_classes); validated.
template <class DX>
Dataset<typename DX::Scalar> classification_data(const Eigen::MatrixBase<DX>& inputs, const Labels& labels,
                                                 int num_classes) {
  Dataset<typename DX::Scalar> d;
  d.inputs = inputs;
  d.labels = labels;
  d.num_classes = num_classes;
  d.validate("classification_data");
  return d;
}

}  // namespace sgdsde
