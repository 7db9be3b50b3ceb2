// `meshctl identity PROXY`: a proxy's workload identity as its admin
// /identity reports it, rendered for people. Pure, for tests.
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <string>

namespace weft::meshctl {

// The SPIFFE ID, validity, renewal, the chain and the trust bundle, one
// certificate a line; `now` for "expires in".
std::string identity_text(const std::string& proxy, const boost::json::object& identity,
                          std::chrono::system_clock::time_point now);

}  // namespace weft::meshctl
