// Every RPC leaves exactly one audit entry, and the Compliance service hands
// out checkpoints, proofs, exports and accountings that verify.
#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "api/convert.h"
#include "audit/audit_entry.h"
#include "audit/checkpoint.h"
#include "audit/export_format.h"
#include "audit/merkle.h"
#include "audit/verifier.h"
#include "tests/api/api_test_util.h"
#include "vault/internal/keys.h"

namespace leadvault::api {
namespace testing_util {
namespace {

// Every audit entry in the vault, in sequence order.
std::vector<audit::AuditEntry> ReadAudit(vault::Vault& vault) {
  std::vector<audit::AuditEntry> out;
  std::unique_ptr<rocksdb::Iterator> it(vault.database().db()->NewIterator(
      rocksdb::ReadOptions(), vault.database().cf(vault::Cf::kAudit)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto e = audit::DecodeCanonical(it->value().ToString());
    EXPECT_TRUE(e.ok());
    if (e.ok()) out.push_back(*std::move(e));
  }
  return out;
}

std::vector<audit::Hash> Hashes(const google::protobuf::RepeatedPtrField<std::string>& in) {
  std::vector<audit::Hash> out;
  for (const std::string& b : in) {
    auto h = audit::HashFromBytes(b);
    EXPECT_TRUE(h.ok());
    if (h.ok()) out.push_back(*h);
  }
  return out;
}

class AuditServiceTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    compliance_ = v1::Compliance::NewStub(channel_);
    officer_token_ = NewPrincipal("privacy officer", {"compliance"}, 0, &officer_id_);
  }

  // A context with a token (or none) and an x-request-id.
  std::unique_ptr<grpc::ClientContext> Tagged(const std::string& token, const std::string& id) {
    auto ctx = Ctx(token);
    ctx->AddMetadata("x-request-id", id);
    return ctx;
  }

  audit::NoteVerifier Verifier(const std::string& key) {
    auto v = audit::NoteVerifier::Parse(key);
    EXPECT_TRUE(v.ok()) << v.status();
    return *v;
  }

