#include "controlplane/ca/serving_secret.h"

#include <algorithm>

namespace weft::cp::ca {
namespace {

bool expires_soon(const CertificateInfo& info, std::chrono::system_clock::time_point now,
                  const RenewalPolicy& policy) {
  return info.not_after - now < policy.renew_before;
}

}  // namespace

Renewal plan_renewal(const std::optional<ServingSecret>& current,
                     const std::vector<std::string>& dns_names,
                     std::chrono::system_clock::time_point now, const RenewalPolicy& policy) {
  if (!current) return {true, true, "no certificate yet"};
  auto authority = inspect(current->authority.cert_pem);
  if (!authority || !authority->is_authority ||
      !verifies(current->authority, current->authority.cert_pem)) {
    return {true, true, "the authority is unreadable or its key does not match"};
  }
  if (expires_soon(*authority, now, policy)) return {true, true, "the authority expires soon"};
  auto serving = inspect(current->serving.cert_pem);
  if (!serving || !verifies(current->serving, current->authority.cert_pem)) {
    return {false, true, "the serving certificate is unreadable or not the authority's"};
  }
  if (expires_soon(*serving, now, policy)) {
    return {false, true, "the serving certificate expires soon"};
  }
  auto wanted = dns_names, have = serving->dns_names;
  std::sort(wanted.begin(), wanted.end());
  std::sort(have.begin(), have.end());
  if (wanted != have) return {false, true, "the Service's DNS names changed"};
  return {};
}

Result<ServingSecret> renew(const std::optional<ServingSecret>& current, const Renewal& renewal,
                            const std::vector<std::string>& dns_names,
                            const RenewalPolicy& policy) {
  ServingSecret next = current.value_or(ServingSecret{});
  if (renewal.authority) {
    auto authority = new_authority("weft-webhook-ca", policy.authority_validity);
    if (!authority) return tl::unexpected(authority.error());
    next.authority = std::move(*authority);
  }
  if (renewal.authority || renewal.serving) {
    auto serving = issue_server(next.authority, dns_names, policy.serving_validity);
    if (!serving) return tl::unexpected(serving.error());
    next.serving = std::move(*serving);
  }
  return next;
}

}  // namespace weft::cp::ca
