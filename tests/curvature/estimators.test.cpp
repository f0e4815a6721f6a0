// Tests for sgdsde/curvature/{operator,eigen,trace,density}.hpp (issue 10, items 2 and 5) on operators
// with known spectra A = Q diag(λ) Qᵀ (Q Haar-like orthogonal from the QR of a Gaussian matrix):
// Lanczos and power iteration against Eigen's dense SelfAdjointEigenSolver; Hutchinson, Frobenius and
// Hutch++ within 5 standard errors of the exact traces; Hutch++'s mean squared error against
// Hutchinson's at equal matrix-vector products over independent replicates; SLQ quadrature exactness,
// normalisation and moments; reproducibility of split probe sets.
#include <algorithm>
#include <cmath>
#include <limits>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include <Eigen/Dense>

#include "sgdsde/core/random.hpp"
#include "sgdsde/curvature/density.hpp"
#include "sgdsde/curvature/eigen.hpp"
#include "sgdsde/curvature/operator.hpp"
#include "sgdsde/curvature/trace.hpp"
#include "support/sweep.hpp"

#include <doctest/doctest.h>

namespace {

using Eigen::MatrixXd;
using Eigen::VectorXd;
using sgdsde::Index;
using sgdsde::RandomStream;
using sgdsde::Status;
using namespace sgdsde::curvature;

/// Q diag(λ) Qᵀ, symmetrised, with Q the orthogonal factor of a Gaussian matrix from `seed`.
MatrixXd with_spectrum(const VectorXd& lambda, std::uint64_t seed) {
  const Index n = lambda.size();
  MatrixXd g(n, n);
  RandomStream(seed, 99).fill_normal(g);
  const MatrixXd q = Eigen::HouseholderQR<MatrixXd>(g).householderQ();
  const MatrixXd a = q * lambda.asDiagonal() * q.transpose();
  return (a + a.transpose()) / 2;
}

/// sin of the angle between two vectors, as ‖x̂ − (x̂·ŷ)ŷ‖ (accurate to ε; √(1 − cos²) is not below √ε).
double sin_angle(const VectorXd& x, const VectorXd& y) {
  const VectorXd u = x.normalized(), v = y.normalized();
  return (u - u.dot(v) * v).norm();
}

/// Checks k pairs of `r` against the dense eigen-decomposition of `a` at the requested end:
/// eigenvalues to 1e-8·max(1, |λ|), eigenvectors to sin∠ ≤ 1e-8 (for eigenvalues separated from the
/// rest of the spectrum by more than `min_gap`; others must only satisfy A y = θ y to 1e-8·‖A‖), and
/// the reported residuals equal ‖A y − θ y‖ computed here to 1e-12·‖A‖.
void check_against_dense(const MatrixXd& a, const Eigenpairs<double>& r, Index k, SpectrumEnd which,
                         double min_gap = 1e-6) {
  Eigen::SelfAdjointEigenSolver<MatrixXd> dense(a);
  const VectorXd& lam = dense.eigenvalues();  // ascending
  const Index n = a.rows();
  std::vector<Index> order(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) order[std::size_t(i)] = i;
  if (which == SpectrumEnd::largest_algebraic) std::reverse(order.begin(), order.end());
  if (which == SpectrumEnd::largest_magnitude)
    std::stable_sort(order.begin(), order.end(), [&](Index x, Index y) { return std::abs(lam[x]) > std::abs(lam[y]); });
  const double norm = lam.cwiseAbs().maxCoeff();
  REQUIRE(r.eigenvalues.size() == k);
  REQUIRE(r.eigenvectors.cols() == k);
  CHECK((r.eigenvectors.transpose() * r.eigenvectors - MatrixXd::Identity(k, k)).cwiseAbs().maxCoeff() < 1e-10);
  for (Index i = 0; i < k; ++i) {
    const Index t = order[std::size_t(i)];
    INFO("pair " << i << ": theta = " << r.eigenvalues[i] << ", lambda = " << lam[t]);
    CHECK(std::abs(r.eigenvalues[i] - lam[t]) <= 1e-8 * std::max(1.0, std::abs(lam[t])));
    const VectorXd y = r.eigenvectors.col(i);
    const double res = (a * y - r.eigenvalues[i] * y).norm();
    CHECK(std::abs(r.residuals[i] - res) <= 1e-12 * std::max(1.0, norm));
    double gap = std::numeric_limits<double>::infinity();
    for (Index s = 0; s < n; ++s)
      if (s != t) gap = std::min(gap, std::abs(lam[s] - lam[t]));
    if (gap > min_gap)
      CHECK(sin_angle(y, dense.eigenvectors().col(t)) <= 1e-8);
    else
      CHECK(res <= 1e-8 * std::max(1.0, norm));
  }
}

/// Trapezoid rule on a uniform grid.
double trapezoid(const VectorXd& f, double h) { return h * (f.sum() - 0.5 * (f[0] + f[f.size() - 1])); }

}  // namespace

