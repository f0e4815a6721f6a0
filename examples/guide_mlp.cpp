// docs/guide.md, third program: an MLP trained by hand with the returning and the write-into forms.
#include <cmath>
#include <iostream>

#include <sgdsde/sgdsde.hpp>
using namespace sgdsde;

int main() {
  const Index N = 256;
  Eigen::MatrixXd X(5, N);  // samples are columns
  RandomStream(1).fill_normal(X);
  Eigen::MatrixXd Y(1, N);
  for (Index n = 0; n < N; ++n) Y(0, n) = std::sin(X(0, n)) + 0.5 * X(1, n) * X(2, n);

  nn::Mlp<double> net({5, 32, 1});     // ReLU, NTK parameterisation
  net.initialize(RandomStream(2));
  const nn::SquaredError loss(Y);      // mean of ½‖f(x) − y‖²; a view of Y
  std::cout << "initial loss " << nn::loss(net, loss, X) << "\n";

  for (int k = 0; k < 200; ++k) {      // full-batch gradient descent, returning form
    const auto [value, gradient, outcome] = nn::loss_and_gradient(net, loss, X);
    if (!outcome.ok()) { std::cerr << outcome.message << "\n"; return 1; }
    net.parameters() -= 0.1 * gradient;
  }
  std::cout << "after gradient descent " << nn::loss(net, loss, X) << "\n";

  const Index S = 32;                  // minibatch SGD, allocation-free write-into form
  nn::MlpWorkspace ws(net, S);
  Eigen::VectorXd g(net.num_parameters());
  for (int epoch = 0; epoch < 50; ++epoch)
    for (Index first = 0; first < N; first += S) {
      nn::loss_and_gradient(net, nn::SquaredError(Y.middleCols(first, S)), X.middleCols(first, S), g, ws);
      net.parameters() -= 0.05 * g;
    }
  const double final_loss = nn::loss(net, loss, X);
  std::cout << "after SGD " << final_loss << "\n";
  return std::isfinite(final_loss) ? 0 : 1;
}
