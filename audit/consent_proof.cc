// The document is written by hand (fixed key order and layout, the export's
// string escaping) and read with nlohmann::json's SAX parser into the
// structs directly: one event's members are held at a time, so memory stays
// proportional to the document, and every key is known when it is read, so an
// unknown or repeated key is refused where it stands.
#include "audit/consent_proof.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "audit/audit_entry.h"
#include "audit/internal/json.h"
#include "keys/base64.h"
#include "keys/hash.h"
#include "keys/status_macros.h"
#include "nlohmann/json.hpp"

namespace leadvault::audit {
namespace {

constexpr absl::string_view kFormat = "leadvault-consent-proof";
constexpr uint64_t kVersion = 2;
constexpr absl::string_view kFieldPrefix = "consent_event=";
constexpr absl::string_view kCountPrefix = "consent_events=";
constexpr absl::string_view kExportAction = "ExportConsentProof";
constexpr size_t kLeadIdHexSize = 32;
constexpr size_t kSha256HexSize = 64;
// More strings than any list of the format holds (an inclusion proof has at
// most 64 hashes; TCPA names far fewer missing elements).
constexpr size_t kMaxListSize = 64;

constexpr absl::string_view kGrant = "grant";
constexpr absl::string_view kRevoke = "revoke";
// The audit actions under which the vault records consent events.
constexpr absl::string_view kRecordingActions[] = {"CreateLead", "RecordConsent"};

// The type a key's value must have: kList is an array of strings, kEvents
// the array of event objects.
enum class Type { kString, kUnsigned, kInteger, kBool, kList, kEvents };
struct KeyType {
  absl::string_view key;
  Type type;
};
constexpr KeyType kRootKeys[] = {
    {"format", Type::kString},       {"version", Type::kUnsigned},
    {"lead_id", Type::kString},      {"generated_at_unix_micros", Type::kInteger},
    {"generated_at", Type::kString}, {"generated_by", Type::kString},
    {"checkpoint", Type::kString},   {"export_sequence", Type::kUnsigned},
    {"export_entry", Type::kString}, {"export_inclusion_proof", Type::kList},
    {"events", Type::kEvents},
};
constexpr KeyType kEventKeys[] = {
    {"number", Type::kUnsigned},
    {"lead_id", Type::kString},
    {"at_unix_micros", Type::kInteger},
    {"at", Type::kString},
    {"recorded_by", Type::kString},
    {"action", Type::kString},
    {"channels", Type::kList},       // of strings
    {"purposes", Type::kList},       // of strings
    {"third_parties", Type::kList},  // of strings
    {"captured_at_unix_micros", Type::kInteger},
    {"captured_at", Type::kString},
    {"source_url", Type::kString},
    {"seller_name", Type::kString},
    {"disclosure_version", Type::kString},
    {"disclosure_sha256", Type::kString},
    {"authorizes_automated", Type::kBool},
    {"not_condition_of_purchase", Type::kBool},
    {"capture_certificate_id", Type::kString},
    {"user_agent", Type::kString},
    {"ip_commitment", Type::kString},
    {"missing", Type::kList},  // of strings
    {"method", Type::kString},
    {"method_detail", Type::kString},
    {"digest", Type::kString},
    {"audit_sequence", Type::kUnsigned},
    {"audit_entry", Type::kString},
    {"inclusion_proof", Type::kList},  // of strings
};

template <size_t N>
const KeyType* FindKey(absl::string_view key, const KeyType (&keys)[N]) {
  for (const KeyType& k : keys) {
    if (k.key == key) return &k;
  }
  return nullptr;
}

template <size_t N>
bool IsOneOf(absl::string_view s, const absl::string_view (&set)[N]) {
  return std::find(std::begin(set), std::end(set), s) != std::end(set);
}

bool IsLowerHex(absl::string_view s, size_t size) {
  if (s.size() != size) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// ---- Canonical bytes -----------------------------------------------------------

void PutU32(uint32_t v, std::string& out) {
  const char bytes[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                         static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(bytes, sizeof(bytes));
}

void PutI64(int64_t v, std::string& out) {
  const uint64_t u = static_cast<uint64_t>(v);
  PutU32(static_cast<uint32_t>(u >> 32), out);
  PutU32(static_cast<uint32_t>(u), out);
}

void PutString(absl::string_view s, std::string& out) {
  PutU32(static_cast<uint32_t>(s.size()), out);
  out.append(s.data(), s.size());
}

void PutBool(bool b, std::string& out) { out.push_back(b ? '\x01' : '\x00'); }

void PutList(const std::vector<std::string>& list, std::string& out) {
  PutU32(static_cast<uint32_t>(list.size()), out);
  for (const std::string& s : list) PutString(s, out);
}

// True if every string of `event` fits the canonical length prefix.
bool FitsCanonical(const ConsentProofEvent& e) {
  constexpr size_t kMax = std::numeric_limits<uint32_t>::max();
  for (const std::string* s :
       {&e.lead_id, &e.recorded_by, &e.action, &e.source_url, &e.seller_name, &e.disclosure_version,
        &e.disclosure_sha256, &e.capture_certificate_id, &e.user_agent, &e.ip_commitment, &e.method,
        &e.method_detail}) {
    if (s->size() > kMax) return false;
  }
  for (const std::vector<std::string>* list :
       {&e.channels, &e.purposes, &e.third_parties, &e.missing}) {
    if (list->size() > kMax) return false;
    if (!std::all_of(list->begin(), list->end(),
                     [](const std::string& s) { return s.size() <= kMax; })) {
      return false;
    }
  }
  return true;
}

// ---- Rendering -----------------------------------------------------------------

// "" for 0, else RFC 3339 UTC with six fraction digits.
std::string TimeText(int64_t unix_micros) {
  std::string out;
  if (unix_micros != 0) internal::AppendRfc3339Micros(absl::FromUnixMicros(unix_micros), out);
  return out;
}

// Writes one JSON object, one member per line, indented by `indent` spaces.
class ObjectWriter {
 public:
  ObjectWriter(std::string& out, int indent) : out_(out), indent_(indent) { out_.push_back('{'); }

  // Starts the member `key`; the caller appends its value to out().
  std::string& Key(absl::string_view key) {
    if (!first_) out_.push_back(',');
    first_ = false;
    out_.push_back('\n');
    out_.append(static_cast<size_t>(indent_ + 2), ' ');
    internal::AppendJsonString(key, out_);
    out_.append(": ");
    return out_;
  }
  void String(absl::string_view key, absl::string_view value) {
    internal::AppendJsonString(value, Key(key));
  }
  void Uint(absl::string_view key, uint64_t value) { absl::StrAppend(&Key(key), value); }
  void Int(absl::string_view key, int64_t value) { absl::StrAppend(&Key(key), value); }
  void Bool(absl::string_view key, bool value) { Key(key).append(value ? "true" : "false"); }
  // Unix micros and, under `text_key`, their RFC 3339 spelling.
  void Time(absl::string_view micros_key, absl::string_view text_key, int64_t unix_micros) {
    Int(micros_key, unix_micros);
    String(text_key, TimeText(unix_micros));
  }
  // On one line: ["a", "b"].
  void InlineList(absl::string_view key, const std::vector<std::string>& list) {
    std::string& out = Key(key);
    out.push_back('[');
    for (size_t i = 0; i < list.size(); ++i) {
      if (i != 0) out.append(", ");
      internal::AppendJsonString(list[i], out);
    }
    out.push_back(']');
  }
  // One base64 hash per line.
  void HashList(absl::string_view key, const std::vector<Hash>& hashes) {
    std::string& out = Key(key);
    out.push_back('[');
    for (size_t i = 0; i < hashes.size(); ++i) {
      out.append(i == 0 ? "\n" : ",\n");
      out.append(static_cast<size_t>(indent_ + 4), ' ');
      absl::StrAppend(&out, "\"", absl::Base64Escape(HashBytes(hashes[i])), "\"");
    }
    if (!hashes.empty()) {
      out.push_back('\n');
      out.append(static_cast<size_t>(indent_ + 2), ' ');
    }
    out.push_back(']');
  }
  void Close() {
    out_.push_back('\n');
    out_.append(static_cast<size_t>(indent_), ' ');
    out_.push_back('}');
  }

 private:
  std::string& out_;
  const int indent_;
  bool first_ = true;
};

void RenderItem(const ConsentProofItem& item, int indent, std::string& out) {
  const ConsentProofEvent& e = item.event;
  ObjectWriter w(out, indent);
  w.Uint("number", e.number);
  w.String("lead_id", e.lead_id);
  w.Time("at_unix_micros", "at", e.at_unix_micros);
  w.String("recorded_by", e.recorded_by);
  w.String("action", e.action);
  w.InlineList("channels", e.channels);
  w.InlineList("purposes", e.purposes);
  w.InlineList("third_parties", e.third_parties);
  w.Time("captured_at_unix_micros", "captured_at", e.captured_at_unix_micros);
  w.String("source_url", e.source_url);
  w.String("seller_name", e.seller_name);
  w.String("disclosure_version", e.disclosure_version);
  w.String("disclosure_sha256", e.disclosure_sha256);
  w.Bool("authorizes_automated", e.authorizes_automated);
  w.Bool("not_condition_of_purchase", e.not_condition_of_purchase);
  w.String("capture_certificate_id", e.capture_certificate_id);
  w.String("user_agent", e.user_agent);
  w.String("ip_commitment", e.ip_commitment);
  w.InlineList("missing", e.missing);
  w.String("method", e.method);
  w.String("method_detail", e.method_detail);
  w.String("digest", ConsentEventDigest(e));
  w.Uint("audit_sequence", item.audit_sequence);
  w.String("audit_entry", absl::Base64Escape(item.audit_entry));
  w.HashList("inclusion_proof", item.inclusion_proof);
  w.Close();
}

// ---- Parsing -------------------------------------------------------------------

// A key from the document, safe to put in a message: escaped and cut short.
std::string KeyForMessage(absl::string_view key) {
  constexpr size_t kMaxShown = 40;
  std::string shown = absl::CHexEscape(key.substr(0, kMaxShown));
  if (key.size() > kMaxShown) shown.append("...");
  return shown;
}

struct Member {
  // What the value read is.
  enum class Kind { kString, kUnsigned, kNegative, kBool, kList };
  std::string key;
  Type type = Type::kString;  // what it must be
  Kind kind = Kind::kString;
  std::string text;
  uint64_t unsigned_value = 0;
  int64_t negative_value = 0;
  bool flag = false;
  std::vector<std::string> list;
};

// The members of one object, keys unique and known, and typed access to
// them; errors start with `label` ("" or "event 3: ").
class Members {
 public:
  explicit Members(std::string label) : label_(std::move(label)) {}

  std::vector<Member>& members() { return members_; }

  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(label_, what));
  }
  absl::Status WrongType(absl::string_view key) const {
    return Error(absl::StrCat("\"", key, "\" has the wrong type"));
  }

  absl::StatusOr<std::string> String(absl::string_view key) {
    LV_ASSIGN_OR_RETURN(Member * m, Find(key));
    if (m->kind != Member::Kind::kString) return WrongType(key);
    return std::move(m->text);
  }
  absl::StatusOr<uint64_t> Uint(absl::string_view key, uint64_t max) {
    LV_ASSIGN_OR_RETURN(Member * m, Find(key));
    if (m->kind == Member::Kind::kNegative) return Error(absl::StrCat("\"", key, "\" is negative"));
    if (m->kind != Member::Kind::kUnsigned) return WrongType(key);
    if (m->unsigned_value > max) return Error(absl::StrCat("\"", key, "\" is out of range"));
    return m->unsigned_value;
  }
  absl::StatusOr<int64_t> Int(absl::string_view key) {
    LV_ASSIGN_OR_RETURN(Member * m, Find(key));
    if (m->kind == Member::Kind::kNegative) return m->negative_value;
    if (m->kind != Member::Kind::kUnsigned) return WrongType(key);
    if (m->unsigned_value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Error(absl::StrCat("\"", key, "\" is out of range"));
    }
    return static_cast<int64_t>(m->unsigned_value);
  }
  absl::StatusOr<bool> Bool(absl::string_view key) {
    LV_ASSIGN_OR_RETURN(Member * m, Find(key));
    if (m->kind != Member::Kind::kBool) return WrongType(key);
    return m->flag;
  }
  absl::StatusOr<std::vector<std::string>> List(absl::string_view key) {
    LV_ASSIGN_OR_RETURN(Member * m, Find(key));
    if (m->kind != Member::Kind::kList) return WrongType(key);
    return std::move(m->list);
  }
  // A time's informative RFC 3339 spelling must be the one of its micros.
  absl::Status CheckTimeText(absl::string_view key, absl::string_view micros_key,
                             int64_t unix_micros) {
    LV_ASSIGN_OR_RETURN(std::string text, String(key));
    if (text != TimeText(unix_micros)) {
      return Error(absl::StrCat("\"", key, "\" does not spell \"", micros_key, "\""));
    }
    return absl::OkStatus();
  }

 private:
  absl::StatusOr<Member*> Find(absl::string_view key) {
    for (Member& m : members_) {
      if (m.key == key) return &m;
    }
    return Error(absl::StrCat("missing \"", key, "\""));
  }

  std::string label_;
  std::vector<Member> members_;
};

// The bytes of the base64 string `key`.
absl::StatusOr<std::string> Base64Member(Members& m, absl::string_view key) {
  LV_ASSIGN_OR_RETURN(std::string text, m.String(key));
  std::string bytes;
  if (!keys::Base64Decode(text, &bytes).ok()) {
    return m.Error(absl::StrCat("\"", key, "\" is not canonical base64"));
  }
  return bytes;
}

// The hashes of the list `key`, each a base64 SHA-256 hash.
absl::StatusOr<std::vector<Hash>> HashListMember(Members& m, absl::string_view key) {
  LV_ASSIGN_OR_RETURN(std::vector<std::string> list, m.List(key));
  std::vector<Hash> hashes;
  hashes.reserve(list.size());
  std::string bytes;
  for (size_t i = 0; i < list.size(); ++i) {
    absl::StatusOr<Hash> hash = absl::InvalidArgumentError("");
    if (keys::Base64Decode(list[i], &bytes).ok()) hash = HashFromBytes(bytes);
    if (!hash.ok()) {
      return m.Error(
          absl::StrCat("\"", key, "\" entry ", i + 1, " is not a canonical base64 SHA-256 hash"));
    }
    hashes.push_back(*hash);
  }
  return hashes;
}

absl::StatusOr<ConsentProofItem> ItemFromMembers(Members& m) {
  ConsentProofItem item;
  ConsentProofEvent& e = item.event;
  LV_ASSIGN_OR_RETURN(uint64_t number, m.Uint("number", std::numeric_limits<uint32_t>::max()));
  e.number = static_cast<uint32_t>(number);
  LV_ASSIGN_OR_RETURN(e.lead_id, m.String("lead_id"));
  LV_ASSIGN_OR_RETURN(e.at_unix_micros, m.Int("at_unix_micros"));
  LV_RETURN_IF_ERROR(m.CheckTimeText("at", "at_unix_micros", e.at_unix_micros));
  LV_ASSIGN_OR_RETURN(e.recorded_by, m.String("recorded_by"));
  LV_ASSIGN_OR_RETURN(e.action, m.String("action"));
  LV_ASSIGN_OR_RETURN(e.channels, m.List("channels"));
  LV_ASSIGN_OR_RETURN(e.purposes, m.List("purposes"));
  LV_ASSIGN_OR_RETURN(e.third_parties, m.List("third_parties"));
  LV_ASSIGN_OR_RETURN(e.captured_at_unix_micros, m.Int("captured_at_unix_micros"));
  LV_RETURN_IF_ERROR(
      m.CheckTimeText("captured_at", "captured_at_unix_micros", e.captured_at_unix_micros));
  LV_ASSIGN_OR_RETURN(e.source_url, m.String("source_url"));
  LV_ASSIGN_OR_RETURN(e.seller_name, m.String("seller_name"));
  LV_ASSIGN_OR_RETURN(e.disclosure_version, m.String("disclosure_version"));
  LV_ASSIGN_OR_RETURN(e.disclosure_sha256, m.String("disclosure_sha256"));
  LV_ASSIGN_OR_RETURN(e.authorizes_automated, m.Bool("authorizes_automated"));
  LV_ASSIGN_OR_RETURN(e.not_condition_of_purchase, m.Bool("not_condition_of_purchase"));
  LV_ASSIGN_OR_RETURN(e.capture_certificate_id, m.String("capture_certificate_id"));
  LV_ASSIGN_OR_RETURN(e.user_agent, m.String("user_agent"));
  LV_ASSIGN_OR_RETURN(e.ip_commitment, m.String("ip_commitment"));
  LV_ASSIGN_OR_RETURN(e.missing, m.List("missing"));
  LV_ASSIGN_OR_RETURN(e.method, m.String("method"));
  LV_ASSIGN_OR_RETURN(e.method_detail, m.String("method_detail"));
  LV_ASSIGN_OR_RETURN(std::string digest, m.String("digest"));
  if (digest != ConsentEventDigest(e)) {
    return m.Error("\"digest\" does not match the event's fields");
  }
  LV_ASSIGN_OR_RETURN(item.audit_sequence,
                      m.Uint("audit_sequence", std::numeric_limits<uint64_t>::max()));
  LV_ASSIGN_OR_RETURN(item.audit_entry, Base64Member(m, "audit_entry"));
  LV_ASSIGN_OR_RETURN(item.inclusion_proof, HashListMember(m, "inclusion_proof"));
  return item;
}

absl::Status FillRoot(Members& m, ConsentProof& proof) {
  absl::StatusOr<std::string> format = m.String("format");
  absl::StatusOr<uint64_t> version = m.Uint("version", std::numeric_limits<uint64_t>::max());
  if (!format.ok() || *format != kFormat || !version.ok() || *version != kVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a ", kFormat, " version ", kVersion, " document"));
  }
  LV_ASSIGN_OR_RETURN(proof.lead_id, m.String("lead_id"));
  LV_ASSIGN_OR_RETURN(proof.generated_at_unix_micros, m.Int("generated_at_unix_micros"));
  LV_RETURN_IF_ERROR(
      m.CheckTimeText("generated_at", "generated_at_unix_micros", proof.generated_at_unix_micros));
  LV_ASSIGN_OR_RETURN(proof.generated_by, m.String("generated_by"));
  LV_ASSIGN_OR_RETURN(proof.checkpoint_note, m.String("checkpoint"));
  LV_ASSIGN_OR_RETURN(proof.export_sequence,
                      m.Uint("export_sequence", std::numeric_limits<uint64_t>::max()));
  LV_ASSIGN_OR_RETURN(proof.export_entry, Base64Member(m, "export_entry"));
  LV_ASSIGN_OR_RETURN(proof.export_inclusion_proof, HashListMember(m, "export_inclusion_proof"));
  return absl::OkStatus();
}

// Reads the document from the parser's events into a ConsentProof: the
// root's members are kept until the end, each event's only until its object
// closes and becomes an item. Refuses (returns false, error() set) at the
// first event that does not fit the format's shape.
class ProofReader final : public nlohmann::json_sax<nlohmann::json> {
 public:
  ProofReader(ConsentProof& proof, const size_t& read) : proof_(proof), read_(read) {}

