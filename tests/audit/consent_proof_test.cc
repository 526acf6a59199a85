// The consent proof end to end: a real little audit log (canonical entries in
// a Merkle tree, a checkpoint signed with a test Ed25519 key) whose entries
// record consent events the way the vault does; proofs are built from it,
// rendered, parsed and verified offline. Every change to an event, an entry,
// a proof hash or the checkpoint must be caught, naming where.
#include "audit/consent_proof.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "audit/audit_entry.h"
#include "audit/checkpoint.h"
#include "audit/merkle.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "keys/hash.h"
#include "keys/secret_bytes.h"
#include "keys/signing.h"
#include "tests/audit/memory_tree.h"

namespace leadvault::audit {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kOrigin[] = "audit.leadvault.test";
constexpr char kLead[] = "0123456789abcdef0123456789abcdef";
constexpr char kOtherLead[] = "fedcba9876543210fedcba9876543210";
constexpr char kIntake[] = "5f0c1e2d3c4b5a69788796a5b4c3d2e1";
constexpr char kCapture[] = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
constexpr char kOfficer[] = "c0ffee00c0ffee00c0ffee00c0ffee00";
constexpr int64_t kT0 = 1'796'130'000'123'456;  // 2026-12-01T13:00:00.123456Z

std::string Sha256Hex(absl::string_view data) {
  const keys::Sha256Digest d = keys::Sha256({data});
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

// A signing key from a fixed seed, its note signer and verifier.
struct LogKey {
  explicit LogKey(char first_byte, const std::string& name = kOrigin) {
    std::string seed(keys::kEd25519SeedSize, '\0');
    for (size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<char>(first_byte + i);
    key = *keys::SigningKey::FromSeed(keys::SecretBytes::CopyFrom(seed));
    signer.emplace(*NoteSigner::Create(name, key.get()));
    verifier.emplace(*NoteVerifier::Parse(signer->VerifierKey()));
  }
  std::unique_ptr<keys::SigningKey> key;
  std::optional<NoteSigner> signer;
  std::optional<NoteVerifier> verifier;
};

// The events of kLead: a form's two grants (email marketing, complete; SMS
// scheduling, incomplete), an SMS STOP, and a re-grant for third-party
// sharing by intake.
std::vector<ConsentProofEvent> LeadEvents() {
  ConsentProofEvent email;
  email.lead_id = kLead;
  email.number = 1;
  email.at_unix_micros = kT0;
  email.recorded_by = kCapture;
  email.action = "grant";
  email.channels = {"email"};
  email.purposes = {"marketing"};
  email.captured_at_unix_micros = kT0 - 4'000'000;
  email.source_url = "https://clinic.example/knee-pain/consult";
  email.seller_name = "Riverside Orthopedics";
  email.disclosure_version = "2026-11-tcpa-v3";
  email.disclosure_sha256 = Sha256Hex("the disclosure text v3");
  email.authorizes_automated = true;
  email.not_condition_of_purchase = true;
  email.capture_certificate_id = "https://cert.trustedform.com/0a1b2c3d4e5f";
  email.user_agent =
      "Mozilla/5.0 (X11; Linux x86_64) \"quoted\" \\ caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80";
  email.ip_commitment = Sha256Hex("salt||203.0.113.7");

  ConsentProofEvent sms = email;
  sms.number = 2;
  sms.channels = {"sms", "autodialed_voice"};
  sms.purposes = {"scheduling", "treatment_follow_up"};
  sms.seller_name = "";
  sms.disclosure_sha256 = "";
  sms.authorizes_automated = false;
  sms.user_agent = "line one\nline two\ttab \x01\x7f </script>";
  sms.ip_commitment = "";
  sms.missing = {"seller_name", "disclosure_sha256"};

  ConsentProofEvent stop;
  stop.lead_id = kLead;
  stop.number = 3;
  stop.at_unix_micros = kT0 + 3'600'000'000;
  stop.recorded_by = kIntake;
  stop.action = "revoke";
  stop.channels = {"sms"};
  stop.purposes = {"scheduling"};
  stop.method = "sms_reply";
  stop.method_detail = "keyword:STOP";

  ConsentProofEvent regrant = email;
  regrant.number = 4;
  regrant.at_unix_micros = kT0 + 86'400'000'000;
  regrant.recorded_by = kIntake;
  regrant.channels = {"voice"};
  regrant.purposes = {"marketing", "third_party_sharing"};
  regrant.third_parties = {"Acme Imaging, LLC"};
  regrant.captured_at_unix_micros = kT0 + 86'390'000'000;
  regrant.user_agent = "";
  return {email, sms, stop, regrant};
}

AuditEntry Entry(const std::string& action, std::vector<std::string> lead_ids,
                 std::vector<std::string> fields, const std::string& principal = kIntake) {
  AuditEntry e;
  e.time = absl::FromUnixMicros(kT0);
  e.principal_id = principal;
  e.role = "intake";
  e.action = action;
  e.outcome = Outcome::kAllowed;
  e.lead_ids = std::move(lead_ids);
  e.fields = std::move(fields);
  e.request_id = "req";
  e.peer = "ipv4:127.0.0.1:5000";
  return e;
}

// The log: unrelated entries around the entries that record kLead's events
// (events 1 and 2 in one CreateLead call) and the vault's entry for the
// export of its four events.
class ConsentProofTest : public ::testing::Test {
 protected:
  ConsentProofTest() : key_('\x01'), events_(LeadEvents()) {
    Append(Entry("CreateLead", {kOtherLead}, {"first_name", "email"}, kCapture));
    Append(Entry("GetLead", {kOtherLead}, {"first_name"}));
    event_sequence_[0] = event_sequence_[1] =
        Append(Entry("CreateLead", {kLead},
                     {"first_name", "phone", "email", ConsentEventField(events_[0]),
                      ConsentEventField(events_[1])},
                     kCapture));
    Append(Entry("GetLead", {kLead}, {"phone"}));
    Append(Entry("FindLeads", {kLead, kOtherLead}, {}));
    event_sequence_[2] = Append(Entry("RecordConsent", {kLead}, {ConsentEventField(events_[2])}));
    Append(Entry("UpdateLead", {kLead}, {"contact_attempt"}));
    Append(Entry("GetLead", {kOtherLead}, {"email"}));
    event_sequence_[3] = Append(Entry("RecordConsent", {kLead}, {ConsentEventField(events_[3])}));
    Append(Entry("GetLead", {kOtherLead}, {"email"}));
    export_sequence_ = Append(ExportEntry(4));
    for (int i = 0; i < 4; ++i) Append(Entry("GetLead", {kOtherLead}, {"email"}));
  }

  // The vault's entry for an export of `count` events of kLead by kOfficer.
  static AuditEntry ExportEntry(size_t count) {
    AuditEntry e =
        Entry("ExportConsentProof", {kLead}, {absl::StrCat("consent_events=", count)}, kOfficer);
    e.role = "compliance";
    return e;
  }

  // Appends `e` as the next sequence; returns it.
  uint64_t Append(AuditEntry e) {
    e.sequence = canonical_.size() + 1;
    canonical_.push_back(EncodeCanonical(e));
    tree_.Append(LeafHash(canonical_.back()));
    return e.sequence;
  }

  std::string SignedNote(uint64_t size, const LogKey& key) {
    const Checkpoint cp{kOrigin, size, *RootAt(size, tree_)};
    return key.signer->Sign(FormatCheckpoint(cp));
  }

  ConsentProofItem Item(const ConsentProofEvent& event, uint64_t sequence, uint64_t size) {
    ConsentProofItem item;
    item.event = event;
    item.audit_sequence = sequence;
    item.audit_entry = canonical_[sequence - 1];
    item.inclusion_proof = *InclusionProof(sequence - 1, size, tree_);
    return item;
  }

  // kLead's proof against the checkpoint of the whole log.
  ConsentProof Proof() {
    const uint64_t size = tree_.size();
    ConsentProof proof;
    proof.lead_id = kLead;
    proof.checkpoint_note = SignedNote(size, key_);
    proof.generated_at_unix_micros = kT0 + 90'000'000'000;
    proof.generated_by = kOfficer;
    SetExport(proof, export_sequence_, size);
    for (size_t i = 0; i < events_.size(); ++i) {
      proof.items.push_back(Item(events_[i], event_sequence_[i], size));
    }
    return proof;
  }

  // Makes entry `sequence` the export entry of `proof`, proven in a tree of `size`.
  void SetExport(ConsentProof& proof, uint64_t sequence, uint64_t size) {
    proof.export_sequence = sequence;
    proof.export_entry = canonical_[sequence - 1];
    proof.export_inclusion_proof = *InclusionProof(sequence - 1, size, tree_);
  }

  absl::StatusOr<ConsentProofReport> Verify(const ConsentProof& proof) {
    return VerifyConsentProof(proof, *key_.verifier);
  }

  // Expects `status` to be INVALID_ARGUMENT starting with `prefix` and holding `what`.
  static void ExpectFails(const absl::Status& status, absl::string_view prefix,
                          absl::string_view what) {
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_THAT(std::string(status.message()), StartsWith(std::string(prefix)));
    EXPECT_THAT(std::string(status.message()), HasSubstr(std::string(what)));
  }

  LogKey key_;
  std::vector<ConsentProofEvent> events_;
  uint64_t event_sequence_[4] = {};
  uint64_t export_sequence_ = 0;
  std::vector<std::string> canonical_;
  MemoryTree tree_;
};

// ---- Canonical encoding ----------------------------------------------------------

std::string U32(uint32_t v) {
  return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
}
std::string Str(absl::string_view s) {
  return absl::StrCat(U32(static_cast<uint32_t>(s.size())), s);
}
std::string I64(int64_t v) {
  const uint64_t u = static_cast<uint64_t>(v);
  return U32(static_cast<uint32_t>(u >> 32)) + U32(static_cast<uint32_t>(u));
}

TEST(ConsentEventCanonicalTest, IsTheDocumentedBytes) {
  ConsentProofEvent e;
  e.lead_id = kLead;
  e.number = 0x01020304;
  e.at_unix_micros = -2;
  e.recorded_by = "p";
  e.action = "grant";
  e.channels = {"sms", "voice"};
  e.purposes = {"marketing"};
  e.captured_at_unix_micros = 0x0102030405060708;
  e.source_url = "u";
  e.authorizes_automated = true;
  e.missing = {"seller_name", ""};
  e.method_detail = "d";
  const std::string expected =
      absl::StrCat(Str("leadvault-consent-event-v2"), Str(kLead), U32(0x01020304), I64(-2),
                   Str("p"), Str("grant"), U32(2), Str("sms"), Str("voice"), U32(1),
                   Str("marketing"), U32(0), I64(0x0102030405060708), Str("u"), Str(""), Str(""),
                   Str(""), std::string(1, '\x01'), std::string(1, '\x00'), Str(""), Str(""),
                   Str(""), U32(2), Str("seller_name"), Str(""), Str(""), Str("d"));
  EXPECT_EQ(ConsentEventCanonical(e), expected);
  EXPECT_EQ(absl::string_view(expected).substr(4, 26), kConsentEventTag);
  EXPECT_EQ(ConsentEventDigest(e), Sha256Hex(expected));
  EXPECT_EQ(ConsentEventField(e), "consent_event=" + Sha256Hex(expected));
}

TEST(ConsentEventCanonicalTest, DigestIsLowerHexSha256) {
  const std::string digest = ConsentEventDigest(ConsentProofEvent{});
  ASSERT_EQ(digest.size(), 64u);
  EXPECT_EQ(digest.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(digest, Sha256Hex(ConsentEventCanonical(ConsentProofEvent{})));
}

TEST(ConsentEventCanonicalTest, IsInjectiveOnCraftedPairs) {
  using Mutate = std::function<void(ConsentProofEvent&)>;
  const std::vector<std::pair<Mutate, Mutate>> pairs = {
      {[](ConsentProofEvent& e) {
         e.recorded_by = "ab";
         e.action = "c";
       },
       [](ConsentProofEvent& e) {
         e.recorded_by = "a";
         e.action = "bc";
       }},
      {[](ConsentProofEvent& e) { e.source_url = "x"; },
       [](ConsentProofEvent& e) { e.seller_name = "x"; }},
      {[](ConsentProofEvent& e) { e.missing = {"ab"}; },
       [](ConsentProofEvent& e) {
         e.missing = {"a", "b"};
       }},
      {[](ConsentProofEvent& e) { e.missing = {""}; },
       [](ConsentProofEvent& e) {
         e.missing = {"", ""};
       }},
      {[](ConsentProofEvent& e) { e.missing = {"x"}; },
       [](ConsentProofEvent& e) { e.method = "x"; }},
      {[](ConsentProofEvent& e) { e.missing = {}; },
       [](ConsentProofEvent& e) { e.missing = {""}; }},
      {[](ConsentProofEvent& e) { e.authorizes_automated = true; },
       [](ConsentProofEvent& e) { e.not_condition_of_purchase = true; }},
      {[](ConsentProofEvent& e) { e.at_unix_micros = 1; },
       [](ConsentProofEvent& e) { e.captured_at_unix_micros = 1; }},
      {[](ConsentProofEvent& e) { e.number = 1; },
       [](ConsentProofEvent& e) { e.at_unix_micros = int64_t{1} << 32; }},
      {[](ConsentProofEvent& e) { e.third_parties = {std::string("a\0b", 3)}; },
       [](ConsentProofEvent& e) { e.third_parties = {"a"}; }},
      {[](ConsentProofEvent& e) { e.channels = {"sms"}; },
       [](ConsentProofEvent& e) { e.purposes = {"sms"}; }},
      {[](ConsentProofEvent& e) {
         e.channels = {"sms", "voice"};
       },
       [](ConsentProofEvent& e) {
         e.channels = {"sms"};
         e.purposes = {"voice"};
       }},
      {[](ConsentProofEvent& e) { e.method = "ab"; },
       [](ConsentProofEvent& e) {
         e.method = "a";
         e.method_detail = "b";
       }},
  };
  for (size_t i = 0; i < pairs.size(); ++i) {
    ConsentProofEvent a, b;
    pairs[i].first(a);
    pairs[i].second(b);
    EXPECT_NE(ConsentEventCanonical(a), ConsentEventCanonical(b)) << "pair " << i;
    EXPECT_NE(ConsentEventDigest(a), ConsentEventDigest(b)) << "pair " << i;
  }
}

// ---- Rendering and parsing -------------------------------------------------------

TEST_F(ConsentProofTest, VerifiesAndCounts) {
  absl::StatusOr<ConsentProofReport> report = Verify(Proof());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->events, 4u);
  EXPECT_EQ(report->grants, 3u);
  EXPECT_EQ(report->revocations, 1u);
  EXPECT_EQ(report->checkpoint.origin, kOrigin);
  EXPECT_EQ(report->checkpoint.size, canonical_.size());
  EXPECT_EQ(report->export_sequence, export_sequence_);
  EXPECT_EQ(report->exported_at, absl::FromUnixMicros(kT0));
}

TEST_F(ConsentProofTest, RenderParseRenderIsByteIdenticalAndVerifies) {
  const ConsentProof proof = Proof();
  const std::string text = RenderConsentProof(proof);
  absl::StatusOr<ConsentProof> parsed = ParseConsentProof(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, proof);
  EXPECT_EQ(RenderConsentProof(*parsed), text);
  EXPECT_TRUE(Verify(*parsed).ok());
  // Nothing of the evidence leaks unescaped: a raw newline or U+2028 would
  // break a line-oriented reader, "</script>" stays as it is (it is text).
  EXPECT_THAT(text, HasSubstr("\"user_agent\": \"line one\\nline two\\ttab \\u0001\\u007f"));
  EXPECT_THAT(text, HasSubstr("caf\xc3\xa9 \\u2028 \xf0\x9f\x98\x80"));
  EXPECT_THAT(text, HasSubstr("\\\"quoted\\\" \\\\"));
}

TEST_F(ConsentProofTest, ParsesAnyWhitespaceAndKeyOrder) {
  const ConsentProof proof = Proof();
  std::string text = RenderConsentProof(proof);
  // Compact, and the root's first two members moved to the end.
  std::string compact = absl::StrReplaceAll(text, {{"\n", ""}, {"  ", ""}, {": ", ":"}});
  compact = absl::StrReplaceAll(compact,
                                {{"{\"format\":\"leadvault-consent-proof\",\"version\":2,", "{"}});
  ASSERT_EQ(compact.back(), '}');
  compact.pop_back();
  compact += ",\"version\":2,\"format\":\"leadvault-consent-proof\"}";
  absl::StatusOr<ConsentProof> parsed = ParseConsentProof(compact);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, proof);
}

TEST(ConsentProofRenderTest, Layout) {
  ConsentProof proof;
  proof.lead_id = kLead;
  proof.checkpoint_note = "log\n1\nroot\n\n\xe2\x80\x94 log sig\n";
  proof.generated_at_unix_micros = kT0;
  proof.generated_by = kOfficer;
  proof.export_sequence = 8;
  proof.export_entry = "xyz";
  proof.export_inclusion_proof = {Hash{}};
  proof.export_inclusion_proof[0][0] = 0xff;
  ConsentProofItem item;
  item.event.lead_id = kLead;
  item.event.number = 1;
  item.event.at_unix_micros = kT0;
  item.event.recorded_by = kIntake;
  item.event.action = "revoke";
  item.event.channels = {"voice", "sms"};
  item.event.purposes = {"scheduling"};
  item.event.method = "intake_call";
  item.audit_sequence = 7;
  item.audit_entry = "abc";
  item.inclusion_proof = {Hash{}, Hash{}};
  item.inclusion_proof[1][31] = 1;
  proof.items = {item};
  const std::string expected = absl::StrCat(R"({
  "format": "leadvault-consent-proof",
  "version": 2,
  "lead_id": "0123456789abcdef0123456789abcdef",
  "generated_at_unix_micros": 1796130000123456,
  "generated_at": "2026-12-01T13:00:00.123456Z",
  "generated_by": "c0ffee00c0ffee00c0ffee00c0ffee00",
  "checkpoint": "log\n1\nroot\n\n)",
                                            "\xe2\x80\x94", R"( log sig\n",
  "export_sequence": 8,
  "export_entry": "eHl6",
  "export_inclusion_proof": [
    "/wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
  ],
  "events": [
    {
      "number": 1,
      "lead_id": "0123456789abcdef0123456789abcdef",
      "at_unix_micros": 1796130000123456,
      "at": "2026-12-01T13:00:00.123456Z",
      "recorded_by": "5f0c1e2d3c4b5a69788796a5b4c3d2e1",
      "action": "revoke",
      "channels": ["voice", "sms"],
      "purposes": ["scheduling"],
      "third_parties": [],
      "captured_at_unix_micros": 0,
      "captured_at": "",
      "source_url": "",
      "seller_name": "",
      "disclosure_version": "",
      "disclosure_sha256": "",
      "authorizes_automated": false,
      "not_condition_of_purchase": false,
      "capture_certificate_id": "",
      "user_agent": "",
      "ip_commitment": "",
      "missing": [],
      "method": "intake_call",
      "method_detail": "",
      "digest": ")",
                                            ConsentEventDigest(item.event), R"(",
      "audit_sequence": 7,
      "audit_entry": "YWJj",
      "inclusion_proof": [
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE="
      ]
    }
  ]
}
)");
  EXPECT_EQ(RenderConsentProof(proof), expected);
  absl::StatusOr<ConsentProof> parsed = ParseConsentProof(expected);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, proof);

