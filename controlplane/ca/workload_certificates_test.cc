#include "controlplane/ca/workload_certificates.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "controlplane/ca/authority.h"
#include "controlplane/ca/x509.h"

namespace weft::cp::ca {
namespace {

using std::chrono::hours;
using std::chrono::seconds;
using testing::HasSubstr;
using Clock = std::chrono::system_clock;

// Tests run from the source tree's root.
const std::filesystem::path kTestdata = "controlplane/ca/testdata";

SigningAuthority root_authority() {
  auto root = new_authority("weft test root", hours(24 * 365));
  EXPECT_TRUE(root);
  return {*root, "", root->cert_pem};
}

// The golden text of `name`; WEFT_UPDATE_GOLDEN=1 writes it instead.
void expect_golden(const std::string& name, const std::string& actual) {
  const auto path = kTestdata / (name + ".txt");
  if (std::getenv("WEFT_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path) << actual;
    return;
  }
  std::ifstream in(path);
  std::stringstream expected;
  expected << in.rdbuf();
  EXPECT_EQ(actual, expected.str()) << "golden " << path << " (WEFT_UPDATE_GOLDEN=1 rewrites it)";
}

TEST(SpiffeId, BuiltFromTrustDomainNamespaceAndAccount) {
  EXPECT_EQ(spiffe_id("cluster.local", "shop", "reviews"),
            "spiffe://cluster.local/ns/shop/sa/reviews");
}

TEST(TrustDomain, Checked) {
  struct Case {
    std::string domain;
    bool valid;
  };
  const Case cases[] = {
      {"cluster.local", true},        {"prod-eu_1.example.com", true},   {"", false},
      {"Cluster.local", false},       {"spiffe://cluster.local", false}, {"a/b", false},
      {std::string(256, 'a'), false}, {std::string(255, 'a'), true}};
  for (const auto& c : cases) {
    EXPECT_EQ(trust_domain_error(c.domain).empty(), c.valid) << c.domain;
  }
}

TEST(GrantedTtl, DefaultWhenNoneAskedAndNeverOverTheMaximum) {
  const TtlPolicy policy{hours(24), hours(48)};
  struct Case {
    seconds requested, granted;
  };
  const Case cases[] = {{seconds(0), hours(24)},
                        {seconds(-5), hours(24)},
                        {hours(1), hours(1)},
                        {hours(48), hours(48)},
                        {hours(24 * 90), hours(48)}};
  for (const auto& c : cases) {
    EXPECT_EQ(granted_ttl(c.requested, policy), c.granted) << c.requested.count();
  }
}

// Each request's own names, CA flag and subject are ignored: the golden
// text is the same certificate for all of them.
TEST(IssueWorkload, NamesOnlyTheCallersIdentity) {
  const auto authority = root_authority();
  struct Case {
    std::string name;
    std::string request_names;
  };
  const Case cases[] = {
      {"no names", ""},
      {"another workload's identity", "URI:spiffe://cluster.local/ns/kube-system/sa/admin"},
      {"DNS and IP names", "DNS:evil.example.com,IP:10.0.0.1"},
  };
  for (const auto& c : cases) {
    auto request = new_request(c.request_names);
    ASSERT_TRUE(request) << c.name;
    auto issued =
        issue_workload(authority, request->csr_pem, "spiffe://cluster.local/ns/shop/sa/reviews",
                       hours(24), Clock::now());
    ASSERT_TRUE(issued) << c.name << ": " << issued.error().message;
    auto text = describe(issued->cert_pem);
    ASSERT_TRUE(text);
    expect_golden("workload", *text);
    auto info = inspect(issued->cert_pem);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->uri_names,
              std::vector<std::string>{"spiffe://cluster.local/ns/shop/sa/reviews"})
        << c.name;
    EXPECT_TRUE(info->dns_names.empty()) << c.name;
    EXPECT_FALSE(info->is_authority) << c.name;
    EXPECT_TRUE(verifies({issued->cert_pem, request->key_pem}, authority.signer.cert_pem))
        << c.name;
  }
}

TEST(IssueWorkload, ValidFromFiveMinutesBeforeForTheTtl) {
  const auto authority = root_authority();
  auto request = new_request("");
  ASSERT_TRUE(request);
  const auto now = Clock::from_time_t(Clock::to_time_t(Clock::now()));  // whole seconds
  auto issued = issue_workload(authority, request->csr_pem, "spiffe://td/ns/a/sa/b", hours(2), now);
  ASSERT_TRUE(issued);
  auto info = inspect(issued->cert_pem);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->not_before, now - std::chrono::minutes(5));
  EXPECT_EQ(info->not_after, now + hours(2));
  EXPECT_EQ(issued->not_after, now + hours(2));
}

TEST(IssueWorkload, NeverOutlivesItsSigner) {
  auto short_root = new_authority("short-lived root", hours(3));
  ASSERT_TRUE(short_root);
  const SigningAuthority authority{*short_root, "", short_root->cert_pem};
  auto request = new_request("");
  ASSERT_TRUE(request);
  auto issued =
      issue_workload(authority, request->csr_pem, "spiffe://td/ns/a/sa/b", hours(24), Clock::now());
  ASSERT_TRUE(issued);
  auto root_info = inspect(short_root->cert_pem);
  EXPECT_EQ(issued->not_after, root_info->not_after);
}

TEST(IssueWorkload, RefusesWhatIsNotAGoodRequest) {
  const auto authority = root_authority();
  auto p384 = new_request("", "P-384");
  ASSERT_TRUE(p384);
  auto good = new_request("");
  ASSERT_TRUE(good);
  // The request's signature covers its key: another key's signature fails.
  auto other = new_request("DNS:x");
  std::string tampered = good->csr_pem;
  tampered.replace(tampered.find('\n') + 40, 4, "AAAA");
  struct Case {
    std::string name, csr, message;
  };
  const Case cases[] = {
      {"not PEM", "hello", "not a PEM certificate request"},
      {"a P-384 key", p384->csr_pem, "not ECDSA P-256"},
      {"a damaged request", tampered, "certificate request"},
  };
  for (const auto& c : cases) {
    auto issued = issue_workload(authority, c.csr, "spiffe://td/ns/a/sa/b", hours(1), Clock::now());
    ASSERT_FALSE(issued) << c.name;
    EXPECT_EQ(issued.error().code, ErrorCode::kInvalidArgument) << c.name;
    EXPECT_THAT(issued.error().message, HasSubstr(c.message)) << c.name;
  }
}

// An intermediate authority signed by `root`, as a user's own PKI would make one.
KeyPair intermediate_under(const KeyPair& root) {
  x509::Key key(EVP_EC_gen("P-256"));
  auto cert = x509::new_certificate(key.get());
  auto root_cert = x509::read_certificate(root.cert_pem);
  auto root_key = x509::read_key(root.key_pem);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24L * 3600);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("user intermediate"), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(root_cert->get()));
  x509::add_extension(cert.get(), root_cert->get(), NID_basic_constraints, "critical,CA:TRUE");
  x509::add_extension(cert.get(), root_cert->get(), NID_key_usage, "critical,keyCertSign");
  X509_sign(cert.get(), root_key->get(), EVP_sha256());
  x509::Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  return {x509::pem_of(cert.get()), x509::bio_text(bio.get())};
}

