#include "proxy/http/http2/session.h"

#include <algorithm>
#include <array>
#include <vector>

namespace weft::proxy::http::http2 {

namespace {

using Clock = std::chrono::steady_clock;

// RFC 7541 §4.1: a field's size is its name and value plus 32.
constexpr std::size_t kFieldOverhead = 32;

std::string_view as_view(const std::uint8_t* data, std::size_t length) {
  return {reinterpret_cast<const char*>(data), length};
}

nghttp2_nv field(std::string_view name, std::string_view value) {
  // nghttp2 copies names and values into its HPACK output (no NO_COPY flags).
  return {reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(),
          value.size(), NGHTTP2_NV_FLAG_NONE};
}

void add_fields(std::vector<nghttp2_nv>& out, const FieldList& fields) {
  for (const auto& f : fields) out.push_back(field(f.name, f.value));
}

SessionError from_abuse(Abuse abuse) {
  switch (abuse) {
    case Abuse::kRapidReset:
      return SessionError::kRapidReset;
    case Abuse::kContinuationFlood:
      return SessionError::kContinuationFlood;
    case Abuse::kEmptyFrameFlood:
      return SessionError::kEmptyFrameFlood;
    case Abuse::kControlFrameFlood:
      return SessionError::kControlFrameFlood;
    case Abuse::kNone:
      break;
  }
  return SessionError::kNone;
}

}  // namespace

std::string_view session_error_reason(SessionError error) {
  switch (error) {
    case SessionError::kNone:
      return "none";
    case SessionError::kProtocol:
      return "protocol_error";
    case SessionError::kRapidReset:
      return "rapid_reset";
    case SessionError::kContinuationFlood:
      return "continuation_flood";
    case SessionError::kEmptyFrameFlood:
      return "empty_frame_flood";
    case SessionError::kControlFrameFlood:
      return "control_frame_flood";
    case SessionError::kControlQueueFull:
      return "control_queue_full";
  }
  return "unknown";
}

struct Session::Stream {
  std::int32_t id = 0;
  std::shared_ptr<BodyPipe> inbound, outbound;
  // The header block being received.
  RequestHead request;
  ResponseHead response;
  FieldList trailers;
  std::size_t header_bytes = 0;
  bool head_done = false;         // the (final) head was reported
  bool too_large = false;         // the header block passed max_header_list_bytes
  bool response_started = false;  // server: a response was submitted
  bool rejected = false;          // a stream error was counted
};

// nghttp2's C callbacks, forwarding to the Session in user_data.
struct Session::Callbacks {
  static Session& self(void* user_data) { return *static_cast<Session*>(user_data); }

  static int on_begin_frame(nghttp2_session*, const nghttp2_frame_hd* hd, void* user_data) {
    auto& s = self(user_data);
    if (s.role_ == Role::kServer && hd->type == NGHTTP2_HEADERS) {
      if (s.reuses_stream_id(hd->stream_id)) {
        s.fail_session(SessionError::kProtocol, NGHTTP2_PROTOCOL_ERROR);
        return NGHTTP2_ERR_CALLBACK_FAILURE;
      }
      s.highest_client_stream_ = std::max(s.highest_client_stream_, hd->stream_id);
    }
    auto verdict = s.guard_.on_frame(static_cast<FrameType>(hd->type), hd->length,
                                     (hd->flags & NGHTTP2_FLAG_END_STREAM) != 0,
                                     (hd->flags & NGHTTP2_FLAG_END_HEADERS) != 0, s.now_);
    if (verdict == Abuse::kNone) return 0;
    s.fail_session(from_abuse(verdict), NGHTTP2_ENHANCE_YOUR_CALM);
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    auto& s = self(user_data);
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    s.last_activity_ = s.now_;
    auto& stream = s.stream(frame->hd.stream_id);
    stream.header_bytes = 0;
    return 0;
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                       std::size_t name_length, const std::uint8_t* value, std::size_t value_length,
                       std::uint8_t, void* user_data) {
    auto& s = self(user_data);
    auto* stream = s.find(frame->hd.stream_id);
    if (stream == nullptr || frame->hd.type != NGHTTP2_HEADERS) return 0;
    stream->header_bytes += name_length + value_length + kFieldOverhead;
    if (stream->header_bytes > s.limits_.max_header_list_bytes) stream->too_large = true;
    if (stream->too_large) return 0;  // answered when the block ends
    auto n = as_view(name, name_length);
    auto v = as_view(value, value_length);
    if (stream->head_done) {
      stream->trailers.add(std::string(n), std::string(v));
    } else if (s.role_ == Role::kServer) {
      accept_request_field(stream->request, n, v);
    } else if (n == ":status") {
      stream->response.status = static_cast<unsigned>(std::atoi(std::string(v).c_str()));
    } else {
      stream->response.fields.add(std::string(n), std::string(v));
    }
    return 0;
  }

