// Eventfds as wake-ups between threads: one side signals, the other polls the fd beside its own
// and drains it. All are non-blocking, so neither side can hang on the counter.
#pragma once

#include <string>

#include "sys/fd.hpp"

namespace ds::sys {

// A non-blocking, close-on-exec eventfd; throws "eventfd for <what>: <errno text>".
unique_fd make_eventfd(const std::string& what);
// Makes `fd` readable. Never fails in a way that matters: a saturated counter is readable.
void signal_eventfd(int fd);
// Resets the counter (nothing to read is fine: the fd is non-blocking).
void drain_eventfd(int fd);

}  // namespace ds::sys
