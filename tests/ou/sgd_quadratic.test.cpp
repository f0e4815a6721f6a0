// Tests for sgdsde/ou/sgd_quadratic.hpp, float and double: Jastrzębski eq. 7 in the isotropic case, the
// commuting-case ratio 1/(1 − ηλ/2), the general case against the Schur Lyapunov/Stein solvers, the
// shuffled-epoch law against a brute-force matrix computation (explicit double sums and a Stein solve)
// and its small-η limit, simulations of the three samplers against discrete_stationary (5 SE), errors.
#include "sgdsde/ou/sgd_quadratic.hpp"

#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include <Eigen/Dense>

#include "sgdsde/core/lyapunov.hpp"
#include "sgdsde/core/random.hpp"

#include <doctest/doctest.h>

namespace {
template <class T>
using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
using sgdsde::fresh_subset;
using sgdsde::shuffled_epochs;
using sgdsde::with_replacement;

Eigen::MatrixXd random_orthogonal(Eigen::Index d, std::uint64_t id) {
  Eigen::MatrixXd g(d, d);
  sgdsde::RandomStream(31, id).fill_normal(g);
  return Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(g + g.transpose()).eigenvectors();
}

/// H = V diag(λ) Vᵀ with λ evenly spread over [lo, hi].
Eigen::MatrixXd spd(Eigen::Index d, std::uint64_t id, double lo = 0.2, double hi = 3.0) {
  const Eigen::MatrixXd v = random_orthogonal(d, id);
  const Eigen::VectorXd lam = Eigen::VectorXd::LinSpaced(d, lo, hi);
  return v * lam.asDiagonal() * v.transpose();
}

/// d × N centred Gaussian offsets.
Eigen::MatrixXd offsets(Eigen::Index d, Eigen::Index n, std::uint64_t id) {
  Eigen::MatrixXd xi(d, n);
  sgdsde::RandomStream(2, id).fill_normal(xi);
  xi.colwise() -= xi.rowwise().mean();
  return xi;
}

template <class T>
double tol_of() {
  return std::is_same_v<T, float> ? 2e-4 : 1e-11;
}

/// Shuffled epochs by brute force, in double and without the eigenbasis: with M = I − ηH and
/// E[ε_k ε_lᵀ] = (c_d if k = l else c_o) C, the noise accumulated after j steps of an epoch is
/// U_j = η² Σ_{k,l<j} M^{j−1−k} E[ε_kε_lᵀ] M^{j−1−l} (double sum, O(j²) products), the epoch-start
/// covariance solves Σ_0 = M^B Σ_0 M^B + U_B (Schur Stein solver), Σ_j = M^jΣ_0M^j + U_j.
struct Brute {
  double average_loss;
  Eigen::VectorXd loss_by_position;
  Eigen::MatrixXd start, average;
};
Brute brute_shuffled(const Eigen::MatrixXd& h, const Eigen::MatrixXd& c, double eta, long n, long s) {
  const long nb = n / s;
  const Eigen::Index d = h.rows();
  const double cd = double(n - s) / (double(s) * (n - 1.0)), co = -1.0 / (n - 1.0);
  const Eigen::MatrixXd m = Eigen::MatrixXd::Identity(d, d) - eta * h;
  std::vector<Eigen::MatrixXd> pw(std::size_t(nb + 1), Eigen::MatrixXd::Identity(d, d));
  for (long k = 1; k <= nb; ++k) pw[std::size_t(k)] = pw[std::size_t(k - 1)] * m;
  auto noise = [&](long j) {
    Eigen::MatrixXd u = Eigen::MatrixXd::Zero(d, d);
    for (long k = 0; k < j; ++k)
      for (long l = 0; l < j; ++l)
        u += eta * eta * (k == l ? cd : co) * pw[std::size_t(j - 1 - k)] * c * pw[std::size_t(j - 1 - l)].transpose();
    return u;
  };
  const auto st = sgdsde::solve_discrete_lyapunov(pw[std::size_t(nb)], noise(nb), sgdsde::LyapunovMethod::schur);
  Brute out;
  out.start = st.X;
  out.average = Eigen::MatrixXd::Zero(d, d);
  out.loss_by_position.resize(nb);
  for (long j = 0; j < nb; ++j) {
    const Eigen::MatrixXd sj = pw[std::size_t(j)] * st.X * pw[std::size_t(j)].transpose() + noise(j);
    out.average += sj / double(nb);
    out.loss_by_position(j) = 0.5 * (h * sj).trace();
  }
  out.average_loss = 0.5 * (h * out.average).trace();
  return out;
}
}  // namespace