  std::unique_ptr<v1::Compliance::Stub> compliance_;
  std::string officer_token_;
  std::string officer_id_;
};

TEST_F(AuditServiceTest, EveryCallLeavesExactlyOneEntryWithItsRequestId) {
  const std::string lead_id = CreateLead("seed", "seed@example.com");
  const size_t before = ReadAudit(*vault_).size();

  struct Expected {
    std::string action;
    audit::Outcome outcome;
    grpc::StatusCode code;
  };
  std::map<std::string, Expected> expected;
  auto check = [&](const std::string& id, const grpc::Status& s, Expected e) {
    EXPECT_EQ(s.error_code(), e.code) << id << ": " << s.error_message();
    expected[id] = e;
  };
  v1::CreateLeadResponse created;
  check("r-create",
        leads_->CreateLead(Tagged(worker_token_, "r-create").get(),
                           ValidCreate("k1", "one@example.com"), &created),
        {"CreateLead", audit::Outcome::kAllowed, grpc::StatusCode::OK});
  v1::CreateLeadRequest invalid = ValidCreate("k2", "two@example.com");
  invalid.mutable_personal()->set_email("not an email");
  check("r-invalid",
        leads_->CreateLead(Tagged(worker_token_, "r-invalid").get(), invalid, &created),
        {"CreateLead", audit::Outcome::kFailed, grpc::StatusCode::INVALID_ARGUMENT});
  v1::GetLeadRequest get;
  get.set_purpose(v1::PURPOSE_OF_USE_TREATMENT);
  get.set_lead_id(lead_id);
  v1::GetLeadResponse got;
  check("r-get", leads_->GetLead(Tagged(worker_token_, "r-get").get(), get, &got),
        {"GetLead", audit::Outcome::kAllowed, grpc::StatusCode::OK});
  get.set_lead_id(std::string(32, 'a'));
  check("r-missing", leads_->GetLead(Tagged(worker_token_, "r-missing").get(), get, &got),
        {"GetLead", audit::Outcome::kFailed, grpc::StatusCode::NOT_FOUND});
  get.set_lead_id(lead_id);
  check("r-anon", leads_->GetLead(Tagged("", "r-anon").get(), get, &got),
        {"GetLead", audit::Outcome::kUnauthenticated, grpc::StatusCode::UNAUTHENTICATED});
  const std::string forged = "lv_0123456789abcdef_" + std::string(64, 'f');
  check("r-forged", leads_->GetLead(Tagged(forged, "r-forged").get(), get, &got),
        {"GetLead", audit::Outcome::kUnauthenticated, grpc::StatusCode::UNAUTHENTICATED});
  v1::FindLeadsRequest find;
  find.set_purpose(v1::PURPOSE_OF_USE_OPERATIONS);
  find.set_email("seed@example.com");
  v1::FindLeadsResponse found;
  check("r-find", leads_->FindLeads(Tagged(worker_token_, "r-find").get(), find, &found),
        {"FindLeads", audit::Outcome::kAllowed, grpc::StatusCode::OK});
  v1::ListQueueRequest list;
  list.set_service_line("cardiology");
  list.set_status(v1::LEAD_STATUS_NEW);
  v1::ListQueueResponse listed;
  check("r-list", leads_->ListQueue(Tagged(worker_token_, "r-list").get(), list, &listed),
        {"ListQueue", audit::Outcome::kAllowed, grpc::StatusCode::OK});
  v1::UpdateLeadRequest update;
  update.set_lead_id(lead_id);
  update.set_expected_version(99);
  update.set_status(v1::LEAD_STATUS_CONTACTED);
  v1::UpdateLeadResponse updated;
  check("r-stale", leads_->UpdateLead(Tagged(worker_token_, "r-stale").get(), update, &updated),
        {"UpdateLead", audit::Outcome::kFailed, grpc::StatusCode::ABORTED});
  v1::ListPrincipalsResponse principals;
  check("r-notadmin",
        admin_->ListPrincipals(Tagged(worker_token_, "r-notadmin").get(), {}, &principals),
        {"ListPrincipals", audit::Outcome::kDenied, grpc::StatusCode::PERMISSION_DENIED});
  check("r-admin", admin_->ListPrincipals(Tagged(admin_token_, "r-admin").get(), {}, &principals),
        {"ListPrincipals", audit::Outcome::kAllowed, grpc::StatusCode::OK});
  v1::GetCheckpointResponse checkpoint;
  check("r-notofficer",
        compliance_->GetCheckpoint(Tagged(worker_token_, "r-notofficer").get(), {}, &checkpoint),
        {"GetCheckpoint", audit::Outcome::kDenied, grpc::StatusCode::PERMISSION_DENIED});
  check("r-officer",
        compliance_->GetCheckpoint(Tagged(officer_token_, "r-officer").get(), {}, &checkpoint),
        {"GetCheckpoint", audit::Outcome::kAllowed, grpc::StatusCode::OK});

  std::vector<audit::AuditEntry> entries = ReadAudit(*vault_);
  ASSERT_EQ(entries.size(), before + expected.size());
  std::map<std::string, int> seen;
  for (size_t i = before; i < entries.size(); ++i) {
    const audit::AuditEntry& e = entries[i];
    ++seen[e.request_id];
    auto it = expected.find(e.request_id);
    ASSERT_NE(it, expected.end()) << "unexpected entry for request " << e.request_id;
    EXPECT_EQ(e.action, it->second.action) << e.request_id;
    EXPECT_EQ(e.outcome, it->second.outcome) << e.request_id;
    EXPECT_EQ(e.code, static_cast<int>(it->second.code)) << e.request_id;
    EXPECT_FALSE(e.peer.empty()) << e.request_id;
  }
  for (const auto& [id, e] : expected) EXPECT_EQ(seen[id], 1) << id;

  // The unauthenticated calls name no principal; the forged one names the
  // principal id its token claimed, and nothing of its secret.
  for (size_t i = before; i < entries.size(); ++i) {
    const audit::AuditEntry& e = entries[i];
    if (e.request_id == "r-anon") {
      EXPECT_TRUE(e.principal_id.empty() && e.subject.empty());
    }
    if (e.request_id == "r-forged") {
      EXPECT_TRUE(e.principal_id.empty());
      EXPECT_EQ(e.subject, "0123456789abcdef");
      EXPECT_EQ(audit::EncodeCanonical(e).find(std::string(16, 'f')), std::string::npos);
    }
    if (e.request_id == "r-missing") {
      EXPECT_EQ(e.lead_ids, std::vector<std::string>{std::string(32, 'a')});
    }
  }
}

TEST_F(AuditServiceTest, AFailedAuditWriteFailsTheCallWithNothingReturned) {
  const std::string lead_id = CreateLead("fc", "fc@example.com");
  vault_->committer().SetFailWritesForTesting(true);
  v1::GetLeadRequest get;
  get.set_purpose(v1::PURPOSE_OF_USE_TREATMENT);
  get.set_lead_id(lead_id);
  v1::GetLeadResponse got;
  grpc::Status s = leads_->GetLead(Ctx(worker_token_).get(), get, &got);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(got.ByteSizeLong(), 0u);
  v1::GetCheckpointResponse checkpoint;
  s = compliance_->GetCheckpoint(Ctx(officer_token_).get(), {}, &checkpoint);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(checkpoint.ByteSizeLong(), 0u);
  v1::ExportAuditResponse message;
  auto ctx = Ctx(officer_token_);
  auto reader = compliance_->ExportAudit(ctx.get(), v1::ExportAuditRequest());
  EXPECT_FALSE(reader->Read(&message));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  vault_->committer().SetFailWritesForTesting(false);
}

TEST_F(AuditServiceTest, ACancelledExportIsStillExactlyOneEntry) {
  // Enough entries for several export messages (1 MiB each), committed in groups.
  std::vector<std::thread> writers;
  for (int t = 0; t < 32; ++t) {
    writers.emplace_back([this] {
      for (int i = 0; i < 500; ++i) {
        audit::AuditEntry e;
        e.principal_id = "0000000000000001";
        e.action = "Filler";
        e.request_id = std::string(60, 'f');
        ASSERT_TRUE(vault_->committer().Commit(rocksdb::WriteBatch(), e).ok());
      }
    });
  }
  for (auto& w : writers) w.join();
  auto ctx = Ctx(officer_token_);
  ctx->AddMetadata("x-request-id", "r-cancel");
  auto reader = compliance_->ExportAudit(ctx.get(), v1::ExportAuditRequest());
  v1::ExportAuditResponse message;
  ASSERT_TRUE(reader->Read(&message));
  ASSERT_TRUE(message.has_header());
  ctx->TryCancel();
  while (reader->Read(&message)) {
  }
  grpc::Status s = reader->Finish();
  EXPECT_TRUE(s.ok() || s.error_code() == grpc::StatusCode::CANCELLED) << s.error_message();
  // Make sure the server side has finished before counting.
  v1::GetCheckpointResponse checkpoint;
  ASSERT_TRUE(compliance_->GetCheckpoint(Ctx(officer_token_).get(), {}, &checkpoint).ok());
  int entries = 0;
  for (const audit::AuditEntry& e : ReadAudit(*vault_)) entries += e.request_id == "r-cancel";
  EXPECT_EQ(entries, 1);
}

TEST_F(AuditServiceTest, CheckpointAndProofsVerifyWithThePublishedKey) {
  for (int i = 0; i < 6; ++i)
    CreateLead(absl::StrCat("p", i), absl::StrCat("p", i, "@example.com"));
  v1::GetCheckpointResponse first;
  ASSERT_TRUE(compliance_->GetCheckpoint(Ctx(officer_token_).get(), {}, &first).ok());
  audit::NoteVerifier verifier = Verifier(first.verifier_key());
  auto opened = audit::OpenCheckpoint(first.checkpoint().note(), verifier);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->size, first.checkpoint().tree_size());
  EXPECT_EQ(std::string(audit::HashBytes(opened->root)), first.checkpoint().root_hash());