TEST_CASE("curvature: matrix_operator and function_operator apply A v") {
  const MatrixXd a = with_spectrum(VectorXd::LinSpaced(7, -2.0, 4.0), 1);
  const VectorXd v = VectorXd::LinSpaced(7, 0.5, 1.5);
  const auto op = matrix_operator(a);
  CHECK(op.dim() == 7);
  CHECK((op(v) - a * v).cwiseAbs().maxCoeff() < 1e-14);
  const auto f = function_operator(7, [&](const VectorXd& x) { return VectorXd(a * x); });
  VectorXd out(7);
  f.apply(v, out);
  CHECK((out - a * v).cwiseAbs().maxCoeff() < 1e-14);
  MatrixXd b = a;
  const auto copy = matrix_operator(b);
  b.setZero();  // the operator holds a copy
  CHECK((copy(v) - a * v).cwiseAbs().maxCoeff() < 1e-14);
}

TEST_CASE("curvature: Lanczos top-k matches the dense eigensolver to 1e-8 (double)") {
  const Index n = 150;
  SUBCASE("decaying spectrum with a cluster at the top, largest algebraic") {
    // λ = 10, 10 − 1e-3, 10 − 2e-3, then 9·0.95^i: gaps of 1e-3 (1e-4 relative) at the top. Angles there
    // are accurate to residual/gap (Davis–Kahan), so the tolerance is 1e-13: 1e-13·10/1e-3 = 1e-9.
    VectorXd lam(n);
    for (Index i = 0; i < n; ++i) lam[i] = 9 * std::pow(0.95, double(i));
    lam.head(3) << 10, 10 - 1e-3, 10 - 2e-3;
    const MatrixXd a = with_spectrum(lam, 2);
    LanczosOptions o;
    o.tolerance = 1e-13;
    o.max_matvecs = 400;
    const auto r = lanczos_eigenpairs(matrix_operator(a), 6, RandomStream(3), o);
    CHECK(r.outcome.ok());
    CHECK(r.residuals.maxCoeff() <= 1e-13 * 10);
    check_against_dense(a, r, 6, SpectrumEnd::largest_algebraic);
  }
  SUBCASE("indefinite spectrum: most negative and largest magnitude") {
    VectorXd lam = VectorXd::LinSpaced(n, -1.0, 2.0);
    lam.head(4) << -6, -5, -4.5, -4;  // the most negative, and among the largest in magnitude
    lam.tail(2) << 5.5, 4.8;
    const MatrixXd a = with_spectrum(lam, 4);
    for (SpectrumEnd which : {SpectrumEnd::smallest_algebraic, SpectrumEnd::largest_magnitude}) {
      INFO(to_string(which));
      LanczosOptions o;
      o.which = which;
      const auto r = lanczos_eigenpairs(matrix_operator(a), 4, RandomStream(5), o);
      CHECK(r.outcome.ok());
      check_against_dense(a, r, 4, which);
    }
  }
  SUBCASE("rank-deficient (rank 3) with k = 5: breakdown is exact, the null space is found") {
    VectorXd lam = VectorXd::Zero(n);
    lam.head(3) << 3, 2, 1;
    const MatrixXd a = with_spectrum(lam, 6);
    const auto r = lanczos_eigenpairs(matrix_operator(a), 5, RandomStream(7));
    CHECK(r.outcome.ok());
    CHECK(r.matvecs <= 6);  // Krylov space of dimension 4 (3 eigenvalues and 0), then one fresh vector
    check_against_dense(a, r, 5, SpectrumEnd::largest_algebraic);
  }
  SUBCASE("a multiple of the identity: breakdown at every step") {
    const MatrixXd a = 3 * MatrixXd::Identity(20, 20);
    const auto r = lanczos_eigenpairs(matrix_operator(a), 3, RandomStream(8));
    CHECK(r.outcome.ok());
    CHECK(r.matvecs == 3);
    check_against_dense(a, r, 3, SpectrumEnd::largest_algebraic);
  }
  SUBCASE("thick restarts with a small basis give the same pairs") {
    VectorXd lam(n);
    for (Index i = 0; i < n; ++i) lam[i] = 5 * std::pow(0.9, double(i)) - 0.2;
    const MatrixXd a = with_spectrum(lam, 9);
    LanczosOptions o;
    o.max_subspace = 12;
    o.max_matvecs = 2000;
    const auto r = lanczos_eigenpairs(matrix_operator(a), 5, RandomStream(10), o);
    CHECK(r.outcome.ok());
    CHECK(r.matvecs > 12);  // at least one restart happened
    check_against_dense(a, r, 5, SpectrumEnd::largest_algebraic);
  }
  SUBCASE("k = n = 1 and k = n") {
    const MatrixXd one = MatrixXd::Constant(1, 1, -2.5);
    const auto r1 = lanczos_eigenpairs(matrix_operator(one), 1, RandomStream(1));
    CHECK(r1.outcome.ok());
    CHECK(r1.eigenvalues[0] == doctest::Approx(-2.5).epsilon(1e-15));
    const MatrixXd a = with_spectrum(VectorXd::LinSpaced(6, -1.0, 4.0), 11);
    const auto r = lanczos_eigenpairs(matrix_operator(a), 6, RandomStream(2));
    CHECK(r.outcome.ok());
    check_against_dense(a, r, 6, SpectrumEnd::largest_algebraic);
  }
}