TEST_CASE_TEMPLATE("C = σ²H: Σ = ησ²/(2S) I and E[L − L*] = ησ²/(4S) Tr H (Jastrzębski eq. 7)", T, SGDSDE_TEST_SCALARS) {
  const Mat<T> h = spd(6, 1).cast<T>();
  const T sigma2 = T(0.3);
  const double eta = 0.05;  // any number converts: Scalar comes from the Quadratic
  const long s = 8;
  const sgdsde::Quadratic q(h, Mat<T>(sigma2 * h));
  const auto st = sgdsde::sde_stationary(q, eta, with_replacement(s));
  REQUIRE(st.outcome.ok());
  const T tol = T(tol_of<T>());
  const T expect = T(eta) * sigma2 / (4 * T(s)) * h.trace();
  CHECK(std::abs(st.expected_excess_loss - expect) <= tol * expect);
  const Mat<T> iso = (T(eta) * sigma2 / (2 * T(s))) * Mat<T>::Identity(6, 6);
  CHECK((st.covariance - iso).norm() <= tol * iso.norm());
}

TEST_CASE_TEMPLATE("commuting H and C: discrete/continuous ratio is 1/(1 − ηλ/2) per eigendirection", T, SGDSDE_TEST_SCALARS) {
  const Eigen::Index d = 5;
  const Eigen::MatrixXd v = random_orthogonal(d, 2);
  Eigen::VectorXd lam = Eigen::VectorXd::LinSpaced(d, 0.5, 4.0), c = Eigen::VectorXd::LinSpaced(d, 1.0, 0.2);
  const sgdsde::Quadratic q(Mat<T>((v * lam.asDiagonal() * v.transpose()).cast<T>()),
                            Mat<T>((v * c.asDiagonal() * v.transpose()).cast<T>()));
  const T eta = T(0.3);  // ηλ_max = 1.2: strong discretisation effect
  const auto sde = sgdsde::sde_stationary(q, eta, with_replacement(4));
  const auto disc = sgdsde::discrete_stationary(q, eta, with_replacement(4));
  REQUIRE(disc.outcome.ok());
  const auto ratio = sgdsde::discrete_to_continuous_ratio(q, eta);
  const Mat<T> vt = v.cast<T>();
  const Mat<T> sde_eig = vt.transpose() * sde.covariance * vt, disc_eig = vt.transpose() * disc.covariance * vt;
  const double tol = std::is_same_v<T, float> ? 1e-4 : 1e-12;
  for (Eigen::Index i = 0; i < d; ++i) {
    const double closed = 1.0 / (1.0 - double(eta) * lam(i) / 2);
    CHECK(double(ratio(i)) == doctest::Approx(closed).epsilon(tol));
    CHECK(double(disc_eig(i, i) / sde_eig(i, i)) == doctest::Approx(closed).epsilon(tol * 10));
    // Closed form of the discrete variance: ηκ c/(2λ − ηλ²).
    CHECK(double(disc_eig(i, i)) ==
          doctest::Approx(double(eta) * 0.25 * c(i) / (2 * lam(i) - double(eta) * lam(i) * lam(i))).epsilon(tol * 10));
  }
}

