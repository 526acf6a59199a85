// Stored retention policies: a change is validated, versioned, persisted and
// audited; the leads it affects are re-stamped in the background in bounded,
// audited batches that resume after a restart; a sweep never runs ahead of the
// policy in force; and leads stored before the expiry index get their row.
#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/vault/vault_fixture.h"
#include "vault/internal/records.pb.h"
#include "vault/lead_rows_check.h"
#include "vault/retention_policy_store.h"
#include "vault/retention_recompute.h"

namespace leadvault::vault::testing {
namespace {

constexpr absl::Duration kDay = absl::Hours(24);

Actor AdminActor() { return MakeActor("00000000000000ad", "admin"); }
Actor RetentionActor() { return MakeActor("00000000000000e1", "retention"); }

RetentionRule Rule(std::string name, absl::Duration period, RetentionAnchor from) {
  RetentionRule rule;
  rule.name = std::move(name);
  rule.period = period;
  rule.from = from;
  return rule;
}

RetentionPolicy DefaultOnly(absl::Duration period, RetentionAnchor from) {
  RetentionPolicy policy;
  policy.default_rule = Rule("default", period, from);
  return policy;
}

// Lost ortho leads go 30 days after their last activity, paid-social leads
// 90 days after creation, the rest after a year of inactivity.
RetentionPolicy TwoRules() {
  RetentionPolicy policy = DefaultRetentionPolicy();
  RetentionRule lost = Rule("ortho-lost", 30 * kDay, RetentionAnchor::kLastActivity);
  lost.service_line = "ortho";
  lost.status = LeadStatus::kClosedLost;
  RetentionRule social = Rule("paid-social", 90 * kDay, RetentionAnchor::kCreated);
  social.source = SourceChannel::kPaidSocial;
  policy.rules = {lost, social};
  return policy;
}

void ExpectSamePolicy(const RetentionPolicy& a, const RetentionPolicy& b) {
  auto same = [](const RetentionRule& x, const RetentionRule& y) {
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.service_line, y.service_line);
    EXPECT_EQ(x.source, y.source);
    EXPECT_EQ(x.status, y.status);
    EXPECT_EQ(x.period, y.period);
    EXPECT_EQ(x.from, y.from);
  };
  ASSERT_EQ(a.rules.size(), b.rules.size());
  for (size_t i = 0; i < a.rules.size(); ++i) same(a.rules[i], b.rules[i]);
  same(a.default_rule, b.default_rule);
}

class RetentionPolicyTest : public VaultFixture {
 protected:
  void SetUp() override {
    OpenOrDie();
    ASSERT_TRUE(recompute().WaitIdle().ok());
  }

  RetentionPolicyStore& policies() { return vault_->retention_policy(); }
  RetentionRecompute& recompute() { return vault_->retention_recompute(); }

  std::string Create(int n, const std::string& service_line,
                     SourceChannel source = SourceChannel::kWebForm) {
    LeadInput in = EmailOnlyInput(n);
    absl::StatusOr<CreateResult> r = vault_->leads().CreateLead(
        CaptureActor(), MakeNewLead(in, service_line, absl::StrCat("k-", n), source));
    EXPECT_TRUE(r.ok()) << r.status();
    EXPECT_FALSE(r.ok() && r->duplicate);
    return r.ok() ? r->lead_id : "";
  }

  void SetStatus(const std::string& id, LeadStatus status) {
    LeadUpdate u;
    u.lead_id = id;
    u.expected_version = Record(id).version();
    u.status = status;
    absl::StatusOr<LeadMetadata> updated = vault_->leads().UpdateLead(IntakeActor(), u);
    ASSERT_TRUE(updated.ok()) << updated.status();
  }

  StoredRetentionPolicy Set(RetentionPolicy policy) {
    absl::StatusOr<StoredRetentionPolicy> set = policies().Set(AdminActor(), std::move(policy));
    EXPECT_TRUE(set.ok()) << set.status();
    return set.ok() ? *set : StoredRetentionPolicy{};
  }

