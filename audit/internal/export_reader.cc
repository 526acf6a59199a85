// The header, checkpoint and consistency lines are read with a small JSON
// reader (one object of strings, unsigned integers, booleans and arrays of
// strings) and then rendered again; an entry line is read from its canonical
// bytes alone and rendered again. Either way only the writer's exact bytes
// pass, so the readers may be lenient where the comparison is strict.
#include "audit/internal/export_reader.h"

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "keys/base64.h"
#include "keys/status_macros.h"

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
// A minimal JSON reader for the header and trailer lines: one object whose
// values are strings, unsigned integers, booleans or arrays of strings. It is
// lenient where the re-rendering that follows is strict.

void AppendUtf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

class FlatJson {
 public:
  static absl::StatusOr<FlatJson> Parse(absl::string_view text) {
    FlatJson json;
    Parser p{text};
    p.SkipSpace();
    if (!p.Eat('{')) return p.Error("expected '{'");
    p.SkipSpace();
    if (!p.Eat('}')) {
      for (;;) {
        Member m;
        p.SkipSpace();
        if (!p.String(m.key)) return p.Error("expected a string key");
        p.SkipSpace();
        if (!p.Eat(':')) return p.Error("expected ':'");
        p.SkipSpace();
        LV_RETURN_IF_ERROR(p.Value(m));
        json.members_.push_back(std::move(m));
        p.SkipSpace();
        if (p.Eat(',')) continue;
        if (p.Eat('}')) break;
        return p.Error("expected ',' or '}'");
      }
    }
    p.SkipSpace();
    if (p.pos != text.size()) return p.Error("text after the object");
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

  struct Parser {
    absl::string_view text;
    size_t pos = 0;

    absl::Status Error(absl::string_view what) const {
      return absl::InvalidArgumentError(absl::StrCat("invalid JSON at byte ", pos + 1, ": ", what));
    }
    void SkipSpace() {
      while (pos < text.size() &&
             (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\r' || text[pos] == '\n')) {
        ++pos;
      }
    }
    bool Eat(char c) {
      if (pos < text.size() && text[pos] == c) {
        ++pos;
        return true;
      }
      return false;
    }
    bool Hex4(uint32_t& value) {
      if (text.size() - pos < 4) return false;
      value = 0;
      for (int i = 0; i < 4; ++i) {
        const char c = text[pos++];
        uint32_t d;
        if (c >= '0' && c <= '9') {
          d = static_cast<uint32_t>(c - '0');
        } else if (c >= 'a' && c <= 'f') {
          d = static_cast<uint32_t>(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
          d = static_cast<uint32_t>(c - 'A' + 10);
        } else {
          return false;
        }
        value = (value << 4) | d;
      }
      return true;
    }
    // A string literal, decoded; "\udc80".."\udcff" standing alone is the byte 0x80..0xff.
    bool String(std::string& out) {
      if (!Eat('"')) return false;
      while (pos < text.size()) {
        const unsigned char c = static_cast<unsigned char>(text[pos]);
        if (c == '"') {
          ++pos;
          return true;
        }
        if (c < 0x20) return false;
        if (c != '\\') {
          out.push_back(static_cast<char>(c));
          ++pos;
          continue;
        }
        if (++pos >= text.size()) return false;
        const char e = text[pos++];
        switch (e) {
          case '"':
          case '\\':
          case '/':
            out.push_back(e);
            break;
          case 'b':
            out.push_back('\b');
            break;
          case 'f':
            out.push_back('\f');
            break;
          case 'n':
            out.push_back('\n');
            break;
          case 'r':
            out.push_back('\r');
            break;
          case 't':
            out.push_back('\t');
            break;
          case 'u': {
            uint32_t u;
            if (!Hex4(u)) return false;
            if (u >= 0xD800 && u <= 0xDBFF) {
              uint32_t low;
              if (!Eat('\\') || !Eat('u') || !Hex4(low) || low < 0xDC00 || low > 0xDFFF) {
                return false;
              }
              AppendUtf8(0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00), out);
            } else if (u >= 0xDC80 && u <= 0xDCFF) {
              out.push_back(static_cast<char>(u & 0xFF));
            } else if (u >= 0xDC00 && u <= 0xDFFF) {
              return false;
            } else {
              AppendUtf8(u, out);
            }
            break;
          }
          default:
            return false;
        }
      }
      return false;
    }
    absl::Status Value(Member& m) {
      if (pos >= text.size()) return Error("expected a value");
      const char c = text[pos];
      if (c == '"') {
        m.kind = Kind::kString;
        if (!String(m.str)) return Error("malformed string");
        return absl::OkStatus();
      }
      if (c == '[') {
        m.kind = Kind::kStrings;
        ++pos;
        SkipSpace();
        if (Eat(']')) return absl::OkStatus();
        for (;;) {
          SkipSpace();
          std::string s;
          if (!String(s)) return Error("expected a string in the array");
          m.list.push_back(std::move(s));
          SkipSpace();
          if (Eat(',')) continue;
          if (Eat(']')) return absl::OkStatus();
          return Error("expected ',' or ']'");
        }
      }
      if (text.substr(pos, 4) == "true") {
        pos += 4;
        m.kind = Kind::kBool;
        m.flag = true;
        return absl::OkStatus();
      }
      if (text.substr(pos, 5) == "false") {
        pos += 5;
        m.kind = Kind::kBool;
        m.flag = false;
        return absl::OkStatus();
      }
      if (c >= '0' && c <= '9') {
        m.kind = Kind::kUint;
        const size_t start = pos;
        uint64_t v = 0;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
          const uint64_t d = static_cast<uint64_t>(text[pos] - '0');
          if (v > (UINT64_MAX - d) / 10) return Error("number out of range");
          v = v * 10 + d;
          ++pos;
        }
        if (text[start] == '0' && pos - start > 1) return Error("number with a leading zero");
        if (pos < text.size() && (text[pos] == '.' || text[pos] == 'e' || text[pos] == 'E')) {
          return Error("expected an integer");
        }
        m.number = v;
        return absl::OkStatus();
      }
      if (c == '-') return Error("negative number");
      return Error("unexpected value");
    }
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
