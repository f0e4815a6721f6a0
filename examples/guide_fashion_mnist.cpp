// docs/guide.md, fifth program: read Fashion-MNIST and train an MLP with optim::train.
#include <iostream>

#include <sgdsde/data/fashion_mnist.hpp>
#include <sgdsde/sgdsde.hpp>
using namespace sgdsde;

int main() {
  auto [train, test] = data::fashion_mnist();  // Dataset<float>: inputs 784 × N, labels
  nn::Mlp<float> net({784, 100, 100, 100, 10}, nn::Activation::relu, nn::Parameterization::standard);
  net.initialize(RandomStream(1));
  optim::TrainOptions options;
  options.learning_rate = 0.1;                 // a number is a constant schedule
  options.sampler = shuffled_epochs(64);       // or with_replacement(64), fresh_subset(64)
  options.epochs = 10;
  options.seed = 1;                            // batches from RandomStream(1, 1)
  auto result = optim::train(net, nn::SoftmaxCrossEntropy(train.labels), train.inputs, options,
                             optim::progress_every(5.0));  // nothing is printed unless asked
  if (!result.outcome.ok()) { std::cerr << "training stopped: " << result.outcome.message << "\n"; return 1; }
  // The trained parameters are in `net`.
  std::cout << "test accuracy " << nn::accuracy(net, test) << " after " << result.epochs << " epochs ("
            << result.steps << " steps)\n";
}
