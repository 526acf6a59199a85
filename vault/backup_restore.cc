#include "vault/backup_restore.h"

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "audit/checkpoint.h"
#include "audit/merkle.h"
#include "keys/status_macros.h"
#include "rocksdb/write_batch.h"
#include "vault/actor.h"
#include "vault/audit_journal.h"
#include "vault/internal/keys.h"
#include "vault/lead.h"
#include "vault/restore_restrictions.h"

namespace leadvault::vault {
namespace {

// Journal entries appended again per group.
constexpr size_t kReplayGroup = 1000;

absl::Status JournalLoss(absl::string_view what) {
  return absl::DataLossError(
      absl::StrCat("audit journal: ", what,
                   "; nothing was replayed (see SECURITY.md, \"Backups and restore\")"));
}

struct Verified {
  uint64_t size = 0;  // the log plus the journal's entries, up to its last valid checkpoint
  bool high_water_reached = false;
};

// Step 1: the journal's entries after the log, checked against its checkpoints.
absl::StatusOr<Verified> Verify(AuditLog& log, const AuditJournal& journal,
                                const std::optional<audit::Checkpoint>& high_water) {
  LV_ASSIGN_OR_RETURN(audit::NoteVerifier verifier, audit::NoteVerifier::Parse(log.VerifierKey()));
  audit::MerkleFrontier tree = log.durable_frontier();
  const uint64_t start = tree.size();
  Verified verified;
  verified.size = start;
  absl::Status bad = absl::OkStatus();
  auto fail = [&bad](absl::string_view what) {
    bad = JournalLoss(what);
    return false;
  };
  if (high_water.has_value() && high_water->size <= start) {
    LV_ASSIGN_OR_RETURN(std::vector<audit::Hash> proof,
                        log.ConsistencyProof(high_water->size, start));
    if (!audit::VerifyConsistency(high_water->size, start, high_water->root, tree.Root(), proof)
             .ok()) {
      return JournalLoss("the restored log disagrees with the last checkpoint served before");
    }
    verified.high_water_reached = true;
  }
  LV_RETURN_IF_ERROR(journal.Scan(
      [&](const AuditJournal::Entry& e) {
        if (e.sequence <= start) return true;
        if (e.sequence != tree.size() + 1) return fail("entries out of sequence");
        tree.Append(audit::LeafHash(e.canonical));
        // The last checkpoint served is signed too: it verifies the entries
        // up to it even if the journal never got that checkpoint itself.
        if (high_water.has_value() && tree.size() == high_water->size) {
          if (tree.Root() != high_water->root) {
            return fail("it disagrees with the last checkpoint served before the restore");
          }
          verified.high_water_reached = true;
          verified.size = std::max(verified.size, tree.size());
        }
        return true;
      },
      [&](absl::string_view note) {
        absl::StatusOr<audit::Checkpoint> cp = audit::OpenCheckpoint(note, verifier);
        if (!cp.ok()) return fail("a checkpoint does not verify with the log's key");
        if (cp->size < start) return true;
        if (cp->size != tree.size()) return fail("a checkpoint does not follow its entries");
        if (cp->root != tree.Root()) return fail("its entries do not give the root it signs");
        verified.size = cp->size;
        if (high_water.has_value() && cp->size == high_water->size) {
          if (cp->root != high_water->root) {
            return fail("it disagrees with the last checkpoint served before the restore");
          }
          verified.high_water_reached = true;
        }
        return true;
      }));
  LV_RETURN_IF_ERROR(bad);
  if (high_water.has_value() && !verified.high_water_reached) {
    return JournalLoss(
        absl::StrCat("it does not reach the last checkpoint served before the "
                     "restore (tree size ",
                     high_water->size, "; the journal verifies to ", verified.size, ")"));
  }
  return verified;
}

}  // namespace

absl::StatusOr<JournalReplay> ReplayJournal(Database& db, Committer& committer,
                                            const ReplayStores& stores,
                                            const std::vector<std::string>& high_water_notes,
                                            bool without_high_water) {
  LeadStore& leads = *stores.leads;
  AuditLog& log = committer.audit_log();
  AuditJournal* journal = committer.journal();
  if (journal == nullptr) return absl::FailedPreconditionError("audit journal: none configured");
  if (committer.next_sequence() != log.size() + 1) {
    return absl::InternalError("restore: the log changed before its replay");
  }
  if (!journal->origin().empty() && journal->origin() != log.origin()) {
    return JournalLoss("it belongs to another vault's log");
  }
  if (high_water_notes.empty() && !without_high_water) {
    return absl::FailedPreconditionError(
        "restore: no high-water mark from before the restore (neither the data dir's nor the "
        "one beside the audit journal), so nothing shows the journal is complete; put one back, "
        "or start with --restore-without-high-water to accept that (SECURITY.md, \"Backups and "
        "restore\")");
  }
  std::vector<audit::Checkpoint> high_water;
  for (const std::string& note : high_water_notes) {
    LV_ASSIGN_OR_RETURN(audit::NoteVerifier verifier,
                        audit::NoteVerifier::Parse(log.VerifierKey()));
    absl::StatusOr<audit::Checkpoint> cp = audit::OpenCheckpoint(note, verifier);
    if (!cp.ok()) return JournalLoss("the last checkpoint served before does not verify");
    high_water.push_back(*cp);
  }

  JournalReplay replay;
  const uint64_t size = log.size();
  uint64_t base = size;
  absl::StatusOr<std::string> kept = db.Get(Cf::kMeta, internal::kMetaRestoreBase);
  if (kept.ok()) {
    if (!absl::SimpleAtoi(*kept, &base) || base > size) {
      return absl::DataLossError("meta: malformed restore base");
    }
  } else if (!absl::IsNotFound(kept.status())) {
    return kept.status();
  }
  replay.restored_size = base;
  if (kept.ok()) {
    // A resumed replay: its own final "RestoreFromBackup" group, appended to
    // the journal but never written (a crash between the two), is cut.
    LV_ASSIGN_OR_RETURN(bool one_group, journal->OnlyLastGroupAfter(size));
    bool own = false;
    if (one_group && journal->last_sequence() > size) {
      LV_RETURN_IF_ERROR(journal->Scan(
          [&](const AuditJournal::Entry& e) {
            if (e.sequence < size + 1) return true;
            absl::StatusOr<audit::AuditEntry> entry = audit::DecodeCanonical(e.canonical);
            own = entry.ok() && entry->action == "RestoreFromBackup" &&
                  entry->principal_id == SystemActor().principal_id;
            return false;
          },
          [](absl::string_view) { return true; }));
    }
    if (own) LV_RETURN_IF_ERROR(journal->TruncateAfter(size));
  }
  // The journal must reach every mark, each a tree of the same log.
  std::optional<audit::Checkpoint> newest;
  for (const audit::Checkpoint& cp : high_water) {
    if (!newest.has_value() || cp.size > newest->size) newest = cp;
  }
  for (const audit::Checkpoint& cp : high_water) {
    if (cp.size != newest->size || cp.root != newest->root) {
      LV_RETURN_IF_ERROR(Verify(log, *journal, cp).status());
    }
  }
  LV_ASSIGN_OR_RETURN(Verified verified, Verify(log, *journal, newest));
  replay.unverified_tail =
      journal->last_sequence() > verified.size ? journal->last_sequence() - verified.size : 0;
  // The unverified tail goes before anything is committed: the sequence
  // numbers after the verified ones are the vault's own from here on.
  LV_RETURN_IF_ERROR(journal->TruncateAfter(verified.size));

  // Steps 2 and 3's input: the entries to append again, and every purge after
  // the restore base (a resumed replay appended some before).
  std::map<std::string, uint64_t> purged;  // binary lead id -> the purge's sequence
  std::vector<StoredEntry> group;
  absl::Status bad = absl::OkStatus();
  bool base_kept = kept.ok();
  auto flush = [&]() -> absl::Status {
    if (group.empty()) return absl::OkStatus();
    rocksdb::WriteBatch batch;
    if (!base_kept) {
      LV_RETURN_IF_ERROR(FromRocks(
          batch.Put(db.cf(Cf::kMeta), internal::kMetaRestoreBase, absl::StrCat(base)), "restore"));
      base_kept = true;
    }
    replay.replayed += group.size();
    LV_RETURN_IF_ERROR(committer.CommitReplayed(std::move(group), std::move(batch)));
    group.clear();
    return absl::OkStatus();
  };
  // Purges a replay that stopped has appended already are read from the log.
  RestrictionsSinceBackup restrictions;
  auto note_purge = [&purged, &restrictions](const audit::AuditEntry& entry, uint64_t sequence) {
    restrictions.Note(entry, sequence);
    if (!IsPurgeEntry(entry)) return;
    for (const std::string& text : entry.lead_ids) {
      std::optional<std::string> id = DecodeLeadId(text);
      if (id.has_value()) purged[*id] = sequence;
    }
  };
  if (base < size) {
    LV_RETURN_IF_ERROR(log.ScanEntries(base + 1, size, [&](const StoredEntry& e) {
      note_purge(e.entry, e.entry.sequence);
      return true;
    }));
  }
  LV_RETURN_IF_ERROR(journal->Scan(
      [&](const AuditJournal::Entry& e) {
        if (e.sequence <= size) return true;
        if (e.sequence > verified.size) return false;
        absl::StatusOr<audit::AuditEntry> entry = audit::DecodeCanonical(e.canonical);
        if (!entry.ok() || entry->sequence != e.sequence) {
          bad = JournalLoss("an entry is malformed");
          return false;
        }
        note_purge(*entry, e.sequence);
        group.push_back({e.canonical, *std::move(entry)});
        if (group.size() == kReplayGroup) {
          bad = flush();
          if (!bad.ok()) return false;
        }
        return true;
      },
      [](absl::string_view) { return true; }));
  LV_RETURN_IF_ERROR(bad);
  LV_RETURN_IF_ERROR(flush());

  // Step 3: the restrictions after the backup are made again, and the
  // backup's leads purged after it are purged again.
  Actor system = SystemActor();
  std::set<std::string> purged_ids;
  for (const auto& [id, sequence] : purged) purged_ids.insert(id);
  LV_ASSIGN_OR_RETURN(replay.reapplied_restrictions,
                      restrictions.Reapply(system, stores.restrictions, purged_ids));
  for (const auto& [id, sequence] : purged) {
    absl::StatusOr<std::string> record = db.Get(Cf::kLeads, id);
    if (absl::IsNotFound(record.status())) continue;
    LV_RETURN_IF_ERROR(record.status());
    rocksdb::WriteBatch holds;
    {
      const std::string prefix = absl::StrCat(internal::kMetaLegalHoldPrefix, id);
      std::unique_ptr<rocksdb::Iterator> it(
          db.db()->NewIterator(rocksdb::ReadOptions(), db.cf(Cf::kMeta)));
      for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
        LV_RETURN_IF_ERROR(FromRocks(holds.Delete(db.cf(Cf::kMeta), it->key()), "restore"));
      }
      LV_RETURN_IF_ERROR(db.Check(it->status(), "read legal holds"));
    }
    if (holds.Count() > 0) {
      audit::AuditEntry entry = EntryFor(system, "ReleaseHoldsOnRestore");
      entry.lead_ids.push_back(EncodeLeadId(id));
      entry.fields = {absl::StrCat("holds=", holds.Count()),
                      absl::StrCat("purged_sequence=", sequence)};
      LV_RETURN_IF_ERROR(committer.Commit(std::move(holds), std::move(entry)).status());
      ++replay.released_holds;
    }
    absl::StatusOr<LeadStore::PreparedPurge> purge = leads.PreparePurge(id, &system);
    if (absl::IsNotFound(purge.status())) continue;
    LV_RETURN_IF_ERROR(purge.status());
    LV_RETURN_IF_ERROR(
        FromRocks(purge->batch.Put(db.cf(Cf::kMeta),
                                   absl::StrCat(internal::kMetaCompactionDuePrefix, id), ""),
                  "restore"));
    audit::AuditEntry entry = EntryFor(system, "ReapplyPurge");
    entry.lead_ids.push_back(EncodeLeadId(id));
    entry.fields = {absl::StrCat("purged_sequence=", sequence)};
    LV_RETURN_IF_ERROR(committer.Commit(std::move(purge->batch), std::move(entry)).status());
    ++replay.reapplied_purges;
  }

