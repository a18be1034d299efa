/*
 * probe: tries, from inside a container, each operation the runtime's guards refuse, and prints
 * one line per probe: "NAME RESULT", RESULT being OK (the call succeeded), the errno name
 * (EPERM, ENOSYS, ...) or the signal that killed the probe (SIGSYS). Built static by
 * tests/81-attack-guards.bats, 64-bit and (x86_64 hosts) 32-bit.
 *
 *   probe              every probe
 *   probe NAME...      only these
 *   probe inject TEXT  TIOCSTI each byte of TEXT and a newline into fd 0 (the attack on the
 *                      caller's terminal); prints "inject RESULT" for the first byte that fails,
 *                      or "inject OK"
 *
 * Every call is harmless when the guard is missing: invalid arguments make the kernel refuse
 * after its permission checks (bad flags, a NULL or -1 argument, a file that does not exist),
 * reads only read, and namespace probes run in a child that exits at once. Each probe runs in a
 * child process of its own, so one that is killed does not stop the others.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef AF_ALG
#define AF_ALG 38
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif

/* The probe's result: 0 or an errno value, as the call returned it. */
static int result_of(long rc) {
    return rc < 0 ? errno : 0;
}

static void print_result(const char* name, int err) {
    if (err == 0) {
        printf("%s OK\n", name);
    } else {
        const char* text = strerrorname_np(err);
        if (text)
            printf("%s %s\n", name, text);
        else
            printf("%s E%d\n", name, err);
    }
}

static int dev_null(void) {
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        perror("probe: open /dev/null");
        exit(2);
    }
    return fd;
}

/* --- the probes ------------------------------------------------------------------------- */

static int p_init_module(void) {
    return result_of(syscall(SYS_init_module, NULL, 0UL, ""));
}
static int p_finit_module(void) {
    return result_of(syscall(SYS_finit_module, -1, "", 0));
}
static int p_delete_module(void) {
    return result_of(syscall(SYS_delete_module, "ds_probe_no_such_module", O_NONBLOCK));
}
static int p_kexec_load(void) {
    /* Flag 0x100 is no KEXEC_* flag: EINVAL after the permission check, nothing is loaded. */
    return result_of(syscall(SYS_kexec_load, 0UL, 1000UL, NULL, 0x100UL));
}
static int p_kexec_file_load(void) {
#ifdef SYS_kexec_file_load
    return result_of(syscall(SYS_kexec_file_load, -1, -1, 0UL, NULL, 0x80000000UL));
#else
    return ENOSYS;
#endif
}
static int p_open_by_handle_at(void) {
    struct {
        unsigned int bytes;
        int type;
        unsigned char handle[8];
    } fh = {8, 1, {0}};
    return result_of(syscall(SYS_open_by_handle_at, AT_FDCWD, &fh, O_RDONLY));
}
static int p_bpf(void) {
    return result_of(syscall(SYS_bpf, 0xdead, NULL, 0));
}
static int p_perf_event_open(void) {
    return result_of(syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0UL));
}
static int p_fanotify_init(void) {
    return result_of(syscall(SYS_fanotify_init, 0xffffffffU, 0U));
}
static int p_syslog(void) {
    static char buf[4096];
    return result_of(syscall(SYS_syslog, 3 /* SYSLOG_ACTION_READ_ALL */, buf, (int)sizeof buf));
}
static int p_keyctl(void) {
    /* KEYCTL_GET_KEYRING_ID of the session keyring, without creating it. */
    return result_of(syscall(SYS_keyctl, 0, -3, 0));
}
static int p_add_key(void) {
    /* A key type that does not exist: ENODEV once the call is reached. */
    return result_of(syscall(SYS_add_key, "ds_probe_no_such_type", "d", "x", 1UL, -2));
}
static int p_request_key(void) {
    /* A key that does not exist, no upcall: ENOKEY once the call is reached. */
    return result_of(syscall(SYS_request_key, "user", "ds-probe-no-such-key", NULL, 0));
}
static int p_settimeofday(void) {
    return result_of(syscall(SYS_settimeofday, NULL, NULL));
}
static int p_clock_settime(void) {
    /* Through libc: a 32-bit libc uses clock_settime64. The monotonic clock cannot be set. */
    struct timespec ts = {1, 0};
    return result_of(clock_settime(CLOCK_MONOTONIC, &ts));
}
static int p_adjtimex(void) {
    struct timex tx;
    memset(&tx, 0, sizeof tx); /* modes 0: a read */
    return result_of(adjtimex(&tx));
}
static int p_clock_adjtime(void) {
    struct timex tx;
    memset(&tx, 0, sizeof tx);
    return result_of(clock_adjtime(CLOCK_REALTIME, &tx));
}
static int p_stime(void) {
#ifdef SYS_stime
    return result_of(syscall(SYS_stime, NULL)); /* EFAULT before anything is set */
#else
    return ENOSYS;
#endif
}
static int p_swapon(void) {
    return result_of(syscall(SYS_swapon, "/ds-probe-no-such-file", 0));
}
static int p_swapoff(void) {
    return result_of(syscall(SYS_swapoff, "/ds-probe-no-such-file"));
}

