// Unit tests for sys/bpf_devices: the shape of the cgroup device program built from a rule
// table, and the container's allowlist. A tiny interpreter runs the program on contexts so the
// verdicts (not just the instruction count) are checked without loading it into a kernel.
#include "sys/bpf_devices.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <vector>

#include "container/devices.hpp"

namespace {

using ds::sys::DeviceRule;
using ds::sys::DeviceType;
using ds::sys::kAnyMinor;

constexpr std::uint32_t kRead = 2;   // BPF_DEVCG_ACC_READ
constexpr std::uint32_t kMknod = 1;  // BPF_DEVCG_ACC_MKNOD

// Runs exactly the instruction kinds build_device_program emits; anything else fails the test.
int run(const std::vector<bpf_insn>& code, std::uint32_t access_type, std::uint32_t major,
        std::uint32_t minor) {
    const std::array<std::uint32_t, 3> ctx{access_type, major, minor};
    std::array<std::uint64_t, 11> reg{};
    for (std::size_t pc = 0; pc < code.size(); ++pc) {
        const bpf_insn& i = code[pc];
        switch (i.code) {
            case BPF_LDX | BPF_W | BPF_MEM:
                EXPECT_EQ(i.src_reg, 1);
                EXPECT_EQ(i.off % 4, 0);
                reg[i.dst_reg] = ctx.at(static_cast<std::size_t>(i.off / 4));
                break;
            case BPF_ALU | BPF_AND | BPF_K:
                reg[i.dst_reg] = static_cast<std::uint32_t>(reg[i.dst_reg] & i.imm);
                break;
            case BPF_JMP | BPF_JNE | BPF_K:
                if (reg[i.dst_reg] != static_cast<std::uint64_t>(static_cast<std::int64_t>(i.imm)))
                    pc += static_cast<std::size_t>(i.off);
                break;
            case BPF_ALU64 | BPF_MOV | BPF_K:
                reg[i.dst_reg] = static_cast<std::uint64_t>(static_cast<std::int64_t>(i.imm));
                break;
            case BPF_JMP | BPF_EXIT:
                return static_cast<int>(reg[0]);
            default:
                ADD_FAILURE() << "unexpected opcode " << int(i.code) << " at " << pc;
                return -1;
        }
    }
    ADD_FAILURE() << "fell off the end of the program";
    return -1;
}

std::uint32_t chr(std::uint32_t access) {
    return access << 16 | 2;
}
std::uint32_t blk(std::uint32_t access) {
    return access << 16 | 1;
}

}  // namespace

TEST(BpfDevices, EmptyTableDeniesEverything) {
    auto code = ds::sys::build_device_program(std::span<const DeviceRule>{});
    ASSERT_EQ(code.size(), 6u);  // 4 context loads/mask + "r0 = 0; exit"
    EXPECT_EQ(code[4].code, BPF_ALU64 | BPF_MOV | BPF_K);
    EXPECT_EQ(code[4].imm, 0);
    EXPECT_EQ(code[5].code, BPF_JMP | BPF_EXIT);
    EXPECT_EQ(run(code, chr(kRead), 1, 3), 0);
    EXPECT_EQ(run(code, blk(kRead), 8, 0), 0);
}

TEST(BpfDevices, ShapeOfExactAndWildcardRules) {
    const DeviceRule rules[] = {{DeviceType::character, 1, 3},
                                {DeviceType::character, 136, kAnyMinor}};
    auto code = ds::sys::build_device_program(rules);
    // 4 + (3 compares + 2) + (2 compares + 2) + 2
    ASSERT_EQ(code.size(), 4u + 5u + 4u + 2u);
    // The first rule's compares skip to the second rule's first instruction (index 9).
    for (std::size_t pc = 4; pc < 7; ++pc) {
        EXPECT_EQ(code[pc].code, BPF_JMP | BPF_JNE | BPF_K);
        EXPECT_EQ(pc + 1 + static_cast<std::size_t>(code[pc].off), 9u) << "at " << pc;
    }
    EXPECT_EQ(code[4].imm, 2);  // BPF_DEVCG_DEV_CHAR
    EXPECT_EQ(code[5].imm, 1);
    EXPECT_EQ(code[6].imm, 3);
    EXPECT_EQ(code[7].imm, 1);  // allow
    EXPECT_EQ(code[8].code, BPF_JMP | BPF_EXIT);
    // The wildcard rule compares type and major only, then skips to the final deny (index 13).
    for (std::size_t pc = 9; pc < 11; ++pc)
        EXPECT_EQ(pc + 1 + static_cast<std::size_t>(code[pc].off), 13u) << "at " << pc;
    EXPECT_EQ(code[13].imm, 0);
}

