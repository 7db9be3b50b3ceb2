#include "controlplane/ca/workload_certificates.h"

#include <fmt/format.h>
#include <openssl/core_names.h>

#include <algorithm>
#include <array>

#include "controlplane/ca/x509.h"

namespace weft::cp::ca {
namespace {

using std::chrono::seconds;
using Clock = std::chrono::system_clock;

constexpr seconds kBackdate{300};

// Whether `key` is an EC key on P-256.
bool is_p256(EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return false;
  std::array<char, 64> group{};
  std::size_t length = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group.data(), group.size(),
                                     &length) != 1) {
    return false;
  }
  std::string_view name(group.data(), length);
  return name == "prime256v1" || name == "P-256";
}

Clock::time_point not_after_of(X509* cert) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) return Clock::time_point::min();
  return Clock::from_time_t(timegm(&tm));
}

// For people: an empty subject says so.
std::string name_text(const X509_NAME* name) {
  auto text = x509::name_text(name);
  return text.empty() ? "(empty)" : text;
}

std::string hours_text(seconds length) {
  auto minutes = std::chrono::duration_cast<std::chrono::minutes>(length).count();
  return fmt::format("{}h{:02}m", minutes / 60, minutes % 60);
}

}  // namespace

std::string spiffe_id(std::string_view trust_domain, std::string_view ns,
                      std::string_view service_account) {
  return fmt::format("spiffe://{}/ns/{}/sa/{}", trust_domain, ns, service_account);
}

std::string trust_domain_error(std::string_view trust_domain) {
  if (trust_domain.empty()) return "a trust domain is not empty";
  if (trust_domain.size() > 255) return "a trust domain has at most 255 characters";
  for (char c : trust_domain) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_')) {
      return fmt::format(
          "'{}' is not a trust domain: lowercase letters, digits, '.', '-' and '_' only",
          trust_domain);
    }
  }
  return {};
}

seconds granted_ttl(seconds requested, const TtlPolicy& policy) {
  auto ttl = requested.count() > 0 ? requested : policy.default_ttl;
  return std::min(ttl, policy.max_ttl);
}

Result<WorkloadCertificate> issue_workload(const SigningAuthority& authority,
                                           std::string_view csr_pem, std::string_view identity,
                                           seconds ttl, Clock::time_point now) {
  auto request = x509::read_request(csr_pem);
  if (!request) return tl::unexpected(request.error());
  EVP_PKEY* key = X509_REQ_get0_pubkey(request->get());
  if (key == nullptr || X509_REQ_verify(request->get(), key) != 1) {
    return fail(ErrorCode::kInvalidArgument, "the certificate request's signature does not verify");
  }
  if (!is_p256(key)) {
    return fail(ErrorCode::kInvalidArgument, "the certificate request's key is not ECDSA P-256");
  }
  auto signer_cert = x509::read_certificate(authority.signer.cert_pem);
  auto signer_key = x509::read_key(authority.signer.key_pem);
  if (!signer_cert || !signer_key) {
    return fail(ErrorCode::kInternal, "the signing authority is unreadable");
  }
  auto not_after = std::min(now + ttl, not_after_of(signer_cert->get()));
  if (not_after <= now) return fail(ErrorCode::kUnavailable, "the signing authority has expired");

  auto cert = x509::new_certificate(key);
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), Clock::to_time_t(now - kBackdate));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), Clock::to_time_t(not_after));
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer_cert->get()));
  X509* issuer = signer_cert->get();
  // No subject, so the name is critical (RFC 5280 §4.2.1.6).
  if (!x509::add_extension(cert.get(), issuer, NID_subject_alt_name,
                           fmt::format("critical,URI:{}", identity))) {
    return fail(ErrorCode::kInvalidArgument, "'{}' cannot be a certificate's URI name", identity);
  }
  // The authority key identifier only when the signer has a key identifier
  // to point at (a user's intermediate may not).
  if (!x509::add_extension(cert.get(), issuer, NID_basic_constraints, "critical,CA:FALSE") ||
      !x509::add_extension(cert.get(), issuer, NID_key_usage, "critical,digitalSignature") ||
      !x509::add_extension(cert.get(), issuer, NID_ext_key_usage, "serverAuth,clientAuth") ||
      !x509::add_extension(cert.get(), issuer, NID_subject_key_identifier, "hash") ||
      (X509_get0_subject_key_id(issuer) != nullptr &&
       !x509::add_extension(cert.get(), issuer, NID_authority_key_identifier, "keyid"))) {
    return fail(ErrorCode::kInternal, "building the certificate's extensions failed");
  }
  if (X509_sign(cert.get(), signer_key->get(), EVP_sha256()) == 0) {
    return fail(ErrorCode::kInternal, "signing the certificate failed");
  }
  WorkloadCertificate out;
  out.cert_pem = x509::pem_of(cert.get());
  out.chain_pem = out.cert_pem + authority.chain_pem;
  out.not_after = not_after;
  return out;
}