TEST(Intermediate, LeavesChainThroughItToTheUsersRoot) {
  auto root = new_authority("user root", hours(24 * 365));
  auto stranger = new_authority("stranger", hours(24));
  ASSERT_TRUE(root && stranger);
  const auto intermediate = intermediate_under(*root);
  auto dir = std::filesystem::temp_directory_path() / "weft-ca-intermediate-test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "cert.pem") << intermediate.cert_pem;
  std::ofstream(dir / "key.pem") << intermediate.key_pem;
  std::ofstream(dir / "root.pem") << root->cert_pem;
  std::ofstream(dir / "stranger.pem") << stranger->cert_pem;
  std::ofstream(dir / "stranger-key.pem") << stranger->key_pem;

  auto authority = load_intermediate(dir / "cert.pem", dir / "key.pem", dir / "root.pem");
  ASSERT_TRUE(authority) << authority.error().message;
  EXPECT_EQ(authority->trust_bundle_pem, root->cert_pem);
  auto request = new_request("");
  auto issued =
      issue_workload(*authority, request->csr_pem, "spiffe://td/ns/a/sa/b", hours(1), Clock::now());
  ASSERT_TRUE(issued) << issued.error().message;
  EXPECT_EQ(issued->chain_pem, issued->cert_pem + intermediate.cert_pem);
  EXPECT_TRUE(verifies({issued->cert_pem, request->key_pem}, intermediate.cert_pem));

  struct Case {
    std::string name, cert, key, roots, message;
  };
  const Case cases[] = {
      {"not under the roots", "stranger.pem", "stranger-key.pem", "root.pem",
       "is not signed by a root"},
      {"another certificate's key", "cert.pem", "stranger-key.pem", "root.pem", "does not belong"},
      {"roots that are not authorities", "cert.pem", "key.pem", "key.pem", "no certificate"},
  };
  for (const auto& c : cases) {
    auto refused = load_intermediate(dir / c.cert, dir / c.key, dir / c.roots);
    ASSERT_FALSE(refused) << c.name;
    EXPECT_THAT(refused.error().message, HasSubstr(c.message)) << c.name;
  }
  std::filesystem::remove_all(dir);
}

TEST(RootDirectory, CreatedOnceThenRead) {
  auto dir = std::filesystem::temp_directory_path() / "weft-ca-root-test";
  std::filesystem::remove_all(dir);
  auto first = load_or_create_root(dir);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(std::filesystem::status(dir / kRootKeyFile).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  auto second = load_or_create_root(dir);
  ASSERT_TRUE(second);
  EXPECT_EQ(first->signer.cert_pem, second->signer.cert_pem);
  EXPECT_EQ(second->trust_bundle_pem, second->signer.cert_pem);
  EXPECT_TRUE(second->chain_pem.empty());

  // A previous root stays trusted beside the current one.
  auto previous = new_authority("previous root", hours(24));
  std::ofstream(dir / kPreviousRootsFile) << previous->cert_pem;
  auto rotated = load_or_create_root(dir);
  ASSERT_TRUE(rotated);
  EXPECT_EQ(rotated->trust_bundle_pem, first->signer.cert_pem + previous->cert_pem);

  // A key without its certificate is an error, not a new root.
  std::filesystem::remove(dir / kRootCertFile);
  auto half = load_or_create_root(dir);
  ASSERT_FALSE(half);
  EXPECT_THAT(half.error().message, HasSubstr("ca-key.pem without ca-cert.pem"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace weft::cp::ca
