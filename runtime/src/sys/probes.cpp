#include "sys/probes.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <exception>

#include "sys/file.hpp"
#include "sys/probe_support.hpp"

// The probes themselves: probes_system.cpp (kernel, namespaces, mounts, filesystems, devices),
// probes_cgroup.cpp, probes_net.cpp. This file holds the table, the one loop and the report.

namespace ds::sys {
namespace {

using namespace probing;

// --- the table ----------------------------------------------------------------------------------

using S = Section;

const std::vector<ProbeSpec> kProbes = {
    {"Root privileges", S::required, "Run droidspaces as root (sudo, or su on Android).", false,
     probe_root},
    {"Linux kernel >= 3.10", S::required,
     "Droidspaces needs Linux 3.10 or newer (namespaces, pivot_root, seccomp filters).", false,
     probe_kernel<3, 10>},
    {"PID namespace", S::required,
     "The container's init must be PID 1 of its own namespace: enable CONFIG_PID_NS.", true,
     probe_namespace<CLONE_NEWPID>},
    {"Mount namespace", S::required,
     "Containers mount their own /proc, /sys and /dev: enable CONFIG_NAMESPACES.", true,
     probe_namespace<CLONE_NEWNS>},
    {"UTS namespace", S::required, "Needed for the container's own hostname: enable CONFIG_UTS_NS.",
     true, probe_namespace<CLONE_NEWUTS>},
    {"IPC namespace", S::required,
     "Needed to isolate System V IPC: enable CONFIG_IPC_NS (and CONFIG_SYSVIPC).", true,
     probe_namespace<CLONE_NEWIPC>},
    {"pivot_root", S::required,
     "The container's root is switched with pivot_root(2); it fails when / is an initramfs "
     "(rootfs) or in a chroot.",
     true, probe_pivot_root},
    {"/proc filesystem", S::required, "Mount procfs on /proc (mount -t proc proc /proc).", false,
     probe_proc},
    {"/sys filesystem", S::required, "Mount sysfs on /sys (mount -t sysfs sysfs /sys).", false,
     probe_sys},
    {"devpts", S::required,
     "Containers get their own devpts instance for terminals: enable CONFIG_UNIX98_PTYS.", true,
     probe_devpts},
    {"Seccomp filters", S::required,
     "The container's syscall filter needs CONFIG_SECCOMP and CONFIG_SECCOMP_FILTER.", false,
     probe_seccomp},

    {"Linux kernel >= 4.14", S::recommended,
     "Older kernels work with limitations; 5.4 or newer is recommended.", false,
     probe_kernel<4, 14>},
    {"Cgroup namespace", S::recommended,
     "Without it the container sees the host's cgroup paths (systemd may complain): enable "
     "CONFIG_CGROUPS with Linux 4.6+.",
     true, probe_namespace<CLONE_NEWCGROUP>},
    {"Cgroup v2", S::recommended,
     "Modern systemd wants cgroup v2: mount it (mount -t cgroup2 none /sys/fs/cgroup/unified) or "
     "boot with systemd.unified_cgroup_hierarchy=1.",
     false, probe_cgroup_v2},
    {"Loop devices", S::recommended,
     "Needed to boot .img root filesystems (--rootfs-img): enable CONFIG_BLK_DEV_LOOP.", false,
     probe_loop},
    {"ext4 filesystem", S::recommended,
     "Needed to mount ext4 rootfs images: enable CONFIG_EXT4_FS.", false, probe_ext4},

    {"IPv6", S::optional, "IPv6 inside containers needs CONFIG_IPV6.", false, probe_ipv6},
    {"TUN/TAP", S::optional, "VPNs inside containers need /dev/net/tun: enable CONFIG_TUN.", false,
     probe_tun},
    {"FUSE", S::optional, "FUSE filesystems (AppImage, sshfs) need CONFIG_FUSE_FS.", false,
     probe_fuse},
    {"OverlayFS", S::optional, "Volatile containers need CONFIG_OVERLAY_FS.", false, probe_overlay},
    {"devtmpfs", S::optional, "Hardware access mode mounts devtmpfs: enable CONFIG_DEVTMPFS.",
     false, probe_devtmpfs},
    {"Network namespace", S::optional,
     "Isolated networking (--net=nat/none) needs CONFIG_NET_NS; host networking works without.",
     true, probe_namespace<CLONE_NEWNET>},
    {"veth pairs", S::optional, "NAT networking links the container with a veth pair: CONFIG_VETH.",
     true, probe_veth},
    {"Bridge devices", S::optional,
     "NAT falls back to point-to-point links without it; --net=gateway needs it: enable "
     "CONFIG_BRIDGE.",
     true, probe_bridge},
    {"User namespace", S::optional, "Only needed by nested containers: enable CONFIG_USER_NS.",
     false, probe_namespace<CLONE_NEWUSER>},
};

CheckLine run_one(const ProbeSpec& spec, const HostFacts& facts) {
    CheckLine line{spec.name, spec.section, spec.hint, {}, false};
    if (spec.needs_root && !facts.root) {
        line.result = fail(std::string(kNeedsRootDetail));
        line.skipped_not_root = true;
        return line;
    }
    try {
        line.result = spec.probe(facts);
    } catch (const std::exception& e) {
        line.result = fail(std::string("probe error: ") + e.what());
    } catch (...) {
        line.result = fail("probe error");
    }
    return line;
}

// nlohmann::json refuses to dump invalid UTF-8; paths and kernel strings may hold anything.
std::string json_safe(std::string text) {
    try {
        (void)nlohmann::json(text).dump();
    } catch (const nlohmann::json::exception&) {
        for (char& c : text)
            if (static_cast<unsigned char>(c) >= 0x80) c = '?';
    }
    return text;
}

}  // namespace

// --- public -------------------------------------------------------------------------------------

std::string_view section_key(Section section) {
    switch (section) {
        case Section::required:
            return "required";
        case Section::recommended:
            return "recommended";
        case Section::optional:
            return "optional";
    }
    return "optional";
}

bool filesystems_list_has(std::string_view proc_filesystems, std::string_view fs) {
    size_t pos = 0;
    while (pos < proc_filesystems.size()) {
        size_t end = proc_filesystems.find('\n', pos);
        if (end == std::string_view::npos) end = proc_filesystems.size();
        std::string_view line = proc_filesystems.substr(pos, end - pos);
        size_t tab = line.rfind('\t');
        std::string_view name = tab == std::string_view::npos ? line : line.substr(tab + 1);
        if (name == fs) return true;
        pos = end + 1;
    }
    return false;
}

bool misc_list_has(std::string_view proc_misc, std::string_view name) {
    size_t pos = 0;
    while (pos < proc_misc.size()) {
        size_t end = proc_misc.find('\n', pos);
        if (end == std::string_view::npos) end = proc_misc.size();
        std::string_view line = proc_misc.substr(pos, end - pos);
        size_t space = line.rfind(' ');
        if (space != std::string_view::npos && line.substr(space + 1) == name) return true;
        pos = end + 1;
    }
    return false;
}

HostFacts gather_host_facts() {
    HostFacts facts;
    facts.root = ::geteuid() == 0;
    struct utsname uts;
    if (::uname(&uts) == 0) facts.kernel_release = uts.release;
    facts.proc_filesystems = try_read_file("/proc/filesystems").value_or("");
    facts.cgroup = host_cgroups();
    return facts;
}

const std::vector<ProbeSpec>& probe_table() {
    return kProbes;
}

CheckReport run_probes(const std::vector<ProbeSpec>& table, const HostFacts& facts) {
    CheckReport report;
    report.root = facts.root;
    report.kernel_release = facts.kernel_release;
    report.cgroup = facts.cgroup;
    for (const auto& spec : table) {
        report.lines.push_back(run_one(spec, facts));
        if (spec.section == Section::required && !report.lines.back().result.ok)
            ++report.missing_required;
    }
    return report;
}

nlohmann::json check_report_json(const CheckReport& report, std::string_view version) {
    nlohmann::json sections = nlohmann::json::object();
    for (Section s : {Section::required, Section::recommended, Section::optional})
        sections[std::string(section_key(s))] = nlohmann::json::array();
    for (const auto& line : report.lines) {
        sections[std::string(section_key(line.section))].push_back(
            {{"name", std::string(line.name)},
             {"ok", line.result.ok},
             {"detail", json_safe(line.result.detail)}});
    }
    nlohmann::json v2_root = nullptr;
    if (report.cgroup.v2_root) v2_root = json_safe(*report.cgroup.v2_root);
    return {{"version", std::string(version)},
            {"root", report.root},
            {"kernel", json_safe(report.kernel_release)},
            {"sections", std::move(sections)},
            {"cgroup",
             {{"v2_root", std::move(v2_root)},
              {"layout", std::string(layout_name(report.cgroup.layout))}}},
            {"missing_required", report.missing_required},
            {"ok", report.ok()}};
}

}  // namespace ds::sys
