#include "proxy/identity/credentials.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>

#include "common/openssl_handles.h"

namespace weft::proxy::identity {
namespace {

using openssl::Bio;
using openssl::bio_text;
using openssl::Certificate;
using openssl::Certificates;
using openssl::Key;
using openssl::memory_bio;
using openssl::Request;
using openssl::Store;
using openssl::StoreContext;

// Every certificate in `pem`, in order.
Certificates read_all(std::string_view pem) {
  Certificates all(sk_X509_new_null());
  auto bio = memory_bio(pem);
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    sk_X509_push(all.get(), cert);
  }
  ERR_clear_error();  // the end of the text reads as an error
  return all;
}

SystemClock::time_point time_of(const ASN1_TIME* time) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(time, &tm) != 1) return SystemClock::time_point::min();
  return SystemClock::from_time_t(timegm(&tm));
}

std::vector<std::string> uri_names(X509* cert) {
  std::vector<std::string> names;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
    if (name->type != GEN_URI) continue;
    names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(name->d.ia5)),
                       static_cast<std::size_t>(ASN1_STRING_length(name->d.ia5)));
  }
  GENERAL_NAMES_free(sans);
  return names;
}

// Whether the chain's leaf verifies up to a root of `bundle_pem`, with the
// chain's other certificates as intermediates.
Result<void> verify_chain(const Certificates& chain, std::string_view bundle_pem) {
  auto roots = read_all(bundle_pem);
  if (sk_X509_num(roots.get()) == 0) {
    return fail(ErrorCode::kInvalidArgument, "the trust bundle holds no certificate");
  }
  Store store(X509_STORE_new());
  for (int i = 0; i < sk_X509_num(roots.get()); ++i) {
    X509_STORE_add_cert(store.get(), sk_X509_value(roots.get(), i));
  }
  StoreContext context(X509_STORE_CTX_new());
  X509_STORE_CTX_init(context.get(), store.get(), sk_X509_value(chain.get(), 0), chain.get());
  if (X509_verify_cert(context.get()) != 1) {
    auto error = X509_STORE_CTX_get_error(context.get());
    ERR_clear_error();
    return fail(ErrorCode::kInvalidArgument,
                "the certificate does not chain to the trust bundle: {}",
                X509_verify_cert_error_string(error));
  }
  return {};
}

}  // namespace

Result<KeyAndRequest> new_key_and_request() {
  Key key(EVP_EC_gen("P-256"));
  if (!key) return fail(ErrorCode::kInternal, "generating a P-256 key failed");
  Request request(X509_REQ_new());
  X509_REQ_set_version(request.get(), 0);
  X509_REQ_set_pubkey(request.get(), key.get());
  if (X509_REQ_sign(request.get(), key.get(), EVP_sha256()) == 0) {
    return fail(ErrorCode::kInternal, "signing the certificate request failed");
  }
  Bio csr(BIO_new(BIO_s_mem())), key_pem(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(csr.get(), request.get());
  PEM_write_bio_PrivateKey(key_pem.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  return KeyAndRequest{bio_text(key_pem.get()), bio_text(csr.get())};
}

Result<LeafInfo> read_leaf(std::string_view chain_pem) {
  auto bio = memory_bio(chain_pem);
  Certificate leaf(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!leaf) {
    ERR_clear_error();
    return fail(ErrorCode::kInvalidArgument, "no certificate in the chain");
  }
  return LeafInfo{uri_names(leaf.get()), time_of(X509_get0_notBefore(leaf.get())),
                  time_of(X509_get0_notAfter(leaf.get()))};
}

Result<std::shared_ptr<const Credentials>> accept(std::string key_pem, const Signed& answer,
                                                  const std::vector<std::string>& alpn) {
  auto chain = read_all(answer.chain_pem);
  if (sk_X509_num(chain.get()) == 0) {
    return fail(ErrorCode::kInvalidArgument, "no certificate in the answer");
  }
  X509* leaf = sk_X509_value(chain.get(), 0);
  auto key_bio = memory_bio(key_pem);
  Key key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!key || X509_check_private_key(leaf, key.get()) != 1) {
    ERR_clear_error();
    return fail(ErrorCode::kInvalidArgument, "the certificate is not for this proxy's key");
  }
  auto names = uri_names(leaf);
  if (names.size() != 1 || names.front() != answer.spiffe_id ||
      !answer.spiffe_id.starts_with("spiffe://")) {
    return fail(ErrorCode::kInvalidArgument,
                "the certificate does not name exactly the identity '{}' it was issued for",
                answer.spiffe_id);
  }
  if (auto verified = verify_chain(chain, answer.trust_bundle_pem); !verified) {
    return tl::unexpected(verified.error());
  }
  auto credentials = std::make_shared<Credentials>();
  credentials->spiffe_id = answer.spiffe_id;
  credentials->chain_pem = answer.chain_pem;
  credentials->trust_bundle_pem = answer.trust_bundle_pem;
  credentials->key_pem = std::move(key_pem);
  credentials->not_before = time_of(X509_get0_notBefore(leaf));
  credentials->not_after = time_of(X509_get0_notAfter(leaf));
  const tls::MemoryIdentity memory_identity{credentials->chain_pem, credentials->key_pem,
                                            credentials->trust_bundle_pem};
  auto server = tls::mutual_server_context(memory_identity, alpn);
  if (!server) return tl::unexpected(server.error());
  auto client = tls::mutual_client_context(memory_identity, alpn);
  if (!client) return tl::unexpected(client.error());
  credentials->server = std::move(*server);
  credentials->client = std::move(*client);
  return std::shared_ptr<const Credentials>(std::move(credentials));
}

}  // namespace weft::proxy::identity
