// Runs of bytes an escaper or a validator copies whole: where the next byte it must look at lies.
// Every byte of the output goes through one of these scans, so they look at 16 bytes at a time
// where the machine has SSE2 (every x86-64), and at one at a time elsewhere.
#pragma once

#include <bit>
#include <cstddef>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace almanac {

// Whether `c` ends a run: with `controls`, a byte below 0x20; with `high`, a byte from 0x80 on
// (the start of a UTF-8 sequence to check); any of `stops` (ASCII).
template <bool controls, bool high, char... stops>
constexpr bool ends_run(char c) noexcept {
    const auto b = static_cast<unsigned char>(c);
    return (controls && b < 0x20) || (high && b >= 0x80) || ((c == stops) || ...);
}

namespace detail {

#if defined(__SSE2__)
// Bit k set when p[k] ends a run, for the 16 bytes at p.
template <bool controls, bool high, char... stops>
unsigned run_end_mask(const char* p) noexcept {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    __m128i hit = _mm_setzero_si128();
    if constexpr (controls) hit = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v);  // v <= 0x1F
    ((hit = _mm_or_si128(hit, _mm_cmpeq_epi8(v, _mm_set1_epi8(stops)))), ...);
    auto mask = static_cast<unsigned>(_mm_movemask_epi8(hit));
    if constexpr (high) mask |= static_cast<unsigned>(_mm_movemask_epi8(v));  // the top bit of each byte
    return mask;
}
#endif

}  // namespace detail

// The first position from `from` on whose byte ends a run (ends_run), or s.size().
template <bool controls, bool high, char... stops>
std::size_t run_end(std::string_view s, std::size_t from) noexcept {
    std::size_t i = from;
    const std::size_t n = s.size();
#if defined(__SSE2__)
    if (n >= 16) {
        for (; i + 16 <= n; i += 16)
            if (const unsigned mask = detail::run_end_mask<controls, high, stops...>(s.data() + i))
                return i + static_cast<std::size_t>(std::countr_zero(mask));
        if (i >= n) return n;
        // The last 16 bytes, less the ones before i (already looked at, or before `from`).
        const std::size_t last = n - 16;
        const unsigned mask = detail::run_end_mask<controls, high, stops...>(s.data() + last) >> (i - last);
        return mask != 0 ? i + static_cast<std::size_t>(std::countr_zero(mask)) : n;
    }
#endif
    while (i < n && !ends_run<controls, high, stops...>(s[i])) ++i;
    return i;
}

}  // namespace almanac