TEST_CASE_TEMPLATE("general H, C: agreement with Bartels–Stewart on the Lyapunov and Stein equations", T, SGDSDE_TEST_SCALARS) {
  const Eigen::Index d = 7;
  const Eigen::MatrixXd hd = spd(d, 3);
  Eigen::MatrixXd g(d, d);
  sgdsde::RandomStream(8, 8).fill_normal(g);
  const Eigen::MatrixXd cd = g * g.transpose() / double(d);
  const double eta = 0.4;
  const long s = 3;
  const sgdsde::Quadratic q(Mat<T>(hd.cast<T>()), Mat<T>(cd.cast<T>()));
  const auto sde = sgdsde::sde_stationary(q, eta, with_replacement(s));
  const auto disc = sgdsde::discrete_stationary(q, eta, with_replacement(s));
  const auto ly = sgdsde::solve_continuous_lyapunov(hd, Eigen::MatrixXd(eta / s * cd), sgdsde::LyapunovMethod::schur);
  const Eigen::MatrixXd a = Eigen::MatrixXd::Identity(d, d) - eta * hd;
  const auto st = sgdsde::solve_discrete_lyapunov(a, Eigen::MatrixXd(eta * eta / s * cd), sgdsde::LyapunovMethod::schur);
  const double tol = tol_of<T>();
  CHECK((sde.covariance.template cast<double>() - ly.X).norm() <= tol * ly.X.norm());
  CHECK((disc.covariance.template cast<double>() - st.X).norm() <= 10 * tol * st.X.norm());
  CHECK(double(disc.expected_excess_loss) == doctest::Approx(0.5 * (hd * st.X).trace()).epsilon(10 * tol));
  CHECK(disc.expected_excess_loss > sde.expected_excess_loss);  // 1/(1 − ηλ/2) > 1
}

TEST_CASE_TEMPLATE("shuffled epochs: exact law equals the brute-force matrix computation" * doctest::test_suite("slow"), T, SGDSDE_TEST_SCALARS) {
  const Eigen::Index d = 3;
  const Eigen::MatrixXd h = spd(d, 4, 0.3, 2.5);
  for (long n : {12L, 14L, 50L})      // S | N and S ∤ N (N mod S samples dropped per epoch)
    for (long s : {1L, 3L, 5L})
      for (double eta : {0.01, 0.05, 0.3, 0.7}) {
        CAPTURE(n);
        CAPTURE(s);
        CAPTURE(eta);
        const Eigen::MatrixXd xi = offsets(d, n, std::uint64_t(n));
        const auto q = sgdsde::per_sample_quadratic(Mat<T>(h.cast<T>()), Mat<T>(xi.cast<T>()));
        const auto ex = sgdsde::discrete_stationary(q, eta, shuffled_epochs(s));
        REQUIRE(ex.outcome.ok());
        const Brute b = brute_shuffled(h, q.noise_covariance().template cast<double>(), eta, n, s);
        // The brute force cancels terms of size η²c_d·B·C against each other (the epoch's noises sum
        // to ~0): its own error is ~1e-16/(ηλB)², hence the looser bound at η = 0.01 in double.
        const double tol = std::is_same_v<T, float> ? 2e-3 : (eta < 0.03 ? 1e-9 : 1e-12);
        CHECK(double(ex.expected_excess_loss) == doctest::Approx(b.average_loss).epsilon(tol));
        CHECK((ex.covariance.template cast<double>() - b.average).norm() <= tol * b.average.norm());
        CHECK((ex.epoch_start_covariance.template cast<double>() - b.start).norm() <= tol * b.start.norm());
        REQUIRE(ex.excess_loss_by_position.size() == n / s);
        CHECK((ex.excess_loss_by_position.template cast<double>() - b.loss_by_position).norm() <=
              tol * b.loss_by_position.norm());
      }
}

