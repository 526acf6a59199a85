// Role x RPC x field, over the wire: every role calls every RPC, and GetLead's
// projection is checked field by field, against the vault's tables AND against
// an independent matrix written out here (so neither can drift alone).
#include "vault/access_policy.h"

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "audit/audit_entry.h"
#include "keys/secret_bytes.h"
#include "tests/api/api_test_util.h"

namespace leadvault::api {
namespace testing_util {
namespace {

using grpc::StatusCode;
constexpr StatusCode kOk = StatusCode::OK;
constexpr StatusCode kDenied = StatusCode::PERMISSION_DENIED;

const std::vector<std::string> kRoles = {"capture",    "analyst", "intake",
                                         "compliance", "admin",   "retention"};

// The expected answer of each RPC for each role: written out independently of
// vault/access_policy.cc. Columns: capture, analyst, intake, compliance, admin,
// retention.
const std::map<std::string, std::vector<StatusCode>> kExpectedCodes = {
    {"CreateLead", {kOk, kDenied, kDenied, kDenied, kDenied, kDenied}},
    {"GetLead", {kOk, kDenied, kOk, kOk, kDenied, kDenied}},
    {"FindLeads", {kDenied, kDenied, kOk, kOk, kDenied, kDenied}},
    {"ListQueue", {kDenied, kDenied, kOk, kDenied, kDenied, kDenied}},
    {"UpdateLead", {kDenied, kDenied, kOk, kDenied, kDenied, kDenied}},
    {"OpenEmergencyAccess", {kDenied, kDenied, kOk, kOk, kDenied, kDenied}},
    {"ListEmergencyAccess", {kDenied, kDenied, kDenied, kOk, kDenied, kDenied}},
    {"CloseEmergencyAccess", {kDenied, kDenied, kDenied, kOk, kDenied, kDenied}},
    {"CreatePrincipal", {kDenied, kDenied, kDenied, kDenied, kOk, kDenied}},
    {"ListPrincipals", {kDenied, kDenied, kDenied, kDenied, kOk, kDenied}},
    {"DisablePrincipal", {kDenied, kDenied, kDenied, kDenied, kOk, kDenied}},
    {"RotateToken", {kDenied, kDenied, kDenied, kDenied, kOk, kDenied}},
    {"SetServiceLines", {kDenied, kDenied, kDenied, kDenied, kOk, kDenied}},
    {"GetCheckpoint", {kDenied, kDenied, kDenied, kOk, kDenied, kDenied}},
    {"GetInclusionProof", {kDenied, kDenied, kDenied, kOk, kDenied, kDenied}},
    {"GetConsistencyProof", {kDenied, kDenied, kDenied, kOk, kDenied, kDenied}},
    {"ExportAudit", {kDenied, kDenied, kDenied, kOk, kDenied, kDenied}},
    {"AccountingOfDisclosures", {kDenied, kDenied, kDenied, kOk, kDenied, kDenied}},
    {"RecordConsent", {kDenied, kDenied, kOk, kDenied, kDenied, kDenied}},
    {"CheckConsent", {kDenied, kDenied, kOk, kOk, kDenied, kDenied}},
    {"GetConsentHistory", {kDenied, kDenied, kOk, kOk, kDenied, kDenied}},
    {"ExportConsentProof", {kDenied, kDenied, kDenied, kOk, kDenied, kDenied}},
    {"DeleteLead", {kDenied, kDenied, kOk, kOk, kDenied, kDenied}},
    {"PlaceLegalHold", {kDenied, kDenied, kDenied, kOk, kDenied, kDenied}},
    {"ReleaseLegalHold", {kDenied, kDenied, kDenied, kOk, kDenied, kDenied}},
    {"ListLegalHolds", {kDenied, kDenied, kDenied, kOk, kDenied, kDenied}},
    {"SweepRetention", {kDenied, kDenied, kDenied, kDenied, kDenied, kOk}},
    {"SetRetentionPolicy", {kDenied, kDenied, kDenied, kDenied, kOk, kDenied}},
    {"GetRetentionPolicy", {kDenied, kDenied, kDenied, kOk, kOk, kOk}},
    {"RotateMasterKey", {kDenied, kDenied, kDenied, kDenied, kOk, kDenied}},
    {"GetMasterKeyStatus", {kDenied, kDenied, kDenied, kDenied, kOk, kDenied}},
    {"RetireMasterKey", {kDenied, kDenied, kDenied, kDenied, kOk, kDenied}},
    {"CreateBackup", {kDenied, kDenied, kDenied, kDenied, kOk, kDenied}},
    {"AmendLead", {kDenied, kDenied, kOk, kDenied, kDenied, kDenied}},
    {"ListAmendments", {kDenied, kDenied, kOk, kOk, kDenied, kDenied}},
    {"IssueWebhookSecret", {kDenied, kDenied, kDenied, kDenied, kOk, kDenied}},
    {"RevokeWebhookSecret", {kDenied, kDenied, kDenied, kDenied, kOk, kDenied}},
    {"GetFunnelMetrics", {kDenied, kOk, kDenied, kDenied, kDenied, kDenied}},
};

// What GetLead shows of each field: 'C' clear, 'M' masked, 'H' hidden.
// Columns: capture (its own lead), intake (in scope), compliance.
const std::map<std::string, std::string> kExpectedProjection = {
    {"first_name", "HCH"},    {"last_name", "HCH"},          {"email", "HCH"}, {"phone", "HCH"},
    {"date_of_birth", "HCM"}, {"street_address", "HCH"},     {"city", "HCH"},  {"state", "HCC"},
    {"postal_code", "HCM"},   {"condition_interest", "HCH"}, {"notes", "HCH"},
};

// The masked forms of the test lead's values (rules of issue 4, worked by hand).
const std::map<std::string, std::string> kMasked = {
    {"first_name", "A."},      {"last_name", "L."},       {"email", "p***@***.com"},
    {"phone", "***-***-0000"}, {"date_of_birth", "1980"}, {"postal_code", "940**"},
};

std::string FieldValue(const v1::PersonalData& p, const std::string& name) {
  const google::protobuf::FieldDescriptor* f = p.GetDescriptor()->FindFieldByName(name);
  return p.GetReflection()->GetString(p, f);
}

class AccessPolicyTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    ASSERT_FALSE(HasFatalFailure());
    // A key source that holds every key used so far and one new one.
    ServerOptions options;
    options.master_key_source = [this] { return KeySource(); };
    RestartServer(options);
    ASSERT_FALSE(HasFatalFailure());
    compliance_ = v1::Compliance::NewStub(channel_);
    emergency_ = v1::EmergencyAccess::NewStub(channel_);
    consent_ = v1::Consent::NewStub(channel_);
    retention_ = v1::Retention::NewStub(channel_);
    analytics_ = v1::Analytics::NewStub(channel_);
    for (const std::string& role : kRoles) tokens_[role] = NewPrincipal(role, {role});
    v1::CreateLeadRequest create = ValidCreate("policy", "policy@example.com");
    create.mutable_personal()->set_phone("+1 650 253 0000");
    create.mutable_personal()->set_street_address("1 Main Street");
    create.mutable_personal()->set_condition_interest("knee pain");
    v1::CreateLeadResponse created;
    grpc::Status s = leads_->CreateLead(Ctx(tokens_["capture"]).get(), create, &created);
    ASSERT_TRUE(s.ok()) << s.error_message();
    lead_id_ = created.lead_id();
  }

