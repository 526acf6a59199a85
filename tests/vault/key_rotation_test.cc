// Master-key rotation: a new version wraps new data keys and the vault's own
// keys at once, the re-wrap moves every old data key (resumable, audited, no
// field re-encrypted), a version is retired only when nothing is wrapped
// under it, and start-up needs every version in use and nothing else.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "keys/master_key.h"
#include "tests/vault/vault_fixture.h"
#include "vault/internal/records.pb.h"
#include "vault/key_rewrap.h"
#include "vault/lead_keys.h"
#include "vault/lead_rows_check.h"

namespace leadvault::vault::testing {
namespace {

Actor AdminActor() { return MakeActor("00000000000000ad", "admin"); }

LeadInput Person(int n) {
  LeadInput in;
  in.email = absl::StrCat("rotate.", n, "@example.org");
  in.phone = absl::StrCat("+1617555", 1000 + n);
  in.notes = absl::StrCat("marker-notes-", n);
  return in;
}

// The key source: the given test keys (TestKek seeds), in the given order.
std::vector<keys::SecretBytes> Source(std::initializer_list<uint8_t> seeds) {
  std::vector<keys::SecretBytes> out;
  for (uint8_t seed : seeds) out.push_back(TestKek(seed));
  return out;
}

uint32_t VersionOfRow(const std::string& row) {
  internal::WrappedKeyRecord r;
  EXPECT_TRUE(r.ParseFromString(row));
  return r.kek_version();
}

class KeyRotationTest : public VaultFixture {
 protected:
  void SetUp() override {
    key_rewrap_options_.batch_size = 3;
    key_rewrap_options_.pause = absl::ZeroDuration();
    OpenOrDie();
  }

  std::string Create(int n) {
    absl::StatusOr<CreateResult> r = vault_->leads().CreateLead(
        CaptureActor(), MakeNewLead(Person(n), "ortho", absl::StrCat("k-", n)));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->lead_id : "";
  }

  // Every lead decrypts to what was submitted.
  void ExpectEveryLeadReads(const std::map<int, std::string>& ids) {
    for (const auto& [n, id] : ids) {
      absl::StatusOr<Lead> lead = vault_->leads().GetLead(IntakeActor(), id);
      ASSERT_TRUE(lead.ok()) << n << ": " << lead.status();
      EXPECT_EQ(lead->pii.Get(PiiField::kNotes).view(), Person(n).notes);
    }
  }

  std::map<uint32_t, uint64_t> Counts() {
    absl::StatusOr<std::map<uint32_t, uint64_t>> c = vault_->leads().CountDataKeysByVersion();
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : std::map<uint32_t, uint64_t>{};
  }

  void Reopen(std::vector<keys::SecretBytes> keks) {
    vault_.reset();
    absl::StatusOr<std::unique_ptr<Vault>> v = OpenVault(std::move(keks));
    ASSERT_TRUE(v.ok()) << v.status();
    vault_ = *std::move(v);
  }

  absl::Status OpenStatus(std::vector<keys::SecretBytes> keks) {
    vault_.reset();
    return OpenVault(std::move(keks)).status();
  }

