// meshctl up: a local mesh on 127.0.0.1 from a manifest directory. Runs
// the control plane (watching the directory, so route and policy edits
// apply live; restarted if it exits), and for every Deployment replica its
// application and a mesh-proxy sidecar. Deployments and Services added,
// removed or scaled while it runs start and stop replicas within a second
// or two. SIGINT, SIGTERM or SIGHUP stop the mesh: applications and
// sidecars first (each drains within the grace period), the control plane
// last.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <openssl/rand.h>
#include <signal.h>
#include <sys/stat.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <list>
#include <thread>

#include "common/duration.h"
#include "controlplane/ca/authority.h"
#include "controlplane/meshctl/commands.h"
#include "controlplane/meshctl/http_get.h"
#include "controlplane/meshctl/up_plan.h"
#include "controlplane/meshctl/up_processes.h"
#include "controlplane/server/proxy_auth.h"
#include "controlplane/sources/directory.h"

namespace weft::meshctl {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Free loopback ports, each held bound until release() so the kernel
// hands out no port twice while a plan is made.
class PortReservations {
 public:
  // `avoid`: a port chosen before, not yet bound (the status address the
  // user gave, which the kernel may hand out as free until it is bound).
  explicit PortReservations(std::string_view avoid_address) {
    auto colon = avoid_address.rfind(':');
    if (colon != std::string_view::npos) {
      std::from_chars(avoid_address.data() + colon + 1, avoid_address.data() + avoid_address.size(),
                      avoid_);
    }
  }
  std::uint32_t next() {
    for (;;) {
      auto& acceptor = held_.emplace_back(
          io_, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
      auto port = acceptor.local_endpoint().port();
      if (port != avoid_) return port;  // the held acceptor keeps it from coming back
    }
  }
  void release() { held_.clear(); }

 private:
  boost::asio::io_context io_;
  std::list<boost::asio::ip::tcp::acceptor> held_;
  std::uint32_t avoid_ = 0;
};

// Whether something listens on 127.0.0.1:`port` (a loopback connect is
// answered at once: accepted or refused).
bool accepts_connections(std::uint32_t port) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  boost::system::error_code ec;
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<std::uint16_t>(port)},
                 ec);
  return !ec;
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

bool accepts(std::uint32_t port) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  boost::system::error_code ec;
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)},
                 ec);
  return !ec;
}

boost::json::object ports_json(const std::map<std::uint32_t, std::uint32_t>& ports) {
  boost::json::object out;
  for (const auto& [from, to] : ports) out[std::to_string(from)] = to;
  return out;
}

void write_state(const fs::path& file, const UpPlan& plan, const std::string& grpc,
                 const std::string& ca, const std::string& status, const fs::path& manifests) {
  boost::json::array workloads;
  for (const auto& w : plan.workloads) {
    workloads.push_back(boost::json::object{{"name", w.name},
                                            {"namespace", w.ns},
                                            {"service_account", w.service_account},
                                            {"outbound", w.outbound},
                                            {"admin", w.admin},
                                            {"metrics", w.metrics},
                                            {"app_ports", ports_json(w.app_ports)},
                                            {"inbound", ports_json(w.inbound)}});
  }
  auto temporary = file;
  temporary += ".tmp";
  std::ofstream(temporary)
      << boost::json::serialize(boost::json::object{
             {"manifests", manifests.string()},
             {"controlplane",
              boost::json::object{
                  {"grpc", grpc},
                  {"ca", ca},
                  {"ca_root", (file.parent_path() / "ca" / cp::ca::kRootCertFile).string()},
                  {"status", status}}},
             {"workloads", workloads}})
      << "\n";
  fs::rename(temporary, file);  // readers never see half a file
}

// "a->b,c->d", or "-" for none.
std::string port_map(const std::map<std::uint32_t, std::uint32_t>& ports) {
  std::string mapped;
  for (const auto& [from, to] : ports) {
    mapped += fmt::format("{}{}->{}", mapped.empty() ? "" : ",", from, to);
  }
  return mapped.empty() ? "-" : mapped;
}

