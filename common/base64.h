// Base64 (RFC 4648, with padding) as Kubernetes uses it: Secret data,
// kubeconfig certificates, caBundle, an admission response's patch.
#pragma once

#include <string>
#include <string_view>

namespace weft::base64 {

std::string encode(std::string_view data);
// Stops at the first character that is not base64; what came before is kept.
std::string decode(std::string_view text);

}  // namespace weft::base64
