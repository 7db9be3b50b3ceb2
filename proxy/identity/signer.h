// The proxy's side of mesh.v1.CertificateService/Sign: one unary gRPC call
// over its own TLS connection to the control plane's port 15012, which the
// proxy verifies by the root it was given (--ca-root) and the name the
// control plane's certificate must carry (--ca-name).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <string>

#include "common/result.h"
#include "proxy/identity/credentials.h"

namespace weft::proxy::identity {

struct SignerOptions {
  std::string host, port;  // the control plane's TLS port
  std::string server_name = "mesh-controlplane.mesh-system.svc";
  std::string root_file;  // the roots 15012's certificate chains to
  std::string pod, ns;
  // The token proving the Pod, read before every request (discovery::read_token).
  std::string token_file;
  bool token_optional = false;
  std::chrono::seconds ttl{0};  // 0: the control plane's default
  std::chrono::seconds timeout{10};
};

// Asks for a certificate for `csr_pem`. Errors say what failed: connecting,
// the handshake (a control plane the root does not vouch for), or the
// control plane's refusal (its grpc-status and message).
boost::asio::awaitable<Result<Signed>> sign(boost::asio::io_context& io,
                                            const SignerOptions& options,
                                            const std::string& csr_pem);

}  // namespace weft::proxy::identity
