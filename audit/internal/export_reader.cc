// The header, checkpoint and consistency lines are read with nlohmann::json
// (one object of strings, unsigned integers, booleans and arrays of strings)
// and then rendered again; an entry line is read from its canonical
// bytes alone and rendered again. Either way only the writer's exact bytes
// pass, so the readers may be lenient where the comparison is strict.
#include "audit/internal/export_reader.h"

#include <cstddef>
#include <cstring>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "audit/internal/json.h"
#include "keys/base64.h"
#include "keys/status_macros.h"
#include "nlohmann/json.hpp"

namespace leadvault::audit::internal {
namespace {

constexpr absl::string_view kSeqPrefix = "{\"type\":\"entry\",\"seq\":";
constexpr absl::string_view kCanonicalKey = "\"canonical\":";
constexpr absl::string_view kInclusionOpen = ",\"inclusion\":[";

absl::StatusOr<Hash> HashFromBase64(absl::string_view text) {
  std::string bytes;
  if (!keys::Base64Decode(text, &bytes).ok()) {
    return absl::InvalidArgumentError("invalid base64 hash");
  }
  return HashFromBytes(bytes);
}

// True if `rendered` is `line` and its '\n'.
bool IsRenderingOf(absl::string_view rendered, absl::string_view line) {
  return rendered.size() == line.size() + 1 && rendered.substr(0, line.size()) == line;
}

// ---------------------------------------------------------------------------
// The header and trailer lines as one flat JSON object whose values are
// strings, unsigned integers, booleans or arrays of strings, read with
// nlohmann::json's SAX parser. What nlohmann accepts beyond that is refused
// here, as the hand-written reader before it refused it: a value of another
// kind, a number with a sign, fraction or exponent or above 2^64 - 1, a byte
// order mark, a NUL byte. Of a repeated key the first counts. "at byte N" is the last byte
// the parser read. No exception is thrown: the parser reports its errors to
// the handler.

class FlatJson {
 public:
  static absl::StatusOr<FlatJson> Parse(absl::string_view text) {
    if (absl::StartsWith(text, "\xEF\xBB\xBF")) return JsonError(1, "expected '{'");
    FlatJson json;
    size_t read = 0;
    Handler handler(json.members_, read);
    const bool parsed =
        nlohmann::json::sax_parse(CountingIterator(text.data(), &read),
                                  CountingIterator(text.data() + text.size(), &read), &handler);
    if (!parsed) {
      if (handler.error().ok()) return JsonError(read, "syntax error");
      return handler.error();
    }
    // nlohmann ends the input at a NUL byte; no NUL can be inside the object.
    if (const size_t nul = text.find('\0'); nul != absl::string_view::npos) {
      return JsonError(nul + 1, "text after the object");
    }
    return json;
  }

  absl::StatusOr<std::string> GetString(absl::string_view key) const {
    LV_ASSIGN_OR_RETURN(const Member* m, Find(key, Kind::kString));
    return m->str;
  }
  absl::StatusOr<uint64_t> GetUint(absl::string_view key) const {
    LV_ASSIGN_OR_RETURN(const Member* m, Find(key, Kind::kUint));
    return m->number;
  }
  absl::StatusOr<bool> GetBool(absl::string_view key) const {
    LV_ASSIGN_OR_RETURN(const Member* m, Find(key, Kind::kBool));
    return m->flag;
  }
  absl::StatusOr<std::vector<Hash>> GetHashes(absl::string_view key) const {
    LV_ASSIGN_OR_RETURN(const Member* m, Find(key, Kind::kStrings));
    std::vector<Hash> hashes;
    hashes.reserve(m->list.size());
    for (const std::string& s : m->list) {
      auto hash = HashFromBase64(s);
      if (!hash.ok())
        return absl::InvalidArgumentError(absl::StrCat("\"", key, "\": ", hash.status().message()));
      hashes.push_back(*hash);
    }
    return hashes;
  }

 private:
  enum class Kind { kString, kUint, kBool, kStrings };
  struct Member {
    std::string key;
    Kind kind = Kind::kString;
    std::string str;
    uint64_t number = 0;
    bool flag = false;
    std::vector<std::string> list;
  };

  // Builds the members from the parser's events; refuses (returns false,
  // with error() set) at the first event that is not part of a flat object.
  class Handler final : public nlohmann::json_sax<nlohmann::json> {
   public:
    Handler(std::vector<Member>& members, const size_t& read) : members_(members), read_(read) {}

    const absl::Status& error() const { return error_; }

