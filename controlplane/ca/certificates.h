// X.509 for the control plane's own certificates: a self-signed authority
// and the serving certificates it issues (today the injection webhook's;
// workload identities later). ECDSA P-256, SHA-256, PEM in and out.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace weft::cp::ca {

struct KeyPair {
  std::string cert_pem;
  std::string key_pem;
};

// A new self-signed certificate authority.
Result<KeyPair> new_authority(std::string_view common_name, std::chrono::hours validity);

// A TLS server certificate for `dns_names` (the first is also the subject's
// common name), signed by `authority`.
Result<KeyPair> issue_server(const KeyPair& authority, const std::vector<std::string>& dns_names,
                             std::chrono::hours validity);

struct CertificateInfo {
  std::string subject, issuer;  // RFC 2253 text; empty subject: ""
  std::chrono::system_clock::time_point not_before, not_after;
  std::vector<std::string> dns_names;
  std::vector<std::string> uri_names;
  bool is_authority = false;
};

Result<CertificateInfo> inspect(std::string_view cert_pem);
// Every certificate in `pem` (a chain, a bundle), in order.
std::vector<CertificateInfo> inspect_all(std::string_view pem);

// Whether `pair`'s key belongs to its certificate and the certificate was
// signed by `authority_pem` (which may be the certificate itself).
bool verifies(const KeyPair& pair, std::string_view authority_pem);

}  // namespace weft::cp::ca
