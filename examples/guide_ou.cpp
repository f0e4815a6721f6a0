// docs/guide.md, first program: an Ornstein–Uhlenbeck ensemble against its exact laws.
#include <iostream>

#include <sgdsde/sgdsde.hpp>
using namespace sgdsde;

int main() {
  Eigen::Matrix2d A, B;
  A << 2.0, 0.6, 0.6, 1.0;
  B << 0.5, 0.0, 0.2, 0.4;
  const Eigen::Vector2d x0(1.0, -1.0);
  OrnsteinUhlenbeck ou(A, B);                                   // dX = -A (X - mu) dt + B dW, mu = 0
  auto paths = integrate(ou, EulerMaruyama{}, x0, TimeGrid(0.0, 5.0, 0.02),
                         Ensemble(100'000), RandomStream(42));  // integrate picks the fused EM kernel
  if (!paths.outcome.ok()) { std::cerr << paths.outcome.message << "\n"; return 1; }
  auto exact = ou.transition_law(x0, 5.0);                      // N(mean, cov) of the SDE at t = 5
  auto em = ou.euler_maruyama_law(x0, 5.0, 0.02);               // exact law of the EM chain
  const double z_em = z_scores(paths.final_state, em).max_abs();
  std::cout << "max |z| against the EM law:  " << z_em << "\n"
            << "max |z| against the SDE law: " << z_scores(paths.final_state, exact).max_abs() << "\n";
  return z_em < 5 ? 0 : 1;                                      // 5 standard errors
}
