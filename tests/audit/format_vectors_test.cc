// The test vectors of audit/FORMAT.md, derived from the real code: canonical
// entries with their leaf hashes and export lines, malformed encodings the
// decoder refuses, the roots, inclusion and consistency proofs of a small
// log, a checkpoint and an export manifest signed with a FIXED TEST key, and
// small exports with the verdict of the real offline verifier. The test fails
// if audit/testdata/vectors.json is not exactly what the code produces now, so
// the vectors cannot drift from the code; LEADVAULT_WRITE_VECTORS=1 rewrites
// the file instead (then review the diff: a changed vector is a format change).
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "audit/audit_entry.h"
#include "audit/checkpoint.h"
#include "audit/export_format.h"
#include "audit/export_manifest.h"
#include "audit/merkle.h"
#include "audit/verifier.h"
#include "gtest/gtest.h"
#include "keys/hash.h"
#include "keys/secret_bytes.h"
#include "keys/signing.h"
#include "tests/audit/memory_tree.h"
#include "tests/testing/fakes.h"

#ifndef LEADVAULT_FORMAT_VECTORS
#error "LEADVAULT_FORMAT_VECTORS must be defined by the build"
#endif

namespace leadvault::audit {
namespace {

constexpr char kVectorsPath[] = LEADVAULT_FORMAT_VECTORS;
constexpr char kOrigin[] = "vectors.leadvault.test";
// The seeds of the two TEST keys are SHA-256 of these phrases.
constexpr char kKeyPhrase[] = "leadvault audit FORMAT.md test vectors: TEST KEY ONLY";
constexpr char kOtherKeyPhrase[] = "leadvault audit FORMAT.md test vectors: OTHER TEST KEY";
constexpr char kLeadA[] = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
constexpr char kLeadB[] = "f0e1d2c3b4a5968778695a4b3c2d1e0f";
constexpr char kPrincipal[] = "3f2a9c1e5b7d4f6081a2b3c4d5e6f708";

// ---------------------------------------------------------------------------
// A small JSON writer with one fixed layout, so the file is byte-stable:
// objects one member per line, arrays of scalars on one line, arrays of
// objects one element per line, two-space indent. Strings are escaped as the
// export escapes them (audit/export_format.h), so any bytes round-trip
// (a byte that is not well-formed UTF-8 is the lone surrogate \udcXX).

size_t Utf8Length(absl::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  const size_t n = s.size() - i;
  auto at = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  auto cont = [&](size_t k) { return (at(k) & 0xC0) == 0x80; };
  if (c < 0xC2) return 0;
  if (c < 0xE0) return n >= 2 && cont(1) ? 2 : 0;
  if (c < 0xF0) {
    const unsigned char lo = c == 0xE0 ? 0xA0 : 0x80;
    const unsigned char hi = c == 0xED ? 0x9F : 0xBF;
    return n >= 3 && at(1) >= lo && at(1) <= hi && cont(2) ? 3 : 0;
  }
  if (c < 0xF5) {
    const unsigned char lo = c == 0xF0 ? 0x90 : 0x80;
    const unsigned char hi = c == 0xF4 ? 0x8F : 0xBF;
    return n >= 4 && at(1) >= lo && at(1) <= hi && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

std::string Escape4(unsigned v) {
  static constexpr char kHex[] = "0123456789abcdef";
  return {'\\',         'u', kHex[(v >> 12) & 0xF], kHex[(v >> 8) & 0xF], kHex[(v >> 4) & 0xF],
          kHex[v & 0xF]};
}

std::string Quote(absl::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (c < 0x20 || c == 0x7F) {
            out += Escape4(c);
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    const size_t len = Utf8Length(s, i);
    if (len == 0) {
      out += Escape4(0xDC00u | c);
      ++i;
    } else if (s.substr(i, len) == "\u2028" || s.substr(i, len) == "\u2029") {
      out += Escape4(s.substr(i, len) == "\u2028" ? 0x2028u : 0x2029u);
      i += len;
    } else {
      out.append(s.data() + i, len);
      i += len;
    }
  }
  out += "\"";
  return out;
}

class Json {
 public:
  static Json Str(absl::string_view s) { return Scalar(Quote(s)); }
  static Json Hex(absl::string_view bytes) { return Str(absl::BytesToHexString(bytes)); }
  static Json HashHex(const Hash& h) { return Hex(HashBytes(h)); }
  static Json Uint(uint64_t v) { return Scalar(absl::StrCat(v)); }
  static Json Int(int64_t v) { return Scalar(absl::StrCat(v)); }
  static Json Bool(bool v) { return Scalar(v ? "true" : "false"); }
  static Json Null() { return Scalar("null"); }
  static Json Array() { return Json(Kind::kArray); }
  static Json Object() { return Json(Kind::kObject); }
  static Json Strings(const std::vector<std::string>& list) {
    Json a = Array();
    for (const std::string& s : list) a.Push(Str(s));
    return a;
  }
  static Json Hashes(const std::vector<Hash>& list) {
    Json a = Array();
    for (const Hash& h : list) a.Push(HashHex(h));
    return a;
  }

  Json& Add(absl::string_view key, Json value) {
    members_.emplace_back(std::string(key), std::move(value));
    return *this;
  }
  Json& Push(Json value) {
    items_.push_back(std::move(value));
    return *this;
  }

  std::string Render(int indent = 0) const {
    const std::string pad(indent + 2, ' ');
    switch (kind_) {
      case Kind::kScalar:
        return scalar_;
      case Kind::kArray: {
        if (items_.empty()) return "[]";
        bool flat = true;
        for (const Json& item : items_) flat = flat && item.kind_ == Kind::kScalar;
        std::string out = "[";
        for (size_t i = 0; i < items_.size(); ++i) {
          if (flat) {
            absl::StrAppend(&out, i == 0 ? "" : ", ", items_[i].scalar_);
          } else {
            absl::StrAppend(&out, i == 0 ? "\n" : ",\n", pad, items_[i].Render(indent + 2));
          }
        }
        if (!flat) absl::StrAppend(&out, "\n", std::string(indent, ' '));
        return out + "]";
      }
      case Kind::kObject: {
        if (members_.empty()) return "{}";
        std::string out = "{";
        for (size_t i = 0; i < members_.size(); ++i) {
          absl::StrAppend(&out, i == 0 ? "\n" : ",\n", pad, Quote(members_[i].first), ": ",
                          members_[i].second.Render(indent + 2));
        }
        return absl::StrCat(out, "\n", std::string(indent, ' '), "}");
      }
    }
    return "";
  }

 private:
  enum class Kind { kScalar, kArray, kObject };
  explicit Json(Kind kind) : kind_(kind) {}
  static Json Scalar(std::string text) {
    Json j(Kind::kScalar);
    j.scalar_ = std::move(text);
    return j;
  }
  Kind kind_;
  std::string scalar_;
  std::vector<std::pair<std::string, Json>> members_;
  std::vector<Json> items_;
};

// ---------------------------------------------------------------------------
// The vectors' log.

absl::Time Utc(int64_t y, int mo, int d, int h, int mi, int s, int64_t micros) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone()) +
         absl::Microseconds(micros);
}

struct NamedEntry {
  std::string name;
  AuditEntry entry;
};

// Entries 1..7: the log. Together they use every field, empty and non-empty
// lists, non-ASCII UTF-8, bytes that are not UTF-8, a time before 1970 and
// at the epoch, every outcome and a negative code.
std::vector<NamedEntry> LogEntries() {
  std::vector<NamedEntry> out;
  AuditEntry e;
  e.sequence = 1;
  e.time = absl::UnixEpoch();
  out.push_back({"minimal: every string and list empty, time 0 (the epoch)", e});

  e = AuditEntry();
  e.sequence = 2;
  e.time = Utc(2026, 12, 1, 13, 0, 0, 123456);
  e.principal_id = kPrincipal;
  e.role = "capture";
  e.action = "CreateLead";
  e.lead_ids = {kLeadA};
  e.fields = {"first_name", "email", "phone"};
  e.blind_tokens = {"5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592"};
  e.request_id = "req-0002";
  e.peer = "ipv4:127.0.0.1:50000";
  out.push_back({"CreateLead allowed", e});

  e = AuditEntry();
  e.sequence = 3;
  e.time = Utc(2026, 12, 1, 13, 0, 1, 500000);
  e.principal_id = kPrincipal;
  e.role = "intake";
  e.action = "GetLead";
  e.outcome = Outcome::kDenied;
  e.code = 7;
  e.lead_ids = {kLeadA};
  e.purpose = "treatment";
  e.request_id = "req-0003";
  e.peer = "ipv6:[::1]:50001";
  out.push_back({"GetLead denied (PERMISSION_DENIED = 7)", e});

  e = AuditEntry();
  e.sequence = 4;
  e.time = Utc(2026, 12, 1, 13, 0, 2, 1);
  e.principal_id = kPrincipal;
  e.role = "intake";
  e.action = "GetLead";
  e.lead_ids = {kLeadA, kLeadB};
  e.fields = {"first_name", "last_name", "date_of_birth"};
  e.purpose = "treatment";
  e.request_id = "req-0004";
  e.peer = "ipv4:127.0.0.1:50002";
  e.break_glass_reason = "ER triage \u2014 caf\u00e9, \u6025\u8bca, \U0001F691 (test text)";
  out.push_back({"break-glass read, non-ASCII UTF-8 reason, two leads", e});

  e = AuditEntry();
  e.sequence = 5;
  e.time = absl::UnixEpoch() - absl::Microseconds(1);
  e.principal_id = kPrincipal;
  e.role = "intake";
  e.action = "FindLeads";
  e.outcome = Outcome::kFailed;
  e.code = 5;
  e.blind_tokens = {"aa", "bb"};
  e.request_id = "req-0005";
  out.push_back({"FindLeads failed (NOT_FOUND = 5), time before 1970", e});

  e = AuditEntry();
  e.sequence = 6;
  e.time = Utc(2026, 12, 1, 13, 0, 5, 0);
  e.action = "GetLead";
  e.outcome = Outcome::kUnauthenticated;
  e.code = 16;
  e.request_id = std::string(130, 'r');
  e.peer = "ipv4:192.0.2.10:40000";
  e.subject = "9b8a7c6d5e4f30211203f4e5d6c7b8a9";
  out.push_back({"unauthenticated (16), claimed principal in subject, 130-byte request id", e});

  e = AuditEntry();
  e.sequence = 7;
  e.time = Utc(2026, 12, 1, 13, 0, 6, 999999);
  e.principal_id = "tab\there";
  e.role = "x";
  e.action = "Weird\"Action\\";
  e.code = -1;
  e.lead_ids = {kLeadB};
  e.fields = {"nl\nx", std::string("ctl\x01\x1f\x7f", 6), "sep\u2028\u2029",
              std::string("bad\xff\xc0\x80\xed\xa0\x80"
                          "end"),
              std::string("cut\xe2\x82")};
  e.purpose = "quote\"back\\slash/";
  out.push_back(
      {"JSON escaping: quotes, controls, U+2028/9, bytes that are not UTF-8; code -1", e});
  return out;
}

// Entries outside the log: the extremes of each number.
std::vector<NamedEntry> MoreEntries() {
  std::vector<NamedEntry> out;
  AuditEntry e;
  e.sequence = 0;
  e.time = absl::FromUnixMicros(std::numeric_limits<int64_t>::max());
  e.outcome = Outcome::kFailed;
  e.code = std::numeric_limits<int>::max();
  out.push_back({"sequence 0, the latest time (year +294247), code INT32_MAX", e});

  e = AuditEntry();
  e.sequence = std::numeric_limits<uint64_t>::max();
  e.time = absl::FromUnixMicros(std::numeric_limits<int64_t>::min());
  e.outcome = Outcome::kDenied;
  e.code = std::numeric_limits<int>::min();
  out.push_back({"sequence 2^64-1, the earliest time (year -290308), code INT32_MIN", e});

  e = AuditEntry();
  e.sequence = 300;
  e.time = Utc(10000, 1, 1, 0, 0, 0, 0);
  e.action = "a";
  out.push_back({"sequence 300 (two-byte varint), year 10000", e});

  e = AuditEntry();
  e.sequence = 128;
  e.time = Utc(-1, 12, 31, 23, 59, 59, 500000);
  e.outcome = Outcome::kUnauthenticated;
  e.code = 16;
  out.push_back({"sequence 128, year -1 (1 BCE is year 0)", e});

  e = AuditEntry();
  e.sequence = 129;
  e.time = Utc(0, 3, 1, 0, 0, 0, 0);
  out.push_back({"sequence 129, year 0", e});
  return out;
}

Json EntryJson(const AuditEntry& e) {
  std::string time;
  {
    // The export's spelling of the time, from the real renderer.
    std::string line;
    AppendJsonlEntry(e, EncodeCanonical(e), nullptr, line);
    const size_t at = line.find("\"time\":\"") + 8;
    time = line.substr(at, line.find('"', at) - at);
  }
  Json j = Json::Object();
  j.Add("sequence", Json::Uint(e.sequence))
      .Add("time_unix_micros", Json::Int(absl::ToUnixMicros(e.time)))
      .Add("time", Json::Str(time))
      .Add("principal_id", Json::Str(e.principal_id))
      .Add("role", Json::Str(e.role))
      .Add("action", Json::Str(e.action))
      .Add("outcome", Json::Str(OutcomeName(e.outcome)))
      .Add("outcome_value", Json::Uint(static_cast<uint64_t>(e.outcome)))
      .Add("code", Json::Int(e.code))
      .Add("lead_ids", Json::Strings(e.lead_ids))
      .Add("fields", Json::Strings(e.fields))
      .Add("blind_tokens", Json::Strings(e.blind_tokens))
      .Add("purpose", Json::Str(e.purpose))
      .Add("request_id", Json::Str(e.request_id))
      .Add("peer", Json::Str(e.peer))
      .Add("break_glass_reason", Json::Str(e.break_glass_reason))
      .Add("subject", Json::Str(e.subject));
  return j;
}

Json EntryVector(const NamedEntry& named) {
  const std::string canonical = EncodeCanonical(named.entry);
  absl::StatusOr<AuditEntry> decoded = DecodeCanonical(canonical);
  EXPECT_TRUE(decoded.ok()) << named.name << ": " << decoded.status();
  if (decoded.ok()) {
    EXPECT_EQ(EncodeCanonical(*decoded), canonical) << named.name;
  }
  std::string line;
  AppendJsonlEntry(named.entry, canonical, nullptr, line);
  line.pop_back();  // its '\n'
  Json j = Json::Object();
  j.Add("name", Json::Str(named.name))
      .Add("entry", EntryJson(named.entry))
      .Add("canonical_hex", Json::Hex(canonical))
      .Add("leaf_hash_hex", Json::HashHex(LeafHash(canonical)))
      .Add("export_line", Json::Str(line));
  return j;
}

// Canonical bytes DecodeCanonical refuses, made from entry 1's 16 bytes
// (01 01 00 00 00 00 01 00 00 00 00 00 00 00 00 00).
Json MalformedVectors(const std::string& e1) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"empty input", ""},
      {"unknown version byte 0x02", "\x02" + e1.substr(1)},
      {"trailing byte after the subject", e1 + std::string(1, '\0')},
      {"truncated: the subject's length is missing", e1.substr(0, e1.size() - 1)},
      {"sequence 1 as a non-shortest varint (81 00)",
       "\x01\x81" + std::string(1, '\0') + e1.substr(2)},
      {"varint with bits beyond the 64th (tenth byte 02)",
       "\x01" + std::string(9, '\xff') + "\x02" + e1.substr(2)},
      {"varint cut by the end of input", "\x01\x80"},
      {"outcome 0", e1.substr(0, 6) + std::string(1, '\0') + e1.substr(7)},
      {"outcome 5", e1.substr(0, 6) + "\x05" + e1.substr(7)},
      {"code 2^31: not a sign-extended int32",
       e1.substr(0, 7) + "\x80\x80\x80\x80\x08" + e1.substr(8)},
      {"code 0xffffffff: -1 must be sign-extended to 64 bits",
       e1.substr(0, 7) + "\xff\xff\xff\xff\x0f" + e1.substr(8)},
      {"principal length 127 beyond the input", e1.substr(0, 3) + "\x7f" + e1.substr(4)},
      {"lead_ids count 127 beyond the input", e1.substr(0, 8) + "\x7f" + e1.substr(9)},
  };
  Json a = Json::Array();
  for (const auto& [name, bytes] : cases) {
    absl::StatusOr<AuditEntry> decoded = DecodeCanonical(bytes);
    EXPECT_FALSE(decoded.ok()) << name;
    a.Push(Json::Object()
               .Add("name", Json::Str(name))
               .Add("hex", Json::Hex(bytes))
               .Add("error", Json::Str(decoded.ok() ? "" : decoded.status().message())));
  }
  return a;
}

