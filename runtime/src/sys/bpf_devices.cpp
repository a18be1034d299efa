#include "sys/bpf_devices.hpp"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "sys/fd.hpp"
#include "sys/syscall_error.hpp"

namespace ds::sys {

namespace {

// The context the kernel passes (struct bpf_cgroup_dev_ctx): access_type = access << 16 | type.
constexpr std::int16_t kOffAccessType = 0;
constexpr std::int16_t kOffMajor = 4;
constexpr std::int16_t kOffMinor = 8;

// Registers: r1 = ctx on entry; r2 = type, r3 = major, r4 = minor; r0 = verdict.
bpf_insn insn(std::uint8_t code, std::uint8_t dst, std::uint8_t src, std::int16_t off,
              std::int32_t imm) {
    bpf_insn i{};
    i.code = code;
    i.dst_reg = dst & 0xf;
    i.src_reg = src & 0xf;
    i.off = off;
    i.imm = imm;
    return i;
}

bpf_insn load_ctx_word(std::uint8_t dst, std::int16_t off) {
    return insn(BPF_LDX | BPF_W | BPF_MEM, dst, 1, off, 0);
}

// Jumps `skip` instructions ahead when the register differs from the value. Device numbers are
// below 2^31 (12-bit majors, 20-bit minors), so the sign-extended immediate compares exactly
// against the zero-extended 32-bit load, and plain BPF_JMP works on every kernel since 4.15.
bpf_insn jump_if_not(std::uint8_t reg, std::uint32_t value, std::int16_t skip) {
    return insn(BPF_JMP | BPF_JNE | BPF_K, reg, 0, skip, static_cast<std::int32_t>(value));
}

bpf_insn set_r0(std::int32_t value) {
    return insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, value);
}

bpf_insn exit_insn() {
    return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

long bpf(int cmd, bpf_attr& attr) {
    return ::syscall(SYS_bpf, cmd, &attr, sizeof attr);
}

// Errors that mean "this kernel has no cgroup device BPF" rather than a real failure.
bool unsupported_errno(int err) {
    return err == ENOSYS || err == EINVAL || err == EOPNOTSUPP;
}

}  // namespace

std::vector<bpf_insn> build_device_program(std::span<const DeviceRule> rules, bool allow_rest) {
    std::vector<bpf_insn> code;
    code.push_back(load_ctx_word(2, kOffAccessType));
    code.push_back(insn(BPF_ALU | BPF_AND | BPF_K, 2, 0, 0, 0xffff));  // type only
    code.push_back(load_ctx_word(3, kOffMajor));
    code.push_back(load_ctx_word(4, kOffMinor));
    for (const auto& rule : rules) {
        bool any_minor = rule.minor == kAnyMinor;
        // Each failed comparison skips the rest of this rule: the later compares plus the
        // two-instruction "allow".
        std::int16_t left = any_minor ? 3 : 4;
        code.push_back(jump_if_not(2, static_cast<std::uint32_t>(rule.type), left--));
        code.push_back(jump_if_not(3, rule.major, left--));
        if (!any_minor) code.push_back(jump_if_not(4, rule.minor, left--));
        code.push_back(set_r0(rule.allow ? 1 : 0));
        code.push_back(exit_insn());
    }
    code.push_back(set_r0(allow_rest ? 1 : 0));
    code.push_back(exit_insn());
    return code;
}

std::optional<std::string> attach_device_program(const std::string& cgroup_path,
                                                 std::span<const DeviceRule> rules,
                                                 bool allow_rest) {
    std::vector<bpf_insn> code = build_device_program(rules, allow_rest);
    static const char kLicense[] = "GPL";  // not required by this program type; harmless

    bpf_attr load{};
    load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    load.insn_cnt = static_cast<std::uint32_t>(code.size());
    load.insns = reinterpret_cast<std::uintptr_t>(code.data());
    load.license = reinterpret_cast<std::uintptr_t>(kLicense);
    std::strncpy(load.prog_name, "ds_devices", sizeof load.prog_name - 1);
    long prog = bpf(BPF_PROG_LOAD, load);
    if (prog < 0 && errno == EINVAL) {
        // Kernels before 4.15's prog_name reject the unknown field with EINVAL: retry without.
        std::memset(load.prog_name, 0, sizeof load.prog_name);
        prog = bpf(BPF_PROG_LOAD, load);
    }
    if (prog < 0) {
        int err = errno;
        if (unsupported_errno(err))
            return "bpf(BPF_PROG_LOAD) of a cgroup device program: " + errno_text(err);
        fail_errno("load the device policy (bpf BPF_PROG_LOAD)", err);
    }
    unique_fd prog_fd(static_cast<int>(prog));

    unique_fd cgroup(::open(cgroup_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!cgroup) fail_errno("open cgroup " + cgroup_path);
    bpf_attr attach{};
    attach.target_fd = static_cast<std::uint32_t>(cgroup.get());
    attach.attach_bpf_fd = static_cast<std::uint32_t>(prog_fd.get());
    attach.attach_type = BPF_CGROUP_DEVICE;
    attach.attach_flags = BPF_F_ALLOW_MULTI;
    if (bpf(BPF_PROG_ATTACH, attach) != 0) {
        int err = errno;
        if (unsupported_errno(err))
            return "bpf(BPF_PROG_ATTACH) to " + cgroup_path + ": " + errno_text(err);
        fail_errno("attach the device policy to " + cgroup_path, err);
    }
    // The cgroup holds the program now; our fd can go.
    return std::nullopt;
}

}  // namespace ds::sys
