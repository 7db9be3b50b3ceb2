#include "proxy/layers/access_log.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cstring>
#include <iterator>

#include "common/json_text.h"

namespace weft::proxy::layers::access_log {
namespace {

constexpr std::uint64_t kSampleScale = 1'000'000;  // percent with four decimals

// 2026-12-07T14:03:07.123Z. The date and time to the second are
// formatted once per second per thread: a line in the same second as the
// last one copies them.
void append_time(std::string& out, std::chrono::system_clock::time_point t) {
  const auto since_epoch =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const auto seconds = since_epoch / 1000;
  thread_local std::int64_t cached_second = -1;
  thread_local std::string cached_text;
  if (seconds != cached_second) {
    cached_second = seconds;
    cached_text =
        fmt::format("{:%Y-%m-%dT%H:%M:%S}", std::chrono::time_point_cast<std::chrono::seconds>(t));
  }
  out += cached_text;
  const auto millis = static_cast<unsigned>(since_epoch % 1000);
  const char fraction[] = {'.', static_cast<char>('0' + millis / 100),
                           static_cast<char>('0' + millis / 10 % 10),
                           static_cast<char>('0' + millis % 10), 'Z'};
  out.append(fraction, sizeof fraction);
}

template <class Number>
void append_number(std::string& out, Number value) {
  std::array<char, 24> text{};
  const auto end = std::to_chars(text.data(), text.data() + text.size(), value).ptr;
  out.append(text.data(), end);
}

// Milliseconds with three decimals.
void append_milliseconds(std::string& out, double value) {
  std::array<char, 32> text{};
  const auto end =
      std::to_chars(text.data(), text.data() + text.size(), value, std::chars_format::fixed, 3).ptr;
  out.append(text.data(), end);
}

std::string_view name_of(const metrics::Workload* workload) {
  return workload != nullptr ? std::string_view(workload->name) : std::string_view();
}
std::string_view namespace_of(const metrics::Workload* workload) {
  return workload != nullptr ? std::string_view(workload->ns) : std::string_view();
}

// `,"name":`, made at compile time (a constant expression): a field's key
// is one append.
template <std::size_t N>
struct Key {
  constexpr Key(const char (&name)[N]) {  // NOLINT(google-explicit-constructor): Key{"name"}
    text[0] = ',';
    text[1] = '"';
    for (std::size_t i = 0; i + 1 < N; ++i) text[i + 2] = name[i];
    text[N + 1] = '"';
    text[N + 2] = ':';
  }
  std::string_view view() const { return {text.data(), text.size()}; }
  std::array<char, N + 3> text{};
};

// A JSON object whose first field is its start time, the others added in
// turn, and a newline.
class Object {
 public:
  Object(std::string& out, std::chrono::system_clock::time_point start) : out_(out) {
    out_ += R"({"start_time":")";
    append_time(out_, start);
    out_ += '"';
  }
  ~Object() { out_ += "}\n"; }
  Object(const Object&) = delete;
  Object& operator=(const Object&) = delete;

  template <std::size_t N>
  void text(const Key<N>& key, std::string_view value) {
    out_ += key.view();
    append_json_string(out_, value);
  }
  template <std::size_t N, class Number>
  void number(const Key<N>& key, Number value) {
    out_ += key.view();
    append_number(out_, value);
  }
  template <std::size_t N>
  void milliseconds(const Key<N>& key, double value) {
    out_ += key.view();
    append_milliseconds(out_, value);
  }

 private:
  std::string& out_;
};

// A quoted text field, "-" when empty.
void quoted(std::string& out, std::string_view value) {
  out += ' ';
  append_json_string(out, value.empty() ? std::string_view("-") : value);
}

}  // namespace

