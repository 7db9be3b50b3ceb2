// TLS contexts for downstream termination and upstream origination, built
// once per snapshot from certificate, key and CA files. Errors (missing file,
// key not matching the certificate) surface when the configuration loads.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

namespace weft::proxy::tls {

struct ServerSettings {
  std::string cert_file, key_file;
  std::string ca_file;            // set: clients must present a certificate it signed
  std::vector<std::string> alpn;  // protocols we accept, in preference order
};

struct ClientSettings {
  std::string ca_file;              // trust anchors; empty: the system's
  std::string cert_file, key_file;  // client certificate (mTLS), optional
  std::string sni;
  std::vector<std::string> verify_subject_alt_names;  // empty: any name
  std::vector<std::string> alpn;
};

using Context = boost::asio::ssl::context;

Result<std::shared_ptr<Context>> server_context(const ServerSettings& settings);
Result<std::shared_ptr<Context>> client_context(const ClientSettings& settings);

// A workload identity held in memory (proxy/identity/): its certificate
// chain, its key, and the roots its peers chain to.
struct MemoryIdentity {
  std::string_view chain_pem, key_pem, trust_bundle_pem;
};

// Mutual TLS: each side presents `identity` and accepts only a peer whose
// certificate chains to its trust bundle (the server requires one).
// Which identity a peer must have is decided per connection, not here.
Result<std::shared_ptr<Context>> mutual_server_context(const MemoryIdentity& identity,
                                                       const std::vector<std::string>& alpn);
Result<std::shared_ptr<Context>> mutual_client_context(const MemoryIdentity& identity,
                                                       const std::vector<std::string>& alpn);

// Whether `names` (DNS, URI and IP subject alternative names of a peer
// certificate, as text) satisfy `accepted`: some name equal to an accepted
// one, DNS names case-insensitively, "*.example.com" covering one label.
bool subject_alt_names_match(const std::vector<std::string>& names,
                             const std::vector<std::string>& accepted);

// The URI subject alternative names of the peer's certificate on a
// finished handshake (a workload certificate has one: its SPIFFE ID);
// empty without a peer certificate.
std::vector<std::string> peer_uri_names(SSL* ssl);

// ALPN wire format: length-prefixed protocol names.
std::string alpn_wire(const std::vector<std::string>& protocols);

}  // namespace weft::proxy::tls
