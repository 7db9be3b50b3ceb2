// meshctl up's processes. Each child starts as from a fresh shell (default
// signal mask and dispositions, so SIGTERM reaches it), leads a process
// group of its own (a stop reaches what it started, and the terminal's
// Ctrl-C reaches only meshctl, which stops the mesh in order), and is killed
// by the kernel if meshctl dies. A record in the state directory names the
// groups, so the next `meshctl up` on that directory stops leftovers.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace weft::meshctl {

struct Child {
  std::string what;                   // "control plane", "client-0", "client-0 sidecar"
  pid_t pid = -1;                     // also its process group; -1 once reaped
  unsigned long long start_time = 0;  // /proc/PID/stat starttime: tells a reused pid apart
};

// Starts `argv` with `env` added to ours, stdout and stderr appended to
// `log`, in `cwd`.
Result<Child> spawn(const std::string& what, const std::vector<std::string>& argv,
                    const std::map<std::string, std::string>& env, const std::filesystem::path& log,
                    const std::filesystem::path& cwd);

// The child's wait status if it has exited (and is now reaped), else none.
std::optional<int> reap(Child& child);

// "status 3" or "signal 9", for a wait status.
std::string describe_exit(int wait_status);

// Sends SIGTERM to each child's process group, waits up to `grace` for
// them all to exit, then SIGKILLs the groups still running. Returns what
// had to be killed (empty when everything stopped by itself).
std::vector<std::string> stop(const std::vector<Child*>& children, std::chrono::milliseconds grace);

// The record of running groups, STATE/processes: one line per child,
// "PGID START_TIME WHAT", after a first line naming meshctl itself.
class ProcessRecord {
 public:
  explicit ProcessRecord(std::filesystem::path file) : file_(std::move(file)) {}

  // Stops the groups of a previous run whose meshctl is gone (SIGKILL:
  // nobody waits for their drain); an error when that meshctl still runs.
  // Returns what was stopped: "COMMAND (PID)" each.
  Result<std::vector<std::string>> stop_leftovers() const;
  void write(const std::vector<const Child*>& children) const;
  void remove() const;

 private:
  std::filesystem::path file_;
};

}  // namespace weft::meshctl
