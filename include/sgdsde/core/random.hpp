// sgdsde/core/random.hpp — counter-based random streams on Philox4x32-10 (Salmon et al., SC'11,
// "Parallel random numbers: as easy as 1, 2, 3"), filling Eigen arrays in bulk, vectorised.
//
// The sequence of a stream is a pure function of (seed, stream id, index): block b of a stream is
// Philox4x32-10 with key (seed_lo, seed_hi) applied to the counter (b_lo, b_hi, id_lo, id_hi), and
// value v of a distribution comes from block v / k (k values per block, see `values_per_block`).
// So any value can be regenerated alone, and a fill gives the same numbers however it is split
// across calls or threads. Value v of each distribution, from the block's words (w0, w1, w2, w3):
//   uniform<float>   : k = 4, u = ((w_j >> 8) + ½)·2⁻²⁴ ∈ (0, 1)
//   uniform<double>  : k = 2, u = ((w_{2j} << 21 | w_{2j+1} >> 11) + ½)·2⁻⁵³ ∈ (0, 1)
//   normal<float>    : k = 4, Box–Muller on the pairs (u(w0), u(w1)), (u(w2), u(w3)):
//                      z_even = √(−2 ln u₁) cos 2πu₂, z_odd = √(−2 ln u₁) sin 2πu₂
//   normal<double>   : k = 2, Box–Muller on the pair of double uniforms of the block
//   rademacher       : k = 4, ±1 from the top bit of w_j (set → −1)
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <Eigen/Core>

#include "sgdsde/core/error.hpp"

