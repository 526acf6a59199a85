#include "vault/consent.h"

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "keys/secret_bytes.h"

namespace leadvault::vault {
namespace {

using ::leadvault::keys::SecretBytes;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A fixed "now": tests never read the wall clock.
const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2026, 11, 29, 12, 0, 0), absl::UTCTimeZone());

// Placed inside every bad value: an error message must never contain it.
constexpr absl::string_view kCanary = "CANARY-7731";
// Shortest run of input bytes that may not appear in an error message.
constexpr size_t kEchoWindow = 6;

constexpr absl::string_view kSha =
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

// Complete, already normalized evidence.
ConsentEvidence CompleteEvidence() {
  ConsentEvidence e;
  e.captured_at = kNow - absl::Minutes(3);
  e.source_url = "https://clinic.example.com/consult";
  e.seller_name = "Example Orthopedics";
  e.disclosure_version = "2026-01 v3";
  e.disclosure_sha256 = std::string(kSha);
  e.authorizes_automated = true;
  e.not_condition_of_purchase = true;
  e.capture_certificate_id = "https://cert.trustedform.com/0123456789abcdef0123456789abcdef";
  e.user_agent = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0";
  e.ip_address = SecretBytes::CopyFrom("192.0.2.44");
  return e;
}

// ---- Names ----------------------------------------------------------------------

TEST(ConsentNamesTest, ChannelsRoundTripAndMatchTheContract) {
  const std::vector<std::pair<ConsentChannel, std::string>> want = {
      {ConsentChannel::kEmail, "email"},
      {ConsentChannel::kSms, "sms"},
      {ConsentChannel::kVoice, "voice"},
      {ConsentChannel::kAutodialedVoice, "autodialed_voice"}};
  ASSERT_EQ(kAllConsentChannels.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(kAllConsentChannels[i], want[i].first);
    EXPECT_EQ(ConsentChannelName(want[i].first), want[i].second);
    EXPECT_EQ(ParseConsentChannel(want[i].second), want[i].first);
  }
  EXPECT_EQ(static_cast<int>(ConsentChannel::kEmail), 1);
  EXPECT_EQ(static_cast<int>(ConsentChannel::kAutodialedVoice), 4);
}

TEST(ConsentNamesTest, PurposesRoundTripAndMatchTheContract) {
  const std::vector<std::pair<ConsentPurpose, std::string>> want = {
      {ConsentPurpose::kScheduling, "scheduling"},
      {ConsentPurpose::kTreatmentFollowUp, "treatment_follow_up"},
      {ConsentPurpose::kMarketing, "marketing"},
      {ConsentPurpose::kThirdPartySharing, "third_party_sharing"}};
  ASSERT_EQ(kAllConsentPurposes.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(kAllConsentPurposes[i], want[i].first);
    EXPECT_EQ(ConsentPurposeName(want[i].first), want[i].second);
    EXPECT_EQ(ParseConsentPurpose(want[i].second), want[i].first);
  }
}

TEST(ConsentNamesTest, RevocationMethodsRoundTripAndMatchTheContract) {
  const std::vector<std::pair<RevocationMethod, std::string>> want = {
      {RevocationMethod::kIntakeCall, "intake_call"},
      {RevocationMethod::kSmsReply, "sms_reply"},
      {RevocationMethod::kEmailUnsubscribe, "email_unsubscribe"},
      {RevocationMethod::kPreferencePage, "preference_page"},
      {RevocationMethod::kOther, "other"}};
  for (const auto& [method, name] : want) {
    EXPECT_EQ(RevocationMethodName(method), name);
    EXPECT_EQ(ParseRevocationMethod(name), method);
  }
}

TEST(ConsentNamesTest, ActionsElementsAndReasonsMatchTheContract) {
  EXPECT_EQ(ConsentActionName(ConsentAction::kGrant), "grant");
  EXPECT_EQ(ConsentActionName(ConsentAction::kRevoke), "revoke");

  const std::vector<std::string> elements = {"source_url",
                                             "seller_name",
                                             "disclosure_version",
                                             "disclosure_sha256",
                                             "authorizes_automated",
                                             "not_condition_of_purchase",
                                             "capture_certificate_id"};
  ASSERT_EQ(kAllTcpaElements.size(), elements.size());
  for (size_t i = 0; i < elements.size(); ++i) {
    EXPECT_EQ(static_cast<size_t>(kAllTcpaElements[i]), i) << "kAllTcpaElements is in enum order";
    EXPECT_EQ(TcpaElementName(kAllTcpaElements[i]), elements[i]);
  }

  EXPECT_EQ(ConsentReasonName(ConsentReason::kActive), "active");
  EXPECT_EQ(ConsentReasonName(ConsentReason::kNoConsent), "no_consent");
  EXPECT_EQ(ConsentReasonName(ConsentReason::kRevoked), "revoked");
  EXPECT_EQ(ConsentReasonName(ConsentReason::kIncomplete), "incomplete");
  EXPECT_EQ(ConsentReasonName(ConsentReason::kSuppressed), "suppressed");
}

TEST(ConsentNamesTest, UnknownNamesDoNotParse) {
  for (absl::string_view name :
       {"", "unknown", "Email", "EMAIL", "sms ", " voice", "autodialed-voice", "phone"}) {
    EXPECT_EQ(ParseConsentChannel(name), std::nullopt) << name;
  }
  for (absl::string_view name :
       {"", "unknown", "Marketing", "treatment-follow-up", "third_party", "sharing"}) {
    EXPECT_EQ(ParseConsentPurpose(name), std::nullopt) << name;
  }
  for (absl::string_view name : {"", "unknown", "SMS_REPLY", "sms", "intake call"}) {
    EXPECT_EQ(ParseRevocationMethod(name), std::nullopt) << name;
  }
}