  ConsentProof empty = proof;
  empty.items.clear();
  empty.export_inclusion_proof.clear();
  const std::string empty_text = RenderConsentProof(empty);
  EXPECT_THAT(empty_text, HasSubstr("\n  \"export_inclusion_proof\": [],\n"));
  EXPECT_THAT(empty_text, HasSubstr("\n  \"events\": []\n}\n"));
  ASSERT_TRUE(ParseConsentProof(empty_text).ok());
  EXPECT_EQ(*ParseConsentProof(empty_text), empty);
}

TEST_F(ConsentProofTest, RoundTripsExtremeValues) {
  ConsentProof proof = Proof();
  ConsentProofEvent& e = proof.items[0].event;
  e.number = UINT32_MAX;
  e.at_unix_micros = INT64_MIN;
  e.captured_at_unix_micros = INT64_MAX;
  proof.generated_at_unix_micros = -1;
  proof.items[0].audit_sequence = UINT64_MAX;
  proof.export_sequence = UINT64_MAX;
  const std::string text = RenderConsentProof(proof);
  EXPECT_THAT(text, HasSubstr("\"at\": \"-290308-12-21T19:59:05.224192Z\""));
  EXPECT_THAT(text, HasSubstr("\"generated_at\": \"1969-12-31T23:59:59.999999Z\""));
  absl::StatusOr<ConsentProof> parsed = ParseConsentProof(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, proof);
  EXPECT_EQ(RenderConsentProof(*parsed), text);
}

