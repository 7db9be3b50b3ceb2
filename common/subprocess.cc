#include "common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

extern char** environ;

namespace weft::subprocess {
namespace {

// A pipe whose ends close themselves.
struct Pipe {
  int read = -1, write = -1;

  Pipe() {
    std::array<int, 2> fds{};
    if (::pipe2(fds.data(), O_CLOEXEC) == 0) {
      read = fds[0];
      write = fds[1];
    }
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  ~Pipe() {
    close_read();
    close_write();
  }
  bool ok() const { return read >= 0; }
  void close_read() {
    if (read >= 0) ::close(read);
    read = -1;
  }
  void close_write() {
    if (write >= 0) ::close(write);
    write = -1;
  }
};

// Waits for `pid`, retrying when a signal interrupts the wait.
int wait_for(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

// Drains both pipes until the child closes them. stdout and stderr are read
// together: reading one to its end first would deadlock against a child
// blocked on a full pipe of the other.
Result<void> collect(Pipe& out, Pipe& err, const Limits& limits, Outcome& outcome) {
  const auto deadline = std::chrono::steady_clock::now() + limits.timeout;
  std::array<char, 65536> chunk{};
  while (out.read >= 0 || err.read >= 0) {
    std::array<pollfd, 2> fds{{{out.read, POLLIN, 0}, {err.read, POLLIN, 0}}};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return fail(ErrorCode::kTimeout, "did not finish within {} ms", limits.timeout.count());
    }
    const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) return fail(ErrorCode::kIo, "poll: {}", std::strerror(errno));
    for (std::size_t i = 0; i < fds.size() && ready > 0; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      auto& pipe = i == 0 ? out : err;
      const auto got = ::read(pipe.read, chunk.data(), chunk.size());
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        pipe.close_read();
        continue;
      }
      const auto bytes = static_cast<std::size_t>(got);
      if (i == 0) {
        if (outcome.output.size() + bytes > limits.max_output) {
          return fail(ErrorCode::kInvalidArgument, "wrote more than {} bytes", limits.max_output);
        }
        outcome.output.append(chunk.data(), bytes);
      } else {
        const auto room = limits.max_errors - std::min(limits.max_errors, outcome.errors.size());
        outcome.errors.append(chunk.data(), std::min(room, bytes));
      }
    }
  }
  return {};
}

}  // namespace

Result<Outcome> run(std::span<const std::string> argv, const Limits& limits) {
  if (argv.empty()) return fail(ErrorCode::kInvalidArgument, "no command");
  Pipe out, err;
  if (!out.ok() || !err.ok()) return fail(ErrorCode::kIo, "pipe: {}", std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  // dup2 leaves the copies without O_CLOEXEC, so the child keeps exactly these.
  posix_spawn_file_actions_adddup2(&actions, out.write, 1);
  posix_spawn_file_actions_adddup2(&actions, err.write, 2);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = ::posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    return fail(ErrorCode::kIo, "cannot run {}: {}", argv[0], std::strerror(spawned));
  }
  out.close_write();
  err.close_write();

  Outcome outcome;
  auto collected = collect(out, err, limits, outcome);
  if (!collected) ::kill(pid, SIGKILL);
  const int status = wait_for(pid);
  if (!collected) return tl::unexpected(collected.error());
  if (WIFSIGNALED(status)) {
    return fail(ErrorCode::kInternal, "{} died of signal {} ({})", argv[0], WTERMSIG(status),
                ::strsignal(WTERMSIG(status)));
  }
  outcome.exit_code = WEXITSTATUS(status);
  return outcome;
}

}  // namespace weft::subprocess
