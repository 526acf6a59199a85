// Legal holds and deletion requests: a hold blocks every purge (a sweep and a
// deletion request) until released, both are audited with their reasons, a
// deletion request purges at once within its caller's scope and returns a
// receipt that verifies offline, and a deleted lead is gone as if never seen.
#include "vault/legal_hold.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "audit/deletion_receipt.h"
#include "gtest/gtest.h"
#include "tests/vault/vault_fixture.h"
#include "vault/lead_rows_check.h"

namespace leadvault::vault::testing {
namespace {

constexpr absl::Duration kDay = absl::Hours(24);
constexpr char kHoldReason[] = "Litigation hold: matter 2026-CV-0142, counsel request";
constexpr char kDeleteReason[] = "Data subject request DSR-8812 under CCPA, verified";

Actor Compliance() { return MakeActor("00000000000000f1", "compliance"); }
Actor OtherIntake() {
  Actor a = MakeActor("00000000000000a9", "intake");
  a.service_lines = {"cardio"};
  return a;
}

LeadInput Person(int n) {
  LeadInput in;
  in.email = absl::StrCat("held.", n, "@example.org");
  in.phone = absl::StrCat("+1617555", 2000 + n);
  return in;
}

class LegalHoldTest : public VaultFixture {
 protected:
  void SetUp() override { OpenOrDie(); }

  std::string Create(int n) {
    absl::StatusOr<CreateResult> r = vault_->leads().CreateLead(
        CaptureActor(), MakeNewLead(Person(n), "ortho", absl::StrCat("h-", n)));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->lead_id : "";
  }

  LegalHold Place(const std::string& id) {
    absl::StatusOr<LegalHold> hold = vault_->holds().Place(Compliance(), id, kHoldReason);
    EXPECT_TRUE(hold.ok()) << hold.status();
    return hold.ok() ? *hold : LegalHold{};
  }

  SweepReport Sweep() {
    absl::StatusOr<SweepReport> r =
        vault_->retention().Sweep(MakeActor("00000000000000e1", "retention"), SweepOptions{});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : SweepReport{};
  }

  bool Exists(const std::string& id) { return vault_->database().Get(Cf::kLeads, id).ok(); }