TEST_CASE_TEMPLATE("shuffled epochs: one batch per epoch is fresh_subset; small-η limit", T, SGDSDE_TEST_SCALARS) {
  const Eigen::Index d = 3;
  const Mat<T> h = spd(d, 5, 0.3, 2.5).cast<T>();
  const auto q = sgdsde::per_sample_quadratic(h, Mat<T>(offsets(d, 10, 5).cast<T>()));
  const double tol = tol_of<T>();
  // S = 6 of N = 10: B = 1, so consecutive batches come from different epochs and are independent.
  const auto one = sgdsde::discrete_stationary(q, 0.2, shuffled_epochs(6));
  const auto fresh = sgdsde::discrete_stationary(q, 0.2, fresh_subset(6));
  CHECK(double(one.expected_excess_loss) == doctest::Approx(double(fresh.expected_excess_loss)).epsilon(tol));
  CHECK(double((one.covariance - fresh.covariance).norm()) <= tol * double(fresh.covariance.norm()));
  // η → 0 with N = 10, S = 3 (one sample dropped per epoch): the epoch's noise sum has variance
  // B·δ·C per epoch with δ = (N mod S)/(S(N − 1)) = 1/27, so the law tends to HΣ + ΣH = ηδC, not to
  // the per-step SDE with κ = c_d (sde_stationary), which is 7/27 / (1/27) = 7 times larger.
  const double delta = 1.0 / 27.0;
  const sgdsde::Quadratic qd(Mat<T>(h), q.noise_covariance(), 10);
  auto ratio_to_limit = [&](double eta) {
    const double ex = double(sgdsde::discrete_stationary(q, eta, shuffled_epochs(3)).expected_excess_loss);
    const double lim = double(sgdsde::sde_stationary(qd, eta * delta / (7.0 / 27.0), fresh_subset(3)).expected_excess_loss);
    return ex / lim - 1;  // sde_stationary(fresh_subset) has κ = c_d = 7/27; rescaling η gives ηδ
  };
  const double r1 = ratio_to_limit(1e-3), r2 = ratio_to_limit(5e-4);
  CAPTURE(r1);
  CAPTURE(r2);
  CHECK(std::abs(r1) < 0.01);
  CHECK(r1 / r2 == doctest::Approx(2.0).epsilon(0.05));  // the correction is first order in η
  // S | N (N = 10, S = 5): δ = 0, fluctuations are O(η²): halving η divides the loss by ≈ 4.
  const double l1 = double(sgdsde::discrete_stationary(q, 2e-3, shuffled_epochs(5)).expected_excess_loss);
  const double l2 = double(sgdsde::discrete_stationary(q, 1e-3, shuffled_epochs(5)).expected_excess_loss);
  CHECK(l1 / l2 == doctest::Approx(4.0).epsilon(0.02));
  const auto sde5 = sgdsde::sde_stationary(q, 2e-3, shuffled_epochs(5));
  CHECK(double(sde5.expected_excess_loss) > 100 * l1);  // the per-step SDE is far off here
}