// ---------------------------------------------------------------------------
// Exports of the log, written by the real writer and judged by the real
// verifier.

class Vectors {
 public:
  Vectors() {
    key_ = KeyFrom(kKeyPhrase);
    other_key_ = KeyFrom(kOtherKeyPhrase);
    signer_.emplace(*NoteSigner::Create(kOrigin, key_.get()));
    other_signer_.emplace(*NoteSigner::Create(kOrigin, other_key_.get()));
    verifier_.emplace(*NoteVerifier::Parse(signer_->VerifierKey()));
    entries_ = LogEntries();
    for (const NamedEntry& e : entries_) {
      canonical_.push_back(EncodeCanonical(e.entry));
      leaves_.push_back(LeafHash(canonical_.back()));
      tree_.Append(leaves_.back());
    }
  }

  std::string Render() {
    Json root = Json::Object();
    root.Add("description",
             Json::Str("Test vectors of the leadvault audit log formats (audit/FORMAT.md), "
                       "generated from the C++ code by tests/audit/format_vectors_test.cc. "
                       "The signing keys are TEST KEYS ONLY: their seeds are public here."));
    root.Add("regenerate",
             Json::Str("LEADVAULT_WRITE_VECTORS=1 ctest -R FormatVectors (see audit/FORMAT.md)"));
    root.Add("string_convention",
             Json::Str("Strings use the export's escaping: a byte that is not part of "
                       "well-formed UTF-8 is the lone surrogate \\udc80..\\udcff (Python: "
                       "encode('utf-8', 'surrogateescape'))."));
    Json log = Json::Array();
    for (const NamedEntry& e : entries_) log.Push(EntryVector(e));
    root.Add("entries", std::move(log));
    Json more = Json::Array();
    for (const NamedEntry& e : MoreEntries()) more.Push(EntryVector(e));
    root.Add("more_entries", std::move(more));
    root.Add("malformed_canonical", MalformedVectors(canonical_[0]));
    root.Add("tree", TreeJson());
    root.Add("keys", KeysJson());
    root.Add("checkpoints", CheckpointsJson());
    root.Add("manifest", ManifestJson());
    root.Add("exports", ExportsJson());
    return root.Render() + "\n";
  }

