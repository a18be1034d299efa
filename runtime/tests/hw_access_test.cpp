// Unit tests for container/hw_access's pure rules: the device blocklist, the GPU node table,
// the firmware search path list and the guest's /etc/group line.
#include "container/hw_access.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include <optional>
#include <string>

namespace {

using ds::container::firmware_give_back;
using ds::container::firmware_record_text;
using ds::container::firmware_take;
using ds::container::FirmwareRecord;
using ds::container::group_with_gpu;
using ds::container::hw_denied_devices;
using ds::container::is_dangerous_device;
using ds::container::is_gpu_node;
using ds::container::parse_firmware_record;

TEST(HwAccess, BlocklistTakesUpstreamsDangerousNodes) {
    for (const char* name : {"card0",
                             "card",
                             "controlD64",
                             "nvidiactl",
                             "nvidia-modeset",
                             "nvidia0",
                             "nvidia-cap1",
                             "fb0",
                             "tty",
                             "tty1",
                             "ttyS0",
                             "ttyHSL0",
                             "ttyBCM",
                             "ptyp0",
                             "uinput",
                             "rfkill",
                             "mem",
                             "kmem",
                             "port",
                             "vcs",
                             "vcsa1",
                             "watchdog",
                             "watchdog0",
                             "qseecom",
                             "tpm0",
                             "tpmrm0",
                             "console",
                             "null",
                             "ptmx",
                             "i2c-1",
                             "gpiochip0",
                             "cpu_dma_latency",
                             "rpmb",
                             "ram0",
                             "aed0",
                             "aed",
                             "MT_pmic_adc",
                             "iio:device0",
                             "s5p-smem",
                             "als_ps"})
        EXPECT_TRUE(is_dangerous_device(name)) << name;
}

TEST(HwAccess, BlocklistLetsUsefulNodesThrough) {
    for (const char* name :
         {"renderD128", "kgsl-3d0",   "mali0",    "ttyUSB0",  "ttyACM1", "ttyAMA0",      "ttyTHS2",
          "ttymxc0",    "nvidia-uvm", "kfd",      "dma_heap", "video0",  "loop-control", "kvm",
          "fuse",       "fbdev",      "cardinal", "ramdisk",  "aedx",    "snd",          "bus",
          "input",      "event0",     "hidraw0",  "kmsg"})
        EXPECT_FALSE(is_dangerous_device(name)) << name;
}

TEST(HwAccess, GpuNodesAreTheUpstreamTable) {
    EXPECT_TRUE(is_gpu_node("dri", "renderD128"));
    EXPECT_FALSE(is_gpu_node("dri", "card0"));
    EXPECT_FALSE(is_gpu_node("dri", "by-path"));
    EXPECT_TRUE(is_gpu_node("dma_heap", "system"));
    EXPECT_TRUE(is_gpu_node("nvidia-caps", "nvidia-cap1"));  // then dropped by the blocklist
    for (const char* name : {"kgsl-3d0", "mali0", "mali", "nvidia-uvm", "video0", "binder", "ion",
                             "kfd", "pvr_sync", "nvhost-gpu", "nvmap", "dxg", "sw_sync"})
        EXPECT_TRUE(is_gpu_node("", name)) << name;
    for (const char* name : {"null", "kvm", "bind", "ion0", "sda", "snd", "kfdx"})
        EXPECT_FALSE(is_gpu_node("", name)) << name;
    EXPECT_FALSE(is_gpu_node("input", "mali0"));
}

TEST(HwAccess, FirmwarePathIsTakenOnlyWhenEmptyOrOurs) {
    using R = FirmwareRecord;
    auto taken = firmware_take("", "/a", {});
    ASSERT_TRUE(taken);
    EXPECT_EQ(taken->entry, "/a");
    EXPECT_EQ(taken->previous, "");
    // The host's own path (NixOS, vendor scripts) is one directory: never replaced or extended.
    EXPECT_FALSE(firmware_take("/run/current-system/firmware", "/a", {}));
    EXPECT_FALSE(firmware_take("/b", "/a", {R{"/b", ""}}));
    // Already our entry: another record's previous value is carried over, else the path's.
    taken = firmware_take("/a", "/a", {R{"/a", ""}});
    ASSERT_TRUE(taken);
    EXPECT_EQ(taken->previous, "");
    EXPECT_EQ(firmware_take("/a", "/a", {})->previous, "/a");
}

TEST(HwAccess, FirmwarePathGivenBackOnlyWhenStillOursAndUnshared) {
    using R = FirmwareRecord;
    EXPECT_EQ(firmware_give_back("/a", R{"/a", ""}, {}), std::optional<std::string>(""));
    EXPECT_EQ(firmware_give_back("/a", R{"/a", "/a"}, {}), std::optional<std::string>("/a"));
    EXPECT_FALSE(firmware_give_back("/host", R{"/a", ""}, {}));  // changed since: left alone
    EXPECT_FALSE(firmware_give_back("/a", R{"/a", ""}, {R{"/a", ""}}));  // still in use
    EXPECT_EQ(firmware_give_back("/a", R{"/a", ""}, {R{"/b", ""}}), std::optional<std::string>(""));
}

TEST(HwAccess, FirmwareRecordRoundTrips) {
    auto r = parse_firmware_record(firmware_record_text({"/a/lib/firmware", ""}));
    EXPECT_EQ(r.entry, "/a/lib/firmware");
    EXPECT_EQ(r.previous, "");
    r = parse_firmware_record("/a\n/a");
    EXPECT_EQ(r.previous, "/a");
    r = parse_firmware_record("/old");  // a record of an older runtime: previous empty
    EXPECT_EQ(r.entry, "/old");
    EXPECT_EQ(r.previous, "");
}

TEST(HwAccess, DenyRulesFailClosedWhenADirectoryCannotBeRead) {
    // A /dev that cannot be opened: an error naming it, not an empty deny list.
    try {
        hw_denied_devices("/nonexistent-ds-dev");
        FAIL() << "no error";
    } catch (const std::exception& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent-ds-dev"), std::string::npos);
    }
    // A subdirectory that cannot be read (no file descriptor left for it): an error too.
    char tmpl[] = "/tmp/ds-hw-dev.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    std::string dev = tmpl, sub = dev + "/sub";
    ASSERT_EQ(::mkdir(sub.c_str(), 0755), 0);
    EXPECT_TRUE(hw_denied_devices(dev).empty());
    int next = ::dup(0);
    ASSERT_GE(next, 0);
    ::close(next);
    rlimit old{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
    rlimit low = old;
    low.rlim_cur = rlim_t(next) + 2;  // /dev and one more: the subdirectory's listing fails
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
    std::string error;
    try {
        hw_denied_devices(dev);
    } catch (const std::exception& e) {
        error = e.what();
    }
    ::setrlimit(RLIMIT_NOFILE, &old);
    ::rmdir(sub.c_str());
    ::rmdir(dev.c_str());
    EXPECT_NE(error.find(sub), std::string::npos) << error;
}

TEST(HwAccess, GpuGroupAddedOnceRootAppended) {
    const std::string base = "root:x:0:\ntty:x:5:\n";
    std::string once = group_with_gpu(base);
    EXPECT_EQ(once, base + "droidspaces-gpu:x:786:root\n");
    EXPECT_EQ(group_with_gpu(once), once);
    EXPECT_EQ(group_with_gpu("root:x:0:"), "root:x:0:\ndroidspaces-gpu:x:786:root\n");
    EXPECT_EQ(group_with_gpu(""), "droidspaces-gpu:x:786:root\n");
    EXPECT_EQ(group_with_gpu("droidspaces-gpu:x:786:\n"), "droidspaces-gpu:x:786:root\n");
    EXPECT_EQ(group_with_gpu("droidspaces-gpu:x:786:alice\n"),
              "droidspaces-gpu:x:786:alice,root\n");
    EXPECT_EQ(group_with_gpu("droidspaces-gpu:x:786:alice,root\n"),
              "droidspaces-gpu:x:786:alice,root\n");
    // A malformed line of that name is left as it is (no line is added next to it).
    EXPECT_EQ(group_with_gpu("droidspaces-gpu:x\n"), "droidspaces-gpu:x\n");
}

}  // namespace