// Event text that is not UTF-8 (which the vault never records) renders as
// valid JSON with the export's escapes, and the parser refuses it cleanly.
TEST_F(ConsentProofTest, NonUtf8TextRendersEscapedAndIsRefused) {
  ConsentProof proof = Proof();
  proof.items[0].event.user_agent = "bad \xff byte";
  const std::string text = RenderConsentProof(proof);
  EXPECT_THAT(text, HasSubstr("\"bad \\udcff byte\""));
  absl::StatusOr<ConsentProof> parsed = ParseConsentProof(text);
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()), StartsWith("invalid JSON at byte "));
}

// ---- Changing an event -----------------------------------------------------------

struct FieldChange {
  const char* field;
  std::function<void(ConsentProofEvent&)> change;
  const char* what;  // the failure named
};

constexpr char kNotRecorded[] = "the audit entry does not record this event";

std::string FlipLastHex(std::string hex) {
  hex.back() = hex.back() == '0' ? '1' : '0';
  return hex;
}

std::vector<FieldChange> EveryFieldChange() {
  return {
      {"number", [](ConsentProofEvent& e) { ++e.number; }, "out of order"},
      {"lead_id", [](ConsentProofEvent& e) { e.lead_id = kOtherLead; },
       "not an event of the document's lead"},
      {"at_unix_micros", [](ConsentProofEvent& e) { ++e.at_unix_micros; }, kNotRecorded},
      {"recorded_by", [](ConsentProofEvent& e) { e.recorded_by = kOfficer; }, kNotRecorded},
      {"action", [](ConsentProofEvent& e) { e.action = e.action == "grant" ? "revoke" : "grant"; },
       kNotRecorded},
      {"action (unknown)", [](ConsentProofEvent& e) { e.action += "s"; },
       "action is neither \"grant\" nor \"revoke\""},
      {"channels",
       [](ConsentProofEvent& e) {
         e.channels.back() = e.channels.back() == "voice" ? "email" : "voice";
       },
       kNotRecorded},
      {"channels (one more)", [](ConsentProofEvent& e) { e.channels.push_back("email"); },
       kNotRecorded},
      {"channels (one fewer)", [](ConsentProofEvent& e) { e.channels.pop_back(); }, kNotRecorded},
      {"purposes",
       [](ConsentProofEvent& e) {
         e.purposes.back() = e.purposes.back() == "marketing" ? "scheduling" : "marketing";
       },
       kNotRecorded},
      {"purposes (one more)", [](ConsentProofEvent& e) { e.purposes.push_back("x"); },
       kNotRecorded},
      {"third_parties", [](ConsentProofEvent& e) { e.third_parties.push_back("."); }, kNotRecorded},
      {"captured_at_unix_micros", [](ConsentProofEvent& e) { --e.captured_at_unix_micros; },
       kNotRecorded},
      {"source_url", [](ConsentProofEvent& e) { e.source_url += "?"; }, kNotRecorded},
      {"seller_name", [](ConsentProofEvent& e) { e.seller_name += "x"; }, kNotRecorded},
      {"disclosure_version", [](ConsentProofEvent& e) { e.disclosure_version += "1"; },
       kNotRecorded},
      {"disclosure_sha256",
       [](ConsentProofEvent& e) {
         e.disclosure_sha256 =
             e.disclosure_sha256.empty() ? Sha256Hex("other") : FlipLastHex(e.disclosure_sha256);
       },
       kNotRecorded},
      {"disclosure_sha256 (upper case)",
       [](ConsentProofEvent& e) { e.disclosure_sha256 = std::string(64, 'A'); },
       "disclosure_sha256 is neither empty nor 64 lower-case hex digits"},
      {"authorizes_automated", [](ConsentProofEvent& e) { e.authorizes_automated ^= true; },
       kNotRecorded},
      {"not_condition_of_purchase",
       [](ConsentProofEvent& e) { e.not_condition_of_purchase ^= true; }, kNotRecorded},
      {"capture_certificate_id", [](ConsentProofEvent& e) { e.capture_certificate_id += "0"; },
       kNotRecorded},
      {"user_agent", [](ConsentProofEvent& e) { e.user_agent += " "; }, kNotRecorded},
      {"ip_commitment",
       [](ConsentProofEvent& e) {
         e.ip_commitment =
             e.ip_commitment.empty() ? Sha256Hex("salt||ip") : FlipLastHex(e.ip_commitment);
       },
       kNotRecorded},
      {"ip_commitment (short)", [](ConsentProofEvent& e) { e.ip_commitment = "abc"; },
       "ip_commitment is neither empty nor 64 lower-case hex digits"},
      {"missing (added)", [](ConsentProofEvent& e) { e.missing.push_back("seller_name"); },
       kNotRecorded},
      {"missing (changed or emptied)",
       [](ConsentProofEvent& e) {
         if (e.missing.empty()) {
           e.missing.push_back("");
         } else {
           e.missing.back().back() ^= 1;
         }
       },
       kNotRecorded},
      {"missing (dropped)",
       [](ConsentProofEvent& e) {
         if (e.missing.empty()) {
           e.missing = {"a", "b"};
         } else {
           e.missing.pop_back();
         }
       },
       kNotRecorded},
      {"method", [](ConsentProofEvent& e) { e.method += "_"; }, kNotRecorded},
      {"method_detail", [](ConsentProofEvent& e) { e.method_detail += "!"; }, kNotRecorded},
  };
}