  internal::LeadRecord Record(const std::string& id) {
    absl::StatusOr<std::string> row = vault_->database().Get(Cf::kLeads, id);
    EXPECT_TRUE(row.ok()) << row.status();
    absl::StatusOr<internal::LeadRecord> r = vault_->leads().rows().Parse(id, row.ok() ? *row : "");
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : internal::LeadRecord{};
  }

  absl::Time ExpiresAt(const std::string& id) {
    return absl::FromUnixMicros(Record(id).expires_at_unix_micros());
  }

  std::set<std::string> ExpiryRows() {
    std::set<std::string> keys;
    for (const auto& [key, value] : ReadCf(*vault_, Cf::kExpiry)) keys.insert(key);
    return keys;
  }

  // The expiry rows every lead's record names.
  std::set<std::string> ExpiryRowsOfRecords() {
    std::set<std::string> keys;
    for (const auto& [id, row] : ReadCf(*vault_, Cf::kLeads)) {
      const internal::LeadRecord record = Record(id);
      if (record.expires_at_unix_micros() != 0) {
        keys.insert(internal::ExpiryKey(record.expires_at_unix_micros(), id));
      }
    }
    return keys;
  }

  void ExpectRowsConsistent() {
    EXPECT_EQ(ExpiryRows(), ExpiryRowsOfRecords());
    absl::StatusOr<LeadRowsReport> check = CheckLeadRows(vault_->database());
    ASSERT_TRUE(check.ok()) << check.status();
    EXPECT_TRUE(check->result.ok()) << check->result;
  }

  std::vector<audit::AuditEntry> EntriesFor(const std::string& action) {
    std::vector<audit::AuditEntry> out;
    for (auto& [seq, e] : ReadAudit(*vault_)) {
      if (e.action == action) out.push_back(e);
    }
    return out;
  }

  std::optional<internal::RetentionRecomputeRecord> Cursor() {
    absl::StatusOr<std::string> row =
        vault_->database().Get(Cf::kMeta, internal::kMetaRetentionRecompute);
    if (!row.ok()) return std::nullopt;
    internal::RetentionRecomputeRecord r;
    EXPECT_TRUE(r.ParseFromString(*row));
    return r;
  }

  SweepReport Sweep() {
    absl::StatusOr<SweepReport> r = vault_->retention().Sweep(RetentionActor(), SweepOptions{});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : SweepReport{};
  }

  bool Found(const std::string& id) { return vault_->database().Get(Cf::kLeads, id).ok(); }
};

TEST_F(RetentionPolicyTest, UnsetIsTheBuiltInPolicyAtVersionZero) {
  const StoredRetentionPolicy stored = policies().Get();
  EXPECT_EQ(stored.version, 0u);
  EXPECT_EQ(stored.set_at, absl::InfinitePast());
  EXPECT_TRUE(stored.set_by.empty());
  ExpectSamePolicy(stored.policy, DefaultRetentionPolicy());
  // Nothing of it is stored, and a vault that needs no backfill wrote nothing.
  EXPECT_FALSE(vault_->database().Get(Cf::kMeta, internal::kMetaRetentionPolicy).ok());
  EXPECT_FALSE(Cursor().has_value());
  EXPECT_TRUE(EntriesFor("RetentionRecompute").empty());
}

TEST_F(RetentionPolicyTest, APolicyPersistsAcrossReopenAndEachSetIsTheNextVersion) {
  const absl::Time set_at = clock_.Now();
  const StoredRetentionPolicy first = Set(TwoRules());
  EXPECT_EQ(first.version, 1u);
  EXPECT_EQ(first.set_at, set_at);
  EXPECT_EQ(first.set_by, "00000000000000ad");
  ASSERT_TRUE(recompute().WaitIdle().ok());

  Reopen();
  const StoredRetentionPolicy reopened = policies().Get();
  EXPECT_EQ(reopened.version, 1u);
  EXPECT_EQ(reopened.set_at, set_at);
  EXPECT_EQ(reopened.set_by, "00000000000000ad");
  ExpectSamePolicy(reopened.policy, TwoRules());

  clock_.Advance(kDay);
  const StoredRetentionPolicy second = Set(DefaultOnly(30 * kDay, RetentionAnchor::kCreated));
  EXPECT_EQ(second.version, 2u);
  Reopen();
  ASSERT_TRUE(recompute().WaitIdle().ok());
  EXPECT_EQ(policies().Get().version, 2u);
  ExpectSamePolicy(policies().Get().policy, DefaultOnly(30 * kDay, RetentionAnchor::kCreated));

  // The audited read names the version only.
  const size_t entries = ReadAudit(*vault_).size();
  absl::StatusOr<StoredRetentionPolicy> read = policies().Get(AdminActor());
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->version, 2u);
  std::vector<audit::AuditEntry> gets = EntriesFor("GetRetentionPolicy");
  ASSERT_EQ(gets.size(), 1u);
  EXPECT_EQ(gets[0].fields, std::vector<std::string>{"version=2"});
  EXPECT_EQ(ReadAudit(*vault_).size(), entries + 1);
}

