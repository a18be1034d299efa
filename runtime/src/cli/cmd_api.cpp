// `droidspaces api METHOD PATH [JSON-BODY]`: the server's JSON router, in-process. The KernelSU
// WebUI's ksu.exec transport: it works when no server runs, needs no token (its caller is
// already root) and prints the same bytes the server sends.
#include <cstdio>

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "core/text.hpp"
#include "core/validate.hpp"
#include "server/api.hpp"

namespace ds::cli {
namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Percent-decoding as a browser's URLSearchParams encodes ("+" is a space).
std::string url_decode(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out += ' ';
        } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
                   hex_value(s[i + 2]) >= 0) {
            out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

server::ApiRequest parse_api_arguments(const std::vector<std::string>& args) {
    if (args.size() < 2 || args.size() > 3)
        fail_usage(
            "api: expected METHOD PATH [JSON-BODY], e.g. 'droidspaces api GET /api/v1/containers'");
    server::ApiRequest request;
    for (char c : args[0])
        request.method += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (request.method != "GET" && request.method != "POST" && request.method != "PUT" &&
        request.method != "PATCH" && request.method != "DELETE")
        fail_usage("api: method " + quote_value(args[0]) +
                   ": expected GET, POST, PUT, PATCH or DELETE");
    const std::string& target = args[1];
    if (target.empty() || target[0] != '/')
        fail_usage("api: path " + quote_value(target) +
                   ": expected an absolute path such as /api/v1/system");
    auto q = target.find('?');
    request.path = url_decode(target.substr(0, q));
    if (q != std::string::npos) {
        for (const auto& pair : split_list(target.substr(q + 1), "&")) {
            auto eq = pair.find('=');
            request.query.emplace(url_decode(pair.substr(0, eq)),
                                  eq == std::string::npos ? "" : url_decode(pair.substr(eq + 1)));
        }
    }
    if (args.size() == 3) request.body = args[2];
    return request;
}

}  // namespace

int cmd_api(Context& ctx) {
    auto request = parse_api_arguments(ctx.inv.args);
    auto response = server::Api(ctx.workspace).handle(request);
    std::fwrite(response.body.data(), 1, response.body.size(), stdout);
    std::fflush(stdout);
    ctx.error_reported = true;  // the body already is the error document
    return server::exit_code_for_status(response.status);
}

}  // namespace ds::cli