  static void accept_request_field(RequestHead& head, std::string_view n, std::string_view v) {
    if (n == ":method") {
      head.method = v;
    } else if (n == ":scheme") {
      head.scheme = v;
    } else if (n == ":authority") {
      head.authority = v;
    } else if (n == ":path") {
      head.path = v;
    } else if (n == "host") {
      if (head.authority.empty()) head.authority = v;  // RFC 9113 §8.3.1
    } else if (!n.starts_with(':')) {
      head.fields.add(std::string(n), std::string(v));
    }
  }

  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    auto& s = self(user_data);
    const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    switch (frame->hd.type) {
      case NGHTTP2_HEADERS:
        s.on_header_block(frame->hd.stream_id, end_stream);
        break;
      case NGHTTP2_DATA:
        s.last_activity_ = s.now_;
        if (end_stream) {
          if (auto* stream = s.find(frame->hd.stream_id); stream && stream->inbound) {
            stream->inbound->finish();
          }
        }
        break;
      case NGHTTP2_RST_STREAM:
        if (auto* stream = s.find(frame->hd.stream_id);
            s.role_ == Role::kServer && stream && !stream->response_started) {
          if (auto verdict = s.guard_.on_premature_reset(s.now_); verdict != Abuse::kNone) {
            s.fail_session(from_abuse(verdict), NGHTTP2_ENHANCE_YOUR_CALM);
          }
        }
        break;
      case NGHTTP2_PING:
        if ((frame->hd.flags & NGHTTP2_FLAG_ACK) != 0) s.ping_outstanding_ = false;
        break;
      case NGHTTP2_GOAWAY:
        s.goaway_last_stream_ = frame->goaway.last_stream_id;
        break;
      default:
        break;
    }
    return 0;
  }

  static int on_invalid_frame(nghttp2_session*, const nghttp2_frame* frame, int lib_error,
                              void* user_data) {
    auto& s = self(user_data);
    if (auto* stream = s.find(frame->hd.stream_id)) stream->rejected = true;
    if (lib_error == NGHTTP2_ERR_REFUSED_STREAM) {
      s.events_.on_stream_rejected("max_concurrent_streams");
    } else if (lib_error == NGHTTP2_ERR_HTTP_HEADER) {
      s.events_.on_stream_rejected("invalid_header");
    } else if (lib_error == NGHTTP2_ERR_HTTP_MESSAGING) {
      s.events_.on_stream_rejected("invalid_message");
    } else {
      s.events_.on_stream_rejected("invalid_frame");
    }
    return 0;
  }