 private:
  static std::unique_ptr<keys::SigningKey> KeyFrom(absl::string_view phrase) {
    const Hash seed = keys::Sha256({phrase});
    return *keys::SigningKey::FromSeed(keys::SecretBytes::CopyFrom(HashBytes(seed)));
  }

  uint64_t size() const { return entries_.size(); }
  Hash Root(uint64_t size) { return *RootAt(size, tree_); }
  std::vector<Hash> Nodes(uint64_t begin, uint64_t end) {
    return *tree_.ReadNodes(RangeNodes(begin, end));
  }

  Json TreeJson() {
    Json roots = Json::Array();
    MerkleFrontier frontier;
    for (uint64_t n = 0; n <= size(); ++n) {
      if (n > 0) frontier.Append(leaves_[n - 1]);
      EXPECT_EQ(frontier.Root(), Root(n)) << n;
      roots.Push(
          Json::Object().Add("tree_size", Json::Uint(n)).Add("root_hex", Json::HashHex(Root(n))));
    }
    Json inclusion = Json::Array();
    for (uint64_t n = 1; n <= size(); ++n) {
      for (uint64_t i = 0; i < n; ++i) {
        std::vector<Hash> proof = *InclusionProof(i, n, tree_);
        EXPECT_TRUE(VerifyInclusion(i, n, leaves_[i], proof, Root(n)).ok()) << i << " " << n;
        inclusion.Push(Json::Object()
                           .Add("leaf_index", Json::Uint(i))
                           .Add("tree_size", Json::Uint(n))
                           .Add("proof_hex", Json::Hashes(proof)));
      }
    }
    Json consistency = Json::Array();
    for (uint64_t n = 1; n <= size(); ++n) {
      for (uint64_t m = 1; m <= n; ++m) {
        std::vector<Hash> proof = *ConsistencyProof(m, n, tree_);
        EXPECT_TRUE(VerifyConsistency(m, n, Root(m), Root(n), proof).ok()) << m << " " << n;
        consistency.Push(Json::Object()
                             .Add("size1", Json::Uint(m))
                             .Add("size2", Json::Uint(n))
                             .Add("proof_hex", Json::Hashes(proof)));
      }
    }
    Json j = Json::Object();
    j.Add("leaves", Json::Str("leaf i is the leaf hash of entries[i] (sequence i + 1)"))
        .Add("empty_tree_hex", Json::HashHex(EmptyTreeHash()))
        .Add("node_hash_of_leaves_0_1_hex", Json::HashHex(NodeHash(leaves_[0], leaves_[1])))
        .Add("roots", std::move(roots))
        .Add("inclusion_proofs", std::move(inclusion))
        .Add("consistency_proofs", std::move(consistency));
    return j;
  }