// Every string value of `e` that is long enough to find by accident.
std::vector<std::string> DistinctiveValues(const ConsentProofEvent& e) {
  std::vector<std::string> out;
  for (const std::string& s : {e.lead_id, e.recorded_by, e.source_url, e.seller_name,
                               e.disclosure_version, e.disclosure_sha256, e.capture_certificate_id,
                               e.user_agent, e.ip_commitment, e.method_detail}) {
    if (s.size() >= 8) out.push_back(s);
  }
  for (const std::string& s : e.third_parties) {
    if (s.size() >= 8) out.push_back(s);
  }
  return out;
}

TEST_F(ConsentProofTest, ChangingAnyFieldOfAnyEventFailsNamingTheEvent) {
  const ConsentProof original = Proof();
  for (const FieldChange& change : EveryFieldChange()) {
    for (size_t k = 0; k < original.items.size(); ++k) {
      SCOPED_TRACE(absl::StrCat(change.field, " of event ", k + 1));
      ConsentProof proof = original;
      change.change(proof.items[k].event);
      ASSERT_NE(proof.items[k].event, original.items[k].event);
      absl::StatusOr<ConsentProofReport> report = Verify(proof);
      ExpectFails(report.status(), absl::StrCat("event ", k + 1, ": "), change.what);
      for (const ConsentProofEvent& e : {original.items[k].event, proof.items[k].event}) {
        for (const std::string& value : DistinctiveValues(e)) {
          EXPECT_THAT(std::string(report.status().message()), Not(HasSubstr(value)));
        }
      }
      // The same through the document: the renderer writes the changed
      // event with its own digest; the parser reads it, the verifier refuses.
      absl::StatusOr<ConsentProof> parsed = ParseConsentProof(RenderConsentProof(proof));
      ASSERT_TRUE(parsed.ok()) << parsed.status();
      ExpectFails(Verify(*parsed).status(), absl::StrCat("event ", k + 1, ": "), change.what);
    }
  }
}

// One byte of a document changed by hand leaves the informative digest
// behind: the parser already names the event.
TEST_F(ConsentProofTest, OneByteChangedInTheDocumentFailsNamingTheEvent) {
  const std::string text = RenderConsentProof(Proof());
  const std::string needle = "\"method_detail\": \"keyword:STOP\"";
  const size_t at = text.find(needle);
  ASSERT_NE(at, std::string::npos);
  std::string changed = text;
  changed[at + needle.size() - 2] = 'Q';  // keyword:STOQ
  ExpectFails(ParseConsentProof(changed).status(),
              "event 3: ", "\"digest\" does not match the event's fields");
}

// ---- The list, the entries, the proofs, the checkpoint ----------------------------

TEST_F(ConsentProofTest, GapReorderAndDuplicateFail) {
  ConsentProof gap = Proof();
  gap.items.erase(gap.items.begin() + 1);
  ExpectFails(Verify(gap).status(), "event 2: ", "out of order");

  ConsentProof reordered = Proof();
  std::swap(reordered.items[2], reordered.items[3]);
  ExpectFails(Verify(reordered).status(), "event 3: ", "out of order");

  ConsentProof duplicated = Proof();
  duplicated.items.insert(duplicated.items.begin() + 2, duplicated.items[1]);
  ExpectFails(Verify(duplicated).status(), "event 3: ", "out of order");

  // Renumbered to hide the gap: the digests no longer match.
  ConsentProof renumbered = gap;
  renumbered.items[1].event.number = 2;
  renumbered.items[2].event.number = 3;
  ExpectFails(Verify(renumbered).status(), "event 2: ", kNotRecorded);
}