TEST_F(RetentionPolicyTest, ASetIsOneAuditEntryOfNamesAndNumbers) {
  const size_t entries = ReadAudit(*vault_).size();
  Set(TwoRules());
  std::vector<audit::AuditEntry> sets = EntriesFor("SetRetentionPolicy");
  ASSERT_EQ(sets.size(), 1u);
  EXPECT_EQ(sets[0].principal_id, "00000000000000ad");
  EXPECT_EQ(sets[0].role, "admin");
  EXPECT_EQ(sets[0].outcome, audit::Outcome::kAllowed);
  EXPECT_TRUE(sets[0].lead_ids.empty());
  EXPECT_EQ(sets[0].fields,
            (std::vector<std::string>{
                "version=1", "rules=2",
                "rule.ortho-lost=30d/last_activity;service_line=ortho;status=closed_lost",
                "rule.paid-social=90d/created;source=3", "default=365d/last_activity"}));
  // With no lead, the re-computation is one batch that says so.
  ASSERT_TRUE(recompute().WaitIdle().ok());
  std::vector<audit::AuditEntry> batches = EntriesFor("RetentionRecompute");
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].fields, (std::vector<std::string>{"policy_version=1", "leads=0", "changed=0",
                                                         "unreadable=0", "done=1"}));
  EXPECT_EQ(ReadAudit(*vault_).size(), entries + 2);
}

TEST_F(RetentionPolicyTest, AnInvalidPolicyIsRefusedAndWritesNothing) {
  Set(TwoRules());
  ASSERT_TRUE(recompute().WaitIdle().ok());
  const auto before = DumpAll(*vault_);
  const size_t entries = ReadAudit(*vault_).size();

  struct Case {
    const char* what;
    std::function<void(RetentionPolicy&)> change;
    const char* field;
  };
  const std::vector<Case> cases = {
      {"a duplicate name", [](RetentionPolicy& p) { p.rules[1].name = "ortho-lost"; },
       "retention.rules[1].name"},
      {"half a day", [](RetentionPolicy& p) { p.rules[0].period = absl::Hours(12); },
       "retention.rules[0].period"},
      {"a default with a condition",
       [](RetentionPolicy& p) { p.default_rule.service_line = "ortho"; }, "retention.default"},
      {"too many rules",
       [](RetentionPolicy& p) {
         p.rules.clear();
         for (size_t i = 0; i <= kMaxRetentionRules; ++i) {
           p.rules.push_back(Rule(absl::StrCat("r", i), 30 * kDay, RetentionAnchor::kCreated));
         }
       },
       "retention.rules"},
  };
  for (const Case& c : cases) {
    RetentionPolicy policy = DefaultOnly(30 * kDay, RetentionAnchor::kCreated);
    policy.rules = TwoRules().rules;
    c.change(policy);
    absl::StatusOr<StoredRetentionPolicy> set = policies().Set(AdminActor(), policy);
    EXPECT_TRUE(absl::IsInvalidArgument(set.status())) << c.what << ": " << set.status();
    EXPECT_TRUE(absl::StartsWith(set.status().message(), c.field))
        << c.what << ": " << set.status();
  }
  EXPECT_EQ(ReadAudit(*vault_).size(), entries);
  EXPECT_EQ(DumpAll(*vault_), before);
  EXPECT_EQ(policies().Get().version, 1u);
  ExpectSamePolicy(policies().Get().policy, TwoRules());
}

