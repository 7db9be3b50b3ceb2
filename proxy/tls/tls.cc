#include "proxy/tls/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ssl/verify_context.hpp>
#include <boost/beast/core/string.hpp>

namespace weft::proxy::tls {
namespace {

namespace ssl = boost::asio::ssl;

boost::asio::const_buffer asio_buffer(std::string_view text) { return {text.data(), text.size()}; }

std::string openssl_error() {
  auto code = ERR_get_error();
  if (code == 0) return "unknown TLS error";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  ERR_clear_error();
  return text;
}

Result<void> load_identity(Context& context, const std::string& cert_file,
                           const std::string& key_file) {
  boost::system::error_code ec;
  context.use_certificate_chain_file(cert_file, ec);
  if (ec) return fail(ErrorCode::kInvalidArgument, "certificate {}: {}", cert_file, ec.message());
  context.use_private_key_file(key_file, Context::pem, ec);
  if (ec) return fail(ErrorCode::kInvalidArgument, "private key {}: {}", key_file, ec.message());
  if (SSL_CTX_check_private_key(context.native_handle()) != 1) {
    return fail(ErrorCode::kInvalidArgument, "private key {} does not match certificate {}",
                key_file, cert_file);
  }
  return {};
}

// The peer certificate's subject alternative names as text (DNS and URI as
// written, IP addresses in their textual form).
std::vector<std::string> subject_alt_names(X509* cert) {
  std::vector<std::string> names;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans == nullptr) return names;
  for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
    if (name->type == GEN_DNS || name->type == GEN_URI) {
      const auto* text = name->d.ia5;
      names.emplace_back(reinterpret_cast<const char*>(text->data),
                         static_cast<std::size_t>(text->length));
    } else if (name->type == GEN_IPADD) {
      const auto* ip = name->d.ip;
      char buffer[64] = {};
      if (ip->length == 4 || ip->length == 16) {
        inet_ntop(ip->length == 4 ? AF_INET : AF_INET6, ip->data, buffer, sizeof buffer);
        names.emplace_back(buffer);
      }
    }
  }
  GENERAL_NAMES_free(sans);
  return names;
}

int select_alpn(SSL*, const unsigned char** out, unsigned char* out_length,
                const unsigned char* offered, unsigned int offered_length, void* ours) {
  const auto& wire = *static_cast<const std::string*>(ours);
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(
          &selected, out_length, reinterpret_cast<const unsigned char*>(wire.data()),
          static_cast<unsigned>(wire.size()), offered, offered_length) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;  // no overlap: continue without ALPN
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

// A context owning the ALPN wire string its callback points into.
struct ServerContext : Context {
  ServerContext() : Context(Context::tls_server) {}
  std::string alpn;
};

}  // namespace