TEST(ConsentNamesTest, ValuesOutsideTheEnumsAreNamedUnknown) {
  EXPECT_EQ(ConsentChannelName(static_cast<ConsentChannel>(0)), "unknown");
  EXPECT_EQ(ConsentPurposeName(static_cast<ConsentPurpose>(99)), "unknown");
  EXPECT_EQ(TcpaElementName(static_cast<TcpaElement>(42)), "unknown");
}

// ---- Missing TCPA elements -------------------------------------------------------

TEST(MissingTcpaElementsTest, CompleteEvidenceMissesNothing) {
  ConsentEvidence e = CompleteEvidence();
  EXPECT_THAT(MissingTcpaElements(e), IsEmpty());
  ASSERT_TRUE(NormalizeConsentEvidence(e, kNow).ok());
  EXPECT_THAT(MissingTcpaElements(e), IsEmpty());
}

TEST(MissingTcpaElementsTest, EachElementClearedInTurnIsExactlyWhatIsMissing) {
  struct Case {
    TcpaElement element;
    std::function<void(ConsentEvidence&)> clear;
  };
  const std::vector<Case> cases = {
      {TcpaElement::kSourceUrl, [](ConsentEvidence& e) { e.source_url = "  "; }},
      {TcpaElement::kSellerName, [](ConsentEvidence& e) { e.seller_name = ""; }},
      {TcpaElement::kDisclosureVersion, [](ConsentEvidence& e) { e.disclosure_version = "\t"; }},
      {TcpaElement::kDisclosureSha256, [](ConsentEvidence& e) { e.disclosure_sha256 = ""; }},
      {TcpaElement::kAuthorizesAutomated,
       [](ConsentEvidence& e) { e.authorizes_automated = false; }},
      {TcpaElement::kNotConditionOfPurchase,
       [](ConsentEvidence& e) { e.not_condition_of_purchase = false; }},
      {TcpaElement::kCaptureCertificateId,
       [](ConsentEvidence& e) { e.capture_certificate_id = " "; }},
  };
  ASSERT_EQ(cases.size(), kAllTcpaElements.size()) << "every element has a case";
  for (const Case& c : cases) {
    SCOPED_TRACE(TcpaElementName(c.element));
    ConsentEvidence e = CompleteEvidence();
    c.clear(e);
    // Whitespace-only fields are absent once normalized, not errors.
    ASSERT_TRUE(NormalizeConsentEvidence(e, kNow).ok());
    EXPECT_THAT(MissingTcpaElements(e), ElementsAre(c.element));
  }
}

TEST(MissingTcpaElementsTest, EmptyEvidenceMissesEverythingInEnumOrder) {
  ConsentEvidence e;
  e.captured_at = kNow;
  ASSERT_TRUE(NormalizeConsentEvidence(e, kNow).ok());
  const std::vector<TcpaElement> missing = MissingTcpaElements(e);
  EXPECT_EQ(missing, std::vector<TcpaElement>(kAllTcpaElements.begin(), kAllTcpaElements.end()));
}

// ---- NormalizeConsentEvidence ----------------------------------------------------

// A rejection is INVALID_ARGUMENT naming `field` first, and echoes neither the
// canary, the value, nor any run of kEchoWindow of its bytes.
void ExpectRejectedWithoutEcho(const absl::Status& status, absl::string_view field,
                               absl::string_view value) {
  SCOPED_TRACE(absl::StrCat("value \"", absl::CHexEscape(value), "\""));
  ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  const absl::string_view message = status.message();
  EXPECT_TRUE(absl::StartsWith(message, absl::StrCat(field, ": "))) << message;
  EXPECT_FALSE(absl::StrContains(message, kCanary)) << message;
  const absl::string_view trimmed = absl::StripAsciiWhitespace(value);
  for (size_t i = 0; i + kEchoWindow <= trimmed.size(); ++i) {
    EXPECT_FALSE(absl::StrContains(message, trimmed.substr(i, kEchoWindow)))
        << "message echoes part of the value at offset " << i << ": " << message;
  }
}

struct BadCase {
  std::string field;  // after "consent.evidence."
  std::string value;  // set into that field
};

void SetField(ConsentEvidence& e, absl::string_view field, const std::string& value) {
  if (field == "source_url") {
    e.source_url = value;
  } else if (field == "seller_name") {
    e.seller_name = value;
  } else if (field == "disclosure_version") {
    e.disclosure_version = value;
  } else if (field == "disclosure_sha256") {
    e.disclosure_sha256 = value;
  } else if (field == "capture_certificate_id") {
    e.capture_certificate_id = value;
  } else if (field == "user_agent") {
    e.user_agent = value;
  } else if (field == "ip_address") {
    e.ip_address = SecretBytes::CopyFrom(value);
  } else {
    FAIL() << "no such field " << field;
  }
}