  const absl::Status& error() const { return error_; }

  // The root's members, once the parser has returned true.
  Members& root() { return root_; }
  bool saw_events() const { return saw_events_; }

  bool null() override { return Refuse(WrongTypeHere()); }
  bool boolean(bool value) override {
    Member* m = ScalarTarget(Member::Kind::kBool);
    if (m == nullptr) return false;
    m->flag = value;
    return true;
  }
  bool number_integer(number_integer_t value) override {
    Member* m = ScalarTarget(Member::Kind::kNegative);
    if (m == nullptr) return false;
    m->negative_value = value;
    return true;
  }
  bool number_unsigned(number_unsigned_t value) override {
    Member* m = ScalarTarget(Member::Kind::kUnsigned);
    if (m == nullptr) return false;
    m->unsigned_value = value;
    return true;
  }
  // A fraction, an exponent, or an integer beyond 64 bits.
  bool number_float(number_float_t /*value*/, const string_t& text) override {
    if (!InObject()) return Refuse(WrongTypeHere());
    const Type type = Current().members().back().type;
    if (type != Type::kUnsigned && type != Type::kInteger) return Refuse(WrongTypeHere());
    const bool integer = text.find_first_of(".eE") == string_t::npos;
    return Refuse(Current().Error(absl::StrCat("\"", CurrentKey(), "\" ",
                                               integer ? "is out of range" : "is not an integer")));
  }
  bool string(string_t& value) override {
    if (InList()) {
      Member& list = Current().members().back();
      if (list.list.size() == kMaxListSize) {
        return Refuse(Current().Error(
            absl::StrCat("\"", list.key, "\" has more than ", kMaxListSize, " entries")));
      }
      list.list.push_back(std::move(value));
      return true;
    }
    Member* m = ScalarTarget(Member::Kind::kString);
    if (m == nullptr) return false;
    m->text = std::move(value);
    return true;
  }
  bool binary(binary_t& /*value*/) override { return Refuse(WrongTypeHere()); }

