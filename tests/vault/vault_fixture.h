// Shared fixture for the vault tests: a vault in a scratch dir with a fake clock
// and seeded randomness, plus helpers to inspect every column family.
#ifndef LEADVAULT_TESTS_VAULT_VAULT_FIXTURE_H_
#define LEADVAULT_TESTS_VAULT_VAULT_FIXTURE_H_

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "audit/audit_entry.h"
#include "gtest/gtest.h"
#include "keys/random.h"
#include "keys/secret_bytes.h"
#include "rocksdb/db.h"
#include "tests/testing/fakes.h"
#include "vault/internal/keys.h"
#include "vault/lead.h"
#include "vault/lead_store.h"
#include "vault/vault.h"

namespace leadvault::vault::testing {

class CryptoEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { ASSERT_TRUE(keys::InitCrypto()); }
};

// Registered once per test binary (an inline variable has one definition).
inline ::testing::Environment* const kCryptoEnvironment =
    ::testing::AddGlobalTestEnvironment(new CryptoEnvironment);

inline constexpr std::array<Cf, 12> kAllCfs = {
    Cf::kLeads, Cf::kDek,    Cf::kBidx, Cf::kExpiry,    Cf::kQueue,    Cf::kConsent,
    Cf::kAudit, Cf::kMerkle, Cf::kMeta, Cf::kAuditLead, Cf::kSuppress, Cf::kFunnel};
static_assert(kAllCfs.size() == kCfCount);

// A 32-byte master key derived from `seed` (different seeds, different keys).
inline keys::SecretBytes TestKek(uint8_t seed = 1) {
  keys::SecretBytes kek(32);
  for (size_t i = 0; i < kek.size(); ++i) kek.data()[i] = static_cast<uint8_t>(seed * 31 + i);
  return kek;
}

// Every (key, value) of one column family, in key order.
inline std::vector<std::pair<std::string, std::string>> ReadCf(Vault& vault, Cf cf) {
  std::vector<std::pair<std::string, std::string>> out;
  std::unique_ptr<rocksdb::Iterator> it(
      vault.database().db()->NewIterator(rocksdb::ReadOptions(), vault.database().cf(cf)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    out.emplace_back(it->key().ToString(), it->value().ToString());
  }
  EXPECT_TRUE(it->status().ok()) << it->status().ToString();
  return out;
}

inline size_t CountKeys(Vault& vault, Cf cf) { return ReadCf(vault, cf).size(); }

// Number of keys in every column family, by name.
inline std::map<std::string, size_t> CountAll(Vault& vault) {
  std::map<std::string, size_t> counts;
  for (Cf cf : kAllCfs) counts[CfName(cf)] = CountKeys(vault, cf);
  return counts;
}

// Every key and value of every column family.
inline std::map<std::string, std::map<std::string, std::string>> DumpAll(Vault& vault) {
  std::map<std::string, std::map<std::string, std::string>> dump;
  for (Cf cf : kAllCfs) {
    for (auto& [k, v] : ReadCf(vault, cf)) dump[CfName(cf)][k] = v;
  }
  return dump;
}

// DumpAll without the audit log's own records (the audit, merkle and
// audit_lead column families and the signed checkpoints in meta): the state a
// call that only reads must leave unchanged.
inline std::map<std::string, std::map<std::string, std::string>> DumpState(Vault& vault) {
  auto dump = DumpAll(vault);
  dump.erase("audit");
  dump.erase("merkle");
  dump.erase("audit_lead");
  auto& meta = dump["meta"];
  for (auto it = meta.begin(); it != meta.end();) {
    it = it->first.rfind("audit/checkpoint/", 0) == 0 ? meta.erase(it) : std::next(it);
  }
  return dump;
}

// Every byte of every file under `dir`, files separated by a NUL (for scans
// that look for bytes that must have left the disk).
inline std::string AllFileBytes(const std::string& dir) {
  std::string all;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    all.push_back('\0');
  }
  return all;
}