    bool null() override { return Refuse(NotHere()); }
    bool boolean(bool value) override {
      Member* m = Scalar();
      if (m == nullptr) return false;
      m->kind = Kind::kBool;
      m->flag = value;
      return true;
    }
    bool number_integer(number_integer_t /*value*/) override {
      return Refuse(depth_ == kInObject ? "negative number" : NotHere());
    }
    bool number_unsigned(number_unsigned_t value) override {
      Member* m = Scalar();
      if (m == nullptr) return false;
      m->kind = Kind::kUint;
      m->number = value;
      return true;
    }
    // Also an integer above 2^64 - 1.
    bool number_float(number_float_t /*value*/, const string_t& text) override {
      if (depth_ != kInObject) return Refuse(NotHere());
      if (absl::StartsWith(text, "-")) return Refuse("negative number");
      if (text.find_first_of(".eE") != string_t::npos) return Refuse("expected an integer");
      return Refuse("number out of range");
    }
    bool string(string_t& value) override {
      if (depth_ == kInArray) {
        members_.back().list.push_back(std::move(value));
        return true;
      }
      Member* m = Scalar();
      if (m == nullptr) return false;
      m->kind = Kind::kString;
      m->str = std::move(value);
      return true;
    }
    bool binary(binary_t& /*value*/) override { return Refuse(NotHere()); }
    bool start_object(std::size_t /*elements*/) override {
      if (depth_ != kOutside) return Refuse(NotHere());
      depth_ = kInObject;
      return true;
    }
    bool key(string_t& value) override {
      members_.emplace_back();
      members_.back().key = std::move(value);
      return true;
    }
    bool end_object() override {
      depth_ = kOutside;
      return true;
    }
    bool start_array(std::size_t /*elements*/) override {
      if (depth_ != kInObject) return Refuse(NotHere());
      members_.back().kind = Kind::kStrings;
      depth_ = kInArray;
      return true;
    }
    bool end_array() override {
      depth_ = kInObject;
      return true;
    }
    bool parse_error(std::size_t position, const std::string& /*last_token*/,
                     const nlohmann::json::exception& error) override {
      error_ = JsonError(position, SyntaxErrorText(error));
      return false;
    }

   private:
    enum Depth { kOutside, kInObject, kInArray };

    absl::string_view NotHere() const {
      switch (depth_) {
        case kOutside:
          return "expected '{'";
        case kInObject:
          return "unexpected value";
        case kInArray:
          break;
      }
      return "expected a string in the array";
    }
    bool Refuse(absl::string_view what) {
      error_ = JsonError(read_, what);
      return false;
    }
    // The member a string, number or boolean is the value of; nullptr (and
    // error() set) if there is none.
    Member* Scalar() {
      if (depth_ != kInObject) {
        Refuse(NotHere());
        return nullptr;
      }
      return &members_.back();
    }

    std::vector<Member>& members_;
    const size_t& read_;  // bytes the parser has read so far
    Depth depth_ = kOutside;
    absl::Status error_;
  };

  absl::StatusOr<const Member*> Find(absl::string_view key, Kind kind) const {
    for (const Member& m : members_) {
      if (m.key != key) continue;
      if (m.kind != kind) {
        return absl::InvalidArgumentError(absl::StrCat("\"", key, "\" has the wrong type"));
      }
      return &m;
    }
    return absl::InvalidArgumentError(absl::StrCat("missing \"", key, "\""));
  }

  std::vector<Member> members_;
};

// The sequence an entry line displays, for naming it when its canonical
// bytes cannot be read; 0 if none.
uint64_t DisplayedSequence(absl::string_view line) {
  if (!absl::StartsWith(line, kSeqPrefix)) return 0;
  uint64_t v = 0;
  for (size_t i = kSeqPrefix.size(); i < line.size() && line[i] >= '0' && line[i] <= '9'; ++i) {
    if (v > UINT64_MAX / 10 - 1) return 0;
    v = v * 10 + static_cast<uint64_t>(line[i] - '0');
  }
  return v;
}

}  // namespace

std::string LineLabel(uint64_t line) { return absl::StrCat("line ", line); }

absl::Status WithPrefix(absl::string_view prefix, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(prefix, status.message()));
}

absl::Status EntryError(uint64_t sequence, uint64_t line_number, absl::string_view what) {
  if (sequence == 0) {
    return absl::InvalidArgumentError(absl::StrCat(LineLabel(line_number), ": ", what));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("sequence ", sequence, " (line ", line_number, "): ", what));
}

