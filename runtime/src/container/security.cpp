#include "container/security.hpp"

#include <errno.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/fs.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/kernel_version.hpp"
#include "sys/fd.hpp"
#include "sys/syscall_error.hpp"

namespace ds::container {
namespace {

// --- capabilities ---------------------------------------------------------------------------

// Dropped from the bounding set: a container's root must not load modules, read raw memory or
// trace the host's kernel interfaces (upstream's non-hardware list). -H drops only the first,
// CAP_SYS_MODULE, as upstream: the rest is what hardware tools need.
constexpr int kDroppedCaps[] = {
    CAP_SYS_MODULE,   CAP_SYS_RAWIO,  CAP_SYS_PTRACE,    CAP_SYS_PACCT,  CAP_MAC_ADMIN,
    CAP_MAC_OVERRIDE, CAP_WAKE_ALARM, CAP_BLOCK_SUSPEND, CAP_AUDIT_READ, CAP_DAC_READ_SEARCH,
};

size_t dropped_caps(bool hardware) {
    return hardware ? 1 : std::size(kDroppedCaps);
}

void drop_bounding_set(bool hardware) {
    for (int cap : std::span(kDroppedCaps).first(dropped_caps(hardware)))
        if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
            sys::fail_errno("drop capability " + std::to_string(cap) + " from the bounding set");
}

// The bounding set does not limit what exec grants from the inheritable set: for root,
// permitted' = inheritable | bounding, and the ambient set survives exec as it is. A root manager
// that starts us with a full inheritable or ambient set would hand every dropped capability back
// to init and to each run/enter process, and ambient ones to `run -u user` processes. Both sets
// are emptied whatever --privileged says: nothing inside needs them.
void clear_inherited_capabilities() {
    __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    if (::syscall(SYS_capget, &header, data) != 0) sys::fail_errno("capget");
    for (auto& word : data)
        word.inheritable = 0;
    if (::syscall(SYS_capset, &header, data) != 0)
        sys::fail_errno("clear the inheritable capabilities");
    // EINVAL: a kernel before 4.3 has no ambient set.
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        sys::fail_errno("clear the ambient capabilities");
}

// --- the seccomp table ----------------------------------------------------------------------
//
// One row per rule. Every row answers with an errno rather than killing: the kernel would say
// EPERM itself to a caller without the capability, so programs already handle it (a guest's
// modprobe fails cleanly, `systemctl kexec` falls back to a reboot instead of losing PID 1), and
// the operation is refused all the same. Only a foreign syscall ABI is killed (allowed_arches):
// its numbers mean other calls, so no answer is meaningful.

// When a row applies; everything is lifted by --privileged=noseccomp.
enum class RowWhen : unsigned char {
    always,
    userns_denied,   // lifted by --allow-userns
    nested_blocked,  // only with --block-nested-namespaces
    ns_restricted,   // either of the two above
};

struct ArgTest {
    enum class Kind : unsigned char {
        none,
        // The low 32 bits equal `value`: for int and unsigned int arguments, whose upper half
        // the kernel ignores, so a caller cannot slip past with garbage in it.
        equals32,
        any_bit,  // any bit of `value` is set (flag words)
    };
    Kind kind = Kind::none;
    unsigned index = 0;
    uint64_t value = 0;
};

struct SeccompRule {
    const char* syscall;  // a name this libseccomp may not know (then there is nothing to filter)
    int error;            // what the caller gets
    ArgTest args[2] = {};
    RowWhen when = RowWhen::always;
    Kernels kernels = Kernels::all;
    // Filter the direct syscall only, not its multiplexed form (x86's socketcall passes the
    // arguments in memory, where seccomp cannot look: filtering it would refuse every socket).
    bool direct_only = false;
};

using Arg = ArgTest::Kind;

constexpr uint64_t kNamespaceFlags = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |
                                     CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;
constexpr uint64_t kKernelSuMagic1 = 0xDEADBEEF, kKernelSuMagic2 = 0xCAFEBABE;
// EXT4_IOC_SHUTDOWN, the same number as XFS_IOC_GOINGDOWN (no uapi header has the ext4 one).
constexpr uint64_t kFsShutdown = _IOR('X', 125, uint32_t);

constexpr SeccompRule kRules[] = {
    // Kernel code: the container's root is the host's root.
    {.syscall = "init_module", .error = EPERM},
    {.syscall = "finit_module", .error = EPERM},
    {.syscall = "delete_module", .error = EPERM},
    {.syscall = "kexec_load", .error = EPERM},
    {.syscall = "kexec_file_load", .error = EPERM},
    // Opens any host file by handle, past the container's root (the "shocker" escape).
    {.syscall = "open_by_handle_at", .error = EPERM},
    // Kernel-wide attack surface and observation of the whole machine: BPF programs, perf
    // events, fanotify marks on the host's filesystems, the kernel log.
    {.syscall = "bpf", .error = EPERM},
    {.syscall = "perf_event_open", .error = EPERM},
    {.syscall = "fanotify_init", .error = EPERM},
    {.syscall = "syslog", .error = EPERM},
    // Upstream's adaptive shield for old Android kernels (core/kernel_version.hpp).
    {.syscall = "keyctl", .error = ENOSYS, .kernels = Kernels::before_5_0},
    {.syscall = "add_key", .error = ENOSYS, .kernels = Kernels::before_5_0},
    {.syscall = "request_key", .error = ENOSYS, .kernels = Kernels::before_5_0},
    // The host's clock (CAP_SYS_TIME stays: dropping it is not enough for real root). The
    // 32-bit ABI has stime and the *64 variants too.
    {.syscall = "settimeofday", .error = EPERM},
    {.syscall = "stime", .error = EPERM},
    {.syscall = "clock_settime", .error = EPERM},
    {.syscall = "clock_settime64", .error = EPERM},
    {.syscall = "clock_adjtime", .error = EPERM},
    {.syscall = "clock_adjtime64", .error = EPERM},
    {.syscall = "adjtimex", .error = EPERM},
    // The host's swap.
    {.syscall = "swapon", .error = EPERM},
    {.syscall = "swapoff", .error = EPERM},
    // User namespaces hand out capabilities over new namespaces: a large kernel attack surface.
    {.syscall = "unshare",
     .error = EPERM,
     .args = {{Arg::any_bit, 0, CLONE_NEWUSER}},
     .when = RowWhen::userns_denied},
    {.syscall = "clone",
     .error = EPERM,
     .args = {{Arg::any_bit, 0, CLONE_NEWUSER}},
     .when = RowWhen::userns_denied},
    // Nested namespaces: the 4.14 grab_super() deadlock (systemd's sandboxing) on old kernels.
    {.syscall = "unshare",
     .error = EPERM,
     .args = {{Arg::any_bit, 0, kNamespaceFlags}},
     .when = RowWhen::nested_blocked},
    {.syscall = "clone",
     .error = EPERM,
     .args = {{Arg::any_bit, 0, kNamespaceFlags}},
     .when = RowWhen::nested_blocked},
    // clone3 passes its flags in memory seccomp cannot read: ENOSYS makes callers use clone.
    {.syscall = "clone3", .error = ENOSYS, .when = RowWhen::ns_restricted},
    // AF_ALG: the kernel crypto socket family, a recurring source of kernel exploits.
    {.syscall = "socket",
     .error = EPERM,
     .args = {{Arg::equals32, 0, AF_ALG}},
     .direct_only = true},
    // KernelSU's fd-install magic: a guest must not get the root manager's driver.
    {.syscall = "reboot",
     .error = EPERM,
     .args = {{Arg::equals32, 0, kKernelSuMagic1}, {Arg::equals32, 1, kKernelSuMagic2}}},
    // `run` shares the caller's terminal: TIOCSTI would type commands into the host's shell
    // (container root keeps CAP_SYS_ADMIN, which passes the kernel's own checks), TIOCLINUX
    // pastes the console selection.
    {.syscall = "ioctl", .error = EPERM, .args = {{Arg::equals32, 1, TIOCSTI}}},
    {.syscall = "ioctl", .error = EPERM, .args = {{Arg::equals32, 1, TIOCLINUX}}},
    // Whole-filesystem switches, reachable through any file of a directory rootfs or a bind:
    // FIFREEZE blocks every writer of the host's filesystem, the ext4/xfs shutdown ioctl stops
    // it for good (the remount guard's siblings: they act on the superblock, not the mount).
    {.syscall = "ioctl", .error = EPERM, .args = {{Arg::equals32, 1, FIFREEZE}}},
    {.syscall = "ioctl", .error = EPERM, .args = {{Arg::equals32, 1, kFsShutdown}}},
};

bool row_applies(const SeccompRule& rule, const Config& config, std::string_view release) {
    bool userns_denied = !config.allow_userns;
    bool nested_blocked = config.block_nested_ns;
    bool when = false;
    switch (rule.when) {
        case RowWhen::always:
            when = true;
            break;
        case RowWhen::userns_denied:
            when = userns_denied;
            break;
        case RowWhen::nested_blocked:
            when = nested_blocked;
            break;
        case RowWhen::ns_restricted:
            when = userns_denied || nested_blocked;
            break;
    }
    return when && kernel_matches(rule.kernels, release);
}

using Filter = std::unique_ptr<void, void (*)(scmp_filter_ctx)>;

void check(int rc, const std::string& what) {
    if (rc < 0) sys::fail_errno("seccomp: " + what, -rc);
}

// The row's rules in `ctx`: one rule, or one per flag bit for an any_bit test (seccomp compares
// masked values for equality, so "any of these bits" is one rule per bit).
void add_row(scmp_filter_ctx ctx, const SeccompRule& rule) {
    int nr = seccomp_syscall_resolve_name(rule.syscall);
    if (nr == __NR_SCMP_ERROR) return;
    scmp_arg_cmp cmps[2];
    unsigned count = 0;
    const ArgTest* flags = nullptr;
    for (const ArgTest& test : rule.args) {
        if (test.kind == Arg::equals32)
            cmps[count++] = {test.index, SCMP_CMP_MASKED_EQ, 0xffffffffULL, test.value};
        else if (test.kind == Arg::any_bit)
            flags = &test;
    }
    auto add = [&](unsigned n) {
        check(seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(rule.error), nr, n, cmps),
              std::string("add the rule for ") + rule.syscall);
    };
    if (!flags) return add(count);
    if (count == std::size(cmps)) fail_runtime("seccomp: too many argument tests");
    for (uint64_t bit = 1; bit; bit <<= 1)
        if (flags->value & bit) {
            cmps[count] = {flags->index, SCMP_CMP_MASKED_EQ, bit, bit};
            add(count + 1);
        }
}

// The syscall ABIs a container may use: the build's own and the host's 32-bit compat ABI (x86 on
// x86_64, arm on aarch64), whose programs live in many rootfs. Any other ABI is killed: x32 on
// x86_64 (libseccomp kills syscall numbers with the x32 bit in an x86_64-only filter) and foreign
// architectures.
std::vector<uint32_t> allowed_arches() {
    std::vector<uint32_t> arches = {seccomp_arch_native()};
#if defined(__x86_64__)
    arches.push_back(SCMP_ARCH_X86);
#elif defined(__aarch64__)
    arches.push_back(SCMP_ARCH_ARM);
#endif
    return arches;
}

// libseccomp 2.5 routes every socket rule on 32-bit x86 through socketcall as well, where it
// cannot compare the family and refuses socket() wholesale (32-bit glibc uses socketcall). The
// direct_only rows are therefore left out of libseccomp's filter for x86 and enforced here, on
// the direct syscall only, by a second filter of a few instructions. What stays open: AF_ALG
// through socketcall(SYS_SOCKET) from 32-bit x86 programs.
constexpr int kI386Socket = 359;  // arch/x86/entry/syscalls/syscall_32.tbl (Linux 4.3+)

bool multiplexed_on_x86(const SeccompRule& rule) {
    return rule.direct_only && seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86, rule.syscall) < 0;
}

