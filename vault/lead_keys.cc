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

std::string LeadKeys::Wrap(const std::string& lead_id, const keys::SecretBytes& dek) const {
  internal::WrappedKeyRecord wrapped;
  wrapped.set_format_version(kWrappedKeyFormat);
  wrapped.set_kek_version(keys_->kek_version());
  wrapped.set_dek_version(kDekVersion);
  wrapped.set_wrapped(
      keys::WrapKey(keys_->kek(), keys_->kek_version(), DekPurpose(lead_id), dek, *random_));
  return wrapped.SerializeAsString();
}

absl::StatusOr<keys::SecretBytes> LeadKeys::Unwrap(const std::string& lead_id,
                                                   const absl::StatusOr<std::string>& row) const {
  if (absl::IsNotFound(row.status())) {
    return absl::DataLossError("lead record: its data key is missing");
  }
  LV_RETURN_IF_ERROR(row.status());
  internal::WrappedKeyRecord wrapped;
  if (!wrapped.ParseFromString(*row) || wrapped.format_version() != kWrappedKeyFormat) {
    return absl::DataLossError("data key record: malformed");
  }
  return keys::UnwrapKey(keys_->kek(), wrapped.kek_version(), DekPurpose(lead_id),
                         wrapped.wrapped());
}

}  // namespace leadvault::vault