std::string table_of(const UpPlan& plan) {
  std::vector<std::vector<std::string>> rows{{"WORKLOAD", "APP PORTS", "INBOUND (app->sidecar)",
                                              "OUTBOUND (http_proxy)", "ADMIN", "METRICS"}};
  for (const auto& w : plan.workloads) {
    rows.push_back({w.ns + "/" + w.name, port_map(w.app_ports), port_map(w.inbound),
                    fmt::format("127.0.0.1:{}", w.outbound), fmt::format("127.0.0.1:{}", w.admin),
                    fmt::format("127.0.0.1:{}", w.metrics)});
  }
  return table(rows);
}

// Writes a file only its owner reads: the bootstrap key and the tokens.
bool write_secret(const fs::path& path, std::string_view content) {
  const mode_t previous = umask(077);
  std::ofstream out(path, std::ios::trunc);
  out << content << "\n";
  umask(previous);
  return out.good();
}

// A fresh bootstrap key: 32 random bytes, hex.
std::string new_bootstrap_key() {
  std::array<unsigned char, 32> bytes{};
  RAND_bytes(bytes.data(), static_cast<int>(bytes.size()));
  std::string hex;
  for (auto b : bytes) hex += fmt::format("{:02x}", b);
  return hex;
}

// One Deployment replica: its application and its sidecar.
struct Replica {
  LocalWorkload workload;
  Child app, sidecar;
};

// The running mesh: what it was asked to run, the processes running it.
class LocalMesh {
 public:
  LocalMesh(const UpOptions& options, fs::path manifests, fs::path state, fs::path binaries,
            std::string grpc, std::string ca)
      : options_(options),
        manifests_(std::move(manifests)),
        state_(std::move(state)),
        binaries_(std::move(binaries)),
        grpc_(std::move(grpc)),
        ca_(std::move(ca)),
        source_({manifests_}),
        record_(state_ / "processes") {}

  ProcessRecord& record() { return record_; }
  std::chrono::seconds grace() const { return std::chrono::seconds(options_.grace_seconds); }

  // The control plane, with the generated manifests of `plan` to read.
  bool start_control_plane(UpPlan plan) {
    plan_ = std::move(plan);
    publish();
    // Each sidecar proves its name with a bootstrap token under this key,
    // as a Pod's does with its projected token in Kubernetes.
    key_ = new_bootstrap_key();
    fs::create_directories(state_ / "secrets" / "tokens");
    if (!write_secret(key_file(), key_)) {
      std::cerr << "meshctl up: cannot write " << key_file().string() << "\n";
      return false;
    }
    // The mesh's root, made here (once per state directory) rather than by
    // the control plane, so that it exists before any sidecar is told to
    // trust it. It outlives `meshctl up`: a restart keeps the identities.
    if (auto root = cp::ca::load_or_create_root(ca_dir()); !root) {
      std::cerr << "meshctl up: " << root.error().message << "\n";
      return false;
    }
    bool ok = start_control_plane();
    record_processes();
    return ok;
  }

  bool start_replicas() {
    bool ok = true;
    for (const auto& w : plan_.workloads) ok = ok && start_replica(w);
    record_processes();
    return ok;
  }

  bool in_sync() const { return all_in_sync(options_.status_address, plan_.workloads.size()); }
  // Every application accepts connections on every port it declares (a
  // Pod's readiness): until then its sidecar could only answer 503.
  bool apps_listening() const {
    for (const auto& w : plan_.workloads) {
      for (const auto& [declared, local] : w.app_ports) {
        if (!accepts_connections(local)) return false;
      }
    }
    return true;
  }
  const UpPlan& plan() const { return plan_; }