std::vector<sock_filter> i386_direct_socket_program(const Config& config,
                                                    std::string_view release) {
    std::vector<sock_filter> code = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_I386, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kI386Socket, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    bool any = false;
    for (const SeccompRule& rule : kRules) {
        if (!multiplexed_on_x86(rule) || !row_applies(rule, config, release)) continue;
        if (rule.args[0].kind != Arg::equals32 || rule.args[1].kind != Arg::none)
            fail_runtime(std::string("seccomp: unsupported direct-only rule for ") + rule.syscall);
        // Little endian: the low half of args[i] comes first.
        auto offset = static_cast<uint32_t>(offsetof(seccomp_data, args) + 8 * rule.args[0].index);
        code.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offset));
        code.push_back(
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(rule.args[0].value), 0, 1));
        code.push_back(BPF_STMT(BPF_RET | BPF_K,
                                SECCOMP_RET_ERRNO | (static_cast<uint32_t>(rule.error) & 0xffff)));
        any = true;
    }
    if (!any) return {};
    code.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    return code;
}

void load_i386_direct_socket_filter(const Config& config, std::string_view release) {
    int err = load_seccomp_program(i386_direct_socket_program(config, release));
    if (err) sys::fail_errno("seccomp: load the 32-bit x86 socket filter", err);
}

