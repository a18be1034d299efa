// The JSON API's router: a table of routes (method, pattern) -> handler, one matcher, and the
// mapping of every failure to an error document. Each request gets its own container::Runtime
// with LockMode::try_once: a server thread never waits for another command's lock, the client
// gets 409 at once. The handlers only translate: bodies -> requests (server/requests.hpp),
// results -> the CLI's --json documents (docs/json.md) through the same to_json functions.
// The run, console and autostart handlers are in api_run.cpp, api_console.cpp and
// api_autostart.cpp.
#include "server/api.hpp"

#include <sys/utsname.h>

#include <algorithm>
#include <exception>

#include "container/inspect.hpp"
#include "container/runtime.hpp"
#include "core/format.hpp"
#include "server/api_parts.hpp"
#include "server/requests.hpp"
#include "sys/cgroup.hpp"
#include "sys/platform.hpp"
#include "sys/probes.hpp"

namespace ds::server {
namespace {

using nlohmann::json;

// Upstream release whose CLI and config files this version stays compatible with (as
// `version --json` says).
constexpr const char* kUpstreamCompat = "6.5.0";

// --- containers ------------------------------------------------------------------------------

ApiResponse list_containers(Call& call) {
    json rows = json::array();
    for (const auto& entry : call.rt.list().containers)
        rows.push_back(container::to_json(entry));
    return {200, json_body(rows)};
}

ApiResponse create_container(Call& call) {
    check_fields(call.body, {"name", "options"});
    std::string name = string_field(call.body, "name");
    if (name.empty()) fail_invalid("field 'name': required: the new container's name");
    auto edits = config_edits(call.body.value("options", json()));
    Config config = call.rt.create_config({name, std::move(edits)});
    return {201, json_body(container::config_json(config, call.ws.config_path(config.name)))};
}

ApiResponse container_info(Call& call) {
    return {200, json_body(container::to_json(call.rt.inspect(call.param("name"))))};
}

ApiResponse edit_container(Call& call) {
    check_fields(call.body, {"reset", "options"});
    bool reset = bool_field(call.body, "reset", false);
    auto edits = config_edits(call.body.value("options", json()));
    Config config = call.rt.edit_config({call.param("name"), reset, std::move(edits)});
    return {200, json_body(container::config_json(config, call.ws.config_path(config.name)))};
}

ApiResponse container_config(Call& call) {
    const std::string& name = call.param("name");
    Config config = call.rt.read_config(name);
    return {200, json_body(container::config_json(config, call.ws.config_path(name)))};
}

ApiResponse delete_container(Call& call) {
    check_fields(call.body, {"remove_rootfs", "confirm"});
    const std::string& name = call.param("name");
    bool remove_rootfs = bool_field(call.body, "remove_rootfs", false);
    // Deleting a rootfs is not undoable: the client must repeat the name, so a stray or replayed
    // request for another container cannot do it.
    if (remove_rootfs && string_field(call.body, "confirm") != name)
        fail_invalid("field 'confirm': must be the container's name '" + name +
                     "' to remove its rootfs");
    auto result = call.rt.delete_config({name, remove_rootfs});
    return {200, json_body({{"name", name}, {"removed", result.removed}, {"kept", result.kept}})};
}

// --- lifecycle -------------------------------------------------------------------------------

std::chrono::seconds stop_timeout(const json& body) {
    return std::chrono::seconds(
        integer_field(body, "timeout_seconds", 1, 3600, container::kDefaultStopTimeout.count()));
}

// The container as `show --json` lists it, plus what the operation warned about.
json started_json(Call& call, const container::ContainerState& state) {
    container::ContainerSummary summary{state, -1, ""};
    for (auto& row : call.rt.show().running)
        if (row.state.name == state.name) summary = row;
    json doc = container::to_json(summary);
    doc["warnings"] = call.out.warnings;
    return doc;
}

// The API starts saved configs only (there is no --rootfs here): a name without one is 404
// before anything else is looked at.
container::StartOptions start_options(Call& call, const std::string& name) {
    (void)call.rt.read_config(name);
    container::StartOptions options;
    options.config.name = name;
    options.console_available = false;  // nobody here holds a terminal
    return options;
}

ApiResponse start_container(Call& call) {
    check_fields(call.body, {});
    auto result = call.rt.start(start_options(call, call.param("name")));
    return {200, json_body(started_json(call, result.state))};
}

ApiResponse stop_container(Call& call) {
    check_fields(call.body, {"timeout_seconds"});
    const std::string& name = call.param("name");
    auto result = call.rt.stop(name, stop_timeout(call.body));
    return {200, json_body({{"name", name},
                            {"forced", result.forced},
                            {"took_ms", result.took.count()},
                            {"warnings", call.out.warnings}})};
}

ApiResponse restart_container(Call& call) {
    check_fields(call.body, {"timeout_seconds"});
    auto result = call.rt.restart(start_options(call, call.param("name")), stop_timeout(call.body));
    return {200, json_body(started_json(call, result.state))};
}

// --- host ------------------------------------------------------------------------------------

ApiResponse system_info(Call& call) {
    struct utsname uts {};
    bool have_uts = ::uname(&uts) == 0;
    sys::CgroupHost cgroups = sys::host_cgroups();
    json server = nullptr;
    if (call.server)
        server = {{"pid", call.server->pid},
                  {"port", call.server->port},
                  {"listen", call.server->listen},
                  {"started_at", call.server->started_at}};
    json doc = {
        {"version", DS_VERSION},
        {"upstream_compatible", kUpstreamCompat},
        {"kernel", have_uts ? json(uts.release) : json(nullptr)},
        {"arch", have_uts ? format::arch_name(uts.machine) : "unknown"},
        {"platform", sys::is_android() ? "Android" : "Linux"},
        {"cgroup",
         {{"v2_root", cgroups.v2_root ? json(*cgroups.v2_root) : json(nullptr)},
          {"layout", std::string(sys::layout_name(cgroups.layout))}}},
        {"workspace", call.ws.root},
        {"server", std::move(server)},
    };
    return {200, json_body(doc)};
}

// 200 even when a requirement is missing: the report says so ("ok": false), the request worked.
ApiResponse check_report(Call& call) {
    return {200, json_body(sys::check_report_json(call.rt.check(), DS_VERSION))};
}

// --- install ---------------------------------------------------------------------------------

// The exec transport's install: synchronous, answers with the `done` event. (Over HTTP the
// streams layer serves the same route as a live progress stream.)
ApiResponse install_container(Call& call) {
    check_fields(call.body, {"name", "source", "image_size", "image_fs"});
    auto request = install_request(call.body);
    std::optional<container::InstallEvent> done;
    call.out.on_install_event = [&](const container::InstallEvent& event) {
        if (event.type == container::InstallEvent::Type::done) done = event;
    };
    auto result = call.rt.install(request);
    if (!done) {  // the request layer always sends one; built from the result if not
        done.emplace();
        done->type = container::InstallEvent::Type::done;
        done->name = result.name;
        done->rootfs = result.rootfs;
        done->config = result.config_path;
        done->image = result.image;
        done->os = result.os;
        done->fixes = result.fixes;
    }
    json doc = container::event_json(*done);
    return {201, json_body(doc)};
}

// --- the table -------------------------------------------------------------------------------

using Handler = ApiResponse (*)(Call&);

struct Route {
    std::string_view method;
    std::string_view pattern;  // segments; "{name}" matches one non-empty segment
    Handler handler;
};

const std::vector<Route>& routes() {
    static const std::vector<Route> table = {
        {"GET", "/api/v1/containers", list_containers},
        {"POST", "/api/v1/containers", create_container},
        {"GET", "/api/v1/containers/{name}", container_info},
        {"PUT", "/api/v1/containers/{name}", edit_container},
        {"DELETE", "/api/v1/containers/{name}", delete_container},
        {"GET", "/api/v1/containers/{name}/config", container_config},
        {"POST", "/api/v1/containers/{name}/start", start_container},
        {"POST", "/api/v1/containers/{name}/stop", stop_container},
        {"POST", "/api/v1/containers/{name}/restart", restart_container},
        {"POST", "/api/v1/containers/{name}/run", run_command},
        {"GET", "/api/v1/containers/{name}/console", console_tail},
        {"GET", "/api/v1/system", system_info},
        {"GET", "/api/v1/check", check_report},
        {"GET", "/api/v1/autostart", autostart_get},
        {"PUT", "/api/v1/autostart", autostart_put},
        {"POST", "/api/v1/install", install_container},
    };
    return table;
}

std::vector<std::string_view> segments(std::string_view path) {
    std::vector<std::string_view> parts;
    size_t pos = 0;
    while (pos <= path.size()) {
        size_t slash = path.find('/', pos);
        if (slash == std::string_view::npos) slash = path.size();
        parts.push_back(path.substr(pos, slash - pos));
        pos = slash + 1;
    }
    return parts;
}

// The pattern's {params} when `path` matches it, nullopt otherwise.
std::optional<std::map<std::string, std::string>> match(std::string_view pattern,
                                                        std::string_view path) {
    auto want = segments(pattern), got = segments(path);
    if (want.size() != got.size()) return std::nullopt;
    std::map<std::string, std::string> params;
    for (size_t i = 0; i < want.size(); ++i) {
        bool is_param = want[i].size() > 2 && want[i].front() == '{' && want[i].back() == '}';
        if (is_param) {
            if (got[i].empty()) return std::nullopt;
            params[std::string(want[i].substr(1, want[i].size() - 2))] = std::string(got[i]);
        } else if (want[i] != got[i]) {
            return std::nullopt;
        }
    }
    return params;
}

ApiResponse dispatch(const Workspace& ws, const std::optional<ServerFacts>& server,
                     const ApiRequest& request) {
    std::vector<std::string> allowed;
    for (const auto& route : routes()) {
        auto params = match(route.pattern, request.path);
        if (!params) continue;
        if (route.method != request.method) {
            allowed.emplace_back(route.method);
            continue;
        }
        WarningCollector out;
        container::Runtime rt(ws, out, container::LockMode::try_once);
        // A body is parsed only by routes that read one; GET ignores whatever was sent.
        json body = request.method == "GET" ? json::object() : parse_body(request.body);
        Call call{ws, server, request, std::move(*params), std::move(body), out, rt};
        return route.handler(call);
    }
    if (!allowed.empty()) {
        std::string list;
        for (const auto& method : allowed)
            list += (list.empty() ? "" : ", ") + method;
        return error_response(
            405, "method_not_allowed",
            request.method + " is not allowed on " + request.path + ": allowed " + list);
    }
    return error_response(404, "no_route", "no route for " + request.method + " " + request.path);
}

// The first line of an exception's text: the detail of an error document is one line.
std::string one_line(std::string_view text) {
    std::string line(text.substr(0, text.find('\n')));
    return line.empty() ? "unknown error" : line;
}

}  // namespace

const std::string& Call::param(const std::string& key) const {
    static const std::string none;
    auto it = params.find(key);
    return it == params.end() ? none : it->second;
}

ApiResponse Api::handle(const ApiRequest& request) const {
    try {
        return dispatch(ws_, server_, request);
    } catch (const Error& e) {
        return error_response(e.kind(), one_line(e.what()));
    } catch (const std::exception& e) {
        return error_response(500, "system", one_line(e.what()));
    } catch (...) {
        return error_response(500, "system", "unknown error");
    }
}

int status_for(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::invalid:
            return 400;
        case ErrorKind::not_found:
            return 404;
        case ErrorKind::busy:
            return 409;
        case ErrorKind::system:
            return 500;
    }
    return 500;
}

std::string_view error_name(ErrorKind kind) {
    return to_string(kind);
}

ApiResponse error_response(int status, std::string_view error, std::string_view detail) {
    return {status, json_body({{"error", std::string(error)}, {"detail", std::string(detail)}})};
}

ApiResponse error_response(ErrorKind kind, std::string_view detail) {
    return error_response(status_for(kind), error_name(kind), detail);
}

int exit_code_for_status(int status) {
    if (status >= 200 && status < 300) return 0;
    if (status >= 400 && status < 500) return 1;
    return 2;
}

std::string json_body(const nlohmann::json& document) {
    // Guest text (os-release names, console output, paths) may be invalid UTF-8: replaced.
    return document.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace ds::server