TEST_CASE_TEMPLATE("simulated SGD matches discrete_stationary for the three samplers (5 SE)" * doctest::test_suite("slow"), T, SGDSDE_TEST_SCALARS) {
  // ηλ ∈ [0.09, 0.75]: loss correlation time ≤ 1/(2·0.09) ≈ 6 steps, while a batch-means block is
  // ≥ 1.5e6/32 ≈ 47000 steps, so the 32 block means are independent and their mean is ≈ normal (CLT);
  // the statistic (sim − exact)/SE is then ≈ Student t with 31 d.o.f., P(|t| > 5) ≈ 2e-5 per check.
  const Eigen::Index d = 3;
  const Mat<T> h = spd(d, 4, 0.3, 2.5).cast<T>();
  const double eta = 0.3;
  const long steps = 1'500'000;
  for (long n : {12L, 14L}) {
    CAPTURE(n);
    const auto q = sgdsde::per_sample_quadratic(h, Mat<T>(offsets(d, n, std::uint64_t(n)).cast<T>()));
    const sgdsde::Sampler samplers[] = {with_replacement(3), with_replacement(20), fresh_subset(3), shuffled_epochs(3)};
    double fresh_exact = 0;
    for (const auto& sampler : samplers) {
      CAPTURE(sgdsde::name_of(sampler));
      const auto exact = sgdsde::discrete_stationary(q, eta, sampler);
      const auto sde = sgdsde::sde_stationary(q, eta, sampler);
      const auto sim = sgdsde::simulate_sgd(q, eta, sampler, steps, sgdsde::RandomStream(7, std::uint64_t(n)));
      REQUIRE(sim.outcome.ok());
      REQUIRE(exact.outcome.ok());
      CAPTURE(sim.excess_loss);
      CAPTURE(sim.standard_error);
      CAPTURE(exact.expected_excess_loss);
      CAPTURE(sde.expected_excess_loss);
      CHECK(std::abs(sim.excess_loss - exact.expected_excess_loss) < 5 * sim.standard_error);
      CHECK(std::abs(sim.excess_loss - sde.expected_excess_loss) > 5 * sim.standard_error);  // power
      if (std::holds_alternative<sgdsde::FreshSubset>(sampler)) fresh_exact = double(exact.expected_excess_loss);
      if (std::holds_alternative<sgdsde::ShuffledEpochs>(sampler)) {
        // The fresh-subset law does not describe shuffled epochs: rejected by hundreds of SE.
        CHECK(std::abs(double(sim.excess_loss) - fresh_exact) > 100 * double(sim.standard_error));
        // Cyclostationarity: each of the B = 4 positions of the epoch matches its own law (4 checks at 5 SE).
        REQUIRE(sim.excess_loss_by_position.size() == 4);
        for (Eigen::Index j = 0; j < 4; ++j) {
          CAPTURE(j);
          CHECK(std::abs(sim.excess_loss_by_position(j) - exact.excess_loss_by_position(j)) <
                5 * sim.standard_error_by_position(j));
        }
        // The positions differ (the epoch-start loss is the smallest when S | N).
        if (n == 12) CHECK(exact.excess_loss_by_position(0) < exact.excess_loss_by_position(2));
      }
    }
  }
}

TEST_CASE_TEMPLATE("unstable step size is a status, not a NaN", T, SGDSDE_TEST_SCALARS) {
  const sgdsde::Quadratic q(Mat<T>(spd(4, 6).cast<T>()), Mat<T>::Identity(4, 4), 20);  // λ_max = 3
  for (const sgdsde::Sampler& s : {sgdsde::Sampler(with_replacement(1)), sgdsde::Sampler(shuffled_epochs(4))}) {
    CHECK(sgdsde::discrete_stationary(q, 0.66, s).outcome.ok());
    const auto bad = sgdsde::discrete_stationary(q, 0.67, s);
    CHECK(bad.outcome.status == sgdsde::Status::unstable_step);
    CHECK(bad.outcome.value == doctest::Approx(0.67 * 3.0).epsilon(1e-5));
    CHECK(!bad.covariance.hasNaN());
    CHECK(std::isinf(bad.expected_excess_loss));
  }
  const auto r = sgdsde::discrete_to_continuous_ratio(q, 0.67);
  CHECK(std::isinf(r(3)));
  CHECK(std::isfinite(r(0)));
}

