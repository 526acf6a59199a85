#include "vault/vault.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/vault/vault_fixture.h"

namespace leadvault::vault::testing {
namespace {

// Every regular file under `dir` (relative path -> contents).
std::map<std::string, std::string> SnapshotFiles(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::ostringstream contents;
    contents << in.rdbuf();
    files[std::filesystem::relative(e.path(), dir).string()] = contents.str();
  }
  return files;
}

class VaultTest : public VaultFixture {};

TEST_F(VaultTest, OpeningANewDirInitializesIt) {
  EXPECT_FALSE(std::filesystem::exists(DataDir()));
  OpenOrDie();
  EXPECT_TRUE(std::filesystem::exists(DataDir() + "/CURRENT"));
  EXPECT_EQ(std::filesystem::status(DataDir()).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_all);
  // The key-check value and the wrapped keys are in `meta`, and their creation is
  // the first audit entry; nothing is in the other CFs.
  std::map<std::string, size_t> counts = CountAll(*vault_);
  EXPECT_GT(counts["meta"], 0u);
  EXPECT_TRUE(vault_->database().Get(Cf::kMeta, "kek/check/1").ok());
  for (const auto& [name, n] : counts) {
    if (name != "meta" && name != "audit") {
      EXPECT_EQ(n, 0u) << name;  // a one-leaf tree has no node above its leaf
    }
  }
  // The audit signing key is stored wrapped, and it is what signs checkpoints.
  EXPECT_TRUE(vault_->database().Get(Cf::kMeta, internal::kMetaAuditSigningKey).ok());
  EXPECT_FALSE(vault_->audit_log().VerifierKey().empty());
  auto audit = ReadAudit(*vault_);
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].first, 1u);
  EXPECT_EQ(audit[0].second.action, "InitializeVault");
  EXPECT_EQ(audit[0].second.principal_id, "system");
  EXPECT_TRUE(vault_->principals().empty());
  EXPECT_EQ(vault_->committer().next_sequence(), 2u);
}

TEST_F(VaultTest, ReopenWithTheSameKeyKeepsTheData) {
  OpenOrDie();
  absl::StatusOr<CreateResult> created =
      vault_->leads().CreateLead(CaptureActor(), MakeNewLead(LeadInput{}, "ortho", "k1"));
  ASSERT_TRUE(created.ok()) << created.status();
  vault_.reset();

  OpenOrDie();
  absl::StatusOr<Lead> lead = vault_->leads().GetLead(IntakeActor(), created->lead_id);
  ASSERT_TRUE(lead.ok()) << lead.status();
  EXPECT_EQ(lead->meta.id, created->lead_id);
  EXPECT_EQ(lead->pii.Get(PiiField::kFirstName).view(), "Zebulon");
  EXPECT_EQ(lead->pii.Get(PiiField::kEmail).view(), "zeb.quixworth@example.org");
  EXPECT_EQ(lead->pii.Get(PiiField::kPhone).view(), "+16502530042");
  EXPECT_EQ(lead->pii.Get(PiiField::kNotes).view(), "prefers mornings after nine");
  // The blind indexes still find it: the index key was recovered, not regenerated.
  absl::StatusOr<std::vector<LeadMetadata>> found =
      vault_->leads().FindLeads(IntakeActor(), LookupKind::kEmail, "ZEB.QUIXWORTH@example.org");
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].id, created->lead_id);
}

TEST_F(VaultTest, WrongKeyFailsAndLeavesTheDataUntouched) {
  OpenOrDie();
  absl::StatusOr<CreateResult> created =
      vault_->leads().CreateLead(CaptureActor(), MakeNewLead(LeadInput{}, "ortho", "k1"));
  ASSERT_TRUE(created.ok()) << created.status();
  vault_.reset();

  const std::map<std::string, std::string> before = SnapshotFiles(DataDir());
  ASSERT_FALSE(before.empty());
  absl::StatusOr<std::unique_ptr<Vault>> wrong = OpenVault(TestKek(2));
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kFailedPrecondition) << wrong.status();
  const std::map<std::string, std::string> after = SnapshotFiles(DataDir());
  ASSERT_EQ(before.size(), after.size());
  for (const auto& [name, contents] : before) {
    auto it = after.find(name);
    ASSERT_NE(it, after.end()) << name << " disappeared";
    EXPECT_TRUE(it->second == contents) << name << " changed";
  }
  for (const auto& [name, contents] : after) {
    EXPECT_TRUE(before.contains(name)) << name << " was created";
  }

  OpenOrDie();
  absl::StatusOr<Lead> lead = vault_->leads().GetLead(IntakeActor(), created->lead_id);
  ASSERT_TRUE(lead.ok()) << lead.status();
  EXPECT_EQ(lead->pii.Get(PiiField::kLastName).view(), "Quixworth");
}