namespace sgdsde {

using Philox4x32Counter = std::array<std::uint32_t, 4>;
using Philox4x32Key = std::array<std::uint32_t, 2>;

namespace detail {
constexpr std::uint32_t philox_m0 = 0xD2511F53u, philox_m1 = 0xCD9E8D57u;
constexpr std::uint32_t philox_w0 = 0x9E3779B9u, philox_w1 = 0xBB67AE85u;
}  // namespace detail

/// Philox4x32 with R rounds on one counter (scalar reference; the bulk fills use a SIMD version).
template <int Rounds = 10>
inline Philox4x32Counter philox4x32(Philox4x32Counter c, Philox4x32Key k) {
  for (int r = 0; r < Rounds; ++r) {
    if (r > 0) {
      k[0] += detail::philox_w0;
      k[1] += detail::philox_w1;
    }
    const std::uint64_t p0 = std::uint64_t(detail::philox_m0) * c[0];
    const std::uint64_t p1 = std::uint64_t(detail::philox_m1) * c[2];
    c = {std::uint32_t(p1 >> 32) ^ c[1] ^ k[0], std::uint32_t(p1), std::uint32_t(p0 >> 32) ^ c[3] ^ k[1],
         std::uint32_t(p0)};
  }
  return c;
}

namespace detail {

/// Blocks per chunk of the bulk generator: 16 blocks = 64 words, enough lanes for AVX-512.
constexpr int chunk_blocks = 16;

/// Philox4x32-10 on `chunk_blocks` consecutive counters in structure-of-arrays form, written as
/// plain loops over lanes so the compiler vectorises them (32×32→64 products become vpmuludq).
inline void philox_chunk(std::uint64_t first_block, std::uint32_t id_lo, std::uint32_t id_hi,
                         Philox4x32Key key, std::uint32_t (&w)[4][chunk_blocks]) {
  std::uint32_t c0[chunk_blocks], c1[chunk_blocks], c2[chunk_blocks], c3[chunk_blocks];
  for (int i = 0; i < chunk_blocks; ++i) {
    const std::uint64_t b = first_block + std::uint64_t(i);
    c0[i] = std::uint32_t(b);
    c1[i] = std::uint32_t(b >> 32);
    c2[i] = id_lo;
    c3[i] = id_hi;
  }
  std::uint32_t k0 = key[0], k1 = key[1];
  for (int r = 0; r < 10; ++r) {
    for (int i = 0; i < chunk_blocks; ++i) {
      const std::uint64_t p0 = std::uint64_t(philox_m0) * c0[i];
      const std::uint64_t p1 = std::uint64_t(philox_m1) * c2[i];
      const std::uint32_t n0 = std::uint32_t(p1 >> 32) ^ c1[i] ^ k0;
      const std::uint32_t n2 = std::uint32_t(p0 >> 32) ^ c3[i] ^ k1;
      c1[i] = std::uint32_t(p1);
      c3[i] = std::uint32_t(p0);
      c0[i] = n0;
      c2[i] = n2;
    }
    k0 += philox_w0;
    k1 += philox_w1;
  }
  std::memcpy(w[0], c0, sizeof c0);
  std::memcpy(w[1], c1, sizeof c1);
  std::memcpy(w[2], c2, sizeof c2);
  std::memcpy(w[3], c3, sizeof c3);
}

template <class Scalar, int N>
using LaneArray = Eigen::Array<Scalar, N, 1>;

/// u ∈ (0,1) from one word (float) — 24 significant bits, never 0 or 1.
template <int N>
inline LaneArray<float, N> uniform_from_words(const std::uint32_t* w) {
  LaneArray<float, N> u;
  for (int i = 0; i < N; ++i) u[i] = float(w[i] >> 8);
  return (u + 0.5f) * 0x1p-24f;
}

/// u ∈ (0,1) from two words (double) — 53 significant bits, never 0 or 1.
template <int N>
inline LaneArray<double, N> uniform_from_words(const std::uint32_t* hi, const std::uint32_t* lo) {
  LaneArray<double, N> u;
  for (int i = 0; i < N; ++i)
    u[i] = double((std::uint64_t(hi[i]) << 21) | (std::uint64_t(lo[i]) >> 11));
  return (u + 0.5) * 0x1p-53;
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

/// Values [first, first + n) of distribution D into contiguous memory.
template <class Scalar, Distribution D>
inline void fill_values(std::uint64_t first, std::size_t n, std::uint32_t id_lo, std::uint32_t id_hi,
                        Philox4x32Key key, Scalar* out) {
  constexpr int k = ValuesPerBlock<Scalar, D>::value;
  constexpr std::uint64_t per_chunk = std::uint64_t(k) * chunk_blocks;
  alignas(64) Scalar buffer[per_chunk];
  std::uint64_t v = first;
  const std::uint64_t end = first + n;
  while (v < end) {
    const std::uint64_t chunk_first = (v / per_chunk) * per_chunk;
    const std::uint64_t take_end = std::min(end, chunk_first + per_chunk);
    if (v == chunk_first && take_end == chunk_first + per_chunk) {
      chunk_values<Scalar, D>(chunk_first / k, id_lo, id_hi, key, out);  // whole chunk: in place
    } else {
      chunk_values<Scalar, D>(chunk_first / k, id_lo, id_hi, key, buffer);
      std::memcpy(out, buffer + (v - chunk_first), sizeof(Scalar) * (take_end - v));
    }
    out += take_end - v;
    v = take_end;
  }
}

}  // namespace detail

/// A counter-based random stream keyed by (seed, stream id). Cheap to copy; holds a cursor so
/// successive `fill_*` calls continue the sequence, while the `*_at` functions are stateless.
///
/// Cursor semantics: the cursor counts values of the distribution last drawn. Drawing n values of
/// the same (distribution, Scalar) continues exactly where the previous draw stopped, so splitting a
/// fill into pieces never changes the numbers. Switching distribution (or Scalar) starts at the first
/// whole block not yet touched, so draws of different kinds never share random bits.
class RandomStream {
 public:
  explicit RandomStream(std::uint64_t seed, std::uint64_t stream_id = 0)
      : seed_(seed), stream_id_(stream_id), key_{std::uint32_t(seed), std::uint32_t(seed >> 32)} {}

  std::uint64_t seed() const { return seed_; }
  std::uint64_t stream_id() const { return stream_id_; }
  /// Another stream with the same seed and a different id (independent by construction of Philox).
  RandomStream substream(std::uint64_t stream_id) const { return RandomStream(seed_, stream_id); }

  /// Number of Philox blocks consumed so far (partially used blocks count as consumed).
  std::uint64_t blocks_used() const { return block_cursor_; }
  /// Moves the cursor to the start of block `block`.
  void seek_block(std::uint64_t block) {
    block_cursor_ = block;
    kind_ = Kind::none;
  }

  /// Raw Philox block b of this stream.
  Philox4x32Counter block(std::uint64_t b) const {
    return philox4x32<10>({std::uint32_t(b), std::uint32_t(b >> 32), std::uint32_t(stream_id_),
                           std::uint32_t(stream_id_ >> 32)},
                          key_);
  }