TEST_F(ConsentProofTest, EntriesSwappedBetweenEventsFail) {
  ConsentProof proof = Proof();
  ConsentProofItem& a = proof.items[1];  // in the CreateLead entry
  ConsentProofItem& b = proof.items[3];  // in its own RecordConsent entry
  std::swap(a.audit_sequence, b.audit_sequence);
  std::swap(a.audit_entry, b.audit_entry);
  std::swap(a.inclusion_proof, b.inclusion_proof);
  ExpectFails(Verify(proof).status(), "event 2: ", kNotRecorded);
}

TEST_F(ConsentProofTest, WrongLeadFails) {
  ConsentProof proof = Proof();
  proof.lead_id = kOtherLead;
  ExpectFails(Verify(proof).status(), "event 1: ", "not an event of the document's lead");

  // The whole document moved to another lead, events and all: the entries
  // name kLead (and the digests change with the lead id).
  for (ConsentProofItem& item : proof.items) item.event.lead_id = kOtherLead;
  ExpectFails(Verify(proof).status(), "event 1: ", "the audit entry does not name the lead");

  proof.lead_id = "0123456789ABCDEF0123456789ABCDEF";
  ExpectFails(Verify(proof).status(), "lead_id: ", "32 lower-case hex");
}

// An entry that carries the event's digest but names only another lead (a
// vault bug, or an entry lifted from elsewhere) proves nothing for this lead.
TEST_F(ConsentProofTest, EntryOfAnotherLeadFails) {
  ConsentProofEvent fifth = events_[2];
  fifth.number = 5;
  const uint64_t seq = Append(Entry("RecordConsent", {kOtherLead}, {ConsentEventField(fifth)}));
  ConsentProof proof = Proof();
  proof.items.push_back(Item(fifth, seq, tree_.size()));
  ExpectFails(Verify(proof).status(), "event 5: ", "the audit entry does not name the lead");
}

TEST_F(ConsentProofTest, EntryThatIsNotAnAllowedRecordingCallFails) {
  ConsentProofEvent fifth = events_[2];
  fifth.number = 5;
  AuditEntry denied = Entry("RecordConsent", {kLead}, {ConsentEventField(fifth)});
  denied.outcome = Outcome::kDenied;
  denied.code = 7;
  const uint64_t denied_seq = Append(denied);
  const uint64_t update_seq = Append(Entry("UpdateLead", {kLead}, {ConsentEventField(fifth)}));

  ConsentProof proof = Proof();
  proof.items.push_back(Item(fifth, denied_seq, tree_.size()));
  ExpectFails(Verify(proof).status(), "event 5: ", "outcome is not allowed");
  proof.items.back() = Item(fifth, update_seq, tree_.size());
  ExpectFails(Verify(proof).status(), "event 5: ", "not a CreateLead or RecordConsent call");
}

TEST_F(ConsentProofTest, TamperedEntryOrSequenceFails) {
  ConsentProof proof = Proof();
  // The entry re-encoded with the digest of a changed event: the leaf no
  // longer rebuilds the root.
  ConsentProofEvent changed = proof.items[2].event;
  changed.method_detail = "free_text";
  absl::StatusOr<AuditEntry> entry = DecodeCanonical(proof.items[2].audit_entry);
  ASSERT_TRUE(entry.ok());
  entry->fields = {ConsentEventField(changed)};
  ConsentProof forged = proof;
  forged.items[2].event = changed;
  forged.items[2].audit_entry = EncodeCanonical(*entry);
  ExpectFails(Verify(forged).status(), "event 3: ", "inclusion proof: root mismatch");

  ConsentProof garbled = proof;
  garbled.items[2].audit_entry = "\x01garbage";
  ExpectFails(Verify(garbled).status(), "event 3: ", "audit_entry: malformed");

  ConsentProof other_seq = proof;
  other_seq.items[2].audit_sequence += 1;
  ExpectFails(Verify(other_seq).status(),
              "event 3: ", "the audit entry's sequence is not audit_sequence");

  ConsentProof zero = proof;
  zero.items[0].audit_sequence = 0;
  ExpectFails(Verify(zero).status(), "event 1: ", "audit_sequence is 0");
}

TEST_F(ConsentProofTest, TamperedInclusionProofFails) {
  ConsentProof flipped = Proof();
  flipped.items[3].inclusion_proof[0][5] ^= 0x40;
  ExpectFails(Verify(flipped).status(), "event 4: ", "inclusion proof: root mismatch");

  ConsentProof shortened = Proof();
  shortened.items[3].inclusion_proof.pop_back();
  ExpectFails(Verify(shortened).status(), "event 4: ", "inclusion proof: ");

  ConsentProof lengthened = Proof();
  lengthened.items[0].inclusion_proof.push_back(Hash{});
  ExpectFails(Verify(lengthened).status(), "event 1: ", "inclusion proof: ");
}

TEST_F(ConsentProofTest, SequenceBeyondTheTreeSizeFails) {
  ConsentProof proof = Proof();
  // Signed when the log held 7 entries: event 4 (sequence 9) came later.
  proof.checkpoint_note = SignedNote(7, key_);
  for (ConsentProofItem& item : proof.items) {
    if (item.audit_sequence <= 7)
      item.inclusion_proof = *InclusionProof(item.audit_sequence - 1, 7, tree_);
  }
  ExpectFails(Verify(proof).status(),
              "event 4: ", "audit_sequence is beyond the checkpoint's tree size");
  // Without event 4 the events verify; the export (sequence 11) came later too.
  proof.items.pop_back();
  ExpectFails(Verify(proof).status(),
              "export: ", "export_sequence is beyond the checkpoint's tree size");
}

TEST_F(ConsentProofTest, WrongKeyOrTamperedCheckpointFails) {
  const ConsentProof proof = Proof();
  LogKey other('\x41');  // same name, another key
  ExpectFails(VerifyConsentProof(proof, *other.verifier).status(),
              "checkpoint: ", "no signature by key");
  LogKey renamed('\x01', "another.log.test");
  ExpectFails(VerifyConsentProof(proof, *renamed.verifier).status(),
              "checkpoint: ", "no signature by key");

  // A bigger tree size in the note: the signature no longer holds.
  ConsentProof resized = proof;
  const std::string size_line = absl::StrCat("\n", canonical_.size(), "\n");
  ASSERT_THAT(resized.checkpoint_note, HasSubstr(size_line));
  absl::StrReplaceAll({{size_line, absl::StrCat("\n", canonical_.size() + 1, "\n")}},
                      &resized.checkpoint_note);
  ExpectFails(Verify(resized).status(), "checkpoint: ", "invalid signature");

  ConsentProof unsigned_note = proof;
  unsigned_note.checkpoint_note =
      FormatCheckpoint(Checkpoint{kOrigin, canonical_.size(), *RootAt(canonical_.size(), tree_)});
  ExpectFails(Verify(unsigned_note).status(), "checkpoint: ", "malformed signed note");

  // Another log's checkpoint, validly signed by its own key.
  LogKey foreign('\x61', "foreign.log.test");
  ConsentProof foreign_note = proof;
  foreign_note.checkpoint_note = foreign.signer->Sign(
      FormatCheckpoint(Checkpoint{kOrigin, canonical_.size(), *RootAt(canonical_.size(), tree_)}));
  EXPECT_EQ(VerifyConsentProof(foreign_note, *foreign.verifier).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(VerifyConsentProof(foreign_note, *foreign.verifier).status().message()),
              StartsWith("checkpoint: origin does not match"));
}

// ---- The export: the document is complete as of it --------------------------------

