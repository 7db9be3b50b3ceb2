// `meshctl identity PROXY`: a proxy's workload identity as its admin
// /identity reports it, rendered for people. Pure, for tests.
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <optional>
#include <string>

namespace weft::meshctl {

// The SPIFFE ID, validity, renewal, the chain and the trust bundle, one
// certificate a line; `now` for "expires in".
std::string identity_text(const std::string& proxy, const boost::json::object& identity,
                          std::chrono::system_clock::time_point now);

// What `meshctl check` says of a proxy's identity: nothing when its
// certificate is current and its last request for one succeeded; a warning
// while requests fail (it will expire unless one succeeds); a problem when
// it has none or it has expired.
struct CertificateFinding {
  bool problem = false;  // else a warning
  std::string message;
};
std::optional<CertificateFinding> check_certificate(const boost::json::object& identity,
                                                    std::chrono::system_clock::time_point now);

}  // namespace weft::meshctl
