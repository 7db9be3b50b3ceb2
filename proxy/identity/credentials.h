// A proxy's workload identity as it holds it (docs/tasks/mtls.md): a key
// generated in memory and never written, the certificate the control
// plane's authority signed for it, and the roots its peers chain to. One
// Credentials is immutable; renewal makes a new one and swaps it in.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "proxy/tls/tls.h"

namespace weft::proxy::identity {

using SystemClock = std::chrono::system_clock;

struct KeyAndRequest {
  std::string key_pem;  // stays in this process
  std::string csr_pem;  // names nothing: the authority names the caller
};

// A new ECDSA P-256 key and a PKCS#10 request for it.
Result<KeyAndRequest> new_key_and_request();

// What the authority answered (mesh.v1.SignResponse, without protobuf).
struct Signed {
  std::string chain_pem;
  std::string trust_bundle_pem;
  std::string spiffe_id;
};

struct Credentials {
  std::string spiffe_id;
  std::string chain_pem;  // the leaf, then intermediates
  std::string trust_bundle_pem;
  std::string key_pem;
  SystemClock::time_point not_before, not_after;
  // Present the chain; trust peers that chain to the bundle. The server
  // side requires a client certificate.
  std::shared_ptr<tls::Context> server, client;
};

// The credentials in use: written by the identity loop on the main thread,
// read by every worker at each mutual TLS handshake. A renewal swaps the
// whole; a handshake keeps what it loaded.
class CurrentCredentials {
 public:
  std::shared_ptr<const Credentials> load() const { return current_.load(); }
  void store(std::shared_ptr<const Credentials> credentials) {
    current_.store(std::move(credentials));
  }

 private:
  std::atomic<std::shared_ptr<const Credentials>> current_;
};

// The credentials of `answer` for `key_pem`, after checking what the
// authority sent: the leaf holds this key, names exactly answer.spiffe_id as
// its one URI name, and chains to the trust bundle. An error says which
// check failed.
Result<std::shared_ptr<const Credentials>> accept(std::string key_pem, const Signed& answer,
                                                  const std::vector<std::string>& alpn);

// The URI subject alternative names and validity of the first certificate
// in `chain_pem`.
struct LeafInfo {
  std::vector<std::string> uri_names;
  SystemClock::time_point not_before, not_after;
};
Result<LeafInfo> read_leaf(std::string_view chain_pem);

}  // namespace weft::proxy::identity
