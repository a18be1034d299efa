#include "sys/random.hpp"

#include <sys/random.h>

#include <cerrno>
#include <vector>

#include "sys/syscall_error.hpp"

namespace ds::sys {

std::string random_hex(size_t bytes, const std::string& what) {
    std::vector<unsigned char> raw(bytes);
    size_t got = 0;
    // getrandom may return fewer bytes than asked (a signal); it never blocks once the pool is
    // initialised, which it is long before a server runs.
    while (got < raw.size()) {
        ssize_t n = ::getrandom(raw.data() + got, raw.size() - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail_errno("getrandom for " + what);
        }
        got += static_cast<size_t>(n);
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(bytes * 2);
    for (unsigned char b : raw) {
        hex += kHex[b >> 4];
        hex += kHex[b & 15];
    }
    return hex;
}

}  // namespace ds::sys
