#include "controlplane/ca/authority.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "controlplane/ca/x509.h"

namespace weft::cp::ca {
namespace {

namespace fs = std::filesystem;

constexpr std::chrono::hours kRootValidity{24 * 365 * 10};

Result<std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(ErrorCode::kIo, "{}: cannot read it", path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Written whole or not at all (a temporary file renamed), with `mode`.
Result<void> write_file(const fs::path& path, const std::string& text, mode_t mode) {
  auto temporary = path;
  temporary += ".tmp";
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return fail(ErrorCode::kIo, "{}: cannot write it", path.string());
  bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  written = ::fsync(fd) == 0 && written;
  ::close(fd);
  std::error_code ec;
  if (written) fs::rename(temporary, path, ec);
  if (!written || ec) return fail(ErrorCode::kIo, "{}: cannot write it", path.string());
  return {};
}

// Whether `pem` holds one certificate or more, and every one is an authority.
Result<void> check_roots(const std::string& pem, const fs::path& from) {
  x509::Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  int count = 0;
  while (x509::Certificate cert{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) {
    ++count;
    if (X509_check_ca(cert.get()) == 0) {
      return fail(ErrorCode::kInvalidArgument, "{}: certificate {} is not an authority",
                  from.string(), count);
    }
  }
  ERR_clear_error();
  if (count == 0) return fail(ErrorCode::kInvalidArgument, "{}: no certificate", from.string());
  return {};
}

Result<void> check_pair(const KeyPair& pair, const fs::path& cert_file) {
  auto info = inspect(pair.cert_pem);
  if (!info) return fail(ErrorCode::kInvalidArgument, "{}: not a certificate", cert_file.string());
  if (!info->is_authority) {
    return fail(ErrorCode::kInvalidArgument, "{}: not a certificate authority (CA:TRUE)",
                cert_file.string());
  }
  auto cert = x509::read_certificate(pair.cert_pem);
  auto key = x509::read_key(pair.key_pem);
  if (!key || X509_check_private_key(cert->get(), key->get()) != 1) {
    return fail(ErrorCode::kInvalidArgument, "{}: the key does not belong to the certificate",
                cert_file.string());
  }
  return {};
}

}  // namespace

Result<SigningAuthority> load_or_create_root(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fail(ErrorCode::kIo, "--ca-dir {}: {}", dir.string(), ec.message());
  const auto cert_file = dir / kRootCertFile, key_file = dir / kRootKeyFile;
  const bool has_cert = fs::exists(cert_file), has_key = fs::exists(key_file);
  if (has_cert != has_key) {
    return fail(ErrorCode::kInvalidArgument,
                "--ca-dir {}: {} without {}; restore it, or remove both for a new root (every "
                "workload certificate then changes)",
                dir.string(), has_cert ? kRootCertFile : kRootKeyFile,
                has_cert ? kRootKeyFile : kRootCertFile);
  }
  KeyPair root;
  if (!has_cert) {
    auto created = new_authority("weft mesh root", kRootValidity);
    if (!created) return tl::unexpected(created.error());
    root = std::move(*created);
    // The key first: a certificate alone is refused at the next start.
    if (auto w = write_file(key_file, root.key_pem, 0600); !w) return tl::unexpected(w.error());
    if (auto w = write_file(cert_file, root.cert_pem, 0644); !w) return tl::unexpected(w.error());
  } else {
    auto cert = read_file(cert_file);
    auto key = read_file(key_file);
    if (!cert) return tl::unexpected(cert.error());
    if (!key) return tl::unexpected(key.error());
    root = {std::move(*cert), std::move(*key)};
  }
  if (auto checked = check_pair(root, cert_file); !checked) return tl::unexpected(checked.error());
  SigningAuthority authority;
  authority.trust_bundle_pem = root.cert_pem;
  authority.signer = std::move(root);
  if (const auto previous = dir / kPreviousRootsFile; fs::exists(previous)) {
    auto roots = read_file(previous);
    if (!roots) return tl::unexpected(roots.error());
    if (auto checked = check_roots(*roots, previous); !checked) {
      return tl::unexpected(checked.error());
    }
    authority.trust_bundle_pem += *roots;
  }
  return authority;
}

Result<SigningAuthority> load_intermediate(const fs::path& cert_file, const fs::path& key_file,
                                           const fs::path& root_file) {
  auto cert = read_file(cert_file);
  auto key = read_file(key_file);
  auto roots = read_file(root_file);
  if (!cert) return tl::unexpected(cert.error());
  if (!key) return tl::unexpected(key.error());
  if (!roots) return tl::unexpected(roots.error());
  KeyPair signer{*cert, *key};
  if (auto checked = check_pair(signer, cert_file); !checked) {
    return tl::unexpected(checked.error());
  }
  if (auto checked = check_roots(*roots, root_file); !checked) {
    return tl::unexpected(checked.error());
  }
  // The intermediate must chain to one of the roots, or every peer would
  // refuse every leaf it signs.
  x509::Bio bio(BIO_new_mem_buf(roots->data(), static_cast<int>(roots->size())));
  auto intermediate = x509::read_certificate(*cert);
  bool chains = false;
  while (x509::Certificate root{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) {
    EVP_PKEY* root_key = X509_get0_pubkey(root.get());
    if (root_key != nullptr && X509_verify(intermediate->get(), root_key) == 1) chains = true;
  }
  ERR_clear_error();
  if (!chains) {
    return fail(ErrorCode::kInvalidArgument, "{} is not signed by a root in {}", cert_file.string(),
                root_file.string());
  }
  SigningAuthority authority;
  authority.chain_pem = *cert;  // the intermediate itself follows each leaf
  authority.trust_bundle_pem = std::move(*roots);
  authority.signer = std::move(signer);
  return authority;
}

}  // namespace weft::cp::ca
