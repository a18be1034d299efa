#include "core/guest_accounts.hpp"

#include <charconv>

#include "core/text.hpp"

namespace ds {
namespace {

constexpr char kDefaultTerm[] = "xterm-256color";

// The next line of `text` (without '\n'); consumes it.
std::string_view next_line(std::string_view& text) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    return line;
}

// Field `index` of a `sep`-separated line, "" when there are fewer fields.
std::string_view field(std::string_view line, size_t index, char sep = ':') {
    for (size_t i = 0; i < index; ++i) {
        size_t pos = line.find(sep);
        if (pos == std::string_view::npos) return {};
        line.remove_prefix(pos + 1);
    }
    return line.substr(0, line.find(sep));
}

size_t field_count(std::string_view line, char sep = ':') {
    size_t n = 1;
    for (char c : line)
        n += c == sep;
    return n;
}

template <typename T>
bool parse_number(std::string_view text, T& out) {
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return !text.empty() && ec == std::errc() && ptr == text.data() + text.size();
}

bool valid_env_key(std::string_view key) {
    if (key.empty() || (key[0] >= '0' && key[0] <= '9')) return false;
    for (char c : key)
        if (!(c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9')))
            return false;
    return true;
}

}  // namespace

std::optional<PasswdEntry> find_passwd_entry(std::string_view passwd, std::string_view user) {
    if (user.empty()) return std::nullopt;
    std::optional<PasswdEntry> by_uid;
    uid_t wanted_uid = 0;
    bool numeric = parse_number(user, wanted_uid);
    for (std::string_view rest = passwd; !rest.empty();) {
        std::string_view line = trim(next_line(rest));
        if (line.empty() || line[0] == '#' || field_count(line) < 7) continue;
        PasswdEntry e;
        e.name = field(line, 0);
        if (!parse_number(field(line, 2), e.uid) || !parse_number(field(line, 3), e.gid)) continue;
        e.home = field(line, 5);
        e.shell = field(line, 6);
        if (e.name == user) return e;
        if (numeric && !by_uid && e.uid == wanted_uid) by_uid = std::move(e);
    }
    return by_uid;
}

std::vector<gid_t> supplementary_groups(std::string_view group, std::string_view user,
                                        gid_t primary) {
    std::vector<gid_t> gids = {primary};
    for (std::string_view rest = group; !rest.empty();) {
        std::string_view line = trim(next_line(rest));
        if (line.empty() || line[0] == '#' || field_count(line) < 4) continue;
        gid_t gid = 0;
        if (!parse_number(field(line, 2), gid)) continue;
        for (std::string_view members = field(line, 3); !members.empty();) {
            size_t comma = members.find(',');
            std::string_view member = trim(members.substr(0, comma));
            members.remove_prefix(comma == std::string_view::npos ? members.size() : comma + 1);
            if (member == user) {
                bool known = false;
                for (gid_t g : gids)
                    known = known || g == gid;
                if (!known) gids.push_back(gid);
                break;
            }
        }
    }
    return gids;
}

std::optional<gid_t> find_group_id(std::string_view group, std::string_view name) {
    for (std::string_view rest = group; !rest.empty();) {
        std::string_view line = trim(next_line(rest));
        gid_t gid = 0;
        if (field_count(line) >= 3 && field(line, 0) == name && parse_number(field(line, 2), gid))
            return gid;
    }
    return std::nullopt;
}

std::vector<std::string> parse_environment_file(std::string_view text) {
    std::vector<std::string> out;
    for (std::string_view rest = text; !rest.empty();) {
        std::string_view line = trim(next_line(rest));
        if (line.empty() || line[0] == '#') continue;
        if (line.substr(0, 7) == "export ") line = trim(line.substr(7));
        size_t eq = line.find('=');
        if (eq == std::string_view::npos) continue;
        std::string_view key = trim(line.substr(0, eq));
        std::string_view value = trim(line.substr(eq + 1));
        if (!valid_env_key(key)) continue;
        if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
            value.back() == value.front())
            value = value.substr(1, value.size() - 2);
        out.push_back(std::string(key) + "=" + std::string(value));
    }
    return out;
}

std::string container_term(std::string_view caller_term) {
    if (caller_term.empty() || caller_term.find('.') != std::string_view::npos ||
        caller_term.substr(0, 2) == "bg")
        return kDefaultTerm;
    return std::string(caller_term);
}

std::optional<uid_t> numeric_user(std::string_view user) {
    unsigned long number = 0;
    if (!parse_number(user, number) || number > 0xfffffffeUL) return std::nullopt;
    return static_cast<uid_t>(number);
}

std::optional<std::string> host_cgroup_dir(std::string_view container_cgroup,
                                           std::string_view process_path) {
    if (container_cgroup.empty() || process_path.size() < 2 || process_path[0] != '/')
        return std::nullopt;
    // The longest leading part of process_path that the container cgroup's host path ends with
    // marks where the hierarchy is mounted: root + process_path is the process's directory.
    for (size_t len = process_path.size(); len > 1; len = process_path.rfind('/', len - 1)) {
        std::string_view head = process_path.substr(0, len);
        if (container_cgroup.size() > head.size() &&
            container_cgroup.substr(container_cgroup.size() - head.size()) == head) {
            std::string dir(container_cgroup.substr(0, container_cgroup.size() - head.size()));
            dir += process_path;
            return dir;
        }
    }
    return std::nullopt;
}

}  // namespace ds
