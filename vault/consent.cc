#include "vault/consent.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "keys/secret_bytes.h"
#include "keys/status_macros.h"
#include "vault/lead.h"
#include "vault/validation.h"

namespace leadvault::vault {
namespace {

using ::leadvault::keys::SecretBytes;

// ---- Names ----------------------------------------------------------------------

template <typename E>
struct Named {
  E value;
  absl::string_view name;
};

constexpr std::array<Named<ConsentChannel>, 4> kChannelNames = {{
    {ConsentChannel::kEmail, "email"},
    {ConsentChannel::kSms, "sms"},
    {ConsentChannel::kVoice, "voice"},
    {ConsentChannel::kAutodialedVoice, "autodialed_voice"},
}};

constexpr std::array<Named<ConsentPurpose>, 4> kPurposeNames = {{
    {ConsentPurpose::kScheduling, "scheduling"},
    {ConsentPurpose::kTreatmentFollowUp, "treatment_follow_up"},
    {ConsentPurpose::kMarketing, "marketing"},
    {ConsentPurpose::kThirdPartySharing, "third_party_sharing"},
}};

constexpr std::array<Named<ConsentAction>, 2> kActionNames = {{
    {ConsentAction::kGrant, "grant"},
    {ConsentAction::kRevoke, "revoke"},
}};

constexpr std::array<Named<RevocationMethod>, 5> kMethodNames = {{
    {RevocationMethod::kIntakeCall, "intake_call"},
    {RevocationMethod::kSmsReply, "sms_reply"},
    {RevocationMethod::kEmailUnsubscribe, "email_unsubscribe"},
    {RevocationMethod::kPreferencePage, "preference_page"},
    {RevocationMethod::kOther, "other"},
}};

constexpr std::array<Named<TcpaElement>, 7> kElementNames = {{
    {TcpaElement::kSourceUrl, "source_url"},
    {TcpaElement::kSellerName, "seller_name"},
    {TcpaElement::kDisclosureVersion, "disclosure_version"},
    {TcpaElement::kDisclosureSha256, "disclosure_sha256"},
    {TcpaElement::kAuthorizesAutomated, "authorizes_automated"},
    {TcpaElement::kNotConditionOfPurchase, "not_condition_of_purchase"},
    {TcpaElement::kCaptureCertificateId, "capture_certificate_id"},
}};

constexpr std::array<Named<ConsentReason>, 6> kReasonNames = {{
    {ConsentReason::kActive, "active"},
    {ConsentReason::kNoConsent, "no_consent"},
    {ConsentReason::kRevoked, "revoked"},
    {ConsentReason::kIncomplete, "incomplete"},
    {ConsentReason::kSuppressed, "suppressed"},
    {ConsentReason::kContactChanged, "contact_changed"},
}};

template <typename E, size_t N>
absl::string_view NameIn(const std::array<Named<E>, N>& table, E value) {
  for (const Named<E>& entry : table) {
    if (entry.value == value) return entry.name;
  }
  return "unknown";
}

template <typename E, size_t N>
std::optional<E> ParseIn(const std::array<Named<E>, N>& table, absl::string_view name) {
  for (const Named<E>& entry : table) {
    if (entry.name == name) return entry.value;
  }
  return std::nullopt;
}

// ---- Evidence -------------------------------------------------------------------

// Every error goes through here: callers pass only literals and numeric limits as
// `rule`, never a value.
absl::Status Invalid(absl::string_view field, absl::string_view rule) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", rule));
}

constexpr absl::string_view kCapturedAtField = "consent.evidence.captured_at";
constexpr absl::string_view kSourceUrlField = "consent.evidence.source_url";
constexpr absl::string_view kSellerNameField = "consent.evidence.seller_name";
constexpr absl::string_view kDisclosureVersionField = "consent.evidence.disclosure_version";
constexpr absl::string_view kDisclosureSha256Field = "consent.evidence.disclosure_sha256";
constexpr absl::string_view kCertificateField = "consent.evidence.capture_certificate_id";
constexpr absl::string_view kUserAgentField = "consent.evidence.user_agent";
constexpr absl::string_view kIpAddressField = "consent.evidence.ip_address";
constexpr absl::string_view kThirdPartyField = "consent.third_party";

constexpr size_t kSha256HexLength = 64;
// The longest IPv6 text ("ffff:...:255.255.255.255"); INET6_ADDRSTRLEN counts the NUL.
constexpr size_t kMaxIpTextLength = INET6_ADDRSTRLEN - 1;

// Trimmed `input` if it is at most `max_length` printable ASCII characters (space
// allowed only when `allow_space`).
absl::StatusOr<absl::string_view> CheckPrintableAscii(absl::string_view field,
                                                      absl::string_view input, size_t max_length,
                                                      bool allow_space) {
  const absl::string_view text = absl::StripAsciiWhitespace(input);
  if (text.size() > max_length) {
    return Invalid(field, absl::StrCat("must be at most ", max_length, " bytes"));
  }
  for (char c : text) {
    const bool ok = (c > 0x20 && c < 0x7F) || (allow_space && c == ' ');
    if (!ok) {
      return Invalid(field, allow_space ? "must be printable ASCII"
                                        : "must be printable ASCII without whitespace");
    }
  }
  return text;
}

// The source page, by the landing-page rule of NormalizeAttribution (the one URL
// rule of the vault; it has no narrower public entry point). Its errors name
// "landing_page" and never the value; they are renamed to this field.
absl::StatusOr<std::string> NormalizeSourceUrl(absl::string_view url) {
  Attribution attribution;
  attribution.source = SourceChannel::kWebForm;
  attribution.service_line = "consent";
  attribution.landing_page = std::string(url);
  const absl::Status status = NormalizeAttribution(attribution);
  if (status.ok()) return std::move(attribution.landing_page);
  constexpr absl::string_view kPrefix = "landing_page: ";
  absl::string_view rule = status.message();
  if (status.code() != absl::StatusCode::kInvalidArgument || !absl::ConsumePrefix(&rule, kPrefix)) {
    rule = "must be an http or https URL";
  }
  return Invalid(kSourceUrlField, rule);
}

absl::StatusOr<std::string> NormalizeSha256(absl::string_view input) {
  const absl::string_view hex = absl::StripAsciiWhitespace(input);
  if (hex.size() != kSha256HexLength) {
    return Invalid(kDisclosureSha256Field, "must be 64 hex digits");
  }
  for (char c : hex) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
      return Invalid(kDisclosureSha256Field, "must be 64 hex digits");
    }
  }
  return absl::AsciiStrToLower(hex);
}

