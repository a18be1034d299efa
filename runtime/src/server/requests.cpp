#include "server/requests.hpp"

#include <algorithm>

#include "core/archive.hpp"
#include "core/error.hpp"
#include "core/validate.hpp"

namespace ds::server {
namespace {

using nlohmann::json;

[[noreturn]] void bad_field(const std::string& field, const std::string& message) {
    fail_invalid("field '" + field + "': " + message);
}

std::string type_name(const json& value) {
    return value.is_number() ? "a number" : std::string("a ") + value.type_name();
}

// A string field without NUL bytes: a NUL would cut the value short at execve or in the
// config file, so the request would not mean what it says.
std::string string_field(const std::string& field, const json& value) {
    if (!value.is_string()) bad_field(field, "expected a string, got " + type_name(value));
    const auto& text = value.get_ref<const std::string&>();
    if (text.find('\0') != std::string::npos) bad_field(field, "must not contain a NUL byte");
    return text;
}

uint64_t integer_value(const std::string& field, const json& value, uint64_t min, uint64_t max) {
    bool ok =
        value.is_number_unsigned() || (value.is_number_integer() && value.get<int64_t>() >= 0);
    if (!ok || value.get<uint64_t>() < min || value.get<uint64_t>() > max)
        bad_field(field, "expected an integer from " + std::to_string(min) + " to " +
                             std::to_string(max) + ", got " + value.dump());
    return value.get<uint64_t>();
}

// One option value as the option table takes it: switches from a bool, numbers as their
// decimal text, null as "" (which clears a list or an optional value).
std::string option_value(const std::string& field, const ConfigOption& option, const json& value) {
    if (value.is_null()) return "";
    if (value.is_boolean()) {
        if (!option.is_switch)
            bad_field(field, "--" + std::string(option.name) + " takes a value, not a bool");
        return value.get<bool>() ? "1" : "0";
    }
    if (value.is_number_integer() || value.is_number_float()) return value.dump();
    return string_field(field, value);
}

bool is_list(const ConfigOption& option) {
    return option.kind == ConfigOptionKind::bind || option.kind == ConfigOptionKind::port ||
           option.kind == ConfigOptionKind::upstream;
}

// Applies one edit to a scratch config so that a bad value is reported with its field; the
// request layer applies the edits again, for real, under the container's lock.
void check_edit(Config& scratch, const std::string& field, const std::string& key,
                const std::string& value) {
    try {
        apply_config_edits(scratch, {{key, value}});
    } catch (const Error& e) {
        bad_field(field, e.what());
    }
}

}  // namespace

void check_fields(const nlohmann::json& body, std::initializer_list<std::string_view> known) {
    for (const auto& [key, value] : body.items()) {
        (void)value;
        if (std::find(known.begin(), known.end(), key) != known.end()) continue;
        std::string list;
        for (auto name : known)
            list += (list.empty() ? "" : ", ") + std::string(name);
        bad_field(key, "unknown field: expected " + (list.empty() ? "none" : list));
    }
}

uint64_t integer_field(const nlohmann::json& body, const std::string& field, uint64_t min,
                       uint64_t max, uint64_t fallback) {
    if (!body.contains(field) || body[field].is_null()) return fallback;
    return integer_value(field, body[field], min, max);
}

bool bool_field(const nlohmann::json& body, const std::string& field, bool fallback) {
    if (!body.contains(field) || body[field].is_null()) return fallback;
    if (!body[field].is_boolean())
        bad_field(field, "expected true or false, got " + body[field].dump());
    return body[field].get<bool>();
}

std::string string_field(const nlohmann::json& body, const std::string& field) {
    if (!body.contains(field) || body[field].is_null()) return "";
    return string_field(field, body[field]);
}

nlohmann::json parse_body(const std::string& body) {
    if (body.find_first_not_of(" \t\r\n") == std::string::npos) return json::object();
    json value = json::parse(body, nullptr, false);
    if (value.is_discarded())
        fail_invalid("the request body is not valid JSON (" + std::to_string(body.size()) +
                     " bytes)");
    if (!value.is_object())
        fail_invalid("the request body must be a JSON object, got " + type_name(value));
    return value;
}

ConfigEdits config_edits(const nlohmann::json& options) {
    if (options.is_null()) return {};
    if (!options.is_object())
        bad_field("options", "expected an object of option names, got " + type_name(options));
    ConfigEdits edits;
    Config scratch;
    for (const auto& [key, value] : options.items()) {
        std::string field = "options." + key;
        const ConfigOption* option = find_config_option(key);
        if (!option)
            bad_field(field, "unknown config option '" + key +
                                 "': expected a long option name such as 'memory' or 'bind' "
                                 "(docs/cli.md)");
        if (value.is_array()) {
            // An array is the whole list: it replaces what the config had (the CLI's repeated
            // flag adds; a form that shows the list sends it back whole).
            if (!is_list(*option))
                bad_field(field, "--" + std::string(option->name) + " takes one value, not a list");
            edits.emplace_back(key, "");
            check_edit(scratch, field, key, "");
            for (size_t i = 0; i < value.size(); ++i) {
                std::string item_field = field + "[" + std::to_string(i) + "]";
                std::string item = string_field(item_field, value[i]);
                if (item.empty()) bad_field(item_field, "must not be empty");
                check_edit(scratch, item_field, key, item);
                edits.emplace_back(key, std::move(item));
            }
            continue;
        }
        std::string text = option_value(field, *option, value);
        check_edit(scratch, field, key, text);
        edits.emplace_back(key, std::move(text));
    }
    return edits;
}

container::InstallRequest install_request(const nlohmann::json& body) {
    container::InstallRequest request;
    if (!body.contains("name")) bad_field("name", "required: the new container's name");
    request.name = string_field("name", body["name"]);
    try {
        check_container_name(request.name);
    } catch (const Error& e) {
        bad_field("name", e.what());
    }
    if (!body.contains("source"))
        bad_field("source", "required: the absolute path of a rootfs tarball or directory");
    request.source = string_field("source", body["source"]);
    if (request.source.empty() || request.source.front() != '/')
        bad_field("source", "expected an absolute path, got '" + request.source + "'");
    if (body.contains("image_size") && !body["image_size"].is_null()) {
        const json& size = body["image_size"];
        try {
            request.image_size = size.is_number_integer()
                                     ? archive::parse_image_size(size.dump())
                                     : archive::parse_image_size(string_field("image_size", size));
        } catch (const Error& e) {
            bad_field("image_size", e.what());
        }
    }
    if (body.contains("image_fs") && !body["image_fs"].is_null()) {
        request.image_fs = string_field("image_fs", body["image_fs"]);
        if (request.image_fs != "ext4")
            bad_field("image_fs", "unsupported filesystem '" + request.image_fs +
                                      "': only ext4 images can be created");
    }
    return request;
}

container::RunRequest run_request(const nlohmann::json& body) {
    container::RunRequest request;
    if (!body.contains("command"))
        bad_field("command", "required: an array of arguments or one shell command line");
    const json& command = body["command"];
    if (command.is_string()) {
        std::string line = string_field("command", command);
        if (line.find_first_not_of(" \t\n") == std::string::npos)
            bad_field("command", "must not be empty");
        request.argv = {line};
    } else if (command.is_array()) {
        if (command.empty()) bad_field("command", "must not be empty");
        for (size_t i = 0; i < command.size(); ++i)
            request.argv.push_back(string_field("command[" + std::to_string(i) + "]", command[i]));
        if (request.argv[0].empty()) bad_field("command[0]", "must not be empty");
    } else {
        bad_field("command", "expected an array of strings or a string, got " + type_name(command));
    }
    if (body.contains("user") && !body["user"].is_null())
        request.user = string_field("user", body["user"]);
    return request;
}

container::EnterRequest terminal_request(const nlohmann::json& body) {
    container::EnterRequest request;
    if (body.contains("user") && !body["user"].is_null()) {
        request.user = string_field("user", body["user"]);
        if (request.user.empty()) bad_field("user", "must not be empty");
    }
    if (body.contains("rows"))
        request.rows = static_cast<unsigned short>(integer_value("rows", body["rows"], 1, 1000));
    if (body.contains("cols"))
        request.cols = static_cast<unsigned short>(integer_value("cols", body["cols"], 1, 1000));
    return request;
}

}  // namespace ds::server