// The audit log in sequence order; every key must be a big-endian sequence and
// every value a canonical entry.
inline std::vector<std::pair<uint64_t, audit::AuditEntry>> ReadAudit(Vault& vault) {
  std::vector<std::pair<uint64_t, audit::AuditEntry>> out;
  for (auto& [k, v] : ReadCf(vault, Cf::kAudit)) {
    EXPECT_EQ(k.size(), 8u);
    std::optional<uint64_t> seq = internal::DecodeSequenceKey(k);
    absl::StatusOr<audit::AuditEntry> entry = audit::DecodeCanonical(v);
    EXPECT_TRUE(seq.has_value());
    EXPECT_TRUE(entry.ok()) << entry.status();
    if (!seq.has_value() || !entry.ok()) continue;
    out.emplace_back(*seq, *std::move(entry));
  }
  return out;
}

inline Actor MakeActor(std::string principal_id, std::string role) {
  Actor a;
  a.principal_id = std::move(principal_id);
  a.roles = ParseRoles(absl::StrSplit(role, ',', absl::SkipEmpty()));
  a.request_id = "req-1";
  a.peer = "127.0.0.1:1";
  a.purpose = Purpose::kTreatment;
  return a;
}

inline Actor CaptureActor() { return MakeActor("00000000000000c1", "capture"); }
// An intake principal on "ortho" looking leads up (purpose operations).
inline Actor FinderActor() {
  Actor a = MakeActor("00000000000000a2", "intake");
  a.service_lines = {"ortho"};
  a.purpose = Purpose::kOperations;
  return a;
}
inline Actor IntakeActor() {
  Actor a = MakeActor("00000000000000a1", "intake");
  a.service_lines = {"ortho"};
  return a;
}

// The raw (un-normalized) form of the 11 PII fields of a submission.
struct LeadInput {
  std::string first_name = "Zebulon";
  std::string last_name = "Quixworth";
  std::string email = "zeb.quixworth@Example.ORG";
  std::string phone = "(650) 253-0042";
  std::string date_of_birth = "04/12/1980";
  std::string street_address = "77 Massachusetts Avenue";
  std::string city = "Cambridgeport";
  std::string state = "ma";
  std::string postal_code = "021394307";
  std::string condition_interest = "knee replacement consult";
  std::string notes = "prefers mornings after nine";
};

inline std::string LeadInputValue(const LeadInput& in, PiiField field) {
  switch (field) {
    case PiiField::kFirstName:
      return in.first_name;
    case PiiField::kLastName:
      return in.last_name;
    case PiiField::kEmail:
      return in.email;
    case PiiField::kPhone:
      return in.phone;
    case PiiField::kDateOfBirth:
      return in.date_of_birth;
    case PiiField::kStreetAddress:
      return in.street_address;
    case PiiField::kCity:
      return in.city;
    case PiiField::kState:
      return in.state;
    case PiiField::kPostalCode:
      return in.postal_code;
    case PiiField::kConditionInterest:
      return in.condition_interest;
    case PiiField::kNotes:
      return in.notes;
  }
  return "";
}

// Complete TCPA written consent captured at `at` (no IP address) for every
// channel, for scheduling, treatment follow-up and marketing.
inline ConsentGrant FullConsent(absl::Time at) {
  ConsentGrant g;
  g.channels = {ConsentChannel::kEmail, ConsentChannel::kSms, ConsentChannel::kVoice,
                ConsentChannel::kAutodialedVoice};
  g.purposes = {ConsentPurpose::kScheduling, ConsentPurpose::kTreatmentFollowUp,
                ConsentPurpose::kMarketing};
  g.evidence.captured_at = at;
  g.evidence.source_url = "https://clinic.example/consent";
  g.evidence.seller_name = "Riverside Orthopedics";
  g.evidence.disclosure_version = "tcpa-v3";
  g.evidence.disclosure_sha256 = std::string(64, 'a');
  g.evidence.authorizes_automated = true;
  g.evidence.not_condition_of_purchase = true;
  g.evidence.capture_certificate_id = "https://cert.trustedform.com/abc123";
  g.evidence.user_agent = "Mozilla/5.0";
  return g;
}