TEST_F(ConsentProofTest, DroppingTheLastEventFails) {
  ConsentProof proof = Proof();
  proof.items.pop_back();
  ExpectFails(Verify(proof).status(),
              "export: ", "the document does not hold as many events as the export entry counts");
  // The same through the document.
  absl::StatusOr<ConsentProof> parsed = ParseConsentProof(RenderConsentProof(proof));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ExpectFails(Verify(*parsed).status(), "export: ", "as many events");
  // Every event dropped.
  proof.items.clear();
  ExpectFails(Verify(proof).status(), "export: ", "as many events");
}

// A document with no event verifies when the vault's export counted none.
TEST_F(ConsentProofTest, NoEventVerifiesAgainstAnExportThatCountsNone) {
  const uint64_t seq = Append(ExportEntry(0));
  ConsentProof proof = Proof();
  proof.items.clear();
  SetExport(proof, seq, tree_.size());
  absl::StatusOr<ConsentProofReport> report = Verify(proof);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->events, 0u);
  EXPECT_EQ(report->export_sequence, seq);
}

TEST_F(ConsentProofTest, ExportEntryOfAnotherLeadFails) {
  AuditEntry other = ExportEntry(4);
  other.lead_ids = {kOtherLead};
  const uint64_t seq = Append(other);
  ConsentProof proof = Proof();
  SetExport(proof, seq, tree_.size());
  ExpectFails(Verify(proof).status(), "export: ", "the export entry does not name the lead");
}

TEST_F(ConsentProofTest, ExportEntryWithAWrongCountFails) {
  const auto with_fields = [this](std::vector<std::string> fields) {
    AuditEntry e = ExportEntry(4);
    e.fields = std::move(fields);
    const uint64_t seq = Append(e);
    ConsentProof proof = Proof();  // against the grown log
    SetExport(proof, seq, tree_.size());
    return Verify(proof).status();
  };
  // The control: a later export of the same four events verifies.
  EXPECT_TRUE(with_fields({"consent_events=4"}).ok());
  for (const char* count : {"consent_events=5", "consent_events=3", "consent_events=04",
                            "consent_events=+4", "consent_events=4 ", "consent_events="}) {
    SCOPED_TRACE(count);
    const absl::Status status = with_fields({count});
    ExpectFails(status, "export: ", "as many events as the export entry counts");
    EXPECT_THAT(std::string(status.message()), Not(HasSubstr(count)));
  }
  ExpectFails(with_fields({"consent_events=4", "consent_events=4"}),
              "export: ", "more than one consent_events field");
  ExpectFails(with_fields({"consent_events=5", "consent_events=4"}),
              "export: ", "more than one consent_events field");
  ExpectFails(with_fields({}), "export: ", "no consent_events field");
  ExpectFails(with_fields({"consent_event=4"}), "export: ", "no consent_events field");
}

TEST_F(ConsentProofTest, ExportEntryOlderThanAnEventFails) {
  // Event 5 recorded after an export that counts it: the vault could not
  // have held it when it exported.
  ConsentProofEvent fifth = events_[2];
  fifth.number = 5;
  const uint64_t export_seq = Append(ExportEntry(5));
  const uint64_t fifth_seq = Append(Entry("RecordConsent", {kLead}, {ConsentEventField(fifth)}));
  ConsentProof proof = Proof();
  SetExport(proof, export_seq, tree_.size());
  proof.items.push_back(Item(fifth, fifth_seq, tree_.size()));
  ExpectFails(Verify(proof).status(),
              "export: ", "the export entry is not later than the audit entry of event 5");

  // Not even the same entry as an event's.
  ConsentProof same = Proof();
  same.export_sequence = event_sequence_[3];
  ExpectFails(Verify(same).status(),
              "export: ", "the export entry is not later than the audit entry of event 4");
}

TEST_F(ConsentProofTest, TamperedExportEntryOrProofFails) {
  const ConsentProof proof = Proof();

  ConsentProof flipped = proof;
  flipped.export_inclusion_proof[0][7] ^= 0x01;
  ExpectFails(Verify(flipped).status(), "export: ", "inclusion proof: root mismatch");

  ConsentProof shortened = proof;
  shortened.export_inclusion_proof.pop_back();
  ExpectFails(Verify(shortened).status(), "export: ", "inclusion proof: ");

  ConsentProof lengthened = proof;
  lengthened.export_inclusion_proof.push_back(Hash{});
  ExpectFails(Verify(lengthened).status(), "export: ", "inclusion proof: ");

  // The entry re-encoded to count three events, with event 4 dropped: the
  // leaf no longer rebuilds the root.
  absl::StatusOr<AuditEntry> entry = DecodeCanonical(proof.export_entry);
  ASSERT_TRUE(entry.ok());
  entry->fields = {"consent_events=3"};
  ConsentProof forged = proof;
  forged.items.pop_back();
  forged.export_entry = EncodeCanonical(*entry);
  ExpectFails(Verify(forged).status(), "export: ", "inclusion proof: root mismatch");

  ConsentProof garbled = proof;
  garbled.export_entry = "\x01garbage";
  ExpectFails(Verify(garbled).status(), "export: ", "export_entry: malformed");

  ConsentProof other_seq = proof;
  other_seq.export_sequence += 1;
  ExpectFails(Verify(other_seq).status(),
              "export: ", "the export entry's sequence is not export_sequence");

  ConsentProof zero = proof;
  zero.export_sequence = 0;
  ExpectFails(Verify(zero).status(), "export: ", "export_sequence is 0");

  ConsentProof beyond = proof;
  beyond.export_sequence = canonical_.size() + 1;
  ExpectFails(Verify(beyond).status(),
              "export: ", "export_sequence is beyond the checkpoint's tree size");

  // Absent altogether (a document exported before the export entry existed).
  ConsentProof absent = proof;
  absent.export_sequence = 0;
  absent.export_entry.clear();
  absent.export_inclusion_proof.clear();
  ExpectFails(Verify(absent).status(), "export: ", "export_sequence is 0");
}

TEST_F(ConsentProofTest, ExportEntryOfAnotherCallFails) {
  // Another call that names the lead and counts its events (a history read).
  AuditEntry history = ExportEntry(4);
  history.action = "GetConsentHistory";
  const uint64_t history_seq = Append(history);
  // An export the vault refused.
  AuditEntry denied = ExportEntry(4);
  denied.outcome = Outcome::kDenied;
  denied.code = 7;
  const uint64_t denied_seq = Append(denied);

  ConsentProof proof = Proof();
  SetExport(proof, history_seq, tree_.size());
  ExpectFails(Verify(proof).status(),
              "export: ", "the export entry is not an ExportConsentProof call");
  SetExport(proof, denied_seq, tree_.size());
  ExpectFails(Verify(proof).status(), "export: ", "the export entry's outcome is not allowed");
  // A recording entry is no export either.
  SetExport(proof, event_sequence_[2], tree_.size());
  proof.items.resize(2);
  ExpectFails(Verify(proof).status(),
              "export: ", "the export entry is not an ExportConsentProof call");
}

// ---- The parser's strictness and bounds --------------------------------------------

class ConsentProofParseTest : public ConsentProofTest {
 protected:
  ConsentProofParseTest() : text_(RenderConsentProof(Proof())) {}

  // The document with the first `from` (which must occur) replaced by `to`.
  std::string With(const std::string& from, const std::string& to) const {
    const size_t at = text_.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at == std::string::npos) return text_;
    std::string out = text_;
    out.replace(at, from.size(), to);
    return out;
  }
  // The document with the first `from` of the events after `event` (1-based) replaced.
  std::string WithInEvent(int event, const std::string& from, const std::string& to) const {
    size_t at = text_.find("\"events\": [");
    for (int i = 0; i < event; ++i) at = text_.find("\n    {", at + 1);
    at = text_.find(from, at);
    EXPECT_NE(at, std::string::npos) << from;
    if (at == std::string::npos) return text_;
    std::string out = text_;
    out.replace(at, from.size(), to);
    return out;
  }

  static void ExpectRefused(const std::string& text, absl::string_view prefix,
                            absl::string_view what) {
    ExpectFails(ParseConsentProof(text).status(), prefix, what);
  }

  const std::string text_;
};