  // nghttp2 resets a stream whose DATA contradicts its content-length
  // without an invalid-frame callback: its RST_STREAM is the only sign.
  static int on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    auto& s = self(user_data);
    // A GOAWAY with an error that no verdict of ours explains is nghttp2's
    // own (a client past the acknowledged stream limit, a bad frame).
    if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code != NGHTTP2_NO_ERROR &&
        s.error_ == SessionError::kNone) {
      s.error_ = SessionError::kProtocol;
    }
    if (frame->hd.type != NGHTTP2_RST_STREAM ||
        frame->rst_stream.error_code != NGHTTP2_PROTOCOL_ERROR) {
      return 0;
    }
    if (auto* stream = s.find(frame->hd.stream_id); stream && !stream->rejected) {
      stream->rejected = true;
      s.events_.on_stream_rejected("invalid_message");
    }
    return 0;
  }

  static int on_data_chunk(nghttp2_session* session, std::uint8_t, std::int32_t stream_id,
                           const std::uint8_t* data, std::size_t length, void* user_data) {
    auto& s = self(user_data);
    auto* stream = s.find(stream_id);
    if (stream == nullptr || !stream->inbound) {
      // Nobody reads it: give the window back at once.
      nghttp2_session_consume(session, stream_id, length);
      return 0;
    }
    stream->inbound->push(as_view(data, length));
    return 0;
  }

  static int on_stream_close(nghttp2_session*, std::int32_t stream_id, std::uint32_t error_code,
                             void* user_data) {
    auto& s = self(user_data);
    auto found = s.streams_.find(stream_id);
    if (found == s.streams_.end()) return 0;
    if (s.role_ == Role::kServer &&
        nghttp2_session_get_stream_remote_close(s.session_, stream_id) == 0) {
      s.closed_early_[s.closed_early_next_++ % kClosedEarly] = stream_id;
    }
    auto stream = std::move(found->second);
    s.streams_.erase(found);
    if (stream->inbound && stream->inbound->state() == BodyPipe::State::kOpen) {
      stream->inbound->fail(error_code == 0 ? BodyPipe::kCancel : error_code);
    }
    const bool unprocessed = error_code == NGHTTP2_REFUSED_STREAM ||
                             (s.goaway_last_stream_ >= 0 && stream_id > s.goaway_last_stream_);
    s.detach(*stream, unprocessed);
    s.events_.on_closed(stream_id, error_code);
    return 0;
  }

  static ssize_t read_body(nghttp2_session* session, std::int32_t stream_id, std::uint8_t* buf,
                           std::size_t length, std::uint32_t* data_flags,
                           nghttp2_data_source* source, void* user_data) {
    auto& s = self(user_data);
    // A stream reset by us no longer owns the pipe (Session::reset), which
    // may already serve another stream: read nothing until it closes.
    auto found = s.streams_.find(stream_id);
    if (found == s.streams_.end() || !found->second->outbound) return NGHTTP2_ERR_DEFERRED;
    auto* pipe = static_cast<BodyPipe*>(source->ptr);
    auto n = pipe->read(reinterpret_cast<char*>(buf), length);
    if (pipe->state() == BodyPipe::State::kFailed && pipe->available() == 0) {
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream_id, pipe->error_code());
      return NGHTTP2_ERR_DEFERRED;
    }
    if (pipe->at_end()) {
      *data_flags |= NGHTTP2_DATA_FLAG_EOF;
      if (!pipe->trailers().empty()) {
        std::vector<nghttp2_nv> nva;
        add_fields(nva, pipe->trailers());
        if (nghttp2_submit_trailer(session, stream_id, nva.data(), nva.size()) == 0) {
          *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        }
      }
      s.last_activity_ = s.now_;
      return static_cast<ssize_t>(n);
    }
    if (n == 0) return NGHTTP2_ERR_DEFERRED;
    s.last_activity_ = s.now_;
    return static_cast<ssize_t>(n);
  }
};

Session::Session(Role role, const SessionLimits& limits, SessionEvents& events)
    : role_(role), limits_(limits), events_(events), guard_(limits.abuse, Clock::now()) {
  nghttp2_session_callbacks* callbacks = nullptr;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_on_begin_frame_callback(callbacks, Callbacks::on_begin_frame);
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, Callbacks::on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, Callbacks::on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, Callbacks::on_frame_recv);
  nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(callbacks,
                                                               Callbacks::on_invalid_frame);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, Callbacks::on_data_chunk);
  nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, Callbacks::on_frame_send);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, Callbacks::on_stream_close);

  nghttp2_option* option = nullptr;
  nghttp2_option_new(&option);
  nghttp2_option_set_no_auto_window_update(option, 1);  // windows follow consumption
  nghttp2_option_set_max_outbound_ack(option, limits.max_queued_control_frames);
  nghttp2_option_set_peer_max_concurrent_streams(option, limits.max_concurrent_streams);
  // Debian's nghttp2 carries its own CONTINUATION limit (8 by default): set
  // it above ours, so AbuseGuard decides and counts.
  nghttp2_option_set_max_continuations(option,
                                       std::size_t{limits.abuse.max_continuation_frames} * 2);
  if (role == Role::kServer) {
    nghttp2_session_server_new2(&session_, callbacks, this, option);
  } else {
    nghttp2_session_client_new2(&session_, callbacks, this, option);
  }
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(callbacks);

  std::array<nghttp2_settings_entry, 4> settings{{
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, limits.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, limits.stream_window},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, limits.max_header_list_bytes},
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
  }};
  // ENABLE_PUSH is a client setting only (RFC 9113 §6.5.2).
  auto count = role == Role::kServer ? settings.size() - 1 : settings.size();
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings.data(), count);
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                        static_cast<std::int32_t>(limits.connection_window));
}

