// The monitor is this binary re-executed (a fresh, small process) as "ds-monitor:<name>".
#pragma once

namespace ds::container {

// File descriptors `start` hands to the monitor.
constexpr int kPlanFd = 3;     // the serialized BootPlan, read to EOF
constexpr int kReportFd = 4;   // "OK <pid>" or "ERR <step: reason>", then closed
constexpr int kConsoleFd = 5;  // the console pty master

// The hidden argv[1] that selects the monitor entry point.
constexpr const char* kMonitorCommand = "__monitor";

int monitor_main(char** argv);

}  // namespace ds::container
