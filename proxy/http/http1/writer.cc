#include "proxy/http/http1/writer.h"

#include <charconv>
#include <cstring>

namespace weft::proxy::http::http1 {
namespace {

constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kLastChunk = "0\r\n\r\n";

void append_version(std::string& out, unsigned version) {
  out += "HTTP/";
  out += static_cast<char>('0' + version / 10);
  out += '.';
  out += static_cast<char>('0' + version % 10);
}

}  // namespace

void MessageWriter::start(const RequestHead& head, bool chunked) {
  response_ = false;
  body_bytes_ = 0;
  head_.clear();
  head_ += head.method_string();
  head_ += ' ';
  head_ += head.target();
  head_ += ' ';
  append_version(head_, head.version());
  head_ += kCrlf;
  finish_head(head, chunked);
}

void MessageWriter::start(const ResponseHead& head, bool chunked) {
  response_ = true;
  body_bytes_ = 0;
  head_.clear();
  append_version(head_, head.version());
  head_ += ' ';
  std::array<char, 4> status{};
  auto [end, ec] = std::to_chars(status.data(), status.data() + status.size(), head.result_int());
  head_.append(status.data(), end);
  head_ += ' ';
  head_ += head.reason();
  head_ += kCrlf;
  finish_head(head, chunked);
}

void MessageWriter::finish_head(const Fields& fields, bool chunked) {
  // Sized once, then copied into: four appends per field each checked the
  // capacity and were a fifth of the writer's cost.
  std::size_t size = head_.size() + kCrlf.size();
  for (const auto& field : fields) size += field.name_string().size() + field.value().size() + 4;
  std::size_t at = head_.size();
  head_.resize(size);
  auto put = [&](std::string_view text) {
    if (text.empty()) return;  // an empty value may have no storage at all
    std::memcpy(head_.data() + at, text.data(), text.size());
    at += text.size();
  };
  for (const auto& field : fields) {
    put(field.name_string());
    put(": ");
    put(field.value());
    put(kCrlf);
  }
  put(kCrlf);
  head_pending_ = true;
  chunked_ = chunked;
  last_chunk_.clear();
}

void MessageWriter::trailers(const FieldList& fields) {
  if (fields.empty()) return;
  last_chunk_ = "0\r\n";
  for (const auto& field : fields) {
    last_chunk_ += field.name;
    last_chunk_ += ": ";
    last_chunk_ += field.value;
    last_chunk_ += kCrlf;
  }
  last_chunk_ += kCrlf;
}

std::span<const boost::asio::const_buffer> MessageWriter::next(std::string_view piece, bool last) {
  body_bytes_ += piece.size();
  std::size_t n = 0;
  if (head_pending_) {
    buffers_[n++] = boost::asio::buffer(head_);
    head_pending_ = false;
  }
  if (!chunked_) {
    if (!piece.empty()) buffers_[n++] = boost::asio::buffer(piece.data(), piece.size());
    return {buffers_.data(), n};
  }
  if (!piece.empty()) {
    auto [end, ec] = std::to_chars(size_line_.data(), size_line_.data() + size_line_.size() - 2,
                                   piece.size(), 16);
    *end++ = '\r';
    *end++ = '\n';
    buffers_[n++] = boost::asio::buffer(size_line_.data(), end - size_line_.data());
    buffers_[n++] = boost::asio::buffer(piece.data(), piece.size());
    buffers_[n++] = boost::asio::buffer(kCrlf.data(), kCrlf.size());
  }
  if (last) {
    buffers_[n++] = last_chunk_.empty() ? boost::asio::buffer(kLastChunk.data(), kLastChunk.size())
                                        : boost::asio::buffer(std::string_view(last_chunk_));
  }
  return {buffers_.data(), n};
}

}  // namespace weft::proxy::http::http1