TEST_CASE("curvature: Lanczos non-convergence returns the residuals reached") {
  // Spectrum tightly clustered at the top (relative gaps 1e-6): 30 matvecs cannot resolve it.
  const Index n = 200;
  VectorXd lam = VectorXd::LinSpaced(n, 0.0, 1.0);
  for (Index i = 0; i < 20; ++i) lam[i] = 1 + 1e-6 * double(i);
  const MatrixXd a = with_spectrum(lam, 12);
  LanczosOptions o;
  o.max_matvecs = 30;
  const auto r = lanczos_eigenpairs(matrix_operator(a), 3, RandomStream(13), o);
  CHECK(r.outcome.status == Status::no_convergence);
  CHECK(r.matvecs == 30);
  REQUIRE(r.eigenvalues.size() == 3);
  CHECK(r.residuals.maxCoeff() > 1e-10 * r.eigenvalues.cwiseAbs().maxCoeff());
  for (Index i = 0; i < 3; ++i) {
    const VectorXd y = r.eigenvectors.col(i);
    CHECK(std::abs(r.residuals[i] - (a * y - r.eigenvalues[i] * y).norm()) < 1e-12);
  }
  CHECK(r.outcome.message.find("lanczos_eigenpairs") != std::string::npos);
}

TEST_CASE("curvature: power iteration with deflation finds the top eigenpairs") {
  // Gaps 10 → 7 → 5 → ≤ 3: rates 0.7, 0.71, 0.6 per iteration. Tolerance 1e-7 on the relative residual
  // r; the eigenvalue error of a Rayleigh quotient is ≤ r²/gap ≈ 1e-12, and sin∠ ≤ r/gap ≈ 3e-7.
  const Index n = 120;
  VectorXd lam = VectorXd::LinSpaced(n, -3.0, 3.0);
  lam.head(3) << 10, 7, 5;
  const MatrixXd a = with_spectrum(lam, 14);
  PowerIterationOptions o;
  o.tolerance = 1e-7;
  const auto r = power_iteration(matrix_operator(a), 3, RandomStream(15), o);
  CHECK(r.outcome.ok());
  Eigen::SelfAdjointEigenSolver<MatrixXd> dense(a);
  for (Index i = 0; i < 3; ++i) {
    const Index t = n - 1 - i;
    const VectorXd y = r.eigenvectors.col(i);
    const double res = (a * y - r.eigenvalues[i] * y).norm();
    CHECK(std::abs(r.residuals[i] - res) < 1e-12);
    CHECK(res <= 1e-7 * 10);
    CHECK(std::abs(r.eigenvalues[i] - dense.eigenvalues()[t]) <= 1e-10);
    CHECK(sin_angle(y, dense.eigenvectors().col(t)) <= 1e-6);
    CHECK(r.iterations[i] >= 1);
    CHECK(r.iterations[i] < 1000);
  }
  CHECK(r.matvecs == r.iterations.sum());
}

TEST_CASE("curvature: power iteration on ±λ of equal magnitude reports no_convergence") {
  VectorXd lam = VectorXd::LinSpaced(40, -1.0, 1.0);
  lam.head(2) << 5, -5;
  const MatrixXd a = with_spectrum(lam, 16);
  PowerIterationOptions o;
  o.max_iterations = 200;
  const auto r = power_iteration(matrix_operator(a), 1, RandomStream(17), o);
  CHECK(r.outcome.status == Status::no_convergence);
  CHECK(r.iterations[0] == 200);
  CHECK(r.residuals[0] > 1e-6 * 5);
}

// Hutchinson's estimate is the mean of m i.i.d. bounded samples, so (estimate − Tr A)/SE is
// asymptotically N(0, 1) (Student t_{m−1} for normal samples); |z| > 5 has probability ≈ 6e-7 per
// check, so the ~12 checks below fail by chance with probability < 1e-5. The exact values are dense
// computations (trace, squared Frobenius norm), independent of the estimators.
TEST_CASE("curvature: Hutchinson trace and Frobenius norm within 5 standard errors") {
  const Index n = 200, m = 400;
  std::vector<std::pair<const char*, VectorXd>> spectra;
  VectorXd decay(n), neg = VectorXd::LinSpaced(n, -3.0, 1.0), rank = VectorXd::Zero(n);
  for (Index i = 0; i < n; ++i) decay[i] = 1.0 / double((i + 1) * (i + 1));
  rank.head(5) << 4, 3, 2, -1, 0.5;
  spectra = {{"decaying", decay}, {"negative", neg}, {"rank-deficient", rank}};
  for (const auto& [name, lam] : spectra) {
    INFO(name);
    const MatrixXd a = with_spectrum(lam, 18);
    const auto op = matrix_operator(a);
    const auto tf = trace_and_frobenius(op, m, RandomStream(19, 1));
    CHECK(tf.trace.outcome.ok());
    CHECK(tf.trace.matvecs == m);
    CHECK(tf.trace.probes == m);
    CHECK(std::abs(tf.trace.estimate - a.trace()) <= 5 * tf.trace.standard_error);
    CHECK(std::abs(tf.frobenius_squared.estimate - a.squaredNorm()) <= 5 * tf.frobenius_squared.standard_error);
    // The separate functions use the same probes.
    CHECK(hutchinson_trace(op, m, RandomStream(19, 1)).estimate == tf.trace.estimate);
    CHECK(frobenius_norm_squared(op, m, RandomStream(19, 1)).estimate == tf.frobenius_squared.estimate);
    // The standard error estimates the exact one: Var(zᵀAz) = 2 Σ_{i≠j} a_ij² for Rademacher z.
    // The sample variance s² of m samples has relative standard error ≈ √((κ − 1)/m), κ the kurtosis
    // (estimated from the samples); 5 of those bound |s²/σ² − 1|.
    const double var = 2 * (a.squaredNorm() - a.diagonal().squaredNorm());
    const VectorXd d = tf.trace.samples.array() - tf.trace.samples.mean();
    const double s2 = d.squaredNorm() / double(m - 1);
    const double kurt = d.array().pow(4).mean() / (s2 * s2);
    CHECK(std::abs(s2 / var - 1) <= 5 * std::sqrt((kurt - 1) / double(m)));
    CHECK(tf.trace.standard_error == doctest::Approx(std::sqrt(s2 / double(m))).epsilon(1e-12));
  }
}