// IPv4 dotted quad or IPv6 text in inet_ntop's form. The address is PII: every
// copy of it, including the NUL-terminated one inet_pton needs and the binary
// form, lives in SecretBytes.
absl::StatusOr<SecretBytes> NormalizeIpAddress(const SecretBytes& input) {
  const absl::string_view text = absl::StripAsciiWhitespace(input.view());
  if (text.empty()) return SecretBytes();
  const absl::Status invalid = Invalid(kIpAddressField, "must be an IPv4 or IPv6 address");
  if (text.size() > kMaxIpTextLength || text.find('\0') != absl::string_view::npos) {
    return invalid;
  }
  SecretBytes c_text(text.size() + 1);  // Zero-filled: NUL-terminated.
  std::memcpy(c_text.data(), text.data(), text.size());
  const char* src = reinterpret_cast<const char*>(c_text.data());
  SecretBytes binary(sizeof(in6_addr));
  int family = AF_INET;
  if (inet_pton(AF_INET, src, binary.data()) != 1) {
    family = AF_INET6;
    if (inet_pton(AF_INET6, src, binary.data()) != 1) return invalid;
  }
  SecretBytes formatted(INET6_ADDRSTRLEN);
  char* out = reinterpret_cast<char*>(formatted.data());
  if (inet_ntop(family, binary.data(), out, INET6_ADDRSTRLEN) == nullptr) {
    return absl::InternalError("consent.evidence.ip_address: formatting failed");
  }
  return SecretBytes::CopyFrom(absl::string_view(out, strnlen(out, INET6_ADDRSTRLEN)));
}