  std::optional<internal::KeyRewrapRecord> Cursor() {
    auto row = vault_->database().Get(Cf::kMeta, internal::kMetaKekRewrap);
    if (!row.ok()) return std::nullopt;
    internal::KeyRewrapRecord r;
    EXPECT_TRUE(r.ParseFromString(*row));
    return r;
  }
};

TEST_F(KeyRotationTest, ARotationWrapsNewKeysUnderItAtOnceAndTheRewrapMovesEveryOldOne) {
  std::map<int, std::string> ids;
  for (int n = 0; n < 10; ++n) ids[n] = Create(n);
  EXPECT_EQ(Counts(), (std::map<uint32_t, uint64_t>{{1, 10}}));
  const auto leads_before = ReadCf(*vault_, Cf::kLeads);
  const auto deks_before = ReadCf(*vault_, Cf::kDek);
  const auto wrapped_before = DumpAll(*vault_)["meta"];

  vault_->key_rewrap().SetPausedForTesting(true);
  absl::StatusOr<KeyHierarchy::Rotation> rotation =
      vault_->RotateMasterKey(AdminActor(), Source({1, 2}));
  ASSERT_TRUE(rotation.ok()) << rotation.status();
  EXPECT_EQ(rotation->previous, 1u);
  EXPECT_EQ(rotation->version, 2u);
  EXPECT_EQ(vault_->key_hierarchy().kek_version(), 2u);
  EXPECT_EQ(vault_->key_hierarchy().kek_versions(), (std::vector<uint32_t>{1, 2}));
  const auto [seq, entry] = ReadAudit(*vault_).back();
  EXPECT_EQ(entry.action, "RotateMasterKey");
  EXPECT_EQ(entry.principal_id, "00000000000000ad");
  EXPECT_EQ(entry.fields, (std::vector<std::string>{"kek_version=2", "previous_version=1"}));

  // The vault's own keys moved at once; a new lead's key is under version 2.
  auto meta = DumpAll(*vault_)["meta"];
  for (const char* key :
       {internal::kMetaIndexRootKey, internal::kMetaTokenKey, internal::kMetaAuditSigningKey}) {
    EXPECT_NE(meta[key], wrapped_before.at(key)) << key;
  }
  EXPECT_EQ(meta["kek/current"], "2");
  EXPECT_TRUE(meta.contains("kek/check/2"));
  ids[10] = Create(10);
  EXPECT_EQ(Counts(), (std::map<uint32_t, uint64_t>{{1, 10}, {2, 1}}));
  ExpectEveryLeadReads(ids);  // old keys unwrap under version 1 meanwhile

  vault_->key_rewrap().SetPausedForTesting(false);
  ASSERT_TRUE(vault_->key_rewrap().WaitIdle().ok());
  EXPECT_EQ(Counts(), (std::map<uint32_t, uint64_t>{{2, 11}}));
  KeyRewrap::Progress progress = vault_->key_rewrap().progress();
  EXPECT_TRUE(progress.done);
  EXPECT_EQ(progress.kek_version, 2u);
  EXPECT_EQ(progress.rewrapped, 10u);
  EXPECT_EQ(progress.unreadable, 0u);
  ExpectEveryLeadReads(ids);

  // No field was re-encrypted: only the `dek` rows changed.
  auto leads_after = ReadCf(*vault_, Cf::kLeads);
  for (const auto& row : leads_before) {
    EXPECT_NE(std::find(leads_after.begin(), leads_after.end(), row), leads_after.end());
  }
  for (const auto& [id, row] : deks_before) {
    EXPECT_EQ(VersionOfRow(row), 1u);
    auto now = vault_->database().Get(Cf::kDek, id);
    ASSERT_TRUE(now.ok());
    EXPECT_NE(*now, row);
    EXPECT_EQ(VersionOfRow(*now), 2u);
  }

  // Each batch of the re-wrap has its own entry, counts only.
  uint64_t rewrapped = 0;
  int batches = 0;
  for (const auto& [s, e] : ReadAudit(*vault_)) {
    if (e.action != "RewrapDataKeys") continue;
    ++batches;
    EXPECT_EQ(e.principal_id, "system");
    EXPECT_TRUE(e.lead_ids.empty());
    ASSERT_EQ(e.fields.size(), 5u);
    EXPECT_EQ(e.fields[0], "kek_version=2");
    uint64_t n = 0;
    ASSERT_TRUE(absl::SimpleAtoi(absl::StripPrefix(e.fields[2], "rewrapped="), &n));
    rewrapped += n;
  }
  EXPECT_EQ(rewrapped, 10u);
  EXPECT_EQ(batches, 4);  // 11 keys, 3 a batch
}

TEST_F(KeyRotationTest, TheRewrapResumesFromItsCursorAfterARestart) {
  std::map<int, std::string> ids;
  for (int n = 0; n < 10; ++n) ids[n] = Create(n);
  vault_->key_rewrap().SetPausedForTesting(true);
  ASSERT_TRUE(vault_->RotateMasterKey(AdminActor(), Source({2, 1})).ok());
  ASSERT_TRUE(vault_->key_rewrap().StepForTesting().ok());
  ASSERT_TRUE(vault_->key_rewrap().StepForTesting().ok());
  std::optional<internal::KeyRewrapRecord> cursor = Cursor();
  ASSERT_TRUE(cursor.has_value());
  EXPECT_EQ(cursor->kek_version(), 2u);
  EXPECT_EQ(cursor->rewrapped(), 6u);
  EXPECT_FALSE(cursor->done());
  EXPECT_EQ(Counts(), (std::map<uint32_t, uint64_t>{{1, 4}, {2, 6}}));

  key_rewrap_options_.start_paused_for_testing = true;
  Reopen(Source({1, 2}));
  EXPECT_EQ(vault_->key_rewrap().progress().rewrapped, 6u);
  EXPECT_FALSE(vault_->key_rewrap().progress().done);
  ASSERT_TRUE(vault_->key_rewrap().StepForTesting().ok());
  EXPECT_EQ(Cursor()->after_lead_id(), ReadCf(*vault_, Cf::kDek)[8].first);
  vault_->key_rewrap().SetPausedForTesting(false);
  ASSERT_TRUE(vault_->key_rewrap().WaitIdle().ok());
  EXPECT_EQ(Counts(), (std::map<uint32_t, uint64_t>{{2, 10}}));
  EXPECT_EQ(vault_->key_rewrap().progress().rewrapped, 10u);
  ExpectEveryLeadReads(ids);
}

TEST_F(KeyRotationTest, ARotationNeedsExactlyOneNewKeyAndEveryVersionInUseAndWritesNothingElse) {
  Create(1);
  const auto before = DumpAll(*vault_);
  struct Case {
    std::vector<keys::SecretBytes> source;
    std::string says;
  };
  std::vector<Case> cases;
  cases.push_back({Source({1}), "holds 0 new master keys"});
  cases.push_back({Source({1, 2, 3}), "holds 2 new master keys"});
  cases.push_back({Source({2}), "version 1 (the current one) is in use but not in the key source"});
  for (Case& c : cases) {
    absl::Status s = vault_->RotateMasterKey(AdminActor(), std::move(c.source)).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
    EXPECT_TRUE(absl::StrContains(s.message(), c.says)) << s;
  }
  EXPECT_EQ(DumpAll(*vault_), before);  // not even an audit entry (the API records the failure)
  EXPECT_EQ(vault_->key_hierarchy().kek_version(), 1u);
}

TEST_F(KeyRotationTest, StartNeedsEveryVersionInUseIgnoresNewKeysAndRefusesTheWrongOnes) {
  std::map<int, std::string> ids;
  for (int n = 0; n < 4; ++n) ids[n] = Create(n);
  vault_->key_rewrap().SetPausedForTesting(true);
  ASSERT_TRUE(vault_->RotateMasterKey(AdminActor(), Source({1, 2})).ok());

  absl::Status s = OpenStatus(Source({2}));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "version 1 is in use but not in the key source")) << s;
  s = OpenStatus(Source({1}));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "version 2 (the current one)")) << s;
  s = OpenStatus(Source({5}));
  EXPECT_EQ(s, WrongMasterKeyError());
  // A key no version knows is waiting for the next rotation: ignored.
  key_rewrap_options_.start_paused_for_testing = true;
  Reopen(Source({3, 2, 1}));
  EXPECT_EQ(vault_->key_hierarchy().kek_version(), 2u);
  ExpectEveryLeadReads(ids);
  // A new data dir takes exactly one key.
  VaultOptions fresh;
  fresh.data_dir = dir_.path() + "/fresh";
  s = Vault::Open(fresh, Source({1, 2})).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "a new data dir takes one master key")) << s;
}