TEST_F(ConsentProofParseTest, UnknownMissingAndRepeatedKeysAreNamed) {
  ExpectRefused(With("{\n", "{\n  \"signature\": \"x\",\n"), "", "unknown key \"signature\"");
  ExpectRefused(WithInEvent(2, "\"channels\"", "\"colour\": 1,\n      \"channels\""),
                "event 2: ", "unknown key \"colour\"");
  ExpectRefused(WithInEvent(2, "      \"channels\": [\"sms\", \"autodialed_voice\"],\n", ""),
                "event 2: ", "missing \"channels\"");
  ExpectRefused(WithInEvent(2, "\"channels\"", "\"channel\""),
                "event 2: ", "unknown key \"channel\"");
  ExpectRefused(WithInEvent(4, "      \"inclusion_proof\"", "      \"x_proof\""),
                "event 4: ", "unknown key \"x_proof\"");
  ExpectRefused(With("  \"generated_by\"", "  \"generated_by\": \"a\",\n  \"generated_by\""), "",
                "repeated key \"generated_by\"");
  ExpectRefused(WithInEvent(1, "      \"purposes\"", "      \"purposes\": [],\n      \"purposes\""),
                "event 1: ", "repeated key \"purposes\"");
  const std::string no_checkpoint = With("  \"checkpoint\": ", "  \"x\": ");
  ExpectRefused(no_checkpoint, "", "unknown key \"x\"");
  std::string without = text_;
  const size_t at = without.find("  \"checkpoint\": ");
  without.erase(at, without.find('\n', at) + 1 - at);
  ExpectRefused(without, "", "missing \"checkpoint\"");
  ExpectRefused("{}", "", "not a leadvault-consent-proof version 2 document");
  // Version 1 (one channel and purpose per event) was never released.
  ExpectRefused(With("\"version\": 2", "\"version\": 1"), "",
                "not a leadvault-consent-proof version 2 document");
  ExpectRefused(With("\"version\": 2", "\"version\": 3"), "",
                "not a leadvault-consent-proof version 2 document");
  ExpectRefused(With("\"leadvault-consent-proof\"", "\"leadvault-audit-export\""), "",
                "not a leadvault-consent-proof version 2 document");
  std::string no_events = text_;
  no_events.erase(no_events.find(",\n  \"events\""), std::string::npos);
  no_events += "\n}\n";
  ExpectRefused(no_events, "", "missing \"events\"");
}

TEST_F(ConsentProofParseTest, TheExportKeysAreStrict) {
  // Each of them missing.
  const auto without = [this](const std::string& key, const std::string& end) {
    std::string out = text_;
    const size_t at = out.find("\n  \"" + key + "\": ");
    EXPECT_NE(at, std::string::npos) << key;
    if (at == std::string::npos) return out;
    out.erase(at, out.find(end, at) + end.size() - 1 - at);
    return out;
  };
  ExpectRefused(without("export_sequence", ",\n"), "", "missing \"export_sequence\"");
  ExpectRefused(without("export_entry", ",\n"), "", "missing \"export_entry\"");
  ExpectRefused(without("export_inclusion_proof", "],\n"), "",
                "missing \"export_inclusion_proof\"");
  // Repeated, unknown where they do not belong.
  ExpectRefused(With("  \"export_sequence\"", "  \"export_sequence\": 1,\n  \"export_sequence\""),
                "", "repeated key \"export_sequence\"");
  ExpectRefused(WithInEvent(1, "\"audit_sequence\"", "\"export_sequence\": 1,\n\"audit_sequence\""),
                "event 1: ", "unknown key \"export_sequence\"");
  ExpectRefused(With("\"export_entry\"", "\"audit_entry\""), "", "unknown key \"audit_entry\"");
  // Types and ranges.
  const std::string seq = absl::StrCat("\"export_sequence\": ", export_sequence_);
  ExpectRefused(With(seq, "\"export_sequence\": -1"), "", "\"export_sequence\" is negative");
  ExpectRefused(With(seq, "\"export_sequence\": \"11\""), "",
                "\"export_sequence\" has the wrong type");
  ExpectRefused(With(seq, "\"export_sequence\": 11.0"), "",
                "\"export_sequence\" is not an integer");
  ExpectRefused(With(seq, "\"export_sequence\": 18446744073709551616"), "",
                "\"export_sequence\" is out of range");
  ExpectRefused(With("\"export_entry\": \"", "\"export_entry\": \" "), "",
                "\"export_entry\" is not canonical base64");
  ExpectRefused(With("\"export_entry\": \"", "\"export_entry\": 1, \"x\": \""), "",
                "\"export_entry\" has the wrong type");
  const std::string list = "\"export_inclusion_proof\": [";
  ExpectRefused(With(list, list + "\"AAAA\", "), "",
                "\"export_inclusion_proof\" entry 1 is not a canonical base64 SHA-256 hash");
  ExpectRefused(With(list, list + "1, "), "", "\"export_inclusion_proof\" has the wrong type");
  ExpectRefused(With(list, list + "[], "), "", "\"export_inclusion_proof\" has the wrong type");
  ExpectRefused(With(list, list + "{}, "), "", "\"export_inclusion_proof\" has the wrong type");
  ExpectRefused(With(list, list + "null, "), "", "\"export_inclusion_proof\" has the wrong type");
  ExpectRefused(With(list, "\"export_inclusion_proof\": {}, \"x\": ["), "",
                "\"export_inclusion_proof\" has the wrong type");
  ExpectRefused(With(list, "\"export_inclusion_proof\": \"\", \"x\": ["), "",
                "\"export_inclusion_proof\" has the wrong type");
  // The events' array is not a list of strings, nor the list an array of events.
  ExpectRefused(With("\"events\": [", "\"events\": [\"x\", "), "", "\"events\" has the wrong type");
  ExpectRefused(With(list, list + "{\"number\": 1}, "), "",
                "\"export_inclusion_proof\" has the wrong type");
  // Bounded like the events' lists.
  std::string many;
  for (int i = 0; i < 65; ++i) absl::StrAppend(&many, "\"x\", ");
  ExpectRefused(With(list, list + many), "", "\"export_inclusion_proof\" has more than 64 entries");
}

TEST_F(ConsentProofParseTest, KeysFromTheDocumentAreQuotedSafely) {
  // The key "evil<LF><ESC>[31mkkk...", escaped as JSON.
  const std::string json_key = "evil\\n\\u001b[31m" + std::string(100, 'k');
  absl::StatusOr<ConsentProof> parsed =
      ParseConsentProof(With("{\n", "{\n  \"" + json_key + "\": 1,\n"));
  ASSERT_FALSE(parsed.ok());
  const std::string message(parsed.status().message());
  EXPECT_THAT(message, HasSubstr("unknown key \"evil\\n\\x1b[31mkkk"));
  EXPECT_THAT(message, HasSubstr("...\""));
  EXPECT_THAT(message, Not(HasSubstr(std::string(50, 'k'))));
  EXPECT_EQ(message.find('\n'), std::string::npos);
}

