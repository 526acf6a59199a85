// Admin RPCs end to end, and authentication of every call: every reason a
// token is refused gives UNAUTHENTICATED with one identical message.
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/convert.h"
#include "audit/audit_entry.h"
#include "tests/api/api_test_util.h"

namespace leadvault::api {
namespace {

using testing_util::ApiTest;
namespace v1 = ::leadvault::v1;

class AuthAdminTest : public ApiTest {
 protected:
  // Calls GetLead and ListPrincipals-free FindLeads with `header` as the raw
  // authorization value (absent if empty).
  grpc::Status CallWithHeader(const std::string& header) {
    auto ctx = RawCtx();
    if (!header.empty()) ctx->AddMetadata("authorization", header);
    v1::FindLeadsRequest request;
    request.set_purpose(v1::PURPOSE_OF_USE_OPERATIONS);
    request.set_email("someone@example.com");
    v1::FindLeadsResponse response;
    return leads_->FindLeads(ctx.get(), request, &response);
  }
  grpc::Status CallWithToken(const std::string& token) { return CallWithHeader("Bearer " + token); }

  // The message every refused token gets.
  std::string UnauthenticatedMessage() { return CallWithHeader("").error_message(); }

  void ExpectUnauthenticated(const grpc::Status& s, const std::string& what) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << what;
    EXPECT_EQ(s.error_message(), UnauthenticatedMessage()) << what;
  }
};

TEST_F(AuthAdminTest, AdminRpcsEndToEnd) {
  v1::CreatePrincipalRequest create;
  create.set_display_name("compliance office");
  create.add_roles("compliance");
  create.add_roles("analyst");
  create.set_token_ttl_seconds(3600);
  v1::CreatePrincipalResponse created;
  grpc::Status s = admin_->CreatePrincipal(Ctx(admin_token_).get(), create, &created);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  const v1::Principal& p = created.principal();
  EXPECT_EQ(p.principal_id().size(), 16u);
  EXPECT_EQ(p.display_name(), "compliance office");
  EXPECT_EQ(std::vector<std::string>(p.roles().begin(), p.roles().end()),
            (std::vector<std::string>{"analyst", "compliance"}));
  ASSERT_EQ(p.role_codes_size(), 2);
  EXPECT_EQ(p.role_codes(0), v1::ROLE_ANALYST);
  EXPECT_EQ(p.role_codes(1), v1::ROLE_COMPLIANCE);
  EXPECT_TRUE(p.enabled());
  EXPECT_EQ(p.created_at_unix_micros(), absl::ToUnixMicros(testing_util::StartTime()));
  EXPECT_EQ(p.expires_at_unix_micros(),
            absl::ToUnixMicros(testing_util::StartTime() + absl::Hours(1)));
  EXPECT_TRUE(absl::StartsWith(created.token(), "lv_" + p.principal_id() + "_"));
  EXPECT_TRUE(CallWithToken(created.token()).ok());

  // List: the bootstrap admin, the fixture's worker and the new one; no tokens.
  v1::ListPrincipalsResponse listed;
  s = admin_->ListPrincipals(Ctx(admin_token_).get(), v1::ListPrincipalsRequest(), &listed);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(listed.principals_size(), 3);
  bool found = false;
  for (const auto& q : listed.principals()) {
    found = found || q.principal_id() == p.principal_id();
  }
  EXPECT_TRUE(found);
  EXPECT_FALSE(absl::StrContains(listed.SerializeAsString(), created.token().substr(20)));

  // Rotate: the new token works, the old one stops at once.
  v1::RotateTokenRequest rotate;
  rotate.set_principal_id(p.principal_id());
  v1::RotateTokenResponse rotated;
  s = admin_->RotateToken(Ctx(admin_token_).get(), rotate, &rotated);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_NE(rotated.token(), created.token());
  EXPECT_EQ(rotated.principal().expires_at_unix_micros(),
            absl::ToUnixMicros(testing_util::StartTime() + vault::kDefaultTokenTtl));
  EXPECT_TRUE(CallWithToken(rotated.token()).ok());
  ExpectUnauthenticated(CallWithToken(created.token()), "rotated-away token");

  // Disable: its token stops working.
  v1::DisablePrincipalRequest disable;
  disable.set_principal_id(p.principal_id());
  v1::DisablePrincipalResponse disabled;
  s = admin_->DisablePrincipal(Ctx(admin_token_).get(), disable, &disabled);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(disabled.principal().enabled());
  ExpectUnauthenticated(CallWithToken(rotated.token()), "disabled principal");
  listed.Clear();
  ASSERT_TRUE(
      admin_->ListPrincipals(Ctx(admin_token_).get(), v1::ListPrincipalsRequest(), &listed).ok());
  for (const auto& q : listed.principals()) {
    EXPECT_EQ(q.enabled(), q.principal_id() != p.principal_id()) << q.principal_id();
  }
}

TEST_F(AuthAdminTest, AdminBadInput) {
  struct Case {
    const char* name;
    std::vector<std::string> roles;
    std::string display_name;
    int64_t ttl;
  };
  for (const Case& c : std::vector<Case>{{"no roles", {}, "x", 0},
                                         {"unknown role", {"zqxsuperuser"}, "x", 0},
                                         {"negative ttl", {"intake"}, "x", -5},
                                         {"control in name", {"intake"}, "zqxname\x01", 0}}) {
    v1::CreatePrincipalRequest create;
    create.set_display_name(c.display_name);
    for (const auto& r : c.roles) create.add_roles(r);
    create.set_token_ttl_seconds(c.ttl);
    v1::CreatePrincipalResponse created;
    grpc::Status s = admin_->CreatePrincipal(Ctx(admin_token_).get(), create, &created);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.name;
    EXPECT_FALSE(absl::StrContains(s.error_message(), "zqx")) << s.error_message();
    EXPECT_TRUE(created.token().empty());
  }
  for (const std::string& id : {std::string(16, '0'), std::string("zqx-not-an-id")}) {
    v1::DisablePrincipalRequest disable;
    disable.set_principal_id(id);
    v1::DisablePrincipalResponse disabled;
    grpc::Status s = admin_->DisablePrincipal(Ctx(admin_token_).get(), disable, &disabled);
    EXPECT_TRUE(s.error_code() == grpc::StatusCode::NOT_FOUND ||
                s.error_code() == grpc::StatusCode::INVALID_ARGUMENT)
        << s.error_code() << " " << s.error_message();
    EXPECT_FALSE(absl::StrContains(s.error_message(), id)) << s.error_message();
    v1::RotateTokenRequest rotate;
    rotate.set_principal_id(id);
    v1::RotateTokenResponse rotated;
    s = admin_->RotateToken(Ctx(admin_token_).get(), rotate, &rotated);
    EXPECT_TRUE(s.error_code() == grpc::StatusCode::NOT_FOUND ||
                s.error_code() == grpc::StatusCode::INVALID_ARGUMENT)
        << s.error_code() << " " << s.error_message();
    EXPECT_TRUE(rotated.token().empty());
  }
  v1::ListPrincipalsResponse listed;
  ASSERT_TRUE(
      admin_->ListPrincipals(Ctx(admin_token_).get(), v1::ListPrincipalsRequest(), &listed).ok());
  EXPECT_EQ(listed.principals_size(), 2);
}

TEST_F(AuthAdminTest, EveryBadCredentialIsUnauthenticatedWithOneMessage) {
  const std::string message = UnauthenticatedMessage();
  EXPECT_FALSE(message.empty());
  ASSERT_TRUE(CallWithToken(worker_token_).ok());

  std::string id;
  const std::string other = NewPrincipal("other", {"intake"}, 0, &id);
  std::string wrong_secret = other;
  wrong_secret.back() = wrong_secret.back() == '0' ? '1' : '0';
  std::string upper = other;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));

  const std::vector<std::pair<std::string, std::string>> headers = {
      {"Bearer ", "empty bearer"},
      {"Bearer zqxgarbage", "garbage"},
      {"Bearer lv_zqx", "truncated"},
      {"Basic dXNlcjpwYXNz", "basic"},
      {"bearer " + other, "lower-case scheme"},
      {"Bearer  " + other, "two spaces"},
      {"Bearer " + other + " ", "trailing space"},
      {other, "no scheme"},
      {"Bearer " + wrong_secret, "wrong secret for a real id"},
      {"Bearer " + upper, "upper-cased token"},
      {"Bearer lv_" + std::string(16, 'a') + "_" + std::string(64, 'b'), "unknown id"},
      {"Bearer " + other + other, "doubled"},
  };
  for (const auto& [header, what] : headers) {
    clock_.Advance(absl::Seconds(61));  // failures this far apart are never slowed down
    grpc::Status s = CallWithHeader(header);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << what;
    EXPECT_EQ(s.error_message(), message) << what;
    EXPECT_FALSE(absl::StrContains(s.error_message(), "zqx")) << what;
    EXPECT_FALSE(absl::StrContains(s.error_message(), id)) << what;
  }
  // The same on the Admin service, before any role check.
  for (const auto& [header, what] : headers) {
    clock_.Advance(absl::Seconds(61));
    auto ctx = RawCtx();
    ctx->AddMetadata("authorization", header);
    v1::ListPrincipalsResponse listed;
    grpc::Status s = admin_->ListPrincipals(ctx.get(), v1::ListPrincipalsRequest(), &listed);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << what;
    EXPECT_EQ(s.error_message(), message) << what;
  }
  EXPECT_TRUE(CallWithToken(other).ok());
}

