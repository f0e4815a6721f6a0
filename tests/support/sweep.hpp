// Test support: the table-driven bad-input sweep (issue 8, item 9). A table is a list of cases
// {name, expectation, callable}; run() calls each one and checks the expectation:
//   throws("arg", ...)      sgdsde::invalid_argument whose message names 'arg';
//   returns(Status, ...)    no exception, and the callable's Outcome has that status;
//   succeeds(...)           no exception and Status::success (the callable checks finiteness and,
//                           where cheap, the value against a second computation, with CHECKs).
// Any other exception fails the case. `Keep` snapshots the caller's inputs and checks, when it goes
// out of scope (also during unwinding), that they are bit-for-bit unchanged.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "sgdsde/core/dataset.hpp"
#include "sgdsde/core/error.hpp"

#include <doctest/doctest.h>

namespace sweep {

using sgdsde::Outcome;
using sgdsde::Status;

constexpr double nan = std::numeric_limits<double>::quiet_NaN();
constexpr double inf = std::numeric_limits<double>::infinity();
constexpr double huge = 1e308;
constexpr double tiny = 1e-308;
constexpr double denormal = 4.9406564584124654e-324;
constexpr float huge_f = 3e38f;
constexpr float denormal_f = 1.4e-45f;

struct Case {
  enum class Kind { throws, returns };
  std::string name;
  Kind kind;
  std::string argument;  // for throws
  Status status;         // for returns
  std::function<Outcome()> run;
};

/// Expect invalid_argument naming `argument`. `f` may return anything (or nothing).
template <class F>
Case throws(std::string argument, std::string name, F f) {
  return Case{std::move(name), Case::Kind::throws, std::move(argument), Status::success, [f]() mutable {
                if constexpr (std::is_void_v<decltype(f())>) f();
                else (void)f();
                return Outcome{};
              }};
}
/// Expect invalid_argument naming `argument`, thrown by function `fn`: the message must also start with
/// "fn: " (errors name the function the user called, not an inner helper).
template <class F>
Case throws_from(const std::string& fn, const std::string& argument, const std::string& name, F f) {
  return throws(argument, fn + " " + name, [fn, f]() mutable {
    try {
      if constexpr (std::is_void_v<decltype(f())>) f();
      else (void)f();
    } catch (const sgdsde::invalid_argument& e) {
      const std::string msg = e.what();
      CHECK_MESSAGE(msg.rfind(fn + ": ", 0) == 0, "message does not start with '" << fn << ": ': " << msg);
      throw;
    }
  });
}

/// The non-finite scalars every real argument is fed, with their names.
inline const std::vector<std::pair<std::string, double>> non_finite = {{"nan", nan}, {"+inf", inf}, {"-inf", -inf}};

/// m with entry (i, j) set to v (a copy).
inline Eigen::MatrixXd with_entry(Eigen::MatrixXd m, Eigen::Index i, Eigen::Index j, double v) {
  m(i, j) = v;
  return m;
}

/// Expect the Outcome returned by `f` to have status `s`.
template <class F>
Case returns(Status s, std::string name, F f) {
  return Case{std::move(name), Case::Kind::returns, "", s, std::function<Outcome()>(std::move(f))};
}
template <class F>
Case succeeds(std::string name, F f) {
  return returns(Status::success, std::move(name), std::move(f));
}

/// Success iff `ok` (e.g. all finite and equal to a second computation), else non_finite.
inline Outcome verdict(bool ok, const char* what = "check failed") {
  return ok ? Outcome{} : Outcome::failure(Status::non_finite, -1, 0.0, what);
}

/// Runs every case; returns the number run. With SGDSDE_SWEEP_COUNT set, prints "<table>: <n> cases".
inline std::size_t run(const char* table, const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    const std::string where = std::string(table) + " / " + c.name;
    INFO(where);
    try {
      const Outcome o = c.run();
      if (c.kind == Case::Kind::throws) {
        FAIL_CHECK("expected invalid_argument naming '" << c.argument << "', got status "
                                                        << std::string(sgdsde::to_string(o.status)));
      } else {
        CHECK_MESSAGE(o.status == c.status, "expected " << std::string(sgdsde::to_string(c.status)) << ", got "
                                                        << std::string(sgdsde::to_string(o.status)) << ": "
                                                        << o.message);
      }
    } catch (const sgdsde::invalid_argument& e) {
      const std::string msg = e.what();
      if (c.kind == Case::Kind::throws)
        CHECK_MESSAGE(msg.find("'" + c.argument + "'") != std::string::npos,
                      "message does not name '" << c.argument << "': " << msg);
      else
        FAIL_CHECK("unexpected invalid_argument: " << msg);
    } catch (const std::exception& e) {
      FAIL_CHECK("unexpected exception: " << e.what());
    }
  }
  if (std::getenv("SGDSDE_SWEEP_COUNT")) std::printf("sweep %s: %zu cases\n", table, cases.size());
  return cases.size();
}

// ---- inputs unchanged --------------------------------------------------------------------------------

template <class T>
struct Snapshot {
  const T* object;
  T copy;
};

template <class Derived>
bool same(const Eigen::DenseBase<Derived>& a, const Eigen::DenseBase<Derived>& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return false;
  for (Eigen::Index j = 0; j < a.cols(); ++j)
    for (Eigen::Index i = 0; i < a.rows(); ++i) {
      const auto x = a(i, j), y = b(i, j);
      if (std::memcmp(&x, &y, sizeof x) != 0) return false;
    }
  return true;
}
template <class S>
bool same(const sgdsde::Dataset<S>& a, const sgdsde::Dataset<S>& b) {
  return same(a.inputs, b.inputs) && same(a.targets, b.targets) && same(a.labels, b.labels) &&
         a.num_classes == b.num_classes;
}
template <class T, std::enable_if_t<std::is_arithmetic_v<T>, int> = 0>
bool same(const std::vector<T>& a, const std::vector<T>& b) {  // bitwise: NaN equals itself
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}
template <class T, std::enable_if_t<!std::is_base_of_v<Eigen::EigenBase<T>, T>, int> = 0>
auto same(const T& a, const T& b) -> decltype(bool(a == b)) {
  return a == b;
}

/// Keep k(a, b, ...): on destruction CHECKs that a, b, ... still equal their values at construction.
template <class... T>
class Keep {
 public:
  explicit Keep(const T&... objects) : snaps_{Snapshot<T>{&objects, objects}...} {}
  Keep(const Keep&) = delete;
  Keep& operator=(const Keep&) = delete;
  ~Keep() {
    std::apply([](const auto&... s) { (check(s), ...); }, snaps_);
  }

 private:
  template <class U>
  static void check(const Snapshot<U>& s) {
    CHECK_MESSAGE(same(*s.object, s.copy), "an input was modified");
  }
  std::tuple<Snapshot<T>...> snaps_;
};

/// The message of the exception `f` throws ("" if it returns): for checks on the wording.
template <class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace sweep