  for (int i = 0; i < 4; ++i)
    CreateLead(absl::StrCat("q", i), absl::StrCat("q", i, "@example.com"));
  v1::GetInclusionProofRequest inclusion;
  inclusion.set_sequence(3);
  v1::GetInclusionProofResponse proof;
  ASSERT_TRUE(compliance_->GetInclusionProof(Ctx(officer_token_).get(), inclusion, &proof).ok());
  auto later = audit::OpenCheckpoint(proof.checkpoint().note(), verifier);
  ASSERT_TRUE(later.ok());
  EXPECT_TRUE(audit::VerifyInclusion(2, later->size, audit::LeafHash(proof.entry()),
                                     Hashes(proof.proof()), later->root)
                  .ok());
  v1::GetConsistencyProofRequest consistency;
  consistency.set_from_size(opened->size);
  v1::GetConsistencyProofResponse cproof;
  ASSERT_TRUE(
      compliance_->GetConsistencyProof(Ctx(officer_token_).get(), consistency, &cproof).ok());
  auto newest = audit::OpenCheckpoint(cproof.checkpoint().note(), verifier);
  ASSERT_TRUE(newest.ok());
  EXPECT_TRUE(audit::VerifyConsistency(opened->size, newest->size, opened->root, newest->root,
                                       Hashes(cproof.proof()))
                  .ok());
  consistency.set_from_size(newest->size + 1000);
  EXPECT_EQ(compliance_->GetConsistencyProof(Ctx(officer_token_).get(), consistency, &cproof)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AuditServiceTest, StreamedExportVerifiesOfflineAndAccountingListsReads) {
  const std::string lead_id = CreateLead("x", "x@example.com");
  for (int i = 0; i < 30; ++i)
    CreateLead(absl::StrCat("e", i), absl::StrCat("e", i, "@example.com"));
  v1::GetLeadRequest get;
  get.set_purpose(v1::PURPOSE_OF_USE_TREATMENT);
  get.set_lead_id(lead_id);
  v1::GetLeadResponse got;
  ASSERT_TRUE(leads_->GetLead(Ctx(worker_token_).get(), get, &got).ok());
  ASSERT_TRUE(leads_->GetLead(Ctx(worker_token_).get(), get, &got).ok());

  v1::GetCheckpointResponse cp;
  ASSERT_TRUE(compliance_->GetCheckpoint(Ctx(officer_token_).get(), {}, &cp).ok());
  audit::NoteVerifier verifier = Verifier(cp.verifier_key());

  for (const bool filtered : {false, true}) {
    v1::ExportAuditRequest request;
    if (filtered) request.set_lead_id(lead_id);
    auto ctx = Ctx(officer_token_);
    auto reader = compliance_->ExportAudit(ctx.get(), request);
    std::string file;
    audit::ExportTrailer trailer;
    v1::ExportAuditResponse message;
    size_t entries = 0;
    while (reader->Read(&message)) {
      if (message.has_header()) {
        audit::ExportHeader header;
        header.origin = message.header().origin();
        header.first_sequence = message.header().first_sequence();
        header.last_sequence = message.header().last_sequence();
        header.filtered = message.header().filtered();
        header.filter = {message.header().filter_principal_id(), message.header().filter_action(),
                         message.header().filter_lead_id()};
        header.left_frontier = Hashes(message.header().left_frontier());
        trailer.checkpoint_note = message.header().checkpoint_note();
        trailer.right_nodes = Hashes(message.header().right_nodes());
        audit::AppendJsonlHeader(header, file);
      }
      for (const v1::AuditRecord& r : message.entries()) {
        auto e = audit::DecodeCanonical(r.canonical());
        ASSERT_TRUE(e.ok());
        std::vector<audit::Hash> proof = Hashes(r.inclusion_proof());
        audit::AppendJsonlEntry(*e, r.canonical(), filtered ? &proof : nullptr, file);
        ++entries;
      }
      // The signed manifest comes in the last message, after every entry.
      if (!message.manifest_note().empty()) {
        EXPECT_TRUE(trailer.manifest_note.empty()) << "a second manifest";
        trailer.manifest_note = message.manifest_note();
      } else {
        EXPECT_TRUE(trailer.manifest_note.empty()) << "a message after the manifest";
      }
    }
    ASSERT_TRUE(reader->Finish().ok());
    EXPECT_EQ(trailer.manifest_note.empty(), !filtered);
    audit::AppendJsonlTrailer(trailer, file);
    std::string path = dir_.path() + (filtered ? "/filtered.jsonl" : "/all.jsonl");
    std::FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fwrite(file.data(), 1, file.size(), f);
    std::fclose(f);
    audit::VerifyOptions options;
    options.verifier = &verifier;
    auto report = audit::VerifyExportFile(path, options);
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(report->entries, entries);
    // Unfiltered: everything up to and including this export's own entry.
    if (!filtered) {
      EXPECT_EQ(report->last_sequence, report->checkpoint.size);
    }
    // Filtered by lead: its create, its two reads, and the export request itself;
    // the daemon's signed manifest attests exactly those, under the filter as
    // applied (the lead id in its normalized form) and the export's checkpoint.
    if (filtered) {
      EXPECT_EQ(entries, 4u);
      ASSERT_TRUE(report->manifest.has_value());
      EXPECT_EQ(report->manifest->matches, 4u);
      EXPECT_EQ(report->manifest->filter, (audit::ExportFilter{"", "", lead_id}));
      EXPECT_EQ(report->manifest->tree_size, report->checkpoint.size);
      EXPECT_EQ(report->manifest->first_sequence, report->first_sequence);
      EXPECT_EQ(report->manifest->last_sequence, report->last_sequence);
      // The manifest is not a checkpoint, though the same key signed both.
      EXPECT_FALSE(audit::OpenCheckpoint(trailer.manifest_note, verifier).ok());
      // Without its manifest, the same export no longer verifies.
      std::string bare = file.substr(0, file.rfind("{\"type\":\"checkpoint\""));
      audit::ExportTrailer no_manifest = trailer;
      no_manifest.manifest_note.clear();
      audit::AppendJsonlTrailer(no_manifest, bare);
      std::FILE* g = std::fopen(path.c_str(), "wb");
      ASSERT_NE(g, nullptr);
      std::fwrite(bare.data(), 1, bare.size(), g);
      std::fclose(g);
      EXPECT_FALSE(audit::VerifyExportFile(path, options).ok());
    } else {
      EXPECT_FALSE(report->manifest.has_value());
    }
  }

  v1::AccountingOfDisclosuresRequest accounting;
  accounting.set_lead_id(lead_id);
  v1::AccountingOfDisclosuresResponse disclosures;
  ASSERT_TRUE(
      compliance_->AccountingOfDisclosures(Ctx(officer_token_).get(), accounting, &disclosures)
          .ok());
  ASSERT_EQ(disclosures.disclosures_size(), 2);
  auto root = audit::HashFromBytes(disclosures.checkpoint().root_hash());
  ASSERT_TRUE(root.ok());
  for (const v1::Disclosure& d : disclosures.disclosures()) {
    EXPECT_EQ(d.action(), "GetLead");
    // The worker holds capture and intake; it read for treatment.
    EXPECT_EQ(d.role(), "capture,intake");
    EXPECT_EQ(std::vector<int>(d.role_codes().begin(), d.role_codes().end()),
              (std::vector<int>{v1::ROLE_CAPTURE, v1::ROLE_INTAKE}));
    EXPECT_EQ(d.purpose(), "treatment");
    EXPECT_EQ(d.purpose_code(), v1::PURPOSE_OF_USE_TREATMENT);
    EXPECT_FALSE(d.fields().empty());
    EXPECT_TRUE(audit::VerifyInclusion(d.sequence() - 1, disclosures.checkpoint().tree_size(),
                                       audit::LeafHash(d.entry()), Hashes(d.inclusion_proof()),
                                       *root)
                    .ok());
  }
  accounting.set_lead_id("not-a-lead");
  EXPECT_EQ(
      compliance_->AccountingOfDisclosures(Ctx(officer_token_).get(), accounting, &disclosures)
          .error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
}

// Every purpose an audit entry names has its enum, naming the same purpose.
TEST(PurposeEnumTest, EveryPurposeTheServerNamesHasItsEnum) {
  for (vault::Purpose purpose : vault::kAllPurposes) {
    const std::string name(vault::PurposeName(purpose));
    const v1::PurposeOfUse code = PurposeFromName(name);
    EXPECT_NE(code, v1::PURPOSE_OF_USE_UNSPECIFIED) << name;
    EXPECT_EQ(v1::PurposeOfUse_Name(code), "PURPOSE_OF_USE_" + absl::AsciiStrToUpper(name));
  }
  EXPECT_EQ(PurposeFromName(""), v1::PURPOSE_OF_USE_UNSPECIFIED);
}

// The compliance lists name each principal beside its id (from the principal
// store), and the CreatePrincipal entry records the name, so an export can.
TEST_F(AuditServiceTest, AccountingAndEmergencyGrantsNameThePrincipals) {
  const std::string worker_id = worker_token_.substr(3, 16);
  const std::string lead_id = CreateLead("named", "named@example.com");
  v1::GetLeadRequest get;
  get.set_purpose(v1::PURPOSE_OF_USE_TREATMENT);
  get.set_lead_id(lead_id);
  v1::GetLeadResponse got;
  ASSERT_TRUE(leads_->GetLead(Ctx(worker_token_).get(), get, &got).ok());

  v1::AccountingOfDisclosuresRequest accounting;
  accounting.set_lead_id(lead_id);
  v1::AccountingOfDisclosuresResponse disclosures;
  ASSERT_TRUE(
      compliance_->AccountingOfDisclosures(Ctx(officer_token_).get(), accounting, &disclosures)
          .ok());
  ASSERT_EQ(disclosures.disclosures_size(), 1);
  EXPECT_EQ(disclosures.disclosures(0).principal_id(), worker_id);
  EXPECT_EQ(disclosures.disclosures(0).principal_display_name(), "intake desk");

  // A grant opened and closed by the officer: both ids named.
  auto emergency = v1::EmergencyAccess::NewStub(channel_);
  v1::OpenEmergencyAccessRequest open;
  open.set_reason("patient unresponsive at triage; need allergy notes");
  open.add_lead_ids(lead_id);
  open.set_duration_seconds(600);
  v1::OpenEmergencyAccessResponse opened;
  grpc::Status s = emergency->OpenEmergencyAccess(Ctx(officer_token_).get(), open, &opened);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(opened.grant().principal_display_name(), "privacy officer");
  v1::ListEmergencyAccessResponse listed;
  ASSERT_TRUE(emergency->ListEmergencyAccess(Ctx(officer_token_).get(), {}, &listed).ok());
  ASSERT_EQ(listed.grants_size(), 1);
  EXPECT_EQ(listed.grants(0).principal_id(), officer_id_);
  EXPECT_EQ(listed.grants(0).principal_display_name(), "privacy officer");
  EXPECT_EQ(listed.grants(0).closed_by_display_name(), "") << "not closed";
  v1::CloseEmergencyAccessRequest close;
  close.set_grant_id(listed.grants(0).grant_id());
  v1::CloseEmergencyAccessResponse closed;
  ASSERT_TRUE(emergency->CloseEmergencyAccess(Ctx(officer_token_).get(), close, &closed).ok());
  ASSERT_TRUE(emergency->ListEmergencyAccess(Ctx(officer_token_).get(), {}, &listed).ok());
  ASSERT_EQ(listed.grants_size(), 1);
  EXPECT_EQ(listed.grants(0).closed_by(), officer_id_);
  EXPECT_EQ(listed.grants(0).closed_by_display_name(), "privacy officer");
  EXPECT_EQ(vault_->principals().DisplayName("0000000000000000"), "");

  // The officer's CreatePrincipal entry records its name (workforce data).
  bool recorded = false;
  for (const audit::AuditEntry& e : ReadAudit(*vault_)) {
    if (e.action == "CreatePrincipal" && e.subject == officer_id_) {
      EXPECT_EQ(audit::RecordedDisplayName(e), "privacy officer");
      EXPECT_NE(std::find(e.fields.begin(), e.fields.end(), "display_name=privacy officer"),
                e.fields.end());
      recorded = true;
    }
  }
  EXPECT_TRUE(recorded);
}

}  // namespace
}  // namespace testing_util
}  // namespace leadvault::api
