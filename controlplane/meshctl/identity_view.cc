#include "controlplane/meshctl/identity_view.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "common/json_access.h"
#include "controlplane/ca/certificates.h"

namespace weft::meshctl {
namespace {

using json_access::string_at;

std::string utc(std::chrono::system_clock::time_point t) {
  return fmt::format("{:%FT%TZ}", std::chrono::floor<std::chrono::seconds>(t));
}

std::string span_text(std::chrono::system_clock::duration d) {
  if (d < d.zero()) return "-" + span_text(-d);
  auto minutes = std::chrono::duration_cast<std::chrono::minutes>(d).count();
  constexpr decltype(minutes) kDay = 60L * 24;
  if (minutes >= kDay) return fmt::format("{}d{}h", minutes / kDay, minutes / 60 % 24);
  if (minutes >= 60) return fmt::format("{}h{}m", minutes / 60, minutes % 60);
  return fmt::format("{}m", minutes);
}

std::string certificate_line(const cp::ca::CertificateInfo& c) {
  std::string names;
  for (const auto& n : c.uri_names) names += (names.empty() ? "" : ",") + n;
  for (const auto& n : c.dns_names) names += (names.empty() ? "" : ",") + n;
  return fmt::format("{} issued by {}, valid until {}{}",
                     !names.empty() ? names : (c.subject.empty() ? "(no name)" : c.subject),
                     c.issuer.empty() ? "?" : c.issuer, utc(c.not_after),
                     c.is_authority ? " (authority)" : "");
}

}  // namespace

std::string identity_text(const std::string& proxy, const boost::json::object& identity,
                          std::chrono::system_clock::time_point now) {
  std::string out = fmt::format("proxy:          {}\n", proxy);
  const auto id = string_at(&identity, "spiffe_id");
  const auto error = string_at(&identity, "last_error");
  out += fmt::format("identity:       {}\n", id.empty() ? "(none yet)" : id);
  auto chain = cp::ca::inspect_all(string_at(&identity, "chain_pem"));
  if (!chain.empty()) {
    const auto& leaf = chain.front();
    out += fmt::format("valid:          {} to {} (expires in {})\n", utc(leaf.not_before),
                       utc(leaf.not_after), span_text(leaf.not_after - now));
  }
  if (auto renewal = string_at(&identity, "next_renewal"); !renewal.empty()) {
    out += fmt::format("next request:   {}\n", renewal);
  }
  const auto* failures = identity.if_contains("failures_in_a_row");
  const auto failed =
      failures != nullptr && failures->is_number() ? failures->to_number<long>() : 0;
  out += fmt::format("control plane:  {} ({})\n", string_at(&identity, "control_plane"),
                     failed == 0 ? std::string("last request ok")
                                 : fmt::format("{} failed in a row: {}", failed, error));
  if (!chain.empty()) {
    out += "chain:\n";
    for (const auto& c : chain) out += "  " + certificate_line(c) + "\n";
  }
  auto roots = cp::ca::inspect_all(string_at(&identity, "trust_bundle_pem"));
  if (!roots.empty()) {
    out += "trust bundle:\n";
    for (const auto& c : roots) out += "  " + certificate_line(c) + "\n";
  }
  return out;
}

std::optional<CertificateFinding> check_certificate(const boost::json::object& identity,
                                                    std::chrono::system_clock::time_point now) {
  const auto* failures = identity.if_contains("failures_in_a_row");
  const auto failed =
      failures != nullptr && failures->is_number() ? failures->to_number<long>() : 0;
  const auto why = failed == 0 ? std::string()
                               : fmt::format(" ({} requests failed in a row: {})", failed,
                                             string_at(&identity, "last_error"));
  auto chain = cp::ca::inspect_all(string_at(&identity, "chain_pem"));
  if (string_at(&identity, "spiffe_id").empty() || chain.empty()) {
    return CertificateFinding{true, "has no workload certificate" + why};
  }
  const auto& leaf = chain.front();
  if (leaf.not_after <= now) {
    return CertificateFinding{true,
                              fmt::format("certificate expired at {}{}", utc(leaf.not_after), why)};
  }
  if (failed > 0) {
    return CertificateFinding{false,
                              fmt::format("certificate expires in {} and renewing it fails{}",
                                          span_text(leaf.not_after - now), why)};
  }
  return std::nullopt;
}

}  // namespace weft::meshctl
