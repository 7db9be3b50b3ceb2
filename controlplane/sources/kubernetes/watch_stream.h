// A watch response, decoded without sockets: the body is newline-delimited
// JSON events ({"type": ..., "object": ...}) in chunks that split lines
// anywhere, and each event's object becomes what the informer caches. The
// API server is trusted but not infallible (a proxy in between, a bug, a
// huge object): nothing it sends may crash the control plane or make it
// hold unbounded memory.
#pragma once

#include <boost/json/value.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "controlplane/model/objects.h"

namespace weft::cp::kubernetes {

// Cuts a byte stream into lines. A line longer than `max_line` is an error:
// etcd stores objects of at most 1.5 MiB, so a longer event means the
// stream is not what it claims to be.
class LineSplitter {
 public:
  static constexpr std::size_t kMaxLine = std::size_t{16} << 20;
  explicit LineSplitter(std::size_t max_line = kMaxLine) : max_line_(max_line) {}

  enum class Fed { kMore, kStopped, kTooLong };
  // Calls `on_line(line)` for every line that `bytes` completes; it returns
  // false to stop (kStopped). kTooLong: the pending line outgrew max_line.
  template <class OnLine>
  Fed feed(std::string_view bytes, OnLine&& on_line) {
    pending_.append(bytes);
    std::size_t start = 0;
    for (auto end = pending_.find('\n', scanned_); end != std::string::npos;
         end = pending_.find('\n', start)) {
      const bool more = on_line(std::string_view(pending_).substr(start, end - start));
      start = end + 1;
      if (!more) {
        consume(start);
        return Fed::kStopped;
      }
    }
    consume(start);
    // Bytes already searched are not searched again: a long line arriving
    // in many chunks costs its length once, not its length per chunk.
    scanned_ = pending_.size();
    return pending_.size() > max_line_ ? Fed::kTooLong : Fed::kMore;
  }
  // The last line, when the stream ended without a newline.
  std::string_view rest() const { return pending_; }

 private:
  void consume(std::size_t bytes) {
    pending_.erase(0, bytes);
    scanned_ = 0;
  }

  std::size_t max_line_;
  std::string pending_;
  std::size_t scanned_ = 0;
};

struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
  boost::json::value object;
};

// One line of a watch; nullopt when it is not an event (not JSON, no type,
// no object).
std::optional<WatchEvent> parse_event(std::string_view line);

// An ERROR event's HTTP code (410: the watch fell behind the history), 0
// when it carries none.
std::int64_t error_code(const WatchEvent& event);
// The resourceVersion the event's object carries; empty when none.
std::string_view resource_version(const WatchEvent& event);

// One object as the informer caches it: parsed, or the reason it is not.
struct CachedObject {
  std::string ns, name;
  std::shared_ptr<const model::Object> object;  // null when it failed to parse
  std::string error;
};
CachedObject read_object(boost::json::value object, const std::string& kind);

}  // namespace weft::cp::kubernetes
