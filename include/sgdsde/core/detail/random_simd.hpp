// sgdsde/core/detail/random_simd.hpp — words of Philox blocks to uniform, normal (Box–Muller) and
// Rademacher values, portable and AVX-512, and the bulk fill of a value range (see core/random.hpp).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <Eigen/Core>

#include "sgdsde/core/detail/philox.hpp"

namespace sgdsde {
namespace detail {

template <class Scalar, int N>
using LaneArray = Eigen::Array<Scalar, N, 1>;

/// u ∈ (0,1) from one word (float) — 24 significant bits, never 0 or 1.
template <int N>
inline LaneArray<float, N> uniform_from_words(const std::uint32_t* w) {
  LaneArray<float, N> u;
  for (int i = 0; i < N; ++i) u[i] = float(w[i] >> 8);
  // (w >> 8) + ½ needs 25 bits once w >> 8 ≥ 2²³, so the float sum rounds; the clamp keeps the
  // top value (2²⁴ − ½)·2⁻²⁴, which would round to 1, at the largest float below 1.
  return ((u + 0.5f) * 0x1p-24f).min(0x1.fffffep-1f);
}

/// u ∈ (0,1) from two words (double) — 53 significant bits, never 0 or 1.
template <int N>
inline LaneArray<double, N> uniform_from_words(const std::uint32_t* hi, const std::uint32_t* lo) {
  LaneArray<double, N> u;
  for (int i = 0; i < N; ++i)
    u[i] = double((std::uint64_t(hi[i]) << 21) | (std::uint64_t(lo[i]) >> 11));
  return ((u + 0.5) * 0x1p-53).min(0x1.fffffffffffffp-1);  // same rounding remark as for float
}

/// cos(2πu), sin(2πu) for u ∈ [0,1] by quarter-period reduction and Taylor polynomials on
/// [−π/2, π/2] (truncation error < 2e-17 in double, < 6e-8 in float), branch-free so it vectorises.
template <class Scalar, int N>
inline void cos_sin_2pi(const LaneArray<Scalar, N>& u, LaneArray<Scalar, N>& c, LaneArray<Scalar, N>& s) {
  using A = LaneArray<Scalar, N>;
  const A x = u - Scalar(0.5);  // 2πu = 2πx + π  ⇒  cos 2πu = −cos 2πx, sin 2πu = −sin 2πx
  const A ax = x.abs();
  const auto far = ax > Scalar(0.25);
  const A y = far.select(x.sign() * Scalar(0.5) - x, x);  // sin 2πy = sin 2πx; cos flips when far
  const A t = Scalar(2 * 3.141592653589793238462643383279502884L) * y;
  const A t2 = t * t;
  A ps, pc;
  if constexpr (std::is_same_v<Scalar, double>) {
    ps = Scalar(1.0 / 51090942171709440000.0);  // 1/21!
    pc = Scalar(1.0 / 2432902008176640000.0);   // 1/20!
    const double sin_coef[] = {-1.0 / 121645100408832000.0, 1.0 / 355687428096000.0,
                               -1.0 / 1307674368000.0,      1.0 / 6227020800.0,
                               -1.0 / 39916800.0,           1.0 / 362880.0,
                               -1.0 / 5040.0,               1.0 / 120.0,
                               -1.0 / 6.0,                  1.0};
    const double cos_coef[] = {-1.0 / 6402373705728000.0, 1.0 / 20922789888000.0, -1.0 / 87178291200.0,
                               1.0 / 479001600.0,         -1.0 / 3628800.0,        1.0 / 40320.0,
                               -1.0 / 720.0,              1.0 / 24.0,              -1.0 / 2.0,
                               1.0};
    for (double a : sin_coef) ps = ps * t2 + a;
    for (double a : cos_coef) pc = pc * t2 + a;
  } else {
    ps = Scalar(-1.0 / 39916800.0);
    pc = Scalar(1.0 / 479001600.0);
    const float sin_coef[] = {1.0f / 362880.0f, -1.0f / 5040.0f, 1.0f / 120.0f, -1.0f / 6.0f, 1.0f};
    const float cos_coef[] = {-1.0f / 3628800.0f, 1.0f / 40320.0f, -1.0f / 720.0f, 1.0f / 24.0f,
                              -1.0f / 2.0f, 1.0f};
    for (float a : sin_coef) ps = ps * t2 + a;
    for (float a : cos_coef) pc = pc * t2 + a;
  }
  s = -(t * ps);
  c = far.select(pc, -pc);
}

enum class Distribution { uniform, normal, rademacher };

template <class Scalar, Distribution D>
struct ValuesPerBlock {
  static constexpr int value = (std::is_same_v<Scalar, double> && D != Distribution::rademacher) ? 2 : 4;
};

/// Values [0, chunk_blocks·k) of the chunk whose first block is `first_block`, into `out`.
template <class Scalar, Distribution D>
inline void chunk_values(std::uint64_t first_block, std::uint32_t id_lo, std::uint32_t id_hi,
                         Philox4x32Key key, Scalar* out) {
  constexpr int B = chunk_blocks;
  std::uint32_t w[4][B];
  philox_chunk(first_block, id_lo, id_hi, key, w);
  if constexpr (D == Distribution::rademacher) {
    for (int i = 0; i < B; ++i)
      for (int j = 0; j < 4; ++j) out[4 * i + j] = (w[j][i] >> 31) ? Scalar(-1) : Scalar(1);
  } else if constexpr (std::is_same_v<Scalar, double>) {
    const LaneArray<double, B> u1 = uniform_from_words<B>(w[0], w[1]);
    const LaneArray<double, B> u2 = uniform_from_words<B>(w[2], w[3]);
    if constexpr (D == Distribution::uniform) {
      for (int i = 0; i < B; ++i) {
        out[2 * i] = u1[i];
        out[2 * i + 1] = u2[i];
      }
    } else {
      const LaneArray<double, B> r = (-2.0 * u1.log()).sqrt();
      LaneArray<double, B> c, s;
      cos_sin_2pi(u2, c, s);
      for (int i = 0; i < B; ++i) {
        out[2 * i] = r[i] * c[i];
        out[2 * i + 1] = r[i] * s[i];
      }
    }
  } else {
    static_assert(std::is_same_v<Scalar, float>, "random streams fill float or double");
    const LaneArray<float, B> u0 = uniform_from_words<B>(w[0]), u1 = uniform_from_words<B>(w[1]);
    const LaneArray<float, B> u2 = uniform_from_words<B>(w[2]), u3 = uniform_from_words<B>(w[3]);
    if constexpr (D == Distribution::uniform) {
      for (int i = 0; i < B; ++i) {
        out[4 * i] = u0[i];
        out[4 * i + 1] = u1[i];
        out[4 * i + 2] = u2[i];
        out[4 * i + 3] = u3[i];
      }
    } else {
      const LaneArray<float, B> ra = (-2.0f * u0.log()).sqrt(), rb = (-2.0f * u2.log()).sqrt();
      LaneArray<float, B> ca, sa, cb, sb;
      cos_sin_2pi(u1, ca, sa);
      cos_sin_2pi(u3, cb, sb);
      for (int i = 0; i < B; ++i) {
        out[4 * i] = ra[i] * ca[i];
        out[4 * i + 1] = ra[i] * sa[i];
        out[4 * i + 2] = rb[i] * cb[i];
        out[4 * i + 3] = rb[i] * sb[i];
      }
    }
  }
}

#if defined(SGDSDE_RANDOM_AVX512)
/// The chunk computation of `chunk_values` written with AVX-512 intrinsics, for the uniform and
/// normal distributions (same values; only the rounding of the polynomial evaluation may differ in
/// the last bit, as FMAs are used).
// GCC 12 flags the `__Y = __Y` idiom inside its own AVX-512 intrinsics headers (undefined
// vectors) as uninitialised; silence that false positive here only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
namespace avx512 {

inline __m512 uniform_ps(__m512i w) {
  const __m512 x = _mm512_cvtepi32_ps(_mm512_srli_epi32(w, 8));
  const __m512 u = _mm512_mul_ps(_mm512_add_ps(x, _mm512_set1_ps(0.5f)), _mm512_set1_ps(0x1p-24f));
  return _mm512_min_ps(u, _mm512_set1_ps(0x1.fffffep-1f));
}

/// Double uniforms of the lanes whose 64-bit slot is (hi << 32 | lo) after an unpack.
inline __m512d uniform_pd(__m512i hi_lo) {
  const __m512d x = _mm512_cvtepi64_pd(_mm512_srli_epi64(hi_lo, 11));
  const __m512d u = _mm512_mul_pd(_mm512_add_pd(x, _mm512_set1_pd(0.5)), _mm512_set1_pd(0x1p-53));
  return _mm512_min_pd(u, _mm512_set1_pd(0x1.fffffffffffffp-1));
}

inline __m512 radius(__m512 u) {
  return _mm512_sqrt_ps(_mm512_mul_ps(_mm512_set1_ps(-2.0f), Eigen::internal::plog(u)));
}
/// ln u for normal positive finite u (here u ∈ (0, 1)), < 1 ulp: u = 2^k (1 + f) with
/// √½ < 1 + f < √2, s = f/(2 + f), ln(1 + f) = 2 atanh s = f − ½f² + s(½f² + R(s²)), R the
/// minimax polynomial of fdlibm's e_log.c (Lg1..Lg7) and ln 2 split into hi + lo parts.
/// No handling of 0, negatives, inf, NaN or subnormals, which is why it is cheaper than plog.
inline __m512d log_positive(__m512d u) {
  __m512d m = _mm512_getmant_pd(u, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_zero);  // [1, 2)
  __m512d k = _mm512_getexp_pd(u);                                             // floor(log2 u)
  const __mmask8 big = _mm512_cmp_pd_mask(m, _mm512_set1_pd(1.4142135623730951), _CMP_GT_OQ);
  m = _mm512_mask_mul_pd(m, big, m, _mm512_set1_pd(0.5));
  k = _mm512_mask_add_pd(k, big, k, _mm512_set1_pd(1.0));
  const __m512d f = _mm512_sub_pd(m, _mm512_set1_pd(1.0));
  const __m512d s = _mm512_div_pd(f, _mm512_add_pd(f, _mm512_set1_pd(2.0)));
  const __m512d z = _mm512_mul_pd(s, s), w = _mm512_mul_pd(z, z);
  const auto c = [](double x) { return _mm512_set1_pd(x); };
  const __m512d t1 = _mm512_mul_pd(
      w, _mm512_fmadd_pd(w, _mm512_fmadd_pd(w, c(1.531383769920937332e-01), c(2.222219843214978396e-01)),
                         c(3.999999999940941908e-01)));
  const __m512d t2 = _mm512_mul_pd(
      z, _mm512_fmadd_pd(
             w,
             _mm512_fmadd_pd(w, _mm512_fmadd_pd(w, c(1.479819860511658591e-01), c(1.818357216161805012e-01)),
                             c(2.857142874366239149e-01)),
             c(6.666666666666735130e-01)));
  const __m512d r = _mm512_add_pd(t2, t1);
  const __m512d hfsq = _mm512_mul_pd(c(0.5), _mm512_mul_pd(f, f));
  // k·ln2_hi − ((hfsq − (s(hfsq + R) + k·ln2_lo)) − f)
  const __m512d inner = _mm512_fmadd_pd(s, _mm512_add_pd(hfsq, r), _mm512_mul_pd(k, c(1.90821492927058770002e-10)));
  return _mm512_fmsub_pd(k, c(6.93147180369123816490e-01), _mm512_sub_pd(_mm512_sub_pd(hfsq, inner), f));
}

inline __m512d radius(__m512d u) {
  return _mm512_sqrt_pd(_mm512_mul_pd(_mm512_set1_pd(-2.0), log_positive(u)));
}

/// cos 2πu and sin 2πu, the same reduction and Taylor polynomials as detail::cos_sin_2pi.
inline void cos_sin_2pi(__m512 u, __m512& c, __m512& s) {
  const __m512 sign_bit = _mm512_castsi512_ps(_mm512_set1_epi32(int(0x80000000u)));
  const __m512 x = _mm512_sub_ps(u, _mm512_set1_ps(0.5f));
  const __m512 ax = _mm512_andnot_ps(sign_bit, x);
  const __mmask16 far = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.25f), _CMP_GT_OQ);
  const __m512 half_signed = _mm512_or_ps(_mm512_and_ps(sign_bit, x), _mm512_set1_ps(0.5f));
  const __m512 y = _mm512_mask_blend_ps(far, x, _mm512_sub_ps(half_signed, x));
  const __m512 t = _mm512_mul_ps(_mm512_set1_ps(float(2 * 3.141592653589793238462643383279502884L)), y);
  const __m512 t2 = _mm512_mul_ps(t, t);
  __m512 ps = _mm512_set1_ps(float(-1.0 / 39916800.0));
  __m512 pc = _mm512_set1_ps(float(1.0 / 479001600.0));
  for (float a : {1.0f / 362880.0f, -1.0f / 5040.0f, 1.0f / 120.0f, -1.0f / 6.0f, 1.0f})
    ps = _mm512_fmadd_ps(ps, t2, _mm512_set1_ps(a));
  for (float a : {-1.0f / 3628800.0f, 1.0f / 40320.0f, -1.0f / 720.0f, 1.0f / 24.0f, -1.0f / 2.0f, 1.0f})
    pc = _mm512_fmadd_ps(pc, t2, _mm512_set1_ps(a));
  s = _mm512_xor_ps(sign_bit, _mm512_mul_ps(t, ps));
  c = _mm512_mask_blend_ps(far, _mm512_xor_ps(sign_bit, pc), pc);
}

inline void cos_sin_2pi(__m512d u, __m512d& c, __m512d& s) {
  const __m512d sign_bit = _mm512_castsi512_pd(_mm512_set1_epi64(std::int64_t(0x8000000000000000ull)));
  const __m512d x = _mm512_sub_pd(u, _mm512_set1_pd(0.5));
  const __m512d ax = _mm512_andnot_pd(sign_bit, x);
  const __mmask8 far = _mm512_cmp_pd_mask(ax, _mm512_set1_pd(0.25), _CMP_GT_OQ);
  const __m512d half_signed = _mm512_or_pd(_mm512_and_pd(sign_bit, x), _mm512_set1_pd(0.5));
  const __m512d y = _mm512_mask_blend_pd(far, x, _mm512_sub_pd(half_signed, x));
  const __m512d t = _mm512_mul_pd(_mm512_set1_pd(double(2 * 3.141592653589793238462643383279502884L)), y);
  const __m512d t2 = _mm512_mul_pd(t, t);
  __m512d ps = _mm512_set1_pd(1.0 / 51090942171709440000.0);  // 1/21!
  __m512d pc = _mm512_set1_pd(1.0 / 2432902008176640000.0);   // 1/20!
  for (double a : {-1.0 / 121645100408832000.0, 1.0 / 355687428096000.0, -1.0 / 1307674368000.0,
                   1.0 / 6227020800.0, -1.0 / 39916800.0, 1.0 / 362880.0, -1.0 / 5040.0, 1.0 / 120.0,
                   -1.0 / 6.0, 1.0})
    ps = _mm512_fmadd_pd(ps, t2, _mm512_set1_pd(a));
  for (double a : {-1.0 / 6402373705728000.0, 1.0 / 20922789888000.0, -1.0 / 87178291200.0,
                   1.0 / 479001600.0, -1.0 / 3628800.0, 1.0 / 40320.0, -1.0 / 720.0, 1.0 / 24.0,
                   -1.0 / 2.0, 1.0})
    pc = _mm512_fmadd_pd(pc, t2, _mm512_set1_pd(a));
  s = _mm512_xor_pd(sign_bit, _mm512_mul_pd(t, ps));
  c = _mm512_mask_blend_pd(far, _mm512_xor_pd(sign_bit, pc), pc);
}

/// Writes the 4 values of each of the group's 16 blocks (a, b, c, d = words 0..3) in block order.
inline void store_blocks(float* out, __m512 a, __m512 b, __m512 c, __m512 d) {
  const __m512d ab_lo = _mm512_castps_pd(_mm512_unpacklo_ps(a, b));
  const __m512d ab_hi = _mm512_castps_pd(_mm512_unpackhi_ps(a, b));
  const __m512d cd_lo = _mm512_castps_pd(_mm512_unpacklo_ps(c, d));
  const __m512d cd_hi = _mm512_castps_pd(_mm512_unpackhi_ps(c, d));
  _mm512_storeu_ps(out, _mm512_castpd_ps(_mm512_unpacklo_pd(ab_lo, cd_lo)));
  _mm512_storeu_ps(out + 16, _mm512_castpd_ps(_mm512_unpackhi_pd(ab_lo, cd_lo)));
  _mm512_storeu_ps(out + 32, _mm512_castpd_ps(_mm512_unpacklo_pd(ab_hi, cd_hi)));
  _mm512_storeu_ps(out + 48, _mm512_castpd_ps(_mm512_unpackhi_pd(ab_hi, cd_hi)));
}

/// Writes the 2 values of each block (a, b) in block order; *_lo hold the lanes l mod 4 ∈ {0, 1}
/// and *_hi the lanes l mod 4 ∈ {2, 3} (as produced by the 32-bit unpacks in `chunk_values`).
inline void store_blocks(double* out, __m512d a_lo, __m512d b_lo, __m512d a_hi, __m512d b_hi) {
  _mm512_storeu_pd(out, _mm512_unpacklo_pd(a_lo, b_lo));
  _mm512_storeu_pd(out + 8, _mm512_unpackhi_pd(a_lo, b_lo));
  _mm512_storeu_pd(out + 16, _mm512_unpacklo_pd(a_hi, b_hi));
  _mm512_storeu_pd(out + 24, _mm512_unpackhi_pd(a_hi, b_hi));
}

template <class Scalar, Distribution D>
inline void chunk_values(std::uint64_t first_block, std::uint32_t id_lo, std::uint32_t id_hi,
                         Philox4x32Key key, Scalar* out) {
  static_assert(D != Distribution::rademacher, "Rademacher values use the portable path");
  Words w[groups];
  philox_chunk(first_block, id_lo, id_hi, key, w);
  for (int g = 0; g < groups; ++g) {
    if constexpr (std::is_same_v<Scalar, float>) {
      const __m512 u0 = uniform_ps(w[g].w0), u1 = uniform_ps(w[g].w1);
      const __m512 u2 = uniform_ps(w[g].w2), u3 = uniform_ps(w[g].w3);
      if constexpr (D == Distribution::uniform) {
        store_blocks(out + 64 * g, u0, u1, u2, u3);
      } else {
        const __m512 ra = radius(u0), rb = radius(u2);
        __m512 ca, sa, cb, sb;
        cos_sin_2pi(u1, ca, sa);
        cos_sin_2pi(u3, cb, sb);
        store_blocks(out + 64 * g, _mm512_mul_ps(ra, ca), _mm512_mul_ps(ra, sa), _mm512_mul_ps(rb, cb),
                     _mm512_mul_ps(rb, sb));
      }
    } else {
      static_assert(std::is_same_v<Scalar, double>, "random streams fill float or double");
      // unpack(w1, w0) puts w0 in the high and w1 in the low half of each 64-bit slot.
      const __m512d u1_lo = uniform_pd(_mm512_unpacklo_epi32(w[g].w1, w[g].w0));
      const __m512d u1_hi = uniform_pd(_mm512_unpackhi_epi32(w[g].w1, w[g].w0));
      const __m512d u2_lo = uniform_pd(_mm512_unpacklo_epi32(w[g].w3, w[g].w2));
      const __m512d u2_hi = uniform_pd(_mm512_unpackhi_epi32(w[g].w3, w[g].w2));
      if constexpr (D == Distribution::uniform) {
        store_blocks(out + 32 * g, u1_lo, u2_lo, u1_hi, u2_hi);
      } else {
        const __m512d r_lo = radius(u1_lo), r_hi = radius(u1_hi);
        __m512d c_lo, s_lo, c_hi, s_hi;
        cos_sin_2pi(u2_lo, c_lo, s_lo);
        cos_sin_2pi(u2_hi, c_hi, s_hi);
        store_blocks(out + 32 * g, _mm512_mul_pd(r_lo, c_lo), _mm512_mul_pd(r_lo, s_lo),
                     _mm512_mul_pd(r_hi, c_hi), _mm512_mul_pd(r_hi, s_hi));
      }
    }
  }
}

}  // namespace avx512
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif

/// Chunk values by the fastest path available for (Scalar, D).
template <class Scalar, Distribution D>
inline void chunk_values_fast(std::uint64_t first_block, std::uint32_t id_lo, std::uint32_t id_hi,
                              Philox4x32Key key, Scalar* out) {
#if defined(SGDSDE_RANDOM_AVX512)
  if constexpr (D != Distribution::rademacher) {
    avx512::chunk_values<Scalar, D>(first_block, id_lo, id_hi, key, out);
    return;
  }
#endif
  chunk_values<Scalar, D>(first_block, id_lo, id_hi, key, out);
}

/// Values [first, first + n) of distribution D into contiguous memory.
template <class Scalar, Distribution D>
inline void fill_values(std::uint64_t first, std::size_t n, std::uint32_t id_lo, std::uint32_t id_hi,
                        Philox4x32Key key, Scalar* out) {
  constexpr int k = ValuesPerBlock<Scalar, D>::value;
  constexpr std::uint64_t per_chunk = std::uint64_t(k) * chunk_blocks;
  alignas(64) Scalar buffer[per_chunk];
  // Counts what is left rather than comparing with first + n, which wraps past 2^64 (the value
  // index is taken mod 2^64, so a range crossing it continues at index 0).
  std::uint64_t v = first, left = n;
  while (left > 0) {
    const std::uint64_t chunk_first = (v / per_chunk) * per_chunk;
    const std::uint64_t offset = v - chunk_first;
    const std::uint64_t take = std::min<std::uint64_t>(left, per_chunk - offset);
    if (offset == 0 && take == per_chunk) {
      chunk_values_fast<Scalar, D>(chunk_first / k, id_lo, id_hi, key, out);  // whole chunk: in place
    } else {
      chunk_values_fast<Scalar, D>(chunk_first / k, id_lo, id_hi, key, buffer);
      std::memcpy(out, buffer + offset, sizeof(Scalar) * take);
    }
    out += take;
    left -= take;
    v += take;
  }
}