TEST_F(KeyRotationTest, RetireWaitsForTheRewrapThenTheVaultRunsWithoutTheOldKey) {
  std::map<int, std::string> ids;
  for (int n = 0; n < 7; ++n) ids[n] = Create(n);
  vault_->key_rewrap().SetPausedForTesting(true);
  ASSERT_TRUE(vault_->RotateMasterKey(AdminActor(), Source({1, 2})).ok());
  ASSERT_TRUE(vault_->key_rewrap().StepForTesting().ok());  // 3 of 7 moved

  absl::Status s = vault_->RetireMasterKey(AdminActor(), 1);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "4 data keys are still wrapped under version 1")) << s;
  s = vault_->RetireMasterKey(AdminActor(), 2);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "is the current one")) << s;
  EXPECT_EQ(vault_->RetireMasterKey(AdminActor(), 7).code(), absl::StatusCode::kNotFound);

  vault_->key_rewrap().SetPausedForTesting(false);
  ASSERT_TRUE(vault_->key_rewrap().WaitIdle().ok());
  ASSERT_TRUE(vault_->RetireMasterKey(AdminActor(), 1).ok());
  const auto [seq, entry] = ReadAudit(*vault_).back();
  EXPECT_EQ(entry.action, "RetireMasterKey");
  EXPECT_EQ(entry.fields, (std::vector<std::string>{"kek_version=1"}));
  EXPECT_EQ(vault_->key_hierarchy().kek_versions(), (std::vector<uint32_t>{2}));
  EXPECT_EQ(vault_->RetireMasterKey(AdminActor(), 1).code(), absl::StatusCode::kNotFound);

  // The vault starts with version 2 alone: the index root, token and signing
  // keys are under it, so lookups, tokens and the signed log carry on.
  absl::StatusOr<IssuedToken> issued = vault_->BootstrapAdmin();
  ASSERT_TRUE(issued.ok()) << issued.status();
  const std::string token(issued->token.view());
  const std::string origin = vault_->key_hierarchy().log_origin();
  Reopen(Source({2}));
  ExpectEveryLeadReads(ids);
  absl::StatusOr<std::vector<LeadMetadata>> found =
      vault_->leads().FindLeads(FinderActor(), LookupKind::kEmail, Person(3).email);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].id, ids[3]);
  EXPECT_TRUE(vault_->principals().Authenticate(token).ok());
  EXPECT_EQ(vault_->key_hierarchy().log_origin(), origin);
  // A retired key is not taken back as a new one, and not needed.
  EXPECT_EQ(vault_->RotateMasterKey(AdminActor(), Source({2, 1})).status().code(),
            absl::StatusCode::kFailedPrecondition);
  Reopen(Source({2, 1}));
  EXPECT_EQ(OpenStatus(Source({1})), WrongMasterKeyError());
}

