// The vault's audit log: Merkle leaves written with every commit, signed
// checkpoints, proofs from stored nodes, exports that verify offline, and the
// accounting of disclosures.
#include "vault/audit_log.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "audit/checkpoint.h"
#include "audit/export_format.h"
#include "audit/merkle.h"
#include "audit/verifier.h"
#include "gtest/gtest.h"
#include "tests/vault/vault_fixture.h"
#include "vault/disclosure_index.h"

namespace leadvault::vault::testing {
namespace {

using audit::Hash;

// RFC 6962 MTH, written out recursively (independent of MerkleFrontier).
Hash NaiveRoot(const std::vector<Hash>& leaves, size_t begin, size_t end) {
  if (end == begin) return audit::EmptyTreeHash();
  if (end - begin == 1) return leaves[begin];
  size_t k = 1;
  while (k * 2 < end - begin) k *= 2;
  return audit::NodeHash(NaiveRoot(leaves, begin, begin + k), NaiveRoot(leaves, begin + k, end));
}

// Leaf hashes of every stored entry, in sequence order.
std::vector<Hash> StoredLeaves(Vault& vault) {
  std::vector<Hash> leaves;
  for (auto& [key, value] : ReadCf(vault, Cf::kAudit)) leaves.push_back(audit::LeafHash(value));
  return leaves;
}

class AuditLogTest : public VaultFixture {
 protected:
  void SetUp() override { OpenOrDie(); }

  audit::NoteVerifier Verifier() {
    auto v = audit::NoteVerifier::Parse(vault_->audit_log().VerifierKey());
    EXPECT_TRUE(v.ok()) << v.status();
    return *v;
  }

  // Commits `n` entries with empty batches.
  void CommitEntries(int n) {
    for (int i = 0; i < n; ++i) {
      audit::AuditEntry e = EntryFor(CaptureActor(), "Probe");
      ASSERT_TRUE(vault_->committer().Commit(rocksdb::WriteBatch(), e).ok());
    }
  }

  // Sizes of every stored signed checkpoint, ascending.
  std::vector<uint64_t> CheckpointSizes() {
    std::vector<uint64_t> sizes;
    for (auto& [key, value] : ReadCf(*vault_, Cf::kMeta)) {
      if (key.rfind(internal::kMetaCheckpointPrefix, 0) != 0) continue;
      sizes.push_back(internal::GetBigEndian64(
          absl::string_view(key).substr(std::string(internal::kMetaCheckpointPrefix).size())));
    }
    return sizes;
  }

  std::string CreateLead(int n) {
    auto r = vault_->leads().CreateLead(
        CaptureActor(), MakeNewLead(EmailOnlyInput(n), "ortho", absl::StrCat("k", n)));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->lead_id : "";
  }

  // Writes the export of `query` as JSON Lines to a file and returns its path.
  std::string ExportToFile(const AuditQuery& query) {
    auto plan = vault_->audit().BeginExport(MakeActor("00000000000000e1", "compliance"), query);
    EXPECT_TRUE(plan.ok()) << plan.status();
    std::string out;
    audit::AppendJsonlHeader(plan->header, out);
    absl::StatusOr<std::string> manifest = vault_->audit().StreamExport(
        *plan,
        [&](const StoredEntry& e, const std::vector<Hash>* proof) {
          audit::AppendJsonlEntry(e.entry, e.canonical, proof, out);
          return true;
        },
        [] { return false; });
    EXPECT_TRUE(manifest.ok()) << manifest.status();
    audit::ExportTrailer trailer = plan->trailer;
    if (manifest.ok()) trailer.manifest_note = *manifest;
    audit::AppendJsonlTrailer(trailer, out);
    std::string path = absl::StrCat(dir_.path(), "/export-", ++exports_, ".jsonl");
    std::ofstream(path, std::ios::binary) << out;
    return path;
  }