bool logged(const Settings& settings, const Record& record, std::uint64_t draw) {
  constexpr unsigned kServerError = 500;
  if (!record.error.empty() || record.status >= kServerError) return true;
  const auto threshold = static_cast<std::uint64_t>(settings.sampling_percent * 10'000);
  return draw % kSampleScale < threshold;
}

namespace {

// The id's bytes folded eight at a time through mix64: a few dozen
// instructions for a UUID, where a byte-at-a-time hash (FNV-1a) took ~220.
std::uint64_t id_hash(std::string_view id) {
  std::uint64_t hash = id.size();
  std::uint64_t word = 0;
  for (; id.size() >= sizeof word; id.remove_prefix(sizeof word)) {
    std::memcpy(&word, id.data(), sizeof word);
    hash = mix64(hash ^ word);
  }
  word = 0;
  std::memcpy(&word, id.data(), id.size());
  return mix64(hash ^ word ^ 0x9e3779b97f4a7c15ULL);
}

}  // namespace

std::uint64_t sampling_draw(std::string_view request_id, FastRandom& random) {
  return request_id.empty() ? random() : id_hash(request_id);
}

void append_json(std::string& out, const Entry& e) {
  Object line(out, e.start);
  line.milliseconds(Key{"duration_ms"}, e.duration_ms);
  line.text(Key{"listener"}, e.listener);
  line.text(Key{"downstream"}, e.downstream);
  line.text(Key{"protocol"}, e.protocol);
  line.text(Key{"method"}, e.method);
  line.text(Key{"path"}, e.path);
  line.text(Key{"authority"}, e.authority);
  line.text(Key{"request_id"}, e.request_id);
  line.number(Key{"status"}, e.status);
  line.text(Key{"error"}, e.error);
  line.text(Key{"cluster"}, e.cluster);
  line.text(Key{"service"},
            e.service != nullptr ? std::string_view(*e.service) : std::string_view());
  line.text(Key{"upstream"}, e.upstream);
  line.number(Key{"attempts"}, e.attempts);
  line.number(Key{"bytes_received"}, e.bytes_received);
  line.number(Key{"bytes_sent"}, e.bytes_sent);
  line.text(Key{"source_workload"}, name_of(e.source));
  line.text(Key{"source_namespace"}, namespace_of(e.source));
  line.text(Key{"destination_workload"}, name_of(e.destination));
  line.text(Key{"destination_namespace"}, namespace_of(e.destination));
  if (e.grpc_status) line.number(Key{"grpc_status"}, *e.grpc_status);
  if (e.reset) line.number(Key{"reset"}, *e.reset);
  if (e.trace.valid()) line.text(Key{"trace_id"}, tracing::to_hex(e.trace));
  if (!e.peer_identity.empty()) line.text(Key{"peer_identity"}, e.peer_identity);
  if (!e.authz_policy.empty()) line.text(Key{"authz_policy"}, e.authz_policy);
}

void append_text(std::string& out, const Entry& e) {
  auto to = std::back_inserter(out);
  out += '[';
  append_time(out, e.start);
  out += "] \"";
  // The request line's parts are escaped as the quoted fields are, without
  // their quotes.
  const auto bare = [&](std::string_view value) {
    const auto quoted_value = json_string(value);
    out.append(quoted_value, 1, quoted_value.size() - 2);
  };
  bare(e.method);
  out += ' ';
  bare(e.path);
  out += ' ';
  bare(e.protocol);
  fmt::format_to(to, "\" {} {} {} {} {:.3f} {}", e.status, e.error.empty() ? "-" : e.error,
                 e.bytes_received, e.bytes_sent, e.duration_ms, e.attempts);
  quoted(out, e.authority);
  quoted(out, e.service != nullptr ? std::string_view(*e.service) : std::string_view());
  quoted(out, e.upstream);
  const auto workload = [](const metrics::Workload* w) {
    return w != nullptr ? fmt::format("{}/{}", w->ns, w->name) : std::string();
  };
  quoted(out, workload(e.source));
  quoted(out, workload(e.destination));
  quoted(out, e.request_id);
  quoted(out, e.trace.valid() ? tracing::to_hex(e.trace) : std::string());
  quoted(out, e.listener);
  out += '\n';
}

}  // namespace weft::proxy::layers::access_log