  bool start_object(std::size_t /*elements*/) override {
    switch (state_) {
      case State::kStart:
        state_ = State::kRoot;
        return true;
      case State::kEvents:
        if (++events_ > kMaxConsentProofEvents) {
          return Refuse(absl::InvalidArgumentError(
              absl::StrCat("more than ", kMaxConsentProofEvents, " events")));
        }
        event_ = Members(absl::StrCat("event ", events_, ": "));
        state_ = State::kEvent;
        return true;
      default:
        return Refuse(WrongTypeHere());
    }
  }
  bool end_object() override {
    if (state_ == State::kRoot) {
      state_ = State::kEnd;
      return true;
    }
    // kEvent: the only other object the reader lets open.
    absl::StatusOr<ConsentProofItem> item = ItemFromMembers(event_);
    if (!item.ok()) return Refuse(item.status());
    proof_.items.push_back(*std::move(item));
    event_ = Members("");
    state_ = State::kEvents;
    return true;
  }
  bool start_array(std::size_t /*elements*/) override {
    if (!InObject()) return Refuse(WrongTypeHere());
    Member& m = Current().members().back();
    if (m.type != Type::kList && m.type != Type::kEvents) return Refuse(WrongTypeHere());
    m.kind = Member::Kind::kList;
    if (m.type == Type::kEvents) {
      saw_events_ = true;  // "events": its objects become items, the member stays empty
      state_ = State::kEvents;
    } else {
      state_ = state_ == State::kRoot ? State::kRootList : State::kList;
    }
    return true;
  }
  bool end_array() override {
    state_ = state_ == State::kList ? State::kEvent : State::kRoot;
    return true;
  }
  bool key(string_t& value) override {
    Members& members = Current();
    const KeyType* known =
        state_ == State::kRoot ? FindKey(value, kRootKeys) : FindKey(value, kEventKeys);
    if (known == nullptr) {
      return Refuse(members.Error(absl::StrCat("unknown key \"", KeyForMessage(value), "\"")));
    }
    for (const Member& m : members.members()) {
      if (m.key == value) {
        return Refuse(members.Error(absl::StrCat("repeated key \"", value, "\"")));
      }
    }
    members.members().emplace_back();
    members.members().back().key = std::move(value);
    members.members().back().type = known->type;
    return true;
  }
  bool parse_error(std::size_t position, const std::string& /*last_token*/,
                   const nlohmann::json::exception& error) override {
    error_ = internal::JsonError(position, internal::SyntaxErrorText(error));
    return false;
  }