  int exports_ = 0;
};

TEST_F(AuditLogTest, EveryEntryIsALeafAndOnlyCompleteNodesAreStored) {
  for (int i = 0; i < 5; ++i) CreateLead(i);
  CommitEntries(6);
  std::vector<Hash> leaves = StoredLeaves(*vault_);
  const uint64_t n = leaves.size();
  ASSERT_EQ(vault_->audit_log().size(), n);
  // A tree of n leaves has 2n - popcount(n) complete nodes; the n leaves are
  // their entries' hashes and are not stored again.
  EXPECT_EQ(CountKeys(*vault_, Cf::kMerkle), n - __builtin_popcountll(n));
  auto checkpoint = vault_->audit().GetCheckpoint(MakeActor("00000000000000e1", "compliance"));
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  leaves = StoredLeaves(*vault_);  // GetCheckpoint committed its own entry
  EXPECT_EQ(checkpoint->checkpoint.size, leaves.size());
  EXPECT_EQ(checkpoint->checkpoint.root, NaiveRoot(leaves, 0, leaves.size()));
  auto opened = audit::OpenCheckpoint(checkpoint->note, Verifier());
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->root, checkpoint->checkpoint.root);
  EXPECT_EQ(opened->origin, vault_->audit_log().origin());
}

TEST_F(AuditLogTest, InclusionAndConsistencyProofsVerifyAgainstTheSignedRoot) {
  for (int i = 0; i < 9; ++i) CreateLead(i);
  Actor officer = MakeActor("00000000000000e1", "compliance");
  auto first = vault_->audit().GetCheckpoint(officer);
  ASSERT_TRUE(first.ok());
  CommitEntries(7);
  const uint64_t size = vault_->audit_log().size();
  for (uint64_t seq = 1; seq <= size; ++seq) {
    auto r = vault_->audit().GetInclusionProof(officer, seq, size);
    ASSERT_TRUE(r.ok()) << r.status();
    auto root = NaiveRoot(StoredLeaves(*vault_), 0, size);
    EXPECT_TRUE(
        audit::VerifyInclusion(seq - 1, size, audit::LeafHash(r->entry.canonical), r->proof, root)
            .ok())
        << seq;
    EXPECT_EQ(r->entry.entry.sequence, seq);
  }
  auto fresh = vault_->audit().GetInclusionProof(officer, 3, 0);
  ASSERT_TRUE(fresh.ok());
  ASSERT_TRUE(fresh->checkpoint.has_value());
  EXPECT_TRUE(audit::VerifyInclusion(2, fresh->tree_size, audit::LeafHash(fresh->entry.canonical),
                                     fresh->proof, fresh->checkpoint->checkpoint.root)
                  .ok());
  auto consistency = vault_->audit().GetConsistencyProof(officer, first->checkpoint.size, 0);
  ASSERT_TRUE(consistency.ok()) << consistency.status();
  EXPECT_TRUE(audit::VerifyConsistency(first->checkpoint.size, consistency->to_size,
                                       first->checkpoint.root,
                                       consistency->checkpoint->checkpoint.root, consistency->proof)
                  .ok());
  // Out of range: a clear error, nothing returned.
  EXPECT_TRUE(absl::IsInvalidArgument(vault_->audit().GetInclusionProof(officer, 0, 0).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(vault_->audit().GetInclusionProof(officer, size + 100, 0).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(vault_->audit().GetConsistencyProof(officer, 5, 1u << 30).status()));
}

TEST_F(AuditLogTest, CheckpointEveryNEntries) {
  vault_.reset();
  committer_options_.audit.checkpoint_every_entries = 5;
  committer_options_.audit.checkpoint_interval = absl::Hours(1);
  OpenOrDie();
  const uint64_t start = vault_->audit_log().size();
  CommitEntries(12);
  std::vector<uint64_t> sizes;
  for (uint64_t size : CheckpointSizes()) {
    if (size > start) sizes.push_back(size);
  }
  // The first group after a start is signed (no checkpoint time is known),
  // then one checkpoint per 5 entries.
  EXPECT_EQ(sizes, (std::vector<uint64_t>{start + 1, start + 6, start + 11}));
}

TEST_F(AuditLogTest, CheckpointOnceTheIntervalPassed) {
  vault_.reset();
  committer_options_.audit.checkpoint_every_entries = 1000000;
  committer_options_.audit.checkpoint_interval = absl::Seconds(10);
  OpenOrDie();
  CommitEntries(1);
  const size_t count = CheckpointSizes().size();
  CommitEntries(3);
  EXPECT_EQ(CheckpointSizes().size(), count);  // the interval has not passed
  clock_.Advance(absl::Seconds(11));
  CommitEntries(1);
  ASSERT_EQ(CheckpointSizes().size(), count + 1);
  EXPECT_EQ(CheckpointSizes().back(), vault_->audit_log().size());
}

TEST_F(AuditLogTest, CleanStopSignsEveryEntryAndReopenRestoresTheTree) {
  vault_.reset();
  committer_options_.audit.checkpoint_every_entries = 1000000;
  committer_options_.audit.checkpoint_interval = absl::Hours(1);
  OpenOrDie();
  CreateLead(1);
  CommitEntries(4);
  const uint64_t size = vault_->audit_log().size();
  Reopen();
  ASSERT_TRUE(vault_->audit_log().LatestCheckpoint().has_value());
  auto latest = *vault_->audit_log().LatestCheckpoint();
  EXPECT_EQ(latest.checkpoint.size, size);
  EXPECT_EQ(vault_->audit_log().size(), size);
  EXPECT_EQ(latest.checkpoint.root, NaiveRoot(StoredLeaves(*vault_), 0, size));
  // The tree continues where it was: the next checkpoint is consistent with it.
  CommitEntries(3);
  auto proof =
      vault_->audit().GetConsistencyProof(MakeActor("00000000000000e1", "compliance"), size, 0);
  ASSERT_TRUE(proof.ok()) << proof.status();
  EXPECT_TRUE(audit::VerifyConsistency(size, proof->to_size, latest.checkpoint.root,
                                       proof->checkpoint->checkpoint.root, proof->proof)
                  .ok());
  // The signing key and origin survive the restart.
  EXPECT_TRUE(audit::OpenCheckpoint(proof->checkpoint->note, Verifier()).ok());
}

TEST_F(AuditLogTest, FailedWriteLeavesTheTreeAsItWas) {
  CommitEntries(3);
  const uint64_t size = vault_->audit_log().size();
  const auto merkle_before = ReadCf(*vault_, Cf::kMerkle);
  vault_->committer().SetFailWritesForTesting(true);
  audit::AuditEntry e = EntryFor(CaptureActor(), "Probe");
  EXPECT_TRUE(absl::IsUnavailable(vault_->committer().Commit(rocksdb::WriteBatch(), e).status()));
  vault_->committer().SetFailWritesForTesting(false);
  EXPECT_EQ(vault_->audit_log().size(), size);
  EXPECT_EQ(ReadCf(*vault_, Cf::kMerkle), merkle_before);
  CommitEntries(2);
  auto checkpoint = vault_->audit().GetCheckpoint(MakeActor("00000000000000e1", "compliance"));
  ASSERT_TRUE(checkpoint.ok());
  std::vector<Hash> leaves = StoredLeaves(*vault_);
  EXPECT_EQ(checkpoint->checkpoint.root, NaiveRoot(leaves, 0, leaves.size()));
}

TEST_F(AuditLogTest, AVaultFromBeforeTheMerkleLogIsUpgradedOnOpen) {
  for (int i = 0; i < 7; ++i) CreateLead(i);
  vault_.reset();
  {
    // What a data dir written before this log existed looks like: entries,
    // but no tree, no signing key, no checkpoint.
    auto db = Database::Open(DataDir(), DatabaseOptions{});
    ASSERT_TRUE(db.ok()) << db.status();
    rocksdb::WriteBatch batch;
    std::unique_ptr<rocksdb::Iterator> it(
        (*db)->db()->NewIterator(rocksdb::ReadOptions(), (*db)->cf(Cf::kMerkle)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ASSERT_TRUE(batch.Delete((*db)->cf(Cf::kMerkle), it->key()).ok());
    }
    std::unique_ptr<rocksdb::Iterator> meta(
        (*db)->db()->NewIterator(rocksdb::ReadOptions(), (*db)->cf(Cf::kMeta)));
    for (meta->SeekToFirst(); meta->Valid(); meta->Next()) {
      std::string key = meta->key().ToString();
      if (key.rfind("audit/", 0) == 0 || key == internal::kMetaAuditSigningKey) {
        ASSERT_TRUE(batch.Delete((*db)->cf(Cf::kMeta), key).ok());
      }
    }
    ASSERT_TRUE((*db)->db()->Write(rocksdb::WriteOptions(), &batch).ok());
  }
  // Nor had it a high-water mark.
  ASSERT_EQ(::unlink((DataDir() + "/HIGH_WATER").c_str()), 0);
  OpenOrDie();
  auto audit = ReadAudit(*vault_);
  EXPECT_EQ(audit.back().second.action, "InitializeAuditSigning");
  std::vector<Hash> leaves = StoredLeaves(*vault_);
  auto checkpoint = vault_->audit().GetCheckpoint(MakeActor("00000000000000e1", "compliance"));
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  leaves = StoredLeaves(*vault_);
  EXPECT_EQ(checkpoint->checkpoint.root, NaiveRoot(leaves, 0, leaves.size()));
  EXPECT_TRUE(audit::OpenCheckpoint(checkpoint->note, Verifier()).ok());
}

TEST_F(AuditLogTest, AStoredCheckpointLargerThanTheLogIsRefused) {
  CommitEntries(5);
  vault_.reset();  // a clean stop signs every entry
  {
    auto db = Database::Open(DataDir(), DatabaseOptions{});
    ASSERT_TRUE(db.ok()) << db.status();
    // The last entry lost (its Merkle nodes too): the signed tree is now longer.
    std::unique_ptr<rocksdb::Iterator> it(
        (*db)->db()->NewIterator(rocksdb::ReadOptions(), (*db)->cf(Cf::kAudit)));
    it->SeekToLast();
    ASSERT_TRUE(it->Valid());
    ASSERT_TRUE(
        (*db)->db()->Delete(rocksdb::WriteOptions(), (*db)->cf(Cf::kAudit), it->key()).ok());
  }
  auto reopened = OpenVault(TestKek(1));
  ASSERT_FALSE(reopened.ok());
  EXPECT_TRUE(absl::IsDataLoss(reopened.status())) << reopened.status();
}

TEST_F(AuditLogTest, EntryTimesNeverGoBackwards) {
  CommitEntries(1);
  const absl::Time before = ReadAudit(*vault_).back().second.time;
  clock_.Set(before - absl::Hours(3));  // the wall clock steps back
  CommitEntries(1);
  EXPECT_EQ(ReadAudit(*vault_).back().second.time, before);
  clock_.Set(before + absl::Seconds(1));
  CommitEntries(1);
  EXPECT_EQ(ReadAudit(*vault_).back().second.time, before + absl::Seconds(1));
}

TEST_F(AuditLogTest, ExportsOfTheWholeLogARangeAndAFilterVerifyOffline) {
  for (int i = 0; i < 20; ++i) {
    clock_.Advance(absl::Minutes(1));
    CreateLead(i);
  }
  audit::NoteVerifier verifier = Verifier();
  audit::VerifyOptions options;
  options.verifier = &verifier;

  auto whole = audit::VerifyExportFile(ExportToFile(AuditQuery{}), options);
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ(whole->first_sequence, 1u);
  EXPECT_EQ(whole->last_sequence, whole->checkpoint.size);

  AuditQuery range;
  range.from_sequence = 5;
  range.to_sequence = 13;
  auto part = audit::VerifyExportFile(ExportToFile(range), options);
  ASSERT_TRUE(part.ok()) << part.status();
  EXPECT_EQ(part->entries, 9u);

  AuditQuery by_time;  // minutes 5..9 after the start: five creates
  by_time.since = absl::FromUnixSeconds(kStartSeconds) + absl::Minutes(5);
  by_time.until = absl::FromUnixSeconds(kStartSeconds) + absl::Minutes(10);
  auto timed = audit::VerifyExportFile(ExportToFile(by_time), options);
  ASSERT_TRUE(timed.ok()) << timed.status();
  EXPECT_EQ(timed->entries, 5u);

  AuditQuery filtered;
  filtered.action = "CreateLead";
  auto only = audit::VerifyExportFile(ExportToFile(filtered), options);
  ASSERT_TRUE(only.ok()) << only.status();
  EXPECT_TRUE(only->filtered);
  EXPECT_EQ(only->entries, 20u);
}

// A server hands an export out a message at a time: taken in steps of any
// size, an export holds the same entries, proofs and signed manifest as one pass.
TEST_F(AuditLogTest, AnExportTakenInStepsIsTheOnePassExport) {
  for (int i = 0; i < 20; ++i) CreateLead(i);
  using Taken = std::vector<std::pair<uint64_t, std::vector<Hash>>>;
  for (const char* action : {"", "CreateLead"}) {
    AuditQuery query;
    query.action = action;
    auto plan = vault_->audit().BeginExport(MakeActor("00000000000000e1", "compliance"), query);
    ASSERT_TRUE(plan.ok()) << plan.status();
    Taken one_pass;
    absl::StatusOr<std::string> manifest = vault_->audit().StreamExport(
        *plan,
        [&](const StoredEntry& e, const std::vector<Hash>* proof) {
          one_pass.emplace_back(e.entry.sequence, proof ? *proof : std::vector<Hash>());
          return true;
        },
        [] { return false; });
    ASSERT_TRUE(manifest.ok()) << manifest.status();
    EXPECT_EQ(manifest->empty(), query.action.empty()) << action;
    ASSERT_GE(one_pass.size(), 20u);

    for (size_t step : {1, 3, 7, 20, 1000}) {
      ExportCursor cursor = vault_->audit().OpenExport(*plan);
      Taken stepped;
      int steps = 0;
      while (!cursor.done()) {
        ASSERT_EQ(cursor.Manifest().status().code(), absl::StatusCode::kFailedPrecondition);
        size_t in_step = 0;
        ASSERT_TRUE(cursor
                        .Step(
                            [&](const StoredEntry& e, const std::vector<Hash>* proof) {
                              stepped.emplace_back(e.entry.sequence,
                                                   proof ? *proof : std::vector<Hash>());
                              return ++in_step < step;
                            },
                            [] { return false; })
                        .ok());
        ASSERT_LE(in_step, step);
        ASSERT_LT(++steps, 10000);
      }
      EXPECT_EQ(stepped, one_pass) << action << " in steps of " << step;
      // A step stops only when full (or at the end): no step is wasted.
      const size_t full_steps = one_pass.size() / step;
      EXPECT_GE(static_cast<size_t>(steps), full_steps) << action << " in steps of " << step;
      EXPECT_LE(static_cast<size_t>(steps), full_steps + 1) << action << " in steps of " << step;
      absl::StatusOr<std::string> stepped_manifest = cursor.Manifest();
      ASSERT_TRUE(stepped_manifest.ok()) << stepped_manifest.status();
      EXPECT_EQ(*stepped_manifest, *manifest) << action << " in steps of " << step;
    }
  }
}

TEST_F(AuditLogTest, AnExportStopsWhenCancelled) {
  // 10,000 entries, committed from 32 threads so they share group commits.
  std::vector<std::thread> writers;
  for (int t = 0; t < 32; ++t) {
    writers.emplace_back([this] {
      for (int i = 0; i < 313; ++i) {
        audit::AuditEntry e = EntryFor(CaptureActor(), "Probe");
        ASSERT_TRUE(vault_->committer().Commit(rocksdb::WriteBatch(), e).ok());
      }
    });
  }
  for (auto& w : writers) w.join();
  AuditQuery query;
  query.action = "NoSuchAction";
  auto plan = vault_->audit().BeginExport(MakeActor("00000000000000e1", "compliance"), query);
  ASSERT_TRUE(plan.ok()) << plan.status();
  int asked = 0;
  absl::StatusOr<std::string> s = vault_->audit().StreamExport(
      *plan, [](const StoredEntry&, const std::vector<Hash>*) { return true; },
      [&] { return ++asked == 2; });
  EXPECT_TRUE(absl::IsCancelled(s.status())) << s.status();
  EXPECT_EQ(asked, 2);  // asked while scanning entries that match nothing
}

TEST_F(AuditLogTest, AccountingOfDisclosuresListsEveryPiiReadWithProofs) {
  std::string lead = CreateLead(1);
  std::string other = CreateLead(2);
  Actor reader = IntakeActor();
  reader.purpose = Purpose::kTreatment;
  ASSERT_TRUE(vault_->leads().GetLead(reader, lead).ok());
  clock_.Advance(absl::Hours(1));
  reader.purpose = Purpose::kSchedulingOutreach;
  ASSERT_TRUE(vault_->leads().GetLead(reader, lead, Outreach{}).ok());
  ASSERT_TRUE(vault_->leads().GetLead(reader, other, Outreach{}).ok());
  reader.purpose = Purpose::kOperations;
  ASSERT_TRUE(vault_->leads()
                  .FindLeads(reader, LookupKind::kEmail, EmailOnlyInput(1).email)
                  .ok());  // a match says the person is a lead: a disclosure too
  reader.purpose = std::nullopt;
  EXPECT_TRUE(absl::IsInvalidArgument(
      vault_->leads().FindLeads(reader, LookupKind::kEmail, EmailOnlyInput(1).email).status()))
      << "a look-up names its purpose";

  auto accounting = vault_->audit().AccountingOfDisclosures(
      MakeActor("00000000000000e1", "compliance"), lead, absl::InfinitePast(), 0);
  ASSERT_TRUE(accounting.ok()) << accounting.status();
  ASSERT_EQ(accounting->disclosures.size(), 3u);
  EXPECT_EQ(accounting->disclosures[0].entry.entry.purpose, "treatment");
  EXPECT_EQ(accounting->disclosures[1].entry.entry.purpose, "scheduling_outreach");
  EXPECT_EQ(accounting->disclosures[2].entry.entry.action, "FindLeads");
  EXPECT_EQ(accounting->disclosures[2].entry.entry.purpose, "operations");
  EXPECT_EQ(accounting->disclosures[2].entry.entry.fields, std::vector<std::string>{"match:email"});
  // Every field the lead has (an email-only input: all but the phone).
  EXPECT_EQ(accounting->disclosures[0].entry.entry.fields.size(), kPiiFieldCount - 1);
  EXPECT_TRUE(audit::OpenCheckpoint(accounting->checkpoint.note, Verifier()).ok());
  for (const Disclosure& d : accounting->disclosures) {
    EXPECT_TRUE(audit::VerifyInclusion(d.entry.entry.sequence - 1,
                                       accounting->checkpoint.checkpoint.size,
                                       audit::LeafHash(d.entry.canonical), d.inclusion_proof,
                                       accounting->checkpoint.checkpoint.root)
                    .ok());
  }
  auto since = vault_->audit().AccountingOfDisclosures(
      MakeActor("00000000000000e1", "compliance"), lead,
      absl::FromUnixSeconds(kStartSeconds) + absl::Minutes(30), 0);
  ASSERT_TRUE(since.ok());
  EXPECT_EQ(since->disclosures.size(), 2u);
}

// ---- The disclosure index against the log (issue 8.5) ----

class DisclosureIndexTest : public AuditLogTest {
 protected:
  // A lead read twice and found once, amid other traffic; sequences in reads_.
  void SetUp() override {
    AuditLogTest::SetUp();
    lead_ = CreateLead(1);
    other_ = CreateLead(2);
    Actor reader = IntakeActor();
    ASSERT_TRUE(vault_->leads().GetLead(reader, lead_).ok());
    reads_.push_back(vault_->audit_log().size());
    ASSERT_TRUE(vault_->leads().GetLead(reader, other_).ok());
    ASSERT_TRUE(
        vault_->leads().FindLeads(reader, LookupKind::kEmail, EmailOnlyInput(1).email).ok());
    reads_.push_back(vault_->audit_log().size());
    ASSERT_TRUE(vault_->leads().GetLead(reader, lead_).ok());
    reads_.push_back(vault_->audit_log().size());
  }

  // A raw write as an intruder with the data dir would make: through the open
  // vault's database, or with the vault closed (after a refused open).
  absl::Status Write(Cf cf, const std::string& key, const std::string& value, bool erase = false) {
    std::unique_ptr<Database> closed;
    Database* db = vault_ != nullptr ? &vault_->database() : nullptr;
    if (db == nullptr) {
      absl::StatusOr<std::unique_ptr<Database>> opened =
          Database::Open(DataDir(), DatabaseOptions());
      if (!opened.ok()) return opened.status();
      closed = *std::move(opened);
      db = closed.get();
    }
    rocksdb::WriteOptions options;
    options.sync = true;
    rocksdb::Status s = erase ? db->db()->Delete(options, db->cf(cf), key)
                              : db->db()->Put(options, db->cf(cf), key, value);
    return FromRocks(s, "test write");
  }

  // Closes the vault and opens it again; the status of the open.
  absl::Status ReopenStatus() {
    vault_.reset();
    absl::StatusOr<std::unique_ptr<Vault>> v = OpenVault(TestKek(1));
    if (v.ok()) vault_ = *std::move(v);
    return v.status();
  }

  // The sequences the accounting of lead_ lists.
  std::vector<uint64_t> Accounted() {
    auto accounting = vault_->audit().AccountingOfDisclosures(
        MakeActor("00000000000000e1", "compliance"), lead_, absl::InfinitePast(), 0);
    EXPECT_TRUE(accounting.ok()) << accounting.status();
    std::vector<uint64_t> seqs;
    if (!accounting.ok()) return seqs;
    for (const Disclosure& d : accounting->disclosures) seqs.push_back(d.entry.entry.sequence);
    return seqs;
  }

  // A DATA_LOSS whose message says `what` and holds no lead id.
  void ExpectDataLossNaming(const absl::Status& s, const std::string& what) {
    EXPECT_TRUE(absl::IsDataLoss(s)) << s;
    EXPECT_NE(s.message().find(what), absl::string_view::npos) << s;
    for (const std::string& id : {lead_, other_}) {
      EXPECT_EQ(s.message().find(EncodeLeadId(id)), absl::string_view::npos) << s;
      EXPECT_EQ(s.message().find(id), absl::string_view::npos) << s;
    }
  }

  std::string lead_;
  std::string other_;
  std::vector<uint64_t> reads_;  // the disclosures of lead_: read, look-up, read
};

TEST_F(DisclosureIndexTest, AConsistentIndexOpensAndItsCheckIsRecorded) {
  ASSERT_TRUE(ReopenStatus().ok());
  auto record = vault_->database().Get(Cf::kMeta, internal::kMetaDisclosureIndexChecked);
  ASSERT_TRUE(record.ok()) << record.status();
  ASSERT_EQ(record->size(), 16u);
  EXPECT_EQ(internal::GetBigEndian64(*record), vault_->audit_log().size());
  EXPECT_EQ(internal::GetBigEndian64(absl::string_view(*record).substr(8)),
            CountKeys(*vault_, Cf::kAuditLead));
  EXPECT_EQ(vault_->disclosure_index_rebuild_sequence(), 0u);
  EXPECT_EQ(Accounted(), reads_);
}

TEST_F(DisclosureIndexTest, AnOldIndexRowDeletedOfflineIsDataLossNamingItsEntry) {
  // The index was checked at a start since the row was written: a check of
  // only what is new would miss its deletion.
  ASSERT_TRUE(ReopenStatus().ok());
  CommitEntries(20);
  ASSERT_TRUE(Write(Cf::kAuditLead, internal::AuditLeadKey(lead_, reads_[0]), "", true).ok());
  absl::Status s = ReopenStatus();
  ExpectDataLossNaming(s, absl::StrCat("entry ", reads_[0], " has no index row"));
  // Refused every time, not once.
  ExpectDataLossNaming(ReopenStatus(), absl::StrCat("entry ", reads_[0], " has no index row"));
}

TEST_F(DisclosureIndexTest, ADeletedLookUpRowIsDataLoss) {
  ASSERT_TRUE(Write(Cf::kAuditLead, internal::AuditLeadKey(lead_, reads_[1]), "", true).ok());
  ExpectDataLossNaming(ReopenStatus(), absl::StrCat("entry ", reads_[1], " has no index row"));
}

TEST_F(DisclosureIndexTest, ABogusIndexRowIsDataLossNamingWhereItPoints) {
  // A row for lead_ pointing at other_'s read: an accounting that lists a
  // disclosure that never happened is as wrong as one that omits one.
  const uint64_t others_read = reads_[0] + 1;
  ASSERT_TRUE(Write(Cf::kAuditLead, internal::AuditLeadKey(lead_, others_read), "").ok());
  ExpectDataLossNaming(ReopenStatus(), absl::StrCat("an index row points to entry ", others_read,
                                                    ", not a disclosure of that lead"));
}

TEST_F(DisclosureIndexTest, ABogusRowPlantedWhileRunningFailsTheAccountingItself) {
  // Planted under a running daemon, before any start-up check sees it.
  const uint64_t others_read = reads_[0] + 1;
  ASSERT_TRUE(Write(Cf::kAuditLead, internal::AuditLeadKey(lead_, others_read), "").ok());
  auto accounting = vault_->audit().AccountingOfDisclosures(
      MakeActor("00000000000000e1", "compliance"), lead_, absl::InfinitePast(), 0);
  ExpectDataLossNaming(accounting.status(), absl::StrCat("the row for sequence ", others_read,
                                                         " is not a disclosure of the lead"));
}

TEST_F(DisclosureIndexTest, ABogusRowBeyondTheLogOrMalformedIsDataLoss) {
  const uint64_t beyond = vault_->audit_log().size() + 100;
  ASSERT_TRUE(Write(Cf::kAuditLead, internal::AuditLeadKey(lead_, beyond), "").ok());
  ExpectDataLossNaming(ReopenStatus(),
                       absl::StrCat("an index row points to entry ", beyond, ", beyond the log"));
  ASSERT_TRUE(Write(Cf::kAuditLead, internal::AuditLeadKey(lead_, beyond), "", true).ok());
  ASSERT_TRUE(ReopenStatus().ok());
  ASSERT_TRUE(Write(Cf::kAuditLead, "short", "").ok());
  ExpectDataLossNaming(ReopenStatus(), "a malformed index row");
}

TEST_F(DisclosureIndexTest, ADeletionSwappedForABogusRowIsStillCaught) {
  // Same number of rows: counting alone would pass.
  ASSERT_TRUE(Write(Cf::kAuditLead, internal::AuditLeadKey(lead_, reads_[2]), "", true).ok());
  ASSERT_TRUE(Write(Cf::kAuditLead, internal::AuditLeadKey(other_, reads_[2]), "").ok());
  absl::Status s = ReopenStatus();
  ExpectDataLossNaming(s, absl::StrCat("entry ", reads_[2], " has no index row"));
  ExpectDataLossNaming(s, absl::StrCat("an index row points to entry ", reads_[2]));
}

TEST_F(DisclosureIndexTest, AnEditedCheckRecordHidesNothing) {
  ASSERT_TRUE(ReopenStatus().ok());
  ASSERT_TRUE(Write(Cf::kAuditLead, internal::AuditLeadKey(lead_, reads_[0]), "", true).ok());
  // The record made to say the index, as it now is, was checked at this size.
  std::string forged;
  internal::PutBigEndian64(forged, vault_->audit_log().size());
  internal::PutBigEndian64(forged, CountKeys(*vault_, Cf::kAuditLead));
  ASSERT_TRUE(Write(Cf::kMeta, internal::kMetaDisclosureIndexChecked, forged).ok());
  ExpectDataLossNaming(ReopenStatus(), absl::StrCat("entry ", reads_[0], " has no index row"));
  // Nor does deleting the record.
  ASSERT_TRUE(Write(Cf::kMeta, internal::kMetaDisclosureIndexChecked, "", true).ok());
  ExpectDataLossNaming(ReopenStatus(), absl::StrCat("entry ", reads_[0], " has no index row"));
}

TEST_F(DisclosureIndexTest, ALogShorterThanAtItsLastCheckIsDataLoss) {
  ASSERT_TRUE(ReopenStatus().ok());
  std::string ahead;
  internal::PutBigEndian64(ahead, vault_->audit_log().size() + 5);
  internal::PutBigEndian64(ahead, CountKeys(*vault_, Cf::kAuditLead));
  ASSERT_TRUE(Write(Cf::kMeta, internal::kMetaDisclosureIndexChecked, ahead).ok());
  absl::Status s = ReopenStatus();
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_NE(s.message().find("fewer than"), absl::string_view::npos) << s;
  rebuild_disclosure_index_ = true;
  EXPECT_TRUE(absl::IsDataLoss(ReopenStatus())) << "rebuilding the index cannot mend the log";
  ASSERT_TRUE(Write(Cf::kMeta, internal::kMetaDisclosureIndexChecked, "short").ok());
  EXPECT_TRUE(absl::IsDataLoss(ReopenStatus()));
}

TEST_F(DisclosureIndexTest, TheRebuildFlagRepairsTheIndexFromTheLogAndIsAudited) {
  const auto index_before = ReadCf(*vault_, Cf::kAuditLead);
  ASSERT_TRUE(Write(Cf::kAuditLead, internal::AuditLeadKey(lead_, reads_[0]), "", true).ok());
  ASSERT_TRUE(Write(Cf::kAuditLead, internal::AuditLeadKey(lead_, reads_[0] + 1), "").ok());
  ASSERT_TRUE(absl::IsDataLoss(ReopenStatus()));

  rebuild_disclosure_index_ = true;
  absl::Status s = ReopenStatus();
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(ReadCf(*vault_, Cf::kAuditLead), index_before) << "rebuilt to exactly the log's rows";
  const uint64_t rebuild = vault_->disclosure_index_rebuild_sequence();
  ASSERT_NE(rebuild, 0u);
  auto entry = vault_->audit_log().ReadEntry(rebuild);
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_EQ(entry->entry.action, "RebuildDisclosureIndex");
  EXPECT_EQ(entry->entry.principal_id, "system");
  EXPECT_EQ(entry->entry.fields, (std::vector<std::string>{absl::StrCat("entries=", rebuild - 1),
                                                           "missing_rows=1", "bogus_rows=1"}));
  // Committed with a checkpoint that covers it.
  ASSERT_TRUE(vault_->audit_log().LatestCheckpoint().has_value());
  EXPECT_GE(vault_->audit_log().LatestCheckpoint()->checkpoint.size, rebuild);
  EXPECT_EQ(Accounted(), reads_) << "the accounting lists the disclosure again";

  // The flag rebuilds only what is broken: a consistent index is left alone.
  ASSERT_TRUE(ReopenStatus().ok());
  EXPECT_EQ(vault_->disclosure_index_rebuild_sequence(), 0u);
  rebuild_disclosure_index_ = false;
  ASSERT_TRUE(ReopenStatus().ok());
}

TEST(DisclosureIndexKeysTest, OnlyDisclosuresOwnRowsOnePerDistinctLead) {
  audit::AuditEntry read;
  read.sequence = 7;
  read.action = "GetLead";
  read.outcome = audit::Outcome::kAllowed;
  read.fields = {"email"};
  const std::string a(16, 'a'), b(16, 'b');
  read.lead_ids = {EncodeLeadId(a), EncodeLeadId(b), EncodeLeadId(a)};
  EXPECT_EQ(DisclosureIndexKeys(read),
            (std::vector<std::string>{internal::AuditLeadKey(a, 7), internal::AuditLeadKey(b, 7)}));
  audit::AuditEntry denied = read;
  denied.outcome = audit::Outcome::kDenied;
  EXPECT_TRUE(DisclosureIndexKeys(denied).empty());
  audit::AuditEntry update = read;
  update.action = "UpdateLead";
  EXPECT_TRUE(DisclosureIndexKeys(update).empty());
  audit::AuditEntry wide = read;
  wide.lead_ids.assign(kMaxIndexedLeadsPerEntry + 1, EncodeLeadId(a));
  EXPECT_TRUE(DisclosureIndexKeys(wide).empty());
}

}  // namespace
}  // namespace leadvault::vault::testing