TEST_F(ConsentProofParseTest, WrongTypesAndRangesAreNamed) {
  ExpectRefused(WithInEvent(1, "\"number\": 1", "\"number\": \"1\""),
                "event 1: ", "\"number\" has the wrong type");
  ExpectRefused(WithInEvent(1, "\"number\": 1", "\"number\": 4294967296"),
                "event 1: ", "\"number\" is out of range");
  ExpectRefused(WithInEvent(1, "\"number\": 1", "\"number\": -1"),
                "event 1: ", "\"number\" is negative");
  ExpectRefused(WithInEvent(1, "\"number\": 1", "\"number\": 1.0"),
                "event 1: ", "\"number\" is not an integer");
  ExpectRefused(WithInEvent(1, "\"number\": 1", "\"number\": 1e0"),
                "event 1: ", "\"number\" is not an integer");
  ExpectRefused(WithInEvent(2, "\"audit_sequence\": 3", "\"audit_sequence\": 18446744073709551616"),
                "event 2: ", "\"audit_sequence\" is out of range");
  ExpectRefused(WithInEvent(1, "\"at_unix_micros\": 1796130000123456",
                            "\"at_unix_micros\": 9223372036854775808"),
                "event 1: ", "\"at_unix_micros\" is out of range");
  ExpectRefused(WithInEvent(1, "\"authorizes_automated\": true", "\"authorizes_automated\": 1"),
                "event 1: ", "\"authorizes_automated\" has the wrong type");
  ExpectRefused(WithInEvent(1, "\"source_url\": ", "\"source_url\": null, \"x\": "),
                "event 1: ", "\"source_url\" has the wrong type");
  ExpectRefused(WithInEvent(2, "\"missing\": [", "\"missing\": \"seller_name\", \"x\": ["),
                "event 2: ", "\"missing\" has the wrong type");
  ExpectRefused(WithInEvent(2, "\"missing\": [", "\"missing\": [1, "),
                "event 2: ", "\"missing\" has the wrong type");
  ExpectRefused(WithInEvent(2, "\"missing\": [", "\"missing\": [[], "),
                "event 2: ", "\"missing\" has the wrong type");
  ExpectRefused(WithInEvent(1, "\"channels\": [\"email\"]", "\"channels\": \"email\""),
                "event 1: ", "\"channels\" has the wrong type");
  ExpectRefused(WithInEvent(1, "\"channels\": [\"email\"]", "\"channels\": {}"),
                "event 1: ", "\"channels\" has the wrong type");
  ExpectRefused(WithInEvent(4, "\"third_parties\": [", "\"third_parties\": [7, "),
                "event 4: ", "\"third_parties\" has the wrong type");
  ExpectRefused(With("\"events\": [", "\"events\": [1, "), "", "\"events\" has the wrong type");
  ExpectRefused(With("\"events\": [", "\"events\": [[], "), "", "\"events\" has the wrong type");
  ExpectRefused("{\"events\": {}}", "", "\"events\" has the wrong type");
  ExpectRefused("{\"events\": 3}", "", "\"events\" has the wrong type");
  ExpectRefused(With("\"lead_id\": ", "\"lead_id\": {\"a\": 1}, \"x\": "), "",
                "\"lead_id\" has the wrong type");
}

TEST_F(ConsentProofParseTest, InformativeValuesMustMatchTheirSources) {
  ExpectRefused(With("\"generated_at\": \"2026-12-02T14:00:00.123456Z\"",
                     "\"generated_at\": \"2026-12-02T14:00:00.123457Z\""),
                "", "\"generated_at\" does not spell \"generated_at_unix_micros\"");
  ExpectRefused(WithInEvent(1, "\"at\": \"2026-12-01T13:00:00.123456Z\"",
                            "\"at\": \"2026-12-01T14:00:00.123456+01:00\""),
                "event 1: ", "\"at\" does not spell \"at_unix_micros\"");
  ExpectRefused(
      WithInEvent(3, "\"captured_at\": \"\"", "\"captured_at\": \"1970-01-01T00:00:00.000000Z\""),
      "event 3: ", "\"captured_at\" does not spell \"captured_at_unix_micros\"");
  const std::string digest = ConsentEventDigest(events_[1]);
  ExpectRefused(WithInEvent(2, digest, FlipLastHex(digest)),
                "event 2: ", "\"digest\" does not match the event's fields");
}

TEST_F(ConsentProofParseTest, BinaryMustBeCanonicalBase64) {
  const std::string entry = absl::Base64Escape(canonical_[5]);  // event 3's entry
  ExpectRefused(WithInEvent(3, entry + "\"", entry + "A\""),
                "event 3: ", "\"audit_entry\" is not canonical base64");
  ExpectRefused(WithInEvent(3, "\"audit_entry\": \"", "\"audit_entry\": \" "),
                "event 3: ", "\"audit_entry\" is not canonical base64");
  ExpectRefused(
      WithInEvent(3, "\"inclusion_proof\": [\n        \"", "\"inclusion_proof\": [\"AAAA\", \""),
      "event 3: ", "\"inclusion_proof\" entry 1 is not a canonical base64 SHA-256 hash");
  ExpectRefused(WithInEvent(3, "=\"\n", "=x\"\n"), "event 3: ", "\"inclusion_proof\" entry ");
}

TEST_F(ConsentProofParseTest, SyntaxErrorsSayWhere) {
  const std::string text = text_;
  ExpectRefused(text.substr(0, text.size() / 2), "invalid JSON at byte ", "");
  ExpectRefused(text + "{}", "invalid JSON at byte ", "");
  ExpectRefused("\xEF\xBB\xBF" + text, "invalid JSON at byte 1: ", "expected '{'");
  ExpectRefused(text + std::string(1, '\0') + "junk", "invalid JSON at byte ", "NUL byte");
  ExpectRefused("[" + text + "]", "invalid JSON at byte 1: ", "expected '{'");
  ExpectRefused("\"text\"", "invalid JSON at byte ", "expected '{'");
  ExpectRefused("", "invalid JSON at byte ", "");
  // No error quotes the text it stopped at.
  absl::StatusOr<ConsentProof> parsed =
      ParseConsentProof(With("\"seller_name\": \"Riverside", "\"seller_name\": Riverside"));
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(std::string(parsed.status().message()), Not(HasSubstr("Riverside")));
}

TEST_F(ConsentProofParseTest, ListsAreBounded) {
  std::string many;
  for (int i = 0; i < 65; ++i) absl::StrAppend(&many, "\"x\", ");
  ExpectRefused(WithInEvent(2, "\"missing\": [", "\"missing\": [" + many),
                "event 2: ", "\"missing\" has more than 64 entries");
}

TEST_F(ConsentProofParseTest, TheSizeIsBounded) {
  std::string big = text_;
  big.append(kMaxConsentProofBytes + 1 - big.size(), ' ');
  ExpectRefused(big, "larger than 64 MiB", "");
  big.pop_back();  // trailing whitespace is fine
  absl::StatusOr<ConsentProof> parsed = ParseConsentProof(big);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
}

TEST_F(ConsentProofParseTest, TheEventCountIsBounded) {
  ConsentProof proof = Proof();
  const ConsentProofItem item = proof.items[2];
  proof.items.assign(kMaxConsentProofEvents, item);
  absl::StatusOr<ConsentProof> at_limit = ParseConsentProof(RenderConsentProof(proof));
  ASSERT_TRUE(at_limit.ok()) << at_limit.status();
  EXPECT_EQ(at_limit->items.size(), kMaxConsentProofEvents);
  proof.items.push_back(item);
  ExpectRefused(RenderConsentProof(proof), "more than 10000 events", "");
}

}  // namespace
}  // namespace leadvault::audit
