// Workload identity certificates: what the mesh's certificate authority
// signs for a proxy (docs/tasks/mtls.md). The rules, all here:
// - the certificate names exactly one thing, the caller's SPIFFE ID as its
//   one URI subject alternative name; the request's own subject and
//   extensions are ignored, so a proxy cannot ask for another identity;
// - ECDSA P-256 keys only; CA:FALSE, digitalSignature, serverAuth and
//   clientAuth (each sidecar is a TLS server to its callers and a client to
//   its peers);
// - valid from five minutes before issuance (clock skew) for the TTL asked,
//   the default when none, never more than the maximum, and never past the
//   signing certificate's own expiry.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/result.h"
#include "controlplane/ca/certificates.h"

namespace weft::cp::ca {

inline constexpr std::string_view kDefaultTrustDomain = "cluster.local";

// spiffe://<trust_domain>/ns/<ns>/sa/<service_account>
std::string spiffe_id(std::string_view trust_domain, std::string_view ns,
                      std::string_view service_account);

// Why `trust_domain` is not one (SPIFFE: lowercase letters, digits, '.', '-'
// and '_'; at most 255 characters); empty when it is.
std::string trust_domain_error(std::string_view trust_domain);

struct TtlPolicy {
  std::chrono::seconds default_ttl{std::chrono::hours(24)};
  std::chrono::seconds max_ttl{std::chrono::hours(24 * 7)};
};

// The validity granted for a request of `requested` (zero or less: none
// asked): the default, or what was asked, cut to the maximum.
std::chrono::seconds granted_ttl(std::chrono::seconds requested, const TtlPolicy& policy);

// What leaves are signed with: `signer` (a root, or an intermediate under a
// root the user supplies) and the certificates sent after each leaf.
struct SigningAuthority {
  KeyPair signer;
  std::string chain_pem;  // the intermediates above `signer`, then `signer` if it is not a root
  std::string trust_bundle_pem;  // every root a peer may chain to
};

struct WorkloadCertificate {
  std::string cert_pem;   // the leaf alone
  std::string chain_pem;  // the leaf, then SigningAuthority::chain_pem
  std::chrono::system_clock::time_point not_after;
};

// Signs `csr_pem` (PEM PKCS#10) for `identity` (a SPIFFE ID) at `now`.
// Errors (kInvalidArgument) name what is wrong with the request: not a CSR,
// a bad signature, not a P-256 key.
Result<WorkloadCertificate> issue_workload(const SigningAuthority& authority,
                                           std::string_view csr_pem, std::string_view identity,
                                           std::chrono::seconds ttl,
                                           std::chrono::system_clock::time_point now);

// A certificate as people read it, for golden tests and meshctl: subject,
// issuer, key, validity and each extension, without the serial and key
// identifiers (random). Errors when `cert_pem` is not a certificate.
Result<std::string> describe(std::string_view cert_pem);

struct CertificateRequest {
  std::string csr_pem;
  std::string key_pem;
};

// A PKCS#10 request for a new key of `curve` ("P-256", "P-384"), with
// whatever names `subject_alt_names` gives ("DNS:x,URI:y"; empty: none),
// for tests and tools that play a proxy.
Result<CertificateRequest> new_request(const std::string& subject_alt_names,
                                       const char* curve = "P-256");

}  // namespace weft::cp::ca