/* In a child: the namespace dies with it. */
static int in_child(int (*fn)(void*), void* arg) {
    int pipefd[2];
    if (pipe(pipefd) != 0) return errno;
    pid_t pid = fork();
    if (pid < 0) return errno;
    if (pid == 0) {
        int err = fn(arg);
        (void)!write(pipefd[1], &err, sizeof err);
        _exit(0);
    }
    close(pipefd[1]);
    int err = EIO;
    if (read(pipefd[0], &err, sizeof err) != sizeof err) err = EIO;
    close(pipefd[0]);
    waitpid(pid, NULL, 0);
    return err;
}

static int do_unshare(void* flags) {
    return result_of(unshare((int)(intptr_t)flags));
}
static int do_clone(void* flags) {
    long rc = syscall(SYS_clone, (unsigned long)(intptr_t)flags | SIGCHLD, 0UL, NULL, NULL, 0UL);
    if (rc == 0) _exit(0);
    if (rc > 0) waitpid((pid_t)rc, NULL, 0);
    return result_of(rc);
}
static int p_unshare_user(void) {
    return in_child(do_unshare, (void*)(intptr_t)CLONE_NEWUSER);
}
static int p_clone_user(void) {
    return in_child(do_clone, (void*)(intptr_t)CLONE_NEWUSER);
}
static int p_clone3(void) {
    /* No arguments: EINVAL when clone3 is reached. */
    return result_of(syscall(SYS_clone3, NULL, 0UL));
}
static int p_nest_mnt(void) {
    return in_child(do_unshare, (void*)(intptr_t)CLONE_NEWNS);
}
static int p_nest_uts(void) {
    return in_child(do_unshare, (void*)(intptr_t)CLONE_NEWUTS);
}
static int p_nest_ipc(void) {
    return in_child(do_unshare, (void*)(intptr_t)CLONE_NEWIPC);
}
static int p_nest_net(void) {
    return in_child(do_unshare, (void*)(intptr_t)CLONE_NEWNET);
}
static int p_nest_pid(void) {
    return in_child(do_unshare, (void*)(intptr_t)CLONE_NEWPID);
}
static int p_nest_cgroup(void) {
    return in_child(do_unshare, (void*)(intptr_t)CLONE_NEWCGROUP);
}
static int p_clone_net(void) {
    return in_child(do_clone, (void*)(intptr_t)CLONE_NEWNET);
}

