#include "container/boot_plan.hpp"

#include <nlohmann/json.hpp>

namespace ds::container {

std::string serialize_plan(const BootPlan& plan) {
    nlohmann::json j = {
        {"config", serialize_config(plan.config)},
        {"rootfs_is_image", plan.config.rootfs_is_image},
        {"workspace", plan.workspace.root},
        {"mount_base", plan.workspace.mount_base},
        {"rootfs", plan.rootfs},
        {"init_path", plan.init_path},
        {"family", to_string(plan.family)},
        {"cgroup_layout", static_cast<int>(plan.cgroup_layout)},
        {"cgroup_path", plan.cgroup_path},
        {"limit_cgroups", plan.limit_cgroups},
        {"console_slave", plan.console_slave},
        {"term", plan.term},
        {"attached_client", plan.attached_client},
        {"env", plan.env},
        {"volatile_dir", plan.volatile_dir},
        {"image_mount", plan.image_mount},
    };
    return j.dump();
}

BootPlan parse_plan(const std::string& text) {
    auto j = nlohmann::json::parse(text);
    BootPlan plan;
    // The config text keeps the user's file's lines; those the start warned about and ignored
    // are ignored again here.
    std::vector<std::string> ignored;
    plan.config = parse_config(j.at("config").get<std::string>(), "boot plan", &ignored);
    plan.config.rootfs_is_image = j.at("rootfs_is_image").get<bool>();
    plan.workspace.root = j.at("workspace").get<std::string>();
    plan.workspace.mount_base = j.at("mount_base").get<std::string>();
    plan.rootfs = j.at("rootfs").get<std::string>();
    plan.init_path = j.at("init_path").get<std::string>();
    plan.family = parse_init_family(j.at("family").get<std::string>());
    plan.cgroup_layout = static_cast<CgroupLayout>(j.at("cgroup_layout").get<int>());
    plan.cgroup_path = j.at("cgroup_path").get<std::string>();
    plan.limit_cgroups = j.value("limit_cgroups", std::vector<std::string>{});
    plan.console_slave = j.at("console_slave").get<std::string>();
    plan.term = j.at("term").get<std::string>();
    plan.attached_client = j.at("attached_client").get<pid_t>();
    plan.env = j.at("env").get<EnvVars>();
    plan.volatile_dir = j.at("volatile_dir").get<std::string>();
    plan.image_mount = j.at("image_mount").get<std::string>();
    return plan;
}

}  // namespace ds::container
