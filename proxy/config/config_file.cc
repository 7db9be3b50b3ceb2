#include "proxy/config/config_file.h"

#include <unistd.h>

#include <array>
#include <filesystem>
#include <iostream>

#include "common/subprocess.h"
#include "common/yaml_proto.h"

namespace weft::proxy::config {

int compile_config_main(const std::string& path) {
  mesh::v1::ProxyConfig config;
  if (auto loaded = yaml::load_message(path, config); !loaded) {
    std::cerr << loaded.error().message << "\n";
    return 1;
  }
  if (!config.SerializeToFileDescriptor(STDOUT_FILENO)) {
    std::cerr << path << ": cannot write the compiled configuration\n";
    return 1;
  }
  return 0;
}

std::string self_executable() {
  std::error_code ec;
  auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  // Replaced on disk since it started ("... (deleted)"): the kernel's link
  // still reaches the running image.
  if (ec || !std::filesystem::exists(path, ec)) return "/proc/self/exe";
  return path.string();
}

Result<mesh::v1::ProxyConfig> read_config_file(const std::string& path,
                                               const std::string& program) {
  const std::array<std::string, 3> argv{program, "--compile-config", path};
  auto outcome = subprocess::run(argv);
  if (!outcome) return tl::unexpected(with_context(outcome.error(), path + ": config reader"));
  if (outcome->exit_code != 0) {
    auto message = outcome->errors;
    while (!message.empty() && message.back() == '\n') message.pop_back();
    if (message.empty()) {
      message = path + ": config reader exited with " + std::to_string(outcome->exit_code);
    }
    return tl::unexpected(Error{ErrorCode::kInvalidArgument, std::move(message)});
  }
  mesh::v1::ProxyConfig config;
  if (!config.ParseFromString(outcome->output)) {
    return fail(ErrorCode::kInternal, "{}: config reader wrote an unreadable configuration", path);
  }
  return config;
}

}  // namespace weft::proxy::config