  std::unique_ptr<grpc::ClientContext> Tagged(const std::string& role, const std::string& rpc) {
    auto ctx = Ctx(tokens_[role]);
    ctx->AddMetadata("x-request-id", role + "-" + rpc);
    return ctx;
  }

  v1::PurposeOfUse PurposeFor(const std::string& role) {
    if (role == "intake") return v1::PURPOSE_OF_USE_TREATMENT;
    if (role == "compliance") return v1::PURPOSE_OF_USE_OPERATIONS;
    return v1::PURPOSE_OF_USE_UNSPECIFIED;
  }

  // The test vault's master key (ApiTest::SetUp), then one new key per call.
  absl::StatusOr<std::vector<keys::SecretBytes>> KeySource() {
    absl::MutexLock lock(&keys_mu_);
    ++keys_made_;
    std::vector<keys::SecretBytes> out;
    for (int k = 0; k <= keys_made_; ++k) {
      keys::SecretBytes kek(32);
      for (size_t i = 0; i < kek.size(); ++i) kek.data()[i] = static_cast<uint8_t>(7 * i + 1 + k);
      out.push_back(std::move(kek));
    }
    return out;
  }

  static vault::Actor Officer() {
    vault::Actor officer;
    officer.principal_id = "00000000000000f9";
    officer.roles = {vault::Role::kCompliance};
    return officer;
  }