TEST_F(RetentionPolicyTest, AfterASetTheMatchedLeadsAreRestampedAndTheOthersKeepTheirExpiry) {
  struct Case {
    const char* what;
    std::string service_line;
    SourceChannel source;
    bool lost;              // closed_lost by intake a day after the creates
    std::string rule;       // under TwoRules()
    absl::Duration period;  // from the lost update, or else from the creation
  };
  const std::vector<Case> cases = {
      {"ortho web form, new", "ortho", SourceChannel::kWebForm, false, "default", 365 * kDay},
      {"ortho web form, lost", "ortho", SourceChannel::kWebForm, true, "ortho-lost", 30 * kDay},
      {"ortho paid social, new", "ortho", SourceChannel::kPaidSocial, false, "paid-social",
       90 * kDay},
      {"ortho paid social, lost: the first rule wins", "ortho", SourceChannel::kPaidSocial, true,
       "ortho-lost", 30 * kDay},
      {"cardio paid social", "cardio", SourceChannel::kPaidSocial, false, "paid-social", 90 * kDay},
      {"cardio web form", "cardio", SourceChannel::kWebForm, false, "default", 365 * kDay},
  };
  std::vector<std::string> ids;
  std::vector<absl::Time> created;
  std::vector<internal::LeadRecord> before;
  for (size_t i = 0; i < cases.size(); ++i) {
    created.push_back(clock_.Now());
    ids.push_back(Create(static_cast<int>(i), cases[i].service_line, cases[i].source));
    clock_.Advance(absl::Hours(1));
  }
  clock_.Advance(kDay);
  for (size_t i = 0; i < cases.size(); ++i) {
    if (cases[i].lost) SetStatus(ids[i], LeadStatus::kClosedLost);
  }
  for (const std::string& id : ids) before.push_back(Record(id));
  const std::set<std::string> rows_before = ExpiryRows();

  Set(TwoRules());
  ASSERT_TRUE(recompute().WaitIdle().ok());

  size_t changed = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].what);
    const internal::LeadRecord record = Record(ids[i]);
    EXPECT_EQ(record.retention_rule(), cases[i].rule);
    // A lost lead's last activity is the update that lost it.
    const absl::Time anchor =
        cases[i].lost ? absl::FromUnixMicros(before[i].updated_at_unix_micros()) : created[i];
    EXPECT_EQ(absl::FromUnixMicros(record.expires_at_unix_micros()), anchor + cases[i].period);
    // A re-stamp is not an update: version and updated_at stay.
    EXPECT_EQ(record.version(), before[i].version());
    EXPECT_EQ(record.updated_at_unix_micros(), before[i].updated_at_unix_micros());
    const std::string old_row = internal::ExpiryKey(before[i].expires_at_unix_micros(), ids[i]);
    const std::string new_row = internal::ExpiryKey(record.expires_at_unix_micros(), ids[i]);
    EXPECT_TRUE(ExpiryRows().contains(new_row));
    if (cases[i].rule == "default") {
      EXPECT_EQ(record.expires_at_unix_micros(), before[i].expires_at_unix_micros());
      EXPECT_TRUE(rows_before.contains(new_row));
    } else {
      ++changed;
      EXPECT_FALSE(ExpiryRows().contains(old_row));
    }
  }
  ExpectRowsConsistent();

  // One batch (256 leads at most), by the vault itself, counts only.
  std::vector<audit::AuditEntry> batches = EntriesFor("RetentionRecompute");
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].principal_id, "system");
  EXPECT_EQ(batches[0].role, "system");
  EXPECT_TRUE(batches[0].lead_ids.empty());
  EXPECT_EQ(batches[0].fields, (std::vector<std::string>{
                                   "policy_version=1", absl::StrCat("leads=", cases.size()),
                                   absl::StrCat("changed=", changed), "unreadable=0", "done=1"}));
  const std::optional<internal::RetentionRecomputeRecord> cursor = Cursor();
  ASSERT_TRUE(cursor.has_value());
  EXPECT_EQ(cursor->policy_version(), 1u);
  EXPECT_TRUE(cursor->done());
}

