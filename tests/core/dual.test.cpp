// Tests for sgdsde/core/dual.hpp: the tangent of every operation and function equals the derivative by
// central differences; duals work as Eigen scalars (products split into value and tangent GEMMs).
#include "sgdsde/core/dual.hpp"

#include <cmath>
#include <functional>
#include <sstream>

#include <doctest/doctest.h>

#include "sgdsde/core/scalar.hpp"

using sgdsde::Dual;

namespace {

// Central difference with h = 1e-5 on functions of scale O(1): truncation h²|f'''|/6 ≈ 1e-10, rounding
// ε/h ≈ 2e-11, so a relative error ≤ 1e-7 can only fail for a wrong derivative.
double central_difference(const std::function<double(double)>& f, double x) {
  const double h = 1e-5;
  return (f(x + h) - f(x - h)) / (2 * h);
}

}  // namespace

TEST_CASE_TEMPLATE("dual arithmetic follows the product and quotient rules", T, float, double) {
  const Dual<T> a(T(1.5), T(2)), b(T(-0.5), T(3));
  const T tol = T(4) * std::numeric_limits<T>::epsilon();
  CHECK((a + b).value == T(1));
  CHECK((a + b).tangent == T(5));
  CHECK((a - b).tangent == T(-1));
  CHECK((a * b).value == T(-0.75));
  CHECK((a * b).tangent == doctest::Approx(2 * -0.5 + 1.5 * 3).epsilon(double(tol)));
  CHECK((a / b).value == T(-3));
  CHECK((a / b).tangent == doctest::Approx((2 * -0.5 - 1.5 * 3) / 0.25).epsilon(double(tol)));
  CHECK((T(2) * a).tangent == T(4));
  CHECK((a * 2).tangent == T(4));
  CHECK((1 / b).tangent == doctest::Approx(-3 / 0.25).epsilon(double(tol)));
  CHECK((2 - a).tangent == T(-2));
  CHECK((-a).tangent == T(-2));
  Dual<T> c = a;
  c *= b;
  CHECK(c.tangent == (a * b).tangent);
  c = a;
  c /= b;
  CHECK(c.tangent == (a / b).tangent);
  c = a;
  c += b;
  c -= b;
  CHECK(c.tangent == a.tangent);
  CHECK(a > b);
  CHECK(a > 1);
  CHECK(0 > b);
  CHECK(Dual<T>(1, 5) == Dual<T>(1, 7));  // comparisons see values only
}

TEST_CASE("dual math functions have the tangents of their derivatives") {
  struct Case {
    const char* name;
    std::function<Dual<double>(Dual<double>)> fd;
    std::function<double(double)> f;
    double x;
  };
  using std::erf;
  using std::exp;
  using std::log;
  using std::sqrt;
  using std::tanh;
  const Case cases[] = {
      {"exp", [](Dual<double> x) { return exp(x); }, [](double x) { return std::exp(x); }, 0.7},
      {"log", [](Dual<double> x) { return log(x); }, [](double x) { return std::log(x); }, 1.7},
      {"sqrt", [](Dual<double> x) { return sqrt(x); }, [](double x) { return std::sqrt(x); }, 2.3},
      {"tanh", [](Dual<double> x) { return tanh(x); }, [](double x) { return std::tanh(x); }, -0.6},
      {"erf", [](Dual<double> x) { return erf(x); }, [](double x) { return std::erf(x); }, 0.4},
      {"abs-", [](Dual<double> x) { return abs(x); }, [](double x) { return std::abs(x); }, -0.8},
      {"pow", [](Dual<double> x) { return pow(x, 2.5); }, [](double x) { return std::pow(x, 2.5); }, 1.3},
      {"max", [](Dual<double> x) { return max(x * x, Dual<double>(0.5)); },
       [](double x) { return std::max(x * x, 0.5); }, 0.9},
      {"min", [](Dual<double> x) { return min(x * x, Dual<double>(0.5)); },
       [](double x) { return std::min(x * x, 0.5); }, 0.9},
      {"composite", [](Dual<double> x) { return exp(-x * x / 2) * tanh(3 * x) / (1 + sqrt(x * x + 1)); },
       [](double x) { return std::exp(-x * x / 2) * std::tanh(3 * x) / (1 + std::sqrt(x * x + 1)); }, 0.35},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const Dual<double> y = c.fd(Dual<double>(c.x, 1.0));
    CHECK(y.value == doctest::Approx(c.f(c.x)).epsilon(1e-15));
    CHECK(y.tangent == doctest::Approx(central_difference(c.f, c.x)).epsilon(1e-7));
    // Tangents scale linearly with the seed.
    CHECK(c.fd(Dual<double>(c.x, -2.0)).tangent == doctest::Approx(-2 * y.tangent).epsilon(1e-15));
  }
}

namespace sgdsde {
// Inside namespace sgdsde, a bare exp(double) still means the C library's exp: the Dual overloads
// live in sgdsde::ad and do not hide it.
inline double exp_of_double_in_sgdsde(double x) { return exp(x); }
}  // namespace sgdsde

TEST_CASE("ReLU convention and non-finite detection") {
  CHECK(sgdsde::exp_of_double_in_sgdsde(1.0) == std::exp(1.0));
  const Dual<double> z(0.0, 1.0);
  const Dual<double> relu = z > 0 ? z : Dual<double>(0);
  CHECK(relu.tangent == 0.0);
  CHECK(isfinite(Dual<double>(1, 2)));  // found by argument-dependent lookup
  CHECK(!isfinite(Dual<double>(1, std::numeric_limits<double>::infinity())));
  CHECK(isnan(Dual<double>(std::nan(""), 0)));
  std::ostringstream os;
  os << Dual<double>(1.5, -2);
  CHECK(os.str() == "1.5 - 2ε");
}

TEST_CASE_TEMPLATE("duals as Eigen scalars: a dual GEMM is two plain GEMMs", T, float, double) {
  using D = Dual<T>;
  using M = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
  using MD = Eigen::Matrix<D, Eigen::Dynamic, Eigen::Dynamic>;
  // Large enough for Eigen's blocked GEMM path (> 16 in every dimension).
  const Eigen::Index m = 37, k = 53, n = 29;
  M a = M::Random(m, k), da = M::Random(m, k), b = M::Random(k, n), db = M::Random(k, n);
  MD A = a.binaryExpr(da, [](T x, T y) { return D(x, y); });
  MD B = b.binaryExpr(db, [](T x, T y) { return D(x, y); });
  MD C(m, n);
  C.noalias() = A * B;
  const M c_value = a * b, c_tangent = da * b + a * db;
  const M got_value = C.unaryExpr([](const D& x) { return x.value; });
  const M got_tangent = C.unaryExpr([](const D& x) { return x.tangent; });
  // Same sums in a different order: rounding of k-term dot products.
  const T tol = T(10) * T(k) * std::numeric_limits<T>::epsilon();
  CHECK((got_value - c_value).norm() <= tol * c_value.norm());
  CHECK((got_tangent - c_tangent).norm() <= tol * c_tangent.norm());
  // Reductions and coefficient-wise expressions.
  const D s = A.squaredNorm();
  CHECK(s.value == doctest::Approx(double(a.squaredNorm())).epsilon(double(tol)));
  CHECK(s.tangent == doctest::Approx(double(2 * a.cwiseProduct(da).sum())).epsilon(double(tol)));
  const D mx = A.maxCoeff();
  CHECK(mx.value == a.maxCoeff());
  MD scaled = T(2) * A;
  CHECK(scaled(3, 4).tangent == T(2) * da(3, 4));
  CHECK(A.allFinite());
}