// Retiring a version rewrites the table files that held keys wrapped under
// it: a copy of the data dir taken afterwards, with the retired key (say, a
// leaked one), unwraps nothing. The key-check row stays as a placeholder no
// key verifies, so a binary from before the key ring refuses the data dir
// rather than taking it for a new one.
TEST_F(KeyRotationTest, RetiringAVersionLeavesNoKeyWrappedUnderItInAnyFile) {
  std::map<int, std::string> ids;
  for (int n = 0; n < 6; ++n) ids[n] = Create(n);
  ASSERT_TRUE(vault_->database().Flush().ok());
  std::vector<std::string> under_v1;
  for (const auto& [n, id] : ids) {
    absl::StatusOr<std::string> row = vault_->database().Get(Cf::kDek, id);
    ASSERT_TRUE(row.ok()) << row.status();
    under_v1.push_back(*row);
  }
  for (const char* key :
       {internal::kMetaIndexRootKey, internal::kMetaTokenKey, internal::kMetaAuditSigningKey}) {
    absl::StatusOr<std::string> row = vault_->database().Get(Cf::kMeta, key);
    ASSERT_TRUE(row.ok()) << row.status();
    under_v1.push_back(*row);
  }
  ASSERT_TRUE(vault_->RotateMasterKey(AdminActor(), Source({1, 2})).ok());
  ASSERT_TRUE(vault_->key_rewrap().WaitIdle().ok());
  ASSERT_TRUE(vault_->database().Flush().ok());
  {
    // The scan sees them while version 1 is in use (the test can fail).
    const std::string before = AllFileBytes(DataDir());
    for (const std::string& old : under_v1) EXPECT_TRUE(absl::StrContains(before, old));
  }

  ASSERT_TRUE(vault_->RetireMasterKey(AdminActor(), 1).ok());
  const std::string after = AllFileBytes(DataDir());
  for (size_t i = 0; i < under_v1.size(); ++i) {
    EXPECT_FALSE(absl::StrContains(after, under_v1[i])) << "row " << i;
  }
  for (const auto& [n, id] : ids) {  // the control: the rows under version 2
    absl::StatusOr<std::string> row = vault_->database().Get(Cf::kDek, id);
    ASSERT_TRUE(row.ok()) << row.status();
    EXPECT_EQ(VersionOfRow(*row), 2u);
    EXPECT_TRUE(absl::StrContains(after, *row)) << n;
  }
  absl::StatusOr<std::string> check = vault_->database().Get(Cf::kMeta, "kek/check/1");
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_FALSE(keys::VerifyKeyCheck(TestKek(1), *check));
  EXPECT_FALSE(keys::VerifyKeyCheck(TestKek(2), *check));
  Reopen(Source({2}));
  ExpectEveryLeadReads(ids);
}