std::vector<std::string> peer_uri_names(SSL* ssl) {
  std::vector<std::string> names;
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return names;
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

std::string alpn_wire(const std::vector<std::string>& protocols) {
  std::string wire;
  for (const auto& p : protocols) {
    wire.push_back(static_cast<char>(p.size()));
    wire += p;
  }
  return wire;
}

bool subject_alt_names_match(const std::vector<std::string>& names,
                             const std::vector<std::string>& accepted) {
  for (const auto& want : accepted) {
    for (const auto& name : names) {
      if (boost::beast::iequals(name, want)) return true;
      if (want.starts_with("*.")) {
        auto dot = name.find('.');
        if (dot != std::string::npos && dot > 0 &&
            boost::beast::iequals(name.substr(dot), want.substr(1))) {
          return true;
        }
      }
    }
  }
  return false;
}

Result<std::shared_ptr<Context>> server_context(const ServerSettings& settings) {
  auto context = std::make_shared<ServerContext>();
  context->set_options(Context::default_workarounds | Context::no_sslv2 | Context::no_sslv3 |
                       Context::no_tlsv1 | Context::no_tlsv1_1 | Context::single_dh_use);
  if (auto loaded = load_identity(*context, settings.cert_file, settings.key_file); !loaded) {
    return tl::unexpected(loaded.error());
  }
  if (!settings.ca_file.empty()) {
    boost::system::error_code ec;
    context->load_verify_file(settings.ca_file, ec);
    if (ec) return fail(ErrorCode::kInvalidArgument, "CA {}: {}", settings.ca_file, ec.message());
    context->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  }
  context->alpn =
      alpn_wire(settings.alpn.empty() ? std::vector<std::string>{"http/1.1"} : settings.alpn);
  SSL_CTX_set_alpn_select_cb(context->native_handle(), select_alpn, &context->alpn);
  return std::shared_ptr<Context>(std::move(context));
}

namespace {

Result<void> load_memory_identity(Context& context, const MemoryIdentity& identity) {
  boost::system::error_code ec;
  context.use_certificate_chain(asio_buffer(identity.chain_pem), ec);
  if (ec) return fail(ErrorCode::kInvalidArgument, "certificate chain: {}", ec.message());
  context.use_private_key(asio_buffer(identity.key_pem), Context::pem, ec);
  if (ec) return fail(ErrorCode::kInvalidArgument, "private key: {}", ec.message());
  if (SSL_CTX_check_private_key(context.native_handle()) != 1) {
    ERR_clear_error();
    return fail(ErrorCode::kInvalidArgument, "the private key does not match the certificate");
  }
  context.add_certificate_authority(asio_buffer(identity.trust_bundle_pem), ec);
  if (ec) return fail(ErrorCode::kInvalidArgument, "trust bundle: {}", ec.message());
  return {};
}

}  // namespace

Result<std::shared_ptr<Context>> mutual_server_context(const MemoryIdentity& identity,
                                                       const std::vector<std::string>& alpn) {
  auto context = std::make_shared<ServerContext>();
  context->set_options(Context::default_workarounds | Context::no_sslv2 | Context::no_sslv3 |
                       Context::no_tlsv1 | Context::no_tlsv1_1 | Context::single_dh_use);
  if (auto loaded = load_memory_identity(*context, identity); !loaded) {
    return tl::unexpected(loaded.error());
  }
  context->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  context->alpn = alpn_wire(alpn.empty() ? std::vector<std::string>{"h2", "http/1.1"} : alpn);
  SSL_CTX_set_alpn_select_cb(context->native_handle(), select_alpn, &context->alpn);
  return std::shared_ptr<Context>(std::move(context));
}

Result<std::shared_ptr<Context>> mutual_client_context(const MemoryIdentity& identity,
                                                       const std::vector<std::string>& alpn) {
  auto context = std::make_shared<Context>(Context::tls_client);
  context->set_options(Context::default_workarounds | Context::no_sslv2 | Context::no_sslv3 |
                       Context::no_tlsv1 | Context::no_tlsv1_1);
  if (auto loaded = load_memory_identity(*context, identity); !loaded) {
    return tl::unexpected(loaded.error());
  }
  context->set_verify_mode(ssl::verify_peer);
  if (!alpn.empty()) {
    auto wire = alpn_wire(alpn);
    if (SSL_CTX_set_alpn_protos(context->native_handle(),
                                reinterpret_cast<const unsigned char*>(wire.data()),
                                static_cast<unsigned>(wire.size())) != 0) {
      return fail(ErrorCode::kInvalidArgument, "ALPN: {}", openssl_error());
    }
  }
  return context;
}

Result<std::shared_ptr<Context>> client_context(const ClientSettings& settings) {
  auto context = std::make_shared<Context>(Context::tls_client);
  context->set_options(Context::default_workarounds | Context::no_sslv2 | Context::no_sslv3 |
                       Context::no_tlsv1 | Context::no_tlsv1_1);
  boost::system::error_code ec;
  if (settings.ca_file.empty()) {
    context->set_default_verify_paths(ec);
  } else {
    context->load_verify_file(settings.ca_file, ec);
  }
  if (ec) return fail(ErrorCode::kInvalidArgument, "CA {}: {}", settings.ca_file, ec.message());
  if (!settings.cert_file.empty() || !settings.key_file.empty()) {
    if (auto loaded = load_identity(*context, settings.cert_file, settings.key_file); !loaded) {
      return tl::unexpected(loaded.error());
    }
  }
  context->set_verify_mode(ssl::verify_peer);
  if (!settings.verify_subject_alt_names.empty()) {
    context->set_verify_callback([accepted = settings.verify_subject_alt_names](
                                     bool preverified, ssl::verify_context& verify) {
      if (!preverified) return false;
      auto* store = verify.native_handle();
      if (X509_STORE_CTX_get_error_depth(store) != 0) return true;  // only the leaf is named
      return subject_alt_names_match(subject_alt_names(X509_STORE_CTX_get_current_cert(store)),
                                     accepted);
    });
  }
  if (!settings.alpn.empty()) {
    auto wire = alpn_wire(settings.alpn);
    if (SSL_CTX_set_alpn_protos(context->native_handle(),
                                reinterpret_cast<const unsigned char*>(wire.data()),
                                static_cast<unsigned>(wire.size())) != 0) {
      return fail(ErrorCode::kInvalidArgument, "ALPN: {}", openssl_error());
    }
  }
  return context;
}

}  // namespace weft::proxy::tls
