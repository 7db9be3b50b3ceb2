#include "proxy/listener/sniff/sniff.h"

#include <gtest/gtest.h>

namespace weft::proxy::listener::sniff {
namespace {

struct Case {
  const char* name;
  std::string bytes;
  Protocol expected;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class Sniff : public ::testing::TestWithParam<Case> {};

TEST_P(Sniff, Classifies) { EXPECT_EQ(classify(GetParam().bytes), GetParam().expected); }

INSTANTIATE_TEST_SUITE_P(
    Cases, Sniff,
    ::testing::Values(
        Case{"empty", "", Protocol::kNeedMore},
        Case{"get_line", "GET / HTTP/1.1\r\nHost: a\r\n", Protocol::kHttp1},
        Case{"http10", "GET / HTTP/1.0\r\n", Protocol::kHttp1},
        Case{"custom_method", "PURGE /x HTTP/1.1\r\n", Protocol::kHttp1},
        Case{"method_only_so_far", "POS", Protocol::kNeedMore},
        Case{"line_not_finished", "GET /abc", Protocol::kNeedMore},
        Case{"long_target", "GET /" + std::string(80, 'a'), Protocol::kHttp1},
        Case{"not_http_version", "GET / SMTP/1.1\r\n", Protocol::kOpaque},
        Case{"binary", std::string("\x00\x01\x02\x03", 4), Protocol::kOpaque},
        Case{"leading_space", " GET / HTTP/1.1\r\n", Protocol::kOpaque},
        Case{"redis_inline", "PING\r\n", Protocol::kOpaque},
        Case{"h2_preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", Protocol::kHttp2},
        Case{"h2_preface_partial", "PRI * HTTP/2", Protocol::kNeedMore},
        Case{"tls_client_hello", std::string("\x16\x03\x01\x02\x00\x01", 6), Protocol::kTls},
        Case{"tls_first_byte", std::string("\x16", 1), Protocol::kNeedMore},
        Case{"not_tls", std::string("\x16\x09", 2), Protocol::kOpaque},
        Case{"very_long_method", std::string(30, 'A'), Protocol::kOpaque},
        // Opaque with its line too: a prefix without the space
        // is, and the verdict must not depend on where TCP cut
        // the bytes (found by fuzz/harness/sniff.cc).
        Case{"very_long_method_line", "PROPFINDEXTENDEDMETHOD / HTTP/1.1\r\n", Protocol::kOpaque}),
    [](const auto& test) { return std::string(test.param.name); });

class SniffHttp : public ::testing::TestWithParam<Case> {};

// An HTTP listener: the preface is HTTP/2, its request line with anything
// else after it a broken preface, everything else HTTP/1's to answer.
TEST_P(SniffHttp, Classifies) { EXPECT_EQ(classify_http(GetParam().bytes), GetParam().expected); }

INSTANTIATE_TEST_SUITE_P(
    Cases, SniffHttp,
    ::testing::Values(
        Case{"h2_preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", Protocol::kHttp2},
        Case{"h2_preface_partial", "PRI * HTTP/2.0\r\n\r\nS", Protocol::kNeedMore},
        Case{"h2_magic_broken", "PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", Protocol::kBadHttp2Preface},
        Case{"h2_line_then_headers", "PRI * HTTP/2.0\r\nHost: a\r\n", Protocol::kBadHttp2Preface},
        Case{"pri_method_http1", "PRI * HTTP/1.1\r\n", Protocol::kHttp1},
        Case{"get_line", "GET / HTTP/1.1\r\n", Protocol::kHttp1},
        Case{"garbage", "INVALID CONNECTION PREFACE\r\n\r\n", Protocol::kHttp1}),
    [](const auto& test) { return std::string(test.param.name); });

class SniffInboundHttp : public ::testing::TestWithParam<Case> {};

// A sidecar's inbound HTTP listener: a peer sidecar's TLS, else HTTP.
TEST_P(SniffInboundHttp, Classifies) {
  EXPECT_EQ(classify_inbound_http(GetParam().bytes), GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SniffInboundHttp,
    ::testing::Values(
        Case{"tls_client_hello", std::string("\x16\x03\x01\x02\x00\x01", 6), Protocol::kTls},
        Case{"tls_first_byte", std::string("\x16", 1), Protocol::kNeedMore},
        Case{"nothing", "", Protocol::kNeedMore},
        Case{"handshake_byte_not_tls", std::string("\x16\x09", 2), Protocol::kHttp1},
        Case{"get_line", "GET / HTTP/1.1\r\n", Protocol::kHttp1},
        Case{"h2_preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", Protocol::kHttp2},
        Case{"h2_line_then_headers", "PRI * HTTP/2.0\r\nHost: a\r\n", Protocol::kBadHttp2Preface}),
    [](const auto& test) { return std::string(test.param.name); });

}  // namespace
}  // namespace weft::proxy::listener::sniff