TEST(NormalizeConsentEvidenceTest, EachBadFormOfEachFieldIsNamedWithoutEcho) {
  const std::string c(kCanary);
  const std::vector<BadCase> cases = {
      {"source_url", "ftp://" + c + ".example.com/form"},
      {"source_url", "javascript:" + c},
      {"source_url", c + ".example.com/form"},
      {"source_url", "https://?" + c},
      {"source_url", "https:///path/" + c},
      {"source_url", "https://" + c + ".example.com:99999999/"},
      {"source_url", "https://" + c + ".example.com:port/"},
      {"source_url", "https://" + c + ".example.com/a b"},
      {"source_url", "https://" + c + ".example.com/\x01"},
      {"source_url", "https://" + c + ".example.com/\xff"},
      {"source_url", "https://" + c + ".example.com/" + std::string(2049, 'p')},
      {"seller_name", c + std::string(201 - c.size(), 's')},
      {"seller_name", c + "\x01"},
      {"seller_name", c + "\n" + c},
      {"seller_name", c + "\xc3"},
      {"seller_name", c + "\xe2\x80\xae"},  // Right-to-left override.
      {"disclosure_version", c + std::string(65 - c.size(), 'v')},
      {"disclosure_version", c + "\t2"},
      {"disclosure_version", c + "\x7f"},
      {"disclosure_version", c + "\xc3\xa9"},
      {"disclosure_sha256", c},
      {"disclosure_sha256", std::string(kSha.substr(1))},
      {"disclosure_sha256", std::string(kSha) + "0"},
      {"disclosure_sha256", std::string(kSha.substr(0, 63)) + "g"},
      {"disclosure_sha256", c + std::string(kSha.substr(c.size()))},
      {"disclosure_sha256", std::string(kSha.substr(0, 32)) + " " + std::string(kSha.substr(32))},
      {"capture_certificate_id", "https://cert.trustedform.com/" + c + " x"},
      {"capture_certificate_id", "https://cert.trustedform.com/" + c + "\tx"},
      {"capture_certificate_id", c + std::string(257 - c.size(), 'i')},
      {"capture_certificate_id", c + "\xc3\xa9"},
      {"capture_certificate_id", c + "\x01"},
      {"user_agent", c + std::string(513 - c.size(), 'u')},
      {"user_agent", "Mozilla/5.0 " + c + "\x01"},
      {"user_agent", "Mozilla/5.0 " + c + "\n(X11)"},
      {"user_agent", "Mozilla/5.0 " + c + "\xc3\xa9"},
      {"ip_address", "10.0.0." + c},
      {"ip_address", c},
      {"ip_address", "256.1.1.1"},
      {"ip_address", "198.51.100"},
      {"ip_address", "198.51.100.7.9"},
      {"ip_address", "198.51.100.7/24"},
      {"ip_address", "2001:db8::g"},
      {"ip_address", "2001:db8::1::2"},
      {"ip_address", "fe80::1%eth0"},
      {"ip_address", std::string("198.51.100.7\0", 13) + c},
      {"ip_address", "2001:0db8:0000:0000:0000:0000:0000:0001:" + c},
  };
  for (const BadCase& bad : cases) {
    const std::string field = absl::StrCat("consent.evidence.", bad.field);
    SCOPED_TRACE(field);
    ConsentEvidence e = CompleteEvidence();
    // A field the case does not touch holds an unnormalized value: it must survive.
    const bool on_seller = bad.field == "seller_name";
    std::string& sentinel = on_seller ? e.disclosure_version : e.seller_name;
    sentinel = "  untrimmed  ";
    SetField(e, bad.field, bad.value);
    ExpectRejectedWithoutEcho(NormalizeConsentEvidence(e, kNow), field, bad.value);
    EXPECT_EQ(sentinel, "  untrimmed  ") << "evidence is unchanged on error";
    EXPECT_EQ(e.ip_address.view(), bad.field == "ip_address" ? bad.value : "192.0.2.44");
  }
}

TEST(NormalizeConsentEvidenceTest, CapturedAtIsRequiredAndWithinAYearAndFiveMinutes) {
  const std::vector<absl::Time> bad = {
      absl::UnixEpoch(),
      absl::InfinitePast(),
      absl::InfiniteFuture(),
      kNow + absl::Minutes(5) + absl::Seconds(1),
      kNow - absl::Hours(24 * 365) - absl::Seconds(1),
  };
  for (absl::Time t : bad) {
    ConsentEvidence e = CompleteEvidence();
    e.captured_at = t;
    const absl::Status status = NormalizeConsentEvidence(e, kNow);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << t;
    EXPECT_TRUE(absl::StartsWith(status.message(), "consent.evidence.captured_at: ")) << status;
  }
  const std::vector<absl::Time> good = {kNow, kNow + absl::Minutes(5),
                                        kNow - absl::Hours(24 * 365)};
  for (absl::Time t : good) {
    ConsentEvidence e = CompleteEvidence();
    e.captured_at = t;
    EXPECT_TRUE(NormalizeConsentEvidence(e, kNow).ok()) << t;
    EXPECT_EQ(e.captured_at, t);
  }
}

TEST(NormalizeConsentEvidenceTest, SourceUrlLosesQueryAndFragment) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"https://Clinic.Example.COM/consult?email=CANARY-7731%40example.com#top",
       "https://clinic.example.com/consult"},
      {"http://clinic.example.com?phone=CANARY-7731", "http://clinic.example.com"},
      {"HTTPS://clinic.example.com:8443/a/b#CANARY-7731", "https://clinic.example.com:8443/a/b"},
      {"  https://clinic.example.com/consult  ", "https://clinic.example.com/consult"},
  };
  for (const auto& [in, want] : cases) {
    ConsentEvidence e = CompleteEvidence();
    e.source_url = in;
    ASSERT_TRUE(NormalizeConsentEvidence(e, kNow).ok()) << in;
    EXPECT_EQ(e.source_url, want);
  }
}

TEST(NormalizeConsentEvidenceTest, TrimsTextAndLowerCasesTheSha) {
  ConsentEvidence e = CompleteEvidence();
  e.seller_name = " \tExample Orthopedics\n";
  e.disclosure_version = "  2026-01 v3 ";
  e.disclosure_sha256 = absl::AsciiStrToUpper(kSha);
  e.capture_certificate_id = " https://cert.trustedform.com/abc?x=1&y=2 ";
  e.user_agent = " Mozilla/5.0 (X11) ";
  ASSERT_TRUE(NormalizeConsentEvidence(e, kNow).ok());
  EXPECT_EQ(e.seller_name, "Example Orthopedics");
  EXPECT_EQ(e.disclosure_version, "2026-01 v3");
  EXPECT_EQ(e.disclosure_sha256, kSha);
  EXPECT_EQ(e.capture_certificate_id, "https://cert.trustedform.com/abc?x=1&y=2");
  EXPECT_EQ(e.user_agent, "Mozilla/5.0 (X11)");
}