TEST_CASE_TEMPLATE("batch sizes: S > N with replacement is allowed everywhere, rejected otherwise", T, SGDSDE_TEST_SCALARS) {
  const Eigen::Index d = 2;
  const auto q = sgdsde::per_sample_quadratic(Mat<T>(spd(d, 9).cast<T>()), Mat<T>(offsets(d, 5, 9).cast<T>()));
  // With replacement S = 12 > N = 5: κ = 1/12, theory and simulation both accept it.
  const auto st = sgdsde::discrete_stationary(q, 0.1, with_replacement(12));
  const auto st1 = sgdsde::discrete_stationary(q, 0.1, with_replacement(1));
  CHECK(double(st.expected_excess_loss) == doctest::Approx(double(st1.expected_excess_loss) / 12).epsilon(tol_of<T>()));
  CHECK(sgdsde::simulate_sgd(q, 0.1, with_replacement(12), 2000, sgdsde::RandomStream(1)).outcome.ok());
  using sgdsde::invalid_argument;
  CHECK_THROWS_AS(sgdsde::discrete_stationary(q, 0.1, fresh_subset(6)), invalid_argument);
  CHECK_THROWS_AS(sgdsde::sde_stationary(q, 0.1, shuffled_epochs(6)), invalid_argument);
  CHECK_THROWS_AS(sgdsde::simulate_sgd(q, 0.1, fresh_subset(6), 2000, sgdsde::RandomStream(1)), invalid_argument);
  CHECK(sgdsde::discrete_stationary(q, 0.1, fresh_subset(5)).expected_excess_loss == T(0));  // S = N: full batch
}

TEST_CASE_TEMPLATE("SGD-on-a-quadratic functions reject bad arguments", T, SGDSDE_TEST_SCALARS) {
  const Mat<T> h = spd(3, 7).cast<T>();
  const Mat<T> c = Mat<T>::Identity(3, 3);
  const sgdsde::Quadratic q(h, c);
  using sgdsde::invalid_argument;
  CHECK_THROWS_AS(sgdsde::sde_stationary(q, 0.0, with_replacement(2)), invalid_argument);
  CHECK_THROWS_AS(sgdsde::discrete_stationary(q, -0.1, with_replacement(2)), invalid_argument);
  CHECK_THROWS_AS(sgdsde::discrete_stationary(q, std::nan(""), with_replacement(2)), invalid_argument);
  CHECK_THROWS_AS(sgdsde::Quadratic(h, Mat<T>(Mat<T>::Identity(2, 2))), invalid_argument);
  CHECK_THROWS_AS(sgdsde::Quadratic(Mat<T>(3, 2), c), invalid_argument);
  CHECK_THROWS_AS(sgdsde::Quadratic(Mat<T>(0, 0), Mat<T>(0, 0)), invalid_argument);
  Mat<T> asym = h;
  asym(0, 1) += T(0.5);
  CHECK_THROWS_AS(sgdsde::Quadratic(asym, c), invalid_argument);
  CHECK_THROWS_AS(sgdsde::Quadratic(Mat<T>(-h), c), invalid_argument);  // not PD
  CHECK_THROWS_AS(sgdsde::Quadratic(h, Mat<T>(-c)), invalid_argument);  // not PSD
  Mat<T> nan = c;
  nan(2, 2) = std::numeric_limits<T>::quiet_NaN();
  CHECK_THROWS_AS(sgdsde::Quadratic(h, nan), invalid_argument);
  CHECK_THROWS_AS(sgdsde::Quadratic(h, c, 0), invalid_argument);
  // Without N only with_replacement has a law; without offsets there is nothing to simulate.
  CHECK_THROWS_AS(sgdsde::discrete_stationary(q, 0.1, fresh_subset(2)), invalid_argument);
  CHECK_THROWS_AS(sgdsde::sde_stationary(q, 0.1, shuffled_epochs(2)), invalid_argument);
  CHECK_THROWS_AS(sgdsde::simulate_sgd(q, 0.1, with_replacement(2), 100, sgdsde::RandomStream(1)), invalid_argument);
  // Offsets must be centred and match H.
  Mat<T> xi = offsets(3, 6, 1).cast<T>();
  xi(0, 0) += T(1);
  CHECK_THROWS_AS(sgdsde::per_sample_quadratic(h, xi), invalid_argument);
  CHECK_THROWS_AS(sgdsde::per_sample_quadratic(h, Mat<T>(offsets(2, 6, 1).cast<T>())), invalid_argument);
  const auto qs = sgdsde::per_sample_quadratic(h, Mat<T>(offsets(3, 6, 1).cast<T>()));
  CHECK_THROWS_AS(sgdsde::simulate_sgd(qs, 0.1, shuffled_epochs(2), 10, sgdsde::RandomStream(1)), invalid_argument);
  try {
    sgdsde::sde_stationary(q, -0.1, with_replacement(2));
  } catch (const invalid_argument& e) {
    CHECK(std::string(e.what()).find("eta") != std::string::npos);
  }
  // A diverging simulation reports non_finite with the step.
  const auto blow = sgdsde::simulate_sgd(qs, 10.0, with_replacement(2), 200000, sgdsde::RandomStream(1),
                                         sgdsde::SgdSimulationOptions{0, 2});
  CHECK(blow.outcome.status == sgdsde::Status::non_finite);
  CHECK(blow.outcome.step > 0);
}