 private:
  // Where the parser is: before the root, in the root object, in one of its
  // string arrays, in the events array, in one event, in one of its string
  // arrays, after the root.
  enum class State { kStart, kRoot, kRootList, kEvents, kEvent, kList, kEnd };

  bool InObject() const { return state_ == State::kRoot || state_ == State::kEvent; }
  bool InList() const { return state_ == State::kRootList || state_ == State::kList; }
  Members& Current() {
    return state_ == State::kRoot || state_ == State::kRootList ? root_ : event_;
  }
  // The key whose value is being read. REQUIRES: InObject() or InList().
  absl::string_view CurrentKey() { return Current().members().back().key; }

  // The error for a value of the wrong kind where the parser is.
  absl::Status WrongTypeHere() {
    switch (state_) {
      case State::kStart:
      case State::kEnd:
        return internal::JsonError(read_, "expected '{'");
      case State::kEvents:
        return root_.WrongType("events");
      case State::kRootList:
      case State::kList:
        return Current().WrongType(CurrentKey());
      case State::kRoot:
      case State::kEvent:
        break;
    }
    return Current().WrongType(CurrentKey());
  }

  // The member a scalar of `kind` is the value of; nullptr (and error() set)
  // if a scalar of that kind does not belong where the parser is.
  Member* ScalarTarget(Member::Kind kind) {
    if (!InObject()) {
      Refuse(WrongTypeHere());
      return nullptr;
    }
    Member& m = Current().members().back();
    bool fits = false;
    switch (m.type) {
      case Type::kString:
        fits = kind == Member::Kind::kString;
        break;
      case Type::kUnsigned:
        if (kind == Member::Kind::kNegative) {
          Refuse(Current().Error(absl::StrCat("\"", m.key, "\" is negative")));
          return nullptr;
        }
        fits = kind == Member::Kind::kUnsigned;
        break;
      case Type::kInteger:
        fits = kind == Member::Kind::kUnsigned || kind == Member::Kind::kNegative;
        break;
      case Type::kBool:
        fits = kind == Member::Kind::kBool;
        break;
      case Type::kList:
      case Type::kEvents:
        break;
    }
    if (!fits) {
      Refuse(WrongTypeHere());
      return nullptr;
    }
    m.kind = kind;
    return &m;
  }

