// Explicit instantiation of every class template of sde for float and double: each member compiles for
// both scalars even where no test calls it (a problem built without a diffusion derivative included).
// OrnsteinUhlenbeck, the sde problem of ou/ou_process.hpp, is instantiated at the end of
// tests/ou/ou_process.test.cpp, which compiles most of it anyway (here it cost 85 of 98 s of CPU).
#include <doctest/doctest.h>

#include "sgdsde/sde/brownian.hpp"
#include "sgdsde/sde/convergence.hpp"
#include "sgdsde/sde/euler_maruyama.hpp"
#include "sgdsde/sde/gaussian_law.hpp"
#include "sgdsde/sde/integrate.hpp"
#include "sgdsde/sde/milstein.hpp"
#include "sgdsde/sde/problem.hpp"
#include "sgdsde/sde/stochastic_heun.hpp"
#include "sgdsde/sde/time_grid.hpp"

namespace sgdsde_instantiate {
template <class S>
using Fn = void (*)(S, const Eigen::Ref<const sgdsde::MatrixX<S>>&, Eigen::Ref<sgdsde::MatrixX<S>>);
template <class S>
using Observer = void (*)(long, S, const sgdsde::MatrixX<S>&);
template <class S>
using General = sgdsde::SdeProblem<S, sgdsde::NoiseKind::general, Fn<S>, Fn<S>>;
template <class S>
using Diagonal = sgdsde::SdeProblem<S, sgdsde::NoiseKind::diagonal, Fn<S>, Fn<S>>;
template <class S>
using DiagonalWithDerivative = sgdsde::SdeProblem<S, sgdsde::NoiseKind::diagonal, Fn<S>, Fn<S>, Fn<S>>;
template <class S>
using ScalarNoise = sgdsde::SdeProblem<S, sgdsde::NoiseKind::scalar, Fn<S>, Fn<S>>;
template <class S>
using Additive = sgdsde::SdeProblem<S, sgdsde::NoiseKind::additive, Fn<S>, sgdsde::MatrixX<S>>;
}  // namespace sgdsde_instantiate

#define SGDSDE_INSTANTIATE_SDE(S)                                                                          \
  template class sgdsde::SdeProblem<S, sgdsde::NoiseKind::general, sgdsde_instantiate::Fn<S>,            \
                                    sgdsde_instantiate::Fn<S>>;                                          \
  template class sgdsde::SdeProblem<S, sgdsde::NoiseKind::diagonal, sgdsde_instantiate::Fn<S>,           \
                                    sgdsde_instantiate::Fn<S>>;                                          \
  template class sgdsde::SdeProblem<S, sgdsde::NoiseKind::diagonal, sgdsde_instantiate::Fn<S>,           \
                                    sgdsde_instantiate::Fn<S>, sgdsde_instantiate::Fn<S>>;               \
  template class sgdsde::SdeProblem<S, sgdsde::NoiseKind::scalar, sgdsde_instantiate::Fn<S>,             \
                                    sgdsde_instantiate::Fn<S>>;                                          \
  template class sgdsde::SdeProblem<S, sgdsde::NoiseKind::additive, sgdsde_instantiate::Fn<S>,           \
                                    sgdsde::MatrixX<S>>;                                                 \
  template class sgdsde::BrownianPath<S>;                                                                \
  template class sgdsde::TimeGrid<S>;                                                                    \
  template struct sgdsde::EnsembleSolution<S>;                                                           \
  template struct sgdsde::ObserveAt<S, sgdsde_instantiate::Observer<S>>;                                 \
  template struct sgdsde::GaussianLaw<S>;                                                                \
  template class sgdsde::EulerMaruyama::Workspace<sgdsde_instantiate::General<S>>;                       \
  template class sgdsde::EulerMaruyama::Workspace<sgdsde_instantiate::ScalarNoise<S>>;                   \
  template class sgdsde::Milstein::Workspace<sgdsde_instantiate::Diagonal<S>>;                           \
  template class sgdsde::Milstein::Workspace<sgdsde_instantiate::DiagonalWithDerivative<S>>;             \
  template class sgdsde::Milstein::Workspace<sgdsde_instantiate::Additive<S>>;                           \
  template class sgdsde::StochasticHeun::Workspace<sgdsde_instantiate::General<S>>;                      \
  template class sgdsde::StochasticHeun::Workspace<sgdsde_instantiate::Additive<S>>;

SGDSDE_INSTANTIATE_SDE(float)
SGDSDE_INSTANTIATE_SDE(double)

TEST_CASE("sde class templates instantiate for float and double") {
  // The real checks are the explicit instantiations above; this only makes the file a test.
  CHECK(sgdsde::TimeGrid<float>(0.0f, 1.0f, 0.25f).steps() == 4);
  CHECK(sgdsde::TimeGrid<double>(0.0, 1.0, 0.25).steps() == 4);
}
