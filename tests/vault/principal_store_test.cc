#include "vault/principal_store.h"

#include <cctype>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "audit/audit_entry.h"
#include "gtest/gtest.h"
#include "keys/error_reason.h"
#include "tests/vault/vault_fixture.h"

namespace leadvault::vault::testing {
namespace {

class PrincipalStoreTest : public VaultFixture {
 protected:
  void SetUp() override { OpenOrDie(); }

  PrincipalStore& store() { return vault_->principals(); }
  static Actor Admin() { return MakeActor("00000000000000ad", "admin"); }

  IssuedToken CreateOrDie(std::vector<std::string> roles, absl::Duration ttl = kDefaultTokenTtl,
                          std::vector<std::string> service_lines = {}) {
    NewPrincipal p;
    p.display_name = "Front desk";
    p.roles = std::move(roles);
    p.service_lines = std::move(service_lines);
    p.token_ttl = ttl;
    absl::StatusOr<IssuedToken> t = store().Create(Admin(), std::move(p));
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *std::move(t) : IssuedToken{};
  }

  // UNAUTHENTICATED with the one shared message.
  void ExpectUnauthenticated(absl::string_view token, const std::string& what) {
    absl::StatusOr<Principal> p = store().Authenticate(token);
    ASSERT_FALSE(p.ok()) << what;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kUnauthenticated) << what;
    if (message_.empty()) message_ = std::string(p.status().message());
    EXPECT_EQ(p.status().message(), message_) << what << ": the message must not say why";
  }

  std::string message_;
};

// HMAC-SHA256 of `payload` keyed with the whole secret string, as a form tool
// computes it.
std::string Sign(absl::string_view secret, absl::string_view payload) {
  return leadvault::testing::HmacSha256(secret, payload);
}

TEST_F(PrincipalStoreTest, CreateIssuesATokenThatAuthenticates) {
  IssuedToken t = CreateOrDie({"intake"}, kDefaultTokenTtl, {"ortho", "cardio"});
  const std::string token(t.token.view());
  EXPECT_TRUE(std::regex_match(token, std::regex("lv_[0-9a-f]{16}_[0-9a-f]{64}"))) << "bad format";
  EXPECT_EQ(token.substr(3, 16), t.principal.id);
  EXPECT_EQ(t.principal.created_at, clock_.Now());
  EXPECT_EQ(t.principal.expires_at, clock_.Now() + kDefaultTokenTtl);
  EXPECT_TRUE(t.principal.enabled);

  absl::StatusOr<Principal> p = store().Authenticate(token);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->id, t.principal.id);
  EXPECT_EQ(p->display_name, "Front desk");
  EXPECT_EQ(p->roles, std::vector<std::string>{"intake"});
  EXPECT_EQ(p->service_lines, (std::vector<std::string>{"ortho", "cardio"}));
  EXPECT_FALSE(store().empty());

  // Each principal's token authenticates only that principal.
  IssuedToken t2 = CreateOrDie({"capture"});
  EXPECT_NE(t2.principal.id, t.principal.id);
  absl::StatusOr<Principal> p2 = store().Authenticate(t2.token.view());
  ASSERT_TRUE(p2.ok());
  EXPECT_EQ(p2->id, t2.principal.id);

  // The change is audited, naming the principal but not the token.
  auto audit = ReadAudit(*vault_);
  ASSERT_EQ(audit.size(), 3u);  // InitializeVault first, then this test's two calls
  EXPECT_EQ(audit[0].second.action, "InitializeVault");
  EXPECT_EQ(audit[1].second.action, "CreatePrincipal");
  EXPECT_EQ(audit[1].second.subject, t.principal.id);
  EXPECT_EQ(audit[1].second.principal_id, Admin().principal_id);
}