  bool Refuse(absl::Status status) {
    error_ = std::move(status);
    return false;
  }

  ConsentProof& proof_;
  const size_t& read_;  // bytes the parser has read so far
  State state_ = State::kStart;
  Members root_{""};
  Members event_{""};
  size_t events_ = 0;
  bool saw_events_ = false;
  absl::Status error_;
};

// ---- Verification --------------------------------------------------------------

absl::Status EventError(size_t index, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("event ", index + 1, ": ", what));
}

// The event's own rules, before its audit entry is looked at.
absl::Status CheckEventShape(const ConsentProofEvent& e, size_t index, absl::string_view lead_id) {
  if (e.number != index + 1) {
    return EventError(index,
                      "out of order: events must be numbered 1, 2, 3, ... in the list, none "
                      "missing or repeated");
  }
  if (e.lead_id != lead_id) return EventError(index, "is not an event of the document's lead");
  if (e.action != kGrant && e.action != kRevoke) {
    return EventError(index, "action is neither \"grant\" nor \"revoke\"");
  }
  if (!e.disclosure_sha256.empty() && !IsLowerHex(e.disclosure_sha256, kSha256HexSize)) {
    return EventError(index, "disclosure_sha256 is neither empty nor 64 lower-case hex digits");
  }
  if (!e.ip_commitment.empty() && !IsLowerHex(e.ip_commitment, kSha256HexSize)) {
    return EventError(index, "ip_commitment is neither empty nor 64 lower-case hex digits");
  }
  if (!FitsCanonical(e)) return EventError(index, "a field is too long to encode");
  return absl::OkStatus();
}

// The audit entry and its inclusion proof, against `checkpoint`.
absl::Status CheckRecorded(const ConsentProofItem& item, size_t index, absl::string_view lead_id,
                           const Checkpoint& checkpoint) {
  if (item.audit_sequence == 0) return EventError(index, "audit_sequence is 0");
  if (item.audit_sequence > checkpoint.size) {
    return EventError(index, "audit_sequence is beyond the checkpoint's tree size");
  }
  absl::StatusOr<AuditEntry> entry = DecodeCanonical(item.audit_entry);
  if (!entry.ok()) {
    return EventError(index,
                      absl::StrCat("audit_entry: ",
                                   absl::StripPrefix(entry.status().message(), "audit entry: ")));
  }
  if (entry->sequence != item.audit_sequence) {
    return EventError(index, "the audit entry's sequence is not audit_sequence");
  }
  if (entry->outcome != Outcome::kAllowed) {
    return EventError(index, "the audit entry's outcome is not allowed");
  }
  if (!IsOneOf(entry->action, kRecordingActions)) {
    return EventError(index, "the audit entry is not a CreateLead or RecordConsent call");
  }
  if (std::find(entry->lead_ids.begin(), entry->lead_ids.end(), lead_id) == entry->lead_ids.end()) {
    return EventError(index, "the audit entry does not name the lead");
  }
  const std::string field = ConsentEventField(item.event);
  if (std::find(entry->fields.begin(), entry->fields.end(), field) == entry->fields.end()) {
    return EventError(index,
                      "the audit entry does not record this event (no consent_event field "
                      "matches the event's digest)");
  }
  absl::Status included =
      VerifyInclusion(item.audit_sequence - 1, checkpoint.size, LeafHash(item.audit_entry),
                      item.inclusion_proof, checkpoint.root);
  if (!included.ok()) {
    return EventError(index, absl::StrCat("inclusion proof: ", included.message()));
  }
  return absl::OkStatus();
}

absl::Status ExportError(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("export: ", what));
}

