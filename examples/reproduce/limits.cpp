// Claims "sgd-vs-sde" and "sgd-vs-sde-ou" of sgdsde-reproduce: SGD against its learning SDE (Jastrzębski
// et al. 2018 eq. 5) and the stochastic modified equations SME1/SME2 (Li, Tai & E 2017, 2019): measured weak
// orders on smooth problems, SGD and SDE trajectories side by side on a Fashion-MNIST MLP, and the exact
// reduction of the learning SDE to the OU process on a quadratic.
#include "report.hpp"

#include <sgdsde/data/fashion_mnist.hpp>
#include <sgdsde/limits/invariance.hpp>
#include <sgdsde/limits/limits.hpp>
#include <sgdsde/limits/weak_error.hpp>
#include <sgdsde/nn/gradient.hpp>
#include <sgdsde/ou/sgd_quadratic.hpp>

#include <chrono>
#include <cmath>
#include <sstream>

namespace repro {
namespace {

using sgdsde::Index;
using sgdsde::RandomStream;
namespace nn = sgdsde::nn;
namespace limits = sgdsde::limits;

// Logistic regression (Mlp {2, 2}) or a tanh MLP {2, 4, 2} with softmax cross-entropy on N = 32 points
// x ~ 3·N(0, I), noisy linear labels; φ = logit difference at a held-out input (1, −0.7).
struct SmoothProblem {
  Eigen::MatrixXd x{2, 32};
  sgdsde::Labels y{32};
  nn::Mlp<double> net;
  Eigen::MatrixXd probe{2, 1};
  explicit SmoothProblem(bool hidden_tanh) : net(spec(hidden_tanh)) {
    RandomStream(7).fill_normal(x);
    x *= 3.0;
    Eigen::VectorXd u(32);
    RandomStream(8).fill_uniform(u);
    for (Index n = 0; n < 32; ++n) y[n] = (x(0, n) + 0.5 * x(1, n) + (u[n] - 0.5) > 0) ? 1 : 0;
    net.initialize(RandomStream(3));
    probe << 1.0, -0.7;
  }
  static nn::MlpSpec spec(bool hidden_tanh) {
    nn::MlpSpec s;
    s.widths = hidden_tanh ? std::vector<Index>{2, 4, 2} : std::vector<Index>{2, 2};
    s.hidden_activation = nn::Activation::tanh;
    return s;
  }
  double phi(const Eigen::VectorXd& theta) const {
    nn::Mlp<double> n2 = net;
    n2.parameters() = theta;
    const Eigen::MatrixXd out = nn::forward(n2, probe);
    return out(1, 0) - out(0, 0);
  }
};

struct OrderCase {
  std::string key, label;
  bool tanh = false;
  Index batch = 1;
  std::vector<double> etas;
  double horizon = 1.2;
  long runs = 0;
};

struct OrderOutcome {
  OrderCase c;
  limits::WeakErrorStudy st;
  bool sme1_holds = false, sme2_holds = false, fails = false;
  double seconds = 0;
};

// The decision rule of the tests: the 5-SE interval of the fitted order (SE: delta-method Monte Carlo)
// lies inside (p − 1/2, p + 1/2), i.e. the order is significantly closer to p than to p ± 1.
bool order_holds(double order, double se, double p) {
  return std::isfinite(order) && std::isfinite(se) && order - 5 * se > p - 0.5 && order + 5 * se < p + 0.5;
}
// The opposite decision: the 5-SE interval lies entirely outside (p − 1/2, p + 1/2). Between the two the
// runs were too few to decide.
bool order_fails(double order, double se, double p) {
  return std::isfinite(order) && std::isfinite(se) && (order + 5 * se < p - 0.5 || order - 5 * se > p + 0.5);
}

OrderOutcome run_order_case(const OrderCase& c, const Settings& s, std::uint64_t seed) {
  const auto t0 = std::chrono::steady_clock::now();
  const SmoothProblem prob(c.tanh);
  const nn::SoftmaxCrossEntropy loss(prob.y);
  const auto model = limits::mlp_model(prob.net, loss, prob.x);
  limits::WeakErrorOptions o;
  o.learning_rates = c.etas;
  o.horizon = c.horizon;
  o.sampler = sgdsde::with_replacement(c.batch);
  o.runs = c.runs;
  o.seed = seed;
  o.threads = s.threads;
  OrderOutcome r;
  r.c = c;
  r.st = limits::weak_error_study(model, Eigen::VectorXd(prob.net.parameters()),
                                  [&](const Eigen::VectorXd& t) { return prob.phi(t); }, o);
  r.sme1_holds = r.st.outcome.ok() && order_holds(r.st.sme1_fit.order, r.st.sme1_order_mc_standard_error, 1);
  r.sme2_holds = r.st.outcome.ok() && order_holds(r.st.sme2_fit.order, r.st.sme2_order_mc_standard_error, 2);
  r.fails = !r.st.outcome.ok() || order_fails(r.st.sme1_fit.order, r.st.sme1_order_mc_standard_error, 1) ||
            order_fails(r.st.sme2_fit.order, r.st.sme2_order_mc_standard_error, 2);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

Table order_table(const OrderOutcome& r) {
  Table t;
  t.name = "sgd_vs_sde_weak_" + r.c.key;
  t.header = {"eta", "gap_sme1", "se_sme1", "gap_sme2", "se_sme2", "abs_gap_sme1", "abs_gap_sme2", "slope1_ref",
              "slope2_ref", "sde_correction_sme1", "sde_correction_sme2", "E_phi_sgd", "se_sgd", "se_sgd_plain_mc"};
  const auto& pts = r.st.points;
  const auto& last = pts.back();
  for (const auto& p : pts) {
    const double ratio = p.learning_rate / last.learning_rate;
    t.rows.push_back({p.learning_rate, p.gap_sme1.value, p.gap_sme1.standard_error, p.gap_sme2.value,
                      p.gap_sme2.standard_error, std::abs(p.gap_sme1.value), std::abs(p.gap_sme2.value),
                      std::abs(last.gap_sme1.value) * ratio, std::abs(last.gap_sme2.value) * ratio * ratio,
                      p.sde_discretisation_sme1.value, p.sde_discretisation_sme2.value, p.sgd.value, p.sgd.standard_error,
                      p.sgd_plain.standard_error});
  }
  return t;
}

// --- the exact reduction on a quadratic -------------------------------------------------------------
ClaimResult quadratic_claim(const Settings& s, Progress& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  progress.step("sgd-vs-sde-ou: learning SDE of a quadratic against the OU process", 0.0);
  Eigen::MatrixXd h(2, 2);
  h << 1.5, 0.3, 0.3, 0.7;
  Eigen::MatrixXd xi(2, 8);
  RandomStream(s.seed + 11).fill_normal(xi);
  xi = (xi.colwise() - xi.rowwise().mean()).eval();
  const auto q = sgdsde::per_sample_quadratic(h, xi);
  const auto model = limits::quadratic_model(q);
  const double eta = 0.1;
  const Index batch = 2;
  limits::LearningSdeOptions lo;
  lo.learning_rate = eta;
  lo.sampler = sgdsde::with_replacement(batch);
  const auto sde = limits::learning_sde(model, lo);
  // 1. Coefficients: drift −Hθ − ξ̄ (ξ̄ = 0 up to rounding) and diffusion covariance ηκC, C = Xi Xiᵀ/N.
  Eigen::VectorXd th(2);
  th << 0.7, -1.3;
  const Eigen::VectorXd drift_err = sde.drift_at(th) + h * th + xi.rowwise().mean();
  const Eigen::MatrixXd cov_err = sde.diffusion_covariance(th) - (eta / double(batch)) * (xi * xi.transpose() / 8.0);
  const double coeff_err = std::max(drift_err.cwiseAbs().maxCoeff(), cov_err.cwiseAbs().maxCoeff());
  const bool coeff_ok = coeff_err <= 1e-12;
  // 2. Weak gaps of the study against their exact expectations (linear φ: matrix powers).
  progress.step("sgd-vs-sde-ou: weak gaps against the closed form", 0.3);
  Eigen::VectorXd theta0(2);
  theta0 << 1.0, -2.0;
  auto phi = [](const Eigen::VectorXd& t) { return t[0] + 2 * t[1]; };
  limits::WeakErrorOptions o;
  o.learning_rates = {0.4, 0.2, 0.1};
  o.horizon = 1.2;
  o.sampler = sgdsde::with_replacement(1);
  o.runs = s.pick(400L, 2000L, 20000L);
  o.seed = s.seed + 12;
  o.threads = s.threads;
  const auto st = limits::weak_error_study(model, theta0, phi, o);
  auto power = [&](const Eigen::MatrixXd& a, double dt, long n) {
    Eigen::VectorXd m = theta0;
    for (long k = 0; k < n; ++k) m = (m - dt * (a * m)).eval();  // ξ̄ = 0 up to rounding (< 1e-15 here)
    return phi(m);
  };
  Table t;
  t.name = "sgd_vs_sde_ou_gaps";
  t.header = {"eta", "gap_sme1", "se_sme1", "exact_sme1", "gap_sme2", "se_sme2", "exact_sme2", "z_sme1", "z_sme2"};
  double worst_z = 0;
  for (const auto& p : st.points) {
    const long k = p.steps;
    const Eigen::MatrixXd a2 = h + 0.5 * p.learning_rate * h * h;
    const double sgd = power(h, p.learning_rate, k);
    const double e1 = sgd - (2 * power(h, p.learning_rate / 4, 4 * k) - power(h, p.learning_rate / 2, 2 * k));
    const double e2 = sgd - (2 * power(a2, p.learning_rate / 4, 4 * k) - power(a2, p.learning_rate / 2, 2 * k));
    const double z1 = (p.gap_sme1.value - e1) / p.gap_sme1.standard_error, z2 = (p.gap_sme2.value - e2) / p.gap_sme2.standard_error;
    worst_z = std::max({worst_z, std::abs(z1), std::abs(z2)});
    t.rows.push_back({p.learning_rate, p.gap_sme1.value, p.gap_sme1.standard_error, e1, p.gap_sme2.value,
                      p.gap_sme2.standard_error, e2, z1, z2});
  }
  const bool gaps_ok = st.outcome.ok() && worst_z <= 5;
  ClaimResult c;
  c.id = "sgd-vs-sde-ou";
  c.title = "The learning SDE of a quadratic is the OU process; simulated weak gaps equal the closed form";
  c.source = "Jastrzębski et al. 2018, eq. 5 (quadratic case); Li, Tai & E 2017, SME1/SME2";
  c.statement = "On a quadratic with per-sample gradients Hθ + ξ_n the learning SDE has drift −Hθ and diffusion "
                "covariance (η/S)·C exactly, and SGD−SDE weak gaps have closed forms.";
  c.theory = "coefficients exact (to rounding); gaps = matrix-power expressions";
  std::ostringstream m;
  m << "max coefficient error " << num(coeff_err, 3) << "; worst |z| of 6 gaps " << num(worst_z, 3);
  c.measured = m.str();
  c.verdict = coeff_ok && gaps_ok ? Verdict::exact_pass : Verdict::exact_fail;
  std::ostringstream md;
  md << "The quadratic l_n(θ) = ½θᵀHθ + ξ_nᵀθ (H 2×2, N = 8 centred offsets) has constant gradient-noise covariance "
        "C = Xi Xiᵀ/N, so its learning SDE is an Ornstein–Uhlenbeck process. Its drift at a test point differs from "
        "−Hθ − ξ̄ and its diffusion covariance from (η/S)·C by at most "
     << num(coeff_err, 3)
     << " (bound 1e-12).\n\nWith the linear test function φ(θ) = θ₀ + 2θ₁ every expectation in the weak-error study is "
        "a matrix power: SGD (I − ηH)^K θ₀, Euler–Maruyama of SME1/SME2 (I − dt·A)^n θ₀ with A = H or H + (η/2)H², "
        "combined as the study does (Richardson 2E_{2m} − E_m, m = 2). The table gives each simulated gap, its "
        "standard error over "
     << o.runs << " runs and the exact value; the claim passes when every |z| ≤ 5 (CLT; a false failure has "
                 "probability < 1e-5 over the six gaps).\n";
  c.markdown = md.str();
  c.tables.push_back(t);
  Plot pl{"sgd_vs_sde_ou_gaps", "Quadratic: simulated SGD-SDE weak gaps against the exact values", "eta",
          "gap E phi(SGD) - E phi(SDE)", true, false, {}};
  pl.series.push_back({t.name, 0, 1, 2, "SME1 simulated", "points"});
  pl.series.push_back({t.name, 0, 3, -1, "SME1 exact", "lines"});
  pl.series.push_back({t.name, 0, 4, 5, "SME2 simulated", "points"});
  pl.series.push_back({t.name, 0, 6, -1, "SME2 exact", "lines"});
  c.plots.push_back(pl);
  c.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return c;
}

// --- Fashion-MNIST: SGD and the SDE side by side ---------------------------------------------------------
struct FashionPart {
  bool available = false;
  std::string reason, markdown, measured;
  std::vector<Table> tables;
  std::vector<Plot> plots;
};

FashionPart fashion_part(const Settings& s, Progress& progress) {
  FashionPart f;
  if (!sgdsde::data::fashion_mnist_available()) {
    f.reason = "Fashion-MNIST files not found (set SGDSDE_FASHION_MNIST_DIR); the trajectory comparison was skipped.";
    return f;
  }
  const Index n = s.pick<Index>(300, 1000, 2000), hidden = s.pick<Index>(16, 32, 100);
  const long runs = s.pick(3L, 8L, 16L);
  const double horizon = s.pick(4.0, 10.0, 20.0);
  std::vector<double> betas = s.level == Level::full ? std::vector<double>{1, 2, 4} : std::vector<double>{1, 2};
  progress.step("sgd-vs-sde: Fashion-MNIST MLP, SGD and SDE trajectories", 0.6);
  const auto t0 = std::chrono::steady_clock::now();
  auto [train, test] = sgdsde::data::fashion_mnist<double>(n);
  nn::MlpSpec sp;
  sp.widths = {784, hidden, 10};
  sp.parameterization = nn::Parameterization::standard;
  nn::Mlp<double> net(sp);
  net.initialize(RandomStream(s.seed + 21));
  const nn::SoftmaxCrossEntropy loss(train.labels);
  const auto model = limits::mlp_model(net, loss, train.inputs);
  auto phi = [&](const Eigen::VectorXd& th) {
    Eigen::VectorXd v(2);
    v[0] = double(model.loss(th));
    nn::Mlp<double> n2 = net;
    n2.parameters() = th;
    v[1] = 100.0 * nn::accuracy(n2, test);
    return v;
  };
  limits::InvarianceOptions o;
  o.learning_rate = 0.1;
  o.batch_size = 50;
  o.betas = betas;
  o.horizon = horizon;
  o.runs = runs;
  o.record_points = 10;
  o.sde_substeps = 1;
  o.seed = s.seed + 22;
  o.threads = s.threads;
  const auto st = limits::invariance_study(model, Eigen::VectorXd(net.parameters()), phi, o);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  f.available = true;
  Table curves;
  curves.name = "sgd_vs_sde_fmnist_curves";
  curves.show = false;
  curves.header = {"t", "sde_loss", "sde_loss_se", "sde_acc", "sde_acc_se"};
  for (const auto& c : st.sgd) {
    const std::string b = "b" + num(c.beta, 3);
    for (const char* col : {"_loss", "_loss_se", "_acc", "_acc_se"}) curves.header.push_back("sgd_" + b + col);
  }
  for (std::size_t i = 0; i < st.sde.times.size(); ++i) {
    std::vector<double> row{st.sde.times[i]};
    auto add = [&](const limits::TrajectoryStats& x) {
      if (x.runs == 0) {
        row.insert(row.end(), {NAN, NAN, NAN, NAN});
        return;
      }
      row.insert(row.end(), {x.mean(0, Index(i)), x.standard_error(0, Index(i)), x.mean(1, Index(i)),
                             x.standard_error(1, Index(i))});
    };
    add(st.sde);
    for (const auto& c : st.sgd) add(c.stats);
    curves.rows.push_back(row);
  }
  Table dist;
  dist.name = "sgd_vs_sde_fmnist_distance";
  dist.header = {"beta", "eta", "S", "D_loss", "D_loss_se", "D_acc_percent", "D_acc_se"};
  for (std::size_t j = 0; j < st.sgd.size(); ++j) {
    const auto& per = st.distance_per_functional[j];
    if (per.size() < 2) continue;
    dist.rows.push_back({st.sgd[j].beta, st.sgd[j].learning_rate, double(st.sgd[j].batch_size), per[0].value,
                         per[0].standard_error, per[1].value, per[1].standard_error});
  }
  Plot pl{"sgd_vs_sde_fmnist_loss", "Fashion-MNIST MLP: training loss of SGD at (beta*eta, beta*S) and of the SDE (mean +- SE)",
          "SDE time t = k*eta", "training loss", false, false, {}};
  Plot pa{"sgd_vs_sde_fmnist_accuracy", "Fashion-MNIST MLP: test accuracy of SGD and of the SDE (mean +- SE)",
          "SDE time t = k*eta", "test accuracy (%)", false, false, {}};
  pl.series.push_back({curves.name, 0, 1, 2, "SDE (SME1) at eta/S = 0.002", "linespoints"});
  pa.series.push_back({curves.name, 0, 3, 4, "SDE (SME1) at eta/S = 0.002", "linespoints"});
  for (std::size_t j = 0; j < st.sgd.size(); ++j) {
    const int base = 5 + 4 * int(j);
    const std::string lab = "SGD eta=" + num(st.sgd[j].learning_rate, 3) + ", S=" + std::to_string(st.sgd[j].batch_size);
    pl.series.push_back({curves.name, 0, base, base + 1, lab, "linespoints"});
    pa.series.push_back({curves.name, 0, base + 2, base + 3, lab, "linespoints"});
  }
  f.tables = {curves, dist};
  f.plots = {pl, pa};
  std::ostringstream md, ms;
  md << "\n**Trajectories on Fashion-MNIST.** An MLP 784-" << hidden
     << "-10 (ReLU, standard parameterisation, He initialisation) on the first " << n
     << " training images (softmax cross-entropy; the SDE's drift is the full-batch gradient over these " << n
     << ") is trained by SGD with replacement at (βη, βS), η = 0.1, S = 50, for β in {";
  for (std::size_t j = 0; j < betas.size(); ++j) md << (j ? ", " : "") << num(betas[j], 3);
  md << "}, and its learning SDE (SME1, Euler–Maruyama at dt = η) is integrated at the common η/S = 0.002, " << runs
     << " runs each, to SDE time T = " << num(horizon, 3) << " (T/η = " << num(horizon / 0.1, 3)
     << " steps at β = 1). φ = (training loss, test accuracy on the first " << n
     << " test images). D_β is the mean over the 10 record times t > 0 of |mean SGD − mean SDE|, with a "
        "delta-method SE (|·| of an unresolved difference is biased up by about one SE). Time: "
     << num(secs, 3) << " s.\n";
  if (!st.outcome.ok()) md << "\nOutcome: " << st.outcome.message << "\n";
  f.markdown = md.str();
  for (const auto& r : dist.rows) ms << "; D_loss(β=" << num(r[0], 3) << ") " << plus_minus(r[3], r[4], 2);
  f.measured = ms.str();
  return f;
}

std::vector<ClaimResult> limits_claims_impl(const Settings& s, Progress& progress) {
  std::vector<ClaimResult> out;
  if (s.wants("sgd-vs-sde-ou")) out.push_back(quadratic_claim(s, progress));
  if (!s.wants("sgd-vs-sde")) return out;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<OrderCase> cases;
  cases.push_back({"logistic_s16", "logistic regression, S = 16", false, 16, {0.4, 0.2, 0.1}, 1.2, s.pick(300L, 1500L, 8000L)});
  cases.push_back({"tanh_s64", "tanh MLP 2-4-2, S = 64", true, 64, {0.4, 0.2, 0.1}, 1.2, s.pick(300L, 1000L, 8000L)});
  if (s.level == Level::full) {
    cases.push_back({"logistic_s1", "logistic regression, S = 1", false, 1, {0.4, 0.2, 0.1}, 1.2, 20000L});
    cases.push_back({"tanh_s1", "tanh MLP 2-4-2, S = 1", true, 1, {0.2, 0.1, 0.05, 0.025}, 1.2, 20000L});
  }
  std::vector<OrderOutcome> results;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    progress.step("sgd-vs-sde: weak orders, " + cases[i].label, 0.1 + 0.5 * double(i) / double(cases.size()));
    results.push_back(run_order_case(cases[i], s, s.seed + 31 + i));
  }
  ClaimResult c;
  c.id = "sgd-vs-sde";
  c.title = "SGD against its SDE limit: weak orders of SME1 and SME2, and trajectories on Fashion-MNIST";
  c.source = "Jastrzębski et al. 2018, eq. 5; Li, Tai & E 2017 (ICML) Thm 1 and 2019 (JMLR) Thms 3–4";
  c.statement = "SGD is a weak order-1 approximation of the learning SDE (SME1) and a weak order-2 approximation "
                "of SME2 (drift −∇(L + (η/4)‖∇L‖²)) on smooth losses at a fixed horizon.";
  c.theory = "order 1 (SME1), 2 (SME2)";
  bool all = true, any_fail = false;
  std::ostringstream measured, md;
  md << "**Weak orders.** For each η of a ladder at fixed horizon T, E φ(θ_{T/η}) of SGD over R independent runs is "
        "compared with E φ(X_T) of SME1 and SME2 (learning SDE, Euler–Maruyama at dt = η/2 and η/4 on one Brownian "
        "path, Richardson-extrapolated 2E_{η/4} − E_{η/2} so the SDE's own O(dt) error is removed; its size is the "
        "column sde_correction). φ is the logit difference of the network at a held-out input. Every run carries a "
        "zero-mean control variate (the first-order response of φ to the gradient noise along the gradient-descent "
        "path), which leaves the means unchanged and cuts the variance from O(η) to O(η²) (compare se_sgd with "
        "se_sgd_plain_mc). The order is the least-squares slope of log|gap| on log η; its SE is the delta-method Monte "
        "Carlo SE √Σ w_i²(SE_i/gap_i)². Rule: 'holds' when the 5-SE interval of the slope lies inside (p − ½, p + ½), 'does not hold' when it lies "
        "entirely outside, 'undecided' otherwise (too few runs for the interval, or a pre-asymptotic ladder whose slope straddles p ± ½).\n\n"
        "| problem | R | SME1 order | SME2 order | rule | time |\n|---|---|---|---|---|---|\n";
  for (const auto& r : results) {
    const bool h = r.sme1_holds && r.sme2_holds;
    // Cases at S = 1 in --full are documented, not part of the verdict (pre-asymptotic, see the text).
    if (r.c.batch > 1) {
      all = all && h;
      any_fail = any_fail || r.fails;
    }
    md << "| " << r.c.label << " | " << r.c.runs << " | " << plus_minus(r.st.sme1_fit.order, r.st.sme1_order_mc_standard_error, 3)
       << " | " << plus_minus(r.st.sme2_fit.order, r.st.sme2_order_mc_standard_error, 3) << " | "
       << (h ? "holds" : r.fails ? "does not hold" : "undecided") << (r.c.batch == 1 ? " (documented only)" : "") << " | " << num(r.seconds, 3) << " s |\n";
    if (r.c.batch > 1)
      measured << r.c.key << ": " << plus_minus(r.st.sme1_fit.order, r.st.sme1_order_mc_standard_error, 2) << " / "
               << plus_minus(r.st.sme2_fit.order, r.st.sme2_order_mc_standard_error, 2) << "; ";
    if (!r.st.outcome.ok()) md << "\nOutcome of " << r.c.label << ": " << r.st.outcome.message << "\n";
    c.tables.push_back(order_table(r));
  }
  md << "\nThe ladder η ∈ {0.4, 0.2, 0.1} at T = 1.2 is pre-asymptotic: the slopes carry a curvature bias of "
        "+0.1–0.3 that the rule tolerates (it separates order p from p ± 1, not p from p + 0.2). The batch sizes "
        "S = 16 and 64 keep the Monte Carlo noise (∝ κ = 1/S after the control variate) well below the O(η²) gap of "
        "SME2 within seconds. With S = 1 the noise dominates the expansion: on the tanh MLP the SME2 gap shows order "
        "≈ 0.8 on this ladder and approaches 2 only for η ≤ 0.05 (docs/theory.md; --full runs the S = 1 cases).\n";
  FashionPart f = fashion_part(s, progress);
  if (f.available) {
    md << f.markdown;
    for (auto& t : f.tables) c.tables.push_back(std::move(t));
    for (auto& p : f.plots) c.plots.push_back(std::move(p));
  } else {
    md << "\n" << f.reason << "\n";
  }
  c.measured = measured.str() + "orders SME1 / SME2" + f.measured;
  c.verdict = all ? Verdict::holds : any_fail ? Verdict::does_not_hold : Verdict::undecided;
  if (c.verdict == Verdict::undecided)
    c.measured = "undecided: the 5-SE intervals of the orders are not decisive at this level (run --quick or --full); " + c.measured;
  Plot pw{"sgd_vs_sde_weak_orders", "|E phi(SGD) - E phi(SDE)| against eta (error bars: 1 SE); plain lines: slopes 1 and 2",
          "eta", "|weak gap|", true, true, {}};
  for (const auto& r : results) {
    const std::string tn = "sgd_vs_sde_weak_" + r.c.key;
    pw.series.push_back({tn, 0, 5, 2, "SME1, " + r.c.label, "linespoints"});
    pw.series.push_back({tn, 0, 6, 4, "SME2, " + r.c.label, "linespoints"});
  }
  pw.series.push_back({"sgd_vs_sde_weak_" + results[0].c.key, 0, 7, -1, "slope 1", "lines"});
  pw.series.push_back({"sgd_vs_sde_weak_" + results[0].c.key, 0, 8, -1, "slope 2", "lines"});
  c.plots.insert(c.plots.begin(), pw);
  c.markdown = md.str();
  c.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  progress.step("sgd-vs-sde: done", 1.0);
  out.push_back(std::move(c));
  return out;
}

}  // namespace

std::vector<ClaimResult> limits_claims(const Settings& s, Progress& progress) { return limits_claims_impl(s, progress); }

}  // namespace repro

SGDSDE_REPRO_REGISTER(limits_claims, 30)
