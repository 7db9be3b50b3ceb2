#include "injector/webhook/sidecar_support.h"

#include <charconv>

namespace weft::injector::webhook {
namespace {

constexpr unsigned kFirstNativeMinor = 29;

unsigned leading_number(const std::string& text) {
  unsigned value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

}  // namespace

bool supports_native_sidecars(const std::string& major, const std::string& minor) {
  auto major_number = leading_number(major);
  return major_number > 1 || (major_number == 1 && leading_number(minor) >= kFirstNativeMinor);
}

}  // namespace weft::injector::webhook
