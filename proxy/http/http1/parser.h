// Beast's HTTP/1 parser (basic_parser: RFC 9112 framing, limits, errors)
// filling our heads (fields.h). Body bytes are not copied: each put() that
// takes some leaves them as piece(), a view into the caller's input, which
// the caller relays before it reads into that buffer again.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <cstdint>
#include <iterator>
#include <string_view>
#include <type_traits>

#include "proxy/http/http1/fields.h"

namespace weft::proxy::http::http1 {

template <bool kIsRequest>
class Parser final : public beast_http::basic_parser<kIsRequest> {
 public:
  using Head = std::conditional_t<kIsRequest, RequestHead, ResponseHead>;

  // The head's fields live in `memory` (see Fields), or in the head itself.
  explicit Parser(std::pmr::memory_resource* memory) : head_(memory) {}
  Parser() = default;

  // Beast's put, then the new fields' strings copied out of `input` at once
  // (they point into it until then). Hides basic_parser::put on purpose:
  // feed a Parser through this one.
  template <class ConstBufferSequence>
  std::size_t put(const ConstBufferSequence& input, boost::system::error_code& ec) {
    const std::size_t first = head_.size();
    piece_ = {};
    input_ = contiguous(input);
    const std::size_t used = beast_http::basic_parser<kIsRequest>::put(input, ec);
    head_.adopt(first, input_);
    return used;
  }

  Head& head() { return head_; }
  const Head& head() const { return head_; }
  // The body bytes the last put() took (empty if it took framing only).
  std::string_view piece() const { return piece_; }
  // The body bytes taken since the parser began (chunk framing not counted).
  std::uint64_t body_bytes() const { return body_bytes_; }

 private:
  using error_code = boost::system::error_code;
  using string_view = boost::beast::string_view;  // Beast's interface type

  // The bytes of a one-buffer input (what connections pass); empty for
  // several buffers, which Beast joins in a buffer of its own.
  template <class ConstBufferSequence>
  static std::string_view contiguous(const ConstBufferSequence& input) {
    auto at = boost::asio::buffer_sequence_begin(input);
    const auto end = boost::asio::buffer_sequence_end(input);
    if (at == end || std::next(at) != end) return {};
    const boost::asio::const_buffer buffer = *at;
    return {static_cast<const char*>(buffer.data()), buffer.size()};
  }

  void on_request_impl(beast_http::verb method, string_view method_string, string_view target,
                       int version, error_code& /*ec*/) override {
    if constexpr (kIsRequest) {
      if (method != beast_http::verb::unknown) {
        head_.method(method);  // Beast's own text: no copy
      } else {
        head_.method(method, method_string);
      }
      head_.target(target);
      head_.version(static_cast<unsigned>(version));
    }
  }

  void on_response_impl(int status, string_view reason, int version, error_code& /*ec*/) override {
    if constexpr (!kIsRequest) {
      head_.result(static_cast<unsigned>(status));
      head_.reason(reason);
      head_.version(static_cast<unsigned>(version));
    }
  }

  // Trailer fields of a chunked body arrive here too, after the head's.
  void on_field_impl(beast_http::field name, string_view name_string, string_view value,
                     error_code& /*ec*/) override {
    head_.insert_received(name, name_string, value, input_);
  }

  void on_header_impl(error_code& /*ec*/) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& /*content_length*/,
                         error_code& /*ec*/) override {}
  void on_chunk_header_impl(std::uint64_t /*size*/, string_view /*extensions*/,
                            error_code& /*ec*/) override {}
  void on_finish_impl(error_code& /*ec*/) override {}

  std::size_t on_body_impl(string_view bytes, error_code& ec) override { return take(bytes, ec); }
  std::size_t on_chunk_body_impl(std::uint64_t /*remain*/, string_view bytes,
                                 error_code& ec) override {
    return take(bytes, ec);
  }

  // One piece per put(): bytes that do not follow on from it in the input
  // (the next chunk, when eager) wait for the next put.
  std::size_t take(string_view bytes, error_code& ec) {
    if (piece_.empty()) {
      piece_ = bytes;
    } else if (bytes.data() == piece_.data() + piece_.size()) {
      piece_ = std::string_view(piece_.data(), piece_.size() + bytes.size());
    } else {
      ec = beast_http::error::need_buffer;
      return 0;
    }
    body_bytes_ += bytes.size();
    return bytes.size();
  }

  Head head_;
  std::string_view piece_;
  std::string_view input_;  // what the put() in progress was given (empty: several buffers)
  std::uint64_t body_bytes_ = 0;
};

using RequestParser = Parser<true>;
using ResponseParser = Parser<false>;

}  // namespace weft::proxy::http::http1
