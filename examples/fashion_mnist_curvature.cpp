// fashion_mnist_curvature — the width of the minimum SGD reaches (Jastrzębski et al. 2018 §4, Fig. 3) and a direct
// check of their Assumption 2 (C ≈ H): trains the 784-100-100-100-10 ReLU MLP briefly on Fashion-MNIST (float, then
// evaluated in double) and reports, on a subset of the training images, λ_max of the Hessian (Lanczos), Tr H
// (Hutchinson ± SE), ‖H‖_F, the finite-difference HVP the paper used against the exact one, and the gradient-noise
// covariance C against H: Tr C (exact), Tr C/Tr H, Tr(CH)/(‖C‖_F‖H‖_F), overlap of the top-k eigenspaces.
//
//   fashion_mnist_curvature [--epochs 2] [--eta 0.1] [--batch 64] [--subset 1000] [--probes 20] [--k 3]
//                           [--batch-norm] [--seed 1] [--data-dir DIR]
//
// Defaults run in well under a minute on one core; --subset 10000 --probes 100 --k 10 for tighter figures.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "sgdsde/curvature/eigen.hpp"
#include "sgdsde/curvature/hessian.hpp"
#include "sgdsde/curvature/noise_covariance.hpp"
#include "sgdsde/curvature/trace.hpp"
#include "sgdsde/data/fashion_mnist.hpp"
#include "sgdsde/nn/mlp.hpp"
#include "sgdsde/optim/mlp_problem.hpp"

using namespace sgdsde;