  // Reaps what exited; the control plane is restarted, as its Deployment
  // would be (the sidecars keep serving meanwhile and reconnect).
  void supervise() {
    constexpr int kMaxRestarts = 20;
    if (auto exited = reap(control_plane_)) {
      report_exit(control_plane_.what, *exited);
      if (restarts_++ < kMaxRestarts && start_control_plane()) {
        std::cerr << "meshctl up: control plane restarted\n";
      }
      record_processes();
    }
    for (auto& [name, replica] : replicas_) {
      for (auto* child : {&replica.app, &replica.sidecar}) {
        if (auto exited = reap(*child)) report_exit(child->what, *exited);
      }
    }
  }

  // Applies Deployment and Service changes in the manifest directory:
  // replicas added start, removed ones stop, changed ones restart.
  void reconcile();

  void stop_all() {
    std::vector<Child*> workloads;
    for (auto& [name, replica] : replicas_) {
      workloads.push_back(&replica.app);
      workloads.push_back(&replica.sidecar);
    }
    report_killed(stop(workloads, grace()));
    report_killed(stop({&control_plane_}, grace()));
    replicas_.clear();
    record_.remove();
  }

 private:
  static void report_exit(const std::string& what, int wait_status) {
    std::cerr << "meshctl up: " << what << " exited (" << describe_exit(wait_status) << ")\n";
  }

  void report_killed(const std::vector<std::string>& killed) const {
    for (const auto& what : killed) {
      std::cerr << fmt::format("meshctl up: {} did not exit within {} s of SIGTERM: killed\n", what,
                               options_.grace_seconds);
    }
  }

  bool start_control_plane() {
    auto child =
        spawn("control plane",
              {(binaries_ / "mesh-controlplane").string(), "--manifests", manifests_.string(),
               "--manifests", (state_ / "generated").string(), "--grpc-address", grpc_,
               "--status-address", options_.status_address, "--bootstrap-key", key_file().string(),
               "--ca-dir", ca_dir().string(), "--ca-address", ca_, "--cert-default-ttl",
               options_.cert_ttl, "--cert-max-ttl", max_ttl()},
              {}, state_ / "logs" / "controlplane.log", manifests_);
    if (child) control_plane_ = *child;
    return child.has_value();
  }

  bool start_replica(const LocalWorkload& w) {
    auto logs = state_ / "logs";
    auto app = spawn(w.name, w.command, w.env, logs / (w.name + ".app.log"), manifests_);
    const auto token = state_ / "secrets" / "tokens" / (w.ns + "." + w.name);
    if (!write_secret(token, cp::server::bootstrap_token(key_, {w.name, w.ns}))) {
      std::cerr << "meshctl up: cannot write " << token.string() << "\n";
    }
    auto sidecar =
        spawn(w.name + " sidecar",
              {(binaries_ / "mesh-proxy").string(), "--controlplane", grpc_, "--node", w.name,
               "--namespace", w.ns, "--concurrency", "1", "--token-file", token.string(),
               // Its workload certificate, from the control plane's authority.
               "--ca-address", ca_, "--ca-root", (ca_dir() / cp::ca::kRootCertFile).string(),
               // A local mesh is for looking inside: meshctl tap works on it.
               "--tap"},
              {}, logs / (w.name + ".proxy.log"), manifests_);
    auto& replica = replicas_[w.name];
    replica.workload = w;
    if (app) replica.app = *app;
    if (sidecar) replica.sidecar = *sidecar;
    return app && sidecar;
  }

  void stop_replicas(const std::vector<std::string>& names) {
    std::vector<Child*> children;
    for (const auto& name : names) {
      auto& replica = replicas_.at(name);
      children.push_back(&replica.app);
      children.push_back(&replica.sidecar);
    }
    report_killed(stop(children, grace()));
    for (const auto& name : names) replicas_.erase(name);
  }

