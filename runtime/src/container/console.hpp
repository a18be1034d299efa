// `start -f`: the caller's terminal attached to the container's console.
#pragma once

#include "container/state.hpp"
#include "core/workspace.hpp"

namespace ds::container {

// Key sequences read from the terminal (not forwarded to the container).
constexpr char kStopSequence[] = "\x1b\x11";    // Ctrl+Alt+Q: stop the container (upstream)
constexpr char kDetachSequence[] = "\x1b\x04";  // Ctrl+Alt+D: detach, leave it running

// Streams the console until the container stops or the user detaches; the terminal is restored
// on every exit path. Returns the exit code for the CLI.
int attach_console(const Workspace& ws, const ContainerState& state, int console_master);

}  // namespace ds::container
