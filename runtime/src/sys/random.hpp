// Random identifiers from the kernel's CSPRNG (getrandom), for tokens and ids a client must not
// guess.
#pragma once

#include <cstddef>
#include <string>

namespace ds::sys {

// `bytes` random bytes as 2*bytes lowercase hex digits; throws "getrandom for <what>: ...".
std::string random_hex(size_t bytes, const std::string& what);

}  // namespace ds::sys
