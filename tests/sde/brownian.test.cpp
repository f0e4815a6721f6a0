// Tests for sgdsde/sde/brownian.hpp: law of the increments, exact consistency of bridge refinement,
// the conditional (bridge) law, and independence of the numbers from how paths are split.
#include <cmath>
#include <vector>

#include <doctest/doctest.h>

#include "sgdsde/sde/brownian.hpp"
#include "support/stats.hpp"

namespace {
template <class Scalar>
using Mat = sgdsde::MatrixX<Scalar>;

// Sample variance of the entries of x (known mean 0), in double.
template <class D>
double mean_square(const Eigen::DenseBase<D>& x) {
  return x.derived().template cast<double>().array().square().mean();
}
}  // namespace

TEST_CASE_TEMPLATE("Brownian path: level-l values do not depend on the depth and increments telescope", T,
                   SGDSDE_TEST_SCALARS) {
  const sgdsde::RandomStream stream(42, 7);
  const sgdsde::BrownianPath<T> deep(stream, T(1), T(3), 2, 5, 8);
  const sgdsde::BrownianPath<T> shallow(stream, T(1), T(3), 2, 5, 3);
  CHECK(deep.finest_step() == T(2) / T(256));
  Mat<T> a(2, 5), b(2, 5), sum(2, 5), inc(2, 5);
  for (int k = 0; k <= 8; ++k) {
    const T t = T(1) + T(k) * T(0.25);
    deep.value(t, a);
    shallow.value(t, b);
    CHECK(a == b);  // the same numbers, bit for bit: the tree is refined, never redrawn
  }
  // The fine increments over [1.5, 2.5] sum to the coarse increment up to the rounding of the sum.
  sum.setZero();
  const T h = deep.finest_step();
  for (int k = 0; k < 128; ++k) {
    deep.increment(T(1.5) + T(k) * h, T(1.5) + T(k + 1) * h, inc);
    sum += inc;
  }
  deep.increment(T(1.5), T(2.5), inc);
  const T tol = T(256) * std::numeric_limits<T>::epsilon() * (T(1) + inc.cwiseAbs().maxCoeff());
  CHECK((sum - inc).cwiseAbs().maxCoeff() <= tol);
  // W(t0) = 0 and increments through `integrate`'s interface agree with increment(s, t).
  deep.value(T(1), a);
  CHECK(a.isZero(0));
  Mat<T> c(2, 5);
  deep.increment(3L, T(1.5), T(0.5), c);
  deep.increment(T(1.5), T(2), inc);
  CHECK(c == inc);
}

TEST_CASE_TEMPLATE("Brownian path and increments: a sub-range of paths gets the numbers of the whole", T, float,
                   double) {
  const sgdsde::RandomStream stream(9, 1);
  const sgdsde::BrownianPath<T> whole(stream, T(0), T(1), 3, 10, 5);
  const sgdsde::BrownianPath<T> part(stream, T(0), T(1), 3, 4, 5, 6, 10);
  Mat<T> w(3, 10), p(3, 4);
  for (int k = 0; k <= 32; ++k) {
    whole.value(T(k) / T(32), w);
    part.value(T(k) / T(32), p);
    CHECK(p == w.middleCols(6, 4));
  }
  const sgdsde::BrownianIncrements iwhole(stream, 3, 10), ipart(stream, 3, 4, 6, 10);
  for (long step : {0L, 1L, 17L}) {
    iwhole.increment(step, T(0), T(0.25), w);
    ipart.increment(step, T(0), T(0.25), p);
    CHECK(p == w.middleCols(6, 4));
  }
  // Different steps get different normals; the same step the same.
  Mat<T> again(3, 10);
  iwhole.increment(17L, T(0), T(0.25), again);
  CHECK(again == w);
  iwhole.increment(18L, T(0), T(0.25), again);
  CHECK((again - w).cwiseAbs().minCoeff() > T(0));
}

