// meshctl install / uninstall: kubectl does the applying, so what users get
// is what `kubectl apply -f deploy/` gives them, with kubectl's own output
// and errors.
#include "controlplane/meshctl/install.h"

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

namespace weft::meshctl {
namespace {

// Runs kubectl with `args` on the rendered manifests; its exit status.
int kubectl(const InstallOptions& options, std::vector<std::string> args) {
  auto path =
      std::filesystem::temp_directory_path() / fmt::format("weft-install-{}.yaml", getpid());
  std::ofstream(path) << render_install(options.settings);
  args.insert(args.begin(), "kubectl");
  if (!options.kubeconfig.empty()) args.push_back("--kubeconfig=" + options.kubeconfig);
  args.push_back("-f");
  args.push_back(path.string());
  pid_t child = fork();
  if (child == 0) {
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    execvp("kubectl", argv.data());
    std::cerr << "meshctl: cannot run kubectl: " << std::strerror(errno) << "\n";
    _exit(127);
  }
  int status = 0;
  waitpid(child, &status, 0);
  std::filesystem::remove(path);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

// The settings' problem on standard error, or true.
bool settings_ok(const InstallOptions& options) {
  auto problem = check_settings(options.settings);
  if (problem.empty()) return true;
  std::cerr << "meshctl: " << problem << "\n";
  return false;
}

}  // namespace

int install(const InstallOptions& options) {
  if (!settings_ok(options)) return 2;
  if (options.dry_run) {
    std::cout << render_install(options.settings);
    return 0;
  }
  return kubectl(options, {"apply"});
}

int uninstall(const InstallOptions& options) {
  if (!settings_ok(options)) return 2;
  if (options.dry_run) {
    std::cout << render_install(options.settings);
    return 0;
  }
  return kubectl(options, {"delete", "--ignore-not-found"});
}

}  // namespace weft::meshctl