// A reader that read a data-key row just before the re-wrap moved it, and
// unwraps it after its version was retired, reads the row again.
TEST_F(KeyRotationTest, ARowReadBeforeItsVersionWasRetiredIsReadAgain) {
  const std::string id = Create(1);
  absl::StatusOr<std::string> old_row = vault_->database().Get(Cf::kDek, id);
  ASSERT_TRUE(old_row.ok()) << old_row.status();
  ASSERT_TRUE(vault_->RotateMasterKey(AdminActor(), Source({1, 2})).ok());
  ASSERT_TRUE(vault_->key_rewrap().WaitIdle().ok());
  ASSERT_TRUE(vault_->RetireMasterKey(AdminActor(), 1).ok());
  LeadKeys lead_keys(&vault_->database(), &vault_->key_hierarchy(), &random_);
  absl::StatusOr<keys::SecretBytes> dek = lead_keys.Unwrap(id, *old_row);
  ASSERT_TRUE(dek.ok()) << dek.status();
  absl::StatusOr<std::string> new_row = vault_->database().Get(Cf::kDek, id);
  ASSERT_TRUE(new_row.ok()) << new_row.status();
  absl::StatusOr<keys::SecretBytes> again = lead_keys.Unwrap(id, *new_row);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(dek->view(), again->view());
}

// Master-key rows without a current version, or wrapped keys without any
// master-key row, are a damaged vault: never initialized afresh over.
TEST_F(KeyRotationTest, KeyRowsWithoutACurrentVersionAreDataLossNeverANewVault) {
  Create(1);
  ASSERT_TRUE(vault_->database()
                  .db()
                  ->Delete(rocksdb::WriteOptions(), vault_->database().cf(Cf::kMeta),
                           internal::kMetaKekCurrent)
                  .ok());
  absl::Status s = OpenStatus(Source({1}));
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
}

TEST_F(KeyRotationTest, WrappedKeysWithoutKeyRowsAreDataLossNeverANewVault) {
  Create(1);
  for (const char* key : {"kek/check/1", internal::kMetaKekCurrent}) {
    ASSERT_TRUE(vault_->database()
                    .db()
                    ->Delete(rocksdb::WriteOptions(), vault_->database().cf(Cf::kMeta), key)
                    .ok());
  }
  absl::Status s = OpenStatus(Source({1}));
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "refusing to initialize")) << s;
}

// `keys status --follow` polls without counting every data key; a malformed
// data-key row is counted apart instead of hiding the others.
TEST_F(KeyRotationTest, StatusCanSkipTheCountAndCountsAMalformedRowApart) {
  for (int n = 0; n < 4; ++n) Create(n);
  absl::StatusOr<MasterKeyStatus> full = vault_->GetMasterKeyStatus(AdminActor());
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(full->data_keys, (std::map<uint32_t, uint64_t>{{1, 4}}));
  absl::StatusOr<MasterKeyStatus> quick =
      vault_->GetMasterKeyStatus(AdminActor(), /*progress_only=*/true);
  ASSERT_TRUE(quick.ok()) << quick.status();
  EXPECT_TRUE(quick->data_keys.empty());
  EXPECT_EQ(quick->current, 1u);
  const auto [seq, entry] = ReadAudit(*vault_).back();
  EXPECT_EQ(entry.action, "GetMasterKeyStatus");
  EXPECT_NE(std::find(entry.fields.begin(), entry.fields.end(), "progress_only=1"),
            entry.fields.end());
  for (const std::string& field : entry.fields) EXPECT_FALSE(absl::StartsWith(field, "keys."));

  ASSERT_TRUE(vault_->database()
                  .db()
                  ->Put(rocksdb::WriteOptions(), vault_->database().cf(Cf::kDek),
                        "0123456789abcdef", "not a wrapped key")
                  .ok());
  EXPECT_EQ(Counts(), (std::map<uint32_t, uint64_t>{{0, 1}, {1, 4}}));
}