static int socket_result(long fd) {
    if (fd < 0) return errno;
    close((int)fd);
    return 0;
}
static int p_af_alg(void) { /* through libc: socketcall on 32-bit x86 */
    return socket_result(socket(AF_ALG, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
}
static int p_af_inet(void) {
    return socket_result(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
}
static int p_af_unix(void) {
    return socket_result(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
}
#if defined(__i386__)
static int p_af_alg_direct(void) { /* the direct socket syscall (Linux 4.3+) */
    return socket_result(syscall(359, AF_ALG, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
}
#endif
#if defined(__x86_64__) || defined(__aarch64__)
/* The kernel reads an int: garbage in the upper half must not get past the filter. */
static int p_af_alg_hi(void) {
    return socket_result(syscall(SYS_socket, (1UL << 32) | AF_ALG, SOCK_SEQPACKET, 0));
}
static int p_tiocsti_hi(void) {
    int fd = dev_null();
    char c = 'x';
    int err = result_of(syscall(SYS_ioctl, fd, (1UL << 32) | TIOCSTI, &c));
    close(fd);
    return err;
}
#endif
static int p_ksu_reboot(void) {
    int fd = -1;
    return result_of(syscall(SYS_reboot, 0xDEADBEEF, 0xCAFEBABE, 0, &fd));
}
/* On /dev/null: the filter answers EPERM, the kernel ENOTTY; nothing reaches a terminal. */
static int p_tiocsti(void) {
    int fd = dev_null();
    char c = 'x';
    int err = result_of(ioctl(fd, TIOCSTI, &c));
    close(fd);
    return err;
}
static int p_tioclinux(void) {
    int fd = dev_null();
    char subcode = 6; /* TIOCL_GETSHIFTSTATE: a read */
    int err = result_of(ioctl(fd, TIOCLINUX, &subcode));
    close(fd);
    return err;
}
#if defined(__x86_64__)
/* getpid through the x32 ABI (the syscall number with bit 30 set). */
static int p_x32(void) {
    return result_of(syscall(0x40000000 | SYS_getpid));
}
#endif
/* ENXIO when the process has no controlling terminal. */
static int p_ctty(void) {
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return errno;
    close(fd);
    return 0;
}

struct probe {
    const char* name;
    int (*fn)(void);
};

static const struct probe probes[] = {
    {"init_module", p_init_module},
    {"finit_module", p_finit_module},
    {"delete_module", p_delete_module},
    {"kexec_load", p_kexec_load},
    {"kexec_file_load", p_kexec_file_load},
    {"open_by_handle_at", p_open_by_handle_at},
    {"bpf", p_bpf},
    {"perf_event_open", p_perf_event_open},
    {"fanotify_init", p_fanotify_init},
    {"syslog", p_syslog},
    {"keyctl", p_keyctl},
    {"add_key", p_add_key},
    {"request_key", p_request_key},
    {"settimeofday", p_settimeofday},
    {"clock_settime", p_clock_settime},
    {"adjtimex", p_adjtimex},
    {"clock_adjtime", p_clock_adjtime},
    {"stime", p_stime},
    {"swapon", p_swapon},
    {"swapoff", p_swapoff},
    {"unshare_user", p_unshare_user},
    {"clone_user", p_clone_user},
    {"clone3", p_clone3},
    {"nest_mnt", p_nest_mnt},
    {"nest_uts", p_nest_uts},
    {"nest_ipc", p_nest_ipc},
    {"nest_net", p_nest_net},
    {"nest_pid", p_nest_pid},
    {"nest_cgroup", p_nest_cgroup},
    {"clone_net", p_clone_net},
    {"af_alg", p_af_alg},
    {"af_inet", p_af_inet},
    {"af_unix", p_af_unix},
#if defined(__i386__)
    {"af_alg_direct", p_af_alg_direct},
#endif
#if defined(__x86_64__) || defined(__aarch64__)
    {"af_alg_hi", p_af_alg_hi},
    {"tiocsti_hi", p_tiocsti_hi},
#endif
    {"ksu_reboot", p_ksu_reboot},
    {"tiocsti", p_tiocsti},
    {"tioclinux", p_tioclinux},
#if defined(__x86_64__)
    {"x32", p_x32},
#endif
    {"ctty", p_ctty},
};

/* Runs one probe in a child; a probe killed by a signal reports the signal. */
static void run_probe(const struct probe* p) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("probe: fork");
        exit(2);
    }
    if (pid == 0) {
        print_result(p->name, p->fn());
        fflush(stdout);
        _exit(0);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            perror("probe: waitpid");
            exit(2);
        }
    if (WIFSIGNALED(status)) {
        const char* sig = sigabbrev_np(WTERMSIG(status));
        printf("%s SIG%s\n", p->name, sig ? sig : "?");
    }
}

/* The attack on a shared terminal: push TEXT and a newline into fd 0's input queue, byte by
 * byte, as if typed. */
static int inject(const char* text) {
    for (const char* c = text;; ++c) {
        const char* key = *c ? c : "\n";
        if (ioctl(0, TIOCSTI, key) != 0) {
            print_result("inject", errno);
            return 0;
        }
        if (!*c) break;
    }
    print_result("inject", 0);
    return 0;
}

int main(int argc, char** argv) {
    size_t count = sizeof probes / sizeof probes[0];
    if (argc == 3 && strcmp(argv[1], "inject") == 0) return inject(argv[2]);
    if (argc == 1) {
        for (size_t i = 0; i < count; ++i)
            run_probe(&probes[i]);
        return 0;
    }
    for (int a = 1; a < argc; ++a) {
        size_t i = 0;
        while (i < count && strcmp(probes[i].name, argv[a]) != 0)
            ++i;
        if (i == count) {
            fprintf(stderr, "probe: unknown probe '%s'\n", argv[a]);
            return 2;
        }
        run_probe(&probes[i]);
    }
    return 0;
}