TEST(NormalizeConsentEvidenceTest, LimitsAreInclusive) {
  ConsentEvidence e = CompleteEvidence();
  e.seller_name = std::string(kMaxSellerNameLength, 's');
  e.disclosure_version = std::string(kMaxDisclosureVersionLength, 'v');
  e.capture_certificate_id = std::string(kMaxCaptureCertificateIdLength, 'i');
  e.user_agent = std::string(kMaxUserAgentLength, 'u');
  const std::string prefix = "https://clinic.example.com/";
  e.source_url = prefix + std::string(kMaxConsentUrlLength - prefix.size(), 'p');
  EXPECT_TRUE(NormalizeConsentEvidence(e, kNow).ok());
}

TEST(NormalizeConsentEvidenceTest, IpAddressesTakeTheirCanonicalForm) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"192.0.2.44", "192.0.2.44"},
      {" 198.51.100.7\n", "198.51.100.7"},
      {"2001:DB8:0:0:0:0:0:1", "2001:db8::1"},
      {"2001:0db8:0000:0000:0000:ff00:0042:8329", "2001:db8::ff00:42:8329"},
      {"0:0:0:0:0:0:0:1", "::1"},
      {"::FFFF:192.0.2.1", "::ffff:192.0.2.1"},
  };
  for (const auto& [in, want] : cases) {
    ConsentEvidence e = CompleteEvidence();
    e.ip_address = SecretBytes::CopyFrom(in);
    ASSERT_TRUE(NormalizeConsentEvidence(e, kNow).ok()) << in;
    EXPECT_EQ(e.ip_address.view(), want);
  }
}

TEST(NormalizeConsentEvidenceTest, OnlyCapturedAtIsRequired) {
  ConsentEvidence e;
  e.captured_at = kNow;
  EXPECT_TRUE(NormalizeConsentEvidence(e, kNow).ok());
  EXPECT_TRUE(e.ip_address.empty());
  EXPECT_TRUE(e.source_url.empty());
}

// ---- NormalizeThirdParty ---------------------------------------------------------

TEST(NormalizeThirdPartyTest, SharingRequiresANameOthersForbidOne) {
  std::string name = "  Acme Health PARTNERS\t";
  ASSERT_TRUE(NormalizeThirdParty(ConsentPurpose::kThirdPartySharing, name).ok());
  EXPECT_EQ(name, "acme health partners");

  for (std::string empty : {"", "   "}) {
    const absl::Status status = NormalizeThirdParty(ConsentPurpose::kThirdPartySharing, empty);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StartsWith(status.message(), "consent.third_party: ")) << status;
  }
  for (ConsentPurpose purpose : {ConsentPurpose::kScheduling, ConsentPurpose::kTreatmentFollowUp,
                                 ConsentPurpose::kMarketing}) {
    std::string none = " ";
    EXPECT_TRUE(NormalizeThirdParty(purpose, none).ok());
    EXPECT_EQ(none, "");
    std::string named = std::string(kCanary) + " Labs";
    ExpectRejectedWithoutEcho(NormalizeThirdParty(purpose, named), "consent.third_party",
                              std::string(kCanary) + " Labs");
    EXPECT_EQ(named, std::string(kCanary) + " Labs") << "unchanged on error";
  }
}

TEST(NormalizeThirdPartyTest, BadNamesAreRefusedWithoutEcho) {
  const std::string c(kCanary);
  for (const std::string& bad : {c + std::string(kMaxThirdPartyLength + 1 - c.size(), 'n'),
                                 c + "\x01", c + "\xff", c + "\xe2\x80\xae"}) {
    std::string name = bad;
    ExpectRejectedWithoutEcho(NormalizeThirdParty(ConsentPurpose::kThirdPartySharing, name),
                              "consent.third_party", bad);
  }
  std::string name = "Acme";
  const absl::Status status = NormalizeThirdParty(static_cast<ConsentPurpose>(9), name);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(status.message(), "consent.purpose: ")) << status;
}

// ---- SmsStopKeyword --------------------------------------------------------------

// "sToP": upper and lower case alternating, starting lower.
std::string MixedCase(absl::string_view s) {
  std::string out(s);
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = i % 2 == 0 ? absl::ascii_tolower(out[i]) : absl::ascii_toupper(out[i]);
  }
  return out;
}

TEST(SmsStopKeywordTest, EveryKeywordInEveryCaseWithSurroundingWhitespace) {
  const std::vector<std::string> keywords = {"STOP",   "QUIT",    "END",        "REVOKE",
                                             "CANCEL", "OPT OUT", "UNSUBSCRIBE"};
  const std::vector<std::pair<std::string, std::string>> around = {{"", ""},
                                                                   {" ", " "},
                                                                   {"\t", "\n"},
                                                                   {"\r\n", "\r\n"},
                                                                   {"  \t", ""},
                                                                   {"", " \n\t "},
                                                                   {"\xC2\xA0", "\xC2\xA0"},
                                                                   {" \xC2\xA0 ", "\n"}};
  for (const std::string& keyword : keywords) {
    for (const std::string& form : {keyword, absl::AsciiStrToLower(keyword), MixedCase(keyword)}) {
      for (const auto& [before, after] : around) {
        const std::string reply = before + form + after;
        EXPECT_EQ(SmsStopKeyword(reply), keyword) << absl::CHexEscape(reply);
      }
    }
  }
}

TEST(SmsStopKeywordTest, OptOutSpellings) {
  for (absl::string_view reply :
       {"opt out", "opt   out", "OPT\tOUT", "Opt \n Out", "OPT\xC2\xA0OUT", "OPT-OUT", "opt-out",
        "optout", "OptOut", " OPTOUT\n"}) {
    EXPECT_EQ(SmsStopKeyword(reply), "OPT OUT") << absl::CHexEscape(reply);
  }
}