TEST_F(KeyRotationTest, APurgedLeadsKeyStaysGoneThroughTheRewrapAndTwoRotationsChain) {
  std::map<int, std::string> ids;
  for (int n = 0; n < 6; ++n) ids[n] = Create(n);
  vault_->key_rewrap().SetPausedForTesting(true);
  ASSERT_TRUE(vault_->RotateMasterKey(AdminActor(), Source({1, 2})).ok());
  ASSERT_TRUE(vault_->key_rewrap().StepForTesting().ok());
  Actor compliance = MakeActor("00000000000000c9", "compliance");
  compliance.purpose = Purpose::kPatientRequest;
  for (int n : {0, 5}) {
    ASSERT_TRUE(vault_->leads().DeleteLead(compliance, ids[n], "patient asked").ok());
    ids.erase(n);
  }
  // A second rotation before the first re-wrap ended: the pass restarts for
  // version 3 and moves keys from both older versions.
  ASSERT_TRUE(vault_->RotateMasterKey(AdminActor(), Source({1, 2, 3})).ok());
  vault_->key_rewrap().SetPausedForTesting(false);
  ASSERT_TRUE(vault_->key_rewrap().WaitIdle().ok());
  EXPECT_EQ(Counts(), (std::map<uint32_t, uint64_t>{{3, 4}}));
  ExpectEveryLeadReads(ids);
  absl::StatusOr<LeadRowsReport> check = CheckLeadRows(vault_->database());
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_TRUE(check->result.ok()) << check->result;
  EXPECT_EQ(CountKeys(*vault_, Cf::kDek), 4u);
  ASSERT_TRUE(vault_->RetireMasterKey(AdminActor(), 1).ok());
  ASSERT_TRUE(vault_->RetireMasterKey(AdminActor(), 2).ok());
  Reopen(Source({3}));
  ExpectEveryLeadReads(ids);
}

// kill -9 at seeded-random points of a re-wrap, three times over: each restart
// resumes from the cursor, and in the end every key is under the new version,
// each moved exactly once (the cursor's count adds up), every lead decrypts.
TEST_F(KeyRotationTest, AKillDuringTheRewrapResumesAndCompletes) {
  constexpr int kLeads = 600;
  std::map<int, std::string> ids;
  for (int n = 0; n < kLeads; ++n) ids[n] = Create(n);
  vault_->key_rewrap().SetPausedForTesting(true);
  ASSERT_TRUE(vault_->RotateMasterKey(AdminActor(), Source({1, 2})).ok());
  vault_.reset();
  key_rewrap_options_.batch_size = 16;
  key_rewrap_options_.start_paused_for_testing = true;
  ::leadvault::testing::SeededRandom dice(77);
  for (int round = 0; round < 3; ++round) {
    const int kill_after = 1 + static_cast<int>(dice.Bytes(1)[0] % 8);  // batches
    int progress[2];
    int go[2];
    ASSERT_EQ(::pipe(progress), 0);
    ASSERT_EQ(::pipe(go), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::close(progress[0]);
      ::close(go[1]);
      absl::StatusOr<std::unique_ptr<Vault>> v = OpenVault(Source({2, 1}));
      if (!v.ok()) ::_exit(2);
      while (true) {
        if (!(*v)->key_rewrap().StepForTesting().ok()) ::_exit(3);
        char ack = 0;
        if (::write(progress[1], "p", 1) != 1 || ::read(go[0], &ack, 1) != 1) ::_exit(4);
      }
    }
    ::close(progress[1]);
    ::close(go[0]);
    for (int b = 0; b < kill_after; ++b) {
      char p = 0;
      ASSERT_EQ(::read(progress[0], &p, 1), 1);
      ASSERT_EQ(::write(go[1], "g", 1), 1);
    }
    ASSERT_EQ(::kill(child, SIGKILL), 0);  // at once: mid-batch, or just after one
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ::close(progress[0]);
    ::close(go[1]);
    ASSERT_TRUE(WIFSIGNALED(status));
  }
  key_rewrap_options_.start_paused_for_testing = false;
  Reopen(Source({1, 2}));
  EXPECT_GT(vault_->key_rewrap().progress().rewrapped, 0u);
  ASSERT_TRUE(vault_->key_rewrap().WaitIdle().ok());
  EXPECT_EQ(Counts(), (std::map<uint32_t, uint64_t>{{2, kLeads}}));
  EXPECT_EQ(vault_->key_rewrap().progress().rewrapped, static_cast<uint64_t>(kLeads));
  ExpectEveryLeadReads(ids);
  ASSERT_TRUE(vault_->RetireMasterKey(AdminActor(), 1).ok());
}

}  // namespace
}  // namespace leadvault::vault::testing
