// docs/guide.md, sixth program: the analytic NTK, the closed-form evolution of gradient descent on the
// linearised network, and the stationary expected MSE of noisy GD (Borovykh 2019, Lemma 3 corrected).
#include <iostream>

#include <sgdsde/core/random.hpp>
#include <sgdsde/ntk/kernels.hpp>
#include <sgdsde/ntk/noisy.hpp>
using namespace sgdsde;

int main() {
  nn::MlpSpec spec;
  spec.widths = {3, 512, 1};  // one ReLU hidden layer, NTK parameterisation
  Eigen::MatrixXd X(3, 8), Y(1, 8);
  RandomStream(1).fill_normal(X);
  Y = X.row(0).array().sin();

  const auto k = ntk::analytic_kernels(spec, X);  // {nngp, ntk, outcome}, 8 × 8
  const Eigen::MatrixXd f0 = Eigen::MatrixXd::Zero(1, 8);  // mean over initialisations (or nn::forward(net, X))

  ntk::EvolutionOptions options;
  options.learning_rate = 1.0;  // GD on L = (1/N) Σ ½(f − y)², t in steps
  const auto evo = ntk::linearized_evolution(k.ntk, Y, options);
  const auto f = evo.train_outputs(f0, {0, 10, 100, 1000});
  for (std::size_t j = 0; j < f.times.size(); ++j)
    std::cout << "t = " << f.times[j] << "  train MSE " << (f.outputs[j] - Y).squaredNorm() / 8 << "\n";
  std::cout << "largest stable learning rate: " << evo.max_stable_learning_rate() << "\n";

  const auto noisy = ntk::noisy_limit(evo, ntk::ParameterNoise{0.1, 1.0}, f0);  // σ = 0.1, M = 1
  std::cout << "noisy GD, t -> inf: E MSE " << noisy.train_mse << " (noise part " << noisy.train_noise
            << ", " << to_string(noisy.outcome.status) << ")\n";
}
