#include "container/security.hpp"

#include <errno.h>
#include <linux/capability.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <memory>

#include "core/error.hpp"
#include "sys/syscall_error.hpp"

namespace ds::container {
namespace {

// Dropped from the bounding set: a container's root must not load modules, read raw memory or
// trace the host's kernel interfaces (upstream's non-hardware list).
constexpr int kDroppedCaps[] = {
    CAP_SYS_MODULE,   CAP_SYS_RAWIO,  CAP_SYS_PTRACE,    CAP_SYS_PACCT,  CAP_MAC_ADMIN,
    CAP_MAC_OVERRIDE, CAP_WAKE_ALARM, CAP_BLOCK_SUSPEND, CAP_AUDIT_READ, CAP_DAC_READ_SEARCH,
};

// Syscalls that act on the whole machine: the container's root is the host's root.
constexpr int kHostWideSyscalls[] = {
    SCMP_SYS(init_module),   SCMP_SYS(finit_module),    SCMP_SYS(delete_module),
    SCMP_SYS(kexec_load),    SCMP_SYS(kexec_file_load), SCMP_SYS(settimeofday),
    SCMP_SYS(clock_settime), SCMP_SYS(clock_adjtime),   SCMP_SYS(adjtimex),
    SCMP_SYS(swapon),        SCMP_SYS(swapoff),
};

constexpr uint64_t kNamespaceFlags = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |
                                     CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;

using Filter = std::unique_ptr<void, void (*)(scmp_filter_ctx)>;

void check(int rc, const char* what) {
    if (rc < 0) sys::fail_errno(std::string("seccomp: ") + what, -rc);
}

void deny(scmp_filter_ctx ctx, int syscall, int err, unsigned count = 0,
          const scmp_arg_cmp* args = nullptr) {
    check(seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(err), syscall, count, args), "add rule");
}

// Denies `syscall` when the flags argument `arg` has any bit of `mask`.
void deny_flags(scmp_filter_ctx ctx, int syscall, unsigned arg, uint64_t mask, int err) {
    for (uint64_t bit = 1; bit; bit <<= 1) {
        if (!(mask & bit)) continue;
        scmp_arg_cmp cmp = {arg, SCMP_CMP_MASKED_EQ, bit, bit};
        deny(ctx, syscall, err, 1, &cmp);
    }
}

void drop_capabilities() {
    for (int cap : kDroppedCaps)
        if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
            sys::fail_errno("drop capability " + std::to_string(cap));
}

void load_seccomp(const Config& config) {
    Filter ctx(seccomp_init(SCMP_ACT_ALLOW), seccomp_release);
    if (!ctx) fail_runtime("seccomp: cannot create a filter");
#if defined(__x86_64__)
    // 32-bit x86 programs keep working, under the same rules (upstream kills them).
    check(seccomp_arch_add(ctx.get(), SCMP_ARCH_X86), "add x86");
#elif defined(__aarch64__)
    check(seccomp_arch_add(ctx.get(), SCMP_ARCH_ARM), "add arm");
#endif
    for (int syscall : kHostWideSyscalls)
        deny(ctx.get(), syscall, EPERM);
    // AF_ALG: the kernel crypto socket family, a recurring source of kernel exploits.
    scmp_arg_cmp af_alg = {0, SCMP_CMP_EQ, AF_ALG, 0};
    deny(ctx.get(), SCMP_SYS(socket), EPERM, 1, &af_alg);
    // KernelSU's fd-install magic (reboot with these magic numbers).
    scmp_arg_cmp ksu[2] = {{0, SCMP_CMP_EQ, 0xDEADBEEF, 0}, {1, SCMP_CMP_EQ, 0xCAFEBABE, 0}};
    deny(ctx.get(), SCMP_SYS(reboot), EPERM, 2, ksu);
    uint64_t denied_namespaces = 0;
    if (!config.allow_userns) denied_namespaces |= CLONE_NEWUSER;
    if (config.block_nested_ns) denied_namespaces |= kNamespaceFlags;
    if (denied_namespaces) {
        deny_flags(ctx.get(), SCMP_SYS(unshare), 0, denied_namespaces, EPERM);
        deny_flags(ctx.get(), SCMP_SYS(clone), 0, denied_namespaces, EPERM);
        // clone3 passes its flags in memory seccomp cannot read: make callers fall back to clone.
        deny(ctx.get(), SCMP_SYS(clone3), ENOSYS);
    }
    check(seccomp_load(ctx.get()), "load filter");
}

}  // namespace

void apply_security(const Config& config) {
    if (!privileged_has(config.privileged, "nocaps")) drop_capabilities();
    if (!privileged_has(config.privileged, "noseccomp")) load_seccomp(config);
}

}  // namespace ds::container