  audit::AuditEntry LastEntry() { return ReadAudit(*vault_).back().second; }
};

TEST_F(LegalHoldTest, AHoldBlocksTheSweepAndADeletionUntilReleased) {
  const std::string held = Create(1);
  const std::string free = Create(2);
  const LegalHold hold = Place(held);
  EXPECT_EQ(hold.lead_id, held);
  EXPECT_EQ(hold.hold_id.size(), 16u);
  EXPECT_EQ(hold.placed_by, "00000000000000f1");
  {
    const audit::AuditEntry e = LastEntry();
    EXPECT_EQ(e.action, "PlaceLegalHold");
    EXPECT_EQ(e.lead_ids, std::vector<std::string>{EncodeLeadId(held)});
    EXPECT_EQ(e.fields, std::vector<std::string>{"hold_id=" + hold.hold_id});
    EXPECT_EQ(e.break_glass_reason, kHoldReason);
  }

  // Both expire; the sweep purges only the free one and counts the held one.
  clock_.Advance(366 * kDay);
  SweepReport report = Sweep();
  EXPECT_EQ(report.purged, 1u);
  EXPECT_EQ(report.held, 1u);
  EXPECT_TRUE(Exists(held));
  EXPECT_FALSE(Exists(free));

  // A deletion request is refused, naming the hold (never its reason), and
  // writes nothing but what the API layer records for the failed call.
  const auto before = DumpState(*vault_);
  const size_t entries = ReadAudit(*vault_).size();
  absl::StatusOr<DeletionReceipt> refused =
      vault_->leads().DeleteLead(IntakeActor(), held, kDeleteReason);
  ASSERT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();
  EXPECT_TRUE(IsLegalHold(refused.status()));
  EXPECT_TRUE(absl::StrContains(refused.status().message(), hold.hold_id));
  EXPECT_FALSE(absl::StrContains(refused.status().message(), "2026-CV"));
  EXPECT_EQ(DumpState(*vault_), before);
  EXPECT_EQ(ReadAudit(*vault_).size(), entries);

  // Released (with its own reason), the next sweep purges it.
  absl::StatusOr<LegalHold> released =
      vault_->holds().Release(Compliance(), held, hold.hold_id, "Matter settled, hold lifted");
  ASSERT_TRUE(released.ok()) << released.status();
  {
    const audit::AuditEntry e = LastEntry();
    EXPECT_EQ(e.action, "ReleaseLegalHold");
    EXPECT_EQ(e.fields, std::vector<std::string>{"hold_id=" + hold.hold_id});
    EXPECT_EQ(e.break_glass_reason, "Matter settled, hold lifted");
  }
  report = Sweep();
  EXPECT_EQ(report.purged, 1u);
  EXPECT_EQ(report.held, 0u);
  EXPECT_FALSE(Exists(held));
  absl::StatusOr<LeadRowsReport> check = CheckLeadRows(vault_->database());
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_TRUE(check->result.ok()) << check->result;
}

TEST_F(LegalHoldTest, EveryHoldMustBeReleasedAndTheirBoundsHold) {
  const std::string id = Create(3);
  std::vector<LegalHold> holds;
  for (size_t i = 0; i < kMaxHoldsPerLead; ++i) holds.push_back(Place(id));
  EXPECT_TRUE(
      absl::IsResourceExhausted(vault_->holds().Place(Compliance(), id, kHoldReason).status()));

  for (size_t i = 0; i + 1 < holds.size(); ++i) {
    ASSERT_TRUE(
        vault_->holds().Release(Compliance(), id, holds[i].hold_id, "Released for the test").ok());
  }
  // One hold left: still refused, naming that one.
  absl::StatusOr<DeletionReceipt> refused =
      vault_->leads().DeleteLead(Compliance(), id, kDeleteReason);
  ASSERT_TRUE(IsLegalHold(refused.status())) << refused.status();
  EXPECT_TRUE(absl::StrContains(refused.status().message(), holds.back().hold_id));

  // Releasing a released or unknown hold is NOT_FOUND; a malformed id and a
  // missing reason are INVALID_ARGUMENT; none writes anything.
  const size_t entries = ReadAudit(*vault_).size();
  EXPECT_TRUE(
      absl::IsNotFound(vault_->holds()
                           .Release(Compliance(), id, holds[0].hold_id, "Released for the test")
                           .status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      vault_->holds().Release(Compliance(), id, "xyz", "Released for the test").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      vault_->holds().Release(Compliance(), id, holds.back().hold_id, "short").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(vault_->holds().Place(Compliance(), id, "   ").status()));
  EXPECT_TRUE(absl::IsNotFound(
      vault_->holds().Place(Compliance(), std::string(16, 'x'), kHoldReason).status()));
  EXPECT_EQ(ReadAudit(*vault_).size(), entries);
}

TEST_F(LegalHoldTest, HoldsAreListedInPagesEachListingAudited) {
  std::vector<std::string> ids;
  for (int n = 0; n < 3; ++n) ids.push_back(Create(10 + n));
  std::set<std::string> placed;
  for (const std::string& id : ids) {
    placed.insert(Place(id).hold_id);
    placed.insert(Place(id).hold_id);
  }
  std::set<std::string> listed;
  std::string token;
  int pages = 0;
  do {
    absl::StatusOr<HoldPage> page = vault_->holds().List(Compliance(), "", 4, token);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_LE(page->holds.size(), 4u);
    for (const LegalHold& h : page->holds) {
      EXPECT_EQ(h.reason, kHoldReason);
      listed.insert(h.hold_id);
    }
    EXPECT_EQ(LastEntry().action, "ListLegalHolds");
    token = page->next_page_token;
    ++pages;
  } while (!token.empty());
  EXPECT_EQ(pages, 2);
  EXPECT_EQ(listed, placed);

  absl::StatusOr<HoldPage> one = vault_->holds().List(Compliance(), ids[1], 0, "");
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_EQ(one->holds.size(), 2u);
  for (const LegalHold& h : one->holds) EXPECT_EQ(h.lead_id, ids[1]);
  EXPECT_EQ(LastEntry().lead_ids, std::vector<std::string>{EncodeLeadId(ids[1])});

  EXPECT_TRUE(absl::IsInvalidArgument(vault_->holds().List(Compliance(), "", 201, "").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(vault_->holds().List(Compliance(), "", 0, "zz").status()));
}

TEST_F(LegalHoldTest, ADeletionRequestPurgesAtOnceAndItsReceiptVerifiesOffline) {
  const std::string id = Create(4);
  const std::string control = Create(5);
  absl::StatusOr<DeletionReceipt> receipt =
      vault_->leads().DeleteLead(IntakeActor(), id, kDeleteReason);
  ASSERT_TRUE(receipt.ok()) << receipt.status();
  EXPECT_FALSE(Exists(id));
  EXPECT_TRUE(Exists(control));
  EXPECT_EQ(receipt->entry.entry.action, "DeleteLead");
  EXPECT_EQ(receipt->entry.entry.lead_ids, std::vector<std::string>{EncodeLeadId(id)});
  EXPECT_EQ(receipt->entry.entry.break_glass_reason, kDeleteReason);
  EXPECT_EQ(receipt->entry.entry.principal_id, "00000000000000a1");
  EXPECT_EQ(LastEntry().action, "DeleteLead");  // the call's one entry

  // Rendered, parsed back and verified with only the verifier key.
  audit::DeletionReceipt doc;
  doc.lead_id = EncodeLeadId(id);
  doc.sequence = receipt->entry.entry.sequence;
  doc.entry = receipt->entry.canonical;
  doc.inclusion_proof = receipt->inclusion_proof;
  doc.checkpoint_note = receipt->checkpoint.note;
  const std::string text = audit::RenderDeletionReceipt(doc);
  absl::StatusOr<audit::DeletionReceipt> parsed = audit::ParseDeletionReceipt(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, doc);
  absl::StatusOr<audit::NoteVerifier> verifier = audit::NoteVerifier::Parse(receipt->verifier_key);
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  absl::StatusOr<audit::DeletionReceiptReport> verified =
      audit::VerifyDeletionReceipt(*parsed, *verifier);
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->entry.action, "DeleteLead");

  // Tampering with any part fails: another lead, another sequence, a proof
  // hash, the entry.
  audit::DeletionReceipt other_lead = doc;
  other_lead.lead_id = EncodeLeadId(control);
  EXPECT_FALSE(audit::VerifyDeletionReceipt(other_lead, *verifier).ok());
  audit::DeletionReceipt other_seq = doc;
  other_seq.sequence -= 1;
  EXPECT_FALSE(audit::VerifyDeletionReceipt(other_seq, *verifier).ok());
  if (!doc.inclusion_proof.empty()) {
    audit::DeletionReceipt bad_proof = doc;
    bad_proof.inclusion_proof[0][0] ^= 1;
    EXPECT_FALSE(audit::VerifyDeletionReceipt(bad_proof, *verifier).ok());
  }
  audit::DeletionReceipt bad_entry = doc;
  bad_entry.entry.back() ^= 1;
  EXPECT_FALSE(audit::VerifyDeletionReceipt(bad_entry, *verifier).ok());

  // A second request for the same id: NOT_FOUND, as for an id never seen.
  EXPECT_TRUE(
      absl::IsNotFound(vault_->leads().DeleteLead(IntakeActor(), id, kDeleteReason).status()));
  absl::StatusOr<LeadRowsReport> check = CheckLeadRows(vault_->database());
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_TRUE(check->result.ok()) << check->result;
}

TEST_F(LegalHoldTest, ADeletionOfALeadNamedByManyLaterRowsGoesInPagesOnlyWithinScope) {
  const std::string id = Create(6);
  rocksdb::WriteBatch refs;
  for (size_t i = 0; i < kMaxLeadRefs + 3; ++i) {
    ASSERT_TRUE(vault_->leads()
                    .rows()
                    .AddReferencing(id, Cf::kMeta, absl::StrCat("test-named/", i), "x", refs)
                    .ok());
  }
  ASSERT_TRUE(vault_->database().Write(&refs, "test refs").ok());
  auto pages = [this] {
    size_t n = 0;
    for (auto& [seq, e] : ReadAudit(*vault_)) n += e.action == "PurgeLeadReferences";
    return n;
  };

  // Out of the caller's scope, or under a hold: refused before any page.
  const auto before = DumpState(*vault_);
  EXPECT_TRUE(
      absl::IsNotFound(vault_->leads().DeleteLead(OtherIntake(), id, kDeleteReason).status()));
  const LegalHold hold = Place(id);
  EXPECT_TRUE(IsLegalHold(vault_->leads().DeleteLead(IntakeActor(), id, kDeleteReason).status()));
  EXPECT_EQ(pages(), 0u);
  ASSERT_TRUE(
      vault_->holds().Release(Compliance(), id, hold.hold_id, "Released for the test").ok());
  EXPECT_EQ(DumpState(*vault_).at("meta"), before.at("meta"));

  const size_t entries = ReadAudit(*vault_).size();
  Actor caller = IntakeActor();
  caller.request_id = "req-delete-many";
  absl::StatusOr<DeletionReceipt> receipt = vault_->leads().DeleteLead(caller, id, kDeleteReason);
  ASSERT_TRUE(receipt.ok()) << receipt.status();
  EXPECT_FALSE(Exists(id));
  EXPECT_EQ(pages(), 1u);
  // The call leaves exactly one entry of its own (the DeleteLead); the page
  // is the vault's, tied to the call by its request id.
  std::vector<audit::AuditEntry> written;
  for (auto& [seq, e] : ReadAudit(*vault_)) written.push_back(e);
  written.erase(written.begin(), written.begin() + static_cast<std::ptrdiff_t>(entries));
  size_t callers = 0;
  for (const audit::AuditEntry& e : written) {
    EXPECT_EQ(e.request_id, "req-delete-many") << e.action;
    EXPECT_EQ(e.lead_ids, std::vector<std::string>{EncodeLeadId(id)}) << e.action;
    if (e.principal_id == caller.principal_id) {
      ++callers;
      EXPECT_EQ(e.action, "DeleteLead");
    } else {
      EXPECT_EQ(e.principal_id, "system");
      EXPECT_EQ(e.action, "PurgeLeadReferences");
    }
  }
  EXPECT_EQ(callers, 1u);
  for (const auto& [key, value] : ReadCf(*vault_, Cf::kMeta)) {
    ASSERT_FALSE(absl::StartsWith(key, "test-named/")) << key;
  }
  absl::StatusOr<LeadRowsReport> check = CheckLeadRows(vault_->database());
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_TRUE(check->result.ok()) << check->result;
}

TEST_F(LegalHoldTest, ADeletionRequestOutOfScopeIsNotFoundEvenUnderAHold) {
  const std::string id = Create(6);
  const std::string never(16, '\x42');
  // Another service line's intake, a capture principal (even the creator)
  // and an id never issued get the same answer, and nothing is written.
  const auto before = DumpState(*vault_);
  const size_t entries = ReadAudit(*vault_).size();
  for (const Actor& actor : {OtherIntake(), CaptureActor()}) {
    for (const std::string& target : {id, never}) {
      absl::Status s = vault_->leads().DeleteLead(actor, target, kDeleteReason).status();
      EXPECT_TRUE(absl::IsNotFound(s)) << s;
      EXPECT_EQ(s.message(), "lead not found");
    }
  }
  EXPECT_EQ(DumpState(*vault_), before);
  Place(id);
  const size_t with_hold = ReadAudit(*vault_).size();
  absl::Status s = vault_->leads().DeleteLead(OtherIntake(), id, kDeleteReason).status();
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_EQ(ReadAudit(*vault_).size(), with_hold);
  EXPECT_EQ(with_hold, entries + 1);  // the hold's own entry

  // A reason is required.
  for (const char* reason : {"", "too short", "\x01\x02 control bytes are not text"}) {
    EXPECT_TRUE(
        absl::IsInvalidArgument(vault_->leads().DeleteLead(Compliance(), id, reason).status()))
        << reason;
  }
  EXPECT_TRUE(Exists(id));
}

}  // namespace
}  // namespace leadvault::vault::testing
