// Bad-input sweep of nn/ (issue 8, item 9; table in docs/reliability.md): Mlp and MlpSpec, the
// workspaces, the losses and every network function (write-into and returning forms), fed wrong sizes
// (including 0), NaN, ±inf, huge (1e308, float 3e38) and tiny (denormal) values, workspaces of another
// network. Every invalid_argument must also name the function the user called (prefix "<fn>: ").
#include <climits>
#include <cmath>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "sgdsde/core/dataset.hpp"
#include "sgdsde/core/random.hpp"
#include "sgdsde/nn/mlp.hpp"
#include "support/sweep.hpp"

#include <doctest/doctest.h>

namespace {

using Eigen::MatrixXd;
using Eigen::VectorXd;
using sgdsde::Labels;
using sgdsde::RandomStream;
using sgdsde::Status;
using sweep::Case;
using sweep::Keep;
using sweep::returns;
using sweep::succeeds;
using sweep::verdict;
namespace nn = sgdsde::nn;
using nn::Mlp;
using nn::MlpSpec;
using nn::Mode;

const auto& kNonFinite = sweep::non_finite;

template <class F>
Case throws(const std::string& fn, const std::string& argument, const std::string& name, F f) {
  return sweep::throws_from(fn, argument, name, std::move(f));
}

using sweep::with_entry;
Mlp<double> net_of(MlpSpec spec, std::uint64_t seed = 1) {
  Mlp<double> net(std::move(spec));
  net.initialize(RandomStream(seed));
  return net;
}
MlpSpec spec_of(std::vector<Eigen::Index> widths, bool batch_norm = false) {
  MlpSpec s;
  s.widths = std::move(widths);
  s.batch_norm = batch_norm;
  return s;
}

// A 2 → 3 → 2 network, 4 samples, squared-error targets and labels.
struct Fixture {
  Mlp<double> net = net_of(spec_of({2, 3, 2}));
  Mlp<double> bn = net_of(spec_of({2, 3, 2}, true));
  MatrixXd x = (MatrixXd(2, 4) << 0.3, -0.7, 1.1, 0.2, -0.4, 0.9, 0.5, -1.3).finished();
  MatrixXd y = (MatrixXd(2, 4) << 0.1, 0.2, -0.3, 0.4, 0.5, -0.6, 0.7, 0.8).finished();
  Labels labels = (Labels(4) << 0, 1, 1, 0).finished();
};
const Fixture& fx() {
  static const Fixture f;
  return f;
}

std::vector<Case> mlp_cases() {
  std::vector<Case> t;
  auto make = [](MlpSpec s) { return Mlp<double>(std::move(s)); };
  t.push_back(throws("Mlp", "spec.widths.size()", "no widths", [make] { return make(spec_of({})); }));
  t.push_back(throws("Mlp", "spec.widths.size()", "one width", [make] { return make(spec_of({3})); }));
  t.push_back(throws("Mlp", "spec.widths[k]", "width 0", [make] { return make(spec_of({2, 0, 1})); }));
  t.push_back(throws("Mlp", "spec.widths[k]", "width -1", [make] { return make(spec_of({2, -1, 1})); }));
  t.push_back(throws("Mlp", "spec.widths[k]", "width LONG_MIN", [] { return Mlp<double>({2, LONG_MIN}); }));
  // Regression: n_l·n_{l+1} and the running offset overflowed Index (UB), giving a wrapped P.
  t.push_back(throws("Mlp", "spec.widths", "widths 2^40 x 2^40 (P overflows)",
                     [make] { return make(spec_of({1, 1L << 40, 1L << 40, 1})); }));
  t.push_back(throws("Mlp", "spec.widths", "width LONG_MAX", [make] { return make(spec_of({LONG_MAX, 2})); }));
  t.push_back(throws("Mlp", "spec.widths", "widths 1, LONG_MAX, 1", [make] { return make(spec_of({1, LONG_MAX, 1})); }));
  t.push_back(throws("Mlp", "spec.widths", "float widths 2^31 x 2^31",
                     [] { return Mlp<float>({1L << 31, 1L << 31}); }));
  struct Field {
    const char* arg;
    double MlpSpec::*field;
    std::vector<double> bad;
  };
  const std::vector<Field> fields = {
      {"spec.sigma_w", &MlpSpec::sigma_w, {0.0, -1.0, sweep::nan, sweep::inf}},
      {"spec.sigma_b", &MlpSpec::sigma_b, {-1e-300, sweep::nan, sweep::inf}},
      {"spec.leaky_relu_slope", &MlpSpec::leaky_relu_slope, {-0.1, 1.0, sweep::nan, sweep::inf}},
      {"spec.batch_norm_epsilon", &MlpSpec::batch_norm_epsilon, {0.0, -1.0, sweep::nan, sweep::inf}},
      {"spec.batch_norm_momentum", &MlpSpec::batch_norm_momentum, {-0.1, 1.5, sweep::nan, sweep::inf}},
  };
  for (const Field& f : fields)
    for (double v : f.bad)
      t.push_back(throws("Mlp", f.arg, std::string(f.arg) + " = " + std::to_string(v), [f, v] {
        MlpSpec s = spec_of({2, 3, 1});
        s.*(f.field) = v;
        const MlpSpec copy = s;
        Mlp<double> net(s);
        (void)net;
        (void)copy;
      }));
  t.push_back(succeeds("Mlp sigma_b = 0, slope 0, momentum 0 and 1, sigma_w denormal", [] {
    MlpSpec s = spec_of({2, 3, 1}, true);
    s.sigma_b = 0;
    s.leaky_relu_slope = 0;
    s.batch_norm_momentum = 1;
    s.sigma_w = sweep::denormal;
    Mlp<double> net(s);
    net.initialize(RandomStream(3));
    return verdict(net.num_parameters() == 2 * 3 + 3 + 3 + 3 + 3 + 1 && net.parameters().allFinite());
  }));
  // σ_w = 1e308 is a valid spec whose outputs overflow: the returning forms say so.
  t.push_back(returns(Status::non_finite, "Mlp sigma_w = 1e308 (identity hidden): loss_and_gradient", [] {
    MlpSpec s = spec_of({2, 3, 1});
    s.sigma_w = sweep::huge;
    s.hidden_activation = nn::Activation::identity;
    const Mlp<double> net = net_of(s);
    const MatrixXd x = MatrixXd::Ones(2, 3), y = MatrixXd::Zero(1, 3);
    return nn::loss_and_gradient(net, nn::SquaredError(y), x).outcome;
  }));
  t.push_back(returns(Status::non_finite, "Mlp<float> sigma_w = 1e300 (c_w is inf in float)", [] {
    MlpSpec s = spec_of({2, 3, 1});
    s.sigma_w = 1e300;
    Mlp<float> net(s);
    net.initialize(RandomStream(1));
    const Eigen::MatrixXf x = Eigen::MatrixXf::Ones(2, 3), y = Eigen::MatrixXf::Zero(1, 3);
    return nn::loss_and_gradient(net, nn::SquaredError(y), x).outcome;
  }));
  // Workspaces.
  t.push_back(throws("MlpWorkspace", "max_batch", "max_batch 0", [] { return nn::MlpWorkspace<double>(fx().net, 0); }));
  t.push_back(throws("MlpWorkspace", "max_batch", "max_batch -1", [] { return nn::MlpWorkspace<double>(fx().net, -1); }));
  // Regression: width × max_batch overflowed inside Eigen (std::bad_alloc, not a named error).
  t.push_back(throws("MlpWorkspace", "max_batch", "max_batch LONG_MAX",
                     [] { return nn::MlpWorkspace<double>(fx().net, LONG_MAX); }));
  t.push_back(throws("MlpWorkspace", "max_batch", "TangentWorkspace max_batch 0",
                     [] { return nn::TangentWorkspace<double>(fx().net, 0); }));
  return t;
}

std::vector<Case> loss_cases() {
  std::vector<Case> t;
  const auto& f = fx();
  t.push_back(throws("loss", "targets", "targets 1x4 for 2 outputs", [&f] {
    const MatrixXd y1 = f.y.topRows(1);
    return nn::loss(f.net, nn::SquaredError(y1), f.x);
  }));
  t.push_back(throws("loss", "targets", "targets 2x3 for 4 samples", [&f] {
    const MatrixXd y3 = f.y.leftCols(3);
    return nn::loss(f.net, nn::SquaredError(y3), f.x);
  }));
  for (const auto& [name, v] : kNonFinite)
    t.push_back(throws("loss", "targets", "targets " + name, [&f, v = v] {
      const MatrixXd y = with_entry(f.y, 1, 2, v);
      Keep k(y, f.x, f.net.parameters());
      return nn::loss(f.net, nn::SquaredError(y), f.x);
    }));
  for (int bad : {-1, 2, INT_MAX, INT_MIN})
    t.push_back(throws("loss", "labels", "label " + std::to_string(bad), [&f, bad] {
      Labels l = f.labels;
      l[2] = bad;
      return nn::loss(f.net, nn::SoftmaxCrossEntropy(l), f.x);
    }));
  t.push_back(throws("loss", "labels.size()", "3 labels for 4 samples", [&f] {
    const Labels l = f.labels.head(3);
    return nn::loss(f.net, nn::SoftmaxCrossEntropy(l), f.x);
  }));
  t.push_back(throws("loss", "loss", "softmax on a 1-output network", [&f] {
    const Mlp<double> one = net_of(spec_of({2, 3, 1}));
    return nn::loss(one, nn::SoftmaxCrossEntropy(f.labels), f.x);
  }));
  t.push_back(returns(Status::non_finite, "loss_and_gradient targets 1e308 (loss overflows)", [&f] {
    const MatrixXd y = MatrixXd::Constant(2, 4, sweep::huge);
    Keep k(y, f.x);
    return nn::loss_and_gradient(f.net, nn::SquaredError(y), f.x).outcome;
  }));
  // log-sum-exp with the max subtracted: outputs of order 1e100 give a finite loss and gradient.
  t.push_back(succeeds("softmax cross-entropy at outputs ~1e100", [&f] {
    const MatrixXd x = 1e100 * f.x;
    const auto r = nn::loss_and_gradient(f.net, nn::SoftmaxCrossEntropy(f.labels), x);
    CHECK(r.loss > 0);
    return r.outcome;
  }));
  t.push_back(succeeds("squared error at targets and inputs denormal", [&f] {
    const MatrixXd x = MatrixXd::Constant(2, 4, sweep::denormal), y = MatrixXd::Constant(2, 4, sweep::denormal);
    return nn::loss_and_gradient(f.net, nn::SquaredError(y), x).outcome;
  }));
  return t;
}

/// Inputs cases shared by every function taking (net, …, inputs): wrong rows, no columns, non-finite.
template <class Call>
void input_cases(std::vector<Case>& t, const std::string& fn, Call call) {
  const auto& f = fx();
  t.push_back(throws(fn, "inputs", "inputs 3x4", [call] { call(MatrixXd::Ones(3, 4)); }));
  t.push_back(throws(fn, "inputs.cols()", "inputs 2x0", [call] { call(MatrixXd(2, 0)); }));
  for (const auto& [name, v] : kNonFinite)
    t.push_back(throws(fn, "inputs", "inputs " + name, [&f, call, v = v] {
      const MatrixXd x = with_entry(f.x, 0, 3, v);
      Keep k(x, f.net.parameters(), f.y);
      call(x);
    }));
}

std::vector<Case> function_cases() {
  std::vector<Case> t;
  const auto& f = fx();
  const nn::SquaredError<double> se(f.y);
  // Inputs of every function (returning forms; the write-into forms share the checks).
  input_cases(t, "forward", [&f](const MatrixXd& x) { return nn::forward(f.net, x); });
  input_cases(t, "loss", [&f](const MatrixXd& x) { return nn::loss(f.net, nn::SquaredError(f.y), x); });
  input_cases(t, "loss_and_gradient", [&f](const MatrixXd& x) { return nn::loss_and_gradient(f.net, nn::SquaredError(f.y), x); });
  input_cases(t, "loss_input_gradient",
              [&f](const MatrixXd& x) { return nn::loss_input_gradient(f.net, nn::SquaredError(f.y), x); });
  input_cases(t, "output_vjp", [&f](const MatrixXd& x) { return nn::output_vjp(f.net, x, f.y); });
  input_cases(t, "per_sample_gradients",
              [&f](const MatrixXd& x) { return nn::per_sample_gradients(f.net, nn::SquaredError(f.y), x); });
  input_cases(t, "output_jacobian", [&f](const MatrixXd& x) { return nn::output_jacobian(f.net, x); });
  const VectorXd v = VectorXd::Ones(f.net.num_parameters());
  input_cases(t, "hessian_vector_product",
              [&f, v](const MatrixXd& x) { return nn::hessian_vector_product(f.net, nn::SquaredError(f.y), x, v); });
  input_cases(t, "gradient_and_hessian_vector_product", [&f, v](const MatrixXd& x) {
    return nn::gradient_and_hessian_vector_product(f.net, nn::SquaredError(f.y), x, v);
  });
  input_cases(t, "jvp", [&f, v](const MatrixXd& x) { return nn::jvp(f.net, x, v); });
  input_cases(t, "accuracy", [&f](const MatrixXd& x) { return nn::accuracy(f.net, x, Labels(Labels::Zero(x.cols()))); });

  // Outputs of the wrong size (write-into forms).
  t.push_back(throws("forward", "outputs", "outputs 2x3", [&f] {
    nn::MlpWorkspace<double> ws(f.net, 4);
    MatrixXd out(2, 3);
    nn::forward(f.net, f.x, out, ws);
  }));
  t.push_back(throws("loss_and_gradient", "gradient", "gradient of P - 1", [&f, se] {
    nn::MlpWorkspace<double> ws(f.net, 4);
    VectorXd g(f.net.num_parameters() - 1);
    return nn::loss_and_gradient(f.net, se, f.x, g, ws);
  }));
  t.push_back(throws("loss_input_gradient", "input_gradient", "input_gradient 2x3", [&f, se] {
    nn::MlpWorkspace<double> ws(f.net, 4);
    MatrixXd g(2, 3);
    return nn::loss_input_gradient(f.net, se, f.x, g, ws);
  }));
  t.push_back(throws("output_vjp", "cotangent", "cotangent 1x4", [&f] { return nn::output_vjp(f.net, f.x, MatrixXd(f.y.topRows(1))); }));
  for (const auto& [name, val] : kNonFinite)
    t.push_back(throws("output_vjp", "cotangent", "cotangent " + name,
                       [&f, val = val] { return nn::output_vjp(f.net, f.x, with_entry(f.y, 0, 0, val)); }));
  t.push_back(throws("output_vjp", "parameter_vjp", "parameter_vjp of P + 1", [&f] {
    nn::MlpWorkspace<double> ws(f.net, 4);
    VectorXd p(f.net.num_parameters() + 1);
    MatrixXd x(0, 0);
    nn::output_vjp(f.net, f.x, f.y, p, x, ws);
  }));
  t.push_back(throws("output_vjp", "input_vjp", "input_vjp 3x4", [&f] {
    nn::MlpWorkspace<double> ws(f.net, 4);
    VectorXd p(0);
    MatrixXd x(3, 4);
    nn::output_vjp(f.net, f.x, f.y, p, x, ws);
  }));
  t.push_back(throws("per_sample_gradients", "gradients", "gradients P x 3", [&f, se] {
    nn::MlpWorkspace<double> ws(f.net, 4);
    MatrixXd g(f.net.num_parameters(), 3);
    return nn::per_sample_gradients(f.net, se, f.x, g, ws);
  }));
  t.push_back(throws("per_sample_gradients", "mode", "batch norm in train mode",
                     [&f, se] { return nn::per_sample_gradients(f.bn, se, f.x, Mode::train); }));
  t.push_back(throws("output_jacobian", "jacobian", "jacobian of S rows", [&f] {
    nn::MlpWorkspace<double> ws(f.net, 4);
    MatrixXd j(4, f.net.num_parameters());
    nn::output_jacobian(f.net, f.x, j, ws);
  }));
  t.push_back(throws("output_jacobian", "mode", "batch norm in train mode", [&f] { return nn::output_jacobian(f.bn, f.x, Mode::train); }));
  // Directions. Regression: the HVP named its direction 'direction'; the argument is 'v'.
  t.push_back(throws("hessian_vector_product", "v", "v of P - 1", [&f, se] {
    return nn::hessian_vector_product(f.net, se, f.x, VectorXd(VectorXd::Ones(f.net.num_parameters() - 1)));
  }));
  t.push_back(throws("hessian_vector_product", "v", "v of size 0",
                     [&f, se] { return nn::hessian_vector_product(f.net, se, f.x, VectorXd(0)); }));
  for (const auto& [name, val] : kNonFinite) {
    t.push_back(throws("hessian_vector_product", "v", "v " + name, [&f, se, v, val = val] {
      VectorXd w = v;
      w[2] = val;
      Keep k(w);
      return nn::hessian_vector_product(f.net, se, f.x, w);
    }));
    t.push_back(throws("jvp", "parameter_direction", "parameter_direction " + name, [&f, v, val = val] {
      VectorXd w = v;
      w[0] = val;
      return nn::jvp(f.net, f.x, w);
    }));
    t.push_back(throws("jvp", "input_direction", "input_direction " + name,
                       [&f, v, val = val] { return nn::jvp(f.net, f.x, v, with_entry(f.x, 1, 1, val)); }));
  }
  t.push_back(throws("hessian_vector_product", "hv", "hv of P + 1", [&f, se, v] {
    nn::TangentWorkspace<double> tw(f.net, 4);
    VectorXd hv(f.net.num_parameters() + 1);
    return nn::hessian_vector_product(f.net, se, f.x, v, hv, tw);
  }));
  t.push_back(throws("gradient_and_hessian_vector_product", "gradient", "gradient of size 1", [&f, se, v] {
    nn::TangentWorkspace<double> tw(f.net, 4);
    VectorXd g(1), hv(f.net.num_parameters());
    return nn::gradient_and_hessian_vector_product(f.net, se, f.x, v, g, hv, tw);
  }));
  t.push_back(throws("jvp", "parameter_direction", "parameter_direction of size 1",
                     [&f] { return nn::jvp(f.net, f.x, VectorXd(VectorXd::Ones(1))); }));
  t.push_back(throws("jvp", "input_direction", "input_direction 2x3",
                     [&f, v] { return nn::jvp(f.net, f.x, v, MatrixXd(MatrixXd::Ones(2, 3))); }));
  t.push_back(throws("jvp", "tangent", "tangent 2x3", [&f, v] {
    nn::TangentWorkspace<double> tw(f.net, 4);
    MatrixXd out(2, 4), tan(2, 3);
    nn::jvp(f.net, f.x, v, MatrixXd(), out, tan, tw);
  }));
  // Labels of accuracy. Regression: labels outside [0, d_out) were silently counted as misses.
  t.push_back(throws("accuracy", "labels.size()", "3 labels", [&f] { return nn::accuracy(f.net, f.x, Labels(f.labels.head(3))); }));
  for (int bad : {-1, 2})
    t.push_back(throws("accuracy", "labels", "label " + std::to_string(bad), [&f, bad] {
      Labels l = f.labels;
      l[0] = bad;
      return nn::accuracy(f.net, f.x, l);
    }));
  t.push_back(throws("accuracy", "data", "a regression Dataset",
                     [&f] { return nn::accuracy(f.net, sgdsde::regression_data(f.x, f.y)); }));

  // Huge and tiny inputs: the status-carrying forms report overflow; tiny inputs are fine. (With ReLU,
  // 1e308 inputs may give exactly 0 hidden activations and a correct finite result: the linear net is
  // used where overflow must occur, and the ReLU net where the status must merely be truthful.)
  static const Mlp<double> lin = [] {
    MlpSpec s = spec_of({2, 3, 2});
    s.hidden_activation = nn::Activation::identity;
    return net_of(s);
  }();
  t.push_back(returns(Status::non_finite, "loss_and_gradient inputs 1e308 (linear net)", [se] {
    const MatrixXd x = MatrixXd::Constant(2, 4, sweep::huge);
    Keep k(x);
    return nn::loss_and_gradient(lin, se, x).outcome;
  }));
  t.push_back(succeeds("loss_and_gradient inputs ±1e308 (ReLU net): outcome ok iff all finite", [&f, se] {
    const MatrixXd x = sweep::huge * f.x.cwiseSign();
    const auto r = nn::loss_and_gradient(f.net, se, x);
    return verdict(r.outcome.ok() == (std::isfinite(r.loss) && r.gradient.allFinite()));
  }));
  t.push_back(returns(Status::non_finite, "gradient_and_hessian_vector_product inputs -1e308", [&f, se, v] {
    return nn::gradient_and_hessian_vector_product(f.net, se, MatrixXd(MatrixXd::Constant(2, 4, -sweep::huge)), v).outcome;
  }));
  t.push_back(returns(Status::non_finite, "loss_input_gradient inputs 1e308 (linear net)", [se] {
    return nn::loss_input_gradient(lin, se, MatrixXd(MatrixXd::Constant(2, 4, sweep::huge))).outcome;
  }));
  t.push_back(returns(Status::non_finite, "output_vjp cotangent 1e308",
                      [&f] { return nn::output_vjp(f.net, f.x, MatrixXd(MatrixXd::Constant(2, 4, sweep::huge))).outcome; }));
  t.push_back(returns(Status::non_finite, "loss_and_gradient float inputs 3e38", [] {
    Mlp<float> net({2, 3, 2});
    net.initialize(RandomStream(1));
    const Eigen::MatrixXf x = Eigen::MatrixXf::Constant(2, 4, sweep::huge_f), y = Eigen::MatrixXf::Zero(2, 4);
    return nn::loss_and_gradient(net, nn::SquaredError(y), x).outcome;
  }));
  t.push_back(succeeds("every function at denormal inputs", [&f, se, v] {
    const MatrixXd x = MatrixXd::Constant(2, 4, sweep::denormal);
    bool ok = nn::forward(f.net, x).allFinite() && nn::per_sample_gradients(f.net, se, x).allFinite() &&
              nn::output_jacobian(f.net, x).allFinite() && nn::jvp(f.net, x, v).tangent.allFinite();
    ok = ok && nn::loss_and_gradient(f.bn, se, x).outcome.ok() && nn::loss_input_gradient(f.net, se, x).outcome.ok() &&
         nn::gradient_and_hessian_vector_product(f.bn, se, x, VectorXd(VectorXd::Ones(f.bn.num_parameters()))).outcome.ok() && nn::output_vjp(f.net, x, f.y).outcome.ok();
    return verdict(ok);
  }));
  // The new returning forms equal the write-into forms.
  t.push_back(succeeds("loss_input_gradient returning form = write-into form", [&f, se] {
    Keep k(f.x, f.y, f.net.parameters());
    nn::MlpWorkspace<double> ws(f.net, 4);
    MatrixXd g(2, 4);
    const double l = nn::loss_input_gradient(f.net, se, f.x, g, ws);
    const auto r = nn::loss_input_gradient(f.net, se, f.x);
    CHECK(r.loss == l);
    CHECK(r.input_gradient == g);
    return r.outcome;
  }));
  t.push_back(succeeds("output_vjp returning form = write-into form", [&f] {
    Keep k(f.x, f.y, f.net.parameters());
    nn::MlpWorkspace<double> ws(f.net, 4);
    VectorXd p(f.net.num_parameters());
    MatrixXd x(2, 4);
    nn::output_vjp(f.net, f.x, f.y, p, x, ws);
    const auto r = nn::output_vjp(f.net, f.x, f.y);
    CHECK(r.parameter_vjp == p);
    CHECK(r.input_vjp == x);
    return r.outcome;
  }));
  return t;
}

std::vector<Case> workspace_cases() {
  std::vector<Case> t;
  const auto& f = fx();
  const nn::SquaredError<double> se(f.y);
  t.push_back(throws("forward", "inputs.cols()", "4 samples, workspace of 2", [&f] {
    nn::MlpWorkspace<double> ws(f.net, 2);
    MatrixXd out(2, 4);
    nn::forward(f.net, f.x, out, ws);
  }));
  t.push_back(throws("loss_and_gradient", "workspace", "workspace of other widths", [&f, se] {
    const Mlp<double> other({2, 4, 2});
    nn::MlpWorkspace<double> ws(other, 4);
    VectorXd g(f.net.num_parameters());
    return nn::loss_and_gradient(f.net, se, f.x, g, ws);
  }));
  // The crash: a batch-norm network with a workspace built without batch norm.
  t.push_back(throws("loss_and_gradient", "workspace", "batch-norm net, workspace without batch norm", [&f, se] {
    nn::MlpWorkspace<double> ws(f.net, 4);
    VectorXd g(f.bn.num_parameters());
    return nn::loss_and_gradient(f.bn, se, f.x, g, ws);
  }));
  t.push_back(throws("forward", "workspace", "plain net, workspace with batch norm", [&f] {
    nn::MlpWorkspace<double> ws(f.bn, 4);
    MatrixXd out(2, 4);
    nn::forward(f.net, f.x, out, ws);
  }));
  t.push_back(throws("hessian_vector_product", "workspace", "TangentWorkspace of other widths", [&f, se] {
    nn::TangentWorkspace<double> tw(Mlp<double>({2, 5, 2}), 4);
    VectorXd hv(f.net.num_parameters());
    return nn::hessian_vector_product(f.net, se, f.x, VectorXd(VectorXd::Ones(f.net.num_parameters())), hv, tw);
  }));
  // Regression: jvp runs the workspace's dual copy of the network, so a TangentWorkspace built for a
  // tanh network of the same widths silently computed the tanh network's outputs for a ReLU one.
  t.push_back(throws("jvp", "workspace", "TangentWorkspace of a tanh network, same widths", [&f] {
    MlpSpec s = spec_of({2, 3, 2});
    s.hidden_activation = nn::Activation::tanh;
    nn::TangentWorkspace<double> tw(Mlp<double>(s), 4);
    MatrixXd out(2, 4), tan(2, 4);
    nn::jvp(f.net, f.x, VectorXd(VectorXd::Ones(f.net.num_parameters())), MatrixXd(), out, tan, tw);
  }));
  t.push_back(throws("update_batch_norm_statistics", "workspace", "after an eval pass", [&f] {
    Mlp<double> net = f.bn;
    nn::MlpWorkspace<double> ws(net, 4);
    MatrixXd out(2, 4);
    nn::forward(net, f.x, out, ws, Mode::eval);
    nn::update_batch_norm_statistics(net, ws);
  }));
  t.push_back(throws("update_batch_norm_statistics", "workspace", "workspace without batch norm", [&f] {
    Mlp<double> net = f.bn;
    nn::MlpWorkspace<double> ws(f.net, 4);
    nn::update_batch_norm_statistics(net, ws);
  }));
  t.push_back(succeeds("update_batch_norm_statistics without batch norm is a no-op", [&f] {
    Mlp<double> net = f.net;
    nn::MlpWorkspace<double> ws(net, 4);
    nn::update_batch_norm_statistics(net, ws);
    return verdict(net.parameters() == f.net.parameters());
  }));
  t.push_back(succeeds("update_batch_norm_statistics after a 1-sample train pass (no unbiasing)", [&f, se] {
    Mlp<double> net = f.bn;
    nn::MlpWorkspace<double> ws(net, 4);
    VectorXd g(net.num_parameters());
    const MatrixXd x1 = f.x.leftCols(1), y1 = f.y.leftCols(1);
    (void)nn::loss_and_gradient(net, nn::SquaredError(y1), x1, g, ws);
    nn::update_batch_norm_statistics(net, ws);
    return verdict(net.running_var(0).allFinite() && net.running_mean(0).allFinite());
  }));
  return t;
}

}  // namespace

TEST_CASE("nn bad-input sweep") {
  std::size_t n = 0;
  n += sweep::run("nn/Mlp, MlpSpec, workspaces", mlp_cases());
  n += sweep::run("nn/losses", loss_cases());
  n += sweep::run("nn/functions", function_cases());
  n += sweep::run("nn/workspace of another network", workspace_cases());
  CHECK(n > 150);
}