// ---- SMS replies ----------------------------------------------------------------

// The length of the whitespace character at s[pos] (ASCII whitespace or U+00A0 NO-BREAK
// SPACE), or 0.
size_t SmsSpaceAt(absl::string_view s, size_t pos) {
  if (absl::ascii_isspace(static_cast<unsigned char>(s[pos]))) return 1;
  if (s.substr(pos, 2) == "\xC2\xA0") return 2;
  return 0;
}

absl::string_view TrimSmsSpace(absl::string_view s) {
  while (!s.empty()) {
    const size_t len = SmsSpaceAt(s, 0);
    if (len == 0) break;
    s.remove_prefix(len);
  }
  while (!s.empty()) {
    if (absl::ascii_isspace(static_cast<unsigned char>(s.back()))) {
      s.remove_suffix(1);
    } else if (absl::EndsWith(s, "\xC2\xA0")) {
      s.remove_suffix(2);
    } else {
      break;
    }
  }
  return s;
}

bool AllSmsSpace(absl::string_view s) {
  for (size_t pos = 0; pos < s.size();) {
    const size_t len = SmsSpaceAt(s, pos);
    if (len == 0) return false;
    pos += len;
  }
  return true;
}

constexpr std::array<absl::string_view, 6> kSingleWordKeywords = {
    "STOP", "QUIT", "END", "REVOKE", "CANCEL", "UNSUBSCRIBE"};
constexpr absl::string_view kOptOutKeyword = "OPT OUT";

// ---- State ----------------------------------------------------------------------

bool ThirdPartyMatches(absl::string_view stored, absl::string_view asked) {
  return absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(stored),
                                absl::StripAsciiWhitespace(asked));
}

bool RequiresWrittenConsent(ConsentChannel channel) {
  return channel == ConsentChannel::kSms || channel == ConsentChannel::kAutodialedVoice;
}

// The moment a grant counts from: when the person consented, capped at when it was
// recorded (a form's clock may run ahead of ours).
absl::Time GrantTime(const ConsentEvent& event) {
  const absl::Time captured = event.evidence.captured_at;
  if (captured == absl::InfinitePast() || captured == absl::UnixEpoch()) return event.at;
  return std::min(captured, event.at);
}

}  // namespace

absl::string_view ConsentChannelName(ConsentChannel c) { return NameIn(kChannelNames, c); }
std::optional<ConsentChannel> ParseConsentChannel(absl::string_view name) {
  return ParseIn(kChannelNames, name);
}
absl::string_view ConsentPurposeName(ConsentPurpose p) { return NameIn(kPurposeNames, p); }
std::optional<ConsentPurpose> ParseConsentPurpose(absl::string_view name) {
  return ParseIn(kPurposeNames, name);
}
absl::string_view ConsentActionName(ConsentAction a) { return NameIn(kActionNames, a); }
absl::string_view RevocationMethodName(RevocationMethod m) { return NameIn(kMethodNames, m); }
std::optional<RevocationMethod> ParseRevocationMethod(absl::string_view name) {
  return ParseIn(kMethodNames, name);
}
absl::string_view TcpaElementName(TcpaElement e) { return NameIn(kElementNames, e); }
absl::string_view ConsentReasonName(ConsentReason r) { return NameIn(kReasonNames, r); }

