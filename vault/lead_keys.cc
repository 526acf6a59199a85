#include "vault/lead_keys.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "keys/aead.h"
#include "keys/status_macros.h"
#include "vault/internal/records.pb.h"

namespace leadvault::vault {
namespace {

constexpr uint32_t kWrappedKeyFormat = 1;

// What a wrapped DEK is bound to: it unwraps only as this lead's key.
std::string DekPurpose(absl::string_view lead_id) {
  return absl::StrCat("dek:", absl::BytesToHexString(lead_id));
}

}  // namespace

std::string LeadKeys::Wrap(const std::string& lead_id, const keys::SecretBytes& dek,
                           const KeyHierarchy::Pinned& pin) const {
  internal::WrappedKeyRecord wrapped;
  wrapped.set_format_version(kWrappedKeyFormat);
  wrapped.set_kek_version(pin.version());
  wrapped.set_dek_version(kDekVersion);
  wrapped.set_wrapped(keys::WrapKey(*pin.kek_, pin.version(), DekPurpose(lead_id), dek, *random_));
  return wrapped.SerializeAsString();
}

namespace {

absl::StatusOr<internal::WrappedKeyRecord> ParseWrapped(absl::string_view row) {
  internal::WrappedKeyRecord wrapped;
  if (!wrapped.ParseFromArray(row.data(), static_cast<int>(row.size())) ||
      wrapped.format_version() != kWrappedKeyFormat) {
    return absl::DataLossError("data key record: malformed");
  }
  return wrapped;
}

}  // namespace

absl::StatusOr<uint32_t> LeadKeys::VersionOf(absl::string_view row) {
  LV_ASSIGN_OR_RETURN(internal::WrappedKeyRecord wrapped, ParseWrapped(row));
  return wrapped.kek_version();
}

absl::StatusOr<keys::SecretBytes> LeadKeys::Unwrap(const std::string& lead_id,
                                                   const absl::StatusOr<std::string>& row) const {
  if (absl::IsNotFound(row.status())) {
    return absl::DataLossError("lead record: its data key is missing");
  }
  LV_RETURN_IF_ERROR(row.status());
  LV_ASSIGN_OR_RETURN(internal::WrappedKeyRecord wrapped, ParseWrapped(*row));
  std::shared_ptr<const KeyHierarchy::Ring> ring = keys_->ring();
  auto kek = ring->keks.find(wrapped.kek_version());
  if (kek == ring->keks.end() && wrapped.kek_version() < ring->current) {
    // Retired after this row was read: the re-wrap has moved it since.
    absl::StatusOr<std::string> again = db_->Get(Cf::kDek, lead_id);
    if (absl::IsNotFound(again.status())) return absl::NotFoundError("lead not found");
    LV_RETURN_IF_ERROR(again.status());
    LV_ASSIGN_OR_RETURN(wrapped, ParseWrapped(*again));
    ring = keys_->ring();
    kek = ring->keks.find(wrapped.kek_version());
  }
  if (kek == ring->keks.end()) {
    return absl::DataLossError(absl::StrCat("data key record: wrapped under master-key version ",
                                            wrapped.kek_version(), ", which is not in use"));
  }
  return keys::UnwrapKey(*kek->second, wrapped.kek_version(), DekPurpose(lead_id),
                         wrapped.wrapped());
}

absl::StatusOr<std::optional<std::string>> LeadKeys::Rewrap(const std::string& lead_id,
                                                            const std::string& row,
                                                            const KeyHierarchy::Pinned& pin) const {
  LV_ASSIGN_OR_RETURN(uint32_t version, VersionOf(row));
  if (version == pin.version()) return std::nullopt;
  LV_ASSIGN_OR_RETURN(keys::SecretBytes dek, Unwrap(lead_id, row));
  return Wrap(lead_id, dek, pin);
}

}  // namespace leadvault::vault
