// sgdsde/core/detail/philox.hpp — the Philox4x32-10 rounds (Salmon et al., SC'11): a scalar reference
// and the bulk versions on 32 consecutive counters (portable loops and AVX-512), bit-identical.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>

// With AVX-512 (F + DQ) the uniform and normal fills use explicit 512-bit code (same sequence);
// define SGDSDE_RANDOM_NO_SIMD to force the portable loops (used to cross-check the two).
#if defined(__AVX512F__) && defined(__AVX512DQ__) && !defined(SGDSDE_RANDOM_NO_SIMD)
#define SGDSDE_RANDOM_AVX512 1
#include <immintrin.h>
#endif

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

/// Blocks per chunk of the bulk generator: two independent groups of 16 blocks (one AVX-512
/// register per word and group), so the multiply latency of one group hides behind the other.
constexpr int chunk_blocks = 32;

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
      // high words by a widening product, low words by a 32-bit product (vectorises to vpmulld)
      const std::uint32_t hi0 = std::uint32_t((std::uint64_t(c0[i]) * philox_m0) >> 32);
      const std::uint32_t hi1 = std::uint32_t((std::uint64_t(c2[i]) * philox_m1) >> 32);
      const std::uint32_t lo0 = c0[i] * philox_m0, lo1 = c2[i] * philox_m1;
      c0[i] = hi1 ^ c1[i] ^ k0;
      c2[i] = hi0 ^ c3[i] ^ k1;
      c1[i] = lo1;
      c3[i] = lo0;
    }
    k0 += philox_w0;
    k1 += philox_w1;
  }
  std::memcpy(w[0], c0, sizeof c0);
  std::memcpy(w[1], c1, sizeof c1);
  std::memcpy(w[2], c2, sizeof c2);
  std::memcpy(w[3], c3, sizeof c3);
}

#if defined(SGDSDE_RANDOM_AVX512)
/// Lane l of group g holds block 16g + 4(l mod 4) + l/4: with that order the final 32- and 64-bit
/// unpacks of random_simd.hpp put every value at its place in memory.
// GCC 12 flags the `__Y = __Y` idiom inside its own AVX-512 intrinsics headers (undefined
// vectors) as uninitialised; silence that false positive here only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
namespace avx512 {

constexpr int groups = chunk_blocks / 16;

struct Words {
  __m512i w0, w1, w2, w3;
};

inline void philox_chunk(std::uint64_t first_block, std::uint32_t id_lo, std::uint32_t id_hi,
                         Philox4x32Key key, Words (&out)[groups]) {
  const __m512i lane_block = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  __m512i c0[groups], c1[groups], c2[groups], c3[groups];
  for (int g = 0; g < groups; ++g) {
    const std::uint64_t b = first_block + 16u * std::uint64_t(g);
    const __m512i lo = _mm512_set1_epi32(int(std::uint32_t(b)));
    const __m512i hi = _mm512_set1_epi32(int(std::uint32_t(b >> 32)));
    c0[g] = _mm512_add_epi32(lo, lane_block);
    const __mmask16 carry = _mm512_cmplt_epu32_mask(c0[g], lo);  // the low word wrapped around
    c1[g] = _mm512_mask_add_epi32(hi, carry, hi, _mm512_set1_epi32(1));
    c2[g] = _mm512_set1_epi32(int(id_lo));
    c3[g] = _mm512_set1_epi32(int(id_hi));
  }
  const __m512i m0 = _mm512_set1_epi32(int(philox_m0)), m1 = _mm512_set1_epi32(int(philox_m1));
  std::uint32_t k0 = key[0], k1 = key[1];
  for (int r = 0; r < 10; ++r) {
    const __m512i kk0 = _mm512_set1_epi32(int(k0)), kk1 = _mm512_set1_epi32(int(k1));
    for (int g = 0; g < groups; ++g) {
      // 32×32→64-bit products of the even and of the odd lanes, split into high and low words.
      const __m512i e0 = _mm512_mul_epu32(c0[g], m0);
      const __m512i o0 = _mm512_mul_epu32(_mm512_srli_epi64(c0[g], 32), m0);
      const __m512i e1 = _mm512_mul_epu32(c2[g], m1);
      const __m512i o1 = _mm512_mul_epu32(_mm512_srli_epi64(c2[g], 32), m1);
      const __m512i hi0 = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(e0, 32), o0);
      const __m512i hi1 = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(e1, 32), o1);
      const __m512i lo1 = _mm512_mullo_epi32(c2[g], m1), lo0 = _mm512_mullo_epi32(c0[g], m0);
      c0[g] = _mm512_ternarylogic_epi32(hi1, c1[g], kk0, 0x96);  // 0x96: a ^ b ^ c
      c2[g] = _mm512_ternarylogic_epi32(hi0, c3[g], kk1, 0x96);
      c1[g] = lo1;
      c3[g] = lo0;
    }
    k0 += philox_w0;
    k1 += philox_w1;
  }
  for (int g = 0; g < groups; ++g) out[g] = {c0[g], c1[g], c2[g], c3[g]};
}

}  // namespace avx512
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif

}  // namespace detail
}  // namespace sgdsde
