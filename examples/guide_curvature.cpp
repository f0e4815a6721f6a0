// docs/guide.md, seventh program: curvature of a network's loss without forming the Hessian —
// Lanczos for the top eigenvalues, Hutchinson and Hutch++ for the trace, and the exact Tr C.
#include <iostream>

#include <sgdsde/curvature/eigen.hpp>
#include <sgdsde/curvature/hessian.hpp>
#include <sgdsde/curvature/noise_covariance.hpp>
#include <sgdsde/curvature/trace.hpp>
#include <sgdsde/nn/mlp.hpp>
using namespace sgdsde;

int main() {
  Eigen::MatrixXd X(4, 256);
  RandomStream(1).fill_normal(X);
  const Eigen::MatrixXd Y = X.row(0).array().tanh().matrix() + 0.1 * X.row(1);
  nn::Mlp<double> net({4, 32, 1}, nn::Activation::tanh);
  net.initialize(RandomStream(2));
  const nn::SquaredError loss(Y);

  const auto H = curvature::hessian_operator(net, loss, X);  // v ↦ H v, exact, P = 193
  const auto top = curvature::lanczos_eigenpairs(H, 3, RandomStream(3));
  std::cout << "top eigenvalues " << top.eigenvalues.transpose() << "  ("
            << to_string(top.outcome.status) << ", " << top.matvecs << " products)\n";

  const auto hutch = curvature::hutchinson_trace(H, 60, RandomStream(4));
  const auto hpp = curvature::hutch_plus_plus(H, 60, RandomStream(4));
  std::cout << "Tr H: Hutchinson " << hutch.estimate << " +- " << hutch.standard_error << ", Hutch++ "
            << hpp.estimate << " +- " << hpp.standard_error << "\n";

  const auto noise = curvature::gradient_noise(net, loss, X);  // exact Tr C (C with 1/N), one pass
  std::cout << "Tr C = " << noise.trace << ", Tr C / Tr H = " << noise.trace / hutch.estimate
            << " (Jastrzebski's Assumption 2: C = H)\n";
}
