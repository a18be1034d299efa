// Facts about filesystems, by their statfs magic.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace ds {

constexpr uint64_t kF2fsMagic = 0xF2F52010;

// The name of a filesystem overlayfs refuses as a lower layer (f2fs on many Android kernels),
// or nullopt when it is fine.
inline std::optional<std::string> unusable_overlay_lower(uint64_t magic) {
    if (magic == kF2fsMagic) return "f2fs";
    return std::nullopt;
}

}  // namespace ds