TEST_F(RetentionPolicyTest, ALongerPolicyProtectsADueLeadFromASweepBeforeItIsRestamped) {
  const absl::Time created = clock_.Now();
  const std::string id = Create(1, "ortho");
  const std::string control = Create(2, "cardio");
  clock_.Advance(366 * kDay);  // both due under the built-in policy

  recompute().SetPausedForTesting(true);
  RetentionPolicy longer = DefaultRetentionPolicy();
  RetentionRule keep = Rule("ortho-keep", 730 * kDay, RetentionAnchor::kCreated);
  keep.service_line = "ortho";
  longer.rules = {keep};
  Set(longer);
  // Not re-stamped yet: the record and its row still say due.
  EXPECT_EQ(ExpiresAt(id), created + 365 * kDay);

  SweepReport report = Sweep();
  EXPECT_EQ(report.purged, 1u);
  EXPECT_EQ(report.renewed, 1u);
  EXPECT_TRUE(Found(id));
  EXPECT_FALSE(Found(control));
  EXPECT_EQ(report.per_rule, (std::map<std::string, uint64_t>{{"default", 1}}));

  recompute().SetPausedForTesting(false);
  ASSERT_TRUE(recompute().WaitIdle().ok());
  EXPECT_EQ(ExpiresAt(id), created + 730 * kDay);
  EXPECT_EQ(Record(id).retention_rule(), "ortho-keep");
  ExpectRowsConsistent();
}

TEST_F(RetentionPolicyTest, AShorterPolicyMakesLeadsDueAndTheirPurgesNameTheNewRule) {
  const std::string a = Create(1, "ortho");
  const std::string b = Create(2, "ortho", SourceChannel::kPaidSearch);
  const std::string kept = Create(3, "cardio");
  clock_.Advance(40 * kDay);
  EXPECT_EQ(Sweep().purged, 0u);

  RetentionPolicy shorter = DefaultRetentionPolicy();
  RetentionRule ortho = Rule("ortho-short", 30 * kDay, RetentionAnchor::kCreated);
  ortho.service_line = "ortho";
  shorter.rules = {ortho};
  Set(shorter);
  ASSERT_TRUE(recompute().WaitIdle().ok());

  SweepReport report = Sweep();
  EXPECT_EQ(report.purged, 2u);
  EXPECT_EQ(report.per_rule, (std::map<std::string, uint64_t>{{"ortho-short", 2}}));
  EXPECT_FALSE(Found(a));
  EXPECT_FALSE(Found(b));
  EXPECT_TRUE(Found(kept));
  std::vector<audit::AuditEntry> purges = EntriesFor("RetentionPurge");
  ASSERT_EQ(purges.size(), 2u);
  for (const audit::AuditEntry& e : purges) {
    EXPECT_EQ(e.fields, std::vector<std::string>{"retention_rule=ortho-short"});
  }
  ExpectRowsConsistent();
}