Session::~Session() {
  abandon();
  nghttp2_session_del(session_);
}

void Session::abandon() {
  auto streams = std::move(streams_);
  streams_.clear();
  for (auto& [id, stream] : streams) {
    if (stream->inbound) stream->inbound->fail();
    detach(*stream, false);
  }
}

Session::Stream& Session::stream(std::int32_t id) {
  auto& slot = streams_[id];
  if (!slot) {
    slot = std::make_unique<Stream>();
    slot->id = id;
  }
  return *slot;
}

Session::Stream* Session::find(std::int32_t id) {
  auto found = streams_.find(id);
  return found == streams_.end() ? nullptr : found->second.get();
}

void Session::on_header_block(std::int32_t id, bool end_stream) {
  auto* stream = find(id);
  if (stream == nullptr) return;
  if (stream->too_large) {
    events_.on_stream_rejected("header_list_too_large");
    if (role_ == Role::kServer && !stream->head_done) {
      ResponseHead head;
      head.status = 431;
      stream->head_done = true;
      submit_response(id, head, nullptr);
    } else {
      reset(id, NGHTTP2_ENHANCE_YOUR_CALM);
    }
    return;
  }
  if (stream->head_done) {  // trailers
    if (stream->inbound) stream->inbound->finish(std::move(stream->trailers));
    return;
  }
  if (role_ == Role::kServer) {
    stream->head_done = true;
    events_.on_request(id, std::move(stream->request), end_stream);
    return;
  }
  if (stream->response.status < 200) {  // interim: the final head follows
    stream->response = {};
    return;
  }
  stream->head_done = true;
  events_.on_response(id, std::move(stream->response), end_stream);
  if (end_stream) {
    if (auto* still = find(id); still && still->inbound) still->inbound->finish();
  }
}

bool Session::receive(std::string_view bytes) {
  now_ = Clock::now();
  auto n = nghttp2_session_mem_recv(session_, reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                    bytes.size());
  if (n >= 0 && error_ == SessionError::kNone) return true;
  if (error_ == SessionError::kNone) {
    // nghttp2's own verdict: say why in a GOAWAY before the connection ends.
    if (n == NGHTTP2_ERR_FLOODED) {
      error_ = SessionError::kControlQueueFull;
    } else if (n == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS) {
      error_ = SessionError::kContinuationFlood;
    } else {
      error_ = SessionError::kProtocol;
    }
    nghttp2_session_terminate_session(session_, error_ == SessionError::kProtocol
                                                    ? NGHTTP2_PROTOCOL_ERROR
                                                    : NGHTTP2_ENHANCE_YOUR_CALM);
  }
  return false;
}

std::string_view Session::output() {
  now_ = Clock::now();
  const std::uint8_t* data = nullptr;
  auto n = nghttp2_session_mem_send(session_, &data);
  if (n <= 0) return {};
  return as_view(data, static_cast<std::size_t>(n));
}

bool Session::wants_read() const { return nghttp2_session_want_read(session_) != 0; }
bool Session::wants_write() const { return nghttp2_session_want_write(session_) != 0; }

