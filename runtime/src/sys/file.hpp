// Whole-file reads and crash-safe writes.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace ds::sys {

// Contents of the file, or nullopt when it cannot be read (missing, permission, ...).
std::optional<std::string> try_read_file(const std::string& path);
// Contents of the file; throws a runtime error naming the path and errno.
std::string read_file(const std::string& path);

// Writes through a temp file in the same directory and a rename: a reader sees either the old or
// the new content, never a torn file. `durable` adds the fsyncs (file, then directory) that make
// it survive a power cut; runtime state that a reboot makes meaningless does without them.
enum class Durability { durable, volatile_state };
void write_file_atomic(const std::string& path, const std::string& content, mode_t mode = 0644,
                       Durability durability = Durability::durable);
// As write_file_atomic, but skips the write when the file already holds exactly `content`.
// Returns true when the file was written.
bool write_file_if_changed(const std::string& path, const std::string& content, mode_t mode = 0644);

// Writes `value` to a kernel control file (cgroupfs, procfs, sysfs) in place: O_WRONLY without
// O_CREAT/O_TRUNC, one write(2). Such files cannot be replaced by a rename (cgroupfs refuses new
// files), and the kernel takes the value in one write or rejects it. Throws naming the value, the
// path and errno.
void write_control_file(const std::string& path, const std::string& value);
// The same, but a file that does not exist (a knob this kernel lacks) is no error: returns false.
bool write_control_file_if_present(const std::string& path, const std::string& value);

// mkdir -p; existing directories are fine.
void make_dirs(const std::string& path, mode_t mode = 0755);
bool path_exists(const std::string& path);
bool is_directory(const std::string& path);

}  // namespace ds::sys
