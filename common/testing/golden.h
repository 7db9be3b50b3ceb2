// Golden-file comparison for unit tests: the expected output lives in a
// file next to the test's data; WEFT_UPDATE_GOLDEN=1 rewrites the files
// (review the diff) instead of comparing.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace weft::golden {

inline void expect_golden(const std::filesystem::path& file, const std::string& actual) {
  if (std::getenv("WEFT_UPDATE_GOLDEN") != nullptr) {
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file) << actual;
    return;
  }
  std::ifstream in(file);
  ASSERT_TRUE(in) << file << " is missing; run with WEFT_UPDATE_GOLDEN=1 to create it";
  std::ostringstream expected;
  expected << in.rdbuf();
  EXPECT_EQ(expected.str(), actual) << "differs from " << file;
}

}  // namespace weft::golden