  Json KeyJson(const keys::SigningKey& key, const NoteSigner& signer, absl::string_view phrase) {
    const Hash seed = keys::Sha256({phrase});
    Json j = Json::Object();
    j.Add("seed", Json::Str(absl::StrCat("SHA-256(\"", phrase, "\")")))
        .Add("seed_hex", Json::HashHex(seed))
        .Add("public_key_hex", Json::Hex(key.public_key()))
        .Add("key_name", Json::Str(signer.name()))
        .Add("key_id_hex", Json::Str(absl::StrCat(absl::Hex(signer.key_id(), absl::kZeroPad8))))
        .Add("verifier_key", Json::Str(signer.VerifierKey()));
    return j;
  }

  Json KeysJson() {
    Json j = Json::Object();
    j.Add("warning", Json::Str("TEST KEYS ONLY: never use these seeds for a real log."))
        .Add("log", KeyJson(*key_, *signer_, kKeyPhrase))
        .Add("other", KeyJson(*other_key_, *other_signer_, kOtherKeyPhrase));
    return j;
  }

  std::string SignedCheckpoint(uint64_t size, const Hash& root) {
    return signer_->Sign(FormatCheckpoint(Checkpoint{kOrigin, size, root}));
  }

  // Named signed checkpoints: the log's at size 3 and 7, and two that are
  // signed but not this log's (a later tree of 8, a fork at 3).
  std::map<std::string, std::string> Trusted() {
    MerkleFrontier later;
    for (const Hash& leaf : leaves_) later.Append(leaf);
    later.Append(LeafHash(""));
    MerkleFrontier fork;
    fork.Append(leaves_[0]);
    fork.Append(leaves_[1]);
    fork.Append(LeafHash(""));
    return {{"size3", SignedCheckpoint(3, Root(3))},
            {"size7", SignedCheckpoint(7, Root(7))},
            {"later8", SignedCheckpoint(8, later.Root())},
            {"fork3", SignedCheckpoint(3, fork.Root())}};
  }

