#include "container/hw_access.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <stdexcept>

#include "core/text.hpp"
#include "core/validate.hpp"
#include "sys/file.hpp"
#include "sys/mount.hpp"
#include "sys/platform.hpp"
#include "sys/rootfs_path.hpp"
#include "sys/syscall_error.hpp"

namespace ds::container {
namespace {

constexpr unsigned long kNoSuidDevExec = MS_NOSUID | MS_NODEV | MS_NOEXEC;
constexpr const char* kFirmwarePath = "/sys/module/firmware_class/parameters/path";
constexpr size_t kFirmwarePathMax = 255;  // the kernel's buffer is 256 bytes with the NUL

// Upstream's blocklist as one compact table (a table of strings would cost a pointer each).
// Each word: an operator, then a name. '=' exact, '^' prefix, '~' substring, '#' prefix then
// nothing or a digit (card, card0), '%' prefix then a digit (fb0, not fbdev).
constexpr std::string_view kDangerous =
    "#card #controlD =nvidiactl =nvidia-modeset %nvidia ^nvidia-cap =vga_arbiter %fb ^ccci "
    "^umts_ ^pty =uinput =rfkill ^tz ^trusty ^gz_ ^tee ^conn =mtk_sec ^mt_pmic ^MT_pmic =tuihw "
    "=wlan %ram =console =full =null =zero =random =urandom =ptmx =initctl =mem =kmem =port "
    "^drm_dp_aux ^vcs ~watchdog ~qseecom ~smcinvoke ~adsprpc =udmabuf =snapshot ^tpm ^stp "
    "^rmnet_ ^ipa ^at_usb ^at_mdm ^wwan_ ^btfmslim ^btpower ^smd ^apr_ ~aud_ ~icnss_ ^hvc ^gh_ "
    "=audio_ipi =scp_audio_ipi =vow =vcp ^coresight ^remoteproc ^rpmsg_ =cvp ^rdbg_ =dcc_sram "
    "=spec_sync =synx_device ^anbox- =android_ssusbcon ^rpmb =mmp =met =mcupm =sspm =scp #aed "
    "^pmsg =mdp_sync =fmt_sync =mtk_mdp =mml_pq =sec_display_debug =gps_emi =gps_pwr "
    "=goodix_fp =k250a =drm_wv =sec-nfc =eara-io =RT_Monitor =stats ^wmt ^fw_log_ "
    "=sa_log_wifi ^sipa_ =mddp =usip ^gpiochip ^i2c- ^iio:device ^cluster ^gpu_freq "
    "^cpu_online_ =memory_bandwidth ~msm_audio_ion ~msm_hdcp ~msm_sps ^nr_ ~multipdp "
    "^modem_boot =radio0 ^bbd_ ^ssp_ =mst_ctrl ^qbt ^dek_ ~throughput ~latency =fimg2d =fmp "
    "=g2d =vertex10 =self_display =ccic_misc =hqm_event =s5p-smem ^als_";

// §13.4: nodes directly in /dev.
constexpr std::string_view kGpuPrefixes = "nvidia video mali kgsl nvhost-";
constexpr std::string_view kGpuNames =
    "binder vndbinder hwbinder ion ashmem genlock kfd pvrsrvkm pvr_sync nvmap dxg sw_sync";

// The next space-separated word of `words`, consumed; "" at the end.
std::string_view next_word(std::string_view& words) {
    size_t space = words.find(' ');
    std::string_view word = words.substr(0, space);
    words.remove_prefix(space == std::string_view::npos ? words.size() : space + 1);
    return word;
}

bool digit_at(std::string_view s, size_t i) {
    return i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]));
}

