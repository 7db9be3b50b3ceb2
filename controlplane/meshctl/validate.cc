// meshctl validate: the control plane's own reading of manifests, offline.
#include <fmt/format.h>
#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "controlplane/meshctl/commands.h"
#include "controlplane/sources/directory.h"
#include "controlplane/translate/mesh.h"

namespace weft::meshctl {

namespace {

namespace fs = std::filesystem;

// "-" is standard input: copied to a file of its own for the directory
// source to read, and named "-" again in what is printed.
class StandardInput {
 public:
  ~StandardInput() {
    std::error_code ignored;
    if (!dir_.empty()) fs::remove_all(dir_, ignored);
  }

  Result<std::string> file() {
    std::string pattern = (fs::temp_directory_path() / "meshctl-validate-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      return fail(ErrorCode::kIo, "mkdtemp: {}", std::strerror(errno));
    }
    dir_ = pattern;
    auto path = (dir_ / "stdin.yaml").string();
    std::ofstream(path) << std::cin.rdbuf();
    return path;
  }

  // `text` with the copy's path shown as "-".
  std::string named(std::string_view text) const {
    if (dir_.empty()) return std::string(text);
    const auto path = (dir_ / "stdin.yaml").string();
    std::string out;
    for (auto at = text.find(path); at != std::string_view::npos; at = text.find(path)) {
      out.append(text.substr(0, at)).append("-");
      text.remove_prefix(at + path.size());
    }
    return out.append(text);
  }

 private:
  fs::path dir_;
};

// A condition that says only that a referenced object is missing: a
// parent, a backend or a target Service that "does not exist".
bool missing_reference(const cp::translate::Condition& c) {
  return (c.reason == "NoMatchingParent" || c.reason == "BackendNotFound" ||
          c.reason == "TargetNotFound") &&
         c.message.find("does not exist") != std::string::npos;
}

}  // namespace

int validate(const std::vector<std::string>& given) {
  StandardInput standard_input;
  std::vector<fs::path> paths;
  // Only files: the rest of the mesh is elsewhere, so a reference to an
  // object not among them is not checked rather than an error.
  bool files_only = true;
  for (const auto& path : given) {
    if (path != "-" && fs::is_directory(path)) files_only = false;
    if (path != "-") {
      paths.emplace_back(path);
      continue;
    }
    auto file = standard_input.file();
    if (!file) {
      std::cerr << "meshctl validate: " << file.error().message << "\n";
      return 1;
    }
    paths.emplace_back(*file);
  }
  cp::sources::DirectorySource source(paths);
  auto snapshot = source.load();
  int problems = 0;
  for (const auto& e : snapshot.errors) {
    std::cout << "error: " << standard_input.named(e.message)
              << (e.object.empty() ? "" : " [" + e.object + "]") << "\n";
    ++problems;
  }
  for (const auto& ignored : snapshot.ignored) {
    std::cout << "ignored: " << standard_input.named(ignored) << "\n";
  }
  auto mesh = cp::translate::compile(*snapshot.store);
  for (const auto& c : mesh->conditions) {
    // "route.yaml:3: " where the object's document starts.
    auto at = snapshot.locations.find(c.object);
    auto where = at == snapshot.locations.end() ? "" : standard_input.named(at->second) + ": ";
    if (c.ok) {
      if (!c.message.empty())
        std::cout << "note: " << where << c.object << ": " << c.message << "\n";
      continue;
    }
    if (files_only && missing_reference(c)) {
      std::cout << fmt::format("not checked: {}{}: {}: {} (not in the given files)\n", where,
                               c.object, c.type, c.message);
      continue;
    }
    std::cout << fmt::format("error: {}{}: {}=False {}: {}\n", where, c.object, c.type, c.reason,
                             c.message);
    ++problems;
  }
  std::cout << fmt::format("{} objects, {} service ports, {} problem(s)\n", snapshot.store->size(),
                           mesh->service_ports.size(), problems);
  return problems == 0 ? 0 : 1;
}

}  // namespace weft::meshctl