// The vault's export entry, against `checkpoint` and the (verified) items:
// it counts exactly the document's events and comes after all of them.
// Returns the entry.
absl::StatusOr<AuditEntry> CheckExport(const ConsentProof& proof, const Checkpoint& checkpoint) {
  if (proof.export_sequence == 0) return ExportError("export_sequence is 0");
  if (proof.export_sequence > checkpoint.size) {
    return ExportError("export_sequence is beyond the checkpoint's tree size");
  }
  for (size_t i = 0; i < proof.items.size(); ++i) {
    if (proof.items[i].audit_sequence >= proof.export_sequence) {
      return ExportError(
          absl::StrCat("the export entry is not later than the audit entry of event ", i + 1));
    }
  }
  absl::StatusOr<AuditEntry> entry = DecodeCanonical(proof.export_entry);
  if (!entry.ok()) {
    return ExportError(absl::StrCat("export_entry: ",
                                    absl::StripPrefix(entry.status().message(), "audit entry: ")));
  }
  if (entry->sequence != proof.export_sequence) {
    return ExportError("the export entry's sequence is not export_sequence");
  }
  if (entry->outcome != Outcome::kAllowed) {
    return ExportError("the export entry's outcome is not allowed");
  }
  if (entry->action != kExportAction) {
    return ExportError("the export entry is not an ExportConsentProof call");
  }
  if (std::find(entry->lead_ids.begin(), entry->lead_ids.end(), proof.lead_id) ==
      entry->lead_ids.end()) {
    return ExportError("the export entry does not name the lead");
  }
  const std::string* count = nullptr;
  for (const std::string& field : entry->fields) {
    if (!absl::StartsWith(field, kCountPrefix)) continue;
    if (count != nullptr) {
      return ExportError("the export entry holds more than one consent_events field");
    }
    count = &field;
  }
  if (count == nullptr) return ExportError("the export entry holds no consent_events field");
  if (*count != absl::StrCat(kCountPrefix, proof.items.size())) {
    return ExportError(
        "the document does not hold as many events as the export entry counts (consent_events)");
  }
  absl::Status included =
      VerifyInclusion(proof.export_sequence - 1, checkpoint.size, LeafHash(proof.export_entry),
                      proof.export_inclusion_proof, checkpoint.root);
  if (!included.ok()) {
    return ExportError(absl::StrCat("inclusion proof: ", included.message()));
  }
  return entry;
}

}  // namespace