TEST_F(VaultTest, ADataDirOfANewerFormatIsRefusedAndLeftUntouched) {
  OpenOrDie();
  std::string stored = *vault_->database().Get(Cf::kMeta, internal::kMetaSchemaVersion);
  EXPECT_EQ(stored, absl::StrCat(kOnDiskFormatVersion));
  vault_.reset();
  {
    auto db = Database::Open(DataDir(), DatabaseOptions{});
    ASSERT_TRUE(db.ok()) << db.status();
    rocksdb::WriteOptions sync;
    sync.sync = true;
    ASSERT_TRUE((*db)
                    ->db()
                    ->Put(sync, (*db)->cf(Cf::kMeta), internal::kMetaSchemaVersion,
                          absl::StrCat(kOnDiskFormatVersion + 1))
                    .ok());
  }
  const std::map<std::string, std::string> before = SnapshotFiles(DataDir());
  absl::StatusOr<std::unique_ptr<Vault>> newer = OpenVault(TestKek(1));
  ASSERT_FALSE(newer.ok());
  EXPECT_EQ(newer.status().code(), absl::StatusCode::kFailedPrecondition) << newer.status();
  EXPECT_TRUE(absl::StrContains(newer.status().message(), "written by a newer leadvault"))
      << newer.status();
  EXPECT_TRUE(before == SnapshotFiles(DataDir())) << "a refused start changed the data dir";

  // An unreadable version is damage, not a format.
  {
    auto db = Database::Open(DataDir(), DatabaseOptions{});
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE(
        (*db)
            ->db()
            ->Put(rocksdb::WriteOptions(), (*db)->cf(Cf::kMeta), internal::kMetaSchemaVersion, "x")
            .ok());
  }
  absl::StatusOr<std::unique_ptr<Vault>> damaged = OpenVault(TestKek(1));
  ASSERT_FALSE(damaged.ok());
  EXPECT_EQ(damaged.status().code(), absl::StatusCode::kDataLoss) << damaged.status();
}

TEST_F(VaultTest, MasterKeyMustBe32Bytes) {
  absl::StatusOr<std::unique_ptr<Vault>> v = OpenVault(keys::SecretBytes(16));
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument) << v.status();
}

TEST_F(VaultTest, EmptyDataDirIsRefused) {
  VaultOptions options;
  options.clock = &clock_;
  options.random = &random_;
  absl::StatusOr<std::unique_ptr<Vault>> v = Vault::Open(options, TestKek(1));
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(VaultTest, BootstrapAdminOnlyOnce) {
  OpenOrDie();
  absl::StatusOr<IssuedToken> admin = vault_->BootstrapAdmin();
  ASSERT_TRUE(admin.ok()) << admin.status();
  EXPECT_EQ(admin->principal.roles, std::vector<std::string>{"admin"});
  absl::StatusOr<Principal> who = vault_->principals().Authenticate(admin->token.view());
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->id, admin->principal.id);

  absl::StatusOr<IssuedToken> again = vault_->BootstrapAdmin();
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists) << again.status();

  // Also after a reopen: the principal is on disk.
  Reopen();
  again = vault_->BootstrapAdmin();
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists) << again.status();
  ASSERT_TRUE(vault_->principals().Authenticate(admin->token.view()).ok());
}

TEST_F(VaultTest, ConcurrentBootstrapAdminCreatesExactlyOneAdmin) {
  OpenOrDie();
  constexpr int kThreads = 8;
  std::vector<absl::StatusCode> codes(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] { codes[i] = vault_->BootstrapAdmin().status().code(); });
  }
  for (auto& t : threads) t.join();
  int ok = 0;
  for (absl::StatusCode c : codes) {
    if (c == absl::StatusCode::kOk) {
      ++ok;
    } else {
      EXPECT_EQ(c, absl::StatusCode::kAlreadyExists);
    }
  }
  absl::StatusOr<std::vector<Principal>> all =
      vault_->principals().List(MakeActor("system", "system"));
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(all->size(), 1u);
}

TEST_F(VaultTest, ShutdownMakesLaterWritesFail) {
  OpenOrDie();
  vault_->Shutdown();
  absl::StatusOr<CreateResult> created =
      vault_->leads().CreateLead(CaptureActor(), MakeNewLead(LeadInput{}, "ortho", "k1"));
  EXPECT_EQ(created.status().code(), absl::StatusCode::kUnavailable) << created.status();
  EXPECT_EQ(CountKeys(*vault_, Cf::kLeads), 0u);
}

}  // namespace
}  // namespace leadvault::vault::testing
