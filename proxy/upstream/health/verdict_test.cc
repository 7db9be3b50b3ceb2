#include "proxy/upstream/health/verdict.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace weft::proxy::upstream::health {
namespace {

// Results in order and the state after each: out after unhealthy_threshold
// failures in a row, back after healthy_threshold passes in a row.
TEST(Verdict, ThresholdsTakeOutAndBringBack) {
  struct Case {
    const char* name;
    std::uint32_t healthy, unhealthy;
    std::string results;  // p: passed, f: failed
    std::string failing;  // after each: y/n
  };
  const std::vector<Case> cases = {
      {"three failures take it out", 1, 3, "fff", "nny"},
      {"a pass breaks the run", 1, 3, "ffpff", "nnnnn"},
      {"one pass brings it back", 1, 3, "fffp", "nnyn"},
      {"two passes needed", 2, 2, "ffpfpp", "nyyyyn"},
      {"a failure restarts the passes", 2, 1, "fpfpp", "yyyyn"},
      {"passing stays passing", 1, 3, "pppp", "nnnn"},
  };
  for (const auto& c : cases) {
    Check check;
    check.healthy_threshold = c.healthy;
    check.unhealthy_threshold = c.unhealthy;
    Streak streak;
    std::string got;
    for (char r : c.results) {
      advance(streak, r == 'p', check);
      got += streak.failing ? 'y' : 'n';
    }
    EXPECT_EQ(got, c.failing) << c.name;
  }
}

TEST(Verdict, FlipsAreReported) {
  Check check;
  check.unhealthy_threshold = 2;
  Streak streak;
  EXPECT_FALSE(advance(streak, false, check));
  EXPECT_TRUE(advance(streak, false, check));
  EXPECT_FALSE(advance(streak, false, check)) << "already failing";
  EXPECT_TRUE(advance(streak, true, check));
}

TEST(Verdict, NextProbeIsTheIntervalPlusUpToATenth) {
  Check check;
  check.interval = std::chrono::milliseconds(2'000);
  EXPECT_EQ(next_probe(check, 0.0).count(), 2'000);
  EXPECT_EQ(next_probe(check, 0.5).count(), 2'100);
  EXPECT_EQ(next_probe(check, 0.999).count(), 2'199);
}

TEST(Verdict, StatusLines) {
  struct Case {
    std::string_view line;
    std::optional<unsigned> status;
  };
  for (const auto& c : std::vector<Case>{{"HTTP/1.1 200 OK\r\n", 200},
                                         {"HTTP/1.0 503 Service Unavailable", 503},
                                         {"HTTP/1.1 204\r\n", 204},
                                         {"HTTP/1.1 204", 204},
                                         {"HTTP/2 200", std::nullopt},
                                         {"HTTP/1.1 20x OK", std::nullopt},
                                         {"HTTP/1.1 2000 OK", std::nullopt},
                                         {"HTTP/1.1 099 Low", std::nullopt},
                                         {"SSH-2.0-OpenSSH", std::nullopt},
                                         {"", std::nullopt}}) {
    EXPECT_EQ(status_of(c.line), c.status) << c.line;
  }
}

// A gRPC message on the wire: no compression, four bytes of length.
std::string framed(std::string_view message, char compressed = '\0') {
  std::string out{compressed, '\0', '\0', '\0', static_cast<char>(message.size())};
  return out.append(message);
}

TEST(Verdict, GrpcCheckRequestNamesTheService) {
  // HealthCheckRequest{service = "reviews"}: field 1, length-delimited.
  EXPECT_EQ(grpc_check_request("reviews"), framed(std::string("\x0a\x07reviews", 9)));
  EXPECT_EQ(grpc_check_request(""), framed("")) << "the server's own health: an empty message";
}

TEST(Verdict, GrpcAnswers) {
  const std::string serving("\x08\x01", 2), not_serving("\x08\x02", 2);
  struct Case {
    const char* name;
    std::optional<std::string_view> grpc_status;
    std::string body;
    bool passed;
  };
  const std::vector<Case> cases = {
      {"SERVING", "0", framed(serving), true},
      {"NOT_SERVING", "0", framed(not_serving), false},
      {"SERVICE_UNKNOWN", "0", framed(std::string("\x08\x03", 2)), false},
      {"UNKNOWN: the status absent", "0", framed(""), false},
      {"unknown fields are skipped", "0", framed(std::string("\x12\x02hi\x08\x01\x18\x07", 8)),
       true},
      {"the last status wins", "0", framed(std::string("\x08\x02\x08\x01", 4)), true},
      {"NOT_FOUND: a service the server does not know", "5", "", false},
      {"an error status despite a message", "14", framed(serving), false},
      {"no grpc-status: the call did not finish", std::nullopt, framed(serving), false},
      {"no message", "0", "", false},
      {"two messages", "0", framed(serving) + framed(serving), false},
      {"a truncated message", "0", framed(serving).substr(0, 6), false},
      {"compressed", "0", framed(serving, '\x01'), false},
      {"a truncated varint", "0", framed(std::string("\x08\x81", 2)), false},
      {"the status as a string: not a varint field", "0", framed(std::string("\x0a\x01x", 3)),
       false},
      {"a zero tag", "0", framed(std::string("\x08\x01\x00", 3)), false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(grpc_check_passed(c.grpc_status, c.body), c.passed) << c.name;
  }
}

}  // namespace
}  // namespace weft::proxy::upstream::health