TEST(BpfDevices, VerdictsFollowTheTable) {
    const DeviceRule rules[] = {{DeviceType::character, 1, 3},
                                {DeviceType::character, 136, kAnyMinor}};
    auto code = ds::sys::build_device_program(rules);
    EXPECT_EQ(run(code, chr(kRead), 1, 3), 1);
    EXPECT_EQ(run(code, chr(kMknod), 1, 3), 1);
    EXPECT_EQ(run(code, chr(kRead), 136, 0), 1);
    EXPECT_EQ(run(code, chr(kRead), 136, 99999), 1);
    EXPECT_EQ(run(code, chr(kRead), 1, 1), 0);  // /dev/mem
    EXPECT_EQ(run(code, blk(kRead), 1, 3), 0);  // same numbers, block: denied
    EXPECT_EQ(run(code, blk(kMknod), 136, 0), 0);
    EXPECT_EQ(run(code, chr(kRead), 137, 0), 0);
}

TEST(BpfDevices, ContainerAllowlistDeniesEveryBlockDevice) {
    auto code = ds::sys::build_device_program(ds::container::device_allowlist());
    for (std::uint32_t major : {1u, 7u, 8u, 179u, 253u, 259u})
        for (std::uint32_t minor : {0u, 1u, 3u})
            EXPECT_EQ(run(code, blk(kRead), major, minor), 0) << major << ":" << minor;
    EXPECT_EQ(run(code, blk(kMknod), 7, 0), 0);
}

TEST(BpfDevices, ContainerAllowlistCoversTheRuntimesNodes) {
    auto code = ds::sys::build_device_program(ds::container::device_allowlist());
    // boot.cpp's kDevices, ptmx, the console (a pts) and /dev/console.
    const std::array<std::array<std::uint32_t, 2>, 12> allowed{{{1, 3},
                                                                {1, 5},
                                                                {1, 7},
                                                                {1, 8},
                                                                {1, 9},
                                                                {5, 0},
                                                                {5, 1},
                                                                {5, 2},
                                                                {136, 0},
                                                                {136, 4242},
                                                                {10, 200},
                                                                {10, 229}}};
    for (auto [major, minor] : allowed)
        EXPECT_EQ(run(code, chr(kRead | 4), major, minor), 1) << major << ":" << minor;
    for (auto [major, minor] : std::array<std::array<std::uint32_t, 2>, 5>{
             {{1, 1}, {1, 2}, {1, 4}, {10, 232}, {4, 0}}})  // mem, kmem, port, kvm, tty0
        EXPECT_EQ(run(code, chr(kRead), major, minor), 0) << major << ":" << minor;
}

// -H on Android: the base allowlist first (its verdicts win), then denied numbers, then every
// other device allowed.
TEST(BpfDevices, DenyRulesAndAllowRest) {
    const DeviceRule rules[] = {{DeviceType::character, 5, 1},
                                {DeviceType::character, 5, 1, false},
                                {DeviceType::character, 7, 0, false},
                                {DeviceType::character, 4, kAnyMinor, false}};
    auto code = ds::sys::build_device_program(rules, true);
    EXPECT_EQ(run(code, chr(kRead), 5, 1), 1);  // allowed before its deny
    EXPECT_EQ(run(code, chr(kRead), 7, 0), 0);
    EXPECT_EQ(run(code, chr(kMknod), 7, 0), 0);
    EXPECT_EQ(run(code, chr(kRead), 4, 63), 0);
    EXPECT_EQ(run(code, chr(kRead), 7, 1), 1);  // not listed: the rest is allowed
    EXPECT_EQ(run(code, blk(kRead), 7, 0), 1);  // a block device with the same numbers
    EXPECT_EQ(run(code, chr(kRead), 1, 11), 1);
    // Without allow_rest the same table denies what it does not list.
    EXPECT_EQ(run(ds::sys::build_device_program(rules), chr(kRead), 1, 11), 0);
}