TEST(SmsStopKeywordTest, FreeTextIsNotAKeyword) {
  for (absl::string_view reply :
       {"please stop texting me", "STOP IT", "", "   ", "\xC2\xA0", "stopp", "S T O P", "STOP.",
        "stop!", "opt in", "OPT - OUT", "OPT--OUT", "opt_out", "optout now", "unsubscribe me",
        "ENDING", "the end", "\xEF\xBC\xB3TOP" /* fullwidth S */}) {
    EXPECT_EQ(SmsStopKeyword(reply), std::nullopt) << absl::CHexEscape(reply);
  }
}

// ---- ConsentState ----------------------------------------------------------------

const absl::Time kT0 = kNow - absl::Hours(24);

ConsentEvent Grant(uint32_t number, absl::Time at, ConsentChannel channel, ConsentPurpose purpose,
                   std::string third_party = "", std::vector<TcpaElement> missing = {}) {
  ConsentEvent event;
  event.number = number;
  event.at = at;
  event.recorded_by = "intake-1";
  event.action = ConsentAction::kGrant;
  event.channels = {channel};
  event.purposes = {purpose};
  if (!third_party.empty()) event.third_parties = {std::move(third_party)};
  event.evidence.captured_at = at;
  event.missing = std::move(missing);
  return event;
}

ConsentEvent Revoke(uint32_t number, absl::Time at, ConsentChannel channel, ConsentPurpose purpose,
                    std::string third_party = "") {
  ConsentEvent event;
  event.number = number;
  event.at = at;
  event.recorded_by = "intake-1";
  event.action = ConsentAction::kRevoke;
  event.channels = {channel};
  event.purposes = {purpose};
  if (!third_party.empty()) event.third_parties = {std::move(third_party)};
  event.method = RevocationMethod::kSmsReply;
  event.method_detail = "keyword:STOP";
  return event;
}

ConsentDecision Decide(const ConsentState& state, ConsentChannel channel, ConsentPurpose purpose,
                       absl::string_view third_party = "",
                       std::optional<absl::Time> suppressed_at = std::nullopt) {
  return state.Decide(channel, purpose, third_party, suppressed_at);
}

constexpr ConsentChannel kEmail = ConsentChannel::kEmail;
constexpr ConsentChannel kSms = ConsentChannel::kSms;
constexpr ConsentChannel kVoice = ConsentChannel::kVoice;
constexpr ConsentChannel kAuto = ConsentChannel::kAutodialedVoice;
constexpr ConsentPurpose kMarketing = ConsentPurpose::kMarketing;
constexpr ConsentPurpose kScheduling = ConsentPurpose::kScheduling;
constexpr ConsentPurpose kSharing = ConsentPurpose::kThirdPartySharing;

TEST(ConsentStateTest, EmptyLedgerHasNoConsent) {
  const ConsentState state;
  const ConsentDecision d = Decide(state, kSms, kMarketing);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, ConsentReason::kNoConsent);
  EXPECT_EQ(d.event_number, 0u);
  EXPECT_EQ(state.last_number(), 0u);
}

TEST(ConsentStateTest, GrantThenActive) {
  ConsentState state;
  state.Apply(Grant(1, kT0, kSms, kMarketing));
  const ConsentDecision d = Decide(state, kSms, kMarketing);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.reason, ConsentReason::kActive);
  EXPECT_EQ(d.event_number, 1u);
}

TEST(ConsentStateTest, GrantRevokeIsRevokedAtTheRevocation) {
  ConsentState state;
  state.Apply(Grant(1, kT0, kSms, kMarketing));
  state.Apply(Revoke(2, kT0 + absl::Hours(1), kSms, kMarketing));
  const ConsentDecision d = Decide(state, kSms, kMarketing);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, ConsentReason::kRevoked);
  EXPECT_EQ(d.at, kT0 + absl::Hours(1));
  EXPECT_EQ(d.event_number, 2u);
}

TEST(ConsentStateTest, GrantRevokeRegrantIsActive) {
  ConsentState state;
  state.Apply(Grant(1, kT0, kSms, kMarketing));
  state.Apply(Revoke(2, kT0 + absl::Hours(1), kSms, kMarketing));
  state.Apply(Grant(3, kT0 + absl::Hours(2), kSms, kMarketing));
  const ConsentDecision d = Decide(state, kSms, kMarketing);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.reason, ConsentReason::kActive);
  EXPECT_EQ(d.event_number, 3u);
  EXPECT_EQ(state.latest().size(), 1u) << "one row per key";
  EXPECT_EQ(state.last_number(), 3u);
}

TEST(ConsentStateTest, ChannelsAndPurposesAreIndependent) {
  ConsentState state;
  state.Apply(Grant(1, kT0, kSms, kMarketing));
  state.Apply(Grant(2, kT0, kVoice, kMarketing));
  state.Apply(Grant(3, kT0, kSms, kScheduling));
  state.Apply(Revoke(4, kT0 + absl::Hours(1), kSms, kMarketing));
  EXPECT_EQ(Decide(state, kSms, kMarketing).reason, ConsentReason::kRevoked);
  EXPECT_EQ(Decide(state, kVoice, kMarketing).reason, ConsentReason::kActive);
  EXPECT_EQ(Decide(state, kSms, kScheduling).reason, ConsentReason::kActive);
  EXPECT_EQ(Decide(state, kEmail, kMarketing).reason, ConsentReason::kNoConsent);
  EXPECT_EQ(Decide(state, kVoice, kScheduling).reason, ConsentReason::kNoConsent);
}

