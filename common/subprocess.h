// Runs a command to completion and collects what it writes, bounded in size
// and time: for work done in a short-lived child so that its code and memory
// never become part of a long-running process (see proxy/config/config_file.h).
#pragma once

#include <chrono>
#include <cstddef>
#include <span>
#include <string>

#include "common/result.h"

namespace weft::subprocess {

struct Limits {
  std::size_t max_output = std::size_t{64} * 1024 * 1024;  // stdout
  std::size_t max_errors = std::size_t{64} * 1024;         // stderr, cut beyond this
  std::chrono::milliseconds timeout{30'000};
};

struct Outcome {
  int exit_code = 0;  // the child's exit status; it did exit (a signal is an error)
  std::string output;
  std::string errors;
};

// Runs argv[0] (a path, not searched in PATH) with `argv`, stdin closed to
// /dev/null. Errors: the command could not start, died of a signal, wrote
// more than max_output, or ran past the timeout (it is then killed).
Result<Outcome> run(std::span<const std::string> argv, const Limits& limits = {});

}  // namespace weft::subprocess