int main(int argc, char** argv) {
  CLI::App app{"Hessian width and gradient-noise alignment of an MLP trained on Fashion-MNIST"};
  long epochs = 2, batch = 64, subset = 1000, probes = 20, k = 3;
  double eta = 0.1;
  std::uint64_t seed = 1;
  std::string data_dir;
  bool batch_norm = false;
  app.add_option("--epochs", epochs, "training epochs over the 60000 images")->check(CLI::NonNegativeNumber);
  app.add_option("--eta", eta, "learning rate η")->check(CLI::PositiveNumber);
  app.add_option("--batch", batch, "minibatch size S")->check(CLI::Range(1L, 60000L));
  app.add_option("--subset", subset, "training images over which H and C are measured")->check(CLI::Range(2L, 60000L));
  app.add_option("--probes", probes, "Hutchinson / alignment probes")->check(CLI::Range(2L, 100000L));
  app.add_option("--k", k, "eigenpairs of H and C for the eigenspace overlap")->check(CLI::Range(1L, 100L));
  app.add_option("--seed", seed, "seed of initialisation, batches and probes");
  app.add_option("--data-dir", data_dir, "directory of the four Fashion-MNIST .gz files");
  app.add_flag("--batch-norm", batch_norm, "batch norm after every hidden layer (H, C in eval mode)");
  CLI11_PARSE(app, argc, argv);

  const auto start = std::chrono::steady_clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  data::FashionMnist<float> fm;
  try {
    fm = data::fashion_mnist(-1, data_dir);
  } catch (const sgdsde::invalid_argument& e) {
    std::fprintf(stderr, "cannot read Fashion-MNIST: %s\n(install dataset-fashion-mnist, set "
                         "SGDSDE_FASHION_MNIST_DIR or pass --data-dir)\n", e.what());
    return 2;
  }

  nn::MlpSpec spec;
  spec.widths = {784, 100, 100, 100, 10};
  spec.parameterization = nn::Parameterization::standard;
  spec.batch_norm = batch_norm;
  nn::Mlp<float> net(spec);
  net.initialize(RandomStream(seed, 0));
  optim::TrainOptions options;
  options.learning_rate = eta;
  options.sampler = shuffled_epochs(batch);
  options.epochs = epochs;
  options.seed = seed;
  if (epochs > 0) {
    const auto trained = optim::train(net, nn::SoftmaxCrossEntropy(fm.train.labels), fm.train.inputs, options);
    if (!trained.outcome.ok()) {
      std::printf("# training stopped: %s\n", trained.outcome.message.c_str());
      return 1;
    }
  }
  std::printf("# 784-100-100-100-10 ReLU MLP%s, %ld parameters, %ld epochs of SGD (eta %g, S %ld, eta/S %.3g): "
              "test accuracy %.4f (%.1f s)\n",
              batch_norm ? " with batch norm" : "", long(net.num_parameters()), epochs, eta, batch,
              eta / double(batch), nn::accuracy(net, fm.test), seconds());

  // Curvature in double on the first `subset` training images (the loss L over those images).
  const nn::Mlp<double> netd = net.cast<double>();
  Dataset<double> sub;
  sub.inputs = fm.train.inputs.leftCols(subset).cast<double>();
  sub.labels = fm.train.labels.head(subset);
  sub.num_classes = fm.train.num_classes;
  const nn::SoftmaxCrossEntropy loss(sub.labels);
  curvature::DataPassOptions pass;
  pass.chunk_size = 500;
  pass.mode = nn::Mode::eval;
  const auto h = curvature::hessian_operator(netd, loss, sub.inputs, pass);
  const RandomStream probe_stream(seed, 100);
  std::printf("# curvature on %ld training images (double, eval mode), mean loss %.5f\n", subset,
              double(nn::loss(netd, loss, sub.inputs)));

  curvature::LanczosOptions lo;
  lo.tolerance = 1e-6;
  const auto top_h = curvature::lanczos_eigenpairs(h, k, probe_stream.substream(1), lo);
  std::printf("lambda_max(H)      %.6g   (Lanczos, residual %.2g, %ld HVPs, %s)\n", double(top_h.eigenvalues[0]),
              double(top_h.residuals[0]), long(top_h.matvecs), to_string(top_h.outcome.status));
  const auto tf = curvature::trace_and_frobenius(h, probes, probe_stream);
  const double fro = std::sqrt(double(tf.frobenius_squared.estimate));
  std::printf("Tr H               %.6g +- %.2g   (Hutchinson, %ld probes)\n", double(tf.trace.estimate),
              double(tf.trace.standard_error), probes);
  std::printf("||H||_F            %.6g +- %.2g   (Hutchinson on ||Hz||^2)\n", fro,
              double(tf.frobenius_squared.standard_error) / (2 * fro));

  // The paper's finite-difference HVP against the exact one, along the top eigenvector.
  const Eigen::VectorXd v = top_h.eigenvectors.col(0);
  const Eigen::VectorXd exact = h(v);
  for (double eps : {1e-2, 1e-3, 1e-4}) {
    const auto fd = curvature::finite_difference_hessian_operator(netd, loss, sub.inputs, eps, pass);
    std::printf("finite-difference HVP, eps %.0e: relative error %.2e\n", eps, (fd(v) - exact).norm() / exact.norm());
  }

  // Gradient-noise covariance against H (Assumption 2: C = H).
  const auto noise = curvature::gradient_noise(netd, loss, sub.inputs, 64);
  const auto c = curvature::covariance_operator(netd, loss, sub.inputs, pass);
  const auto al = curvature::alignment(c, h, probes, probe_stream.substream(2));
  const auto top_c = curvature::lanczos_eigenpairs(c, k, probe_stream.substream(3), lo);
  std::printf("Tr C               %.6g   (exact, per-sample gradients; |grad L| = %.3g)\n", double(noise.trace),
              noise.mean_gradient.norm());
  std::printf("Tr C / Tr H        %.4g +- %.2g (exact Tr C over Hutchinson Tr H: %.4g)\n", double(al.trace_ratio),
              double(al.trace_ratio_se), double(noise.trace) / double(tf.trace.estimate));
  std::printf("Tr(CH)/(|C||H|)_F  %.4g +- %.2g\n", double(al.cosine), double(al.cosine_se));
  std::printf("lambda_max(C)      %.6g   (Lanczos, residual %.2g)\n", double(top_c.eigenvalues[0]),
              double(top_c.residuals[0]));
  std::printf("top-%ld overlap     %.4g   (||U_C^T U_H||_F^2 / k; random subspaces: %.2g)\n", k,
              double(curvature::subspace_overlap(top_c.eigenvectors, top_h.eigenvectors)),
              double(k) / double(netd.num_parameters()));
  std::printf("# wall time %.1f s\n", seconds());
  return top_h.outcome.ok() && tf.trace.outcome.ok() && al.outcome.ok() ? 0 : 1;
}
