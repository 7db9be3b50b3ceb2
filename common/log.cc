#include "common/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <cstdlib>

namespace weft::log {
namespace {

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

// Renders each record as one JSON line; spdlog patterns cannot escape the
// message, so JSON output needs its own formatter.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    auto seconds = std::chrono::duration<double>(msg.time.time_since_epoch()).count();
    auto level = spdlog::level::to_string_view(msg.level);
    auto line = format_json_line(fmt::format("{:.6f}", seconds),
                                 std::string_view(level.data(), level.size()),
                                 std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

Result<spdlog::level::level_enum> parse_level(std::string_view name) {
  for (auto level :
       {spdlog::level::trace, spdlog::level::debug, spdlog::level::info, spdlog::level::warn,
        spdlog::level::err, spdlog::level::critical, spdlog::level::off}) {
    auto known = spdlog::level::to_string_view(level);
    if (name == std::string_view(known.data(), known.size())) return level;
  }
  if (name == "warn" || name == "warning") return spdlog::level::warn;
  if (name == "error") return spdlog::level::err;
  return fail(ErrorCode::kInvalidArgument,
              "unknown log level '{}' (trace, debug, info, warning, error, critical, off)", name);
}

Result<Format> parse_format(std::string_view name) {
  if (name == "text") return Format::kText;
  if (name == "json") return Format::kJson;
  return fail(ErrorCode::kInvalidArgument, "unknown log format '{}' (text, json)", name);
}

Result<Options> resolve_options(std::string_view level_flag, std::string_view format_flag) {
  std::string level_name =
      level_flag.empty() ? env_or_empty("WEFT_LOG_LEVEL") : std::string(level_flag);
  std::string format_name =
      format_flag.empty() ? env_or_empty("WEFT_LOG_FORMAT") : std::string(format_flag);
  Options options;
  if (!level_name.empty()) {
    auto level = parse_level(level_name);
    if (!level) return tl::unexpected(level.error());
    options.level = *level;
  }
  if (!format_name.empty()) {
    auto format = parse_format(format_name);
    if (!format) return tl::unexpected(format.error());
    options.format = *format;
  }
  return options;
}

void init(const Options& options) {
  auto logger =
      std::make_shared<spdlog::logger>("weft", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (options.format == Format::kJson) {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  }
  logger->set_level(options.level);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
}

std::string json_quote(std::string_view text) {
  return boost::json::serialize(boost::json::string(text));
}

std::string format_json_line(std::string_view timestamp, std::string_view level,
                             std::string_view message) {
  return fmt::format("{{\"ts\":{},\"level\":{},\"msg\":{}}}\n", timestamp,
                     boost::json::serialize(boost::json::string(level)),
                     boost::json::serialize(boost::json::string(message)));
}

}  // namespace weft::log
