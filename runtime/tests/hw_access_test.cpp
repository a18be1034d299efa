// Unit tests for container/hw_access's pure rules: the device blocklist, the GPU node table,
// the firmware search path list and the guest's /etc/group line.
#include "container/hw_access.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using ds::container::firmware_path_with;
using ds::container::firmware_path_without;
using ds::container::group_with_gpu;
using ds::container::is_dangerous_device;
using ds::container::is_gpu_node;

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

TEST(HwAccess, FirmwarePathPrependsOnceAndRemovesExactly) {
    EXPECT_EQ(firmware_path_with("", "/a/lib/firmware"), "/a/lib/firmware");
    EXPECT_EQ(firmware_path_with("/x", "/a"), "/a,/x");
    EXPECT_EQ(firmware_path_with("/a,/x", "/a"), "/a,/x");  // idempotent
    EXPECT_EQ(firmware_path_with("/x,/a", "/a"), "/a,/x");
    EXPECT_EQ(firmware_path_with("/b,/a,/x", "/b"), "/b,/a,/x");
    EXPECT_EQ(firmware_path_with(std::string(250, 'x'), "/abcdef"), "");  // over 255 bytes
    EXPECT_EQ(firmware_path_without("/a,/x", "/a"), "/x");
    EXPECT_EQ(firmware_path_without("/b,/a,/x", "/a"), "/b,/x");
    EXPECT_EQ(firmware_path_without("/a", "/a"), "");
    EXPECT_EQ(firmware_path_without("/x", "/a"), "/x");
    EXPECT_EQ(firmware_path_without("/ab,/a", "/a"), "/ab");  // whole entries only
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
