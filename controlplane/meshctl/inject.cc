// meshctl inject: what the admission webhook would do to each workload's
// Pods, applied offline to manifests (kubectl apply -f <(meshctl inject -f app.yaml)).
#include <fstream>
#include <iostream>
#include <sstream>

#include "controlplane/meshctl/commands.h"
#include "injector/manifests.h"

namespace weft::meshctl {

int inject(const std::string& file, const injector::Settings& settings) {
  std::ostringstream text;
  if (file == "-") {
    text << std::cin.rdbuf();
  } else {
    std::ifstream in(file);
    if (!in) {
      std::cerr << "meshctl inject: cannot read " << file << "\n";
      return 1;
    }
    text << in.rdbuf();
  }
  auto injected = injector::inject_manifests(text.str(), settings);
  if (!injected) {
    std::cerr << "meshctl inject: " << (file == "-" ? "stdin" : file) << ": "
              << injected.error().message << "\n";
    return 1;
  }
  for (const auto& note : injected->notes) std::cerr << "meshctl inject: " << note << "\n";
  std::cout << injected->yaml;
  return 0;
}

}  // namespace weft::meshctl