TEST_F(AuthAdminTest, ExpiredTokenIsUnauthenticated) {
  const std::string token = NewPrincipal("short lived", {"intake"}, 60);
  ASSERT_TRUE(CallWithToken(token).ok());
  clock_.Advance(absl::Seconds(59));
  EXPECT_TRUE(CallWithToken(token).ok());
  clock_.Advance(absl::Seconds(1));
  ExpectUnauthenticated(CallWithToken(token), "expired token");
  // The 90-day default outlives it.
  EXPECT_TRUE(CallWithToken(worker_token_).ok());
  clock_.Advance(vault::kDefaultTokenTtl);
  ExpectUnauthenticated(CallWithToken(worker_token_), "expired default token");
}

TEST_F(AuthAdminTest, NonAdminCallingAdminIsPermissionDenied) {
  for (const std::string& token : {worker_token_, NewPrincipal("compliance", {"compliance"}),
                                   NewPrincipal("analyst", {"analyst"})}) {
    v1::ListPrincipalsResponse listed;
    grpc::Status s = admin_->ListPrincipals(Ctx(token).get(), v1::ListPrincipalsRequest(), &listed);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
    EXPECT_EQ(listed.principals_size(), 0);
    v1::CreatePrincipalRequest create;
    create.set_display_name("sneaky");
    create.add_roles("admin");
    v1::CreatePrincipalResponse created;
    s = admin_->CreatePrincipal(Ctx(token).get(), create, &created);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
    EXPECT_TRUE(created.token().empty());
    v1::RotateTokenRequest rotate;
    rotate.set_principal_id(token.substr(3, 16));
    v1::RotateTokenResponse rotated;
    s = admin_->RotateToken(Ctx(token).get(), rotate, &rotated);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
    v1::DisablePrincipalRequest disable;
    disable.set_principal_id(token.substr(3, 16));
    v1::DisablePrincipalResponse disabled;
    s = admin_->DisablePrincipal(Ctx(token).get(), disable, &disabled);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  }
  // Still only the admin and the principals made above.
  v1::ListPrincipalsResponse listed;
  ASSERT_TRUE(
      admin_->ListPrincipals(Ctx(admin_token_).get(), v1::ListPrincipalsRequest(), &listed).ok());
  EXPECT_EQ(listed.principals_size(), 4);
  for (const auto& p : listed.principals()) EXPECT_TRUE(p.enabled());
}

}  // namespace
TEST_F(AuthAdminTest, RepeatedFailuresFromOnePeerAreSlowedAndAudited) {
  const std::string forged = "lv_0123456789abcdef_" + std::string(64, 'e');
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(CallWithToken(forged).error_code(), grpc::StatusCode::UNAUTHENTICATED) << i;
  }
  // Now even a valid token from that peer waits out the back-off, unchecked.
  grpc::Status s = CallWithToken(worker_token_);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_EQ(s.error_message(), "too many failed authentications; retry later");
  EXPECT_GE(server_->auth_throttle().refused(), 1u);
  clock_.Advance(absl::Seconds(2));  // the first back-off is 1 s
  EXPECT_TRUE(CallWithToken(worker_token_).ok());
  // The refusal is in the audit log like every other outcome.
  bool audited = false;
  std::unique_ptr<rocksdb::Iterator> it(vault_->database().db()->NewIterator(
      rocksdb::ReadOptions(), vault_->database().cf(vault::Cf::kAudit)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto e = audit::DecodeCanonical(it->value().ToString());
    ASSERT_TRUE(e.ok());
    audited = audited || e->code == static_cast<int>(absl::StatusCode::kResourceExhausted);
  }
  EXPECT_TRUE(audited);
}