  Json CheckpointsJson() {
    Json j = Json::Array();
    const std::map<std::string, std::string> descriptions = {
        {"size3", "the log at tree size 3"},
        {"size7", "the log at tree size 7 (the exports' checkpoint)"},
        {"later8", "a tree of 8 leaves: the log's 7 and LeafHash(\"\") (for a rollback)"},
        {"fork3", "tree size 3 with leaves 0, 1 and LeafHash(\"\"): a fork of the log"}};
    for (const auto& [name, note] : Trusted()) {
      absl::StatusOr<Checkpoint> cp = OpenCheckpoint(note, *verifier_);
      EXPECT_TRUE(cp.ok()) << name << ": " << cp.status();
      const size_t split = note.rfind("\n\n");
      j.Push(Json::Object()
                 .Add("name", Json::Str(name))
                 .Add("description", Json::Str(descriptions.at(name)))
                 .Add("origin", Json::Str(kOrigin))
                 .Add("tree_size", Json::Uint(cp.ok() ? cp->size : 0))
                 .Add("root_hex", Json::HashHex(cp.ok() ? cp->root : Hash{}))
                 .Add("body", Json::Str(note.substr(0, split + 1)))
                 .Add("note", Json::Str(note)));
    }
    return j;
  }

  ExportFilter Filter() const { return ExportFilter{"", "", kLeadA}; }

