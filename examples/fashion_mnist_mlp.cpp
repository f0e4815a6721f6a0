// fashion_mnist_mlp — trains the 784-100-100-100-10 ReLU MLP of Jastrzębski et al. (2018) §4
// (without batch norm unless --batch-norm) on the full Fashion-MNIST training set (60000 images) with
// minibatch SGD (optim::train) and reports the learning curve, the final test accuracy (10000 images)
// and wall time.
//
//   fashion_mnist_mlp --epochs 10 --eta 0.1 --batch 64 --seed 1 [--data-dir DIR] [--momentum 0.9]
//
// The data directory defaults to $SGDSDE_FASHION_MNIST_DIR, else Debian's dataset-fashion-mnist location.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "sgdsde/data/fashion_mnist.hpp"
#include "sgdsde/nn/mlp.hpp"
#include "sgdsde/optim/mlp_problem.hpp"
#include "sgdsde/optim/train.hpp"

using namespace sgdsde;

int main(int argc, char** argv) {
  CLI::App app{"Train a 784-100-100-100-10 ReLU MLP on Fashion-MNIST with minibatch SGD"};
  long epochs = 10, batch = 64;
  double eta = 0.1, momentum = 0.0, weight_decay = 0.0, progress = 0.0;
  std::uint64_t seed = 1;
  std::string data_dir;
  bool batch_norm = false;
  app.add_option("--epochs", epochs, "passes over the 60000 training images")->check(CLI::PositiveNumber);
  app.add_option("--eta", eta, "learning rate η")->check(CLI::PositiveNumber);
  app.add_option("--batch", batch, "minibatch size S")->check(CLI::Range(1L, 60000L));
  app.add_option("--seed", seed, "seed of the initialisation (stream 0), batch (1) and noise (2) streams");
  app.add_option("--momentum", momentum, "heavy-ball momentum μ in [0, 1)")->check(CLI::Range(0.0, 0.999));
  app.add_option("--weight-decay", weight_decay, "L2 weight decay λ")->check(CLI::NonNegativeNumber);
  app.add_option("--data-dir", data_dir, "directory of the four Fashion-MNIST .gz files");
  app.add_flag("--batch-norm", batch_norm, "batch norm after every hidden layer");
  app.add_option("--progress", progress, "seconds between progress lines on stderr (0: none)");
  CLI11_PARSE(app, argc, argv);

  const auto wall_start = std::chrono::steady_clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count(); };
  data::FashionMnist<float> fm;
  try {
    fm = data::fashion_mnist(-1, data_dir);
  } catch (const sgdsde::invalid_argument& e) {
    std::fprintf(stderr, "cannot read Fashion-MNIST: %s\n(install dataset-fashion-mnist, set "
                         "SGDSDE_FASHION_MNIST_DIR or pass --data-dir)\n", e.what());
    return 2;
  }
  const Dataset<float>& train = fm.train;
  const Dataset<float>& test = fm.test;
  std::printf("# data: %ld train, %ld test images of %ld pixels from %s (read in %.2f s)\n", long(train.num_samples()),
              long(test.num_samples()), long(train.input_dim()), data::fashion_mnist_dir(data_dir).c_str(), seconds());

  nn::MlpSpec spec;
  spec.widths = {784, 100, 100, 100, 10};
  spec.parameterization = nn::Parameterization::standard;  // He initialisation
  spec.batch_norm = batch_norm;
  nn::Mlp<float> net(spec);
  net.initialize(RandomStream(seed, 0));

  optim::TrainOptions options;
  options.learning_rate = eta;
  options.sampler = shuffled_epochs(batch);  // ⌊60000/S⌋ batches per epoch, the rest dropped
  options.epochs = epochs;
  options.sgd.momentum = momentum;
  options.sgd.weight_decay = weight_decay;
  options.seed = seed;

  const nn::SoftmaxCrossEntropy test_loss(test.labels);
  double eval_seconds = 0;
  auto report = [&](long step, double epoch, double batch_loss) {
    const auto t0 = std::chrono::steady_clock::now();
    const double loss = nn::loss(net, test_loss, test.inputs), accuracy = nn::accuracy(net, test);
    eval_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%6ld %7.2f %12.5f %12.5f %9.4f %9.1f\n", step, epoch, batch_loss, loss, accuracy, seconds());
    std::fflush(stdout);
  };
  auto progress_line = optim::progress_every(progress);
  auto observer = [&](const optim::Progress<float>& p) {
    if (p.end_of_epoch) report(p.step, double(p.epoch), p.epoch_loss);
    if (progress > 0) progress_line(p);
  };

  std::printf("# 784-100-100-100-10 ReLU MLP, %ld parameters, eta %g, S %ld, momentum %g, weight decay %g, "
              "batch norm %s, seed %llu\n",
              long(net.num_parameters()), eta, batch, momentum, weight_decay, batch_norm ? "on" : "off",
              static_cast<unsigned long long>(seed));
  std::printf("#  step   epoch  epoch_loss    test_loss  test_acc    wall_s\n");
  {  // the initial network, before any update (no batch loss yet)
    const double loss = nn::loss(net, test_loss, test.inputs), accuracy = nn::accuracy(net, test);
    std::printf("%6d %7.2f %12s %12.5f %9.4f %9.1f\n", 0, 0.0, "-", loss, accuracy, seconds());
  }
  const auto result = optim::train(net, nn::SoftmaxCrossEntropy(train.labels), train.inputs, options, observer);
  if (!result.outcome.ok()) {
    std::printf("# training stopped: %s (%s)\n", to_string(result.outcome.status), result.outcome.message.c_str());
    return 1;
  }
  const double train_seconds = result.seconds - eval_seconds;
  std::printf("# final test accuracy %.4f, test loss %.5f\n", nn::accuracy(net, test),
              double(nn::loss(net, test_loss, test.inputs)));
  std::printf("# wall time %.1f s total; %.1f s in %ld SGD steps (%.1f us/step), %.1f s evaluating\n", seconds(),
              train_seconds, result.steps, 1e6 * train_seconds / double(result.steps), eval_seconds);
  return 0;
}
