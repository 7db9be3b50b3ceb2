#include "proxy/http/http1/request_check.h"

#include <gtest/gtest.h>

namespace weft::proxy::http::http1 {
namespace {

struct Case {
  const char* name;
  std::string raw;
  unsigned status;  // 0: accepted
  const char* reason;
};

// Test names, not bytes, in gtest's output.
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::string head(std::string_view fields) {
  return "GET / HTTP/1.1\r\nHost: a\r\n" + std::string(fields) + "\r\n";
}
std::string post(std::string_view fields, std::string_view body) {
  return "POST /p HTTP/1.1\r\nHost: a\r\n" + std::string(fields) + "\r\n" + std::string(body);
}
std::string many_fields_only(int n) {
  std::string fields;
  for (int i = 0; i < n; ++i) fields += "x-f" + std::to_string(i) + ": v\r\n";
  return fields;
}

std::string many_fields(int n) { return head(many_fields_only(n)); }

// RFC 9112 §3 (request line), §5 (fields), §6 (message body), §7 (chunked).
const Case kCases[] = {
    // Accepted.
    {"simple_get", head(""), 0, ""},
    {"http10_without_host", "GET / HTTP/1.0\r\n\r\n", 0, ""},
    {"absolute_form", "GET http://a/x HTTP/1.1\r\nHost: a\r\n\r\n", 0, ""},
    {"content_length_body", post("Content-Length: 5\r\n", "hello"), 0, ""},
    {"chunked_body", post("Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n"), 0, ""},
    {"chunk_extension", post("Transfer-Encoding: chunked\r\n", "5;a=b\r\nhello\r\n0\r\n\r\n"), 0,
     ""},
    // A coding besides chunked is not forwarded (its framing would be the
    // upstream's to undo): 501, as Envoy answers it.
    {"gzip_then_chunked", post("Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n"), 501,
     "unsupported_transfer_coding"},
    {"chunked_with_spaces", post("Transfer-Encoding:  chunked \r\n", "0\r\n\r\n"), 0, ""},
    {"chunked_uppercase", post("Transfer-Encoding: Chunked\r\n", "0\r\n\r\n"), 0, ""},
    {"same_content_length_twice", post("Content-Length: 1\r\nContent-Length: 1\r\n", "x"), 0, ""},
    {"obs_text_in_value", head("X: caf\xc3\xa9\r\n"), 0, ""},
    {"empty_value", head("X:\r\n"), 0, ""},
    // 100 fields with the 3 forwarding fields and x-weft-peer the proxy may
    // add upstream.
    {"exactly_100_fields_once_forwarded", many_fields(95), 0, ""},
    {"exactly_100_fields_forwarded_already",
     head("x-forwarded-for: 1.1.1.1\r\nx-request-id: a\r\nx-forwarded-proto: http\r\n"
          "x-weft-peer: w=a;ns=b;svc=c\r\n" +
          many_fields_only(95)),
     0, ""},
    {"host_with_port", "GET / HTTP/1.1\r\nHost: a:8080\r\n\r\n", 0, ""},
    {"options_asterisk", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 0, ""},
    {"connect_authority", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 0, ""},
    // §3 request line.
    {"lowercase_version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400, "bad_version"},
    {"http2_version", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 400, "bad_version"},
    {"version_two_digits", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400, "bad_version"},
    {"trailing_space_after_version", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400, "bad_version"},
    {"double_space_before_target", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_target"},
    {"space_in_target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_version"},
    {"bad_method_token", "G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_method"},
    {"bare_lf_request_line", "GET / HTTP/1.1\nHost: a\n\n", 400, "bad_version"},
    {"missing_target", "GET HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_target"},
    {"uri_too_long", "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", 414,
     "uri_too_long"},
    // §5 fields.
    {"space_before_colon", head("X : b\r\n"), 400, "bad_header_name"},
    {"leading_whitespace_first_field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400,
     "bad_header_name"},
    {"empty_field_name", head(": b\r\n"), 400, "bad_header_name"},
    {"control_in_name", head("X\x01: b\r\n"), 400, "bad_header_name"},
    {"non_ascii_in_name", head("X-\xff: b\r\n"), 400, "bad_header_name"},
    {"nul_in_value", head(std::string("X: a\0b\r\n", 8)), 400, "bad_header_value"},
    {"del_in_value", head("X: a\x7f\r\n"), 400, "bad_header_value"},
    {"bare_cr_in_value", "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400, "bad_line_ending"},
    {"missing_host", "GET / HTTP/1.1\r\nX: a\r\n\r\n", 400, "missing_host"},
    {"empty_host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", 400, "missing_host"},
    // Found by fuzz/harness/http1_request.cc: the empty authority became
    // an empty Host upstream.
    {"absolute_form_without_host", "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_target"},
    {"absolute_form_only_scheme", "GET http:// HTTP/1.0\r\n\r\n", 400, "bad_target"},
    {"duplicate_host", head("Host: b\r\n"), 400, "duplicate_host"},
    {"too_many_fields", many_fields(100), 431, "too_many_headers"},
    // The next sidecar would refuse it once this one added its fields.
    {"too_many_fields_once_forwarded", many_fields(96), 431, "too_many_headers"},
    {"headers_over_60k", head("X: " + std::string(std::size_t{61} * 1024, 'v') + "\r\n"), 431,
     "header_too_large"},
    // §6 message body framing.
    {"content_length_and_chunked", post("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", ""),
     400, "bad_transfer_encoding"},
    {"chunked_and_content_length", post("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", ""),
     400, "bad_content_length"},
    {"conflicting_content_length", post("Content-Length: 5\r\nContent-Length: 6\r\n", "hello"), 400,
     "bad_content_length"},
    {"signed_content_length", post("Content-Length: +5\r\n", "hello"), 400, "bad_content_length"},
    {"hex_content_length", post("Content-Length: 0x5\r\n", "hello"), 400, "bad_content_length"},
    {"content_length_overflow", post("Content-Length: 99999999999999999999999\r\n", ""), 400,
     "bad_content_length"},
    {"negative_content_length", post("Content-Length: -1\r\n", ""), 400, "bad_content_length"},
    {"gzip_only", post("Transfer-Encoding: gzip\r\n", ""), 400, "bad_transfer_encoding"},
    {"chunked_not_last", post("Transfer-Encoding: chunked, gzip\r\n", ""), 400,
     "bad_transfer_encoding"},
    {"chunked_twice", post("Transfer-Encoding: chunked, chunked\r\n", "0\r\n\r\n"), 400,
     "bad_transfer_encoding"},
    {"two_transfer_encoding_fields",
     post("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"), 400,
     "bad_transfer_encoding"},
    {"unknown_coding", post("Transfer-Encoding: xchunked\r\n", ""), 400, "bad_transfer_encoding"},
    {"empty_coding", post("Transfer-Encoding: ,chunked\r\n", "0\r\n\r\n"), 400,
     "bad_transfer_encoding"},
    // §7 chunked coding.
    {"chunk_size_not_hex", post("Transfer-Encoding: chunked\r\n", "zz\r\n"), 400, "bad_chunk"},
    {"chunk_size_overflow",
     post("Transfer-Encoding: chunked\r\n", "fffffffffffffffff\r\nhello\r\n"), 400, "bad_chunk"},
    {"chunk_data_too_long", post("Transfer-Encoding: chunked\r\n", "5\r\nhelloXX0\r\n\r\n"), 400,
     "bad_chunk"},
    {"space_after_chunk_size", post("Transfer-Encoding: chunked\r\n", "5 \r\nhello\r\n0\r\n\r\n"),
     400, "bad_chunk"},
    {"negative_chunk_size", post("Transfer-Encoding: chunked\r\n", "-5\r\nhello\r\n"), 400,
     "bad_chunk"},
};

class RequestCheck : public ::testing::TestWithParam<Case> {};

TEST_P(RequestCheck, Classifies) {
  const auto& c = GetParam();
  auto rejection = check_raw_request(c.raw, Limits{});
  if (c.status == 0) {
    EXPECT_FALSE(rejection) << "rejected as " << rejection->reason;
    return;
  }
  ASSERT_TRUE(rejection) << "accepted";
  EXPECT_EQ(rejection->status, c.status);
  EXPECT_EQ(rejection->reason, c.reason);
}

INSTANTIATE_TEST_SUITE_P(Rfc9112, RequestCheck, ::testing::ValuesIn(kCases),
                         [](const auto& test) { return std::string(test.param.name); });

// With tracing on, the proxy may also add traceparent and b3: a request is
// refused at the first hop two fields earlier, unless it carries them.
TEST(RequestCheck, CountsTheTraceContextWhenTraced) {
  const Limits traced{.traced = true};
  EXPECT_FALSE(check_raw_request(many_fields(93), traced));
  auto rejection = check_raw_request(many_fields(94), traced);
  ASSERT_TRUE(rejection);
  EXPECT_EQ(rejection->reason, "too_many_headers");
  EXPECT_FALSE(check_raw_request(many_fields(94), Limits{}));
  const std::string with_context =
      "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nb3: 0\r\n";
  EXPECT_FALSE(check_raw_request(head(with_context + many_fields_only(93)), traced));
}

TEST(RequestCheck, EveryReasonIsListed) {
  for (const auto& c : kCases) {
    if (c.status == 0) continue;
    EXPECT_NE(std::find(std::begin(kRejectionReasons), std::end(kRejectionReasons),
                        std::string_view(c.reason)),
              std::end(kRejectionReasons))
        << c.reason;
  }
}

}  // namespace
}  // namespace weft::proxy::http::http1