inline NewLead MakeNewLead(const LeadInput& in, std::string service_line,
                           std::string idempotency_key,
                           SourceChannel source = SourceChannel::kWebForm,
                           std::string campaign = "spring-ortho") {
  NewLead lead;
  for (PiiField f : kAllPiiFields) {
    std::string v = LeadInputValue(in, f);
    if (!v.empty()) lead.pii.Set(f, keys::SecretBytes::CopyFrom(v));
  }
  lead.attribution.source = source;
  lead.attribution.campaign = std::move(campaign);
  lead.attribution.utm_source = "google";
  lead.attribution.utm_medium = "cpc";
  lead.attribution.landing_page = "https://clinic.example/ortho?x=1#top";
  lead.attribution.service_line = std::move(service_line);
  lead.idempotency_key = std::move(idempotency_key);
  return lead;
}

// A submission with only an email (distinct per `n`), for bulk leads.
inline LeadInput EmailOnlyInput(int n) {
  LeadInput in;
  in = LeadInput{};
  in.email = absl::StrCat("patient", n, "@example.net");
  in.phone.clear();
  return in;
}

class VaultFixture : public ::testing::Test {
 protected:
  static constexpr int64_t kStartSeconds = 1700000000;  // 2023-11-14T22:13:20Z

  VaultFixture() : clock_(absl::FromUnixSeconds(kStartSeconds)), random_(20240601) {}

  std::string DataDir() const { return dir_.path() + "/db"; }

  absl::StatusOr<std::unique_ptr<Vault>> OpenVault(keys::SecretBytes kek) {
    std::vector<keys::SecretBytes> keks;
    keks.push_back(std::move(kek));
    return OpenVault(std::move(keks));
  }

  // Opens with the master keys of a key source (one, or several in a rotation).
  absl::StatusOr<std::unique_ptr<Vault>> OpenVault(std::vector<keys::SecretBytes> keks) {
    VaultOptions options;
    options.data_dir = DataDir();
    options.clock = &clock_;
    options.random = &random_;
    options.database.block_cache_bytes = 1 << 20;
    options.database.write_buffer_bytes = 1 << 20;
    options.database.min_free_bytes = min_free_bytes_;
    options.database.free_space_for_testing = free_space_;
    options.database.env = env_;
    options.database.max_manifest_bytes = max_manifest_bytes_;
    options.committer = committer_options_;
    options.rebuild_disclosure_index = rebuild_disclosure_index_;
    options.high_water_file = high_water_file_;
    options.recover_lost_log_tail = recover_lost_log_tail_;
    options.audit_journal_file = audit_journal_file_;
    options.restore = restore_;
    options.retention_recompute = retention_recompute_options_;
    options.key_rewrap = key_rewrap_options_;
    options.funnel_campaigns = funnel_campaigns_;
    return Vault::Open(options, std::move(keks));
  }

  // Opens with TestKek(1) into vault_; fails the test on error.
  void OpenOrDie() {
    absl::StatusOr<std::unique_ptr<Vault>> v = OpenVault(TestKek(1));
    ASSERT_TRUE(v.ok()) << v.status();
    vault_ = *std::move(v);
  }

  void Reopen() {
    vault_.reset();
    OpenOrDie();
  }

  ::leadvault::testing::ScratchDir dir_;
  ::leadvault::testing::FakeClock clock_;
  ::leadvault::testing::SeededRandom random_;
  CommitterOptions committer_options_;
  uint64_t max_manifest_bytes_ = DatabaseOptions().max_manifest_bytes;
  bool rebuild_disclosure_index_ = false;
  std::string high_water_file_;  // empty: the vault's default, in DataDir()
  bool recover_lost_log_tail_ = false;
  std::string audit_journal_file_;  // empty: none
  VaultOptions::Restore restore_;
  RetentionRecomputeOptions retention_recompute_options_;
  KeyRewrapOptions key_rewrap_options_;
  std::vector<std::string> funnel_campaigns_;
  uint64_t min_free_bytes_ = 0;
  std::function<std::optional<uint64_t>()> free_space_;  // empty: the real filesystem's
  rocksdb::Env* env_ = nullptr;
  std::unique_ptr<Vault> vault_;
};

}  // namespace leadvault::vault::testing

#endif  // LEADVAULT_TESTS_VAULT_VAULT_FIXTURE_H_