TEST_F(PrincipalStoreTest, TokensAreNotStoredInClear) {
  IssuedToken t = CreateOrDie({"admin"});
  IssuedToken rotated = *store().RotateToken(Admin(), t.principal.id, absl::Hours(1));
  for (const IssuedToken* tok : {&t, &rotated}) {
    const std::string token(tok->token.view());
    const std::string secret = token.substr(20);
    ASSERT_EQ(secret.size(), 64u);
    for (const auto& [cf, entries] : DumpAll(*vault_)) {
      for (const auto& [key, value] : entries) {
        EXPECT_EQ(key.find(secret), std::string::npos) << cf;
        EXPECT_EQ(value.find(secret), std::string::npos) << cf;
        // Nor its raw bytes or a prefix long enough to matter.
        EXPECT_EQ(value.find(secret.substr(0, 16)), std::string::npos) << cf;
      }
    }
  }
}

TEST_F(PrincipalStoreTest, EveryBadTokenIsUnauthenticatedWithTheSameMessage) {
  IssuedToken t = CreateOrDie({"intake"}, absl::Hours(1));
  const std::string token(t.token.view());
  ASSERT_TRUE(store().Authenticate(token).ok());

  std::string wrong_secret = token;
  wrong_secret.back() = wrong_secret.back() == '0' ? '1' : '0';
  ExpectUnauthenticated(wrong_secret, "wrong secret");
  std::string unknown_id = token;
  unknown_id[3] = unknown_id[3] == 'a' ? 'b' : 'a';
  ExpectUnauthenticated(unknown_id, "unknown id");
  std::string upper = token;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  ExpectUnauthenticated(upper, "upper case");
  ExpectUnauthenticated("lv_x", "malformed lv_x");
  ExpectUnauthenticated("", "empty");
  ExpectUnauthenticated("Bearer", "Bearer");
  ExpectUnauthenticated(absl::StrCat("Bearer ", token), "with scheme");
  ExpectUnauthenticated(std::string(200, 'a'), "200 chars");
  ExpectUnauthenticated(token + "0", "one char too long");
  ExpectUnauthenticated(token.substr(0, token.size() - 1), "one char too short");
  std::string bad_sep = token;
  bad_sep[19] = '-';
  ExpectUnauthenticated(bad_sep, "bad separator");

  // Expired: valid until the instant of expiry.
  clock_.Advance(absl::Hours(1) - absl::Seconds(1));
  ASSERT_TRUE(store().Authenticate(token).ok());
  clock_.Advance(absl::Seconds(1));
  ExpectUnauthenticated(token, "expired");

  // Disabled.
  IssuedToken t2 = CreateOrDie({"capture"});
  ASSERT_TRUE(store().Authenticate(t2.token.view()).ok());
  absl::StatusOr<Principal> disabled = store().Disable(Admin(), t2.principal.id);
  ASSERT_TRUE(disabled.ok()) << disabled.status();
  EXPECT_FALSE(disabled->enabled);
  ExpectUnauthenticated(t2.token.view(), "disabled");
  EXPECT_EQ(store().Disable(Admin(), "0123456789abcdef").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(PrincipalStoreTest, RotateTokenRevokesTheOldOneAtOnce) {
  IssuedToken t = CreateOrDie({"intake"});
  const std::string old_token(t.token.view());
  clock_.Advance(absl::Hours(3));
  absl::StatusOr<IssuedToken> rotated =
      store().RotateToken(Admin(), t.principal.id, absl::Hours(2));
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  EXPECT_NE(rotated->token.view(), old_token);
  EXPECT_EQ(rotated->principal.id, t.principal.id);
  EXPECT_EQ(rotated->principal.expires_at, clock_.Now() + absl::Hours(2));
  ASSERT_TRUE(store().Authenticate(rotated->token.view()).ok());
  ExpectUnauthenticated(old_token, "old token");

  EXPECT_EQ(store().RotateToken(Admin(), "0123456789abcdef", absl::Hours(1)).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store().RotateToken(Admin(), t.principal.id, absl::ZeroDuration()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      store().RotateToken(Admin(), t.principal.id, kMaxTokenTtl + absl::Hours(1)).status().code(),
      absl::StatusCode::kInvalidArgument);

  // A disabled principal gets no new token.
  ASSERT_TRUE(store().Disable(Admin(), t.principal.id).ok());
  EXPECT_EQ(store().RotateToken(Admin(), t.principal.id, absl::Hours(1)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ExpectUnauthenticated(rotated->token.view(), "disabled after rotation");
}

TEST_F(PrincipalStoreTest, RotationGraceKeepsTheOldTokenUntilItEnds) {
  IssuedToken t = CreateOrDie({"capture"});
  const std::string old_token(t.token.view());
  auto rotated = store().RotateToken(Admin(), t.principal.id, kDefaultTokenTtl, absl::Hours(1));
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  const std::string new_token(rotated->token.view());
  EXPECT_EQ(rotated->principal.previous_token_expires_at, clock_.Now() + absl::Hours(1));
  // Both work during the grace period, and the grace survives a restart.
  EXPECT_TRUE(store().Authenticate(old_token).ok());
  EXPECT_TRUE(store().Authenticate(new_token).ok());
  Reopen();
  EXPECT_TRUE(store().Authenticate(old_token).ok());
  clock_.Advance(absl::Minutes(59));
  EXPECT_TRUE(store().Authenticate(old_token).ok());
  clock_.Advance(absl::Minutes(1));
  ExpectUnauthenticated(old_token, "the grace period is over");
  EXPECT_TRUE(store().Authenticate(new_token).ok());

  // A second rotation without grace ends every older token at once.
  auto again = store().RotateToken(Admin(), t.principal.id, kDefaultTokenTtl, absl::Hours(2));
  ASSERT_TRUE(again.ok());
  auto last = store().RotateToken(Admin(), t.principal.id, kDefaultTokenTtl);
  ASSERT_TRUE(last.ok());
  ExpectUnauthenticated(new_token, "rotated without grace");
  ExpectUnauthenticated(std::string(again->token.view()), "rotated without grace");
  EXPECT_TRUE(store().Authenticate(last->token.view()).ok());

  // Grace is bounded, and never outlives the old token's own expiry.
  EXPECT_TRUE(absl::IsInvalidArgument(
      store()
          .RotateToken(Admin(), t.principal.id, kDefaultTokenTtl, absl::Hours(24 * 8))
          .status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      store().RotateToken(Admin(), t.principal.id, kDefaultTokenTtl, -absl::Seconds(1)).status()));
  IssuedToken short_lived = CreateOrDie({"capture"}, absl::Minutes(10));
  auto capped =
      store().RotateToken(Admin(), short_lived.principal.id, kDefaultTokenTtl, absl::Hours(5));
  ASSERT_TRUE(capped.ok());
  EXPECT_EQ(capped->principal.previous_token_expires_at, clock_.Now() + absl::Minutes(10));
}

TEST_F(PrincipalStoreTest, DisablingEndsEveryTokenAtOnceAndExpiryIsEnforced) {
  IssuedToken t = CreateOrDie({"intake"}, absl::Hours(2));
  const std::string old_token(t.token.view());
  auto rotated = store().RotateToken(Admin(), t.principal.id, absl::Hours(2), absl::Hours(1));
  ASSERT_TRUE(rotated.ok());
  ASSERT_TRUE(store().Disable(Admin(), t.principal.id).ok());
  ExpectUnauthenticated(old_token, "disabled (old token in grace)");
  ExpectUnauthenticated(rotated->token.view(), "disabled (new token)");

  IssuedToken expiring = CreateOrDie({"intake"}, absl::Hours(2));
  clock_.Advance(absl::Hours(2) - absl::Seconds(1));
  EXPECT_TRUE(store().Authenticate(expiring.token.view()).ok());
  clock_.Advance(absl::Seconds(1));
  ExpectUnauthenticated(expiring.token.view(), "expired");
}

TEST_F(PrincipalStoreTest, AdminCannotHoldADataRole) {
  for (const char* other : {"capture", "intake", "compliance", "analyst"}) {
    NewPrincipal p;
    p.display_name = "both";
    p.roles = {"admin", other};
    EXPECT_TRUE(absl::IsInvalidArgument(store().Create(Admin(), std::move(p)).status())) << other;
  }
}

TEST_F(PrincipalStoreTest, SetServiceLinesReplacesTheScope) {
  IssuedToken t = CreateOrDie({"intake"}, kDefaultTokenTtl, {"ortho"});
  auto p = store().SetServiceLines(Admin(), t.principal.id, {"cardio", "onco", "cardio"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->service_lines, (std::vector<std::string>{"cardio", "onco"}));
  auto authed = store().Authenticate(t.token.view());
  ASSERT_TRUE(authed.ok());
  EXPECT_EQ(authed->service_lines, (std::vector<std::string>{"cardio", "onco"}));
  EXPECT_TRUE(absl::IsInvalidArgument(
      store().SetServiceLines(Admin(), t.principal.id, {"Not Valid"}).status()));
  EXPECT_TRUE(
      absl::IsNotFound(store().SetServiceLines(Admin(), "00000000000000ff", {"x"}).status()));
  EXPECT_EQ(ReadAudit(*vault_).back().second.action, "SetServiceLines");
}

TEST_F(PrincipalStoreTest, CreateValidatesTheRequest) {
  const size_t audit_before = CountKeys(*vault_, Cf::kAudit);
  const size_t meta_before = CountKeys(*vault_, Cf::kMeta);
  struct Case {
    std::string name;
    NewPrincipal p;
  };
  std::vector<Case> cases;
  auto base = [] {
    NewPrincipal p;
    p.display_name = "x";
    p.roles = {"intake"};
    return p;
  };
  {
    NewPrincipal p = base();
    p.roles = {"superuser"};
    cases.push_back({"unknown role", std::move(p)});
  }
  {
    NewPrincipal p = base();
    p.roles = {"intake", "root"};
    cases.push_back({"one unknown role", std::move(p)});
  }
  {
    NewPrincipal p = base();
    p.roles.clear();
    cases.push_back({"no role", std::move(p)});
  }
  {
    NewPrincipal p = base();
    p.display_name = "   ";
    cases.push_back({"blank name", std::move(p)});
  }
  {
    NewPrincipal p = base();
    p.service_lines = {"Ortho"};
    cases.push_back({"bad service line", std::move(p)});
  }
  {
    NewPrincipal p = base();
    p.token_ttl = absl::ZeroDuration();
    cases.push_back({"zero ttl", std::move(p)});
  }
  for (Case& c : cases) {
    absl::StatusOr<IssuedToken> t = store().Create(Admin(), std::move(c.p));
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
  }
  EXPECT_EQ(CountKeys(*vault_, Cf::kAudit), audit_before);
  EXPECT_EQ(CountKeys(*vault_, Cf::kMeta), meta_before);
  EXPECT_TRUE(store().empty());
}

TEST_F(PrincipalStoreTest, ListReturnsAll) {
  std::set<std::string> ids;
  for (const char* role : {"capture", "analyst", "intake", "compliance", "admin"}) {
    ids.insert(CreateOrDie({role}).principal.id);
    clock_.Advance(absl::Seconds(1));
  }
  absl::StatusOr<std::vector<Principal>> all = store().List(Admin());
  ASSERT_TRUE(all.ok()) << all.status();
  std::set<std::string> listed;
  for (const Principal& p : *all) listed.insert(p.id);
  EXPECT_EQ(listed, ids);
  ASSERT_EQ(all->size(), 5u);
  for (size_t i = 1; i < all->size(); ++i) {
    EXPECT_LT((*all)[i - 1].created_at, (*all)[i].created_at) << "oldest first";
  }
  EXPECT_EQ(ReadAudit(*vault_).back().second.action, "ListPrincipals");
}

TEST_F(PrincipalStoreTest, PrincipalsSurviveAReopen) {
  IssuedToken a = CreateOrDie({"intake"}, absl::Hours(48), {"ortho"});
  IssuedToken b = CreateOrDie({"capture"});
  ASSERT_TRUE(store().Disable(Admin(), b.principal.id).ok());
  const std::string token_a(a.token.view());
  const std::string token_b(b.token.view());
  Reopen();
  absl::StatusOr<Principal> p = store().Authenticate(token_a);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->id, a.principal.id);
  EXPECT_EQ(p->service_lines, std::vector<std::string>{"ortho"});
  EXPECT_EQ(p->expires_at, a.principal.expires_at);
  ExpectUnauthenticated(token_b, "disabled, after reopen");
  absl::StatusOr<std::vector<Principal>> all = store().List(Admin());
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 2u);
}

TEST_F(PrincipalStoreTest, FailedCommitChangesNothing) {
  IssuedToken t = CreateOrDie({"intake"});
  vault_->committer().SetFailWritesForTesting(true);
  EXPECT_EQ(store().RotateToken(Admin(), t.principal.id, absl::Hours(1)).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(store().Disable(Admin(), t.principal.id).status().code(),
            absl::StatusCode::kUnavailable);
  NewPrincipal p;
  p.display_name = "y";
  p.roles = {"admin"};
  EXPECT_EQ(store().Create(Admin(), std::move(p)).status().code(), absl::StatusCode::kUnavailable);
  vault_->committer().SetFailWritesForTesting(false);
  // The old token still works and nothing else was added.
  EXPECT_TRUE(store().Authenticate(t.token.view()).ok());
  absl::StatusOr<std::vector<Principal>> all = store().List(Admin());
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 1u);
}

// Review finding: a disabled principal or a rotated-away token stayed usable
// between its change becoming durable and memory being updated. What a change
// takes away is gone while it commits; what it adds, only once durable.
TEST_F(PrincipalStoreTest, AChangeThatTakesAccessAwayIsInForceWhileItCommits) {
  IssuedToken t = CreateOrDie({"intake"}, kDefaultTokenTtl, {"ortho", "cardio"});
  const std::string old_token(t.token.view());
  std::vector<std::string> seen;  // what Authenticate said while each change was in flight
  vault_->committer().SetBeforeWriteHookForTesting([&] {
    absl::StatusOr<Principal> p = store().Authenticate(old_token);
    seen.push_back(p.ok() ? absl::StrJoin(p->service_lines, "+") : "unauthenticated");
  });
  // Narrowing (cardio out, oncology in): during the commit only ortho is left.
  ASSERT_TRUE(store().SetServiceLines(Admin(), t.principal.id, {"ortho", "oncology"}).ok());
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back(), "ortho");
  EXPECT_EQ(absl::StrJoin(store().Authenticate(old_token)->service_lines, "+"), "oncology+ortho");
  // Rotation without grace: the old token is refused while the rotation commits.
  absl::StatusOr<IssuedToken> rotated =
      store().RotateToken(Admin(), t.principal.id, absl::Hours(1));
  ASSERT_TRUE(rotated.ok());
  EXPECT_EQ(seen.back(), "unauthenticated");
  // Disabling: the new token is refused while the disable commits.
  const std::string new_token(rotated->token.view());
  vault_->committer().SetBeforeWriteHookForTesting([&] {
    seen.push_back(store().Authenticate(new_token).ok() ? "authenticated" : "unauthenticated");
  });
  ASSERT_TRUE(store().Disable(Admin(), t.principal.id).ok());
  EXPECT_EQ(seen.back(), "unauthenticated");
  vault_->committer().SetBeforeWriteHookForTesting(nullptr);
}

TEST_F(PrincipalStoreTest, AFailedDisableLeavesThePrincipalAsItWas) {
  IssuedToken t = CreateOrDie({"intake"}, kDefaultTokenTtl, {"ortho", "cardio"});
  vault_->committer().SetFailWritesForTesting(true);
  EXPECT_FALSE(store().Disable(Admin(), t.principal.id).ok());
  EXPECT_FALSE(store().SetServiceLines(Admin(), t.principal.id, {"ortho"}).ok());
  vault_->committer().SetFailWritesForTesting(false);
  absl::StatusOr<Principal> p = store().Authenticate(t.token.view());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->service_lines.size(), 2u);
}

TEST_F(PrincipalStoreTest, ClientCertificateBindingIsKeptAndSurvivesAReopen) {
  const std::string fingerprint(64, 'a');
  NewPrincipal p;
  p.display_name = "Kiosk";
  p.roles = {"capture"};
  p.client_cert_sha256 = fingerprint;
  absl::StatusOr<IssuedToken> bound = store().Create(Admin(), std::move(p));
  ASSERT_TRUE(bound.ok()) << bound.status();
  EXPECT_EQ(bound->principal.client_cert_sha256, fingerprint);
  const std::string token(bound->token.view());
  IssuedToken unbound = CreateOrDie({"intake"});
  EXPECT_TRUE(unbound.principal.client_cert_sha256.empty());
  EXPECT_EQ(ReadAudit(*vault_).back().second.action, "CreatePrincipal");

  Reopen();
  absl::StatusOr<Principal> authenticated = store().Authenticate(token);
  ASSERT_TRUE(authenticated.ok()) << authenticated.status();
  EXPECT_EQ(authenticated->client_cert_sha256, fingerprint) << "the store returns the binding";
  absl::StatusOr<std::vector<Principal>> all = store().List(Admin());
  ASSERT_TRUE(all.ok()) << all.status();
  for (const Principal& listed : *all) {
    EXPECT_EQ(listed.client_cert_sha256,
              listed.id == bound->principal.id ? fingerprint : std::string())
        << listed.id;
  }
}

TEST_F(PrincipalStoreTest, ClientCertificateFingerprintMustBe64LowerHex) {
  const std::vector<std::string> bad = {std::string(63, 'a'),        std::string(65, 'a'),
                                        std::string(64, 'A'),        std::string(63, 'a') + "g",
                                        std::string(62, 'a') + ":a", std::string(64, ' ')};
  for (const std::string& fingerprint : bad) {
    NewPrincipal p;
    p.display_name = "Kiosk";
    p.roles = {"capture"};
    p.client_cert_sha256 = fingerprint;
    absl::StatusOr<IssuedToken> t = store().Create(Admin(), std::move(p));
    ASSERT_FALSE(t.ok()) << fingerprint;
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument) << fingerprint;
    EXPECT_EQ(t.status().message(), "client_cert_sha256: must be 64 hex characters");
  }
  absl::StatusOr<std::vector<Principal>> all = store().List(Admin());
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->empty()) << "nothing was created";
}

