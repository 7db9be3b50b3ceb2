// meshctl why SRC DST: every object that shapes the path from a workload to
// a Service, from the control plane's current mesh (/debug/why) or, with
// --manifests, from manifests read here the way the control plane reads
// them.
#include <boost/json.hpp>
#include <iostream>

#include "common/admin_http.h"
#include "controlplane/explain/why.h"
#include "controlplane/meshctl/commands.h"
#include "controlplane/meshctl/http_get.h"
#include "controlplane/meshctl/proxy_config_view.h"
#include "controlplane/meshctl/why_view.h"
#include "controlplane/sources/directory.h"

namespace weft::meshctl {
namespace {

// The answer from manifests on disk; problems reading them go to stderr.
Result<boost::json::value> why_offline(const std::vector<std::string>& manifests,
                                       const cp::explain::Query& query) {
  std::vector<std::filesystem::path> paths(manifests.begin(), manifests.end());
  cp::sources::DirectorySource source(paths);
  auto snapshot = source.load();
  for (const auto& e : snapshot.errors) {
    std::cerr << "meshctl: manifest " << e.file << ": " << e.message << "\n";
  }
  auto mesh = cp::translate::compile(*snapshot.store);
  auto answer = cp::explain::why(*mesh, {*snapshot.store, snapshot.locations}, query);
  if (!answer) return tl::unexpected(answer.error());
  return boost::json::value(std::move(*answer));
}

}  // namespace

int why(const Target& target, const WhyArgs& args, Format format) {
  auto source = parse_proxy_ref(args.source, args.ns);
  if (!source) {
    std::cerr << "meshctl: " << source.error() << "\n";
    return 2;
  }
  auto destination = parse_service_ref(args.destination, source->ns);
  if (!destination) {
    std::cerr << "meshctl: " << destination.error() << "\n";
    return 2;
  }
  cp::explain::Query query{source->name,    source->ns,        destination->name,
                           destination->ns, destination->port, {args.method, args.target, {}}};
  for (const auto& h : args.headers) {
    auto header = parse_header(h);
    if (!header) {
      std::cerr << "meshctl: " << header.error() << "\n";
      return 2;
    }
    query.request.headers.push_back(std::move(*header));
  }
  if (query.request.target.empty() || query.request.target.front() != '/') {
    std::cerr << "meshctl: --path '" << args.target << "' does not start with /\n";
    return 2;
  }
  auto answer = args.manifests.empty()
                    ? get_json(target.status, "/debug/why?" + cp::explain::query_string(query))
                    : why_offline(args.manifests, query);
  if (!answer || !answer->is_object()) {
    std::cerr << "meshctl: "
              << (answer ? "not an answer from the control plane" : answer.error().message) << "\n";
    return 1;
  }
  switch (format) {
    case Format::kJson:
      std::cout << pretty_json(*answer);
      break;
    case Format::kYaml:
      std::cout << to_yaml(*answer);
      break;
    case Format::kTable:
      std::cout << why_text(answer->as_object());
      break;
  }
  return 0;
}

}  // namespace weft::meshctl