// Every role a principal, an emergency grant or an audit entry names has its
// enum, naming the same role.
TEST(RoleEnumTest, EveryRoleTheServerNamesHasItsEnum) {
  std::string label;
  std::vector<v1::Role> typed;
  for (vault::Role role : vault::kAllRoles) {
    const std::string name(vault::RoleName(role));
    const v1::Role code = RoleFromName(name);
    EXPECT_EQ(code, ToProto(role));
    EXPECT_EQ(v1::Role_Name(code), "ROLE_" + absl::AsciiStrToUpper(name));
    // A principal record's roles, one by one.
    vault::Principal p;
    p.roles = {name};
    v1::Principal out;
    ToProto(p, &out);
    ASSERT_EQ(out.role_codes_size(), 1);
    EXPECT_EQ(out.role_codes(0), code);
    absl::StrAppend(&label, label.empty() ? "" : ",", name);
    typed.push_back(code);
  }
  // An audit entry's label: the roles joined by commas, in order.
  EXPECT_EQ(RolesFromLabel(label), typed);
  EXPECT_EQ(RolesFromLabel(vault::RolesLabel({vault::Role::kIntake, vault::Role::kCompliance})),
            (std::vector<v1::Role>{v1::ROLE_INTAKE, v1::ROLE_COMPLIANCE}));
  EXPECT_TRUE(RolesFromLabel("").empty());
  EXPECT_EQ(RoleFromName("nobody"), v1::ROLE_UNSPECIFIED);
}

}  // namespace leadvault::api