absl::Status NormalizeConsentEvidence(ConsentEvidence& evidence, absl::Time now) {
  // Everything is normalized into locals first so that `evidence` is untouched on error.
  const absl::Time captured_at = evidence.captured_at;
  if (captured_at == absl::InfinitePast() || captured_at == absl::UnixEpoch()) {
    return Invalid(kCapturedAtField, "is required");
  }
  if (captured_at > now + kMaxConsentCaptureSkew) {
    return Invalid(kCapturedAtField, "must not be more than 5 minutes in the future");
  }
  if (captured_at < now - kMaxConsentCaptureAge) {
    return Invalid(kCapturedAtField, "must not be more than 1 year old");
  }

  std::string source_url;
  const absl::string_view url = absl::StripAsciiWhitespace(evidence.source_url);
  if (!url.empty()) {
    if (url.size() > kMaxConsentUrlLength) {
      return Invalid(kSourceUrlField,
                     absl::StrCat("must be at most ", kMaxConsentUrlLength, " bytes"));
    }
    LV_ASSIGN_OR_RETURN(source_url, NormalizeSourceUrl(url));
  }

  LV_ASSIGN_OR_RETURN(const SecretBytes seller,
                      NormalizeText(kSellerNameField, evidence.seller_name, kMaxSellerNameLength,
                                    /*multiline=*/false));
  LV_ASSIGN_OR_RETURN(const absl::string_view version,
                      CheckPrintableAscii(kDisclosureVersionField, evidence.disclosure_version,
                                          kMaxDisclosureVersionLength, /*allow_space=*/true));
  std::string sha256;
  if (!absl::StripAsciiWhitespace(evidence.disclosure_sha256).empty()) {
    LV_ASSIGN_OR_RETURN(sha256, NormalizeSha256(evidence.disclosure_sha256));
  }
  LV_ASSIGN_OR_RETURN(const absl::string_view certificate,
                      CheckPrintableAscii(kCertificateField, evidence.capture_certificate_id,
                                          kMaxCaptureCertificateIdLength, /*allow_space=*/false));
  LV_ASSIGN_OR_RETURN(const absl::string_view user_agent,
                      CheckPrintableAscii(kUserAgentField, evidence.user_agent, kMaxUserAgentLength,
                                          /*allow_space=*/true));
  LV_ASSIGN_OR_RETURN(SecretBytes ip_address, NormalizeIpAddress(evidence.ip_address));

  // The views above point into `evidence`: copy them out before assigning.
  std::string seller_name(seller.view());
  std::string disclosure_version(version);
  std::string capture_certificate_id(certificate);
  std::string user_agent_text(user_agent);
  evidence.source_url = std::move(source_url);
  evidence.seller_name = std::move(seller_name);
  evidence.disclosure_version = std::move(disclosure_version);
  evidence.disclosure_sha256 = std::move(sha256);
  evidence.capture_certificate_id = std::move(capture_certificate_id);
  evidence.user_agent = std::move(user_agent_text);
  evidence.ip_address = std::move(ip_address);
  return absl::OkStatus();
}

std::vector<TcpaElement> MissingTcpaElements(const ConsentEvidence& evidence) {
  std::vector<TcpaElement> missing;
  for (TcpaElement element : kAllTcpaElements) {
    bool present = false;
    switch (element) {
      case TcpaElement::kSourceUrl:
        present = !evidence.source_url.empty();
        break;
      case TcpaElement::kSellerName:
        present = !evidence.seller_name.empty();
        break;
      case TcpaElement::kDisclosureVersion:
        present = !evidence.disclosure_version.empty();
        break;
      case TcpaElement::kDisclosureSha256:
        present = !evidence.disclosure_sha256.empty();
        break;
      case TcpaElement::kAuthorizesAutomated:
        present = evidence.authorizes_automated;
        break;
      case TcpaElement::kNotConditionOfPurchase:
        present = evidence.not_condition_of_purchase;
        break;
      case TcpaElement::kCaptureCertificateId:
        present = !evidence.capture_certificate_id.empty();
        break;
    }
    if (!present) missing.push_back(element);
  }
  return missing;
}

absl::Status NormalizeThirdParty(ConsentPurpose purpose, std::string& third_party) {
  if (std::find(kAllConsentPurposes.begin(), kAllConsentPurposes.end(), purpose) ==
      kAllConsentPurposes.end()) {
    return Invalid("consent.purpose", "unknown purpose");
  }
  LV_ASSIGN_OR_RETURN(const SecretBytes name,
                      NormalizeText(kThirdPartyField, third_party, kMaxThirdPartyLength,
                                    /*multiline=*/false));
  if (purpose == ConsentPurpose::kThirdPartySharing) {
    if (name.empty()) return Invalid(kThirdPartyField, "is required for third_party_sharing");
  } else if (!name.empty()) {
    return Invalid(kThirdPartyField, "must be empty unless the purpose is third_party_sharing");
  }
  third_party = absl::AsciiStrToLower(name.view());
  return absl::OkStatus();
}

