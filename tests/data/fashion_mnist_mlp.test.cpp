// Training test: a small ReLU MLP trained by minibatch SGD (sgdsde::train + MlpProblem) on a subset of
// the real Fashion-MNIST training set must classify held-out test images far above chance. Lives in
// test_data because reading the IDX files needs zlib. Skips (with a message) when the data set is absent.
#include <vector>

#include <doctest/doctest.h>

#include "sgdsde/data/idx.hpp"
#include "sgdsde/optim/mlp_problem.hpp"
#include "sgdsde/optim/train.hpp"

TEST_CASE("an MLP trained on 6000 Fashion-MNIST images classifies 1000 test images far above chance") {
  const std::string dir = sgdsde::fashion_mnist_dir();
  if (!sgdsde::fashion_mnist_available(dir, sgdsde::FashionMnistSplit::train) ||
      !sgdsde::fashion_mnist_available(dir, sgdsde::FashionMnistSplit::test)) {
    MESSAGE("Fashion-MNIST not found in '" << dir << "' (install dataset-fashion-mnist or set "
                                                  "SGDSDE_FASHION_MNIST_DIR); skipping");
    return;
  }
  const auto train = sgdsde::load_fashion_mnist<float>(sgdsde::FashionMnistSplit::train, dir, 6000);
  const auto test = sgdsde::load_fashion_mnist<float>(sgdsde::FashionMnistSplit::test, dir, 1000);
  REQUIRE(train.size() == 6000);
  REQUIRE(test.size() == 1000);

  sgdsde::nn::MlpSpec spec;
  spec.widths = {784, 64, 10};
  spec.loss = sgdsde::nn::Loss::softmax_cross_entropy;
  spec.parameterization = sgdsde::nn::Parameterization::standard;  // He initialisation
  sgdsde::nn::Mlp<float> net(spec);
  sgdsde::RandomStream init(2026, 0);
  net.initialize(init);
  sgdsde::MlpProblem<float> prob(net, train.images, train.labels, 250);

  sgdsde::TrainOptions<float> o;
  o.steps = 750;  // 4 epochs of 6000 images at S = 32
  o.learning_rate = sgdsde::ConstantSchedule<float>(0.1f);
  o.batch_size = sgdsde::BatchSizeSchedule::constant(32);
  o.sampling = sgdsde::SamplerKind::shuffled_epochs;
  o.record_every = 250;
  o.evaluate = [&](const Eigen::VectorXf& theta) { return prob.evaluate(theta, test.images, test.labels); };
  const auto r = sgdsde::train(prob, net.parameters(), o, sgdsde::RandomStream(2026, 1), sgdsde::RandomStream(2026, 2));
  REQUIRE(r.outcome.ok());
  for (const auto& p : r.curve)
    MESSAGE("step " << p.step << " epoch " << p.epoch << " batch loss " << p.mean_batch_loss << " test loss "
                    << p.evaluation.loss << " test accuracy " << p.evaluation.accuracy);
  // Chance is 10 % (10 balanced classes). A classifier at chance scores at most 10 % + 5 binomial SE
  // = 0.1 + 5·sqrt(0.1·0.9/1000) ≈ 14.7 % on 1000 images (probability of more < 1e-6); we require 60 %,
  // i.e. a network that has clearly learnt.
  CHECK(r.curve.back().evaluation.accuracy >= 0.60);
  CHECK(r.curve.back().evaluation.loss < r.curve.front().evaluation.loss);
}