void Session::attach_outbound(std::int32_t id, std::shared_ptr<BodyPipe> body) {
  auto& s = stream(id);
  s.outbound = std::move(body);
  s.outbound->on_readable = [this, id] {
    nghttp2_session_resume_data(session_, id);
    request_output();
  };
}

void Session::set_inbound(std::int32_t id, std::shared_ptr<BodyPipe> pipe) {
  auto& s = stream(id);
  s.inbound = std::move(pipe);
  if (!s.inbound) return;
  s.inbound->on_consumed = [this, id](std::size_t n) {
    nghttp2_session_consume(session_, id, n);
    request_output();
  };
}

void Session::detach(Stream& s, bool unprocessed) {
  if (s.inbound) {
    // Bytes still unread belong to a closed stream: give their share of the
    // connection window back now rather than never.
    if (auto pending = s.inbound->available(); pending > 0) {
      nghttp2_session_consume_connection(session_, pending);
    }
    s.inbound->on_consumed = nullptr;
  }
  if (s.outbound) {
    s.outbound->on_readable = nullptr;
    // A body the peer never saw, or one kept for a retry, may still go out
    // on another stream.
    s.outbound->consumer_gone(unprocessed);
  }
}

std::int32_t Session::submit_request(const RequestHead& head, std::shared_ptr<BodyPipe> body) {
  std::vector<nghttp2_nv> nva;
  nva.reserve(head.fields.size() + 4);
  nva.push_back(field(":method", head.method));
  nva.push_back(field(":scheme", head.scheme));
  nva.push_back(field(":authority", head.authority));
  nva.push_back(field(":path", head.path));
  add_fields(nva, head.fields);
  nghttp2_data_provider provider{};
  provider.source.ptr = body.get();
  provider.read_callback = Callbacks::read_body;
  auto id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(),
                                   body ? &provider : nullptr, nullptr);
  if (id < 0) return id;
  last_activity_ = now_;
  if (body) attach_outbound(id, std::move(body));
  request_output();
  return id;
}

bool Session::submit_response(std::int32_t id, const ResponseHead& head,
                              std::shared_ptr<BodyPipe> body) {
  auto* s = find(id);
  if (s == nullptr) return false;  // reset by the peer meanwhile
  s->response_started = true;
  auto status = std::to_string(head.status);
  std::vector<nghttp2_nv> nva;
  nva.reserve(head.fields.size() + 1);
  nva.push_back(field(":status", status));
  add_fields(nva, head.fields);
  nghttp2_data_provider provider{};
  provider.source.ptr = body.get();
  provider.read_callback = Callbacks::read_body;
  auto rv =
      nghttp2_submit_response(session_, id, nva.data(), nva.size(), body ? &provider : nullptr);
  if (rv != 0) return false;
  if (body) attach_outbound(id, std::move(body));
  request_output();
  return true;
}

void Session::reset(std::int32_t id, std::uint32_t error_code) {
  // The outbound body is let go now, not when the RST_STREAM has gone out:
  // a retry may hand it to another stream at once.
  if (auto found = streams_.find(id); found != streams_.end() && found->second->outbound) {
    auto& outbound = found->second->outbound;
    outbound->on_readable = nullptr;
    outbound->consumer_gone(false);
    outbound.reset();
  }
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, error_code);
  request_output();
}

void Session::goaway(std::uint32_t error_code) {
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(session_), error_code, nullptr, 0);
  request_output();
}

std::uint32_t Session::remote_max_concurrent_streams() const {
  return nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
}

void Session::ping() {
  if (nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE, nullptr) == 0) ping_outstanding_ = true;
  request_output();
}

bool Session::reuses_stream_id(std::int32_t id) const {
  if (id <= 0 || id % 2 == 0 || id > highest_client_stream_) return false;
  if (nghttp2_session_find_stream(session_, id) != nullptr) return false;
  return std::find(closed_early_.begin(), closed_early_.end(), id) == closed_early_.end();
}

void Session::fail_session(SessionError error, std::uint32_t code) {
  if (error_ != SessionError::kNone) return;
  error_ = error;
  nghttp2_session_terminate_session(session_, code);
}

}  // namespace weft::proxy::http::http2
