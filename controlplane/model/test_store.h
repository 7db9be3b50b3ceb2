// For tests: a Store of the objects in a YAML text (documents separated by
// ---), each expected to parse.
#pragma once

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <memory>
#include <string>
#include <string_view>

#include "controlplane/model/objects.h"

namespace weft::cp::model {

inline std::shared_ptr<const Store> store_of(std::string_view text) {
  auto store = std::make_shared<Store>();
  for (const auto& document : YAML::LoadAll(std::string(text))) {
    auto parsed = parse_object(document, "mesh.yaml");
    EXPECT_TRUE(parsed) << parsed.error().message;
    if (parsed) store->put(std::get<Object>(*parsed));
  }
  return store;
}

}  // namespace weft::cp::model