TEST_CASE("Brownian path: fine increments are i.i.d. N(0, h)") {
  // 16 fine intervals × 2 components × 8000 paths = 256000 standardised increments.
  constexpr int paths = 8000, levels = 4;
  const double T0 = 0.5, T1 = 2.5;
  const sgdsde::BrownianPath<double> path(sgdsde::RandomStream(2024), T0, T1, 2, paths, levels);
  const double h = path.finest_step();
  std::vector<double> z;
  Mat<double> inc(2, paths), prev(2, paths);
  for (int k = 0; k < (1 << levels); ++k) {
    path.increment(T0 + k * h, T0 + (k + 1) * h, inc);
    // Variance of each interval's 16000 increments: the estimator of σ² = h has SE h·√(2/n);
    // bound 5 SE (normal approximation to the χ² with 16000 degrees of freedom is accurate here).
    const double n = 2.0 * paths;
    CHECK(std::abs(mean_square(inc) - h) <= 5 * h * std::sqrt(2 / n));
    // Adjacent increments and the two components are uncorrelated: sample correlation of n
    // independent pairs has SE 1/√n; bound 5/√n.
    if (k > 0) CHECK(std::abs((inc.array() * prev.array()).mean() / h) <= 5 / std::sqrt(n));
    CHECK(std::abs((inc.row(0).array() * inc.row(1).array()).mean() / h) <= 5 / std::sqrt(double(paths)));
    for (Eigen::Index i = 0; i < inc.size(); ++i) z.push_back(inc.data()[i] / std::sqrt(h));
    prev = inc;
  }
  // Shape of the law: KS test of all standardised increments against N(0, 1); a p-value below 1e-6
  // (the two-sided 5σ level) would be a failure, anything above is consistent at the fixed seed.
  CHECK(sgdsde_test::ks_normal_pvalue(z) > 1e-6);
}

TEST_CASE("Brownian path: the bridge midpoints have the conditional law of Brownian motion") {
  // Given W(a) and W(b), W((a+b)/2) − (W(a) + W(b))/2 ~ N(0, (b − a)/4), independent of W(b) − W(a).
  constexpr int paths = 20000;
  const double T = 2.0;
  const sgdsde::BrownianPath<double> path(sgdsde::RandomStream(77), 0.0, T, 1, paths, 6);
  Mat<double> wa(1, paths), wm(1, paths), wb(1, paths);
  for (auto [a, b] : {std::pair{0.0, 2.0}, std::pair{0.5, 1.0}, std::pair{1.25, 1.5}}) {
    path.value(a, wa);
    path.value(b, wb);
    path.value(0.5 * (a + b), wm);
    const Eigen::ArrayXd r = (wm - 0.5 * (wa + wb)).transpose().array();
    const Eigen::ArrayXd span = (wb - wa).transpose().array();
    const double var = (b - a) / 4;
    INFO("bridge over [" << a << ", " << b << "]");
    // Variance within 5 SE (SE = var·√(2/n)); correlation with the span within 5/√n; KS p > 1e-6.
    CHECK(std::abs(r.square().mean() - var) <= 5 * var * std::sqrt(2.0 / paths));
    CHECK(std::abs((r * span).mean() / std::sqrt(var * (b - a))) <= 5 / std::sqrt(double(paths)));
    CHECK(sgdsde_test::ks_normal_pvalue(std::vector<double>(r.data(), r.data() + r.size()), 0.0,
                                        std::sqrt(var)) > 1e-6);
  }
}

TEST_CASE_TEMPLATE("Brownian sources reject bad arguments", T, SGDSDE_TEST_SCALARS) {
  const sgdsde::RandomStream s(1);
  CHECK_THROWS_WITH_AS(sgdsde::BrownianPath<T>(s, T(1), T(1), 1, 1, 2), doctest::Contains("'t1'"),
                       sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(sgdsde::BrownianPath<T>(s, T(0), T(1), 0, 1, 2), doctest::Contains("'noise_dim'"),
                       sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(sgdsde::BrownianPath<T>(s, T(0), T(1), 1, 0, 2), doctest::Contains("'paths'"),
                       sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(sgdsde::BrownianPath<T>(s, T(0), T(1), 1, 1, 31), doctest::Contains("'levels'"),
                       sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(sgdsde::BrownianPath<T>(s, T(0), T(1), 1, 4, 2, 2, 5), doctest::Contains("'total_paths'"),
                       sgdsde::invalid_argument);
  CHECK_THROWS_AS(sgdsde::BrownianPath<T>(s, T(NAN), T(1), 1, 1, 2), sgdsde::invalid_argument);
  const sgdsde::BrownianPath<T> p(s, T(0), T(1), 1, 2, 2);
  Mat<T> out(1, 2), wrong(2, 2);
  CHECK_THROWS_WITH_AS(p.value(T(0.3), out), doctest::Contains("'t'"), sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(p.value(T(1.25), out), doctest::Contains("'t'"), sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(p.increment(T(0.5), T(0.25), out), doctest::Contains("'t'"), sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(p.value(T(0.5), wrong), doctest::Contains("'out'"), sgdsde::invalid_argument);
  CHECK_NOTHROW(p.value(T(0.75), out));
  CHECK_THROWS_WITH_AS(sgdsde::BrownianIncrements(s, 1, 0), doctest::Contains("'paths'"),
                       sgdsde::invalid_argument);
  CHECK_THROWS_WITH_AS(sgdsde::BrownianIncrements(s, 1, 3, 1, 2), doctest::Contains("'total_paths'"),
                       sgdsde::invalid_argument);
}
