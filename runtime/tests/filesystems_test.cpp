#include "core/filesystems.hpp"

#include <gtest/gtest.h>
#include <linux/magic.h>

TEST(Filesystems, F2fsIsRefusedAsOverlayLower) {
    EXPECT_EQ(ds::unusable_overlay_lower(0xF2F52010), "f2fs");
}

TEST(Filesystems, CommonLowersAreFine) {
    for (uint64_t magic : {uint64_t{EXT4_SUPER_MAGIC}, uint64_t{TMPFS_MAGIC},
                           uint64_t{BTRFS_SUPER_MAGIC}, uint64_t{OVERLAYFS_SUPER_MAGIC}})
        EXPECT_FALSE(ds::unusable_overlay_lower(magic)) << std::hex << magic;
}
