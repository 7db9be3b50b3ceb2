// OpenSSL handles and PEM reading shared by the control plane's certificate
// code (certificates.cc, workload_certificates.cc). Internal to ca/.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <string_view>

#include "common/openssl_handles.h"
#include "common/result.h"

namespace weft::cp::ca::x509 {

using openssl::Bio;
using openssl::bio_text;
using openssl::Certificate;
using openssl::Key;
using openssl::Names;
using openssl::Request;

Result<Certificate> read_certificate(std::string_view pem);
Result<Key> read_key(std::string_view pem);
Result<Request> read_request(std::string_view pem);

std::string pem_of(X509* cert);
// A distinguished name as RFC 2253 text; empty for an empty name.
std::string name_text(const X509_NAME* name);

// Adds one v3 extension in openssl.cnf syntax ("critical,CA:TRUE").
bool add_extension(X509* cert, X509* issuer, int nid, const std::string& value);

// A v3 certificate for `key` with a random positive 128-bit serial; no
// subject, issuer, validity or extensions yet.
Certificate new_certificate(EVP_PKEY* key);

}  // namespace weft::cp::ca::x509