TEST(ConsentStateTest, ThirdPartySharingIsKeyedByNormalizedName) {
  std::string acme = "Acme Health";
  std::string acme_again = "  ACME HEALTH ";
  std::string beta = "Beta Labs";
  ASSERT_TRUE(NormalizeThirdParty(kSharing, acme).ok());
  ASSERT_TRUE(NormalizeThirdParty(kSharing, acme_again).ok());
  ASSERT_TRUE(NormalizeThirdParty(kSharing, beta).ok());

  ConsentState state;
  state.Apply(Grant(1, kT0, kEmail, kSharing, acme));
  state.Apply(Grant(2, kT0, kEmail, kSharing, beta));
  state.Apply(Grant(3, kT0, kSms, kSharing, acme));
  EXPECT_EQ(state.third_parties(), 2u) << "distinct names, any channel";
  state.Apply(Revoke(4, kT0 + absl::Hours(1), kEmail, kSharing, acme_again));

  EXPECT_EQ(Decide(state, kEmail, kSharing, "acme health").reason, ConsentReason::kRevoked);
  EXPECT_EQ(Decide(state, kEmail, kSharing, " Acme Health ").reason, ConsentReason::kRevoked);
  EXPECT_EQ(Decide(state, kEmail, kSharing, "beta labs").reason, ConsentReason::kActive);
  EXPECT_EQ(Decide(state, kSms, kSharing, "acme health").reason, ConsentReason::kActive);
  EXPECT_EQ(Decide(state, kEmail, kSharing, "").reason, ConsentReason::kNoConsent);
  EXPECT_EQ(Decide(state, kEmail, kSharing, "gamma").reason, ConsentReason::kNoConsent);
  EXPECT_EQ(Decide(state, kEmail, kMarketing, "acme health").reason, ConsentReason::kNoConsent);
  EXPECT_EQ(state.third_parties(), 2u);
}

TEST(ConsentStateTest, IncompleteGrantNeverAllowsAutomatedContact) {
  const std::vector<TcpaElement> missing = {TcpaElement::kDisclosureSha256,
                                            TcpaElement::kCaptureCertificateId};
  ConsentState state;
  uint32_t number = 0;
  for (ConsentChannel channel : kAllConsentChannels) {
    state.Apply(Grant(++number, kT0, channel, kScheduling, "", missing));
  }
  for (ConsentChannel channel : {kSms, kAuto}) {
    const ConsentDecision d = Decide(state, channel, kScheduling);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.reason, ConsentReason::kIncomplete);
    EXPECT_EQ(d.missing, missing);
  }
  for (ConsentChannel channel : {kEmail, kVoice}) {
    const ConsentDecision d = Decide(state, channel, kScheduling);
    EXPECT_TRUE(d.allowed) << ConsentChannelName(channel);
    EXPECT_EQ(d.reason, ConsentReason::kActive);
    EXPECT_THAT(d.missing, IsEmpty());
  }
}

TEST(ConsentStateTest, SuppressionHoldsUntilAGrantStrictlyAfterIt) {
  const absl::Time suppressed = kT0 + absl::Hours(5);
  struct Case {
    absl::Time grant_at;
    ConsentReason want;
  };
  const std::vector<Case> cases = {
      {suppressed - absl::Hours(1), ConsentReason::kSuppressed},
      {suppressed, ConsentReason::kSuppressed},
      {suppressed + absl::Seconds(1), ConsentReason::kActive},
  };
  for (const Case& c : cases) {
    ConsentState state;
    state.Apply(Grant(1, c.grant_at, kSms, kMarketing));
    const ConsentDecision d = Decide(state, kSms, kMarketing, "", suppressed);
    EXPECT_EQ(d.reason, c.want) << c.grant_at;
    EXPECT_EQ(d.allowed, c.want == ConsentReason::kActive);
    if (c.want == ConsentReason::kSuppressed) {
      EXPECT_EQ(d.at, suppressed);
    }
    EXPECT_EQ(d.event_number, 1u);
  }
}

TEST(ConsentStateTest, AGrantCountsFromWhenItWasCapturedNotRecorded) {
  // Consent captured before the suppression but recorded after it (an old form
  // delivered late) is not fresh consent.
  const absl::Time suppressed = kT0 + absl::Hours(5);
  ConsentEvent late = Grant(1, suppressed + absl::Hours(1), kSms, kMarketing);
  late.evidence.captured_at = suppressed - absl::Minutes(1);
  ConsentState state;
  state.Apply(late);
  EXPECT_EQ(Decide(state, kSms, kMarketing, "", suppressed).reason, ConsentReason::kSuppressed);
  EXPECT_EQ(state.latest()[0].at, suppressed - absl::Minutes(1));

  // A form clock running ahead does not move the grant past its record time.
  ConsentEvent ahead = Grant(2, suppressed, kSms, kMarketing);
  ahead.evidence.captured_at = suppressed + absl::Minutes(4);
  state.Apply(ahead);
  EXPECT_EQ(Decide(state, kSms, kMarketing, "", suppressed).reason, ConsentReason::kSuppressed);
  EXPECT_EQ(state.latest()[0].at, suppressed);
}

TEST(ConsentStateTest, RevokedBeatsSuppressed) {
  ConsentState state;
  state.Apply(Grant(1, kT0, kSms, kMarketing));
  state.Apply(Revoke(2, kT0 + absl::Hours(1), kSms, kMarketing));
  const ConsentDecision d = Decide(state, kSms, kMarketing, "", kT0 + absl::Hours(2));
  EXPECT_EQ(d.reason, ConsentReason::kRevoked);
  EXPECT_EQ(d.at, kT0 + absl::Hours(1));
}