absl::StatusOr<ExportHeader> ReadHeaderLine(absl::string_view line) {
  ExportHeader header;
  auto json = FlatJson::Parse(line);
  if (!json.ok()) return WithPrefix("line 1: header: ", json.status());
  auto type = json->GetString("type");
  if (!type.ok() || *type != "header") {
    return absl::InvalidArgumentError("line 1: not an audit export header");
  }
  auto format = json->GetString("format");
  auto version = json->GetUint("version");
  if (!format.ok() || *format != "leadvault-audit-export" || !version.ok() || *version != 1) {
    return absl::InvalidArgumentError("line 1: not a leadvault-audit-export version 1 header");
  }
  auto origin = json->GetString("origin");
  auto first = json->GetUint("first_sequence");
  auto last = json->GetUint("last_sequence");
  auto filtered = json->GetBool("filtered");
  auto left = json->GetHashes("left_frontier");
  for (const absl::Status& s :
       {origin.status(), first.status(), last.status(), filtered.status(), left.status()}) {
    if (!s.ok()) return WithPrefix("line 1: header: ", s);
  }
  header.origin = *std::move(origin);
  header.first_sequence = *first;
  header.last_sequence = *last;
  header.filtered = *filtered;
  header.left_frontier = *std::move(left);
  if (header.filtered) {
    auto principal = json->GetString("filter_principal_id");
    auto action = json->GetString("filter_action");
    auto lead = json->GetString("filter_lead_id");
    for (const absl::Status& s : {principal.status(), action.status(), lead.status()}) {
      if (!s.ok()) return WithPrefix("line 1: header: ", s);
    }
    header.filter = {*std::move(principal), *std::move(action), *std::move(lead)};
  }
  std::string rendered;
  AppendJsonlHeader(header, rendered);
  if (!IsRenderingOf(rendered, line)) {
    return absl::InvalidArgumentError("line 1: header is not in canonical form");
  }
  if (header.first_sequence == 0) {
    return absl::InvalidArgumentError("line 1: first_sequence must be at least 1");
  }
  if (header.filtered) {
    if (!header.left_frontier.empty()) {
      return absl::InvalidArgumentError("line 1: a filtered export has no left_frontier");
    }
    if (header.filter.empty()) {
      return absl::InvalidArgumentError("line 1: a filtered export names no filter");
    }
    LV_RETURN_IF_ERROR(WithPrefix("line 1: filter_", ValidateExportFilter(header.filter)));
    if (header.last_sequence < header.first_sequence - 1) {
      return absl::InvalidArgumentError("line 1: last_sequence is before first_sequence - 1");
    }
  } else {
    if (header.last_sequence < header.first_sequence - 1) {
      return absl::InvalidArgumentError("line 1: last_sequence is before first_sequence - 1");
    }
  }
  return header;
}

absl::StatusOr<ExportTrailer> ReadTrailerLine(absl::string_view line, absl::string_view label,
                                              bool filtered) {
  ExportTrailer trailer;
  auto json = FlatJson::Parse(line);
  if (!json.ok()) return WithPrefix(absl::StrCat(label, ": checkpoint line: "), json.status());
  auto note = json->GetString("note");
  auto right = json->GetHashes("right_nodes");
  for (const absl::Status& s : {note.status(), right.status()}) {
    if (!s.ok()) return WithPrefix(absl::StrCat(label, ": checkpoint line: "), s);
  }
  trailer.checkpoint_note = *std::move(note);
  trailer.right_nodes = *std::move(right);
  auto manifest_note = json->GetString("manifest");
  if (filtered) {
    if (!manifest_note.ok() || manifest_note->empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(label,
                       ": a filtered export needs the daemon's signed manifest "
                       "(\"manifest\"), which is missing"));
    }
    trailer.manifest_note = *std::move(manifest_note);
  } else if (manifest_note.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(label, ": a manifest in an unfiltered export"));
  }
  std::string rendered;
  AppendJsonlTrailer(trailer, rendered);
  if (!IsRenderingOf(rendered, line)) {
    return absl::InvalidArgumentError(
        absl::StrCat(label, ": checkpoint line is not in canonical form"));
  }
  return trailer;
}

absl::StatusOr<Consistency> ReadConsistencyLine(absl::string_view line, absl::string_view label) {
  auto json = FlatJson::Parse(line);
  if (!json.ok()) return WithPrefix(absl::StrCat(label, ": consistency line: "), json.status());
  auto from_size = json->GetUint("from_size");
  auto proof = json->GetHashes("proof");
  for (const absl::Status& s : {from_size.status(), proof.status()}) {
    if (!s.ok()) return WithPrefix(absl::StrCat(label, ": consistency line: "), s);
  }
  Consistency c{*from_size, *std::move(proof)};
  std::string rendered;
  AppendJsonlConsistency(c.from_size, c.proof, rendered);
  if (!IsRenderingOf(rendered, line)) {
    return absl::InvalidArgumentError(
        absl::StrCat(label, ": consistency line is not in canonical form"));
  }
  return c;
}

