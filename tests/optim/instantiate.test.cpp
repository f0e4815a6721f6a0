// Explicit instantiation of every class template of optim for float and double, so each member
// compiles for both Scalars even when no test calls it (the compilation is the test).
#include "sgdsde/optim/mlp_problem.hpp"
#include "sgdsde/optim/schedule.hpp"
#include "sgdsde/optim/sgd.hpp"
#include "sgdsde/optim/train.hpp"

namespace sgdsde::optim {
template class Sgd<float>;
template class Sgd<double>;
template struct Progress<float>;
template struct Progress<double>;
template struct TrainResult<float>;
template struct TrainResult<double>;
template class MlpProblem<float, nn::SoftmaxCrossEntropy>;
template class MlpProblem<double, nn::SoftmaxCrossEntropy>;
template class MlpProblem<float, nn::SquaredError<float>>;
template class MlpProblem<double, nn::SquaredError<double>>;
}  // namespace sgdsde::optim