  // The generated Pods and EndpointSlices (read by the control plane) and
  // mesh.json (read by scripts), for the current plan.
  void publish() const {
    auto generated = state_ / "generated" / "workloads.yaml";
    auto temporary = generated;
    temporary += ".tmp";
    std::ofstream(temporary) << plan_.manifests;
    fs::rename(temporary, generated);
    write_state(state_ / "mesh.json", plan_, grpc_, ca_, options_.status_address, manifests_);
  }

  void record_processes() const {
    std::vector<const Child*> children{&control_plane_};
    for (const auto& [name, replica] : replicas_) {
      children.push_back(&replica.app);
      children.push_back(&replica.sidecar);
    }
    record_.write(children);
  }

  fs::path key_file() const { return state_ / "secrets" / "bootstrap.key"; }
  fs::path ca_dir() const { return state_ / "ca"; }
  // The control plane's maximum: the default's, if that is longer.
  std::string max_ttl() const {
    auto ttl = parse_duration(options_.cert_ttl);
    return ttl && *ttl > std::chrono::hours(168) ? options_.cert_ttl : "168h";
  }

  const UpOptions& options_;
  fs::path manifests_, state_, binaries_;
  std::string key_;  // of the bootstrap tokens; a new one per `meshctl up`
  std::string grpc_;
  std::string ca_;  // the control plane's TLS port: Sign
  cp::sources::DirectorySource source_;
  ProcessRecord record_;
  UpPlan plan_;
  Child control_plane_;
  std::map<std::string, Replica> replicas_;
  int restarts_ = 0;
  std::string last_problem_;  // printed once, not every second
};

void LocalMesh::reconcile() {
  auto loaded = source_.load();
  std::string problems;
  for (const auto& e : loaded.errors) problems += "meshctl up: " + e.message + "\n";
  PortReservations ports(options_.status_address);
  auto next = plan_up(
      *loaded.store, [&ports] { return ports.next(); }, &plan_);
  ports.release();
  if (!next) problems += "meshctl up: " + next.error().message + "\n";
  if (problems != last_problem_) {
    std::cerr << problems << (problems.empty() ? "" : "meshctl up: the running replicas stay\n");
    last_problem_ = problems;
  }
  if (!next || next->manifests == plan_.manifests) return;

  std::vector<std::string> removed, restarted;
  std::vector<const LocalWorkload*> starting;
  for (const auto& [name, replica] : replicas_) {
    const auto& running = replica.workload;
    auto it = std::find_if(next->workloads.begin(), next->workloads.end(),
                           [&running](const auto& w) { return w.name == running.name; });
    if (it == next->workloads.end()) {
      removed.push_back(name);
    } else if (!it->same_processes(running)) {
      restarted.push_back(name);
    }
  }
  for (const auto& w : next->workloads) {
    auto it = replicas_.find(w.name);
    if (it == replicas_.end() || !w.same_processes(it->second.workload)) starting.push_back(&w);
  }
  // A changed replica keeps its ports: it stops before it starts again.
  stop_replicas(restarted);
  for (const auto* w : starting) {
    start_replica(*w);
    std::cout << "meshctl up: started " << w->ns << "/" << w->name << "\n";
  }
  // Endpoints are published once the new applications listen, so no
  // request is sent to a port nobody has opened yet.
  wait_until(10s, [&] {
    return std::all_of(starting.begin(), starting.end(), [](const auto* w) {
      return std::all_of(w->app_ports.begin(), w->app_ports.end(),
                         [](const auto& port) { return accepts(port.second); });
    });
  });
  plan_ = std::move(*next);
  publish();
  // Removed replicas stop after the control plane was told: their sidecars
  // drain what is still in flight.
  stop_replicas(removed);
  for (const auto& name : removed) std::cout << "meshctl up: stopped " << name << "\n";
  record_processes();
  std::cout << std::flush;
}