std::vector<std::string> split_commas(std::string_view list) {
    std::vector<std::string> out;
    while (!list.empty()) {
        size_t comma = list.find(',');
        if (comma != 0) out.emplace_back(list.substr(0, comma));
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    return out;
}

struct Entry {
    std::string name;
    struct stat st;
};

// The entries of directory `dir_fd` with their lstat, "." and ".." left out. With `shown` (the
// directory's path), a directory that cannot be read, or an entry that cannot be stat'ed (but
// is still there), throws instead of being left out.
std::vector<Entry> list_dir(int dir_fd, const std::string* shown = nullptr) {
    std::vector<Entry> entries;
    int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR* dir = fd < 0 ? nullptr : ::fdopendir(fd);
    if (!dir) {
        int saved = errno;
        if (fd >= 0) ::close(fd);
        if (shown) sys::fail_errno("open " + *shown, saved);
        return entries;
    }
    while (dirent* e = ::readdir(dir)) {
        Entry entry{e->d_name, {}};
        if (entry.name == "." || entry.name == "..") continue;
        if (::fstatat(::dirfd(dir), e->d_name, &entry.st, AT_SYMLINK_NOFOLLOW) == 0)
            entries.push_back(std::move(entry));
        else if (shown && errno != ENOENT) {
            int saved = errno;
            ::closedir(dir);
            sys::fail_errno("stat " + *shown + "/" + entry.name, saved);
        }
    }
    ::closedir(dir);
    return entries;
}

sys::unique_fd open_dir(int at, const char* name, int flags = O_RDONLY) {
    return sys::unique_fd(::openat(at, name, flags | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

// The firmware search path, read and rewritten under an exclusive lock on the sysfs file
// itself: two containers starting at once must not lose each other's entries.
class FirmwarePath {
  public:
    FirmwarePath() : fd_(::open(kFirmwarePath, O_RDWR | O_CLOEXEC)) {
        if (!fd_) error_ = errno;
        if (fd_ && ::flock(fd_.get(), LOCK_EX) != 0)
            sys::fail_errno(std::string("lock ") + kFirmwarePath);
    }
    explicit operator bool() const { return bool(fd_); }
    // Why it could not be opened: ENOENT is a kernel without firmware loader parameters.
    int error() const { return error_; }
    std::string read() const {
        char buf[512];
        ssize_t n = ::pread(fd_.get(), buf, sizeof buf - 1, 0);
        if (n < 0) sys::fail_errno(std::string("read ") + kFirmwarePath);
        std::string text(buf, size_t(n));
        while (!text.empty() && text.back() == '\n')
            text.pop_back();
        return text;
    }
    // An empty value is written as one NUL byte: a lone "\n" would be kept as the path.
    void write(const std::string& value) const {
        std::string bytes = value.empty() ? std::string(1, '\0') : value;
        if (::pwrite(fd_.get(), bytes.data(), bytes.size(), 0) < 0)
            sys::fail_errno(std::string("write '") + value + "' to " + kFirmwarePath);
    }

  private:
    sys::unique_fd fd_;
    int error_ = 0;
};

// The firmware records in the workspace but `own` (a path).
std::vector<FirmwareRecord> other_firmware_records(const Workspace& ws, const std::string& own) {
    std::vector<FirmwareRecord> out;
    sys::unique_fd dir(::open(ws.pids_dir().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) return out;
    for (const auto& [name, st] : list_dir(dir.get())) {
        std::string path = ws.pids_dir() + "/" + name;
        if (!S_ISREG(st.st_mode) || !name.ends_with(".firmware") || path == own) continue;
        if (auto text = sys::try_read_file(path)) out.push_back(parse_firmware_record(*text));
    }
    return out;
}

// Copies devtmpfs (`from`) into the private /dev (`to`): directories and device nodes with their
// numbers, modes and owners, minus the blocklist. Symlinks (udev's) are not copied.
void copy_dev_tree(int from, int to, int depth) {
    for (const auto& [entry, st] : list_dir(from)) {
        const char* name = entry.c_str();
        if (is_dangerous_device(name)) continue;
        if (S_ISDIR(st.st_mode) && depth < 4) {
            if (::mkdirat(to, name, st.st_mode & 07777) != 0 && errno != EEXIST) continue;
            ::fchownat(to, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
            sys::unique_fd src = open_dir(from, name), dst = open_dir(to, name, O_PATH);
            if (src && dst) copy_dev_tree(src.get(), dst.get(), depth + 1);
        } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
            if (::mknodat(to, name, st.st_mode, st.st_rdev) == 0)
                ::fchownat(to, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
        }
    }
}

// Device numbers of the host's blocklisted nodes under `dir` (recursively), as deny rules.
// Adds `rule` unless the list has its numbers. Linear: the same number under several names is
// common, and sorting costs more code than this list ever takes time.
void add_unique(std::vector<sys::DeviceRule>& rules, const sys::DeviceRule& rule) {
    if (std::none_of(rules.begin(), rules.end(), [&](const sys::DeviceRule& r) {
            return r.type == rule.type && r.major == rule.major && r.minor == rule.minor;
        }))
        rules.push_back(rule);
}

// The host's blocklisted nodes under `dir` (recursively) as deny rules, and in `kept` the
// majors that also have a node the blocklist lets through.
void collect_dangerous(int dir, const std::string& shown, int depth,
                       std::vector<sys::DeviceRule>& out, std::vector<sys::DeviceRule>& kept) {
    // Strict: a directory left out would drop its deny rules while the rest is allowed.
    for (const auto& [name, st] : list_dir(dir, &shown)) {
        if (S_ISDIR(st.st_mode) && depth < 3) {
            std::string path = shown + "/" + name;
            sys::unique_fd sub = open_dir(dir, name.c_str());
            if (!sub) sys::fail_errno("open " + path);
            collect_dangerous(sub.get(), path, depth + 1, out, kept);
        } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
            auto type = S_ISCHR(st.st_mode) ? sys::DeviceType::character : sys::DeviceType::block;
            if (is_dangerous_device(name))
                add_unique(out, {type, major(st.st_rdev), minor(st.st_rdev), false});
            else
                add_unique(kept, {type, major(st.st_rdev), sys::kAnyMinor});
        }
    }
}

bool on_device(int fd, dev_t device) {
    struct stat st;
    return ::fstat(fd, &st) == 0 && st.st_dev == device;
}

void bind_x11_socket(int root_fd, dev_t own_tmp, const HwWarn& warn) {
    const char* socket = "/tmp/.X11-unix/X0";
    // Held open and checked through the fd, then bound from it: /tmp/.X11-unix is
    // world-writable, so the name may lead elsewhere a moment later (and never through a
    // symlink, of the directory or of the socket).
    sys::unique_fd xdir(::open("/tmp/.X11-unix", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    sys::unique_fd source(xdir ? ::openat(xdir.get(), "X0", O_PATH | O_NOFOLLOW | O_CLOEXEC) : -1);
    struct stat st;
    if (!source || ::fstat(source.get(), &st) != 0 || !S_ISSOCK(st.st_mode))
        return;  // no desktop X server
    try {
        sys::unique_fd dir = sys::make_dirs_in_root(root_fd, "/tmp/.X11-unix");
        // Only on the runtime's own /tmp (anything there was made by it): never a bound one.
        if (on_device(dir.get(), own_tmp) && ::chmod(sys::fd_path(dir.get()).c_str(), 01777) != 0)
            sys::fail_errno("chmod /tmp/.X11-unix");
        sys::unique_fd target = sys::make_node_in_root(root_fd, socket, sys::NodeKind::file);
        sys::bind_mount_at(sys::fd_path(source.get()), target.get(), socket, false);
    } catch (const std::exception& e) {
        warn(std::string("the host's X11 socket was not bound: ") + e.what());
    }
}

}  // namespace

bool is_dangerous_device(std::string_view name) {
    if (name.substr(0, 3) == "tty") {
        // Serial adapters and SoC UARTs pass; consoles, VTs and modem channels do not.
        for (std::string_view ok : {"ttyUSB", "ttyACM", "ttyAMA", "ttyTHS", "ttymxc"})
            if (name.substr(0, ok.size()) == ok) return false;
        return true;
    }
    for (std::string_view words = kDangerous, word; !(word = next_word(words)).empty();) {
        std::string_view pat = word.substr(1);
        bool prefix = name.substr(0, pat.size()) == pat;
        switch (word[0]) {
            case '=':
                if (name == pat) return true;
                break;
            case '^':
                if (prefix) return true;
                break;
            case '~':
                if (name.find(pat) != std::string_view::npos) return true;
                break;
            case '#':
                if (prefix && (name.size() == pat.size() || digit_at(name, pat.size())))
                    return true;
                break;
            case '%':
                if (prefix && digit_at(name, pat.size())) return true;
                break;
        }
    }
    return false;
}

bool is_gpu_node(std::string_view dir, std::string_view name) {
    if (dir == "dri") return name.substr(0, 7) == "renderD";
    if (dir == "nvidia-caps" || dir == "dma_heap") return true;
    if (!dir.empty()) return false;
    for (std::string_view words = kGpuPrefixes, word; !(word = next_word(words)).empty();)
        if (name.substr(0, word.size()) == word) return true;
    for (std::string_view words = kGpuNames, word; !(word = next_word(words)).empty();)
        if (name == word) return true;
    return false;
}

std::string firmware_record_text(const FirmwareRecord& record) {
    return record.entry + "\n" + record.previous;
}

FirmwareRecord parse_firmware_record(std::string_view text) {
    size_t nl = text.find('\n');
    if (nl == std::string_view::npos) return {std::string(text), ""};  // an older record
    return {std::string(text.substr(0, nl)), std::string(text.substr(nl + 1))};
}

std::optional<FirmwareRecord> firmware_take(std::string_view current, std::string_view entry,
                                            const std::vector<FirmwareRecord>& others) {
    if (!current.empty() && current != entry) return std::nullopt;
    for (const auto& other : others)
        if (other.entry == entry && current == entry) return FirmwareRecord{other};
    return FirmwareRecord{std::string(entry), std::string(current)};
}

std::optional<std::string> firmware_give_back(std::string_view current,
                                              const FirmwareRecord& record,
                                              const std::vector<FirmwareRecord>& others) {
    if (current != record.entry) return std::nullopt;
    for (const auto& other : others)
        if (other.entry == record.entry) return std::nullopt;
    return record.previous;
}

std::string group_with_gpu(std::string_view group) {
    std::string out;
    bool found = false;
    for (auto& line : text_lines(group)) {
        if (!found && line.rfind("droidspaces-gpu:", 0) == 0) {
            found = true;
            size_t members = line.rfind(':');
            auto names = split_commas(std::string_view(line).substr(members + 1));
            if (std::count(line.begin(), line.end(), ':') == 3 &&
                std::find(names.begin(), names.end(), "root") == names.end())
                line += names.empty() ? "root" : ",root";
        }
        out += line + "\n";
    }
    if (!found) out += "droidspaces-gpu:x:786:root\n";
    return out;
}

std::vector<HostNode> host_gpu_nodes(const std::string& dev) {
    std::vector<HostNode> nodes;
    sys::unique_fd top(::open(dev.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!top) return nodes;
    auto scan = [&](int fd, std::string_view dir) {
        for (const auto& [name, st] : list_dir(fd))
            if (S_ISCHR(st.st_mode) && is_gpu_node(dir, name) && !is_dangerous_device(name))
                nodes.push_back({std::string(dir), name, st.st_rdev});
    };
    scan(top.get(), "");
    for (const char* dir : {"dri", "nvidia-caps", "dma_heap"})
        if (sys::unique_fd sub = open_dir(top.get(), dir)) scan(sub.get(), dir);
    return nodes;
}

std::vector<sys::DeviceRule> hw_denied_devices(const std::string& dev_path) {
    std::vector<sys::DeviceRule> denied, kept, rules;
    sys::unique_fd dev{::open(dev_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (!dev) sys::fail_errno("open " + dev_path);
    collect_dangerous(dev.get(), dev_path, 0, denied, kept);
    // A major with nothing but blocklisted nodes (VTs, vcs) is denied whole: the program
    // stays small (old kernels load at most 4096 instructions, and failing to load would
    // leave the guest unfiltered) and other minors of it cannot be made either.
    for (auto rule : denied) {
        if (std::none_of(kept.begin(), kept.end(), [&](const sys::DeviceRule& k) {
                return k.type == rule.type && k.major == rule.major;
            }))
            rule.minor = sys::kAnyMinor;
        add_unique(rules, rule);
    }
    return rules;
}

HwDevicePolicy hw_device_policy(const Config& config) {
    HwDevicePolicy policy;
    if (config.enable_hw_access) {
        policy.skip = !sys::is_android();
        policy.allow_rest = true;
        if (!policy.skip) policy.rules = hw_denied_devices();
    } else if (config.enable_gpu_mode) {
        for (const auto& node : host_gpu_nodes())
            policy.rules.push_back(
                {sys::DeviceType::character, major(node.rdev), minor(node.rdev)});
    }
    return policy;
}

void hw_prepare_host(const Workspace& ws, const Config& config, const std::string& rootfs,
                     const HwWarn& warn) {
    if (!config.enable_hw_access) return;
    warn(
        "--hw-access: the container gets the host's devices (devtmpfs /dev, writable /sys, all "
        "capabilities but CAP_SYS_MODULE): its root can reach host hardware and data");
    auto filesystems = sys::try_read_file("/proc/filesystems").value_or("");
    if (filesystems.find("\tdevtmpfs\n") == std::string::npos)
        warn(
            "hardware access is on, but this kernel has no devtmpfs: some GPU and hardware "
            "device nodes may be missing");
    // The guest's firmware directory, resolved inside the rootfs: the entry is a host path
    // inside it whatever symlinks the guest has.
    sys::unique_fd root = sys::open_tree_root(rootfs);
    sys::unique_fd dir = sys::open_in_root(root.get(), "/lib/firmware", O_PATH | O_DIRECTORY);
    if (!dir) return;
    char buf[4096];
    ssize_t n = ::readlink(sys::fd_path(dir.get()).c_str(), buf, sizeof buf - 1);
    if (n <= 0) return;
    std::string entry(buf, size_t(n));
    if (entry.size() > kFirmwarePathMax || entry.find('\n') != std::string::npos) {
        warn("'" + entry + "' not set as " + kFirmwarePath + " (too long, or a newline in it)");
        return;
    }
    FirmwarePath path;
    if (!path) {  // ENOENT: no firmware loader parameters on this kernel
        if (path.error() != ENOENT)
            warn(std::string("the firmware path was not set: open ") + kFirmwarePath + ": " +
                 std::strerror(path.error()));
        return;
    }
    std::string current = path.read(), own = ws.sidecar(config.name, "firmware");
    auto record = firmware_take(current, entry, other_firmware_records(ws, own));
    if (!record) {
        warn(std::string("the host's firmware path (") + kFirmwarePath + " = '" + current +
             "') is left as it is: the guest's " + entry + " is not searched for firmware");
        return;
    }
    // Recorded first: a crash between the two leaves a record that gives the path back.
    sys::write_file_atomic(own, firmware_record_text(*record));
    if (current != entry) path.write(entry);
}

void hw_release_host(const Workspace& ws, const std::string& name) {
    std::string own = ws.sidecar(name, "firmware");
    auto text = sys::try_read_file(own);
    if (!text) return;
    FirmwarePath path;
    // Kept for a later release when the path cannot be opened (but exists).
    if (!path && path.error() != ENOENT)
        sys::fail_errno(std::string("open ") + kFirmwarePath, path.error());
    if (path) {
        auto next = firmware_give_back(path.read(), parse_firmware_record(*text),
                                       other_firmware_records(ws, own));
        if (next) path.write(*next);
    }
    if (::unlink(own.c_str()) != 0 && errno != ENOENT) sys::fail_errno("unlink " + own);
}

bool mount_hw_dev(int root_fd, const BootPlan& plan, const HwWarn& warn) {
    sys::unique_fd target = sys::make_dirs_in_root(root_fd, "/dev");
    bool filter = sys::is_android() && !privileged_has(plan.config.privileged, "unfiltered-dev");
    if (!filter) {
        try {
            sys::mount_fs_at("devtmpfs", target.get(), "/dev", "devtmpfs", MS_NOSUID | MS_NOEXEC,
                             "mode=755");
            return true;
        } catch (const std::exception& e) {
            warn(std::string("devtmpfs /dev failed, using a private tmpfs /dev: ") + e.what());
        }
    }
    sys::mount_fs_at("tmpfs", target.get(), "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC,
                     "mode=755,size=4m");
    if (!filter) return false;
    // Android: devtmpfs mounted for a moment inside the private /dev, copied, then let go.
    // Once it is mounted, it never stays: a failed unmount (or rmdir) fails the boot.
    sys::unique_fd dev = sys::open_in_root(root_fd, "/dev", O_PATH | O_DIRECTORY);
    if (!dev || ::mkdirat(dev.get(), ".hw", 0700) != 0) sys::fail_errno("mkdir /dev/.hw");
    std::string copy_error;
    try {
        sys::unique_fd spot = open_dir(dev.get(), ".hw", O_PATH);
        if (!spot) sys::fail_errno("open /dev/.hw");
        sys::mount_fs_at("devtmpfs", spot.get(), "/dev/.hw", "devtmpfs", kNoSuidDevExec);
    } catch (const std::exception& e) {
        copy_error = e.what();  // nothing mounted
    }
    if (copy_error.empty()) {
        try {
            sys::unique_fd from = sys::open_in_root(root_fd, "/dev/.hw", O_RDONLY | O_DIRECTORY);
            if (!from) sys::fail_errno("open /dev/.hw");
            mode_t old = ::umask(0);
            try {
                copy_dev_tree(from.get(), dev.get(), 0);
            } catch (...) {
                ::umask(old);
                throw;
            }
            ::umask(old);
        } catch (const std::exception& e) {
            copy_error = e.what();
        }
        sys::unique_fd top = sys::open_in_root(root_fd, "/dev/.hw", O_PATH | O_DIRECTORY);
        if (!top || ::umount2(sys::fd_path(top.get()).c_str(), MNT_DETACH) != 0)
            sys::fail_errno("unmount /dev/.hw");
    }
    if (::unlinkat(dev.get(), ".hw", AT_REMOVEDIR) != 0) sys::fail_errno("rmdir /dev/.hw");
    if (!copy_error.empty()) warn("devtmpfs could not be copied into /dev: " + copy_error);
    return false;
}

void mount_hw_sys(int root_fd, const BootPlan& plan) {
    sys::unique_fd target = sys::make_dirs_in_root(root_fd, "/sys");
    sys::mount_fs_at("sysfs", target.get(), "/sys", "sysfs", kNoSuidDevExec);
    if (!plan.config.foreground || plan.family != InitFamily::systemd) return;
    // Each top-level directory its own writable mount; then /sys itself read-only.
    sys::unique_fd top = sys::open_in_root(root_fd, "/sys", O_RDONLY | O_DIRECTORY);
    if (!top) sys::fail_errno("open /sys");
    for (const auto& [name, st] : list_dir(top.get())) {
        if (!S_ISDIR(st.st_mode)) continue;
        sys::unique_fd sub = open_dir(top.get(), name.c_str(), O_PATH);
        if (sub) sys::bind_mount_at(sys::fd_path(sub.get()), sub.get(), "/sys/" + name);
    }
    sys::remount_at(top.get(), "/sys", MS_RDONLY | kNoSuidDevExec, true);
}

void bind_devpts_ptmx(int root_fd) {
    sys::unique_fd ptmx = sys::open_in_root(root_fd, "/dev/pts/ptmx", O_PATH | O_NOFOLLOW);
    if (!ptmx) sys::fail_errno("open /dev/pts/ptmx");
    sys::unique_fd target = sys::make_node_in_root(root_fd, "/dev/ptmx", sys::NodeKind::file);
    sys::bind_mount_at(sys::fd_path(ptmx.get()), target.get(), "/dev/ptmx", false);
}

void expose_hw_nodes(int root_fd, const BootPlan& plan, bool dev_is_devtmpfs, const OwnMounts& own,
                     const HwWarn& warn) {
    if (!plan.config.enable_hw_access && !plan.config.enable_gpu_mode) return;
    if (!sys::is_android()) bind_x11_socket(root_fd, own.tmp, warn);
    if (dev_is_devtmpfs) return;  // the host's own nodes are there, with the host's owners
    mode_t old = ::umask(0);
    try {
        // Nodes are only made (and replaced) on the runtime's own /dev: a -B onto /dev or
        // /dev/dri is a host directory whose nodes must not be unlinked or re-owned.
        sys::unique_fd dev = sys::open_in_root(root_fd, "/dev", O_PATH | O_DIRECTORY);
        if (!dev) sys::fail_errno("open /dev");
        if (!on_device(dev.get(), own.dev))
            throw std::runtime_error("/dev is not the container's own (a bind mount?)");
        for (const auto& [dir, name, rdev] : host_gpu_nodes()) {
            std::string shown = "/dev/" + (dir.empty() ? "" : dir + "/") + name;
            sys::unique_fd sub;
            if (!dir.empty()) {
                if (::mkdirat(dev.get(), dir.c_str(), 0755) != 0 && errno != EEXIST)
                    sys::fail_errno("mkdir /dev/" + dir);
                sub = open_dir(dev.get(), dir.c_str(), O_PATH);
                if (!sub) sys::fail_errno("open /dev/" + dir);
                if (!on_device(sub.get(), own.dev)) {
                    warn(shown + " not mirrored: /dev/" + dir +
                         " is not on the container's own /dev (a bind mount?)");
                    continue;
                }
            }
            int at = dir.empty() ? dev.get() : sub.get();
            const char* node = name.c_str();
            if (::unlinkat(at, node, 0) != 0 && errno == EISDIR) ::unlinkat(at, node, AT_REMOVEDIR);
            if (::mknodat(at, node, S_IFCHR | 0660, rdev) != 0 ||
                ::fchownat(at, node, 0, kGpuGid, AT_SYMLINK_NOFOLLOW) != 0)
                sys::fail_errno("mknod " + shown);
        }
    } catch (const std::exception& e) {
        warn(std::string("GPU nodes not mirrored: ") + e.what());
    }
    ::umask(old);
}

void add_gpu_group(const HwWarn& warn) {
    const char* path = "/etc/group";
    struct stat st;
    std::string current;
    mode_t mode = 0644;
    if (::lstat(path, &st) == 0) {
        sys::unique_fd root = sys::open_tree_root("/");
        auto text =
            S_ISREG(st.st_mode) ? sys::read_guest_file(root.get(), path, 16 << 20) : std::nullopt;
        if (!text) {
            warn(
                "/etc/group is not a regular file (or too big): the droidspaces-gpu group was "
                "not added");
            return;
        }
        current = std::move(*text);
        mode = st.st_mode & 07777;
    } else if (errno != ENOENT || !sys::is_directory("/etc")) {
        return;
    }
    std::string next = group_with_gpu(current);
    if (next == current || ::access("/etc", W_OK) != 0) return;
    // A new file renamed over the name: nothing is written through what the name was.
    sys::write_file_atomic(path, next, mode);
}

}  // namespace ds::container