TEST_F(PrincipalStoreTest, AWebhookSecretSignsForItsPrincipalOnly) {
  IssuedToken form = CreateOrDie({"capture"});
  absl::StatusOr<IssuedWebhookSecret> issued =
      store().IssueWebhookSecret(Admin(), form.principal.id, absl::Hours(24), absl::ZeroDuration());
  ASSERT_TRUE(issued.ok()) << issued.status();
  const std::string secret(issued->secret.view());
  EXPECT_TRUE(std::regex_match(secret, std::regex("lvwh_[0-9a-f]{16}_[0-9a-f]{64}"))) << "format";
  EXPECT_EQ(secret.substr(5, 16), form.principal.id);
  EXPECT_EQ(issued->principal.webhook_expires_at, clock_.Now() + absl::Hours(24));
  const std::string payload = "1700000000.{\"personal\":{}}";
  absl::StatusOr<Principal> p =
      store().AuthenticateWebhook(form.principal.id, payload, Sign(secret, payload));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->id, form.principal.id);

  // Every other signature, principal or payload fails alike.
  IssuedToken other = CreateOrDie({"capture"});
  std::string flipped = Sign(secret, payload);
  flipped[0] ^= 1;
  const std::vector<std::pair<std::string, absl::StatusOr<Principal>>> bad = {
      {"another payload",
       store().AuthenticateWebhook(form.principal.id, payload + " ", Sign(secret, payload))},
      {"a flipped bit", store().AuthenticateWebhook(form.principal.id, payload, flipped)},
      {"another principal's id",
       store().AuthenticateWebhook(other.principal.id, payload, Sign(secret, payload))},
      {"an unknown id",
       store().AuthenticateWebhook("00000000000000ff", payload, Sign(secret, payload))},
      {"a malformed id", store().AuthenticateWebhook("FORM", payload, Sign(secret, payload))},
      {"a short signature",
       store().AuthenticateWebhook(form.principal.id, payload, Sign(secret, payload).substr(1))},
      {"the token as key",
       store().AuthenticateWebhook(form.principal.id, payload, Sign(form.token.view(), payload))},
  };
  std::string message;
  for (const auto& [what, result] : bad) {
    ASSERT_FALSE(result.ok()) << what;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated) << what;
    if (message.empty()) message = std::string(result.status().message());
    EXPECT_EQ(result.status().message(), message) << what;
  }
  // The token still works; the secret is no token.
  EXPECT_TRUE(store().Authenticate(form.token.view()).ok());
  EXPECT_FALSE(store().Authenticate(secret).ok());

  // The vault keeps no copy of the secret, nor of a part of it.
  const std::string hex = secret.substr(22);
  for (const auto& [cf, entries] : DumpAll(*vault_)) {
    for (const auto& [key, value] : entries) {
      EXPECT_EQ(value.find(hex.substr(0, 16)), std::string::npos) << cf;
      EXPECT_EQ(key.find(hex.substr(0, 16)), std::string::npos) << cf;
    }
  }
  // It is audited by name, never by value, and survives a reopen.
  int issues = 0;
  for (const auto& [sequence, entry] : ReadAudit(*vault_)) {
    if (entry.action != "IssueWebhookSecret") continue;
    ++issues;
    EXPECT_EQ(entry.subject, form.principal.id);
    EXPECT_EQ(entry.fields, std::vector<std::string>{"webhook_secret"});
    EXPECT_EQ(audit::EncodeCanonical(entry).find(hex.substr(0, 16)), std::string::npos);
  }
  EXPECT_EQ(issues, 1);
  Reopen();
  EXPECT_TRUE(store().AuthenticateWebhook(form.principal.id, payload, Sign(secret, payload)).ok());
}

