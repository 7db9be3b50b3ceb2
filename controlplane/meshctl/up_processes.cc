#include "controlplane/meshctl/up_processes.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace weft::meshctl {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct ProcStat {
  char state = '?';  // 'Z': exited, waiting for its parent to reap it
  pid_t process_group = 0;
  unsigned long long start_time = 0;
};

// Fields 5 (pgrp) and 22 (starttime) of /proc/PID/stat; the command name
// (field 2) may hold spaces and parentheses, so fields count from its last ')'.
std::optional<ProcStat> read_stat(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(close + 1));
  std::vector<std::string> after;  // after[0] is field 3
  for (std::string f; fields >> f;) after.push_back(f);
  if (after.size() < 20) return std::nullopt;
  return ProcStat{after[0][0], static_cast<pid_t>(std::stol(after[2])), std::stoull(after[19])};
}

// Runs in the forked child, before exec: only async-signal-safe calls
// matter here, and the process is single-threaded up to exec.
void reset_signals() {
  // meshctl blocks SIGINT and SIGTERM to wait for them, and exec keeps a
  // blocked mask and ignored dispositions: a child would never see them.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int signal = 1; signal < NSIG; ++signal) {
    if (signal != SIGKILL && signal != SIGSTOP) sigaction(signal, &default_action, nullptr);
  }
}

}  // namespace

Result<Child> spawn(const std::string& what, const std::vector<std::string>& argv,
                    const std::map<std::string, std::string>& env, const fs::path& log,
                    const fs::path& cwd) {
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return fail(ErrorCode::kInternal, "fork: {}", std::strerror(errno));
  if (pid == 0) {
    reset_signals();
    setpgid(0, 0);
    // Dies with meshctl. SIGKILL: a meshctl that died cannot wait for a
    // drain, and a child that ignores SIGTERM must not outlive it. Checked
    // after it is set, in case meshctl died before.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
    }
    for (const auto& [name, value] : env) setenv(name.c_str(), value.c_str(), 1);
    if (chdir(cwd.c_str()) != 0) _exit(127);
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    fprintf(stderr, "meshctl up: cannot run %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  setpgid(pid, pid);  // also here: a stop right after spawn must find the group
  auto stat = read_stat(pid);
  return Child{what, pid, stat ? stat->start_time : 0};
}

std::optional<int> reap(Child& child) {
  int status = 0;
  if (child.pid <= 0 || waitpid(child.pid, &status, WNOHANG) != child.pid) return std::nullopt;
  // What the child started in its group goes with it.
  kill(-child.pid, SIGKILL);
  child.pid = -1;
  return status;
}

std::string describe_exit(int wait_status) {
  return WIFEXITED(wait_status) ? fmt::format("status {}", WEXITSTATUS(wait_status))
                                : fmt::format("signal {}", WTERMSIG(wait_status));
}

std::vector<std::string> stop(const std::vector<Child*>& children,
                              std::chrono::milliseconds grace) {
  for (auto* child : children) {
    if (child->pid > 0) kill(-child->pid, SIGTERM);
  }
  auto deadline = std::chrono::steady_clock::now() + grace;
  std::vector<std::string> killed;
  for (auto* child : children) {
    while (child->pid > 0 && !reap(*child)) {
      if (std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);
        continue;
      }
      kill(-child->pid, SIGKILL);
      waitpid(child->pid, nullptr, 0);
      child->pid = -1;
      killed.push_back(child->what);
    }
  }
  return killed;
}

Result<std::vector<std::string>> ProcessRecord::stop_leftovers() const {
  std::ifstream in(file_);
  std::string word;
  pid_t owner = 0;
  unsigned long long owner_start = 0;
  if (!(in >> word >> owner >> owner_start) || word != "meshctl") return {};
  if (auto stat = read_stat(owner); stat && stat->start_time == owner_start && owner != getpid()) {
    return fail(ErrorCode::kUnavailable,
                "{} belongs to a meshctl up that is still running (pid {}); stop it first",
                file_.parent_path().string(), owner);
  }
  std::map<pid_t, unsigned long long> groups;  // process group -> its leader's start time
  pid_t group = 0;
  unsigned long long start = 0;
  while (in >> group >> start) {
    groups[group] = start;
    std::getline(in, word);  // what it was
  }
  std::vector<std::string> stopped;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = std::stoi(name);
    auto stat = read_stat(pid);
    if (!stat || stat->state == 'Z') continue;
    auto it = groups.find(stat->process_group);
    // Started no earlier than the group's leader: not a process that only
    // reuses the number.
    if (it != groups.end() && stat->start_time >= it->second && kill(pid, SIGKILL) == 0) {
      std::string command;
      std::getline(std::ifstream(entry.path() / "comm"), command);
      stopped.push_back(fmt::format("{} ({})", command, pid));
    }
  }
  return stopped;
}

void ProcessRecord::write(const std::vector<const Child*>& children) const {
  auto self = read_stat(getpid());
  std::string text = fmt::format("meshctl {} {}\n", getpid(), self ? self->start_time : 0);
  for (const auto* child : children) {
    if (child->pid > 0)
      text += fmt::format("{} {} {}\n", child->pid, child->start_time, child->what);
  }
  auto temporary = file_;
  temporary += ".tmp";
  std::ofstream(temporary) << text;
  fs::rename(temporary, file_);
}

void ProcessRecord::remove() const {
  std::error_code ignored;
  fs::remove(file_, ignored);
}

}  // namespace weft::meshctl
