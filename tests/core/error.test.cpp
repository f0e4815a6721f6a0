// Tests for sgdsde/core/error.hpp and sgdsde/core/scalar.hpp: messages name the argument, the value
// and the expectation; statuses print; the tolerance helper is absolute near zero, relative elsewhere.
#include "sgdsde/core/error.hpp"
#include "sgdsde/core/scalar.hpp"

#include <limits>
#include <string>

#include <doctest/doctest.h>

namespace {
std::string message_of(void (*f)()) {
  try {
    f();
  } catch (const sgdsde::invalid_argument& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("argument errors name the function, the argument, the value and the expectation") {
  const std::string m1 = message_of([] { sgdsde::require_positive("integrate", "dt", -0.5); });
  CHECK(m1 == "integrate: argument 'dt' is -0.5; expected a finite value > 0");

  const std::string m2 = message_of([] {
    Eigen::MatrixXd a(2, 3);
    sgdsde::require_shape("ou_mean", "A", a, 2, 2);
  });
  CHECK(m2 == "ou_mean: argument 'A' is 2x3; expected 2x2");

  const std::string m3 = message_of([] {
    Eigen::Vector3d x(1, std::numeric_limits<double>::quiet_NaN(), 3);
    sgdsde::require_finite("integrate", "x0", x);
  });
  CHECK(m3.find("argument 'x0' is non-finite at (1, 0)") != std::string::npos);

  const std::string m4 = message_of([] { sgdsde::require(7 <= 5, "sample_batch", "S", 7, "1 <= S <= N = 5"); });
  CHECK(m4 == "sample_batch: argument 'S' is 7; expected 1 <= S <= N = 5");

  CHECK_THROWS_AS(sgdsde::require_positive("f", "eta", std::numeric_limits<double>::infinity()),
                  std::invalid_argument);
  CHECK_NOTHROW(sgdsde::require_positive("f", "eta", 1e-300));
  CHECK_THROWS_AS(sgdsde::require_square("f", "H", Eigen::MatrixXf(3, 2)), sgdsde::invalid_argument);
}

TEST_CASE("outcomes carry status, step and value") {
  sgdsde::Outcome ok;
  CHECK(ok.ok());
  const auto bad = sgdsde::Outcome::failure(sgdsde::Status::non_finite, 17, 1e308, "state became inf");
  CHECK_FALSE(bad.ok());
  CHECK(bad.step == 17);
  CHECK(std::string(sgdsde::to_string(bad.status)) == "non_finite");
  CHECK(std::string(sgdsde::to_string(sgdsde::Status::unstable_step)) == "unstable_step");
}

TEST_CASE_TEMPLATE("is_approx: absolute near zero, relative elsewhere", T, float, double) {
  const T tol = sgdsde::Constants<T>::tolerance();
  CHECK(sgdsde::is_approx(T(0), tol / 2));
  CHECK_FALSE(sgdsde::is_approx(T(0), tol * 2));
  CHECK(sgdsde::is_approx(T(1e6), T(1e6) * (1 + tol / 2)));
  CHECK_FALSE(sgdsde::is_approx(T(1e6), T(1e6) * (1 + tol * 4)));
  // Scalar comes from the first argument; the others convert (a double literal against a float).
  CHECK(sgdsde::is_approx(T(0.1), 0.1));
  CHECK_FALSE(sgdsde::is_approx(T(1), 1.5, 0.1));
}