TEST(ConsentStateTest, OlderOrReplayedEventsAreIgnored) {
  ConsentState state;
  state.Apply(Grant(1, kT0, kSms, kMarketing));
  state.Apply(Revoke(2, kT0 + absl::Hours(1), kSms, kMarketing));
  state.Apply(Grant(2, kT0 + absl::Hours(2), kSms, kMarketing));  // Replayed number.
  state.Apply(Grant(1, kT0 + absl::Hours(3), kSms, kMarketing));  // Older number.
  state.Apply(Grant(0, kT0 + absl::Hours(3), kVoice, kMarketing));
  EXPECT_EQ(Decide(state, kSms, kMarketing).reason, ConsentReason::kRevoked);
  EXPECT_EQ(Decide(state, kVoice, kMarketing).reason, ConsentReason::kNoConsent);
  EXPECT_EQ(state.last_number(), 2u);
}

TEST(ConsentStateTest, OneEventCoversEachChannelForEachPurpose) {
  // One act of consent: email and sms, for scheduling and for sharing with two
  // parties; then one revocation of sms for everything it names.
  ConsentEvent grant = Grant(1, kT0, kEmail, kScheduling);
  grant.channels = {kEmail, kSms};
  grant.purposes = {kScheduling, kSharing};
  grant.third_parties = {"acme", "beta labs"};
  ConsentState state;
  state.Apply(grant);
  EXPECT_EQ(state.latest().size(), 6u);  // 2 channels x (scheduling + 2 parties)
  EXPECT_EQ(state.third_parties(), 2u);
  for (ConsentChannel channel : {kEmail, kSms}) {
    EXPECT_TRUE(Decide(state, channel, kScheduling).allowed);
    EXPECT_TRUE(Decide(state, channel, kSharing, "ACME").allowed);
    EXPECT_TRUE(Decide(state, channel, kSharing, "beta labs").allowed);
    EXPECT_EQ(Decide(state, channel, kSharing, "gamma").reason, ConsentReason::kNoConsent);
    EXPECT_EQ(Decide(state, channel, kMarketing).reason, ConsentReason::kNoConsent);
  }
  EXPECT_EQ(Decide(state, kVoice, kScheduling).reason, ConsentReason::kNoConsent);

  ConsentEvent revoke = Revoke(2, kT0 + absl::Hours(1), kSms, kScheduling);
  revoke.purposes = {kScheduling, kSharing};
  revoke.third_parties = {"acme"};
  state.Apply(revoke);
  EXPECT_EQ(state.latest().size(), 6u);
  EXPECT_EQ(Decide(state, kSms, kScheduling).reason, ConsentReason::kRevoked);
  EXPECT_EQ(Decide(state, kSms, kSharing, "acme").reason, ConsentReason::kRevoked);
  EXPECT_TRUE(Decide(state, kSms, kSharing, "beta labs").allowed);
  EXPECT_TRUE(Decide(state, kEmail, kScheduling).allowed);
  EXPECT_TRUE(Decide(state, kEmail, kSharing, "acme").allowed);
  EXPECT_EQ(Decide(state, kSms, kScheduling).event_number, 2u);
  EXPECT_EQ(Decide(state, kEmail, kScheduling).event_number, 1u);
}

TEST(ConsentGrantTest, GrantEventIsOneEventInEnumOrder) {
  ConsentGrant grant;
  grant.channels = {kVoice, kEmail, kSms};
  grant.purposes = {kSharing, kScheduling};
  grant.third_party = "  Acme Health ";
  grant.evidence.captured_at = kNow;
  grant.evidence.ip_address = keys::SecretBytes::CopyFrom("203.0.113.7");
  ASSERT_TRUE(NormalizeConsentGrant(grant, kNow).ok());
  const ConsentEvent e = GrantEvent(grant, "capture-1", kNow);
  EXPECT_EQ(e.action, ConsentAction::kGrant);
  EXPECT_EQ(e.channels, (std::vector<ConsentChannel>{kEmail, kSms, kVoice}));
  EXPECT_EQ(e.purposes, (std::vector<ConsentPurpose>{kScheduling, kSharing}));
  EXPECT_EQ(e.third_parties, (std::vector<std::string>{"acme health"}));
  EXPECT_EQ(e.recorded_by, "capture-1");
  EXPECT_EQ(e.at, kNow);
  EXPECT_EQ(e.evidence.captured_at, kNow);
  EXPECT_EQ(e.evidence.ip_address.view(), "203.0.113.7");

  grant.purposes = {kMarketing};
  grant.third_party.clear();
  EXPECT_TRUE(GrantEvent(grant, "capture-1", kNow).third_parties.empty());
}

TEST(ConsentStateTest, FromLatestDecidesLikeTheOriginal) {
  ConsentState state;
  state.Apply(Grant(1, kT0, kSms, kMarketing, "", {TcpaElement::kSellerName}));
  state.Apply(Grant(2, kT0, kEmail, kSharing, "acme"));
  state.Apply(Revoke(3, kT0 + absl::Hours(1), kVoice, kScheduling));
  state.Apply(Grant(4, kT0, kVoice, kMarketing));
  const ConsentState copy = ConsentState::FromLatest(state.latest());
  EXPECT_EQ(copy.last_number(), 4u);
  EXPECT_EQ(copy.third_parties(), 1u);
  for (ConsentChannel channel : kAllConsentChannels) {
    for (ConsentPurpose purpose : kAllConsentPurposes) {
      const absl::string_view party = purpose == kSharing ? "acme" : "";
      const ConsentDecision a = Decide(state, channel, purpose, party, kT0 - absl::Hours(1));
      const ConsentDecision b = Decide(copy, channel, purpose, party, kT0 - absl::Hours(1));
      EXPECT_EQ(a.reason, b.reason);
      EXPECT_EQ(a.allowed, b.allowed);
      EXPECT_EQ(a.at, b.at);
      EXPECT_EQ(a.missing, b.missing);
      EXPECT_EQ(a.event_number, b.event_number);
    }
  }
}