std::string ConsentEventCanonical(const ConsentProofEvent& e) {
  std::string out;
  out.reserve(512 + e.source_url.size() + e.user_agent.size());
  PutString(kConsentEventTag, out);
  PutString(e.lead_id, out);
  PutU32(e.number, out);
  PutI64(e.at_unix_micros, out);
  PutString(e.recorded_by, out);
  PutString(e.action, out);
  PutList(e.channels, out);
  PutList(e.purposes, out);
  PutList(e.third_parties, out);
  PutI64(e.captured_at_unix_micros, out);
  PutString(e.source_url, out);
  PutString(e.seller_name, out);
  PutString(e.disclosure_version, out);
  PutString(e.disclosure_sha256, out);
  PutBool(e.authorizes_automated, out);
  PutBool(e.not_condition_of_purchase, out);
  PutString(e.capture_certificate_id, out);
  PutString(e.user_agent, out);
  PutString(e.ip_commitment, out);
  PutList(e.missing, out);
  PutString(e.method, out);
  PutString(e.method_detail, out);
  return out;
}

std::string ConsentEventDigest(const ConsentProofEvent& event) {
  const keys::Sha256Digest digest = keys::Sha256({ConsentEventCanonical(event)});
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

std::string ConsentEventField(const ConsentProofEvent& event) {
  return absl::StrCat(kFieldPrefix, ConsentEventDigest(event));
}

std::string RenderConsentProof(const ConsentProof& proof) {
  std::string out;
  ObjectWriter w(out, 0);
  w.String("format", kFormat);
  w.Uint("version", kVersion);
  w.String("lead_id", proof.lead_id);
  w.Time("generated_at_unix_micros", "generated_at", proof.generated_at_unix_micros);
  w.String("generated_by", proof.generated_by);
  w.String("checkpoint", proof.checkpoint_note);
  w.Uint("export_sequence", proof.export_sequence);
  w.String("export_entry", absl::Base64Escape(proof.export_entry));
  w.HashList("export_inclusion_proof", proof.export_inclusion_proof);
  std::string& events = w.Key("events");
  events.push_back('[');
  for (size_t i = 0; i < proof.items.size(); ++i) {
    events.append(i == 0 ? "\n    " : ",\n    ");
    RenderItem(proof.items[i], 4, events);
  }
  if (!proof.items.empty()) events.append("\n  ");
  events.push_back(']');
  w.Close();
  out.push_back('\n');
  return out;
}

absl::StatusOr<ConsentProof> ParseConsentProof(absl::string_view text) {
  if (text.size() > kMaxConsentProofBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("larger than ", kMaxConsentProofBytes >> 20, " MiB"));
  }
  if (text.substr(0, 3) == "\xEF\xBB\xBF") return internal::JsonError(1, "expected '{'");
  // nlohmann ends the input at a NUL byte; valid JSON holds none.
  if (const size_t nul = text.find('\0'); nul != absl::string_view::npos) {
    return internal::JsonError(nul + 1, "NUL byte");
  }
  ConsentProof proof;
  size_t read = 0;
  ProofReader reader(proof, read);
  const bool parsed = nlohmann::json::sax_parse(
      internal::CountingIterator(text.data(), &read),
      internal::CountingIterator(text.data() + text.size(), &read), &reader);
  if (!parsed) {
    if (reader.error().ok()) return internal::JsonError(read, "syntax error");
    return reader.error();
  }
  LV_RETURN_IF_ERROR(FillRoot(reader.root(), proof));
  if (!reader.saw_events()) return absl::InvalidArgumentError("missing \"events\"");
  return proof;
}

