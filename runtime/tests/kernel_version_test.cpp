// Unit tests for core/kernel_version: the decisions the seccomp table takes from `uname -r`.
// (The parser's own cases are in probes_test.cpp, which `droidspaces check` shares.)
#include "core/kernel_version.hpp"

#include <gtest/gtest.h>

namespace ds {
namespace {

TEST(KernelMatches, KeyringShieldOnlyBefore50) {
    // Android vendor kernels before 5.0: the keyctl family answers ENOSYS.
    EXPECT_TRUE(kernel_matches(Kernels::before_5_0, "4.14.113-perf+"));
    EXPECT_TRUE(kernel_matches(Kernels::before_5_0, "4.19"));
    EXPECT_TRUE(kernel_matches(Kernels::before_5_0, "4.9.337-g1234abcd"));
    EXPECT_TRUE(kernel_matches(Kernels::before_5_0, "3.18.140"));
    EXPECT_TRUE(kernel_matches(Kernels::before_5_0, "4.99"));
    // 5.0 and later, distro and Android GKI releases alike: no shield.
    EXPECT_FALSE(kernel_matches(Kernels::before_5_0, "5.0"));
    EXPECT_FALSE(kernel_matches(Kernels::before_5_0, "5.0.0"));
    EXPECT_FALSE(kernel_matches(Kernels::before_5_0, "5.4.254-android11-2"));
    EXPECT_FALSE(kernel_matches(Kernels::before_5_0, "6.1.0-18-amd64"));
    EXPECT_FALSE(kernel_matches(Kernels::before_5_0, "6.18.44-fc-v857"));
    EXPECT_FALSE(kernel_matches(Kernels::before_5_0, "10.0"));
}

TEST(KernelMatches, GarbageCountsAsACurrentKernel) {
    for (const char* garbage :
         {"", "garbage", "linux-4.14", "4", "4.", "4.x", "-4.14", " 4.14", "v4.14.113", "\xff\xfe"})
        EXPECT_FALSE(kernel_matches(Kernels::before_5_0, garbage)) << garbage;
}

TEST(KernelMatches, RulesForAllKernelsAlwaysApply) {
    for (const char* release : {"4.14.113-perf+", "5.0", "6.1.0-18-amd64", "", "garbage"})
        EXPECT_TRUE(kernel_matches(Kernels::all, release)) << release;
}

TEST(KernelMatches, HugeNumbersDoNotOverflow) {
    EXPECT_FALSE(kernel_matches(Kernels::before_5_0, "99999999999999999999.1"));
    EXPECT_TRUE(kernel_matches(Kernels::before_5_0, "4.99999999999999999999"));
}

}  // namespace
}  // namespace ds