absl::Status ReadEntryLine(absl::string_view line, uint64_t line_number, bool filtered,
                           EntryLine& out) {
  // The "canonical" value: the last string preceded by "canonical": (base64
  // and the hashes after it hold no '"'). Where it really is does not matter:
  // the line must equal its re-rendering byte for byte.
  const char* begin = line.data();
  const char* quote = begin + line.size();
  const char* value = nullptr;
  const char* value_end = nullptr;  // the quote found before the current one
  while (quote > begin) {
    const void* q = memrchr(begin, '"', static_cast<size_t>(quote - begin));
    if (q == nullptr) break;
    const char* found = static_cast<const char*>(q);
    if (static_cast<size_t>(found - begin) >= kCanonicalKey.size() &&
        std::memcmp(found - kCanonicalKey.size(), kCanonicalKey.data(), kCanonicalKey.size()) ==
            0) {
      value = found + 1;
      break;
    }
    value_end = quote = found;
  }
  if (value == nullptr || value_end == nullptr || value_end < value) {
    return EntryError(DisplayedSequence(line), line_number, "no \"canonical\" field");
  }
  absl::string_view after(value_end + 1, static_cast<size_t>(begin + line.size() - value_end - 1));
  out.has_inclusion = false;
  out.inclusion.clear();
  if (after != "}") {
    if (!absl::StartsWith(after, kInclusionOpen) || !absl::EndsWith(after, "]}")) {
      return EntryError(DisplayedSequence(line), line_number,
                        "unexpected text after the \"canonical\" field");
    }
    out.has_inclusion = true;
    absl::string_view list = after.substr(kInclusionOpen.size());
    list.remove_suffix(2);
    while (!list.empty()) {
      // "<44 base64 characters>", then ',' unless it is the last.
      absl::StatusOr<Hash> hash = absl::InvalidArgumentError("");
      if (list.size() >= 46 && list[0] == '"' && list[45] == '"') {
        hash = HashFromBase64(list.substr(1, 44));
        list.remove_prefix(46);
        if (!list.empty() && (list[0] != ',' || list.size() == 1)) {
          hash = absl::InvalidArgumentError("");
        }
        if (!list.empty()) list.remove_prefix(1);
      }
      if (!hash.ok()) {
        return EntryError(DisplayedSequence(line), line_number, "malformed inclusion proof");
      }
      out.inclusion.push_back(*hash);
    }
  }
  // Abseil's decoder, not libsodium's constant-time one (3x slower over a
  // whole export, and nothing here is secret): it may accept a spelling the
  // writer never makes, but the whole line is re-rendered from the decoded
  // bytes and compared below, so any such spelling fails there.
  if (!absl::Base64Unescape(absl::string_view(value, static_cast<size_t>(value_end - value)),
                            &out.canonical)) {
    return EntryError(DisplayedSequence(line), line_number, "canonical bytes: invalid base64");
  }
  absl::StatusOr<AuditEntry> entry = DecodeCanonical(out.canonical);
  if (!entry.ok()) {
    return EntryError(DisplayedSequence(line), line_number,
                      absl::StrCat("canonical bytes: ", entry.status().message()));
  }
  const uint64_t seq = entry->sequence;
  // Decoding is not injective (a long varint, a code beyond int): the bytes
  // must be exactly what the log writes for this entry.
  if (EncodeCanonical(*entry) != out.canonical) {
    return EntryError(seq, line_number, "canonical bytes are not in canonical form");
  }
  if (out.has_inclusion != filtered) {
    return EntryError(seq, line_number,
                      filtered ? "no inclusion proof in a filtered export"
                               : "an inclusion proof in an unfiltered export");
  }
  out.rendered.clear();
  AppendJsonlEntry(*entry, out.canonical, out.has_inclusion ? &out.inclusion : nullptr,
                   out.rendered);
  if (out.rendered.size() != line.size() + 1 ||
      std::memcmp(out.rendered.data(), line.data(), line.size()) != 0) {
    size_t diff = 0;
    const size_t n = std::min(out.rendered.size(), line.size());
    while (diff < n && out.rendered[diff] == line[diff]) ++diff;
    return EntryError(
        seq, line_number,
        absl::StrCat("the displayed fields differ from the canonical bytes (from byte ", diff + 1,
                     " of the line)"));
  }
  out.leaf = LeafHash(out.canonical);
  out.entry = *std::move(entry);
  return absl::OkStatus();
}

}  // namespace leadvault::audit::internal