// One filter context per ABI, so a row can be treated differently per ABI, merged into one.
Filter arch_filter(uint32_t arch, const Config& config, std::string_view release) {
    Filter ctx(seccomp_init(SCMP_ACT_ALLOW), seccomp_release);
    if (!ctx) fail_runtime("seccomp: cannot create a filter");
    check(seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS),
          "kill foreign architectures");
    // Installed as root with CAP_SYS_ADMIN, as upstream: no_new_privs would stop the guest's
    // own su and sudo.
    check(seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0), "keep setuid working");
    if (arch != seccomp_arch_native()) {
        check(seccomp_arch_remove(ctx.get(), seccomp_arch_native()), "remove the native ABI");
        check(seccomp_arch_add(ctx.get(), arch), "add the 32-bit ABI");
    }
    for (const SeccompRule& rule : kRules) {
        if (!row_applies(rule, config, release)) continue;
        if (arch == SCMP_ARCH_X86 && multiplexed_on_x86(rule)) continue;
        add_row(ctx.get(), rule);
    }
    return ctx;
}

std::string kernel_release() {
    struct utsname uts;
    if (::uname(&uts) != 0) return {};
    return uts.release;
}

// The table for every allowed ABI, merged into one filter; `has_x86`: 32-bit x86 is among them.
Filter table_filter(const Config& config, std::string_view release, bool& has_x86) {
    Filter filter(nullptr, seccomp_release);
    has_x86 = false;
    for (uint32_t arch : allowed_arches()) {
        Filter part = arch_filter(arch, config, release);
        has_x86 = has_x86 || arch == SCMP_ARCH_X86;
        if (!filter) {
            filter = std::move(part);
            continue;
        }
        // On success the merge takes `part` over.
        check(seccomp_merge(filter.get(), part.get()), "merge the 32-bit ABI's filter");
        (void)part.release();
    }
    return filter;
}

