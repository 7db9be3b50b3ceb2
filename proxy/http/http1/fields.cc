#include "proxy/http/http1/fields.h"

#include <algorithm>
#include <boost/beast/core/string.hpp>
#include <cstdint>
#include <cstring>

namespace weft::proxy::http::http1 {

Fields::const_iterator Fields::find(beast_http::field name) const {
  return std::find_if(fields_.begin(), fields_.end(),
                      [name](const Field& f) { return f.name() == name; });
}

Fields::const_iterator Fields::find(std::string_view name) const {
  // iequals compares lengths first: most fields differ there.
  return std::find_if(fields_.begin(), fields_.end(), [name](const Field& f) {
    return boost::beast::iequals(f.name_string(), name);
  });
}

std::optional<std::string_view> Fields::get(std::string_view name) const {
  auto found = find(name);
  if (found == end()) return std::nullopt;
  return found->value();
}

std::size_t Fields::count(std::string_view name) const {
  return std::count_if(fields_.begin(), fields_.end(), [name](const Field& f) {
    return boost::beast::iequals(f.name_string(), name);
  });
}

std::size_t Fields::count(beast_http::field name) const {
  return std::count_if(fields_.begin(), fields_.end(),
                       [name](const Field& f) { return f.name() == name; });
}

std::string_view Fields::operator[](beast_http::field name) const {
  auto it = find(name);
  return it == end() ? std::string_view{} : it->value();
}

std::string_view Fields::operator[](std::string_view name) const {
  auto it = find(name);
  return it == end() ? std::string_view{} : it->value();
}

void Fields::insert(std::string_view name, std::string_view value) {
  insert(beast_http::string_to_field(name), name, value);
}

void Fields::insert(beast_http::field name, std::string_view value) {
  insert(name, beast_http::to_string(name), value);
}

void Fields::insert(beast_http::field known, std::string_view name, std::string_view value) {
  fields_.emplace_back(known, copy(name), copy(value));
}

void Fields::insert_literal(beast_http::field known, std::string_view literal_name,
                            std::string_view value) {
  fields_.emplace_back(known, literal_name, copy(value));
}

namespace {

bool within(std::string_view part, std::string_view whole) {
  const auto begin = reinterpret_cast<std::uintptr_t>(whole.data());
  const auto at = reinterpret_cast<std::uintptr_t>(part.data());
  return at >= begin && at + part.size() <= begin + whole.size();
}

}  // namespace

void Fields::insert_received(beast_http::field known, std::string_view name, std::string_view value,
                             std::string_view input) {
  if (within(name, input) && (value.empty() || within(value, input))) {
    fields_.emplace_back(known, name, value);
  } else {
    insert(known, name, value);
  }
}

void Fields::adopt(std::size_t first, std::string_view input) {
  if (first >= fields_.size()) return;
  const auto begin = fields_.begin() + static_cast<std::ptrdiff_t>(first);
  // The span of `input` the new fields point into, copied in one piece.
  // Commonly every string is in `input`, names before their values.
  const char* low = begin->name_string().data();
  const char* high = low;
  for (auto it = begin; it != fields_.end(); ++it) {
    low = std::min(low, it->name_string().data());
    high = std::max(high, it->name_string().data() + it->name_string().size());
    if (!it->value().empty()) high = std::max(high, it->value().data() + it->value().size());
  }
  const bool all_in_input =
      within(std::string_view(low, static_cast<std::size_t>(high - low)), input);
  if (!all_in_input) {
    // Some were copied by insert_received already (they are owned): the
    // span covers the others.
    low = high = nullptr;
    for (auto it = begin; it != fields_.end(); ++it) {
      for (auto s : {it->name_string(), it->value()}) {
        if (s.empty() || !within(s, input)) continue;
        low = low == nullptr ? s.data() : std::min(low, s.data());
        high = std::max(high, s.data() + s.size());
      }
    }
    if (low == nullptr) return;
  }
  const char* copied = copy(std::string_view(low, static_cast<std::size_t>(high - low))).data();
  auto moved = [&](std::string_view s) {
    if (s.empty() || (!all_in_input && !within(s, input))) return s;
    return std::string_view(copied + (s.data() - low), s.size());
  };
  for (auto it = begin; it != fields_.end(); ++it) {
    *it = Field(it->name(), moved(it->name_string()), moved(it->value()));
  }
}

void Fields::set(std::string_view name, std::string_view value) {
  erase(name);
  insert(name, value);
}

void Fields::set(beast_http::field name, std::string_view value) {
  erase(name);
  insert(name, value);
}

Fields::const_iterator Fields::erase(const_iterator position) { return fields_.erase(position); }

void Fields::erase(std::string_view name) {
  std::erase_if(fields_,
                [name](const Field& f) { return boost::beast::iequals(f.name_string(), name); });
}

void Fields::erase(beast_http::field name) {
  std::erase_if(fields_, [name](const Field& f) { return f.name() == name; });
}

std::string_view Fields::copy(std::string_view text) {
  constexpr std::size_t kBlockBytes = 512;
  if (text.empty()) return {};
  if (text.size() > spare_size_) {
    const std::size_t block = std::max(kBlockBytes, text.size());
    spare_ = static_cast<char*>(memory_->allocate(block, 1));
    spare_size_ = block;
  }
  char* bytes = spare_;
  std::memcpy(bytes, text.data(), text.size());
  spare_ += text.size();
  spare_size_ -= text.size();
  return {bytes, text.size()};
}

void RequestHead::method_string(std::string_view method) {
  verb_ = beast_http::string_to_verb(method);
  method_ = copy(method);
}

void RequestHead::method(beast_http::verb verb, std::string_view text) {
  verb_ = verb;
  method_ = copy(text);
}

void RequestHead::method(beast_http::verb verb) {
  verb_ = verb;
  method_ = beast_http::to_string(verb);  // static text: no copy
}

std::string_view ResponseHead::reason() const {
  if (!reason_.empty()) return reason_;
  return beast_http::obsolete_reason(result());
}

}  // namespace weft::proxy::http::http1
