#include "proxy/upstream/http1/errors.h"

#include <gtest/gtest.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>

namespace weft::proxy::upstream::http1 {
namespace {

namespace asio = boost::asio;
namespace beast_http = boost::beast::http;
using boost::system::error_code;
using http::Failure;

struct ErrorCase {
  const char* name;
  error_code ec;
  Failure failure;  // with kPerTryTimeout as the deadline's cause
  bool closed;
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

class UpstreamErrors : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(UpstreamErrors, NameTheFailureAndTheClose) {
  const auto& c = GetParam();
  EXPECT_EQ(failure_of(c.ec, Failure::kPerTryTimeout), c.failure);
  EXPECT_EQ(is_closed_connection(c.ec), c.closed);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, UpstreamErrors,
    ::testing::Values(
        ErrorCase{"deadline", boost::beast::error::timeout, Failure::kPerTryTimeout, false},
        ErrorCase{"closed_before_a_byte", beast_http::error::end_of_stream, Failure::kReset, true},
        ErrorCase{"closed_mid_message", beast_http::error::partial_message, Failure::kReset, false},
        ErrorCase{"bad_status_line", beast_http::error::bad_status, Failure::kProtocolError, false},
        ErrorCase{"bad_chunk", beast_http::error::bad_chunk, Failure::kProtocolError, false},
        ErrorCase{"header_too_large", beast_http::error::header_limit, Failure::kProtocolError,
                  false},
        ErrorCase{"reset", asio::error::connection_reset, Failure::kReset, true},
        ErrorCase{"broken_pipe", asio::error::broken_pipe, Failure::kReset, true},
        ErrorCase{"eof", asio::error::eof, Failure::kReset, true},
        ErrorCase{"tls_truncated", asio::ssl::error::stream_truncated, Failure::kReset, false},
        ErrorCase{"aborted", asio::error::operation_aborted, Failure::kReset, false}),
    [](const auto& test) { return std::string(test.param.name); });

struct StaleCase {
  const char* name;
  StaleFacts facts;
  bool again;
};

void PrintTo(const StaleCase& c, std::ostream* os) { *os << c.name; }

class StaleConnections : public ::testing::TestWithParam<StaleCase> {};

TEST_P(StaleConnections, SentAgainOnlyWhenNothingCanBeLost) {
  EXPECT_EQ(send_on_new_connection(GetParam().facts), GetParam().again);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, StaleConnections,
    ::testing::Values(StaleCase{"pooled_get_closed", {true, true, true, "GET"}, true},
                      StaleCase{"pooled_put_kept_body", {true, true, true, "PUT"}, true},
                      StaleCase{"pooled_post", {true, true, true, "POST"}, false},
                      StaleCase{"pooled_patch", {true, true, true, "PATCH"}, false},
                      StaleCase{"new_connection", {false, true, true, "GET"}, false},
                      StaleCase{"timed_out_or_bad_answer", {true, false, true, "GET"}, false},
                      StaleCase{"body_already_streamed", {true, true, false, "GET"}, false}),
    [](const auto& test) { return std::string(test.param.name); });

}  // namespace
}  // namespace weft::proxy::upstream::http1