Result<std::string> describe(std::string_view cert_pem) {
  auto cert = x509::read_certificate(cert_pem);
  if (!cert) return tl::unexpected(cert.error());
  X509* c = cert->get();
  std::string out;
  out += "subject: " + name_text(X509_get_subject_name(c)) + "\n";
  out += "issuer: " + name_text(X509_get_issuer_name(c)) + "\n";
  EVP_PKEY* key = X509_get0_pubkey(c);
  out += fmt::format("key: {}\n",
                     is_p256(key) ? "ECDSA P-256" : OBJ_nid2sn(EVP_PKEY_get_base_id(key)));
  out += fmt::format("signature: {}\n", OBJ_nid2ln(X509_get_signature_nid(c)));
  std::tm from{}, to{};
  ASN1_TIME_to_tm(X509_get0_notBefore(c), &from);
  ASN1_TIME_to_tm(X509_get0_notAfter(c), &to);
  out += "validity: " +
         hours_text(std::chrono::duration_cast<seconds>(Clock::from_time_t(timegm(&to)) -
                                                        Clock::from_time_t(timegm(&from)))) +
         "\n";
  for (int i = 0; i < X509_get_ext_count(c); ++i) {
    X509_EXTENSION* extension = X509_get_ext(c, i);
    int nid = OBJ_obj2nid(X509_EXTENSION_get_object(extension));
    // Random or derived from a random key: not the same twice.
    if (nid == NID_subject_key_identifier || nid == NID_authority_key_identifier) continue;
    x509::Bio bio(BIO_new(BIO_s_mem()));
    X509V3_EXT_print(bio.get(), extension, 0, 0);
    out += fmt::format("{}{}: {}\n", OBJ_nid2ln(nid),
                       X509_EXTENSION_get_critical(extension) != 0 ? " (critical)" : "",
                       x509::bio_text(bio.get()));
  }
  return out;
}

Result<CertificateRequest> new_request(const std::string& subject_alt_names, const char* curve) {
  x509::Key key(EVP_EC_gen(curve));
  if (!key) return fail(ErrorCode::kInternal, "generating a {} key failed", curve);
  x509::Request request(X509_REQ_new());
  X509_REQ_set_version(request.get(), 0);
  X509_REQ_set_pubkey(request.get(), key.get());
  if (!subject_alt_names.empty()) {
    X509_NAME* subject = X509_REQ_get_subject_name(request.get());
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>("someone-else"), -1, -1, 0);
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, nullptr, nullptr, request.get(), nullptr, 0);
    auto* extensions = sk_X509_EXTENSION_new_null();
    X509_EXTENSION* names =
        X509V3_EXT_conf_nid(nullptr, &context, NID_subject_alt_name, subject_alt_names.c_str());
    X509_EXTENSION* ca = X509V3_EXT_conf_nid(nullptr, &context, NID_basic_constraints, "CA:TRUE");
    if (names == nullptr || ca == nullptr) {
      return fail(ErrorCode::kInvalidArgument, "'{}' are not names", subject_alt_names);
    }
    sk_X509_EXTENSION_push(extensions, names);
    sk_X509_EXTENSION_push(extensions, ca);
    X509_REQ_add_extensions(request.get(), extensions);
    sk_X509_EXTENSION_pop_free(extensions, X509_EXTENSION_free);
  }
  if (X509_REQ_sign(request.get(), key.get(), EVP_sha256()) == 0) {
    return fail(ErrorCode::kInternal, "signing the request failed");
  }
  x509::Bio csr(BIO_new(BIO_s_mem()));
  x509::Bio key_pem(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(csr.get(), request.get());
  PEM_write_bio_PrivateKey(key_pem.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  return CertificateRequest{x509::bio_text(csr.get()), x509::bio_text(key_pem.get())};
}

}  // namespace weft::cp::ca
