// meshctl up: a local mesh on 127.0.0.1 from a manifest directory. Runs
// the control plane (watching the directory, so edits apply live; restarted
// if it exits), and for every Deployment replica its application and a
// mesh-proxy sidecar, until SIGINT or SIGTERM; then stops them all.
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <list>
#include <thread>

#include "controlplane/meshctl/commands.h"
#include "controlplane/meshctl/http_get.h"
#include "controlplane/meshctl/up_plan.h"
#include "controlplane/sources/directory.h"

namespace weft::meshctl {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Free loopback ports, each held bound until release() so the kernel
// hands out no port twice while a plan is made.
class PortReservations {
 public:
  std::uint32_t next() {
    auto& acceptor = held_.emplace_back(
        io_, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    return acceptor.local_endpoint().port();
  }
  void release() { held_.clear(); }

 private:
  boost::asio::io_context io_;
  std::list<boost::asio::ip::tcp::acceptor> held_;
};

struct Child {
  std::string what;
  pid_t pid = -1;
};

// Starts `argv` with `env` added to ours, output to `log`, in `cwd`. The
// child gets SIGTERM if meshctl dies, so nothing outlives it.
Result<Child> spawn(const std::string& what, const std::vector<std::string>& argv,
                    const std::map<std::string, std::string>& env, const fs::path& log,
                    const fs::path& cwd) {
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return fail(ErrorCode::kInternal, "fork: {}", std::strerror(errno));
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
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
  return Child{what, pid};
}

void stop_all(std::vector<Child>& children) {
  // Sidecars and applications first, the control plane (first started) last.
  for (auto it = children.rbegin(); it != children.rend(); ++it) {
    if (it->pid > 0) kill(it->pid, SIGTERM);
  }
  auto deadline = std::chrono::steady_clock::now() + 5s;
  for (auto& child : children) {
    while (child.pid > 0) {
      if (waitpid(child.pid, nullptr, WNOHANG) == child.pid) {
        child.pid = -1;
      } else if (std::chrono::steady_clock::now() > deadline) {
        kill(child.pid, SIGKILL);
        waitpid(child.pid, nullptr, 0);
        child.pid = -1;
      } else {
        std::this_thread::sleep_for(20ms);
      }
    }
  }
}

bool wait_until(std::chrono::milliseconds limit, const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return done();
}

bool all_in_sync(const std::string& status, std::size_t expected) {
  auto response = http_get(status, "/status", 2s);
  if (!response || response->status != 200) return false;
  boost::system::error_code ec;
  auto value = boost::json::parse(response->body, ec);
  if (ec) return false;
  const auto& proxies = value.at("proxies").as_array();
  if (proxies.size() != expected) return false;
  return std::all_of(proxies.begin(), proxies.end(),
                     [](const auto& p) { return p.at("in_sync").as_bool(); });
}

void write_state(const fs::path& file, const UpPlan& plan, const std::string& grpc,
                 const std::string& status, const fs::path& manifests) {
  boost::json::array workloads;
  for (const auto& w : plan.workloads) {
    boost::json::object ports;
    for (const auto& [declared, local] : w.app_ports) ports[std::to_string(declared)] = local;
    workloads.push_back(boost::json::object{{"name", w.name},
                                            {"namespace", w.ns},
                                            {"outbound", w.outbound},
                                            {"admin", w.admin},
                                            {"metrics", w.metrics},
                                            {"app_ports", ports}});
  }
  std::ofstream(file) << boost::json::serialize(boost::json::object{
                             {"manifests", manifests.string()},
                             {"controlplane",
                              boost::json::object{{"grpc", grpc}, {"status", status}}},
                             {"workloads", workloads}})
                      << "\n";
}

}  // namespace

int up(const UpOptions& options) {
  fs::path manifests = fs::absolute(options.manifests);
  cp::sources::DirectorySource source({manifests});
  auto loaded = source.load();
  for (const auto& e : loaded.errors) std::cerr << "meshctl up: " << e.message << "\n";
  if (!loaded.errors.empty()) return 1;
  PortReservations ports;
  auto plan = plan_up(*loaded.store, [&ports] { return ports.next(); });
  if (!plan) {
    std::cerr << "meshctl up: " << plan.error().message << "\n";
    return 1;
  }
  if (plan->workloads.empty()) {
    std::cerr << "meshctl up: " << manifests.string() << " declares no Deployments to run\n";
    return 1;
  }
  fs::path state = options.state_dir;
  if (state.empty()) {
    std::string pattern = (fs::temp_directory_path() / "meshctl-up-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      std::cerr << "meshctl up: mkdtemp: " << std::strerror(errno) << "\n";
      return 1;
    }
    state = pattern;
  }
  fs::create_directories(state / "generated");
  fs::create_directories(state / "logs");
  std::ofstream(state / "generated" / "workloads.yaml") << plan->manifests;

  fs::path binaries = options.binaries.empty() ? fs::read_symlink("/proc/self/exe").parent_path()
                                               : fs::path(options.binaries);
  auto grpc = fmt::format("127.0.0.1:{}", ports.next());
  ports.release();

  // Stop on SIGINT/SIGTERM: block them here, poll for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigprocmask(SIG_BLOCK, &stop_signals, nullptr);

  std::vector<Child> children;
  auto start = [&](const std::string& what, const std::vector<std::string>& argv,
                   const std::map<std::string, std::string>& env, const std::string& log) {
    auto child = spawn(what, argv, env, state / "logs" / log, manifests);
    if (child) children.push_back(*child);
    return child.has_value();
  };
  const std::vector<std::string> controlplane_argv{(binaries / "mesh-controlplane").string(),
                                                   "--manifests",
                                                   manifests.string(),
                                                   "--manifests",
                                                   (state / "generated").string(),
                                                   "--grpc-address",
                                                   grpc,
                                                   "--status-address",
                                                   options.status_address};
  bool ok = start("control plane", controlplane_argv, {}, "controlplane.log");
  ok = ok && wait_until(10s, [&] {
         auto ready = http_get(options.status_address, "/ready", 1s);
         return ready && ready->status == 200;
       });
  if (!ok) {
    std::cerr << "meshctl up: the control plane did not become ready; see "
              << (state / "logs" / "controlplane.log").string() << "\n";
    stop_all(children);
    return 1;
  }
  for (const auto& w : plan->workloads) {
    ok = ok && start(w.name, w.command, w.env, w.name + ".app.log");
    ok = ok && start(w.name + " sidecar",
                     {(binaries / "mesh-proxy").string(), "--controlplane", grpc, "--node", w.name,
                      "--namespace", w.ns, "--concurrency", "1"},
                     {}, w.name + ".proxy.log");
  }
  write_state(state / "mesh.json", *plan, grpc, options.status_address, manifests);
  bool synced = ok && wait_until(20s, [&] {
                  return all_in_sync(options.status_address, plan->workloads.size());
                });

  std::vector<std::vector<std::string>> rows{
      {"WORKLOAD", "APP PORTS", "OUTBOUND (http_proxy)", "ADMIN"}};
  for (const auto& w : plan->workloads) {
    std::string mapped;
    for (const auto& [declared, local] : w.app_ports) {
      mapped += fmt::format("{}{}->{}", mapped.empty() ? "" : ",", declared, local);
    }
    rows.push_back({w.ns + "/" + w.name, mapped.empty() ? "-" : mapped,
                    fmt::format("127.0.0.1:{}", w.outbound), fmt::format("127.0.0.1:{}", w.admin)});
  }
  std::cout << table(rows)
            << fmt::format(
                   "\ncontrol plane: gRPC {}, status {} (meshctl status)\nstate and logs: {}\n",
                   grpc, options.status_address, state.string());
  std::cout << (synced ? "mesh up: every sidecar has its configuration; Ctrl-C stops it\n"
                       : "mesh up, but not every sidecar is in sync yet (meshctl status)\n")
            << std::flush;

  int exit_code = ok ? 0 : 1;
  constexpr int kMaxRestarts = 20;
  int restarts = 0;
  while (ok) {
    timespec tick{0, 200'000'000};
    if (sigtimedwait(&stop_signals, nullptr, &tick) > 0) break;
    for (auto& child : children) {
      int wstatus = 0;
      if (child.pid > 0 && waitpid(child.pid, &wstatus, WNOHANG) == child.pid) {
        std::cerr << "meshctl up: " << child.what << " exited ("
                  << (WIFEXITED(wstatus) ? fmt::format("status {}", WEXITSTATUS(wstatus))
                                         : fmt::format("signal {}", WTERMSIG(wstatus)))
                  << "); see " << (state / "logs").string() << "\n";
        child.pid = -1;
        // The control plane is restarted, as its Deployment would be; the
        // sidecars keep serving meanwhile and reconnect.
        if (&child == &children.front() && restarts++ < kMaxRestarts) {
          auto again = spawn(child.what, controlplane_argv, {}, state / "logs" / "controlplane.log",
                             manifests);
          if (again) child = *again;
          std::cerr << "meshctl up: control plane restarted\n";
        }
      }
    }
  }
  std::cout << "stopping the mesh\n" << std::flush;
  stop_all(children);
  return exit_code;
}

}  // namespace weft::meshctl
