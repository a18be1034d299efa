// Pure parsers of a guest's own account and environment files (/etc/passwd, /etc/group,
// /etc/environment), the $TERM rule for commands started inside, and the host path of a guest
// process's cgroup. The text comes from the guest (untrusted): malformed lines are skipped,
// never trusted; nothing here touches the filesystem.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ds {

struct PasswdEntry {
    std::string name;
    uid_t uid = 0;
    gid_t gid = 0;
    std::string home;
    std::string shell;
};

// The /etc/passwd line for `user` (a name, or a number matching no name but a UID).
std::optional<PasswdEntry> find_passwd_entry(std::string_view passwd, std::string_view user);
// `primary` first, then every /etc/group group listing `user` as a member (no duplicates).
std::vector<gid_t> supplementary_groups(std::string_view group, std::string_view user,
                                        gid_t primary);
// The GID of group `name` in /etc/group text.
std::optional<gid_t> find_group_id(std::string_view group, std::string_view name);
// KEY=VALUE lines of /etc/environment ("export " prefix and matching quotes stripped, comments
// and malformed lines skipped), in file order.
std::vector<std::string> parse_environment_file(std::string_view text);
// $TERM for the container: the caller's unless empty or Android recovery garbage (contains '.',
// starts with "bg"), else xterm-256color.
std::string container_term(std::string_view caller_term);
// A numeric user ("1234") with no passwd entry, as `docker exec -u 1234` allows; nullopt when
// `user` is not a number in 0..4294967294.
std::optional<uid_t> numeric_user(std::string_view user);

// Host directory of a guest process's cgroup: `container_cgroup` is the host path of the
// container's cgroup (ContainerState::cgroup_path), `process_path` the hierarchy-relative path
// from /proc/<pid>/cgroup. nullopt when process_path is not inside the container cgroup.
std::optional<std::string> host_cgroup_dir(std::string_view container_cgroup,
                                           std::string_view process_path);

}  // namespace ds