  ExportManifest Manifest() {
    ExportManifest m;
    m.origin = kOrigin;
    m.tree_size = size();
    m.root = Root(size());
    m.first_sequence = 1;
    m.last_sequence = size();
    m.filter = Filter();
    LeafChain chain;
    for (uint64_t seq = 1; seq <= size(); ++seq) {
      if (Filter().Matches(entries_[seq - 1].entry)) chain.Append(leaves_[seq - 1]);
    }
    m.matches = chain.count();
    m.leaf_chain = chain.value();
    return m;
  }

  Json ManifestJson() {
    const ExportManifest m = Manifest();
    const std::string text = FormatExportManifest(m);
    const std::string note = signer_->Sign(text);
    absl::StatusOr<ExportManifest> opened = OpenExportManifest(note, *verifier_);
    EXPECT_TRUE(opened.ok()) << opened.status();
    Json j = Json::Object();
    j.Add("filter", Json::Object()
                        .Add("principal_id", Json::Str(m.filter.principal_id))
                        .Add("action", Json::Str(m.filter.action))
                        .Add("lead_id", Json::Str(m.filter.lead_id)))
        .Add("matching_sequences",
             Json::Array().Push(Json::Uint(2)).Push(Json::Uint(3)).Push(Json::Uint(4)))
        .Add("leaf_chain_hex", Json::HashHex(m.leaf_chain))
        .Add("text", Json::Str(text))
        .Add("note", Json::Str(note));
    return j;
  }

  std::string EntryLine(uint64_t seq, const std::vector<Hash>* inclusion) {
    std::string line;
    AppendJsonlEntry(entries_[seq - 1].entry, canonical_[seq - 1], inclusion, line);
    return line;
  }

  // Unfiltered export of [first, last] against the checkpoint of the whole log.
  std::vector<std::string> Unfiltered(uint64_t first, uint64_t last,
                                      std::optional<uint64_t> consistency_from) {
    std::vector<std::string> lines(1);
    ExportHeader header;
    header.origin = kOrigin;
    header.first_sequence = first;
    header.last_sequence = last;
    header.left_frontier = Nodes(0, first - 1);
    AppendJsonlHeader(header, lines[0]);
    for (uint64_t seq = first; seq <= last; ++seq) lines.push_back(EntryLine(seq, nullptr));
    ExportTrailer trailer;
    trailer.checkpoint_note = SignedCheckpoint(size(), Root(size()));
    trailer.right_nodes = Nodes(last, size());
    lines.emplace_back();
    AppendJsonlTrailer(trailer, lines.back());
    if (consistency_from.has_value()) {
      lines.emplace_back();
      AppendJsonlConsistency(*consistency_from, *ConsistencyProof(*consistency_from, size(), tree_),
                             lines.back());
    }
    return lines;
  }

  std::string FilteredEntryLine(uint64_t seq) {
    std::vector<Hash> proof = *InclusionProof(seq - 1, size(), tree_);
    return EntryLine(seq, &proof);
  }