TEST_F(RetentionPolicyTest, CreatesAndUpdatesDuringARecomputeAreStampedWithTheNewPolicy) {
  const std::string old_lead = Create(1, "ortho");
  const absl::Time old_created = clock_.Now();
  const std::string updated = Create(2, "ortho");
  recompute().SetPausedForTesting(true);
  Set(DefaultOnly(100 * kDay, RetentionAnchor::kCreated));

  clock_.Advance(kDay);
  const absl::Time created = clock_.Now();
  const std::string fresh = Create(3, "ortho");
  EXPECT_EQ(ExpiresAt(fresh), created + 100 * kDay);
  SetStatus(updated, LeadStatus::kContacted);
  EXPECT_EQ(ExpiresAt(updated), old_created + 100 * kDay);
  // The pass has not reached the untouched lead yet.
  EXPECT_EQ(ExpiresAt(old_lead), old_created + 365 * kDay);

  recompute().SetPausedForTesting(false);
  ASSERT_TRUE(recompute().WaitIdle().ok());
  EXPECT_EQ(ExpiresAt(old_lead), old_created + 100 * kDay);
  std::vector<audit::AuditEntry> batches = EntriesFor("RetentionRecompute");
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].fields, (std::vector<std::string>{"policy_version=1", "leads=3", "changed=1",
                                                         "unreadable=0", "done=1"}));
  ExpectRowsConsistent();
}

TEST_F(RetentionPolicyTest, AnUnfinishedRecomputeResumesFromItsCursorAfterReopen) {
  retention_recompute_options_.batch_size = 2;
  Reopen();
  std::vector<std::string> ids;
  for (int n = 0; n < 5; ++n) ids.push_back(Create(n, "ortho"));
  std::vector<std::string> in_order = ids;
  std::sort(in_order.begin(), in_order.end());

  recompute().SetPausedForTesting(true);
  Set(DefaultOnly(100 * kDay, RetentionAnchor::kCreated));
  ASSERT_TRUE(recompute().StepForTesting().ok());
  std::optional<internal::RetentionRecomputeRecord> cursor = Cursor();
  ASSERT_TRUE(cursor.has_value());
  EXPECT_EQ(cursor->policy_version(), 1u);
  EXPECT_EQ(cursor->after_lead_id(), in_order[1]);
  EXPECT_FALSE(cursor->done());
  // The first two in id order are re-stamped, the rest not yet.
  const absl::Time start = absl::FromUnixSeconds(kStartSeconds);
  for (size_t i = 0; i < in_order.size(); ++i) {
    EXPECT_EQ(ExpiresAt(in_order[i]), start + (i < 2 ? 100 : 365) * kDay) << i;
  }

  // A stop between batches, and a new start: the pass goes on after the cursor.
  const size_t entries = ReadAudit(*vault_).size();
  Reopen();
  ASSERT_TRUE(recompute().WaitIdle().ok());
  std::vector<std::string> fields;
  for (const auto& [seq, e] : ReadAudit(*vault_)) {
    if (seq > entries && e.action == "RetentionRecompute") {
      fields.insert(fields.end(), e.fields.begin(), e.fields.end());
    }
  }
  EXPECT_EQ(fields, (std::vector<std::string>{"policy_version=1", "leads=2", "changed=2",
                                              "unreadable=0", "done=0", "policy_version=1",
                                              "leads=1", "changed=1", "unreadable=0", "done=1"}));
  for (const std::string& id : ids) {
    EXPECT_EQ(ExpiresAt(id), absl::FromUnixSeconds(kStartSeconds) + 100 * kDay);
  }
  ASSERT_TRUE(Cursor().has_value());
  EXPECT_TRUE(Cursor()->done());
  ExpectRowsConsistent();

  // Done: the next start writes nothing.
  const size_t settled = ReadAudit(*vault_).size();
  Reopen();
  ASSERT_TRUE(recompute().WaitIdle().ok());
  EXPECT_EQ(ReadAudit(*vault_).size(), settled);
}

