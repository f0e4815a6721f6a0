// sgdsde/nn/detail/kernels.hpp — register-blocked dense products for the MLP layers, on Eigen's packet
// primitives (one source for AVX-512, AVX2, SSE, NEON): C = α A B (+ C) with fused epilogues, no packing
// buffers on the heap (the only copy is a stack-resident transposed panel of Aᵀ in product_tn).
#pragma once

#include <algorithm>
#include <type_traits>

#include <Eigen/Core>

#include "sgdsde/core/types.hpp"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"  // packet types as template arguments
#endif

namespace sgdsde::nn::detail::kernel {

namespace ei = Eigen::internal;

/// The kernels serve float and double when Eigen vectorizes them; every other Scalar (Dual, long
/// double) or a target without SIMD takes the plain Eigen path of the callers.
template <class Scalar>
inline constexpr bool enabled = (std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>) &&
                                bool(ei::packet_traits<Scalar>::Vectorizable) &&
                                (ei::unpacket_traits<typename ei::packet_traits<Scalar>::type>::size > 1);

/// Register block of the full-width packet: MR packets of rows × NR columns of C in accumulators.
/// 3 × 8 = 24 accumulators + 3 A packets + 1 broadcast = 28 of the 32 registers of AVX-512.
/// With 16 registers (AVX2, SSE, NEON-32) the block shrinks to 2 × 4 = 8 accumulators.
#if defined(EIGEN_VECTORIZE_AVX512) || defined(__aarch64__)
inline constexpr int max_mr = 3, max_nr = 8;
#else
inline constexpr int max_mr = 2, max_nr = 4;
#endif

enum class Fuse { none, relu, leaky_relu };

/// What happens to an accumulator block v = Σ_k A(i,k) B(k,j) when it leaves the registers:
///   c = α v (+ c if accumulate) (+ bias_scale·bias[i]);
///   forward (post != null): post = φ(c) for φ = fuse (none: identity);
///   backward: c ⊙= φ'(x) read from `mask` (relu: mask = y, y > 0; leaky: mask = x, x > 0 ? 1 : slope).
template <class Scalar>
struct Epilogue {
  Scalar* c = nullptr;
  Index ldc = 0;
  Scalar alpha = Scalar(1);
  bool accumulate = false;
  const Scalar* bias = nullptr;
  Scalar bias_scale = Scalar(0);
  Scalar* post = nullptr;
  Index ldp = 0;
  const Scalar* mask = nullptr;
  Index ldm = 0;
  bool backward = false;
  Fuse fuse = Fuse::none;
  Scalar slope = Scalar(0);

  /// The same epilogue for the sub-block starting at row r.
  Epilogue shifted(Index r) const {
    Epilogue e = *this;
    e.c += r;
    if (e.bias) e.bias += r;
    if (e.post) e.post += r;
    if (e.mask) e.mask += r;
    return e;
  }

