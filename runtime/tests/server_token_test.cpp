// The token comparison visits every byte whatever the first difference (the constant-time
// guard): an early-exit comparison would let a local process find the token byte by byte from
// response times. Counting visits proves it without timing anything.
#include <gtest/gtest.h>

#include <string>

#include "server/guards.hpp"

namespace {

using ds::server::all_equal_constant_time;

size_t visits_until_verdict(const std::string& token, const std::string& guess) {
    size_t visits = 0;
    all_equal_constant_time(token.size(), [&](size_t i) {
        ++visits;
        return token[i] ^ guess[i];
    });
    return visits;
}

TEST(ServerToken, EveryByteIsComparedWhereverTheFirstDifferenceIs) {
    const std::string token(64, 'a');
    std::string first_wrong = token, last_wrong = token;
    first_wrong.front() = 'b';
    last_wrong.back() = 'b';
    EXPECT_EQ(visits_until_verdict(token, first_wrong), 64u);
    EXPECT_EQ(visits_until_verdict(token, last_wrong), 64u);
    EXPECT_EQ(visits_until_verdict(token, token), 64u);
}

TEST(ServerToken, TheVerdictIsRight) {
    EXPECT_TRUE(all_equal_constant_time(3, [](size_t) { return 0; }));
    EXPECT_FALSE(all_equal_constant_time(3, [](size_t i) { return i == 2 ? 1 : 0; }));
    EXPECT_FALSE(ds::server::tokens_equal(std::string(64, 'a'), std::string(64, 'b')));
    EXPECT_TRUE(ds::server::tokens_equal(std::string(64, 'a'), std::string(64, 'a')));
}

}  // namespace
