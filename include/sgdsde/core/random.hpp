// sgdsde/core/random.hpp — counter-based random streams on Philox4x32-10 (Salmon et al., SC'11,
// "Parallel random numbers: as easy as 1, 2, 3"), filling Eigen arrays in bulk, vectorised.
//
// The sequence of a stream is a pure function of (seed, stream id, index): block b of a stream is
// Philox4x32-10 with key (seed_lo, seed_hi) applied to the counter (b_lo, b_hi, id_lo, id_hi), and
// value v of a distribution comes from block v / k (k values per block, listed below).
// So any value can be regenerated alone, and a fill gives the same numbers however it is split
// across calls or threads. Value v of each distribution, from the block's words (w0, w1, w2, w3):
//   uniform<float>   : k = 4, u = ((w_j >> 8) + ½)·2⁻²⁴ ∈ (0, 1)
//   uniform<double>  : k = 2, u = ((w_{2j} << 21 | w_{2j+1} >> 11) + ½)·2⁻⁵³ ∈ (0, 1)
//   normal<float>    : k = 4, Box–Muller on the pairs (u(w0), u(w1)), (u(w2), u(w3)):
//                      z_even = √(−2 ln u₁) cos 2πu₂, z_odd = √(−2 ln u₁) sin 2πu₂
//   normal<double>   : k = 2, Box–Muller on the pair of double uniforms of the block
//   rademacher       : k = 4, ±1 from the top bit of w_j (set → −1)
// The Philox rounds are in core/detail/philox.hpp, the transforms and bulk fills (portable and
// AVX-512, bit-identical) in core/detail/random_simd.hpp.
#pragma once

#include <cstdint>
#include <type_traits>

#include <Eigen/Core>

#include "sgdsde/core/detail/philox.hpp"
#include "sgdsde/core/detail/random_simd.hpp"
#include "sgdsde/core/error.hpp"  // not used here; kept because callers rely on it transitively

namespace sgdsde {

/// A counter-based random stream keyed by (seed, stream id). Cheap to copy; holds a cursor so
/// successive `fill_*` calls continue the sequence, while the `*_at` functions are stateless.
///
/// Cursor semantics: the cursor counts values of the distribution last drawn. Drawing n values of
/// the same (distribution, Scalar) continues exactly where the previous draw stopped, so splitting a
/// fill into pieces never changes the numbers. Switching distribution (or Scalar) starts at the first
/// whole block not yet touched, so draws of different kinds never share random bits.
class RandomStream {
 public:
  /// `RandomStream(seed)` is stream 0 of that seed.
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
  void fill_at(std::uint64_t first, const Eigen::DenseBase<Derived>& out) const {
    detail::fill_into<D>(first, stream_id_, key_, const_cast<Eigen::DenseBase<Derived>&>(out));
  }

  template <detail::Distribution D, class Derived>
  void fill_next(const Eigen::DenseBase<Derived>& out) {
    constexpr int k = detail::ValuesPerBlock<typename Derived::Scalar, D>::value;
    constexpr Kind kind = kind_of<typename Derived::Scalar, D>();
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