// The enforcement matrix: channel x purpose x ledger state. Every other key of the
// ledger holds the opposite of what the cell expects, so a decision that read the
// wrong key fails the cell.
enum class LedgerState { kNone, kActiveComplete, kActiveIncomplete, kRevoked, kSuppressed };

absl::string_view LedgerStateName(LedgerState s) {
  switch (s) {
    case LedgerState::kNone:
      return "none";
    case LedgerState::kActiveComplete:
      return "active_complete";
    case LedgerState::kActiveIncomplete:
      return "active_incomplete";
    case LedgerState::kRevoked:
      return "revoked";
    case LedgerState::kSuppressed:
      return "suppressed";
  }
  return "?";
}

struct MatrixRow {
  LedgerState state;
  ConsentChannel channel;
  ConsentReason want;  // the same for every purpose
};

constexpr ConsentReason kActiveR = ConsentReason::kActive;
constexpr ConsentReason kNoneR = ConsentReason::kNoConsent;
constexpr ConsentReason kRevokedR = ConsentReason::kRevoked;
constexpr ConsentReason kIncompleteR = ConsentReason::kIncomplete;
constexpr ConsentReason kSuppressedR = ConsentReason::kSuppressed;

const std::vector<MatrixRow> kMatrix = {
    {LedgerState::kNone, kEmail, kNoneR},
    {LedgerState::kNone, kSms, kNoneR},
    {LedgerState::kNone, kVoice, kNoneR},
    {LedgerState::kNone, kAuto, kNoneR},
    {LedgerState::kActiveComplete, kEmail, kActiveR},
    {LedgerState::kActiveComplete, kSms, kActiveR},
    {LedgerState::kActiveComplete, kVoice, kActiveR},
    {LedgerState::kActiveComplete, kAuto, kActiveR},
    {LedgerState::kActiveIncomplete, kEmail, kActiveR},
    {LedgerState::kActiveIncomplete, kSms, kIncompleteR},
    {LedgerState::kActiveIncomplete, kVoice, kActiveR},
    {LedgerState::kActiveIncomplete, kAuto, kIncompleteR},
    {LedgerState::kRevoked, kEmail, kRevokedR},
    {LedgerState::kRevoked, kSms, kRevokedR},
    {LedgerState::kRevoked, kVoice, kRevokedR},
    {LedgerState::kRevoked, kAuto, kRevokedR},
    {LedgerState::kSuppressed, kEmail, kSuppressedR},
    {LedgerState::kSuppressed, kSms, kSuppressedR},
    {LedgerState::kSuppressed, kVoice, kSuppressedR},
    {LedgerState::kSuppressed, kAuto, kSuppressedR},
};

TEST(ConsentStateTest, EnforcementMatrix) {
  ASSERT_EQ(kMatrix.size(), 5 * kAllConsentChannels.size()) << "every state x channel";
  const std::vector<TcpaElement> missing = {TcpaElement::kAuthorizesAutomated};
  const absl::Time suppressed_at = kT0 + absl::Hours(3);
  for (const MatrixRow& row : kMatrix) {
    for (ConsentPurpose purpose : kAllConsentPurposes) {
      SCOPED_TRACE(absl::StrCat(LedgerStateName(row.state), " ", ConsentChannelName(row.channel),
                                " ", ConsentPurposeName(purpose)));
      const std::string party = purpose == kSharing ? "acme health" : "";
      const bool want_allowed = row.want == ConsentReason::kActive;
      ConsentState state;
      uint32_t number = 0;
      // Noise on every other key (and on another third party).
      for (ConsentChannel c : kAllConsentChannels) {
        for (ConsentPurpose p : kAllConsentPurposes) {
          const std::string other_party = p == kSharing ? "acme health" : "";
          if (c == row.channel && p == purpose) continue;
          if (want_allowed) {
            state.Apply(Revoke(++number, kT0, c, p, other_party));
          } else {
            state.Apply(Grant(++number, kT0 + absl::Hours(4), c, p, other_party));
          }
        }
      }
      if (purpose == kSharing) {
        if (want_allowed) {
          state.Apply(Revoke(++number, kT0, row.channel, kSharing, "beta labs"));
        } else {
          state.Apply(Grant(++number, kT0 + absl::Hours(4), row.channel, kSharing, "beta labs"));
        }
      }
      std::optional<absl::Time> suppression;
      switch (row.state) {
        case LedgerState::kNone:
          break;
        case LedgerState::kActiveComplete:
          state.Apply(Grant(++number, kT0, row.channel, purpose, party));
          break;
        case LedgerState::kActiveIncomplete:
          state.Apply(Grant(++number, kT0, row.channel, purpose, party, missing));
          break;
        case LedgerState::kRevoked:
          state.Apply(Grant(++number, kT0, row.channel, purpose, party));
          state.Apply(Revoke(++number, kT0 + absl::Hours(1), row.channel, purpose, party));
          break;
        case LedgerState::kSuppressed:
          state.Apply(Grant(++number, kT0, row.channel, purpose, party));
          suppression = suppressed_at;
          break;
      }
      const ConsentDecision d = Decide(state, row.channel, purpose, party, suppression);
      EXPECT_EQ(d.reason, row.want) << ConsentReasonName(d.reason);
      EXPECT_EQ(d.allowed, want_allowed);
      if (row.want == kRevokedR) {
        EXPECT_EQ(d.at, kT0 + absl::Hours(1));
      }
      if (row.want == kSuppressedR) {
        EXPECT_EQ(d.at, suppressed_at);
      }
      if (row.want == kIncompleteR) {
        EXPECT_EQ(d.missing, missing);
      } else {
        EXPECT_THAT(d.missing, IsEmpty());
      }
      EXPECT_EQ(d.event_number, row.state == LedgerState::kNone ? 0u : number);
    }
  }
}

}  // namespace
}  // namespace leadvault::vault