std::optional<std::string> SmsStopKeyword(absl::string_view reply) {
  const absl::string_view text = TrimSmsSpace(reply);
  for (absl::string_view keyword : kSingleWordKeywords) {
    if (absl::EqualsIgnoreCase(text, keyword)) return std::string(keyword);
  }
  // "OPT OUT", "OPTOUT", "OPT-OUT", "OPT <any whitespace> OUT".
  if (text.size() >= 6 && absl::StartsWithIgnoreCase(text, "opt") &&
      absl::EndsWithIgnoreCase(text, "out")) {
    const absl::string_view between = text.substr(3, text.size() - 6);
    if (between.empty() || between == "-" || AllSmsSpace(between)) {
      return std::string(kOptOutKeyword);
    }
  }
  return std::nullopt;
}

void ConsentState::Apply(const ConsentEvent& event) {
  if (event.number <= last_number()) return;
  const absl::Time at = event.action == ConsentAction::kGrant ? GrantTime(event) : event.at;
  auto upsert = [&](ConsentChannel channel, ConsentPurpose purpose,
                    const std::string& third_party) {
    Latest latest{
        channel,
        purpose,
        third_party,
        event.action,
        at,
        event.number,
        event.action == ConsentAction::kGrant ? event.missing : std::vector<TcpaElement>()};
    for (Latest& entry : latest_) {
      if (entry.channel == channel && entry.purpose == purpose &&
          ThirdPartyMatches(entry.third_party, third_party)) {
        entry = std::move(latest);
        return;
      }
    }
    latest_.push_back(std::move(latest));
  };
  static const std::string kNoParty;
  for (ConsentChannel channel : event.channels) {
    for (ConsentPurpose purpose : event.purposes) {
      if (purpose != ConsentPurpose::kThirdPartySharing) {
        upsert(channel, purpose, kNoParty);
        continue;
      }
      for (const std::string& party : event.third_parties) upsert(channel, purpose, party);
    }
  }
}

ConsentDecision ConsentState::Decide(ConsentChannel channel, ConsentPurpose purpose,
                                     absl::string_view third_party,
                                     std::optional<absl::Time> suppressed_at) const {
  ConsentDecision decision;
  const Latest* found = nullptr;
  for (const Latest& entry : latest_) {
    if (entry.channel == channel && entry.purpose == purpose &&
        ThirdPartyMatches(entry.third_party, third_party)) {
      found = &entry;
      break;
    }
  }
  if (found == nullptr) {
    decision.reason = ConsentReason::kNoConsent;
    return decision;
  }
  decision.event_number = found->number;
  if (found->action == ConsentAction::kRevoke) {
    decision.reason = ConsentReason::kRevoked;
    decision.at = found->at;
    return decision;
  }
  if (RequiresWrittenConsent(channel) && !found->missing.empty()) {
    decision.reason = ConsentReason::kIncomplete;
    decision.missing = found->missing;
    return decision;
  }
  if (suppressed_at.has_value() && found->at <= *suppressed_at) {
    decision.reason = ConsentReason::kSuppressed;
    decision.at = *suppressed_at;
    return decision;
  }
  decision.allowed = true;
  decision.reason = ConsentReason::kActive;
  decision.granted_at = found->at;
  return decision;
}

ConsentState ConsentState::FromLatest(std::vector<Latest> latest) {
  ConsentState state;
  state.latest_ = std::move(latest);
  return state;
}

uint32_t ConsentState::last_number() const {
  uint32_t last = 0;
  for (const Latest& entry : latest_) last = std::max(last, entry.number);
  return last;
}