TEST_CASE("curvature: Hutch++ within 5 standard errors, unbiased over replicates") {
  // Given the sketch Q, Hutch++ = Tr(QᵀAQ) (exact) + Hutchinson on (I − QQᵀ)A(I − QQᵀ) with p probes,
  // so (t − Tr A)/SE is the z-score of a mean of p i.i.d. samples, as for Hutchinson (p = 100 here).
  const Index n = 200;
  VectorXd lam(n);
  for (Index i = 0; i < n; ++i) lam[i] = 3.0 / std::pow(double(i + 1), 1.0) - (i % 7 == 0 ? 0.2 : 0.0);
  const MatrixXd a = with_spectrum(lam, 20);
  const auto op = matrix_operator(a);
  const auto h = hutch_plus_plus(op, 150, RandomStream(21));
  CHECK(h.outcome.ok());
  CHECK(h.sketch_size == 50);
  CHECK(h.matvecs == 150);
  CHECK(h.residual_part.probes == 50);
  CHECK(h.estimate == doctest::Approx(h.low_rank_part + h.residual_part.estimate).epsilon(1e-14));
  CHECK(std::abs(h.estimate - a.trace()) <= 5 * h.standard_error);
  // Replicates on disjoint probe ranges are independent: their mean is within 5 SE (sd/√R) of Tr A.
  const int replicates = 100;
  VectorXd t(replicates);
  for (int r = 0; r < replicates; ++r) {
    ProbeOptions po;
    po.first_probe = 30 * r;
    t[r] = hutch_plus_plus(op, 30, RandomStream(22), po).estimate;
  }
  const double sd = std::sqrt((t.array() - t.mean()).square().sum() / (replicates - 1));
  CHECK(std::abs(t.mean() - a.trace()) <= 5 * sd / std::sqrt(double(replicates)));
}

TEST_CASE("curvature: Hutch++ error shrinks faster than Hutchinson's at equal matvecs" * doctest::test_suite("slow")) {
  // Spectrum λ_i = i⁻²: the tail after s directions has ‖·‖_F² ≈ s⁻³/3, so Hutch++'s mean squared error
  // falls like matvecs⁻⁴ against matvecs⁻¹ for Hutchinson. MSE over R independent replicates (disjoint
  // probe ranges) has standard error sd(e²)/√R; ratios are compared on the log scale, where the
  // delta method gives SE(log MSE) ≈ SE(MSE)/MSE, and the bound is 5 combined standard errors.
  const Index n = 150;
  VectorXd lam(n);
  for (Index i = 0; i < n; ++i) lam[i] = 1.0 / double((i + 1) * (i + 1));
  const MatrixXd a = with_spectrum(lam, 23);
  const auto op = matrix_operator(a);
  const double exact = a.trace();
  const int R = 150;
  struct Mse {
    double mse, se;
  };
  auto mse_of = [&](bool plus, Index matvecs) {
    VectorXd e2(R);
    for (int r = 0; r < R; ++r) {
      ProbeOptions po;
      po.first_probe = matvecs * r;
      const double t = plus ? hutch_plus_plus(op, matvecs, RandomStream(24), po).estimate
                            : hutchinson_trace(op, matvecs, RandomStream(24), po).estimate;
      e2[r] = (t - exact) * (t - exact);
    }
    const double mean = e2.mean();
    return Mse{mean, std::sqrt((e2.array() - mean).square().sum() / (R - 1) / R)};
  };
  const Mse h_small = mse_of(false, 30), h_large = mse_of(false, 120);
  const Mse p_small = mse_of(true, 30), p_large = mse_of(true, 120);
  MESSAGE("MSE Hutchinson 30/120 matvecs: " << h_small.mse << " ± " << h_small.se << ", " << h_large.mse << " ± "
                                            << h_large.se);
  MESSAGE("MSE Hutch++    30/120 matvecs: " << p_small.mse << " ± " << p_small.se << ", " << p_large.mse << " ± "
                                            << p_large.se);
  // Smaller error at equal matvecs (difference of independent estimates, 5 SE).
  for (const auto& [h, p] : {std::pair{h_small, p_small}, std::pair{h_large, p_large}})
    CHECK(h.mse - p.mse > 5 * std::sqrt(h.se * h.se + p.se * p.se));
  // Faster decay: log(MSE_small/MSE_large) larger for Hutch++.
  auto rel = [](const Mse& x) { return x.se / x.mse; };
  const double slope_h = std::log(h_small.mse / h_large.mse), slope_p = std::log(p_small.mse / p_large.mse);
  const double se = std::sqrt(std::pow(rel(h_small), 2) + std::pow(rel(h_large), 2) + std::pow(rel(p_small), 2) +
                              std::pow(rel(p_large), 2));
  MESSAGE("log MSE ratio 30 → 120: Hutchinson " << slope_h << ", Hutch++ " << slope_p << " (SE " << se << ")");
  CHECK(slope_p - slope_h > 5 * se);
}

