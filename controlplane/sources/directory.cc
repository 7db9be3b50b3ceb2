#include "controlplane/sources/directory.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "common/fnv.h"
#include "common/yaml_proto.h"

namespace weft::cp::sources {
namespace {

namespace fs = std::filesystem;

bool is_manifest(const fs::path& path) {
  auto extension = path.extension();
  return extension == ".yaml" || extension == ".yml";
}

// A file's content, hashed: an unchanged file is not parsed again.
std::string signature_of(std::string_view text) {
  return fmt::format("{}:{:016x}", text.size(), fnv1a64(text));
}

}  // namespace

DirectorySource::DirectorySource(std::vector<fs::path> roots) : roots_(std::move(roots)) {}

std::vector<std::string> DirectorySource::manifest_files(std::vector<ManifestError>& errors) const {
  std::vector<std::string> files;
  for (const auto& root : roots_) {
    std::error_code ec;
    if (fs::is_regular_file(root, ec)) {
      files.push_back(root.string());
      continue;
    }
    auto options = fs::directory_options::skip_permission_denied;
    for (auto it = fs::recursive_directory_iterator(root, options, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_regular_file(ec) && is_manifest(it->path())) files.push_back(it->path().string());
    }
    if (ec) errors.push_back({root.string(), "", fmt::format("cannot read: {}", ec.message())});
  }
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  return files;
}

DirectorySource::FileStatePtr DirectorySource::load_file(const std::string& file,
                                                         const FileStatePtr& previous) {
  static const FileState kNothing;
  const auto& before = previous ? *previous : kNothing;
  auto text = yaml::read_file(file);
  if (text && !before.signature.empty() && before.signature == signature_of(*text)) {
    return previous;
  }
  auto state = std::make_shared<FileState>();
  if (!text) {
    state->objects = before.objects;
    state->locations = before.locations;
    state->errors.push_back({file, "", text.error().message});
    return state;
  }
  state->signature = signature_of(*text);
  ++files_parsed_;
  auto documents = yaml::load_documents(*text, file);
  if (!documents) {
    state->objects = before.objects;  // unreadable as a whole: keep everything it held
    state->locations = before.locations;
    state->errors.push_back({file, "", documents.error().message});
    return state;
  }
  for (const auto& document : *documents) {
    auto parsed = model::parse_object(document, file);
    if (!parsed) {
      auto key = model::identify(document);
      state->errors.push_back({file, key ? key->text() : "", parsed.error().message});
      auto kept = key ? before.objects.find(*key) : before.objects.end();
      if (kept != before.objects.end()) {
        state->objects.insert(*kept);
        state->locations[*key] = before.locations.at(*key);
      }
      continue;
    }
    if (const auto* other = std::get_if<model::Unrecognized>(&*parsed)) {
      auto hint = model::hint_for(*other);
      state->ignored.push_back(fmt::format("{} {} in {}{}{}", other->api_version, other->kind, file,
                                           hint.empty() ? "" : ": ", hint));
      continue;
    }
    auto object =
        std::make_shared<const model::Object>(std::get<model::Object>(std::move(*parsed)));
    auto key = model::key_of(*object);
    if (!state->objects.emplace(key, std::move(object)).second) {
      state->errors.push_back({file, key.text(), "defined twice in this file; the first is used"});
      continue;
    }
    state->locations[key] = fmt::format("{}:{}", file, document.Mark().line + 1);
  }
  return state;
}

Snapshot DirectorySource::load() {
  Snapshot out;
  auto files = manifest_files(out.errors);
  std::map<std::string, FileStatePtr> loaded;
  for (const auto& file : files) {
    auto previous = files_.find(file);
    const auto& state =
        *(loaded[file] = load_file(file, previous != files_.end() ? previous->second : nullptr));
    out.errors.insert(out.errors.end(), state.errors.begin(), state.errors.end());
    out.ignored.insert(out.ignored.end(), state.ignored.begin(), state.ignored.end());
  }
  files_ = std::move(loaded);  // deleted files drop out here

  auto store = std::make_shared<model::Store>();
  std::map<model::ObjectKey, std::string> defined_in;
  for (const auto& [file, state] : files_) {
    for (const auto& [key, object] : state->objects) {
      auto [first, inserted] = defined_in.emplace(key, file);
      if (!inserted) {
        out.errors.push_back(
            {file, key.text(), fmt::format("also defined in {}; that one is used", first->second)});
        continue;
      }
      store->put(object);
      if (auto at = state->locations.find(key); at != state->locations.end()) {
        out.locations[key.text()] = at->second;
      }
    }
  }
  out.store = std::move(store);
  return out;
}

}  // namespace weft::cp::sources
