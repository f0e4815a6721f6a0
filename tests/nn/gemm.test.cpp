// tests/nn/gemm.test.cpp — the fused dense kernels of nn/detail/gemm.hpp (register-blocked products,
// forward epilogue with bias + activation, backward epilogue with the derivative mask) against Eigen's
// own products on every edge shape: widths 1, 15, 16, 17, 100, 784 and batches 1, 31, 32, 33, 512.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "sgdsde/core/random.hpp"
#include "sgdsde/nn/detail/gemm.hpp"
#include "sgdsde/nn/loss.hpp"

namespace {

using sgdsde::Index;
using sgdsde::nn::Activation;
namespace nd = sgdsde::nn::detail;

const std::vector<Index> widths = {1, 15, 16, 17, 100, 784};
const std::vector<Index> batches = {1, 31, 32, 33, 512};

template <class T>
Eigen::Matrix<T, -1, -1> normal(Index r, Index c, std::uint64_t seed) {
  Eigen::Matrix<T, -1, -1> m(r, c);
  sgdsde::RandomStream(seed, 3).fill_normal(m);
  return m;
}

// Error bound. Any order of summing K products in precision ε satisfies |fl(Σ a_k b_k) − Σ a_k b_k| ≤
// γ_K Σ|a_k||b_k| with γ_K = Kε/(1 − Kε) (Higham, Accuracy and Stability, §3.1); the scaling by α, the
// accumulated C and the bias add at most 3 more roundings. Ours and Eigen's sums (different orders) each
// lie within γ_{K+3}·(|α||A||B| + |C| + |c_b b|) of the exact value, so they differ by at most twice that.
// The bound is per entry and needs no probabilistic slack; it is far above the typical √K·ε error, but
// any indexing mistake (a wrong row, column or stride) is an O(1)·|A||B| error and fails it.
template <class T, class M1, class M2>
void require_close(const M1& ours, const M2& ref, const M2& magnitude, Index K, const char* what) {
  const double eps = double(std::numeric_limits<T>::epsilon());
  const double gamma = double(K + 3) * eps / (1.0 - double(K + 3) * eps);
  REQUIRE(ours.rows() == ref.rows());
  REQUIRE(ours.cols() == ref.cols());
  double worst = 0;  // largest error in units of the bound
  for (Index j = 0; j < ref.cols(); ++j)
    for (Index i = 0; i < ref.rows(); ++i) {
      const double bound = 2.0 * gamma * double(magnitude(i, j)) + std::numeric_limits<T>::min();
      worst = std::max(worst, std::abs(double(ours(i, j)) - double(ref(i, j))) / bound);
    }
  INFO(std::string(what) << ": largest error / bound = " << worst);
  CHECK(worst <= 1.0);
}

}  // namespace

TEST_CASE_TEMPLATE("fused products match Eigen's on every edge shape", T, float, double) {
  using Mat = Eigen::Matrix<T, -1, -1>;
  const T alpha = T(0.7);
  std::uint64_t seed = 1;
  for (std::size_t im = 0; im < widths.size(); ++im)
    for (std::size_t is = 0; is < batches.size(); ++is) {
      const Index M = widths[im], N = batches[is], K = widths[(im + is + 1) % widths.size()];
      CAPTURE(M);
      CAPTURE(N);
      CAPTURE(K);
      // C lives in a taller matrix (leading dimension M + 3); its 3 extra rows are sentinels the kernels
      // must not touch. A is a block of a taller matrix too (leading dimension ≠ rows).
      const T sentinel = T(12345);
      Mat big = Mat::Constant(M + 3, N, sentinel);
      const Mat c0 = normal<T>(M, N, seed++);
      const Mat a_big = normal<T>(M + 2, K, seed++);
      const auto a = a_big.topRows(M);
      const Mat b = normal<T>(K, N, seed++);
      const Mat bt = b.transpose();
      const Mat at = Mat(a).transpose();  // K × M
      const Mat mag = std::abs(double(alpha)) * (Mat(a).cwiseAbs() * b.cwiseAbs());
      auto c = big.topRows(M);

      nd::gemm_nn<T>(c, alpha, a, b);
      require_close<T>(Mat(c), Mat((alpha * a) * b), mag, K, "gemm_nn");
      c = c0;
      nd::gemm_nn<T>(c, alpha, a, b, true);
      require_close<T>(Mat(c), Mat(c0 + (alpha * a) * b), Mat(mag + c0.cwiseAbs()), K, "gemm_nn accumulate");

      nd::gemm_nt<T>(c, alpha, a, bt);
      require_close<T>(Mat(c), Mat((alpha * a) * b), mag, K, "gemm_nt");
      c = c0;
      nd::gemm_nt<T>(c, alpha, a, bt, true);
      require_close<T>(Mat(c), Mat(c0 + (alpha * a) * b), Mat(mag + c0.cwiseAbs()), K, "gemm_nt accumulate");

      nd::gemm_tn<T>(c, alpha, at, b);
      require_close<T>(Mat(c), Mat((alpha * a) * b), mag, K, "gemm_tn");
      c = c0;
      nd::gemm_tn<T>(c, alpha, at, b, true);
      require_close<T>(Mat(c), Mat(c0 + (alpha * a) * b), Mat(mag + c0.cwiseAbs()), K, "gemm_tn accumulate");

      // Backward with the derivative mask of the layer below (pre = x, post = φ(x)).
      const Mat pre = normal<T>(M, N, seed++);
      const T slope = T(0.01);
      for (Activation act : {Activation::relu, Activation::leaky_relu, Activation::identity}) {
        CAPTURE(sgdsde::nn::to_string(act));
        Mat post(M, N);
        sgdsde::nn::apply_activation(act, slope, pre, post);
        nd::gemm_tn_masked<T>(c, alpha, at, b, act, slope, pre, post);
        Mat ref = (alpha * a) * b;
        sgdsde::nn::multiply_by_activation_derivative(act, slope, pre, post, ref);
        require_close<T>(Mat(c), ref, mag, K, "gemm_tn_masked");
      }

      // Forward with bias and activation: pre = α A B + c_b b, post = φ(pre).
      const Eigen::Matrix<T, -1, 1> bias = normal<T>(M, 1, seed++);
      const T cb = T(0.1);
      Mat pre_out(M, N), post_out(M, N);
      const Mat ref_pre = ((alpha * a) * b).colwise() + cb * bias;
      const Mat mag_f = mag.colwise() + std::abs(double(cb)) * bias.cwiseAbs();
      for (Activation act : {Activation::relu, Activation::leaky_relu, Activation::identity, Activation::tanh}) {
        CAPTURE(sgdsde::nn::to_string(act));
        post_out.setConstant(sentinel);
        nd::dense_forward<T>(pre_out, post_out, alpha, a, b, cb, bias, act, slope);
        require_close<T>(pre_out, ref_pre, mag_f, K, "dense_forward pre");
        if (act == Activation::tanh) {
          CHECK((post_out.array() == sentinel).all());  // not fused: left to the caller
        } else {
          Mat ref_post(M, N);
          sgdsde::nn::apply_activation(act, slope, ref_pre, ref_post);
          require_close<T>(post_out, ref_post, mag_f, K, "dense_forward post");  // φ is 1-Lipschitz
        }
      }
      CHECK((big.bottomRows(3).array() == sentinel).all());
    }
}

