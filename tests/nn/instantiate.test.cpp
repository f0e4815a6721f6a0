// Explicit instantiation of every nn class template for float and double: each member compiles for
// both scalars, whether or not a test calls it.
#include "sgdsde/nn/mlp.hpp"

#include <doctest/doctest.h>

namespace sgdsde::nn {
template class Mlp<float>;
template class Mlp<double>;
template struct MlpWorkspace<float>;
template struct MlpWorkspace<double>;
template struct TangentWorkspace<float>;
template struct TangentWorkspace<double>;
template struct SquaredError<float>;
template struct SquaredError<double>;
template struct LossAndGradient<float>;
template struct LossAndGradient<double>;
template struct GradientAndHvp<float>;
template struct GradientAndHvp<double>;
template struct OutputsAndTangent<float>;
template struct OutputsAndTangent<double>;
namespace detail {
template struct GradientSink<float>;
template struct GradientSink<double>;
template struct PerSampleSink<float>;
template struct PerSampleSink<double>;
template struct TangentSink<float>;
template struct TangentSink<double>;
}  // namespace detail
}  // namespace sgdsde::nn

TEST_CASE("nn class templates instantiate for float and double") {
  CHECK(sgdsde::nn::Mlp<float>({2, 3}).num_parameters() == 9);
  CHECK(sgdsde::nn::Mlp<double>({2, 3}).num_parameters() == 9);
}
