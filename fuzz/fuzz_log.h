// A small, fixed audit log for the checkpoint and verifier fuzz targets and
// their seed corpus: deterministic entries, an in-memory Merkle tree and an
// Ed25519 key from a fixed seed. The fuzz targets use only its public key and
// roots; make_corpus signs the seed exports with it. Not a product library.
#ifndef LEADVAULT_FUZZ_FUZZ_LOG_H_
#define LEADVAULT_FUZZ_FUZZ_LOG_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "audit/audit_entry.h"
#include "audit/checkpoint.h"
#include "audit/export_format.h"
#include "audit/merkle.h"
#include "fuzz/fuzz_check.h"
#include "keys/random.h"
#include "keys/secret_bytes.h"
#include "keys/signing.h"

namespace leadvault::fuzz {

inline constexpr char kLogOrigin[] = "fuzz.leadvault.test";
inline constexpr uint64_t kLogSize = 6;

class FuzzLog final : public audit::NodeReader {
 public:
  FuzzLog() {
    FUZZ_CHECK(keys::InitCrypto());
    std::string seed(keys::kEd25519SeedSize, '\0');
    for (size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<char>(0xA0 + i);
    absl::StatusOr<std::unique_ptr<keys::SigningKey>> key =
        keys::SigningKey::FromSeed(keys::SecretBytes::CopyFrom(seed));
    FUZZ_CHECK(key.ok());
    key_ = std::move(*key);
    absl::StatusOr<audit::NoteSigner> signer = audit::NoteSigner::Create(kLogOrigin, key_.get());
    FUZZ_CHECK(signer.ok());
    signer_.emplace(std::move(*signer));
    for (uint64_t seq = 1; seq <= kLogSize; ++seq) {
      entries_.push_back(MakeEntry(seq));
      canonical_.push_back(audit::EncodeCanonical(entries_.back()));
      frontier_.Append(audit::LeafHash(canonical_.back()),
                       [this](audit::NodeId id, const audit::Hash& hash) {
                         nodes_[{id.level, id.index}] = hash;
                       });
    }
  }

  std::string VerifierKey() const { return signer_->VerifierKey(); }
  const audit::NoteSigner& signer() const { return *signer_; }
  const audit::AuditEntry& entry(uint64_t seq) const { return entries_[seq - 1]; }
  const std::string& canonical(uint64_t seq) const { return canonical_[seq - 1]; }

  audit::Checkpoint CheckpointAt(uint64_t size) {
    absl::StatusOr<audit::Hash> root = audit::RootAt(size, *this);
    FUZZ_CHECK(root.ok());
    return audit::Checkpoint{kLogOrigin, size, *root};
  }

  absl::StatusOr<std::vector<audit::Hash>> ReadNodes(
      const std::vector<audit::NodeId>& ids) override {
    std::vector<audit::Hash> out;
    for (const audit::NodeId& id : ids) {
      auto it = nodes_.find({id.level, id.index});
      if (it == nodes_.end()) return absl::NotFoundError("node not stored");
      out.push_back(it->second);
    }
    return out;
  }

 private:
  // Varied entries, including bytes the export has to escape.
  static audit::AuditEntry MakeEntry(uint64_t seq) {
    static const char* const kActions[] = {"GetLead", "CreateLead", "FindLeads", "UpdateStatus"};
    static const char* const kRoles[] = {"intake", "capture", "compliance", "admin"};
    audit::AuditEntry e;
    e.sequence = seq;
    e.time = absl::FromCivil(absl::CivilSecond(2026, 12, 1, 13, 0, 0), absl::UTCTimeZone()) +
             absl::Microseconds(static_cast<int64_t>(seq) * 1'234'567);
    e.principal_id = absl::StrCat("00000000000000", seq, "f");
    e.role = kRoles[seq % 4];
    e.action = kActions[seq % 4];
    e.outcome = seq == 3 ? audit::Outcome::kDenied : audit::Outcome::kAllowed;
    e.code = seq == 3 ? 7 : 0;
    if (seq != 5) e.lead_ids = {absl::StrCat("0123456789abcdef0123456789abcde", seq)};
    if (seq % 2 == 0) e.fields = {"first_name", "email"};
    if (seq == 4) e.blind_tokens = {"00ff00ff00ff00ff"};
    e.purpose = seq % 2 == 0 ? "treatment" : "";
    e.request_id = absl::StrCat("req-", seq);
    e.peer = "ipv4:127.0.0.1:54321";
    if (seq == 6) {
      e.break_glass_reason = "patient in ER \"now\"\n\xe2\x80\xa8 \xff";
      e.subject = "-=cmd";
      e.code = -1;
      e.outcome = audit::Outcome::kFailed;
    }
    return e;
  }

  std::unique_ptr<keys::SigningKey> key_;
  std::optional<audit::NoteSigner> signer_;
  std::vector<audit::AuditEntry> entries_;
  std::vector<std::string> canonical_;
  audit::MerkleFrontier frontier_;
  std::map<std::pair<uint32_t, uint64_t>, audit::Hash> nodes_;
};

}  // namespace leadvault::fuzz

#endif  // LEADVAULT_FUZZ_FUZZ_LOG_H_
