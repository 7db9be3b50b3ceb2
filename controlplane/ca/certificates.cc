#include "controlplane/ca/certificates.h"

#include <ctime>

#include "controlplane/ca/x509.h"

namespace weft::cp::ca {
namespace {

using x509::add_extension;
using x509::Bio;
using x509::bio_text;
using x509::Certificate;
using x509::Key;
using x509::Names;
using x509::read_certificate;
using x509::read_key;

// An unsigned certificate for `key` with a random serial, the validity and
// `common_name` as its subject.
Certificate new_certificate(EVP_PKEY* key, std::string_view common_name,
                            std::chrono::hours validity) {
  auto cert = x509::new_certificate(key);
  // Valid from an hour ago: clocks in a cluster are not perfectly in step.
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()),
                  static_cast<long>(std::chrono::seconds(validity).count()));
  X509_NAME* subject = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(common_name.data()),
                             static_cast<int>(common_name.size()), -1, 0);
  return cert;
}

Result<KeyPair> sign_and_encode(X509* cert, EVP_PKEY* key, EVP_PKEY* signer) {
  if (X509_sign(cert, signer, EVP_sha256()) == 0) {
    return fail(ErrorCode::kInternal, "signing the certificate failed");
  }
  Bio cert_bio(BIO_new(BIO_s_mem()));
  Bio key_bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(cert_bio.get(), cert);
  PEM_write_bio_PrivateKey(key_bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return KeyPair{bio_text(cert_bio.get()), bio_text(key_bio.get())};
}

}  // namespace

Result<KeyPair> new_authority(std::string_view common_name, std::chrono::hours validity) {
  Key key(EVP_EC_gen("P-256"));
  if (!key) return fail(ErrorCode::kInternal, "generating a P-256 key failed");
  auto cert = new_certificate(key.get(), common_name, validity);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  if (!add_extension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE") ||
      !add_extension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !add_extension(cert.get(), cert.get(), NID_subject_key_identifier, "hash")) {
    return fail(ErrorCode::kInternal, "building the authority's extensions failed");
  }
  return sign_and_encode(cert.get(), key.get(), key.get());
}

Result<KeyPair> issue_server(const KeyPair& authority, const std::vector<std::string>& dns_names,
                             std::chrono::hours validity) {
  if (dns_names.empty()) return fail(ErrorCode::kInvalidArgument, "no DNS names");
  auto ca_cert = read_certificate(authority.cert_pem);
  auto ca_key = read_key(authority.key_pem);
  if (!ca_cert || !ca_key) return fail(ErrorCode::kInvalidArgument, "unreadable authority");
  Key key(EVP_EC_gen("P-256"));
  if (!key) return fail(ErrorCode::kInternal, "generating a P-256 key failed");
  auto cert = new_certificate(key.get(), dns_names.front(), validity);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert->get()));
  std::string alt_names;
  for (const auto& name : dns_names) alt_names += (alt_names.empty() ? "DNS:" : ",DNS:") + name;
  X509* issuer = ca_cert->get();
  if (!add_extension(cert.get(), issuer, NID_basic_constraints, "critical,CA:FALSE") ||
      !add_extension(cert.get(), issuer, NID_key_usage, "critical,digitalSignature") ||
      !add_extension(cert.get(), issuer, NID_ext_key_usage, "serverAuth") ||
      !add_extension(cert.get(), issuer, NID_subject_alt_name, alt_names) ||
      !add_extension(cert.get(), issuer, NID_authority_key_identifier, "keyid")) {
    return fail(ErrorCode::kInternal, "building the certificate's extensions failed");
  }
  return sign_and_encode(cert.get(), key.get(), ca_key->get());
}

Result<CertificateInfo> inspect(std::string_view cert_pem) {
  auto cert = read_certificate(cert_pem);
  if (!cert) return tl::unexpected(cert.error());
  CertificateInfo info;
  std::tm not_before{}, not_after{};
  if (ASN1_TIME_to_tm(X509_get0_notBefore(cert->get()), &not_before) != 1 ||
      ASN1_TIME_to_tm(X509_get0_notAfter(cert->get()), &not_after) != 1) {
    return fail(ErrorCode::kInvalidArgument, "unreadable validity");
  }
  info.not_before = std::chrono::system_clock::from_time_t(timegm(&not_before));
  info.not_after = std::chrono::system_clock::from_time_t(timegm(&not_after));
  info.is_authority = X509_check_ca(cert->get()) != 0;
  info.subject = x509::name_text(X509_get_subject_name(cert->get()));
  info.issuer = x509::name_text(X509_get_issuer_name(cert->get()));
  Names names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert->get(), NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_DNS && name->type != GEN_URI) continue;
    const ASN1_IA5STRING* value = name->d.ia5;  // dNSName and uniformResourceIdentifier alike
    std::string text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                     static_cast<std::size_t>(ASN1_STRING_length(value)));
    (name->type == GEN_DNS ? info.dns_names : info.uri_names).push_back(std::move(text));
  }
  return info;
}

std::vector<CertificateInfo> inspect_all(std::string_view pem) {
  std::vector<CertificateInfo> all;
  constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
  for (auto end = pem.find(kEnd); end != std::string_view::npos; end = pem.find(kEnd)) {
    auto info = inspect(pem.substr(0, end + kEnd.size()));
    if (info) all.push_back(std::move(*info));
    pem.remove_prefix(end + kEnd.size());
  }
  return all;
}

bool verifies(const KeyPair& pair, std::string_view authority_pem) {
  auto cert = read_certificate(pair.cert_pem);
  auto key = read_key(pair.key_pem);
  auto authority = read_certificate(authority_pem);
  if (!cert || !key || !authority) return false;
  if (X509_check_private_key(cert->get(), key->get()) != 1) return false;
  EVP_PKEY* authority_key = X509_get0_pubkey(authority->get());
  return authority_key != nullptr && X509_verify(cert->get(), authority_key) == 1;
}

}  // namespace weft::cp::ca
