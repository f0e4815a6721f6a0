// Explicit instantiation of every class template of the ou area owned here, for float and double, so
// that each member compiles for both scalars (OrnsteinUhlenbeck is instantiated in ou_process.test.cpp).
#include "sgdsde/ou/linear_regression.hpp"
#include "sgdsde/ou/sgd_quadratic.hpp"


template class sgdsde::Quadratic<float>;
template class sgdsde::Quadratic<double>;
template struct sgdsde::QuadraticStationary<float>;
template struct sgdsde::QuadraticStationary<double>;
template struct sgdsde::SgdSimulation<float>;
template struct sgdsde::SgdSimulation<double>;
template class sgdsde::LinearRegression<float>;
template class sgdsde::LinearRegression<double>;
template class sgdsde::LinearRegressionSgd<float>;
template class sgdsde::LinearRegressionSgd<double>;
template struct sgdsde::SgdMoments<float>;
template struct sgdsde::SgdMoments<double>;
template struct sgdsde::RegressionStationary<float>;
template struct sgdsde::RegressionStationary<double>;

// No test case: compiling this file is the check (a test case here could not fail).
