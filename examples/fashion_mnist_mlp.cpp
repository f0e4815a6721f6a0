// fashion_mnist_mlp — trains the 784-100-100-100-10 ReLU MLP of Jastrzębski et al. (2018) §4
// (without batch norm unless --batch-norm) on the full Fashion-MNIST training set (60000 images) with
// minibatch SGD and reports the learning curve, the final test accuracy (10000 images) and wall time.
//
//   fashion_mnist_mlp --epochs 10 --eta 0.1 --batch 64 --seed 1 [--data-dir DIR] [--momentum 0.9]
//
// The data directory defaults to $SGDSDE_FASHION_MNIST_DIR, else Debian's dataset-fashion-mnist location.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "sgdsde/data/idx.hpp"
#include "sgdsde/optim/mlp_problem.hpp"
#include "sgdsde/optim/train.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Train a 784-100-100-100-10 ReLU MLP on Fashion-MNIST with minibatch SGD"};
  int epochs = 10;
  float eta = 0.1f, momentum = 0.0f, weight_decay = 0.0f;
  long batch = 64;
  std::uint64_t seed = 1;
  std::string data_dir;
  bool batch_norm = false;
  double progress = 10.0;
  app.add_option("--epochs", epochs, "passes over the 60000 training images")->check(CLI::PositiveNumber);
  app.add_option("--eta", eta, "learning rate η")->check(CLI::PositiveNumber);
  app.add_option("--batch", batch, "minibatch size S")->check(CLI::Range(1L, 60000L));
  app.add_option("--seed", seed, "seed of the initialisation, batch and noise streams");
  app.add_option("--momentum", momentum, "heavy-ball momentum μ in [0, 1)")->check(CLI::Range(0.0f, 0.999f));
  app.add_option("--weight-decay", weight_decay, "L2 weight decay λ")->check(CLI::NonNegativeNumber);
  app.add_option("--data-dir", data_dir, "directory of the four Fashion-MNIST .gz files");
  app.add_flag("--batch-norm", batch_norm, "batch norm after every hidden layer");
  app.add_option("--progress", progress, "seconds between progress lines on stderr (0: none)");
  CLI11_PARSE(app, argc, argv);

  const std::string dir = sgdsde::fashion_mnist_dir(data_dir);
  const auto wall_start = std::chrono::steady_clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count(); };
  sgdsde::LabelledImages<float> train, test;
  try {
    train = sgdsde::load_fashion_mnist<float>(sgdsde::FashionMnistSplit::train, dir);
    test = sgdsde::load_fashion_mnist<float>(sgdsde::FashionMnistSplit::test, dir);
  } catch (const sgdsde::invalid_argument& e) {
    std::fprintf(stderr, "cannot read Fashion-MNIST: %s\n(install dataset-fashion-mnist, set "
                         "SGDSDE_FASHION_MNIST_DIR or pass --data-dir)\n", e.what());
    return 2;
  }
  std::printf("# data: %ld train, %ld test images of %ld pixels from %s (read in %.2f s)\n", long(train.size()),
              long(test.size()), long(train.images.rows()), dir.c_str(), seconds());

  sgdsde::nn::MlpSpec spec;
  spec.widths = {784, 100, 100, 100, 10};
  spec.loss = sgdsde::nn::Loss::softmax_cross_entropy;
  spec.parameterization = sgdsde::nn::Parameterization::standard;  // He initialisation
  spec.batch_norm = batch_norm;
  sgdsde::nn::Mlp<float> net(spec);
  sgdsde::RandomStream init(seed, 0);
  net.initialize(init);
  sgdsde::MlpProblem<float> problem(net, train.images, train.labels, std::max<long>(batch, 1000));

  const long steps_per_epoch = long(train.size()) / batch;  // shuffled epochs, last partial batch dropped
  sgdsde::TrainOptions<float> options;
  options.steps = steps_per_epoch * epochs;
  options.learning_rate = sgdsde::ConstantSchedule<float>(eta);
  options.batch_size = sgdsde::BatchSizeSchedule::constant(batch);
  options.sampling = sgdsde::SamplerKind::shuffled_epochs;
  options.sgd.momentum = momentum;
  options.sgd.weight_decay = weight_decay;
  options.record_every = steps_per_epoch;
  options.progress_seconds = progress;
  double eval_seconds = 0;
  options.evaluate = [&](const Eigen::VectorXf& theta) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto e = problem.evaluate(theta, test.images, test.labels);
    eval_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return e;
  };
  options.observer = [&](const sgdsde::CurvePoint& p) {
    std::printf("%6ld %7.2f %12.5f %12.5f %9.4f %9.1f\n", p.step, p.epoch, p.mean_batch_loss, p.evaluation.loss,
                p.evaluation.accuracy, seconds());
    std::fflush(stdout);
  };
  std::printf("# 784-100-100-100-10 ReLU MLP, %ld parameters, eta %g, S %ld, momentum %g, weight decay %g, "
              "batch norm %s, seed %llu\n",
              long(net.num_parameters()), double(eta), batch, double(momentum), double(weight_decay),
              batch_norm ? "on" : "off", static_cast<unsigned long long>(seed));
  std::printf("#  step   epoch   batch_loss    test_loss  test_acc    wall_s\n");
  const auto train_start = std::chrono::steady_clock::now();
  const auto result = sgdsde::train(problem, net.parameters(), options, sgdsde::RandomStream(seed, 1),
                                     sgdsde::RandomStream(seed, 2));
  const double train_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - train_start).count() - eval_seconds;
  if (!result.outcome.ok()) {
    std::printf("# training stopped: %s (%s)\n", sgdsde::to_string(result.outcome.status),
                result.outcome.message.c_str());
    return 1;
  }
  std::printf("# final test accuracy %.4f, test loss %.5f\n", result.curve.back().evaluation.accuracy,
              result.curve.back().evaluation.loss);
  std::printf("# wall time %.1f s total; %.1f s in %ld SGD steps (%.1f us/step), %.1f s evaluating\n", seconds(),
              train_seconds, result.steps, 1e6 * train_seconds / double(result.steps), eval_seconds);
  return 0;
}
