// meshctl identity: a proxy's workload identity, from its admin /identity
// (mesh-proxy --ca-address; meshctl up turns it on).
#include <boost/json.hpp>
#include <iostream>

#include "controlplane/meshctl/commands.h"
#include "controlplane/meshctl/http_get.h"
#include "controlplane/meshctl/identity_view.h"
#include "controlplane/meshctl/output.h"
#include "controlplane/meshctl/proxy_config_view.h"

namespace weft::meshctl {

int identity(const Target& target, const IdentityArgs& args, Format format) {
  auto ref = parse_proxy_ref(args.proxy, args.ns);
  if (!ref) {
    std::cerr << "meshctl: " << ref.error() << "\n";
    return 2;
  }
  const auto name = ref->ns + "/" + ref->name;
  const auto config = get_json(target.status, "/config?proxy=" + name);
  if (!config) {
    std::cerr << "meshctl: " << config.error().message << "\n";
    return 1;
  }
  const auto admin = admin_address(*config);
  const auto answer = get_json(admin, "/identity");
  if (!answer || !answer->is_object()) {
    std::cerr << "meshctl: proxy " << name << " (admin " << admin
              << "): " << (answer ? "not an identity answer" : answer.error().message) << "\n";
    return 1;
  }
  if (format == Format::kTable) {
    std::cout << identity_text(name, answer->as_object(), std::chrono::system_clock::now());
  } else {
    std::cout << (format == Format::kYaml ? to_yaml(*answer) : pretty_json(*answer));
  }
  return 0;
}

}  // namespace weft::meshctl
