#include "vault/lead.h"

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace leadvault::vault {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr size_t kLeadIdBytes = 16;

// The value of one hex digit (either case), or -1.
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

absl::string_view PiiFieldName(PiiField field) {
  switch (field) {
    case PiiField::kFirstName:
      return "first_name";
    case PiiField::kLastName:
      return "last_name";
    case PiiField::kEmail:
      return "email";
    case PiiField::kPhone:
      return "phone";
    case PiiField::kDateOfBirth:
      return "date_of_birth";
    case PiiField::kStreetAddress:
      return "street_address";
    case PiiField::kCity:
      return "city";
    case PiiField::kState:
      return "state";
    case PiiField::kPostalCode:
      return "postal_code";
    case PiiField::kConditionInterest:
      return "condition_interest";
    case PiiField::kNotes:
      return "notes";
  }
  return "unknown";
}

absl::string_view LeadStatusName(LeadStatus status) {
  switch (status) {
    case LeadStatus::kNew:
      return "new";
    case LeadStatus::kContacted:
      return "contacted";
    case LeadStatus::kQualified:
      return "qualified";
    case LeadStatus::kScheduled:
      return "scheduled";
    case LeadStatus::kShowed:
      return "showed";
    case LeadStatus::kClosedLost:
      return "closed_lost";
    case LeadStatus::kDisqualified:
      return "disqualified";
    case LeadStatus::kUnspecified:
      break;
  }
  return "unspecified";
}

bool IsAllowedTransition(LeadStatus from, LeadStatus to) {
  switch (from) {
    case LeadStatus::kNew:
      return to == LeadStatus::kContacted || to == LeadStatus::kQualified ||
             to == LeadStatus::kDisqualified || to == LeadStatus::kClosedLost;
    case LeadStatus::kContacted:
      return to == LeadStatus::kQualified || to == LeadStatus::kScheduled ||
             to == LeadStatus::kDisqualified || to == LeadStatus::kClosedLost;
    case LeadStatus::kQualified:
      return to == LeadStatus::kScheduled || to == LeadStatus::kDisqualified ||
             to == LeadStatus::kClosedLost;
    case LeadStatus::kScheduled:
      return to == LeadStatus::kShowed || to == LeadStatus::kScheduled ||
             to == LeadStatus::kClosedLost;
    case LeadStatus::kClosedLost:
      return to == LeadStatus::kContacted;
    case LeadStatus::kShowed:
    case LeadStatus::kDisqualified:
    case LeadStatus::kUnspecified:
      return false;
  }
  return false;  // Out-of-range value.
}

std::string EncodeLeadId(absl::string_view binary_id) {
  std::string out;
  out.reserve(binary_id.size() * 2);
  for (char c : binary_id) {
    const auto byte = static_cast<unsigned char>(c);
    out.push_back(kHexDigits[byte >> 4]);
    out.push_back(kHexDigits[byte & 0x0F]);
  }
  return out;
}

std::optional<std::string> DecodeLeadId(absl::string_view text) {
  if (text.size() != kLeadIdBytes * 2) return std::nullopt;
  std::string out(kLeadIdBytes, '\0');
  for (size_t i = 0; i < kLeadIdBytes; ++i) {
    const int hi = HexValue(text[2 * i]);
    const int lo = HexValue(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<char>((hi << 4) | lo);
  }
  return out;
}

std::optional<LeadId> LeadId::FromBytes(absl::string_view bytes) {
  if (bytes.size() != kSize) return std::nullopt;
  return LeadId(std::string(bytes));
}

std::optional<LeadId> LeadId::FromText(absl::string_view text) {
  std::optional<std::string> bytes = DecodeLeadId(text);
  if (!bytes.has_value()) return std::nullopt;
  return LeadId(*std::move(bytes));
}

std::optional<ConsentChannel> ConsentChannelFor(const ContactAttempt& attempt) {
  switch (attempt.channel) {
    case ContactChannel::kPhone:
      return attempt.automated ? ConsentChannel::kAutodialedVoice : ConsentChannel::kVoice;
    case ContactChannel::kSms:
      return ConsentChannel::kSms;
    case ContactChannel::kEmail:
      return ConsentChannel::kEmail;
    default:
      return std::nullopt;
  }
}

}  // namespace leadvault::vault
