// Process-wide logging on spdlog: level and format come from flags or the
// environment (WEFT_LOG_LEVEL, WEFT_LOG_FORMAT), output goes to stderr.
#pragma once

#include <spdlog/spdlog.h>

#include <optional>
#include <string>

#include "common/result.h"

namespace weft::log {

enum class Format { kText, kJson };

struct Options {
  spdlog::level::level_enum level = spdlog::level::info;
  Format format = Format::kText;
};

Result<spdlog::level::level_enum> parse_level(std::string_view name);
Result<Format> parse_format(std::string_view name);

// Flag values win over the environment; empty means "not given".
Result<Options> resolve_options(std::string_view level_flag, std::string_view format_flag);

// Installs the default logger. Call once, early in main.
void init(const Options& options);

// `text` as a JSON string literal, quotes included, escaped as JSON requires.
std::string json_quote(std::string_view text);

// One JSON object per line: {"ts":..,"level":..,"msg":..}. Exposed for tests.
std::string format_json_line(std::string_view timestamp, std::string_view level,
                             std::string_view message);

}  // namespace weft::log
