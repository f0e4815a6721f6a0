// sgdsde/core/types.hpp — the Eigen aliases and naming conventions used by every area.
//
// Names, once for the whole library:
//   dim()            dimension of a state / parameter space (d)
//   num_samples()    number of samples N of a data set
//   num_parameters() number of parameters P of a model
//   k (long)         0-based step index; t (Scalar) continuous time
// Optional outputs are trailing arguments of size 0 by default: an output of size 0 is skipped.
// Scalar is always deduced from the arguments (never spelled at a call site).
#pragma once

#include <Eigen/Core>

namespace sgdsde {

using Index = Eigen::Index;

/// Dynamic-size column vector, matrix and array of Scalar.
template <class Scalar>
using VectorX = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
template <class Scalar>
using MatrixX = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
template <class Scalar>
using ArrayX = Eigen::Array<Scalar, Eigen::Dynamic, 1>;

/// Class labels of a classification data set, one per sample, in [0, num_classes).
using Labels = Eigen::VectorXi;

namespace detail {
/// Blocks template argument deduction (std::type_identity of C++20), so Scalar is deduced from one
/// argument alone and numbers, vectors or times may be passed as any convertible type.
template <class T>
struct NonDeduced {
  using type = T;
};
template <class T>
using non_deduced_t = typename NonDeduced<T>::type;
}  // namespace detail

}  // namespace sgdsde