fs::path make_state_dir(const UpOptions& options) {
  // Absolute: the control plane and the sidecars run in other directories.
  fs::path state = options.state_dir.empty() ? fs::path() : fs::absolute(options.state_dir);
  if (state.empty()) {
    std::string pattern = (fs::temp_directory_path() / "meshctl-up-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) return {};
    state = pattern;
  }
  fs::create_directories(state / "generated");
  fs::create_directories(state / "logs");
  return state;
}

}  // namespace

int up(const UpOptions& options) {
  fs::path manifests = fs::absolute(options.manifests);
  cp::sources::DirectorySource source({manifests});
  auto loaded = source.load();
  for (const auto& e : loaded.errors) std::cerr << "meshctl up: " << e.message << "\n";
  if (!loaded.errors.empty()) return 1;
  PortReservations ports(options.status_address);
  auto plan = plan_up(*loaded.store, [&ports] { return ports.next(); });
  if (!plan) {
    std::cerr << "meshctl up: " << plan.error().message << "\n";
    return 1;
  }
  if (plan->workloads.empty()) {
    std::cerr << "meshctl up: " << manifests.string() << " declares no Deployments to run\n";
    return 1;
  }
  fs::path state = make_state_dir(options);
  if (state.empty()) {
    std::cerr << "meshctl up: mkdtemp: " << std::strerror(errno) << "\n";
    return 1;
  }
  fs::path binaries = options.binaries.empty() ? fs::read_symlink("/proc/self/exe").parent_path()
                                               : fs::path(options.binaries);
  auto grpc = fmt::format("127.0.0.1:{}", ports.next());
  auto ca = fmt::format("127.0.0.1:{}", ports.next());
  ports.release();

  LocalMesh mesh(options, manifests, state, binaries, grpc, ca);
  auto leftovers = mesh.record().stop_leftovers();
  if (!leftovers) {
    std::cerr << "meshctl up: " << leftovers.error().message << "\n";
    return 1;
  }
  if (!leftovers->empty()) {
    std::cerr << fmt::format("meshctl up: stopped {} processes left by an earlier run in {}: {}\n",
                             leftovers->size(), state.string(), fmt::join(*leftovers, ", "));
  }

  // Stop on SIGINT, SIGTERM or SIGHUP (a closed terminal): blocked here and
  // waited for below; children get the default mask back (up_processes).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  for (int signal : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&stop_signals, signal);
  sigprocmask(SIG_BLOCK, &stop_signals, nullptr);

  bool ok = mesh.start_control_plane(std::move(*plan));
  ok = ok && wait_until(10s, [&] {
         auto ready = http_get(options.status_address, "/ready", 1s);
         return ready && ready->status == 200;
       });
  ok = ok && mesh.start_replicas();
  if (!ok) {
    std::cerr << "meshctl up: the mesh did not start; see " << (state / "logs").string() << "\n";
    mesh.stop_all();
    return 1;
  }
  bool synced = wait_until(20s, [&] { return mesh.in_sync(); });
  const bool listening = wait_until(20s, [&] { return mesh.apps_listening(); });
  std::cout << table_of(mesh.plan())
            << fmt::format(
                   "\ncontrol plane: gRPC {}, certificates {}, status {} (meshctl status)\nstate "
                   "and logs: {}\n",
                   grpc, ca, options.status_address, state.string());
  std::cout << (!synced      ? "mesh up, but not every sidecar is in sync yet (meshctl status)\n"
                : !listening ? "mesh up, but not every application listens yet (see the logs)\n"
                             : "mesh up: every sidecar has its configuration and every "
                               "application listens; Ctrl-C stops it\n")
            << std::flush;

  for (int tick = 1;; ++tick) {
    timespec wait{0, 200'000'000};
    if (sigtimedwait(&stop_signals, nullptr, &wait) > 0) break;
    mesh.supervise();
    if (tick % 5 == 0) mesh.reconcile();
  }
  std::cout << "stopping the mesh\n" << std::flush;
  mesh.stop_all();
  std::cout << "mesh stopped\n" << std::flush;
  return 0;
}

}  // namespace weft::meshctl