size_t ConsentState::third_parties() const {
  std::vector<absl::string_view> names;
  for (const Latest& entry : latest_) {
    if (entry.purpose != ConsentPurpose::kThirdPartySharing) continue;
    const bool seen = std::any_of(names.begin(), names.end(), [&](absl::string_view name) {
      return ThirdPartyMatches(name, entry.third_party);
    });
    if (!seen) names.push_back(entry.third_party);
  }
  return names.size();
}

absl::Status NormalizeConsentGrant(ConsentGrant& grant, absl::Time now) {
  if (grant.channels.empty() || grant.channels.size() > kAllConsentChannels.size()) {
    return absl::InvalidArgumentError("consent.channels: 1 to 4 channels are required");
  }
  for (size_t i = 0; i < grant.channels.size(); ++i) {
    if (ConsentChannelName(grant.channels[i]) == "unknown") {
      return absl::InvalidArgumentError("consent.channels: unknown channel");
    }
    for (size_t j = 0; j < i; ++j) {
      if (grant.channels[j] == grant.channels[i]) {
        return absl::InvalidArgumentError("consent.channels: each channel at most once");
      }
    }
  }
  if (grant.purposes.empty() || grant.purposes.size() > kAllConsentPurposes.size()) {
    return absl::InvalidArgumentError("consent.purposes: 1 to 4 purposes are required");
  }
  bool sharing = false;
  for (size_t i = 0; i < grant.purposes.size(); ++i) {
    if (ConsentPurposeName(grant.purposes[i]) == "unknown") {
      return absl::InvalidArgumentError("consent.purposes: unknown purpose");
    }
    for (size_t j = 0; j < i; ++j) {
      if (grant.purposes[j] == grant.purposes[i]) {
        return absl::InvalidArgumentError("consent.purposes: each purpose at most once");
      }
    }
    sharing = sharing || grant.purposes[i] == ConsentPurpose::kThirdPartySharing;
  }
  if (absl::Status s = NormalizeThirdParty(
          sharing ? ConsentPurpose::kThirdPartySharing : ConsentPurpose::kScheduling,
          grant.third_party);
      !s.ok()) {
    return s;
  }
  LV_RETURN_IF_ERROR(NormalizeConsentEvidence(grant.evidence, now));
  std::sort(grant.channels.begin(), grant.channels.end());
  std::sort(grant.purposes.begin(), grant.purposes.end());
  return absl::OkStatus();
}

ConsentEvent GrantEvent(const ConsentGrant& grant, const std::string& principal_id, absl::Time at) {
  ConsentEvent e;
  e.at = at;
  e.recorded_by = principal_id;
  e.action = ConsentAction::kGrant;
  e.channels = grant.channels;
  e.purposes = grant.purposes;
  if (!grant.third_party.empty()) e.third_parties.push_back(grant.third_party);
  const ConsentEvidence& v = grant.evidence;
  e.evidence.captured_at = v.captured_at;
  e.evidence.source_url = v.source_url;
  e.evidence.seller_name = v.seller_name;
  e.evidence.disclosure_version = v.disclosure_version;
  e.evidence.disclosure_sha256 = v.disclosure_sha256;
  e.evidence.authorizes_automated = v.authorizes_automated;
  e.evidence.not_condition_of_purchase = v.not_condition_of_purchase;
  e.evidence.capture_certificate_id = v.capture_certificate_id;
  e.evidence.user_agent = v.user_agent;
  e.evidence.ip_address = keys::SecretBytes::CopyFrom(v.ip_address.view());
  return e;
}

uint32_t ActiveConsentChannels(const ConsentState& state) {
  uint32_t bits = 0;
  for (ConsentChannel channel : kAllConsentChannels) {
    for (ConsentPurpose purpose : {ConsentPurpose::kScheduling, ConsentPurpose::kTreatmentFollowUp,
                                   ConsentPurpose::kMarketing}) {
      if (state.Decide(channel, purpose, "", std::nullopt).allowed) {
        bits |= 1u << static_cast<int>(channel);
      }
    }
  }
  return bits;
}

}  // namespace leadvault::vault