absl::StatusOr<ConsentProofReport> VerifyConsentProof(const ConsentProof& proof,
                                                      const NoteVerifier& verifier) {
  absl::StatusOr<Checkpoint> checkpoint = OpenCheckpoint(proof.checkpoint_note, verifier);
  if (!checkpoint.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "checkpoint: ", absl::StripPrefix(checkpoint.status().message(), "checkpoint: ")));
  }
  if (!IsLowerHex(proof.lead_id, kLeadIdHexSize)) {
    return absl::InvalidArgumentError("lead_id: not 32 lower-case hex digits");
  }
  ConsentProofReport report;
  report.checkpoint = *std::move(checkpoint);
  for (size_t i = 0; i < proof.items.size(); ++i) {
    const ConsentProofItem& item = proof.items[i];
    LV_RETURN_IF_ERROR(CheckEventShape(item.event, i, proof.lead_id));
    LV_RETURN_IF_ERROR(CheckRecorded(item, i, proof.lead_id, report.checkpoint));
    if (item.event.action == kGrant) {
      ++report.grants;
    } else {
      ++report.revocations;
    }
  }
  report.events = proof.items.size();
  LV_ASSIGN_OR_RETURN(AuditEntry exported, CheckExport(proof, report.checkpoint));
  report.export_sequence = exported.sequence;
  report.exported_at = exported.time;
  return report;
}

}  // namespace leadvault::audit