  // Makes `rpc` as `role` with a valid request; its status.
  grpc::Status Call(const std::string& role, const std::string& rpc) {
    auto ctx = Tagged(role, rpc);
    if (rpc == "CreateLead") {
      v1::CreateLeadResponse r;
      return leads_->CreateLead(ctx.get(), ValidCreate("k-" + role, role + "@example.org"), &r);
    }
    if (rpc == "GetLead") {
      v1::GetLeadRequest q;
      q.set_lead_id(lead_id_);
      q.set_purpose(PurposeFor(role));
      v1::GetLeadResponse r;
      grpc::Status s = leads_->GetLead(ctx.get(), q, &r);
      responses_[role] = r;
      return s;
    }
    if (rpc == "FindLeads") {
      v1::FindLeadsRequest q;
      q.set_purpose(v1::PURPOSE_OF_USE_OPERATIONS);
      q.set_email("policy@example.com");
      v1::FindLeadsResponse r;
      return leads_->FindLeads(ctx.get(), q, &r);
    }
    if (rpc == "ListQueue") {
      v1::ListQueueRequest q;
      q.set_service_line("cardiology");
      q.set_status(v1::LEAD_STATUS_NEW);
      v1::ListQueueResponse r;
      return leads_->ListQueue(ctx.get(), q, &r);
    }
    if (rpc == "UpdateLead") {
      v1::UpdateLeadRequest q;
      q.set_lead_id(lead_id_);
      q.set_expected_version(1);
      q.set_status(v1::LEAD_STATUS_CONTACTED);
      v1::UpdateLeadResponse r;
      return leads_->UpdateLead(ctx.get(), q, &r);
    }
    if (rpc == "OpenEmergencyAccess") {
      v1::OpenEmergencyAccessRequest q;
      q.set_reason("unconscious patient in the ED, " + role);
      q.add_lead_ids(lead_id_);
      q.set_duration_seconds(600);
      v1::OpenEmergencyAccessResponse r;
      return emergency_->OpenEmergencyAccess(ctx.get(), q, &r);
    }
    if (rpc == "ListEmergencyAccess") {
      v1::ListEmergencyAccessResponse r;
      return emergency_->ListEmergencyAccess(ctx.get(), {}, &r);
    }
    if (rpc == "CloseEmergencyAccess") {
      vault::Actor officer;  // one per call: grants are bounded per principal
      officer.principal_id = absl::StrCat("00000000000000", 10 + grants_opened_++);
      officer.roles = {vault::Role::kCompliance};
      auto grant = vault_->emergency().OpenGrant(
          officer, "a grant to close early", {*vault::DecodeLeadId(lead_id_)}, absl::Minutes(5));
      EXPECT_TRUE(grant.ok());
      v1::CloseEmergencyAccessRequest q;
      q.set_grant_id(grant.ok() ? grant->id : "");
      v1::CloseEmergencyAccessResponse r;
      return emergency_->CloseEmergencyAccess(ctx.get(), q, &r);
    }
    if (rpc == "CreatePrincipal") {
      v1::CreatePrincipalRequest q;
      q.set_display_name("made by " + role);
      q.add_roles("analyst");
      v1::CreatePrincipalResponse r;
      return admin_->CreatePrincipal(ctx.get(), q, &r);
    }
    if (rpc == "ListPrincipals") {
      v1::ListPrincipalsResponse r;
      return admin_->ListPrincipals(ctx.get(), {}, &r);
    }
    if (rpc == "DisablePrincipal" || rpc == "RotateToken" || rpc == "SetServiceLines") {
      std::string victim;
      NewPrincipal("victim of " + role, {"analyst"}, 0, &victim);
      if (rpc == "DisablePrincipal") {
        v1::DisablePrincipalRequest q;
        q.set_principal_id(victim);
        v1::DisablePrincipalResponse r;
        return admin_->DisablePrincipal(ctx.get(), q, &r);
      }
      if (rpc == "SetServiceLines") {
        v1::SetServiceLinesRequest q;
        q.set_principal_id(victim);
        q.add_service_lines("oncology");
        v1::SetServiceLinesResponse r;
        return admin_->SetServiceLines(ctx.get(), q, &r);
      }
      v1::RotateTokenRequest q;
      q.set_principal_id(victim);
      v1::RotateTokenResponse r;
      return admin_->RotateToken(ctx.get(), q, &r);
    }
    if (rpc == "IssueWebhookSecret" || rpc == "RevokeWebhookSecret") {
      std::string form;
      NewPrincipal("web form of " + role, {"capture"}, 0, &form);
      if (rpc == "IssueWebhookSecret") {
        v1::IssueWebhookSecretRequest q;
        q.set_principal_id(form);
        v1::IssueWebhookSecretResponse r;
        return admin_->IssueWebhookSecret(ctx.get(), q, &r);
      }
      v1::RevokeWebhookSecretRequest q;
      q.set_principal_id(form);
      v1::RevokeWebhookSecretResponse r;
      return admin_->RevokeWebhookSecret(ctx.get(), q, &r);
    }
    if (rpc == "GetFunnelMetrics") {
      v1::GetFunnelMetricsRequest q;
      q.set_from_unix_micros(absl::ToUnixMicros(absl::Now() - absl::Hours(24 * 30)));
      q.set_to_unix_micros(absl::ToUnixMicros(absl::Now() + absl::Hours(24)));
      q.add_group_by(v1::FUNNEL_DIMENSION_SOURCE);
      v1::GetFunnelMetricsResponse r;
      return analytics_->GetFunnelMetrics(ctx.get(), q, &r);
    }
    if (rpc == "RotateMasterKey") {
      v1::RotateMasterKeyResponse r;
      return admin_->RotateMasterKey(ctx.get(), {}, &r);
    }
    if (rpc == "GetMasterKeyStatus") {
      v1::GetMasterKeyStatusResponse r;
      return admin_->GetMasterKeyStatus(ctx.get(), {}, &r);
    }
    if (rpc == "CreateBackup") {
      v1::CreateBackupRequest q;
      char dir[] = "/tmp/leadvault-backup-XXXXXX";  // mode 0700
      EXPECT_NE(::mkdtemp(dir), nullptr);
      q.set_backup_dir(dir);
      v1::CreateBackupResponse r;
      grpc::Status s = admin_->CreateBackup(ctx.get(), q, &r);
      std::filesystem::remove_all(dir);
      return s;
    }
    if (rpc == "RetireMasterKey") {
      v1::RetireMasterKeyRequest q;
      q.set_kek_version(1);
      if (role == "admin") {  // a version nothing is wrapped under any more
        auto rotated = vault_->RotateMasterKey(vault::SystemActor(), *KeySource());
        EXPECT_TRUE(rotated.ok()) << rotated.status();
        EXPECT_TRUE(vault_->key_rewrap().WaitIdle().ok());
        q.set_kek_version(rotated.ok() ? rotated->previous : 0);
      }
      v1::RetireMasterKeyResponse r;
      return admin_->RetireMasterKey(ctx.get(), q, &r);
    }
    if (rpc == "GetCheckpoint") {
      v1::GetCheckpointResponse r;
      return compliance_->GetCheckpoint(ctx.get(), {}, &r);
    }
    if (rpc == "GetInclusionProof") {
      v1::GetInclusionProofRequest q;
      q.set_sequence(1);
      v1::GetInclusionProofResponse r;
      return compliance_->GetInclusionProof(ctx.get(), q, &r);
    }
    if (rpc == "GetConsistencyProof") {
      v1::GetConsistencyProofRequest q;
      q.set_from_size(1);
      v1::GetConsistencyProofResponse r;
      return compliance_->GetConsistencyProof(ctx.get(), q, &r);
    }
    if (rpc == "ExportAudit") {
      auto reader = compliance_->ExportAudit(ctx.get(), v1::ExportAuditRequest());
      v1::ExportAuditResponse m;
      while (reader->Read(&m)) {
      }
      return reader->Finish();
    }
    if (rpc == "AccountingOfDisclosures") {
      v1::AccountingOfDisclosuresRequest q;
      q.set_lead_id(lead_id_);
      v1::AccountingOfDisclosuresResponse r;
      return compliance_->AccountingOfDisclosures(ctx.get(), q, &r);
    }
    if (rpc == "RecordConsent") {
      v1::RecordConsentRequest q;
      q.set_lead_id(lead_id_);
      v1::ConsentGrant* g = q.mutable_grant();
      g->add_channels(v1::CONSENT_CHANNEL_EMAIL);
      g->add_purposes(v1::CONSENT_PURPOSE_SCHEDULING);
      g->mutable_evidence()->set_captured_at_unix_micros(absl::ToUnixMicros(clock_.Now()));
      v1::RecordConsentResponse r;
      return consent_->RecordConsent(ctx.get(), q, &r);
    }
    if (rpc == "CheckConsent") {
      v1::CheckConsentRequest q;
      q.set_lead_id(lead_id_);
      q.set_channel(v1::CONSENT_CHANNEL_EMAIL);
      q.set_purpose(v1::CONSENT_PURPOSE_SCHEDULING);
      v1::CheckConsentResponse r;
      return consent_->CheckConsent(ctx.get(), q, &r);
    }
    if (rpc == "GetConsentHistory") {
      v1::GetConsentHistoryRequest q;
      q.set_lead_id(lead_id_);
      v1::GetConsentHistoryResponse r;
      return consent_->GetConsentHistory(ctx.get(), q, &r);
    }
    if (rpc == "ExportConsentProof") {
      v1::ExportConsentProofRequest q;
      q.set_lead_id(lead_id_);
      v1::ExportConsentProofResponse r;
      return consent_->ExportConsentProof(ctx.get(), q, &r);
    }
    if (rpc == "DeleteLead") {
      // A lead of its own each time (of the intake principals' service line).
      v1::CreateLeadResponse made;
      grpc::Status created =
          leads_->CreateLead(Ctx(tokens_["capture"]).get(),
                             ValidCreate("del-" + role, "delete." + role + "@example.org"), &made);
      EXPECT_TRUE(created.ok()) << created.error_message();
      v1::DeleteLeadRequest q;
      q.set_lead_id(made.lead_id());
      q.set_reason("Data subject request from " + role);
      v1::DeleteLeadResponse r;
      return leads_->DeleteLead(ctx.get(), q, &r);
    }
    if (rpc == "AmendLead") {
      // A lead of its own each time, at version 1.
      v1::CreateLeadResponse made;
      grpc::Status created =
          leads_->CreateLead(Ctx(tokens_["capture"]).get(),
                             ValidCreate("amend-" + role, "amend." + role + "@example.org"), &made);
      EXPECT_TRUE(created.ok()) << created.error_message();
      v1::AmendLeadRequest q;
      q.set_lead_id(made.lead_id());
      q.set_expected_version(1);
      q.set_purpose(v1::PURPOSE_OF_USE_PATIENT_REQUEST);
      q.set_reason("The patient asked us to correct the city");
      q.mutable_personal()->set_city("Springfield");
      v1::AmendLeadResponse r;
      return leads_->AmendLead(ctx.get(), q, &r);
    }
    if (rpc == "ListAmendments") {
      v1::ListAmendmentsRequest q;
      q.set_lead_id(lead_id_);
      q.set_purpose(v1::PURPOSE_OF_USE_OPERATIONS);
      v1::ListAmendmentsResponse r;
      return leads_->ListAmendments(ctx.get(), q, &r);
    }
    if (rpc == "PlaceLegalHold") {
      v1::PlaceLegalHoldRequest q;
      q.set_lead_id(lead_id_);
      q.set_reason("Litigation hold asked by " + role);
      v1::PlaceLegalHoldResponse r;
      return retention_->PlaceLegalHold(ctx.get(), q, &r);
    }
    if (rpc == "ReleaseLegalHold") {
      auto hold = vault_->holds().Place(Officer(), *vault::DecodeLeadId(lead_id_),
                                        "a hold to release again");
      EXPECT_TRUE(hold.ok()) << hold.status();
      v1::ReleaseLegalHoldRequest q;
      q.set_lead_id(lead_id_);
      q.set_hold_id(hold.ok() ? hold->hold_id : "");
      q.set_reason("Released by " + role + " for the test");
      v1::ReleaseLegalHoldResponse r;
      return retention_->ReleaseLegalHold(ctx.get(), q, &r);
    }
    if (rpc == "ListLegalHolds") {
      v1::ListLegalHoldsResponse r;
      return retention_->ListLegalHolds(ctx.get(), {}, &r);
    }
    if (rpc == "SweepRetention") {
      auto reader = retention_->SweepRetention(ctx.get(), v1::SweepRetentionRequest());
      v1::SweepProgress m;
      while (reader->Read(&m)) {
      }
      return reader->Finish();
    }
    if (rpc == "SetRetentionPolicy") {
      v1::SetRetentionPolicyRequest q;
      v1::RetentionRule* d = q.mutable_policy()->mutable_default_rule();
      d->set_period_days(400);
      d->set_from(v1::RETENTION_ANCHOR_LAST_ACTIVITY);
      v1::SetRetentionPolicyResponse r;
      return retention_->SetRetentionPolicy(ctx.get(), q, &r);
    }
    if (rpc == "GetRetentionPolicy") {
      v1::GetRetentionPolicyResponse r;
      return retention_->GetRetentionPolicy(ctx.get(), {}, &r);
    }
    ADD_FAILURE() << "no call for " << rpc;
    return grpc::Status::CANCELLED;
  }