TEST_F(RetentionPolicyTest, ANewPolicyRestartsARunningRecomputeFromTheFirstLead) {
  retention_recompute_options_.batch_size = 2;
  Reopen();
  for (int n = 0; n < 5; ++n) Create(n, "ortho");
  std::vector<std::string> in_order;
  for (const auto& [id, row] : ReadCf(*vault_, Cf::kLeads)) in_order.push_back(id);

  recompute().SetPausedForTesting(true);
  Set(DefaultOnly(100 * kDay, RetentionAnchor::kCreated));
  ASSERT_TRUE(recompute().StepForTesting().ok());
  ASSERT_TRUE(recompute().StepForTesting().ok());
  EXPECT_EQ(Cursor()->after_lead_id(), in_order[3]);

  Set(DefaultOnly(200 * kDay, RetentionAnchor::kCreated));
  ASSERT_TRUE(recompute().StepForTesting().ok());
  EXPECT_EQ(Cursor()->policy_version(), 2u);
  EXPECT_EQ(Cursor()->after_lead_id(), in_order[1]);
  recompute().SetPausedForTesting(false);
  ASSERT_TRUE(recompute().WaitIdle().ok());
  uint64_t leads_under_2 = 0;
  for (const audit::AuditEntry& e : EntriesFor("RetentionRecompute")) {
    if (e.fields[0] == "policy_version=2") {
      uint64_t n = 0;
      ASSERT_TRUE(absl::SimpleAtoi(absl::string_view(e.fields[1]).substr(6), &n)) << e.fields[1];
      leads_under_2 += n;
    }
  }
  EXPECT_EQ(leads_under_2, 5u);
  for (const std::string& id : in_order) {
    EXPECT_EQ(ExpiresAt(id), absl::FromUnixSeconds(kStartSeconds) + 200 * kDay);
  }
  ExpectRowsConsistent();
}

TEST_F(RetentionPolicyTest, LeadsStoredBeforeTheExpiryIndexGetTheirRowAtTheNextStart) {
  const absl::Time created = clock_.Now();
  std::vector<std::string> ids;
  for (int n = 0; n < 3; ++n) ids.push_back(Create(n, "ortho"));
  // As a data dir from before the expiry index: two records without an
  // expiry (not in the record's MAC), no expiry rows, no cursor.
  rocksdb::DB* db = vault_->database().db();
  for (int n : {0, 2}) {
    internal::LeadRecord record = Record(ids[n]);
    const std::string row = internal::ExpiryKey(record.expires_at_unix_micros(), ids[n]);
    record.clear_expires_at_unix_micros();
    record.clear_retention_rule();
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), vault_->database().cf(Cf::kLeads), ids[n],
                        record.SerializeAsString())
                    .ok());
    ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), vault_->database().cf(Cf::kExpiry), row).ok());
  }
  ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), vault_->database().cf(Cf::kMeta),
                         internal::kMetaRetentionRecompute)
                  .ok());
  ASSERT_EQ(ExpiryRows().size(), 1u);

  Reopen();
  ASSERT_TRUE(recompute().WaitIdle().ok());
  for (const std::string& id : ids) {
    EXPECT_EQ(ExpiresAt(id), created + 365 * kDay);
    EXPECT_EQ(Record(id).retention_rule(), "default");
  }
  EXPECT_EQ(ExpiryRows().size(), 3u);
  ExpectRowsConsistent();
  std::vector<audit::AuditEntry> batches = EntriesFor("RetentionRecompute");
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].principal_id, "system");
  EXPECT_EQ(batches[0].fields, (std::vector<std::string>{"policy_version=0", "leads=3", "changed=2",
                                                         "unreadable=0", "done=1"}));
  ASSERT_TRUE(Cursor().has_value());
  EXPECT_TRUE(Cursor()->done());

  // Backfilled: the next start looks no more and writes nothing.
  const size_t entries = ReadAudit(*vault_).size();
  Reopen();
  ASSERT_TRUE(recompute().WaitIdle().ok());
  EXPECT_EQ(ReadAudit(*vault_).size(), entries);
}

}  // namespace
}  // namespace leadvault::vault::testing