void load_seccomp(const Config& config) {
    std::string release = kernel_release();
    bool has_x86 = false;
    Filter filter = table_filter(config, release, has_x86);
    check(seccomp_load(filter.get()), "load filter");
    if (has_x86) load_i386_direct_socket_filter(config, release);
}

}  // namespace

void apply_security(const Config& config) {
    clear_inherited_capabilities();
    if (!privileged_has(config.privileged, "nocaps")) drop_bounding_set(config.enable_hw_access);
    if (!privileged_has(config.privileged, "noseccomp")) load_seccomp(config);
}

int load_seccomp_program(const std::vector<sock_filter>& program) noexcept {
    if (program.empty()) return 0;
    sock_fprog fprog = {static_cast<unsigned short>(program.size()),
                        const_cast<sock_filter*>(program.data())};
    return ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0) == 0 ? 0 : errno;
}

std::vector<sock_filter> export_seccomp_program(void* ctx, const char* what) {
    std::string step = std::string("export the ") + what;
    sys::unique_fd memfd(static_cast<int>(::syscall(SYS_memfd_create, "ds-seccomp", MFD_CLOEXEC)));
    if (!memfd) sys::fail_errno("seccomp: " + step);
    check(seccomp_export_bpf(static_cast<scmp_filter_ctx>(ctx), memfd.get()), step);
    off_t size = ::lseek(memfd.get(), 0, SEEK_END);
    if (size < 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0 || size == 0 ||
        static_cast<size_t>(size) / sizeof(sock_filter) > BPF_MAXINSNS)
        sys::fail_errno("seccomp: " + step + ": bad program size", size < 0 ? errno : EINVAL);
    std::vector<sock_filter> program(static_cast<size_t>(size) / sizeof(sock_filter));
    if (::pread(memfd.get(), program.data(), static_cast<size_t>(size), 0) != size)
        sys::fail_errno("seccomp: " + step + ": read it back");
    return program;
}

SecurityPrograms prepare_security(const Config& config) {
    SecurityPrograms programs;
    programs.drop_bounding_set = !privileged_has(config.privileged, "nocaps");
    programs.hardware = config.enable_hw_access;
    if (privileged_has(config.privileged, "noseccomp")) return programs;
    std::string release = kernel_release();
    bool has_x86 = false;
    Filter filter = table_filter(config, release, has_x86);
    programs.table = export_seccomp_program(filter.get(), "filter");
    if (has_x86) programs.i386_socket = i386_direct_socket_program(config, release);
    return programs;
}

int apply_prepared_security(const SecurityPrograms& programs, const char** step) noexcept {
    __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    *step = "capget";
    if (::syscall(SYS_capget, &header, data) != 0) return errno;
    for (auto& word : data)
        word.inheritable = 0;
    *step = "clear the inheritable capabilities";
    if (::syscall(SYS_capset, &header, data) != 0) return errno;
    *step = "clear the ambient capabilities";
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        return errno;
    *step = "drop a capability from the bounding set";
    if (programs.drop_bounding_set)
        for (int cap : std::span(kDroppedCaps).first(dropped_caps(programs.hardware)))
            if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) return errno;
    *step = "seccomp: load filter";
    if (int err = load_seccomp_program(programs.table)) return err;
    *step = "seccomp: load the 32-bit x86 socket filter";
    return load_seccomp_program(programs.i386_socket);
}

}  // namespace ds::container
