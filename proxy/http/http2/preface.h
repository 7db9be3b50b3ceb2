// What a server says to a client whose HTTP/2 connection preface is broken
// (RFC 9113 §3.4: a connection error of type PROTOCOL_ERROR): its own
// preface, an empty SETTINGS frame, then GOAWAY with no stream processed.
// Pure bytes: the listener writes them and closes.
#pragma once

#include <string>
#include <string_view>

namespace weft::proxy::http::http2 {

std::string bad_preface_reply(std::string_view debug = "invalid connection preface");

}  // namespace weft::proxy::http::http2
