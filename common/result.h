// Errors as values: every fallible operation returns Result<T>.
#pragma once

#include <fmt/format.h>

#include <string>
#include <tl/expected.hpp>
#include <utility>

namespace weft {

// What kind of failure, so callers can branch without parsing messages.
enum class ErrorCode {
  kInvalidArgument,  // the input is wrong (bad YAML, bad config, bad request)
  kNotFound,
  kIo,  // the file system or a socket failed
  kUnavailable,
  kTimeout,
  kInternal,
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
};

template <class T>
using Result = tl::expected<T, Error>;

// `return fail(ErrorCode::kNotFound, "no cluster {}", name);`
template <class... Args>
tl::unexpected<Error> fail(ErrorCode code, fmt::format_string<Args...> format, Args&&... args) {
  return tl::unexpected(Error{code, fmt::format(format, std::forward<Args>(args)...)});
}

// Prefixes context to an error on its way up: "proxy.yaml: " + message.
inline Error with_context(Error error, std::string_view context) {
  error.message = fmt::format("{}: {}", context, error.message);
  return error;
}

}  // namespace weft