TEST_CASE("fused products are exact on small integers") {
  // Entries in {−3, …, 3}: every partial sum is an integer below 2^24, so any summation order gives the
  // exact result in float — the kernels must equal Eigen bit for bit on all edge shapes.
  using Mat = Eigen::MatrixXf;
  std::uint64_t seed = 100;
  auto ints = [&](Index r, Index c) {
    Mat m = normal<float>(r, c, seed++);
    return Mat(m.unaryExpr([](float v) { return std::round(std::max(-3.0f, std::min(3.0f, 1.5f * v))); }));
  };
  for (Index M : widths)
    for (Index N : batches) {
      const Index K = M == 784 ? 100 : 784;
      CAPTURE(M);
      CAPTURE(N);
      const Mat a = ints(M, K), b = ints(K, N);
      const Mat ref = a * b;
      Mat c(M, N);
      nd::gemm_nn<float>(c, 1.0f, a, b);
      CHECK(c == ref);
      nd::gemm_nt<float>(c, 1.0f, a, Mat(b.transpose()));
      CHECK(c == ref);
      nd::gemm_tn<float>(c, 1.0f, Mat(a.transpose()), b);
      CHECK(c == ref);
    }
}

TEST_CASE("vectorised softmax cross-entropy matches a long-double evaluation") {
  // The fast path (contiguous adjoint) against the definition evaluated in long double; the per-entry
  // bound 64ε covers the packet exp (≤ 2 ulp), the log and the 10-term sums with a wide margin.
  const Index K = 10, S = 33;
  Eigen::MatrixXd f = 5.0 * normal<double>(K, S, 7);
  f(3, 4) = 700.0;  // a huge logit: the max shift must prevent overflow
  sgdsde::Labels y(S);
  for (Index s = 0; s < S; ++s) y[s] = int((s * 7) % K);
  const sgdsde::nn::SoftmaxCrossEntropy loss(y);
  Eigen::MatrixXd g(K, S);
  const double scale = 1.0 / double(S);
  const double sum = loss.sum_and_adjoint(f, g, scale);
  long double ref_sum = 0;
  for (Index s = 0; s < S; ++s) {
    long double m = f.col(s).maxCoeff(), z = 0;
    for (Index k = 0; k < K; ++k) z += std::exp((long double)f(k, s) - m);
    ref_sum += m + std::log(z) - f(y[s], s);
    for (Index k = 0; k < K; ++k) {
      const long double p = std::exp((long double)f(k, s) - m) / z;
      const long double ref = scale * (p - (k == y[s] ? 1.0L : 0.0L));
      CHECK(std::abs(double(g(k, s) - ref)) <= 64 * 2.2e-16 * scale);
    }
  }
  // Every term m + log z − f_y is ≥ 0, so Σ|terms| = ref_sum bounds the rounding of the sum.
  CHECK(std::abs(double(sum - ref_sum)) <= 64 * 2.2e-16 * double(ref_sum));
}
