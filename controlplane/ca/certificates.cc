#include "controlplane/ca/certificates.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>

namespace weft::cp::ca {
namespace {

template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* p) const {
    Free(p);
  }
};
using Bio = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using Certificate = std::unique_ptr<X509, Deleter<X509_free>>;
using Names = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;

Result<Certificate> read_certificate(std::string_view pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Certificate cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return fail(ErrorCode::kInvalidArgument, "not a PEM certificate");
  return cert;
}

Result<Key> read_key(std::string_view pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Key key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return fail(ErrorCode::kInvalidArgument, "not a PEM private key");
  return key;
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return {data, static_cast<std::size_t>(size)};
}

// Adds one v3 extension in openssl.cnf syntax ("critical,CA:TRUE").
bool add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str());
  if (extension == nullptr) return false;
  bool added = X509_add_ext(cert, extension, -1) == 1;
  X509_EXTENSION_free(extension);
  return added;
}

// An unsigned certificate for `key` with a random serial and the validity.
Certificate new_certificate(EVP_PKEY* key, std::string_view common_name,
                            std::chrono::hours validity) {
  Certificate cert(X509_new());
  X509_set_version(cert.get(), 2);  // v3
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;  // a positive number
  BIGNUM* number = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(number, X509_get_serialNumber(cert.get()));
  BN_free(number);
  // Valid from an hour ago: clocks in a cluster are not perfectly in step.
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()),
                  static_cast<long>(std::chrono::seconds(validity).count()));
  X509_set_pubkey(cert.get(), key);
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
  std::tm not_after{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert->get()), &not_after) != 1) {
    return fail(ErrorCode::kInvalidArgument, "unreadable notAfter");
  }
  info.not_after = std::chrono::system_clock::from_time_t(timegm(&not_after));
  info.is_authority = X509_check_ca(cert->get()) != 0;
  Names names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert->get(), NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_DNS) continue;
    const auto* text = ASN1_STRING_get0_data(name->d.dNSName);
    info.dns_names.emplace_back(reinterpret_cast<const char*>(text),
                                static_cast<std::size_t>(ASN1_STRING_length(name->d.dNSName)));
  }
  return info;
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
