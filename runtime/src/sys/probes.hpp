// Live probes of the kernel features Droidspaces needs (`droidspaces check`, upstream §18).
//
// Every probe tries the feature for real where that is possible without side effects: namespace
// probes fork a child that unshare()s the flag, pivot_root/devpts run inside a throwaway mount
// namespace, veth/bridge are created inside a throwaway network namespace. The child exits, so
// the namespace and everything in it dies with it: the host never sees an interface, a mount or a
// cgroup, and no probe process outlives the check. Probes report failures as results (ok=false,
// detail naming errno) and never throw out of run_probes().
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/kernel_version.hpp"
#include "sys/cgroup.hpp"

namespace ds::sys {

enum class Section { required, recommended, optional };

// "required", "recommended", "optional" (the --json keys).
std::string_view section_key(Section section);

struct ProbeResult {
    bool ok = false;
    std::string detail;  // what was found ("6.18.44", "/sys/fs/cgroup/unified") or why it failed
};

// --- pure parsing (unit-tested) -------------------------------------------------------------

// KernelVersion, parse_kernel_release, kernel_at_least: core/kernel_version.hpp.

// One line of /proc/filesystems names `fs` ("nodev\tcgroup2" or "\text4").
bool filesystems_list_has(std::string_view proc_filesystems, std::string_view fs);

// One line of /proc/misc ("200 tun", " 229 fuse") names the driver `name`.
bool misc_list_has(std::string_view proc_misc, std::string_view name);

// --- the probe table ------------------------------------------------------------------------

// Read once before the probes run; probes look things up here instead of re-reading.
struct HostFacts {
    bool root = false;
    std::string kernel_release;    // uname -r
    std::string proc_filesystems;  // /proc/filesystems ("" when unreadable)
    CgroupHost cgroup;             // sys/cgroup's detector, the one `start` uses
};
HostFacts gather_host_facts();

using ProbeFn = ProbeResult (*)(const HostFacts&);

struct ProbeSpec {
    std::string_view name;
    Section section;
    std::string_view hint;  // shown when it fails: what it means / how to fix it
    bool needs_root;        // not run without root; reported as failed with a note
    ProbeFn probe;
};

// Every probe `droidspaces check` runs, in display order.
const std::vector<ProbeSpec>& probe_table();

struct CheckLine {
    std::string_view name;
    Section section;
    std::string_view hint;
    ProbeResult result;
    bool skipped_not_root = false;
};

struct CheckReport {
    bool root = false;
    std::string kernel_release;
    CgroupHost cgroup;  // sys/cgroup's detector, the one `start` uses
    std::vector<CheckLine> lines;
    int missing_required = 0;
    bool ok() const { return missing_required == 0; }
};

// Detail given to needs_root probes when the caller is not root.
inline constexpr std::string_view kNeedsRootDetail = "not checked without root";

// Runs each probe of `table` once (the one loop). A probe that throws counts as failed.
CheckReport run_probes(const std::vector<ProbeSpec>& table, const HostFacts& facts);

// {"version","root","kernel","sections":{"required":[{"name","ok","detail"}],...},
//  "cgroup":{"v2_root","layout"},"missing_required","ok"}
nlohmann::json check_report_json(const CheckReport& report, std::string_view version);

}  // namespace ds::sys