/// Values [first, first + out.size()) of distribution D into `out` (any shape, storage order).
template <Distribution D, class Derived>
inline void fill_into(std::uint64_t first, std::uint64_t stream_id, Philox4x32Key key,
                      Eigen::DenseBase<Derived>& out) {
  using Scalar = typename Derived::Scalar;
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                "RandomStream fills float or double arrays");
  const std::size_t n = std::size_t(out.size());
  if (n == 0) return;
  const std::uint32_t lo = std::uint32_t(stream_id), hi = std::uint32_t(stream_id >> 32);
  if constexpr (bool(Derived::Flags & Eigen::DirectAccessBit)) {
    const bool contiguous = out.innerStride() == 1 && (out.outerSize() == 1 || out.outerStride() == out.innerSize());
    if (contiguous) {
      fill_values<Scalar, D>(first, n, lo, hi, key, &out.derived().coeffRef(0, 0));
      return;
    }
  }
  Eigen::Array<Scalar, Eigen::Dynamic, 1> tmp(out.size());
  fill_values<Scalar, D>(first, n, lo, hi, key, tmp.data());
  Eigen::Index k = 0;
  for (Eigen::Index j = 0; j < out.outerSize(); ++j)
    for (Eigen::Index i = 0; i < out.innerSize(); ++i, ++k)
      (Derived::IsRowMajor ? out.coeffRef(j, i) : out.coeffRef(i, j)) = tmp[k];
}

}  // namespace detail
}  // namespace sgdsde