  // Step 4: the journal continues from the verified log.
  committer.AttachJournal();
  rocksdb::WriteBatch done;
  LV_RETURN_IF_ERROR(
      FromRocks(done.Delete(db.cf(Cf::kMeta), internal::kMetaRestoreBase), "restore"));
  audit::AuditEntry entry = EntryFor(system, "RestoreFromBackup");
  entry.fields = {absl::StrCat("restored_size=", replay.restored_size),
                  absl::StrCat("replayed=", replay.replayed),
                  absl::StrCat("reapplied_purges=", replay.reapplied_purges),
                  absl::StrCat("released_holds=", replay.released_holds),
                  absl::StrCat("reapplied_restrictions=", replay.reapplied_restrictions),
                  absl::StrCat("unverified_tail=", replay.unverified_tail)};
  if (high_water_notes.empty()) entry.fields.push_back("high_water=missing");
  LV_ASSIGN_OR_RETURN(replay.sequence,
                      committer.CommitWithCheckpoint(std::move(done), std::move(entry)));
  return replay;
}

absl::StatusOr<uint64_t> RecordRestoreWithoutJournal(Committer& committer) {
  audit::AuditEntry entry = EntryFor(SystemActor(), "RestoreFromBackup");
  entry.fields = {absl::StrCat("restored_size=", committer.audit_log().size()), "journal=missing"};
  return committer.CommitWithCheckpoint(rocksdb::WriteBatch(), std::move(entry));
}

}  // namespace leadvault::vault
