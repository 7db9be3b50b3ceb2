// The webhook's serving certificate as the control plane keeps it: an
// authority (whose certificate is the webhook configuration's caBundle) and
// a serving certificate it signed for the webhook Service's DNS names, both
// stored in one Secret. Renewal is planned here, purely, from what the
// Secret holds and the time; the Kubernetes side only reads and writes it.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "controlplane/ca/certificates.h"

namespace weft::cp::ca {

struct ServingSecret {
  KeyPair authority;
  KeyPair serving;
};

struct RenewalPolicy {
  std::chrono::hours authority_validity{24 * 365 * 10};
  std::chrono::hours serving_validity{24 * 365};
  std::chrono::hours renew_before{24 * 30};  // renew what expires sooner than this
};

struct Renewal {
  bool authority = false;  // a new authority (and so a new serving certificate)
  bool serving = false;
  std::string reason;  // why, for the log; empty when nothing is due
};

Renewal plan_renewal(const std::optional<ServingSecret>& current,
                     const std::vector<std::string>& dns_names,
                     std::chrono::system_clock::time_point now, const RenewalPolicy& policy);

// `current` with what `renewal` asks for issued anew.
Result<ServingSecret> renew(const std::optional<ServingSecret>& current, const Renewal& renewal,
                            const std::vector<std::string>& dns_names, const RenewalPolicy& policy);

}  // namespace weft::cp::ca