  // Filtered export (lead kLeadA, entries 2, 3, 4) of the whole log.
  std::vector<std::string> Filtered() {
    std::vector<std::string> lines(1);
    ExportHeader header;
    header.origin = kOrigin;
    header.first_sequence = 1;
    header.last_sequence = size();
    header.filtered = true;
    header.filter = Filter();
    AppendJsonlHeader(header, lines[0]);
    for (uint64_t seq = 1; seq <= size(); ++seq) {
      if (Filter().Matches(entries_[seq - 1].entry)) lines.push_back(FilteredEntryLine(seq));
    }
    ExportTrailer trailer;
    trailer.checkpoint_note = SignedCheckpoint(size(), Root(size()));
    trailer.manifest_note = signer_->Sign(FormatExportManifest(Manifest()));
    lines.emplace_back();
    AppendJsonlTrailer(trailer, lines.back());
    return lines;
  }

  static std::string Join(const std::vector<std::string>& lines) {
    std::string text;
    for (const std::string& l : lines) text += l;
    return text;
  }

  // The real verifier's verdict on `text`, with `trusted` (a name of
  // Trusted(), or "").
  Json Verdict(const std::string& text, const std::string& trusted, bool* accepted) {
    const std::string path = dir_.path() + "/export.jsonl";
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out << text;
    }
    VerifyOptions options;
    options.verifier = &*verifier_;
    if (!trusted.empty()) options.trusted = *OpenCheckpoint(Trusted().at(trusted), *verifier_);
    absl::StatusOr<VerifyReport> report = VerifyExportFile(path, options);
    *accepted = report.ok();
    Json j = Json::Object();
    if (!report.ok()) {
      j.Add("ok", Json::Bool(false)).Add("error", Json::Str(report.status().message()));
      return j;
    }
    j.Add("ok", Json::Bool(true))
        .Add("entries", Json::Uint(report->entries))
        .Add("first_sequence", Json::Uint(report->first_sequence))
        .Add("last_sequence", Json::Uint(report->last_sequence))
        .Add("filtered", Json::Bool(report->filtered))
        .Add("checkpoint_size", Json::Uint(report->checkpoint.size))
        .Add("trusted_checked", Json::Bool(report->trusted_checked));
    return j;
  }

  Json ExportsJson() {
    struct Case {
      std::string name;
      std::string text;
      std::string trusted;
      bool good = false;  // the verifier must accept it
    };
    const std::vector<std::string> whole = Unfiltered(1, size(), std::nullopt);
    const std::vector<std::string> sub = Unfiltered(4, 6, 3);
    const std::vector<std::string> filtered = Filtered();
    std::vector<Case> cases = {
        {"whole log", Join(whole), "", true},
        {"whole log, trusted size 3 (checked in the stream)", Join(whole), "size3", true},
        {"whole log, trusted size 7 (the same checkpoint)", Join(whole), "size7", true},
        {"sequences 4..6, consistency line from 3, trusted size 3", Join(sub), "size3", true},
        {"sequences 4..6 without a trusted checkpoint", Join(sub), "", true},
        {"filtered by lead_id, with its signed manifest", Join(filtered), "", true},
    };
    auto edit = [&](const std::string& name, std::vector<std::string> lines,
                    const std::function<void(std::vector<std::string>&)>& change,
                    const std::string& trusted = "") {
      change(lines);
      cases.push_back({name, Join(lines), trusted});
    };
    edit("a displayed field changed (sequence 3's action)", whole, [](auto& ls) {
      ls[3] = absl::StrReplaceAll(ls[3], {{"\"action\":\"GetLead\"", "\"action\":\"GetLeaf\""}});
    });
    edit("a byte of the canonical base64 changed (sequence 2)", whole, [](auto& ls) {
      const size_t at = ls[2].find("\"canonical\":\"") + 20;
      ls[2][at] = ls[2][at] == 'A' ? 'B' : 'A';
    });
    edit("sequence 4 deleted", whole, [](auto& ls) { ls.erase(ls.begin() + 4); });
    edit("sequences 5 and 6 swapped", whole, [](auto& ls) { std::swap(ls[5], ls[6]); });
    edit("sequence 2 duplicated", whole, [](auto& ls) { ls.insert(ls.begin() + 3, ls[2]); });
    edit("truncated: no checkpoint line", whole, [](auto& ls) { ls.pop_back(); });
    edit("truncated: the last line has no newline", whole, [](auto& ls) { ls.back().pop_back(); });
    edit("a line after the checkpoint", whole, [](auto& ls) { ls.push_back(ls[0]); });
    edit("header not in canonical form (a space)", whole, [](auto& ls) {
      ls[0] = absl::StrReplaceAll(ls[0], {{"\"version\":1", "\"version\": 1"}});
    });
    edit("sequence 3 changed and re-encoded consistently", whole, [this](auto& ls) {
      AuditEntry e = entries_[2].entry;
      e.outcome = Outcome::kAllowed;
      e.code = 0;
      ls[3].clear();
      AppendJsonlEntry(e, EncodeCanonical(e), nullptr, ls[3]);
    });
    edit("checkpoint body changed under its signature", whole, [this](auto& ls) {
      const std::string good = SignedCheckpoint(size(), Root(size()));
      const std::string forged = absl::StrCat(FormatCheckpoint({kOrigin, size(), Root(6)}),
                                              good.substr(good.rfind("\n\n") + 1));
      ExportTrailer trailer{forged, Nodes(size(), size())};
      ls.back().clear();
      AppendJsonlTrailer(trailer, ls.back());
    });
    edit("checkpoint signed by another key of the same name", whole, [this](auto& ls) {
      ExportTrailer trailer{other_signer_->Sign(FormatCheckpoint({kOrigin, size(), Root(size())})),
                            Nodes(size(), size())};
      ls.back().clear();
      AppendJsonlTrailer(trailer, ls.back());
    });
    cases.push_back({"whole log, trusted tree of 8 (rollback)", Join(whole), "later8"});
    cases.push_back({"whole log, trusted fork at size 3", Join(whole), "fork3"});
    edit(
        "sequences 4..6, consistency proof altered", sub,
        [](auto& ls) {
          const size_t at = ls.back().find("\"proof\":[\"") + 10;
          ls.back()[at] = ls.back()[at] == 'A' ? 'B' : 'A';
        },
        "size3");
    cases.push_back({"filtered, trusted size 3 but no consistency line", Join(filtered), "size3"});
    edit("filtered: an entry line deleted", filtered, [](auto& ls) { ls.erase(ls.begin() + 2); });
    edit("filtered: sequences 3 and 4 swapped", filtered,
         [](auto& ls) { std::swap(ls[2], ls[3]); });
    edit("filtered: an entry that does not match added", filtered,
         [this](auto& ls) { ls.insert(ls.end() - 1, FilteredEntryLine(5)); });
    edit("filtered: the manifest removed", filtered, [this](auto& ls) {
      ExportTrailer trailer{SignedCheckpoint(size(), Root(size())), {}};
      ls.back().clear();
      AppendJsonlTrailer(trailer, ls.back());
    });

    Json a = Json::Array();
    for (const Case& c : cases) {
      bool accepted = false;
      Json verdict = Verdict(c.text, c.trusted, &accepted);
      EXPECT_EQ(accepted, c.good) << c.name;
      a.Push(Json::Object()
                 .Add("name", Json::Str(c.name))
                 .Add("trusted", c.trusted.empty() ? Json::Null() : Json::Str(c.trusted))
                 .Add("text", Json::Str(c.text))
                 .Add("expect", std::move(verdict)));
    }
    return a;
  }

  ::leadvault::testing::ScratchDir dir_;
  std::unique_ptr<keys::SigningKey> key_;
  std::unique_ptr<keys::SigningKey> other_key_;
  std::optional<NoteSigner> signer_;
  std::optional<NoteSigner> other_signer_;
  std::optional<NoteVerifier> verifier_;
  std::vector<NamedEntry> entries_;
  std::vector<std::string> canonical_;
  std::vector<Hash> leaves_;
  MemoryTree tree_;
};

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every vector is re-derived from the code (and checked against it while
// generated: decoding, proofs, signatures, the verifier's verdicts).
TEST(FormatVectorsTest, VectorsFileIsExactlyWhatTheCodeProduces) {
  const std::string want = Vectors().Render();
  const char* write = std::getenv("LEADVAULT_WRITE_VECTORS");
  if (write != nullptr && std::string(write) == "1") {
    std::ofstream out(kVectorsPath, std::ios::binary | std::ios::trunc);
    out << want;
    out.close();
    ASSERT_TRUE(out.good()) << "cannot write " << kVectorsPath;
    GTEST_SKIP() << "wrote " << kVectorsPath << "; review the diff";
  }
  const std::string have = ReadFileOrEmpty(kVectorsPath);
  if (have == want) return;
  size_t line = 1, at = 0;
  while (at < have.size() && at < want.size() && have[at] == want[at]) {
    if (have[at] == '\n') ++line;
    ++at;
  }
  FAIL() << kVectorsPath << " differs from what the code produces, from line " << line
         << ". If the format change is intended, regenerate it with "
            "LEADVAULT_WRITE_VECTORS=1 and review the diff (audit/FORMAT.md).";
}

}  // namespace
}  // namespace leadvault::audit
