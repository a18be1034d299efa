#include "core/kernel_version.hpp"

namespace ds {

std::optional<KernelVersion> parse_kernel_release(std::string_view release) {
    int parts[3] = {0, 0, 0};
    size_t pos = 0;
    for (int i = 0; i < 3; ++i) {
        size_t start = pos;
        int value = 0;
        while (pos < release.size() && release[pos] >= '0' && release[pos] <= '9' && value < 100000)
            value = value * 10 + (release[pos++] - '0');
        if (pos == start) {
            if (i < 2) return std::nullopt;
            break;
        }
        parts[i] = value;
        if (i == 2 || pos >= release.size() || release[pos] != '.') {
            if (i == 0) return std::nullopt;
            break;
        }
        ++pos;
    }
    return KernelVersion{parts[0], parts[1], parts[2]};
}

bool kernel_at_least(const KernelVersion& have, int major, int minor) {
    return have.major != major ? have.major > major : have.minor >= minor;
}

bool kernel_matches(Kernels kernels, std::string_view release) {
    switch (kernels) {
        case Kernels::all:
            return true;
        case Kernels::before_5_0: {
            auto version = parse_kernel_release(release);
            return version && !kernel_at_least(*version, 5, 0);
        }
    }
    return true;
}

}  // namespace ds