TEST_CASE("curvature: SLQ quadrature is exact to degree 2m − 1, integrates to 1, moments within 5 SE") {
  const Index n = 120;
  VectorXd lam = VectorXd::LinSpaced(n, -1.0, 2.0);
  lam.head(3) << 6, 5, -2.5;
  const MatrixXd a = with_spectrum(lam, 25);
  const auto op = matrix_operator(a);
  SUBCASE("Gauss quadrature exactness against zᵀA^kz/n (dense)") {
    SlqOptions o;
    o.lanczos_steps = 4;
    const auto q = stochastic_lanczos_quadrature(op, 3, RandomStream(26), o);
    REQUIRE(q.outcome.ok());
    CHECK(q.matvecs == 12);
    for (Index p = 0; p < 3; ++p) {
      VectorXd z(n);
      RandomStream(26).rademacher_at(std::uint64_t(p * n), z);  // probe p, as documented
      VectorXd akz = z;
      CHECK(q.weights.col(p).sum() == doctest::Approx(1.0).epsilon(1e-13));
      for (int k = 0; k <= 7; ++k) {
        const double exact = z.dot(akz) / double(n);
        const double quad = (q.weights.col(p).array() * q.nodes.col(p).array().pow(double(k))).sum();
        INFO("probe " << p << ", k = " << k);
        CHECK(std::abs(quad - exact) <= 1e-10 * std::max(1.0, std::abs(exact)));
        akz = a * akz;
      }
    }
  }
  SUBCASE("density integrates to 1; moments k = 1, 2 within 5 SE of Tr(A^k)/n") {
    const auto q = stochastic_lanczos_quadrature(op, 300, RandomStream(27));
    REQUIRE(q.outcome.ok());
    CHECK(q.matvecs == 300 * 80);
    const double width = 0.05;
    // Grid from min node − 12 width to max node + 12 width, step width/10: the trapezoid rule on a
    // Gaussian with step ≤ width/2 is exact to < 1e-10, the truncated tails are < 1e-30.
    const double lo = q.nodes.minCoeff() - 12 * width, hi = q.nodes.maxCoeff() + 12 * width;
    const Index points = Index((hi - lo) / (width / 10)) + 1;
    const VectorXd grid = VectorXd::LinSpaced(points, lo, hi);
    const VectorXd phi = spectral_density(q, grid, width);
    CHECK(phi.minCoeff() >= 0);
    CHECK(std::abs(trapezoid(phi, grid[1] - grid[0]) - 1) < 1e-9);
    // First moment of the broadened density = first spectral moment (the Gaussians are centred).
    const VectorXd xphi = grid.array() * phi.array();
    const auto m1 = spectral_moment(q, 1), m2 = spectral_moment(q, 2);
    CHECK(std::abs(trapezoid(xphi, grid[1] - grid[0]) - m1.estimate) < 1e-9);
    // Moments: for k ≤ 2m − 1 each sample is zᵀA^kz/n exactly, so these are Hutchinson estimates of
    // Tr(A^k)/n, with the same CLT argument for the 5-SE bound.
    CHECK(std::abs(m1.estimate - a.trace() / double(n)) <= 5 * m1.standard_error);
    CHECK(std::abs(m2.estimate - a.squaredNorm() / double(n)) <= 5 * m2.standard_error);
    CHECK(spectral_moment(q, 0).estimate == doctest::Approx(1.0).epsilon(1e-13));
    // The density resolves the isolated eigenvalues 6 and 5: mass ≈ 1/n near each.
    const Eigen::Array<bool, Eigen::Dynamic, 1> near6 = (grid.array() - 6).abs() < 0.3;
    const double mass6 = near6.select(phi, VectorXd::Zero(points)).sum() * (grid[1] - grid[0]);
    // Per probe that mass is the weight of the Ritz value at 6, (zᵀu)²/n for the unit eigenvector u:
    // mean 1/n, variance 2(1 − Σu_i⁴)/n² ≤ 2/n² for Rademacher z; 5 SE over 300 probes.
    CHECK(std::abs(mass6 - 1.0 / double(n)) < 5 * std::sqrt(2.0) / double(n) / std::sqrt(300.0));
  }
}