  // Stateless: values [first, first + size) of the distribution, written into `out` (any shape,
  // filled in storage order). `out` may be an expression such as `m.col(j)`.
  template <class Derived>
  void uniform_at(std::uint64_t first, const Eigen::DenseBase<Derived>& out) const {
    fill_at<detail::Distribution::uniform>(first, out);
  }
  template <class Derived>
  void normal_at(std::uint64_t first, const Eigen::DenseBase<Derived>& out) const {
    fill_at<detail::Distribution::normal>(first, out);
  }
  template <class Derived>
  void rademacher_at(std::uint64_t first, const Eigen::DenseBase<Derived>& out) const {
    fill_at<detail::Distribution::rademacher>(first, out);
  }

  // Stateful: continue the sequence (see the class comment for the cursor rule).
  template <class Derived>
  void fill_uniform(const Eigen::DenseBase<Derived>& out) {
    fill_next<detail::Distribution::uniform>(out);
  }
  template <class Derived>
  void fill_normal(const Eigen::DenseBase<Derived>& out) {
    fill_next<detail::Distribution::normal>(out);
  }
  template <class Derived>
  void fill_rademacher(const Eigen::DenseBase<Derived>& out) {
    fill_next<detail::Distribution::rademacher>(out);
  }

  /// One value (convenience; the bulk fills are far faster per value).
  template <class Scalar>
  Scalar uniform() {
    Eigen::Matrix<Scalar, 1, 1> x;
    fill_uniform(x);
    return x[0];
  }
  template <class Scalar>
  Scalar normal() {
    Eigen::Matrix<Scalar, 1, 1> x;
    fill_normal(x);
    return x[0];
  }

 private:
  enum class Kind { none, uniform_f, uniform_d, normal_f, normal_d, rademacher_f, rademacher_d };

  template <class Scalar, detail::Distribution D>
  static constexpr Kind kind_of() {
    constexpr bool f = std::is_same_v<Scalar, float>;
    if constexpr (D == detail::Distribution::uniform) return f ? Kind::uniform_f : Kind::uniform_d;
    else if constexpr (D == detail::Distribution::normal) return f ? Kind::normal_f : Kind::normal_d;
    else return f ? Kind::rademacher_f : Kind::rademacher_d;
  }

  template <detail::Distribution D, class Derived>
  void fill_at(std::uint64_t first, const Eigen::DenseBase<Derived>& out_const) const {
    using Scalar = typename Derived::Scalar;
    static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                  "RandomStream fills float or double arrays");
    auto& out = const_cast<Eigen::DenseBase<Derived>&>(out_const);
    const std::size_t n = std::size_t(out.size());
    if (n == 0) return;
    const std::uint32_t lo = std::uint32_t(stream_id_), hi = std::uint32_t(stream_id_ >> 32);
    if constexpr (bool(Derived::Flags & Eigen::DirectAccessBit)) {
      const bool contiguous = out.innerStride() == 1 && (out.outerSize() == 1 || out.outerStride() == out.innerSize());
      if (contiguous) {
        detail::fill_values<Scalar, D>(first, n, lo, hi, key_, &out.derived().coeffRef(0, 0));
        return;
      }
    }
    Eigen::Array<Scalar, Eigen::Dynamic, 1> tmp(out.size());
    detail::fill_values<Scalar, D>(first, n, lo, hi, key_, tmp.data());
    Eigen::Index k = 0;
    for (Eigen::Index j = 0; j < out.outerSize(); ++j)
      for (Eigen::Index i = 0; i < out.innerSize(); ++i, ++k)
        (Derived::IsRowMajor ? out.coeffRef(j, i) : out.coeffRef(i, j)) = tmp[k];
  }

  template <detail::Distribution D, class Derived>
  void fill_next(const Eigen::DenseBase<Derived>& out) {
    using Scalar = typename Derived::Scalar;
    constexpr int k = detail::ValuesPerBlock<Scalar, D>::value;
    constexpr Kind kind = kind_of<Scalar, D>();
    if (kind_ != kind) {
      kind_ = kind;
      value_cursor_ = block_cursor_ * k;
    }
    fill_at<D>(value_cursor_, out);
    value_cursor_ += std::uint64_t(out.size());
    block_cursor_ = (value_cursor_ + k - 1) / k;
  }

  std::uint64_t seed_, stream_id_;
  Philox4x32Key key_;
  std::uint64_t block_cursor_ = 0, value_cursor_ = 0;
  Kind kind_ = Kind::none;
};

}  // namespace sgdsde