TEST_F(PrincipalStoreTest, AWebhookSecretEndsByGraceExpiryRevocationAndDisabling) {
  IssuedToken form = CreateOrDie({"capture"});
  const std::string payload = "1700000000.{}";
  auto works = [&](const keys::SecretBytes& secret) {
    return store()
        .AuthenticateWebhook(form.principal.id, payload, Sign(secret.view(), payload))
        .ok();
  };
  auto first =
      store().IssueWebhookSecret(Admin(), form.principal.id, absl::Hours(24), absl::ZeroDuration());
  ASSERT_TRUE(first.ok());
  // A new secret with a grace period: both work until it ends.
  auto second =
      store().IssueWebhookSecret(Admin(), form.principal.id, absl::Hours(24), absl::Hours(1));
  ASSERT_TRUE(second.ok());
  EXPECT_NE(first->secret.view(), second->secret.view());
  EXPECT_TRUE(works(first->secret));
  EXPECT_TRUE(works(second->secret));
  EXPECT_EQ(second->principal.previous_webhook_expires_at, clock_.Now() + absl::Hours(1));
  clock_.Advance(absl::Hours(1));
  EXPECT_FALSE(works(first->secret));
  EXPECT_TRUE(works(second->secret));
  // Without grace the previous one ends at once.
  auto third =
      store().IssueWebhookSecret(Admin(), form.principal.id, absl::Hours(24), absl::ZeroDuration());
  ASSERT_TRUE(third.ok());
  EXPECT_FALSE(works(second->secret));
  EXPECT_TRUE(works(third->secret));
  // Expiry.
  clock_.Advance(absl::Hours(24));
  EXPECT_FALSE(works(third->secret));
  // Revocation ends the current and the previous one.
  auto fourth =
      store().IssueWebhookSecret(Admin(), form.principal.id, absl::Hours(24), absl::Hours(2));
  auto fifth =
      store().IssueWebhookSecret(Admin(), form.principal.id, absl::Hours(24), absl::Hours(2));
  ASSERT_TRUE(fourth.ok() && fifth.ok());
  EXPECT_TRUE(works(fourth->secret) && works(fifth->secret));
  absl::StatusOr<Principal> revoked = store().RevokeWebhookSecret(Admin(), form.principal.id);
  ASSERT_TRUE(revoked.ok());
  EXPECT_EQ(revoked->webhook_expires_at, absl::InfinitePast());
  EXPECT_FALSE(works(fourth->secret));
  EXPECT_FALSE(works(fifth->secret));
  EXPECT_TRUE(store().Authenticate(form.token.view()).ok());  // the token is not a secret
  // Disabling ends it too.
  auto sixth =
      store().IssueWebhookSecret(Admin(), form.principal.id, absl::Hours(24), absl::ZeroDuration());
  ASSERT_TRUE(sixth.ok());
  ASSERT_TRUE(store().Disable(Admin(), form.principal.id).ok());
  EXPECT_FALSE(works(sixth->secret));
  EXPECT_EQ(
      store()
          .IssueWebhookSecret(Admin(), form.principal.id, absl::Hours(1), absl::ZeroDuration())
          .status()
          .code(),
      absl::StatusCode::kFailedPrecondition);
}

