#include "audit/export_format.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "audit/internal/json.h"

// Rendering writes through a raw pointer into room reserved in the caller's
// string for an upper bound of the output, then trims: one resize per line
// instead of an append per token.
namespace leadvault::audit {
namespace {

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kHexDigits[] = "0123456789abcdef";

// Appends the output of `write(char* at) -> char* end`, at most `bound` bytes.
template <typename Write>
void AppendBounded(std::string& out, size_t bound, Write write) {
  const size_t old_size = out.size();
  out.resize(old_size + bound);
  char* end = write(out.data() + old_size);
  out.resize(static_cast<size_t>(end - out.data()));
}

template <size_t N>
char* PutLiteral(char* p, const char (&literal)[N]) {
  std::memcpy(p, literal, N - 1);
  return p + N - 1;
}

constexpr size_t kMaxIntChars = 20;  // 18446744073709551615, -9223372036854775808

char* PutUint(char* p, uint64_t v) {
  char buf[kMaxIntChars];
  char* end = buf + sizeof(buf);
  char* q = end;
  do {
    *--q = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  std::memcpy(p, q, static_cast<size_t>(end - q));
  return p + (end - q);
}

char* PutInt(char* p, int64_t v) {
  if (v >= 0) return PutUint(p, static_cast<uint64_t>(v));
  *p++ = '-';
  return PutUint(p, ~static_cast<uint64_t>(v) + 1);  // no overflow for INT64_MIN
}

struct TwoDigits {
  char digits[100][2];
  constexpr TwoDigits() : digits() {
    for (int v = 0; v < 100; ++v) {
      digits[v][0] = static_cast<char>('0' + v / 10);
      digits[v][1] = static_cast<char>('0' + v % 10);
    }
  }
};
constexpr TwoDigits kTwoDigits;

// `v` (< 100) as two digits.
char* Put2(char* p, int64_t v) {
  std::memcpy(p, kTwoDigits.digits[v], 2);
  return p + 2;
}

// `v` in decimal, zero-padded to `width` digits. REQUIRES: v < 10^width.
char* PutPadded(char* p, uint64_t v, int width) {
  for (int i = width - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  return p + width;
}

int64_t FloorDiv(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

constexpr size_t kMaxTimeChars = 32;  // "+294247-01-10T04:00:54.775807Z" is 30

// "YYYY-MM-DDThh:mm:ss.uuuuuuZ" (RFC 3339, UTC, microseconds) of the same
// microsecond count EncodeCanonical stores. Years outside 0000..9999 (only a
// corrupt clock produces them) use the ISO 8601 expanded form, a sign and at
// least four digits ("+12345", "-0001"), so every instant renders distinctly.
char* PutTime(char* p, absl::Time time) {
  const int64_t micros = absl::ToUnixMicros(time);
  // Floor division without overflow at INT64_MIN.
  int64_t seconds = micros / 1'000'000;
  int64_t sub_micros = micros % 1'000'000;
  if (sub_micros < 0) {
    sub_micros += 1'000'000;
    seconds -= 1;
  }
  const int64_t days = FloorDiv(seconds, 86'400);
  const int64_t second_of_day = seconds - days * 86'400;
  // Civil date from days since 1970-01-01 (H. Hinnant, "chrono-Compatible
  // Low-Level Date Algorithms"), proleptic Gregorian.
  const int64_t z = days + 719'468;
  const int64_t era = FloorDiv(z, 146'097);
  const int64_t doe = z - era * 146'097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36'524 - doe / 146'096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);

  if (year >= 0 && year <= 9999) {
    p = Put2(p, year / 100);
    p = Put2(p, year % 100);
  } else {
    *p++ = year < 0 ? '-' : '+';
    const uint64_t abs_year = year < 0 ? static_cast<uint64_t>(-year) : static_cast<uint64_t>(year);
    p = abs_year < 10000 ? PutPadded(p, abs_year, 4) : PutUint(p, abs_year);
  }
  *p++ = '-';
  p = Put2(p, month);
  *p++ = '-';
  p = Put2(p, day);
  *p++ = 'T';
  p = Put2(p, second_of_day / 3600);
  *p++ = ':';
  p = Put2(p, second_of_day / 60 % 60);
  *p++ = ':';
  p = Put2(p, second_of_day % 60);
  *p++ = '.';
  p = Put2(p, sub_micros / 10000);
  p = Put2(p, sub_micros / 100 % 100);
  p = Put2(p, sub_micros % 100);
  *p++ = 'Z';
  return p;
}

// Two base64 characters for each 12-bit value: two look-ups per 3 bytes.
struct Base64Pairs {
  char pair[4096][2];
  constexpr Base64Pairs() : pair() {
    for (int v = 0; v < 4096; ++v) {
      pair[v][0] = kBase64Alphabet[v >> 6];
      pair[v][1] = kBase64Alphabet[v & 0x3F];
    }
  }
};
constexpr Base64Pairs kBase64Pairs;

constexpr size_t Base64Size(size_t n) { return (n + 2) / 3 * 4; }

// Standard base64 with '=' padding (RFC 4648 section 4).
char* PutBase64(char* p, absl::string_view in) {
  const size_t n = in.size();
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  size_t i = 0;
  // Six bytes at a time, from an 8-byte big-endian load.
  for (; i + 8 <= n; i += 6) {
    uint64_t v;
    std::memcpy(&v, s + i, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    v >>= 16;
    std::memcpy(p, kBase64Pairs.pair[v >> 36], 2);
    std::memcpy(p + 2, kBase64Pairs.pair[(v >> 24) & 0xFFF], 2);
    std::memcpy(p + 4, kBase64Pairs.pair[(v >> 12) & 0xFFF], 2);
    std::memcpy(p + 6, kBase64Pairs.pair[v & 0xFFF], 2);
    p += 8;
  }
  for (; i + 3 <= n; i += 3) {
    const uint32_t v = (uint32_t{s[i]} << 16) | (uint32_t{s[i + 1]} << 8) | s[i + 2];
    std::memcpy(p, kBase64Pairs.pair[v >> 12], 2);
    std::memcpy(p + 2, kBase64Pairs.pair[v & 0xFFF], 2);
    p += 4;
  }
  if (i + 1 == n) {
    const uint32_t v = s[i];
    p[0] = kBase64Alphabet[v >> 2];
    p[1] = kBase64Alphabet[(v & 0x3) << 4];
    p[2] = '=';
    p[3] = '=';
    p += 4;
  } else if (i + 2 == n) {
    const uint32_t v = (uint32_t{s[i]} << 8) | s[i + 1];
    p[0] = kBase64Alphabet[v >> 10];
    p[1] = kBase64Alphabet[(v >> 4) & 0x3F];
    p[2] = kBase64Alphabet[(v & 0xF) << 2];
    p[3] = '=';
    p += 4;
  }
  return p;
}

// The length of the well-formed UTF-8 sequence (RFC 3629: no overlong forms,
// no surrogates, nothing above U+10FFFF) that starts at s[0] and lies within
// s[0..n), or 0 if there is none. REQUIRES: n >= 1, s[0] >= 0x80.
size_t Utf8SequenceLength(const unsigned char* s, size_t n) {
  const unsigned char c = s[0];
  auto cont = [](unsigned char b) { return (b & 0xC0) == 0x80; };
  if (c < 0xC2) return 0;
  if (c < 0xE0) return (n >= 2 && cont(s[1])) ? 2 : 0;
  if (c < 0xF0) {
    if (n < 3) return 0;
    const unsigned char lo = c == 0xE0 ? 0xA0 : 0x80;
    const unsigned char hi = c == 0xED ? 0x9F : 0xBF;
    return (s[1] >= lo && s[1] <= hi && cont(s[2])) ? 3 : 0;
  }
  if (c < 0xF5) {
    if (n < 4) return 0;
    const unsigned char lo = c == 0xF0 ? 0x90 : 0x80;
    const unsigned char hi = c == 0xF4 ? 0x8F : 0xBF;
    return (s[1] >= lo && s[1] <= hi && cont(s[2]) && cont(s[3])) ? 4 : 0;
  }
  return 0;
}

// True for the bytes a JSON string holds as they are: printable ASCII other
// than '"' and '\\'.
struct PlainJsonBytes {
  bool plain[256];
  constexpr PlainJsonBytes() : plain() {
    for (int c = 0x20; c < 0x7F; ++c) plain[c] = c != '"' && c != '\\';
  }
};
constexpr PlainJsonBytes kPlainJson;

#if defined(__SSE2__)
// Bit i set if byte i of `v` is not plain.
inline int SpecialMask(__m128i v) {
  // c - 0x20 as a signed byte is in [0, 0x5E] exactly for 0x20 <= c <= 0x7E.
  const __m128i t = _mm_sub_epi8(v, _mm_set1_epi8(0x20));
  const __m128i special = _mm_or_si128(
      _mm_or_si128(_mm_cmplt_epi8(t, _mm_setzero_si128()), _mm_cmpgt_epi8(t, _mm_set1_epi8(0x5E))),
      _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
  return _mm_movemask_epi8(special);
}

inline size_t FirstBit(int mask) {
  return static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
}
#endif

// How many bytes at the start of s[0..n) are plain.
size_t PlainPrefix(const unsigned char* s, size_t n) {
  size_t i = 0;
#if defined(__SSE2__)
  for (; i + 16 <= n; i += 16) {
    const int mask = SpecialMask(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i)));
    if (mask != 0) return i + FirstBit(mask);
  }
  // The rest, in two overlapping loads of 8 (or 4) bytes; never past s + n.
  const size_t rest = n - i;
  if (rest >= 8) {
    int mask = SpecialMask(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(s + i))) & 0xFF;
    if (mask != 0) return i + FirstBit(mask);
    mask = SpecialMask(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(s + n - 8))) & 0xFF;
    return mask != 0 ? n - 8 + FirstBit(mask) : n;
  }
  if (rest >= 4) {
    int32_t a, b;
    std::memcpy(&a, s + i, 4);
    std::memcpy(&b, s + n - 4, 4);
    int mask = SpecialMask(_mm_cvtsi32_si128(a)) & 0xF;
    if (mask != 0) return i + FirstBit(mask);
    mask = SpecialMask(_mm_cvtsi32_si128(b)) & 0xF;
    return mask != 0 ? n - 4 + FirstBit(mask) : n;
  }
#endif
  while (i < n && kPlainJson.plain[s[i]]) ++i;
  return i;
}

char* PutEscape4(char* p, unsigned value) {
  p[0] = '\\';
  p[1] = 'u';
  p[2] = kHexDigits[(value >> 12) & 0xF];
  p[3] = kHexDigits[(value >> 8) & 0xF];
  p[4] = kHexDigits[(value >> 4) & 0xF];
  p[5] = kHexDigits[value & 0xF];
  return p + 6;
}

// The most PutJsonString writes for `s`: every byte becomes at most 6. Short
// strings get that bound unchecked (reserving is cheaper than scanning).
size_t JsonStringBound(absl::string_view s) {
  const size_t n = s.size();
  if (n <= 64) return 2 + 6 * n;
  return 2 + (PlainPrefix(reinterpret_cast<const unsigned char*>(s.data()), n) == n ? n : 6 * n);
}

// A JSON string literal of `s` (see the header for the escaping rules).
char* PutJsonString(char* p, absl::string_view str) {
  *p++ = '"';
  const auto* s = reinterpret_cast<const unsigned char*>(str.data());
  const size_t n = str.size();
  size_t i = 0;
  for (;;) {
    const size_t run = PlainPrefix(s + i, n - i);
    std::memcpy(p, s + i, run);
    p += run;
    i += run;
    if (i == n) break;
    const unsigned char c = s[i];
    if (c < 0x80) {
      *p++ = '\\';
      switch (c) {
        case '"':
        case '\\':
          *p++ = static_cast<char>(c);
          break;
        case '\b':
          *p++ = 'b';
          break;
        case '\f':
          *p++ = 'f';
          break;
        case '\n':
          *p++ = 'n';
          break;
        case '\r':
          *p++ = 'r';
          break;
        case '\t':
          *p++ = 't';
          break;
        default:  // other C0 controls and DEL
          p = PutEscape4(p - 1, c);
          break;
      }
      ++i;
      continue;
    }
    const size_t len = Utf8SequenceLength(s + i, n - i);
    if (len == 0) {
      p = PutEscape4(p, 0xDC00u | c);  // an undecodable byte: a lone low surrogate
      ++i;
    } else if (len == 3 && c == 0xE2 && s[i + 1] == 0x80 &&
               (s[i + 2] == 0xA8 || s[i + 2] == 0xA9)) {
      p = PutEscape4(p, s[i + 2] == 0xA8 ? 0x2028u : 0x2029u);  // line/paragraph separator
      i += 3;
    } else {
      std::memcpy(p, s + i, len);
      p += len;
      i += len;
    }
  }
  *p++ = '"';
  return p;
}

size_t JsonListBound(const std::vector<std::string>& list) {
  size_t bound = 2;
  for (const std::string& s : list) bound += JsonStringBound(s) + 1;
  return bound;
}

char* PutJsonList(char* p, const std::vector<std::string>& list) {
  *p++ = '[';
  for (size_t i = 0; i < list.size(); ++i) {
    if (i != 0) *p++ = ',';
    p = PutJsonString(p, list[i]);
  }
  *p++ = ']';
  return p;
}

constexpr size_t HashListBound(size_t n) { return 2 + n * (Base64Size(sizeof(Hash)) + 3); }

char* PutHashList(char* p, const std::vector<Hash>& hashes) {
  *p++ = '[';
  for (size_t i = 0; i < hashes.size(); ++i) {
    if (i != 0) *p++ = ',';
    *p++ = '"';
    p = PutBase64(p, HashBytes(hashes[i]));
    *p++ = '"';
  }
  *p++ = ']';
  return p;
}

// String-appending forms, for the CSV writer.
void AppendUint(uint64_t v, std::string& out) {
  AppendBounded(out, kMaxIntChars, [v](char* p) { return PutUint(p, v); });
}
void AppendInt(int64_t v, std::string& out) {
  AppendBounded(out, kMaxIntChars, [v](char* p) { return PutInt(p, v); });
}
void AppendTime(absl::Time t, std::string& out) {
  AppendBounded(out, kMaxTimeChars, [t](char* p) { return PutTime(p, t); });
}
void AppendBase64(absl::string_view in, std::string& out) {
  AppendBounded(out, Base64Size(in.size()), [in](char* p) { return PutBase64(p, in); });
}

// Appends `s` with every byte that is not part of well-formed UTF-8 replaced
// by U+FFFD, so a CSV file is always valid UTF-8.
void AppendUtf8Lossy(absl::string_view s, std::string& out) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    size_t run = i;
    while (run < n && p[run] < 0x80) ++run;
    out.append(s.data() + i, run - i);
    i = run;
    if (i == n) break;
    const size_t len = Utf8SequenceLength(p + i, n - i);
    if (len == 0) {
      out.append("\xEF\xBF\xBD");
      ++i;
    } else {
      out.append(s.data() + i, len);
      i += len;
    }
  }
}

// One CSV cell (RFC 4180) from its text: neutralised against formula
// evaluation, quoted when it holds a quote, comma, CR or LF.
void AppendCsvCell(absl::string_view text, std::string& out) {
  std::string cell;
  cell.reserve(text.size() + 1);
  if (!text.empty()) {
    const char c = text.front();
    if (c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r') {
      cell.push_back('\'');
    }
  }
  AppendUtf8Lossy(text, cell);
  if (cell.find_first_of("\",\r\n") == std::string::npos) {
    out.append(cell);
    return;
  }
  out.push_back('"');
  for (char c : cell) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

void AppendCsvList(const std::vector<std::string>& list, std::string& out) {
  std::string joined;
  for (size_t i = 0; i < list.size(); ++i) {
    if (i != 0) joined.push_back(';');
    joined.append(list[i]);
  }
  AppendCsvCell(joined, out);
}

}  // namespace

namespace internal {

void AppendJsonString(absl::string_view s, std::string& out) {
  AppendBounded(out, JsonStringBound(s), [s](char* p) { return PutJsonString(p, s); });
}

void AppendRfc3339Micros(absl::Time t, std::string& out) { AppendTime(t, out); }

}  // namespace internal

void AppendJsonlHeader(const ExportHeader& header, std::string& out) {
  const size_t bound =
      240 + JsonStringBound(header.origin) + 2 * kMaxIntChars +
      JsonStringBound(header.filter.principal_id) + JsonStringBound(header.filter.action) +
      JsonStringBound(header.filter.lead_id) + HashListBound(header.left_frontier.size());
  AppendBounded(out, bound, [&header](char* p) {
    p = PutLiteral(p,
                   "{\"type\":\"header\",\"format\":\"leadvault-audit-export\",\"version\":1,"
                   "\"origin\":");
    p = PutJsonString(p, header.origin);
    p = PutLiteral(p, ",\"first_sequence\":");
    p = PutUint(p, header.first_sequence);
    p = PutLiteral(p, ",\"last_sequence\":");
    p = PutUint(p, header.last_sequence);
    if (header.filtered) {
      p = PutLiteral(p, ",\"filtered\":true,\"filter_principal_id\":");
      p = PutJsonString(p, header.filter.principal_id);
      p = PutLiteral(p, ",\"filter_action\":");
      p = PutJsonString(p, header.filter.action);
      p = PutLiteral(p, ",\"filter_lead_id\":");
      p = PutJsonString(p, header.filter.lead_id);
    } else {
      p = PutLiteral(p, ",\"filtered\":false");
    }
    p = PutLiteral(p, ",\"left_frontier\":");
    p = PutHashList(p, header.left_frontier);
    return PutLiteral(p, "}\n");
  });
}

void AppendJsonlEntry(const AuditEntry& entry, absl::string_view canonical,
                      const std::vector<Hash>* inclusion, std::string& out) {
  // The keys and punctuation take 250 bytes, the numbers, time and outcome
  // name at most 90: 512 is a safe bound for all but the variable parts.
  const size_t bound = 512 + JsonStringBound(entry.principal_id) + JsonStringBound(entry.role) +
                       JsonStringBound(entry.action) + JsonListBound(entry.lead_ids) +
                       JsonListBound(entry.fields) + JsonListBound(entry.blind_tokens) +
                       JsonStringBound(entry.purpose) + JsonStringBound(entry.request_id) +
                       JsonStringBound(entry.peer) + JsonStringBound(entry.break_glass_reason) +
                       JsonStringBound(entry.subject) + Base64Size(canonical.size()) +
                       (inclusion == nullptr ? 0 : HashListBound(inclusion->size()));
  AppendBounded(out, bound, [&](char* p) {
    p = PutLiteral(p, "{\"type\":\"entry\",\"seq\":");
    p = PutUint(p, entry.sequence);
    p = PutLiteral(p, ",\"time\":\"");
    p = PutTime(p, entry.time);
    p = PutLiteral(p, "\",\"principal\":");
    p = PutJsonString(p, entry.principal_id);
    p = PutLiteral(p, ",\"role\":");
    p = PutJsonString(p, entry.role);
    p = PutLiteral(p, ",\"action\":");
    p = PutJsonString(p, entry.action);
    p = PutLiteral(p, ",\"outcome\":");
    p = PutJsonString(p, OutcomeName(entry.outcome));
    p = PutLiteral(p, ",\"code\":");
    p = PutInt(p, entry.code);
    p = PutLiteral(p, ",\"lead_ids\":");
    p = PutJsonList(p, entry.lead_ids);
    p = PutLiteral(p, ",\"fields\":");
    p = PutJsonList(p, entry.fields);
    p = PutLiteral(p, ",\"blind_tokens\":");
    p = PutJsonList(p, entry.blind_tokens);
    p = PutLiteral(p, ",\"purpose\":");
    p = PutJsonString(p, entry.purpose);
    p = PutLiteral(p, ",\"request_id\":");
    p = PutJsonString(p, entry.request_id);
    p = PutLiteral(p, ",\"peer\":");
    p = PutJsonString(p, entry.peer);
    p = PutLiteral(p, ",\"break_glass_reason\":");
    p = PutJsonString(p, entry.break_glass_reason);
    p = PutLiteral(p, ",\"subject\":");
    p = PutJsonString(p, entry.subject);
    p = PutLiteral(p, ",\"canonical\":\"");
    p = PutBase64(p, canonical);
    *p++ = '"';
    if (inclusion != nullptr) {
      p = PutLiteral(p, ",\"inclusion\":");
      p = PutHashList(p, *inclusion);
    }
    return PutLiteral(p, "}\n");
  });
}

void AppendJsonlTrailer(const ExportTrailer& trailer, std::string& out) {
  const size_t bound = 80 + JsonStringBound(trailer.checkpoint_note) +
                       HashListBound(trailer.right_nodes.size()) +
                       JsonStringBound(trailer.manifest_note);
  AppendBounded(out, bound, [&trailer](char* p) {
    p = PutLiteral(p, "{\"type\":\"checkpoint\",\"note\":");
    p = PutJsonString(p, trailer.checkpoint_note);
    p = PutLiteral(p, ",\"right_nodes\":");
    p = PutHashList(p, trailer.right_nodes);
    if (!trailer.manifest_note.empty()) {
      p = PutLiteral(p, ",\"manifest\":");
      p = PutJsonString(p, trailer.manifest_note);
    }
    return PutLiteral(p, "}\n");
  });
}

void AppendJsonlConsistency(uint64_t from_size, const std::vector<Hash>& proof, std::string& out) {
  const size_t bound = 64 + kMaxIntChars + HashListBound(proof.size());
  AppendBounded(out, bound, [&](char* p) {
    p = PutLiteral(p, "{\"type\":\"consistency\",\"from_size\":");
    p = PutUint(p, from_size);
    p = PutLiteral(p, ",\"proof\":");
    p = PutHashList(p, proof);
    return PutLiteral(p, "}\n");
  });
}

namespace {

constexpr absl::string_view kDisplayNameField = "display_name=";

// The header's cells, in order; the canonical column is the optional last.
constexpr const char* kCsvColumns[] = {
    "Sequence",
    "Time (UTC)",
    "Exact Time (RFC 3339)",
    "Principal ID",
    "Principal Name",
    "Role",
    "Action",
    "Outcome",
    "Status Code",
    "Status Name",
    "Lead IDs",
    "Fields",
    "Blind Tokens",
    "Purpose",
    "Request ID",
    "Client Address",
    "Break-Glass Reason",
    "Target Principal ID",
    "Target Principal Name",
};
constexpr char kCsvCanonicalColumn[] = "Canonical Entry (base64)";

// "YYYY-MM-DD hh:mm:ss": the entry's time in UTC to the whole second (floor),
// the form spreadsheets take as a date-time. Years outside 0000..9999 keep
// the expanded form ("+10000-01-01 00:00:00"), which spreadsheets keep as text.
void AppendSpreadsheetTime(absl::Time t, std::string& out) {
  char buf[kMaxTimeChars];
  char* end = PutTime(buf, t);
  absl::string_view text(buf, static_cast<size_t>(end - buf));
  const size_t dot = text.rfind('.');
  if (dot != absl::string_view::npos) text = text.substr(0, dot);
  const size_t at = out.size();
  out.append(text.data(), text.size());
  const size_t tee = out.find('T', at);
  if (tee != std::string::npos) out[tee] = ' ';
}

}  // namespace

absl::string_view StatusCodeName(int code) {
  static constexpr const char* kNames[] = {
      "OK",
      "CANCELLED",
      "UNKNOWN",
      "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED",
      "NOT_FOUND",
      "ALREADY_EXISTS",
      "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED",
      "FAILED_PRECONDITION",
      "ABORTED",
      "OUT_OF_RANGE",
      "UNIMPLEMENTED",
      "INTERNAL",
      "UNAVAILABLE",
      "DATA_LOSS",
      "UNAUTHENTICATED",
  };
  if (code < 0 || static_cast<size_t>(code) >= std::size(kNames)) return "";
  return kNames[code];
}

std::optional<std::string> RecordedDisplayName(const AuditEntry& entry) {
  if (entry.action != "CreatePrincipal" || entry.outcome != Outcome::kAllowed ||
      entry.subject.empty()) {
    return std::nullopt;
  }
  for (const std::string& field : entry.fields) {
    absl::string_view name = field;
    if (name.substr(0, kDisplayNameField.size()) == kDisplayNameField) {
      name.remove_prefix(kDisplayNameField.size());
      if (!name.empty()) return std::string(name);
    }
  }
  return std::nullopt;
}

void AppendCsvHeader(const CsvOptions& options, std::string& out) {
  for (size_t i = 0; i < std::size(kCsvColumns); ++i) {
    if (i != 0) out.push_back(',');
    AppendCsvCell(kCsvColumns[i], out);
  }
  if (options.canonical_column) {
    out.push_back(',');
    AppendCsvCell(kCsvCanonicalColumn, out);
  }
  out.append("\r\n");
}

void AppendCsvEntry(const AuditEntry& entry, absl::string_view canonical, const CsvNames& names,
                    const CsvOptions& options, std::string& out) {
  std::string scratch;
  AppendUint(entry.sequence, out);
  out.push_back(',');
  AppendSpreadsheetTime(entry.time, scratch);
  AppendCsvCell(scratch, out);
  out.push_back(',');
  scratch.clear();
  AppendTime(entry.time, scratch);
  AppendCsvCell(scratch, out);
  out.push_back(',');
  AppendCsvCell(entry.principal_id, out);
  out.push_back(',');
  AppendCsvCell(names.principal, out);
  out.push_back(',');
  AppendCsvCell(entry.role, out);
  out.push_back(',');
  AppendCsvCell(entry.action, out);
  out.push_back(',');
  AppendCsvCell(OutcomeName(entry.outcome), out);
  out.push_back(',');
  scratch.clear();
  AppendInt(entry.code, scratch);
  AppendCsvCell(scratch, out);
  out.push_back(',');
  AppendCsvCell(StatusCodeName(entry.code), out);
  out.push_back(',');
  AppendCsvList(entry.lead_ids, out);
  out.push_back(',');
  AppendCsvList(entry.fields, out);
  out.push_back(',');
  AppendCsvList(entry.blind_tokens, out);
  out.push_back(',');
  AppendCsvCell(entry.purpose, out);
  out.push_back(',');
  AppendCsvCell(entry.request_id, out);
  out.push_back(',');
  AppendCsvCell(entry.peer, out);
  out.push_back(',');
  AppendCsvCell(entry.break_glass_reason, out);
  out.push_back(',');
  AppendCsvCell(entry.subject, out);
  out.push_back(',');
  AppendCsvCell(names.subject, out);
  if (options.canonical_column) {
    out.push_back(',');
    scratch.clear();
    AppendBase64(canonical, scratch);
    AppendCsvCell(scratch, out);
  }
  out.append("\r\n");
}

}  // namespace leadvault::audit
