// Explicit instantiation of every class template of core/ (and of RandomStream's fill members) for
// float and double, in one place: a member that does not compile for one Scalar fails this build even
// when no test calls it. The rel helper's templates (expm.hpp, lyapunov.hpp) belong here too.
#include <type_traits>

#include <Eigen/Core>
#include <doctest/doctest.h>

#include "sgdsde/core/dataset.hpp"
#include "sgdsde/core/dual.hpp"
#include "sgdsde/core/random.hpp"
#include "sgdsde/core/scalar.hpp"
#include "sgdsde/core/types.hpp"

namespace sgdsde {

template struct ad::Dual<float>;
template struct ad::Dual<double>;
template struct Constants<float>;
template struct Constants<double>;
template struct Dataset<float>;
template struct Dataset<double>;

#define SGDSDE_INSTANTIATE_FILLS(Type)                                                   \
  template void RandomStream::uniform_at(std::uint64_t, const Eigen::DenseBase<Type>&) const;    \
  template void RandomStream::normal_at(std::uint64_t, const Eigen::DenseBase<Type>&) const;     \
  template void RandomStream::rademacher_at(std::uint64_t, const Eigen::DenseBase<Type>&) const; \
  template void RandomStream::fill_uniform(const Eigen::DenseBase<Type>&);                       \
  template void RandomStream::fill_normal(const Eigen::DenseBase<Type>&);                        \
  template void RandomStream::fill_rademacher(const Eigen::DenseBase<Type>&);
SGDSDE_INSTANTIATE_FILLS(ArrayX<float>)
SGDSDE_INSTANTIATE_FILLS(ArrayX<double>)
SGDSDE_INSTANTIATE_FILLS(MatrixX<float>)
SGDSDE_INSTANTIATE_FILLS(MatrixX<double>)
#undef SGDSDE_INSTANTIATE_FILLS
template float RandomStream::uniform<float>();
template double RandomStream::uniform<double>();
template float RandomStream::normal<float>();
template double RandomStream::normal<double>();

}  // namespace sgdsde

TEST_CASE_TEMPLATE("core class templates are instantiated for float and double", T, float, double) {
  static_assert(std::is_same_v<typename sgdsde::ad::Dual<T>::value_type, T>);
  static_assert(std::is_same_v<decltype(sgdsde::Constants<T>::pi()), T>);
  static_assert(std::is_same_v<decltype(sgdsde::Dataset<T>{}.inputs), sgdsde::MatrixX<T>>);
  // A data set round trip through the one contract: a regression set is valid and slices by columns.
  const sgdsde::MatrixX<T> x = sgdsde::MatrixX<T>::Ones(2, 3), y = sgdsde::MatrixX<T>::Zero(1, 3);
  const auto d = sgdsde::regression_data(x, y);
  static_assert(std::is_same_v<std::decay_t<decltype(d)>, sgdsde::Dataset<T>>);
  CHECK(d.slice(1, 2).num_samples() == 2);
}
