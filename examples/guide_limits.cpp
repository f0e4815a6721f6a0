// docs/guide.md: check SGD against its SDE limit on logistic regression (weak error of SME1 and SME2).
#include <cstdio>

#include <sgdsde/limits/limits.hpp>
#include <sgdsde/limits/weak_error.hpp>
using namespace sgdsde;

int main() {
  Eigen::MatrixXd x(2, 32);                                 // 32 points in R², samples are columns
  RandomStream(7).fill_normal(x);
  x *= 3.0;
  Labels y(32);
  for (Index n = 0; n < 32; ++n) y[n] = x(0, n) + 0.5 * x(1, n) > 0 ? 1 : 0;
  nn::Mlp<double> net({2, 2});                              // logistic regression
  net.initialize(RandomStream(3));
  const nn::SoftmaxCrossEntropy loss(y);
  const auto model = limits::mlp_model(net, loss, x);       // per-sample gradients, HVPs
  auto phi = [&](const Eigen::VectorXd& theta) { return double(model.loss(theta)); };

  limits::WeakErrorOptions o;                               // SGD with replacement, S = 16, up to T = 1.2
  o.learning_rates = {0.4, 0.2, 0.1};
  o.horizon = 1.2;
  o.sampler = with_replacement(16);
  o.runs = 300;
  const auto study = limits::weak_error_study(model, Eigen::VectorXd(net.parameters()), phi, o);
  for (const auto& p : study.points)
    std::printf("eta %.2f  gap SME1 %+.2e ± %.1e  gap SME2 %+.2e ± %.1e\n", p.learning_rate, p.gap_sme1.value,
                p.gap_sme1.standard_error, p.gap_sme2.value, p.gap_sme2.standard_error);
  std::printf("weak order SME1 %.2f ± %.2f, SME2 %.2f ± %.2f\n", study.sme1_fit.order,
              study.sme1_order_mc_standard_error, study.sme2_fit.order, study.sme2_order_mc_standard_error);
  return study.outcome.ok() ? 0 : 1;
}