TEST_CASE("curvature: split probe sets reproduce the estimate exactly") {
  const MatrixXd a = with_spectrum(VectorXd::LinSpaced(60, -1.0, 3.0), 28);
  const auto op = matrix_operator(a);
  RandomStream stream(29, 4);
  const auto all = hutchinson_trace(op, 100, stream);
  ProbeOptions second;
  second.first_probe = 50;
  const auto lo = hutchinson_trace(op, 50, stream), hi = hutchinson_trace(op, 50, stream, second);
  for (const auto& c : {combine(lo, hi), combine(hi, lo)}) {
    CHECK(c.estimate == all.estimate);
    CHECK(c.standard_error == all.standard_error);
    CHECK(c.samples == all.samples);
    CHECK(c.probes == 100);
    CHECK(c.matvecs == 100);
  }
  // The stream's cursor is not used: a stream that has drawn numbers gives the same estimate.
  RandomStream used(29, 4);
  Eigen::VectorXd junk(17);
  used.fill_normal(junk);
  CHECK(hutchinson_trace(op, 100, used).samples == all.samples);
  // Frobenius and SLQ probes split the same way.
  const auto f = frobenius_norm_squared(op, 100, stream);
  CHECK(combine(frobenius_norm_squared(op, 50, stream, second), frobenius_norm_squared(op, 50, stream)).estimate ==
        f.estimate);
  SlqOptions s1, s2;
  s1.lanczos_steps = s2.lanczos_steps = 10;
  s2.first_probe = 3;
  const auto q = stochastic_lanczos_quadrature(op, 6, stream, s1);
  const auto q2 = stochastic_lanczos_quadrature(op, 3, stream, s2);
  CHECK(q2.nodes == q.nodes.rightCols(3));
  CHECK(q2.weights == q.weights.rightCols(3));
}

TEST_CASE("curvature: float operators (applied in float, iterated in double)") {
  // Float claims: Lanczos at its float default tolerance 1e-4 (relative residual) gives eigenvalues to
  // ≈ 1e-4 relative (gaps ≥ 2 here); power iteration at 1e-3 to r²/gap ≈ 1e-6 relative; the trace
  // estimate is within 5 SE of the exact (double) trace; SLQ weights sum to 1 in float.
  const Index n = 80;
  VectorXd lam = VectorXd::LinSpaced(n, -1.0, 1.0);
  lam.head(3) << 8, 6, 4;
  const MatrixXd a = with_spectrum(lam, 30);
  const Eigen::MatrixXf af = a.cast<float>();
  const auto op = matrix_operator(af);
  static_assert(std::is_same_v<decltype(op), const LinearOperator<float>>);
  const auto r = lanczos_eigenpairs(op, 3, RandomStream(31));
  CHECK(r.outcome.ok());
  for (int i = 0; i < 3; ++i) CHECK(std::abs(r.eigenvalues[i] - float(lam[i])) <= 1e-4f * 8);
  const auto p = power_iteration(op, 1, RandomStream(31));
  CHECK(p.outcome.ok());
  CHECK(std::abs(p.eigenvalues[0] - 8.0f) <= 1e-4f * 8);
  const auto t = hutchinson_trace(op, 200, RandomStream(32));
  CHECK(t.outcome.ok());
  CHECK(std::abs(double(t.estimate) - a.trace()) <= 5 * double(t.standard_error));
  const auto q = stochastic_lanczos_quadrature(op, 10, RandomStream(33), SlqOptions{20, 0});
  CHECK(q.outcome.ok());
  CHECK(spectral_moment(q, 0).estimate == doctest::Approx(1.0f).epsilon(1e-6));
}

// ---- bad input (issue 10, item 7): every public function of operator/eigen/trace/density.hpp with wrong
// sizes, counts, options, non-finite and extreme operators. Kept in this file so the estimators are
// instantiated once (compile-time budget).

namespace {

/// An operator that returns A v for its first `good` applications, then `bad` in entry 0.
LinearOperator<double> poisoned_after(const MatrixXd& a, int good, double bad) {
  auto calls = std::make_shared<int>(0);
  return LinearOperator<double>(a.rows(), [a, good, bad, calls](const Eigen::Ref<const VectorXd>& v,
                                                               Eigen::Ref<VectorXd> out) {
    out.noalias() = a * v;
    if ((*calls)++ >= good) out[0] = bad;
  });
}

}  // namespace