// Issue 12 (helper "parallel"): independent runs in parallel, bit-identical for any thread count.
TEST_CASE("simulate_sgd_ensemble: run r is simulate_sgd on substream r, the same bits for 1, 2, 3 threads") {
  Eigen::MatrixXd h(2, 2), xi(2, 40);
  h << 1.0, 0.2, 0.2, 0.5;
  sgdsde::RandomStream(3).fill_normal(xi);
  xi.colwise() -= xi.rowwise().mean();
  const auto q = sgdsde::per_sample_quadratic(h, xi);
  const sgdsde::RandomStream stream(12, 4);
  const auto one = sgdsde::simulate_sgd_ensemble(q, 0.1, sgdsde::with_replacement(4), 3000, 5, stream, {}, 1);
  REQUIRE(one.runs.size() == 5);
  CHECK(one.outcome.ok());
  double mean = 0.0;
  for (std::size_t r = 0; r < 5; ++r) {
    const auto alone = sgdsde::simulate_sgd(q, 0.1, sgdsde::with_replacement(4), 3000, stream.substream(4 + r));
    CHECK(one.runs[r].excess_loss == alone.excess_loss);
    CHECK(one.runs[r].final_error == alone.final_error);
    mean += alone.excess_loss / 5.0;
  }
  CHECK(one.excess_loss == doctest::Approx(mean).epsilon(1e-14));
  CHECK(one.standard_error > 0.0);
  for (int threads : {2, 3}) {
    const auto r = sgdsde::simulate_sgd_ensemble(q, 0.1, sgdsde::with_replacement(4), 3000, 5, stream, {}, threads);
    CHECK(r.excess_loss == one.excess_loss);
    CHECK(r.standard_error == one.standard_error);
    for (std::size_t k = 0; k < 5; ++k) CHECK(r.runs[k].final_error == one.runs[k].final_error);
  }
  // η beyond the stability limit 2/λ_max: every run fails, reported with its run index.
  const auto bad = sgdsde::simulate_sgd_ensemble(q, 4.0, sgdsde::with_replacement(4), 3000, 3, stream, {}, 2);
  CHECK(bad.outcome.status == sgdsde::Status::non_finite);
  CHECK(bad.failed_runs == 3);
  CHECK(bad.outcome.message.find("run 0") != std::string::npos);
  CHECK_THROWS_AS(sgdsde::simulate_sgd_ensemble(q, 0.1, sgdsde::with_replacement(4), 3000, 1, stream),
                  sgdsde::invalid_argument);
  CHECK_THROWS_AS(sgdsde::simulate_sgd_ensemble(q, 0.1, sgdsde::with_replacement(4), 3000, 3, stream, {}, 0),
                  sgdsde::invalid_argument);
}
