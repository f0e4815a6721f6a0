// Tests for sgdsde/nn/jvp.hpp: forward-mode JVPs against central differences and against the
// reverse-mode Jacobian (J·v); bad arguments.
#include "sgdsde/nn/jvp.hpp"
#include "sgdsde/nn/per_sample.hpp"

#include <doctest/doctest.h>

#include "support/nn_problem.hpp"

TEST_CASE_TEMPLATE("JVP equals central differences of the outputs in parameters and inputs", T, float, double) {
  std::uint64_t seed = 1;
  for (const Config& c : configs())
    for (Mode mode : {Mode::eval, Mode::train}) {
      if (!c.spec.batch_norm && mode == Mode::train) continue;
      CAPTURE(describe(c, mode));
      const Index S = 5;
      Problem<T> p = kink_free_problem<T>(c, S, ++seed, mode);
      nn::TangentWorkspace<T> tw(p.net, S);
      nn::MlpWorkspace<T> ws(p.net, S);
      Vec<T> v(p.net.num_parameters());
      Mat<T> u(p.net.input_dim(), S);
      RandomStream(seed, 50).fill_normal(v);
      RandomStream(seed, 51).fill_normal(u);
      Mat<T> f(p.net.output_dim(), S), df(p.net.output_dim(), S);
      nn::jvp(p.net, p.x, v, u, f, df, tw, mode);
      Mat<T> f_ref(p.net.output_dim(), S), fp(f_ref), fm(f_ref);
      nn::forward(p.net, p.x, f_ref, ws, mode);
      CHECK(relative_error<T>(f, f_ref) <= T(10) * Constants<T>::epsilon());
      // d/dt f(θ + t v; X + t U) at t = 0.
      const T h = Constants<T>::fd_step();
      nn::Mlp<T> np = p.net, nm = p.net;
      np.parameters() += h * v;
      nm.parameters() -= h * v;
      const Mat<T> xp = p.x + h * u, xm = p.x - h * u;
      nn::forward(np, xp, fp, ws, mode);
      nn::forward(nm, xm, fm, ws, mode);
      const Mat<T> fd = (fp - fm) / (T(2) * h);
      CHECK(relative_error<T>(df, fd) <= fd_tolerance<T>());
      // Directions one at a time (empty = zero direction) add up.
      Mat<T> df_p(df), df_x(df);
      nn::jvp(p.net, p.x, v, Mat<T>(), f, df_p, tw, mode);
      nn::jvp(p.net, p.x, Vec<T>(), u, f, df_x, tw, mode);
      CHECK(relative_error<T>(df_p + df_x, df) <= T(100) * Constants<T>::epsilon());
      // The returning form is the same computation.
      const auto r = nn::jvp(p.net, p.x, v, u, mode);
      CHECK(r.outputs == f);
      CHECK(r.tangent == df);
    }
}

TEST_CASE("JVP equals the reverse-mode Jacobian times v") {
  std::uint64_t seed = 300;
  for (const Config& c : configs()) {
    CAPTURE(describe(c, Mode::eval));
    const Index S = 4;
    Problem<double> p(c, S, ++seed);
    nn::TangentWorkspace<double> tw(p.net, S);
    nn::MlpWorkspace<double> ws(p.net, S);
    Mat<double> J(S * p.net.output_dim(), p.net.num_parameters());
    nn::output_jacobian(p.net, p.x, J, ws);
    Vec<double> v(p.net.num_parameters());
    RandomStream(seed, 5).fill_normal(v);
    Mat<double> f(p.net.output_dim(), S), df(p.net.output_dim(), S);
    nn::jvp(p.net, p.x, v, Mat<double>(), f, df, tw);
    const Vec<double> jv = J * v;
    // Two exact algorithms (forward duals vs reverse adjoints): agree to rounding.
    CHECK(relative_error<double>(Eigen::Map<const Vec<double>>(df.data(), df.size()), jv) < 1e-12);
  }
}

TEST_CASE("jvp rejects bad arguments") {
  Problem<double> p(Config{nn::MlpSpec{{3, 4, 2}}}, 4, 1);
  nn::TangentWorkspace<double> tw(p.net, 4);
  Vec<double> v = Vec<double>::Ones(p.net.num_parameters()), short_v(3);
  Mat<double> f(2, 4), df(2, 4), u_bad(3, 3);
  u_bad.setOnes();
  CHECK_THROWS_AS(nn::jvp(p.net, p.x, v, u_bad, f, df, tw), sgdsde::invalid_argument);
  CHECK_THROWS_AS(nn::jvp(p.net, p.x, short_v, Mat<double>(), f, df, tw), sgdsde::invalid_argument);
  Vec<double> bad = v;
  bad[0] = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_AS(nn::jvp(p.net, p.x, bad, Mat<double>(), f, df, tw), sgdsde::invalid_argument);
  Mat<double> f_bad(2, 3);
  CHECK_THROWS_AS(nn::jvp(p.net, p.x, v, Mat<double>(), f_bad, df, tw), sgdsde::invalid_argument);
  Mat<double> x_bad(3, 5);
  x_bad.setOnes();
  CHECK_THROWS_AS(nn::jvp(p.net, x_bad, v, Mat<double>(), f, df, tw), sgdsde::invalid_argument);
  CHECK_NOTHROW(nn::jvp(p.net, p.x, v, Mat<double>(), f, df, tw));
}