TEST_CASE("curvature: bad input to the operators and estimators") {
  using sweep::returns;
  using sweep::succeeds;
  // One instantiation of sweep::throws_from for all cases (compile time): callables go through
  // std::function<void()>.
  auto throws_from = [](const char* fn, const char* arg, const char* name, std::function<void()> f) {
    return sweep::throws_from(fn, arg, name, std::move(f));
  };
  const Index n = 12;
  const MatrixXd a = with_spectrum(VectorXd::LinSpaced(n, -1.0, 3.0), 40);
  const auto op = matrix_operator(a);
  const RandomStream rs(41);
  const auto shrink = function_operator(n, [&](const VectorXd& v) { return VectorXd(a.topRows(n - 1) * v); });
  const VectorXd grid = VectorXd::LinSpaced(5, -1.0, 3.0);
  sweep::Keep<MatrixXd, VectorXd> keep(a, grid);
  const auto good_q = stochastic_lanczos_quadrature(op, 3, rs, SlqOptions{5, 0});
  const auto bad_q = stochastic_lanczos_quadrature(poisoned_after(a, 2, sweep::nan), 3, rs, SlqOptions{5, 0});
  auto lopt = [](auto set) {
    LanczosOptions o;
    set(o);
    return o;
  };
  std::vector<sweep::Case> cases = {
      // LinearOperator, matrix_operator, function_operator
      throws_from("LinearOperator", "dim", "dim 0", [] { return LinearOperator<double>(0, [](const auto&, auto) {}); }),
      throws_from("LinearOperator", "apply", "empty", [] { return LinearOperator<double>(3, {}); }),
      throws_from("LinearOperator::apply", "v", "size n+1", [&] { return op(VectorXd::Ones(n + 1)); }),
      throws_from("LinearOperator::apply", "out", "size n-1",
                  [&] {
                    VectorXd out(n - 1);
                    op.apply(VectorXd::Ones(n), out);
                  }),
      throws_from("matrix_operator", "a", "non-square", [] { return matrix_operator(MatrixXd::Ones(2, 3)); }),
      throws_from("matrix_operator", "a", "0x0", [] { return matrix_operator(MatrixXd(0, 0)); }),
      throws_from("matrix_operator", "a", "asymmetric",
                  [&] { return matrix_operator(sweep::with_entry(a, 0, 1, a(0, 1) + 1e-3)); }),
      throws_from("function_operator", "dim", "dim 0", [&] { return function_operator(0, [](const VectorXd& v) { return v; }); }),
      throws_from("function_operator", "f", "result changes size", [&] { return shrink(VectorXd::Ones(n)); }),
      // lanczos_eigenpairs
      throws_from("lanczos_eigenpairs", "k", "k = 0", [&] { return lanczos_eigenpairs(op, 0, rs); }),
      throws_from("lanczos_eigenpairs", "k", "k = -1", [&] { return lanczos_eigenpairs(op, -1, rs); }),
      throws_from("lanczos_eigenpairs", "k", "k > dim", [&] { return lanczos_eigenpairs(op, n + 1, rs); }),
      throws_from("lanczos_eigenpairs", "options.which", "invalid enum",
                  [&] { return lanczos_eigenpairs(op, 2, rs, lopt([](auto& o) { o.which = SpectrumEnd(7); })); }),
      throws_from("lanczos_eigenpairs", "options.max_subspace", "= k",
                  [&] { return lanczos_eigenpairs(op, 2, rs, lopt([](auto& o) { o.max_subspace = 2; })); }),
      throws_from("lanczos_eigenpairs", "options.max_matvecs", "-1",
                  [&] { return lanczos_eigenpairs(op, 2, rs, lopt([](auto& o) { o.max_matvecs = -1; })); }),
      throws_from("function_operator", "f", "lanczos_eigenpairs: operator changes size", [&] { return lanczos_eigenpairs(shrink, 2, rs); }),
      returns(Status::non_finite, "lanczos NaN at application 4",
              [&] { return lanczos_eigenpairs(poisoned_after(a, 3, sweep::nan), 2, rs).outcome; }),
      returns(Status::non_finite, "lanczos +inf at once",
              [&] { return lanczos_eigenpairs(poisoned_after(a, 0, sweep::inf), 2, rs).outcome; }),
      // power_iteration
      throws_from("power_iteration", "k", "k = 0", [&] { return power_iteration(op, 0, rs); }),
      throws_from("power_iteration", "k", "k > dim", [&] { return power_iteration(op, n + 1, rs); }),
      throws_from("power_iteration", "options.max_iterations", "0",
                  [&] { return power_iteration(op, 1, rs, PowerIterationOptions{0, 0}); }),
      throws_from("function_operator", "f", "power_iteration: operator changes size", [&] { return power_iteration(shrink, 1, rs); }),
      returns(Status::non_finite, "power NaN at iteration 3",
              [&] { return power_iteration(poisoned_after(a, 2, sweep::nan), 1, rs).outcome; }),
      // Hutchinson family
      throws_from("hutchinson_trace", "probes", "0", [&] { return hutchinson_trace(op, 0, rs); }),
      throws_from("hutchinson_trace", "probes", "-3", [&] { return hutchinson_trace(op, -3, rs); }),
      throws_from("hutchinson_trace", "options.first_probe", "-1", [&] { return hutchinson_trace(op, 5, rs, {-1}); }),
      throws_from("hutchinson_trace", "options.first_probe", "beyond the stream",
                  [&] { return hutchinson_trace(op, 5, rs, {Index(1) << 61}); }),
      throws_from("frobenius_norm_squared", "probes", "0", [&] { return frobenius_norm_squared(op, 0, rs); }),
      throws_from("trace_and_frobenius", "probes", "0", [&] { return trace_and_frobenius(op, 0, rs); }),
      throws_from("function_operator", "f", "hutchinson_trace: operator changes size", [&] { return hutchinson_trace(shrink, 3, rs); }),
      returns(Status::non_finite, "hutchinson NaN at probe 2",
              [&] { return hutchinson_trace(poisoned_after(a, 2, sweep::nan), 5, rs).outcome; }),
      returns(Status::non_finite, "frobenius -inf at probe 0",
              [&] { return frobenius_norm_squared(poisoned_after(a, 0, -sweep::inf), 5, rs).outcome; }),
      returns(Status::non_finite, "frobenius of a 1e200 operator overflows",
              [&] { return frobenius_norm_squared(matrix_operator(MatrixXd(1e200 * a)), 5, rs).outcome; }),
      throws_from("combine", "b", "non-adjacent",
                  [&] { return combine(hutchinson_trace(op, 3, rs), hutchinson_trace(op, 3, rs, {4})); }),
      throws_from("combine", "b", "another stream",
                  [&] { return combine(hutchinson_trace(op, 3, rs), hutchinson_trace(op, 3, RandomStream(42), {3})); }),
      throws_from("combine", "a", "failed input",
                  [&] {
                    return combine(hutchinson_trace(poisoned_after(a, 0, sweep::nan), 3, rs),
                                   hutchinson_trace(op, 3, rs, {3}));
                  }),
      throws_from("hutch_plus_plus", "matvecs", "2", [&] { return hutch_plus_plus(op, 2, rs); }),
      throws_from("hutch_plus_plus", "matvecs", "0", [&] { return hutch_plus_plus(op, 0, rs); }),
      throws_from("hutch_plus_plus", "options.first_probe", "-1", [&] { return hutch_plus_plus(op, 9, rs, {-1}); }),
      returns(Status::non_finite, "hutch++ NaN in the sketch",
              [&] { return hutch_plus_plus(poisoned_after(a, 1, sweep::nan), 9, rs).outcome; }),
      returns(Status::non_finite, "hutch++ NaN in the residual probes",
              [&] { return hutch_plus_plus(poisoned_after(a, 7, sweep::nan), 9, rs).outcome; }),
      // SLQ
      throws_from("stochastic_lanczos_quadrature", "probes", "0", [&] { return stochastic_lanczos_quadrature(op, 0, rs); }),
      throws_from("stochastic_lanczos_quadrature", "options.lanczos_steps", "0",
                  [&] { return stochastic_lanczos_quadrature(op, 2, rs, SlqOptions{0, 0}); }),
      throws_from("stochastic_lanczos_quadrature", "options.first_probe", "-2",
                  [&] { return stochastic_lanczos_quadrature(op, 2, rs, SlqOptions{4, -2}); }),
      returns(Status::non_finite, "slq NaN at step 3", [&] { return bad_q.outcome; }),
      throws_from("spectral_density", "width", "0", [&] { return spectral_density(good_q, grid, 0.0); }),
      throws_from("spectral_density", "width", "-1", [&] { return spectral_density(good_q, grid, -1.0); }),
      throws_from("spectral_density", "grid", "NaN entry",
                  [&] { return spectral_density(good_q, VectorXd(sweep::with_entry(grid, 2, 0, sweep::nan)), 0.1); }),
      throws_from("spectral_density", "q", "failed quadrature", [&] { return spectral_density(bad_q, grid, 0.1); }),
      throws_from("spectral_moment", "k", "-1", [&] { return spectral_moment(good_q, -1); }),
      throws_from("spectral_moment", "q", "failed quadrature", [&] { return spectral_moment(bad_q, 1); }),
      // Extreme but valid operators: the answers scale exactly (powers of two keep the scaling exact).
      succeeds("lanczos on A·2^-1000 and A·2^1000",
               [&] {
                 bool ok = true;
                 const double ref = lanczos_eigenpairs(op, 2, rs).eigenvalues[0];
                 for (double s : {std::ldexp(1.0, -1000), std::ldexp(1.0, 1000)}) {
                   const auto r = lanczos_eigenpairs(matrix_operator(MatrixXd(s * a)), 2, rs);
                   ok = ok && r.outcome.ok() && std::abs(r.eigenvalues[0] / s - ref) <= 1e-9 * std::abs(ref);
                 }
                 return sweep::verdict(ok, "scaled Lanczos");
               }),
      succeeds("power iteration on A·2^-1000",
               [&] {
                 const double s = std::ldexp(1.0, -1000);
                 const auto r = power_iteration(matrix_operator(MatrixXd(s * a)), 1, rs);
                 const auto r0 = power_iteration(op, 1, rs);
                 return sweep::verdict(r.outcome.ok() && std::abs(r.eigenvalues[0] / s - r0.eigenvalues[0]) <=
                                                             1e-9 * std::abs(r0.eigenvalues[0]),
                                       "scaled power iteration");
               }),
      succeeds("slq on A·2^900: moment 1 scales", [&] {
        const double s = std::ldexp(1.0, 900);
        const auto q = stochastic_lanczos_quadrature(matrix_operator(MatrixXd(s * a)), 3, rs, SlqOptions{5, 0});
        return sweep::verdict(q.outcome.ok() && std::abs(spectral_moment(q, 1).estimate / s -
                                                         spectral_moment(good_q, 1).estimate) <= 1e-9,
                              "scaled SLQ");
      })};
  sweep::run("curvature estimators", cases);
}