  template <class P>
  EIGEN_ALWAYS_INLINE void store(const P& acc, Index i, Index j) const {
    constexpr bool scalar = std::is_same_v<P, Scalar>;
    Scalar* cp = c + j * ldc + i;
    P v = alpha == Scalar(1) ? acc : ei::pmul(ei::pset1<P>(alpha), acc);
    if (accumulate) v = ei::padd(v, ei::ploadu<P>(cp));
    if (bias) v = ei::pmadd(ei::pset1<P>(bias_scale), ei::ploadu<P>(bias + i), v);
    if (backward && fuse != Fuse::none) {
      const P m = ei::ploadu<P>(mask + j * ldm + i);
      if constexpr (scalar) {
        v = m > Scalar(0) ? v : (fuse == Fuse::relu ? Scalar(0) : Scalar(slope * v));
      } else {
        const P positive = ei::pcmp_lt(ei::pzero(m), m);
        v = fuse == Fuse::relu ? ei::pand(v, positive) : ei::pselect(positive, v, ei::pmul(ei::pset1<P>(slope), v));
      }
    }
    ei::pstoreu(cp, v);
    if (post) {
      P y = v;
      if (fuse == Fuse::relu) {
        if constexpr (scalar) y = v > Scalar(0) ? v : Scalar(0);
        else y = ei::pmax(v, ei::pzero(v));
      } else if (fuse == Fuse::leaky_relu) {
        // slope ∈ [0, 1): max(v, slope·v) is v for v > 0 and slope·v for v ≤ 0.
        if constexpr (scalar) y = v > Scalar(0) ? v : Scalar(slope * v);
        else y = ei::pmax(v, ei::pmul(ei::pset1<P>(slope), v));
      }
      ei::pstoreu(post + j * ldp + i, y);
    }
  }
};

/// B(k, j) of a product A B: stored column-major (BNormal, B is K × N) or as Bᵀ (BTrans, B is N × K).
template <class Scalar>
struct BNormal {
  const Scalar* b;
  Index ld;
  static constexpr bool by_column = true;
};
template <class Scalar>
struct BTrans {
  const Scalar* b;
  Index ld;
  static constexpr bool by_column = false;
};

/// One register block: rows [i, i + MR·L) in MR packets P, plus (HasE) the next size(E) rows in one
/// smaller packet E, × columns [j, j + NR) of C; the full sum over k < K, then the epilogue.
template <class P, int MR, class E, bool HasE, int NR, class Scalar, class BAcc>
EIGEN_DONT_INLINE void tile(const Scalar* a, Index lda, const BAcc& b, Index K, Index i, Index j,
                            const Epilogue<Scalar>& ep) {
  constexpr int L = ei::unpacket_traits<P>::size;
  P acc[MR][NR];
  E acce[NR];
  const Scalar* ap = a + i;
  const Scalar* bp = BAcc::by_column ? b.b + j * b.ld : b.b + j;
  const Index ldb = b.ld;
  const Index bk = BAcc::by_column ? 1 : ldb;  // step of bp per k
  const Index bn = BAcc::by_column ? ldb : 1;  // distance between columns
  // One k: the first sets the accumulators (a product, no zero fill), the others add. Zero-filling
  // first made GCC clear a stack copy of the whole block with memset on every call (4 % of the f64
  // step at S = 512, where K = 100 tiles are short).
  const auto k_step = [&](auto first) {
    P av[MR];
    for (int m = 0; m < MR; ++m) av[m] = ei::ploadu<P>(ap + m * L);
    E ae;
    if constexpr (HasE) ae = ei::ploadu<E>(ap + MR * L);
    for (int n = 0; n < NR; ++n) {
      const Scalar bs = bp[n * bn];
      const P bv = ei::pset1<P>(bs);
      if constexpr (decltype(first)::value) {
        for (int m = 0; m < MR; ++m) acc[m][n] = ei::pmul(av[m], bv);
        if constexpr (HasE) acce[n] = ei::pmul(ae, ei::pset1<E>(bs));
      } else {
        for (int m = 0; m < MR; ++m) acc[m][n] = ei::pmadd(av[m], bv, acc[m][n]);
        if constexpr (HasE) acce[n] = ei::pmadd(ae, ei::pset1<E>(bs), acce[n]);
      }
    }
  };
  if (K > 0) {
    k_step(std::true_type{});
    ap += lda;
    bp += bk;
  } else {
    for (int n = 0; n < NR; ++n) {
      for (int m = 0; m < MR; ++m) acc[m][n] = ei::pset1<P>(Scalar(0));
      if constexpr (HasE) acce[n] = ei::pset1<E>(Scalar(0));
    }
  }
  for (Index k = 1; k < K; ++k, ap += lda, bp += bk) k_step(std::false_type{});
  for (int n = 0; n < NR; ++n) {
    for (int m = 0; m < MR; ++m) ep.store(acc[m][n], i + m * L, j + n);
    if constexpr (HasE) ep.store(acce[n], i + MR * L, j + n);
  }
}

/// Rows [i, i + MR·L (+ size(E))) for every column: blocks of NR columns, then NR/2, then single ones.
template <class P, int MR, class E, bool HasE, int NR, class Scalar, class BAcc>
void sweep(const Scalar* a, Index lda, const BAcc& b, Index N, Index K, Index i, const Epilogue<Scalar>& ep) {
  Index j = 0;
  for (; j + NR <= N; j += NR) tile<P, MR, E, HasE, NR>(a, lda, b, K, i, j, ep);
  if constexpr (NR >= 4) {
    if (N - j >= NR / 2) {
      tile<P, MR, E, HasE, NR / 2>(a, lda, b, K, i, j, ep);
      j += NR / 2;
    }
  }
  for (; j < N; ++j) tile<P, MR, E, HasE, 1>(a, lda, b, K, i, j, ep);
}

/// Rows [i, M), fewer than one packet P: one half-width packet if it fits, then smaller ones, then
/// single rows (e.g. 10 = 8 + 2 in float on AVX-512).
template <class P, class Scalar, class BAcc>
void tail_rows(const Scalar* a, Index lda, const BAcc& b, Index N, Index K, Index i, Index M,
               const Epilogue<Scalar>& ep) {
  constexpr int L = ei::unpacket_traits<P>::size;
  using H = typename ei::unpacket_traits<P>::half;
  constexpr int LH = ei::unpacket_traits<H>::size;
  if constexpr (LH < L && LH > 1) {
    if (M - i >= LH) {
      sweep<H, 1, H, false, max_nr>(a, lda, b, N, K, i, ep);
      i += LH;
    }
    if (i < M) tail_rows<H>(a, lda, b, N, K, i, M, ep);
  } else {
    for (; i < M; ++i) sweep<Scalar, 1, Scalar, false, max_nr>(a, lda, b, N, K, i, ep);
  }
}

/// The last g full packets of rows together with the t remaining rows in one smaller packet E.
/// The extra packet costs NR more accumulators: the column block shrinks to fit the registers.
template <int G, class E, class Scalar, class BAcc>
void mixed_panel(const Scalar* a, Index lda, const BAcc& b, Index N, Index K, Index i, const Epilogue<Scalar>& ep) {
  using P = typename ei::packet_traits<Scalar>::type;
  constexpr int nr = G == max_mr ? (max_nr * max_mr) / (max_mr + 1) : max_nr;
  sweep<P, G, E, true, nr>(a, lda, b, N, K, i, ep);
}
template <class E, class Scalar, class BAcc>
void mixed_rows(int g, const Scalar* a, Index lda, const BAcc& b, Index N, Index K, Index i,
                const Epilogue<Scalar>& ep) {
  if (g == 1) mixed_panel<1, E>(a, lda, b, N, K, i, ep);
  if constexpr (max_mr >= 2)
    if (g == 2) mixed_panel<2, E>(a, lda, b, N, K, i, ep);
  if constexpr (max_mr >= 3)
    if (g == 3) mixed_panel<3, E>(a, lda, b, N, K, i, ep);
}

/// C (M × N) ← epilogue(Σ_k A(·,k) B(k,·)) with A column-major (M × K, leading dimension lda).
/// Row panels of max_mr packets, each swept over all columns. A remainder of M mod L rows equal to a
/// half or quarter packet rides in the last panel (100 = 48 + (32 + 16 + 4) in float on AVX-512, so
/// the 4 rows share that panel's broadcasts); any other remainder goes through tail_rows.
template <class Scalar, class BAcc>
void product(const Scalar* a, Index lda, const BAcc& b, Index M, Index N, Index K, const Epilogue<Scalar>& ep) {
  using P = typename ei::packet_traits<Scalar>::type;
  using H = typename ei::unpacket_traits<P>::half;
  using Q = typename ei::unpacket_traits<H>::half;
  constexpr int L = ei::unpacket_traits<P>::size, LH = ei::unpacket_traits<H>::size,
                LQ = ei::unpacket_traits<Q>::size;
  const Index t = M % L;
  Index rest = M / L;  // full packets of rows not yet done
  const bool with_h = LH < L && t == LH, with_q = LQ < LH && t == LQ;
  const bool absorb = rest > 0 && (with_h || with_q);
  Index i = 0;
  while (rest > max_mr || (rest == max_mr && !absorb)) {
    sweep<P, max_mr, P, false, max_nr>(a, lda, b, N, K, i, ep);
    i += max_mr * L;
    rest -= max_mr;
  }
  if (absorb) {
    if (with_h) mixed_rows<H>(int(rest), a, lda, b, N, K, i, ep);
    else mixed_rows<Q>(int(rest), a, lda, b, N, K, i, ep);
    return;
  }
  if constexpr (max_mr > 2) {
    if (rest == 2) sweep<P, 2, P, false, max_nr>(a, lda, b, N, K, i, ep);
  }
  if (rest == 1) sweep<P, 1, P, false, max_nr>(a, lda, b, N, K, i, ep);
  i += rest * L;
  if (i < M) tail_rows<P>(a, lda, b, N, K, i, M, ep);
}

/// C (M × N) ← epilogue(Aᵀ B), A K × M, B K × N, both column-major. Rows of C are taken in panels of
/// one register block (max_mr packets); each panel of Aᵀ (panel rows × up to kc of K) is transposed
/// once into a stack buffer by packet-block transposes and then serves every column of C.
template <class Scalar>
void product_tn(const Scalar* a, Index lda, const Scalar* b, Index ldb, Index M, Index N, Index K,
                const Epilogue<Scalar>& ep) {
  using P = typename ei::packet_traits<Scalar>::type;
  constexpr int L = ei::unpacket_traits<P>::size;
  constexpr Index pr = max_mr * L;
  constexpr Index kc = 256;
  alignas(64) Scalar buf[pr * kc];
  for (Index i0 = 0; i0 < M; i0 += pr) {
    const Index rows = std::min(pr, M - i0);
    for (Index k0 = 0; k0 < K; k0 += kc) {
      const Index depth = std::min(kc, K - k0);
      // buf(r, k) = A(k0 + k, i0 + r), column-major with leading dimension pr.
      Index kb = 0;
      for (; kb + L <= depth; kb += L) {
        Index rb = 0;
        for (; rb + L <= rows; rb += L) {
          ei::PacketBlock<P, L> blk;
          for (int q = 0; q < L; ++q) blk.packet[q] = ei::ploadu<P>(a + (i0 + rb + q) * lda + k0 + kb);
          ei::ptranspose(blk);
          for (int q = 0; q < L; ++q) ei::pstoreu(buf + (kb + q) * pr + rb, blk.packet[q]);
        }
        for (; rb < rows; ++rb)
          for (Index q = 0; q < L; ++q) buf[(kb + q) * pr + rb] = a[(i0 + rb) * lda + k0 + kb + q];
      }
      for (; kb < depth; ++kb)
        for (Index r = 0; r < rows; ++r) buf[kb * pr + r] = a[(i0 + r) * lda + k0 + kb];
      // Chunks of K before the last accumulate raw sums; the last applies the caller's epilogue.
      Epilogue<Scalar> e = ep.shifted(i0);
      const bool first = k0 == 0, last = k0 + depth >= K;
      if (!first) e.accumulate = true;
      if (!last) {
        e.bias = nullptr;
        e.post = nullptr;
        e.fuse = Fuse::none;
      }
      product(static_cast<const Scalar*>(buf), pr, BNormal<Scalar>{b + k0, ldb}, rows, N, depth, e);
    }
  }
}

}  // namespace sgdsde::nn::detail::kernel

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
