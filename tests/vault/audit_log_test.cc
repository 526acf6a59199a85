// The vault's audit log: Merkle leaves written with every commit, signed
// checkpoints, proofs from stored nodes, exports that verify offline, and the
// accounting of disclosures.
#include "vault/audit_log.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "audit/checkpoint.h"
#include "audit/export_format.h"
#include "audit/merkle.h"
#include "audit/verifier.h"
#include "gtest/gtest.h"
#include "tests/vault/vault_fixture.h"

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
  reader.purpose = "treatment";
  ASSERT_TRUE(vault_->leads().GetLead(reader, lead).ok());
  clock_.Advance(absl::Hours(1));
  reader.purpose = "scheduling_outreach";
  ASSERT_TRUE(vault_->leads().GetLead(reader, lead).ok());
  ASSERT_TRUE(vault_->leads().GetLead(reader, other).ok());
  reader.purpose = "operations";
  ASSERT_TRUE(vault_->leads()
                  .FindLeads(reader, LookupKind::kEmail, EmailOnlyInput(1).email)
                  .ok());  // a match says the person is a lead: a disclosure too
  reader.purpose = "";
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

}  // namespace
}  // namespace leadvault::vault::testing