TEST_F(PrincipalStoreTest, OnlyACaptureOnlyPrincipalWithoutACertificateGetsAWebhookSecret) {
  IssuedToken intake = CreateOrDie({"intake"}, kDefaultTokenTtl, {"ortho"});
  IssuedToken both = CreateOrDie({"capture", "intake"}, kDefaultTokenTtl, {"ortho"});
  NewPrincipal bound;
  bound.display_name = "Bound form";
  bound.roles = {"capture"};
  bound.client_cert_sha256 = std::string(64, 'a');
  absl::StatusOr<IssuedToken> cert = store().Create(Admin(), std::move(bound));
  ASSERT_TRUE(cert.ok());
  const uint64_t entries = vault_->audit_log().size();
  for (const auto& [id, reason] : std::vector<std::pair<std::string, std::string>>{
           {intake.principal.id, "WEBHOOK_CAPTURE_ONLY"},
           {both.principal.id, "WEBHOOK_CAPTURE_ONLY"},
           {cert->principal.id, "WEBHOOK_CERT_BOUND"}}) {
    auto refused = store().IssueWebhookSecret(Admin(), id, absl::Hours(1), absl::ZeroDuration());
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(ErrorReason(refused.status()), reason);
  }
  EXPECT_EQ(
      store()
          .IssueWebhookSecret(Admin(), "00000000000000ff", absl::Hours(1), absl::ZeroDuration())
          .status()
          .code(),
      absl::StatusCode::kNotFound);
  IssuedToken form = CreateOrDie({"capture"});
  EXPECT_EQ(store()
                .IssueWebhookSecret(Admin(), form.principal.id, absl::Hours(1), absl::Hours(200))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(vault_->audit_log().size(), entries + 1);  // only the last CreatePrincipal
}

TEST_F(PrincipalStoreTest, ListPagesEveryPrincipalOnceInCreationOrder) {
  std::vector<std::string> made;
  for (int i = 0; i < 5; ++i) {
    made.push_back(CreateOrDie({"capture"}).principal.id);
    clock_.Advance(absl::Seconds(i % 2));  // two pairs share a creation time
  }
  absl::StatusOr<std::vector<Principal>> all = store().List(Admin());
  ASSERT_TRUE(all.ok());
  std::vector<std::string> paged;
  std::string token;
  int pages = 0;
  do {
    absl::StatusOr<PrincipalStore::Page> page = store().ListPage(Admin(), 2, token);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_LE(page->principals.size(), 2u);
    for (const Principal& p : page->principals) paged.push_back(p.id);
    token = page->next_page_token;
    ASSERT_LT(++pages, 10);
  } while (!token.empty());
  ASSERT_EQ(paged.size(), all->size());
  std::set<std::string> unique(paged.begin(), paged.end());
  EXPECT_EQ(unique.size(), paged.size());
  for (const std::string& id : made) EXPECT_TRUE(unique.contains(id)) << id;
  EXPECT_EQ(pages, 3);
  for (const std::string& bad :
       {std::string("x"), std::string("12.zz"), std::string("abc.0123456789abcdef"),
        std::string("12.0123456789ABCDEF")}) {
    EXPECT_EQ(store().ListPage(Admin(), 2, bad).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_EQ(store().ListPage(Admin(), 1001, "").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace leadvault::vault::testing
