#include "feeds/byte_runs.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace almanac {
namespace {

// run_end against the byte-at-a-time definition: every start in strings of every length up to 70
// (so the 16-byte steps, the overlapping last step and the short path all run), with the bytes
// that end a run at every place, for the sets the escapers use.
template <bool controls, bool high, char... stops>
void check_against_definition(std::mt19937& random) {
    // Mostly plain letters, so that runs are long; then anything.
    std::uniform_int_distribution<int> any_byte(0, 255);
    std::uniform_int_distribution<int> letter('a', 'z');
    std::uniform_int_distribution<int> percent(0, 99);
    for (std::size_t length = 0; length <= 70; ++length) {
        for (int round = 0; round < 40; ++round) {
            std::string s;
            const int rare = round % 4 == 0 ? 0 : 1 + round % 10;  // percent of bytes drawn from all 256
            for (std::size_t k = 0; k < length; ++k)
                s += static_cast<char>(percent(random) < rare ? any_byte(random) : letter(random));
            for (std::size_t from = 0; from <= length; ++from) {
                std::size_t expected = from;
                while (expected < length && !ends_run<controls, high, stops...>(s[expected])) ++expected;
                ASSERT_EQ((run_end<controls, high, stops...>(s, from)), expected)
                    << "length " << length << " from " << from;
            }
        }
    }
}

TEST(RunEnd, MatchesTheByteDefinition) {
    std::mt19937 random(20261203);
    check_against_definition<true, true, '&', '<', '>', '"', '\''>(random);    // XML
    check_against_definition<true, true, '"', '\\'>(random);                   // JSON
    check_against_definition<true, false, '\x7f', '\\', ';', ','>(random);     // iCalendar TEXT
    check_against_definition<false, false, '&', '<', '>', '"', '\''>(random);  // HTML
    check_against_definition<false, true>(random);                             // UTF-8 check
    check_against_definition<false, false, '\0'>(random);
}

TEST(RunEnd, EachKindOfStopAtEachPlace) {
    for (std::size_t length : {1u, 15u, 16u, 17u, 31u, 32u, 33u, 64u}) {
        for (std::size_t at = 0; at < length; ++at) {
            for (const char stop : {'\x01', '\x1f', '\x80', '\xff', '<', '\0'}) {
                std::string s(length, 'x');
                s[at] = stop;
                const bool is_control = static_cast<unsigned char>(stop) < 0x20;
                const bool is_high = static_cast<unsigned char>(stop) >= 0x80;
                EXPECT_EQ((run_end<true, false, '<'>(s, 0)), is_high ? length : at) << length << " " << at;
                EXPECT_EQ((run_end<false, true, '<'>(s, 0)), is_control ? length : at) << length << " " << at;
                EXPECT_EQ((run_end<false, false>(s, 0)), length);
                // A stop before `from` is not found again.
                if (at + 1 <= length) {
                    EXPECT_EQ((run_end<true, true, '<'>(s, at + 1)), length);
                }
            }
        }
    }
    // 0x20 and 0x7F are plain unless asked for.
    EXPECT_EQ((run_end<true, true>(std::string(40, ' ') + "\x7f", 0)), 41u);
    EXPECT_EQ((run_end<true, true, '\x7f'>(std::string(40, ' ') + "\x7f", 0)), 40u);
}

}  // namespace
}  // namespace almanac