  std::unique_ptr<v1::Compliance::Stub> compliance_;
  std::unique_ptr<v1::EmergencyAccess::Stub> emergency_;
  std::unique_ptr<v1::Consent::Stub> consent_;
  std::unique_ptr<v1::Retention::Stub> retention_;
  std::unique_ptr<v1::Analytics::Stub> analytics_;
  std::map<std::string, std::string> tokens_;
  std::map<std::string, v1::GetLeadResponse> responses_;
  std::string lead_id_;
  int grants_opened_ = 0;
  absl::Mutex keys_mu_;
  int keys_made_ ABSL_GUARDED_BY(keys_mu_) = 0;
};

TEST_F(AccessPolicyTest, EveryRoleTimesEveryRpcAndEveryField) {
  ASSERT_EQ(kExpectedCodes.size(), vault::kRpcCount);
  for (size_t i = 0; i < vault::kRpcCount; ++i) {
    auto rpc = static_cast<vault::Rpc>(i);
    const std::string name(vault::RpcName(rpc));
    ASSERT_TRUE(kExpectedCodes.count(name)) << name;
    for (size_t r = 0; r < kRoles.size(); ++r) {
      const std::string& role = kRoles[r];
      std::optional<vault::Role> parsed = vault::ParseRole(role);
      ASSERT_TRUE(parsed.has_value());
      StatusCode want = kExpectedCodes.at(name)[r];
      // The code's table agrees with the matrix written here...
      EXPECT_EQ(vault::RoleMayCall(*parsed, rpc), want == kOk) << role << " " << name;
      // ...and the server does what both say.
      grpc::Status s = Call(role, name);
      EXPECT_EQ(s.error_code(), want) << role << " " << name << ": " << s.error_message();
    }
  }

  // GetLead, field by field, for the roles that may call it.
  const std::vector<std::string> readers = {"capture", "intake", "compliance"};
  for (size_t r = 0; r < readers.size(); ++r) {
    const v1::GetLeadResponse& got = responses_[readers[r]];
    ASSERT_TRUE(got.has_lead()) << readers[r];
    EXPECT_EQ(got.lead().metadata().lead_id(), lead_id_);
    std::vector<std::string> masked(got.masked_fields().begin(), got.masked_fields().end());
    for (vault::PiiField f : vault::kAllPiiFields) {
      const std::string field(vault::PiiFieldName(f));
      const char want = kExpectedProjection.at(field)[r];
      const char table =
          "HMC"[static_cast<int>(vault::RoleProjection(*vault::ParseRole(readers[r]), f))];
      EXPECT_EQ(table, want) << readers[r] << " " << field;
      const std::string value = FieldValue(got.lead().personal(), field);
      const bool is_masked = std::find(masked.begin(), masked.end(), field) != masked.end();
      SCOPED_TRACE(readers[r] + " " + field);
      if (want == 'H') {
        EXPECT_TRUE(value.empty()) << value;
        EXPECT_FALSE(is_masked);
      } else if (want == 'M') {
        EXPECT_EQ(value, kMasked.at(field));
        EXPECT_TRUE(is_masked);
      } else {
        EXPECT_FALSE(value.empty());
        EXPECT_FALSE(is_masked);
      }
    }
  }
  EXPECT_EQ(responses_["intake"].lead().personal().email(), "policy@example.com");
  EXPECT_EQ(responses_["intake"].lead().personal().phone(), "+16502530000");

  // Every denial was audited as denied, under its request id.
  std::map<std::string, audit::Outcome> outcomes;
  std::unique_ptr<rocksdb::Iterator> it(vault_->database().db()->NewIterator(
      rocksdb::ReadOptions(), vault_->database().cf(vault::Cf::kAudit)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto e = audit::DecodeCanonical(it->value().ToString());
    ASSERT_TRUE(e.ok());
    outcomes[e->request_id] = e->outcome;
  }
  for (const auto& [rpc, codes] : kExpectedCodes) {
    for (size_t r = 0; r < kRoles.size(); ++r) {
      const std::string id = kRoles[r] + "-" + rpc;
      ASSERT_TRUE(outcomes.count(id)) << id;
      EXPECT_EQ(outcomes[id], codes[r] == kOk ? audit::Outcome::kAllowed : audit::Outcome::kDenied)
          << id;
    }
  }
}

TEST_F(AccessPolicyTest, OutOfScopeLeadsAreIndistinguishableFromMissingOnes) {
  const std::string other_desk = NewPrincipalWithLines("oncology desk", {"intake"}, {"oncology"});
  const std::string other_form = NewPrincipalWithLines("other form", {"capture"}, {"cardiology"});
  auto get = [&](const std::string& token, const std::string& id, grpc::Status* s) {
    v1::GetLeadRequest q;
    q.set_lead_id(id);
    q.set_purpose(v1::PURPOSE_OF_USE_TREATMENT);
    v1::GetLeadResponse r;
    *s = leads_->GetLead(Ctx(token).get(), q, &r);
    return r;
  };
  grpc::Status missing, out_of_scope, not_theirs;
  get(other_desk, std::string(32, 'b'), &missing);
  v1::GetLeadResponse leaked = get(other_desk, lead_id_, &out_of_scope);
  v1::GetLeadResponse leaked2 = get(other_form, lead_id_, &not_theirs);
  EXPECT_EQ(missing.error_code(), StatusCode::NOT_FOUND);
  for (const grpc::Status& s : {out_of_scope, not_theirs}) {
    EXPECT_EQ(s.error_code(), missing.error_code());
    EXPECT_EQ(s.error_message(), missing.error_message());
  }
  EXPECT_EQ(leaked.ByteSizeLong(), 0u);
  EXPECT_EQ(leaked2.ByteSizeLong(), 0u);

  v1::FindLeadsRequest find;
  find.set_purpose(v1::PURPOSE_OF_USE_OPERATIONS);
  find.set_email("policy@example.com");
  v1::FindLeadsResponse found;
  ASSERT_TRUE(leads_->FindLeads(Ctx(other_desk).get(), find, &found).ok());
  EXPECT_EQ(found.leads_size(), 0);
  v1::ListQueueRequest list;
  list.set_service_line("cardiology");
  list.set_status(v1::LEAD_STATUS_NEW);
  v1::ListQueueResponse listed;
  ASSERT_TRUE(leads_->ListQueue(Ctx(other_desk).get(), list, &listed).ok());
  EXPECT_EQ(listed.leads_size(), 0);
  EXPECT_TRUE(listed.next_page_token().empty());
  v1::UpdateLeadRequest update;
  update.set_lead_id(lead_id_);
  update.set_expected_version(1);
  update.set_status(v1::LEAD_STATUS_CONTACTED);
  v1::UpdateLeadResponse updated;
  grpc::Status s = leads_->UpdateLead(Ctx(other_desk).get(), update, &updated);
  EXPECT_EQ(s.error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), missing.error_message());
  // In scope, the same calls see it.
  ASSERT_TRUE(leads_->FindLeads(Ctx(tokens_["intake"]).get(), find, &found).ok());
  EXPECT_EQ(found.leads_size(), 1);
}

TEST_F(AccessPolicyTest, AReadOfPersonalDataNamesAnAllowedPurpose) {
  auto get = [&](const std::string& role, v1::PurposeOfUse purpose,
                 v1::ConsentChannel outreach = v1::CONSENT_CHANNEL_UNSPECIFIED) {
    v1::GetLeadRequest q;
    q.set_lead_id(lead_id_);
    q.set_purpose(purpose);
    q.set_outreach_channel(outreach);
    v1::GetLeadResponse r;
    grpc::Status s = leads_->GetLead(Ctx(tokens_[role]).get(), q, &r);
    if (!s.ok()) {
      EXPECT_EQ(r.ByteSizeLong(), 0u);
    }
    return s.error_code();
  };
  EXPECT_EQ(get("intake", v1::PURPOSE_OF_USE_UNSPECIFIED), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(get("intake", static_cast<v1::PurposeOfUse>(99)), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(get("intake", v1::PURPOSE_OF_USE_EMERGENCY), kDenied);  // needs break-glass
  // Outreach names the channel it will use (consent decides its contact field).
  EXPECT_EQ(get("intake", v1::PURPOSE_OF_USE_SCHEDULING_OUTREACH), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(get("intake", v1::PURPOSE_OF_USE_SCHEDULING_OUTREACH, v1::CONSENT_CHANNEL_VOICE), kOk);
  EXPECT_EQ(get("compliance", v1::PURPOSE_OF_USE_TREATMENT), kDenied);
  EXPECT_EQ(get("compliance", v1::PURPOSE_OF_USE_PATIENT_REQUEST), kOk);
  EXPECT_EQ(get("capture", v1::PURPOSE_OF_USE_UNSPECIFIED), kOk);  // metadata only
  // The purpose is in the audit entry of the read.
  bool seen = false;
  std::unique_ptr<rocksdb::Iterator> it(vault_->database().db()->NewIterator(
      rocksdb::ReadOptions(), vault_->database().cf(vault::Cf::kAudit)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto e = audit::DecodeCanonical(it->value().ToString());
    ASSERT_TRUE(e.ok());
    seen = seen || (e->action == "GetLead" && e->purpose == "scheduling_outreach" &&
                    e->outcome == audit::Outcome::kAllowed);
  }
  EXPECT_TRUE(seen);
}

TEST_F(AccessPolicyTest, BreakGlassOverTheWire) {
  const std::string desk = NewPrincipalWithLines("oncology desk", {"intake"}, {"oncology"});
  v1::GetLeadRequest get;
  get.set_lead_id(lead_id_);
  get.set_purpose(v1::PURPOSE_OF_USE_EMERGENCY);
  v1::GetLeadResponse got;
  EXPECT_EQ(leads_->GetLead(Ctx(desk).get(), get, &got).error_code(), StatusCode::NOT_FOUND);

  v1::OpenEmergencyAccessRequest open;
  open.set_reason("patient unresponsive at triage; need allergy notes");
  open.add_lead_ids(lead_id_);
  open.set_duration_seconds(900);
  v1::OpenEmergencyAccessResponse opened;
  // Another service line's desk cannot break glass into this lead: the answer
  // is the one for a lead that does not exist.
  grpc::Status refused = emergency_->OpenEmergencyAccess(Ctx(desk).get(), open, &opened);
  EXPECT_EQ(refused.error_code(), StatusCode::NOT_FOUND);
  v1::OpenEmergencyAccessRequest made_up = open;
  made_up.set_lead_ids(0, std::string(32, 'a'));
  grpc::Status missing = emergency_->OpenEmergencyAccess(Ctx(desk).get(), made_up, &opened);
  EXPECT_EQ(missing.error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(refused.error_message(), missing.error_message());
  EXPECT_EQ(leads_->GetLead(Ctx(desk).get(), get, &got).error_code(), StatusCode::NOT_FOUND);

  // A compliance officer (the second person) can.
  const std::string officer = tokens_["compliance"];
  ASSERT_TRUE(emergency_->OpenEmergencyAccess(Ctx(officer).get(), open, &opened).ok());
  EXPECT_TRUE(opened.grant().open());
  open.set_duration_seconds(3601);
  EXPECT_EQ(emergency_->OpenEmergencyAccess(Ctx(officer).get(), open, &opened).error_code(),
            StatusCode::INVALID_ARGUMENT);
  open.set_duration_seconds(900);
  open.set_reason("");
  EXPECT_EQ(emergency_->OpenEmergencyAccess(Ctx(officer).get(), open, &opened).error_code(),
            StatusCode::INVALID_ARGUMENT);
  // A flood of lead ids is refused before any is collected into the audit entry.
  v1::OpenEmergencyAccessRequest flood;
  flood.set_reason("patient unresponsive at triage; need allergy notes");
  flood.set_duration_seconds(60);
  for (int i = 0; i < 7500; ++i) flood.add_lead_ids(lead_id_);
  EXPECT_EQ(emergency_->OpenEmergencyAccess(Ctx(officer).get(), flood, &opened).error_code(),
            StatusCode::INVALID_ARGUMENT);
  {
    std::unique_ptr<rocksdb::Iterator> last(vault_->database().db()->NewIterator(
        rocksdb::ReadOptions(), vault_->database().cf(vault::Cf::kAudit)));
    last->SeekToLast();
    ASSERT_TRUE(last->Valid());
    auto e = audit::DecodeCanonical(last->value().ToString());
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->action, "OpenEmergencyAccess");
    EXPECT_TRUE(e->lead_ids.empty());
    EXPECT_LT(last->value().size(), 1024u);
  }

  ASSERT_TRUE(leads_->GetLead(Ctx(officer).get(), get, &got).ok());
  EXPECT_EQ(got.lead().personal().email(), "policy@example.com");
  EXPECT_EQ(got.masked_fields_size(), 0);

  v1::ListEmergencyAccessRequest list;
  list.set_open_only(true);
  v1::ListEmergencyAccessResponse listed;
  ASSERT_TRUE(
      emergency_->ListEmergencyAccess(Ctx(tokens_["compliance"]).get(), list, &listed).ok());
  ASSERT_EQ(listed.grants_size(), 1);
  v1::CloseEmergencyAccessRequest close;
  close.set_grant_id(listed.grants(0).grant_id());
  v1::CloseEmergencyAccessResponse closed;
  ASSERT_TRUE(
      emergency_->CloseEmergencyAccess(Ctx(tokens_["compliance"]).get(), close, &closed).ok());
  EXPECT_FALSE(closed.grant().open());
  EXPECT_EQ(leads_->GetLead(Ctx(officer).get(), get, &got).error_code(),
            StatusCode::PERMISSION_DENIED);

  // The emergency read is in the accounting of disclosures, with its reason.
  v1::AccountingOfDisclosuresRequest accounting;
  accounting.set_lead_id(lead_id_);
  v1::AccountingOfDisclosuresResponse disclosures;
  ASSERT_TRUE(
      compliance_
          ->AccountingOfDisclosures(Ctx(tokens_["compliance"]).get(), accounting, &disclosures)
          .ok());
  bool flagged = false;
  for (const v1::Disclosure& d : disclosures.disclosures()) {
    flagged =
        flagged || (d.purpose() == "emergency" &&
                    d.break_glass_reason() == "patient unresponsive at triage; need allergy notes");
  }
  EXPECT_TRUE(flagged);
}

}  // namespace
}  // namespace testing_util
}  // namespace leadvault::api
