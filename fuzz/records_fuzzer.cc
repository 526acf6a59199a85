// The vault's on-disk records (vault/internal/records.proto), as read back
// from RocksDB. The first byte picks the record type (modulo the number of
// types); the rest is the serialized record. A parsed record re-serializes to
// bytes that parse to an equal record, and the encrypted bytes it carries
// (field ciphertexts, wrapped keys) never open under a key they were not made
// with: the seed corpus encrypts under a different key than this target tries.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "fuzz/fuzz_check.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/message_differencer.h"
#include "keys/aead.h"
#include "keys/random.h"
#include "keys/secret_bytes.h"
#include "vault/internal/records.pb.h"
#include "vault/lead.h"

namespace {

namespace internal = leadvault::vault::internal;
using leadvault::keys::SecretBytes;

const SecretBytes& FuzzKey() {
  static const SecretBytes* const key =
      new SecretBytes(SecretBytes::CopyFrom(std::string(32, 'k')));
  return *key;
}

std::unique_ptr<google::protobuf::Message> NewRecord(uint8_t selector) {
  switch (selector % 9) {
    case 0:
      return std::make_unique<internal::LeadRecord>();
    case 1:
      return std::make_unique<internal::WrappedKeyRecord>();
    case 2:
      return std::make_unique<internal::PrincipalRecord>();
    case 3:
      return std::make_unique<internal::IdempotencyRecord>();
    case 4:
      return std::make_unique<internal::EmergencyGrantRecord>();
    case 5:
      return std::make_unique<internal::AttributionRecord>();
    case 6:
      return std::make_unique<internal::ContactAttemptRecord>();
    case 7:
      return std::make_unique<internal::TouchRecord>();
    default:
      return std::make_unique<internal::EncryptedField>();
  }
}

// A lead's field ciphertexts: none opens under the fuzz key.
void CheckLeadRecord(const internal::LeadRecord& record) {
  const std::string lead_id(16, '\x01');
  for (const internal::EncryptedField& field : record.fields()) {
    FUZZ_CHECK(!leadvault::keys::DecryptField(FuzzKey(), record.dek_version(), lead_id,
                                              field.field(), field.ciphertext())
                    .ok());
  }
}

// A wrapped data key: does not unwrap under the fuzz key.
void CheckWrappedKey(const internal::WrappedKeyRecord& record) {
  const std::string purpose = absl::StrCat("dek:", std::string(32, '0'));
  FUZZ_CHECK(
      !leadvault::keys::UnwrapKey(FuzzKey(), record.kek_version(), purpose, record.wrapped()).ok());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool crypto_ready = leadvault::keys::InitCrypto();
  FUZZ_CHECK(crypto_ready);
  if (size == 0) return 0;
  std::unique_ptr<google::protobuf::Message> record = NewRecord(data[0]);
  if (!record->ParseFromArray(data + 1, static_cast<int>(size - 1))) return 0;

  const std::string bytes = record->SerializeAsString();
  std::unique_ptr<google::protobuf::Message> again(record->New());
  FUZZ_CHECK(again->ParseFromString(bytes));
  FUZZ_CHECK(google::protobuf::util::MessageDifferencer::Equals(*record, *again));
  FUZZ_CHECK(again->SerializeAsString() == bytes);

  if (auto* lead = dynamic_cast<internal::LeadRecord*>(record.get())) CheckLeadRecord(*lead);
  if (auto* wrapped = dynamic_cast<internal::WrappedKeyRecord*>(record.get())) {
    CheckWrappedKey(*wrapped);
  }
  if (auto* idem = dynamic_cast<internal::IdempotencyRecord*>(record.get())) {
    // A stored lead id of 16 bytes has a text form that decodes back to it.
    if (idem->lead_id().size() == 16) {
      FUZZ_CHECK(leadvault::vault::DecodeLeadId(leadvault::vault::EncodeLeadId(idem->lead_id())) ==
                 idem->lead_id());
    }
  }
  return 0;
}
