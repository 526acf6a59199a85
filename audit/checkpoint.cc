#include "audit/checkpoint.h"

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "keys/hash.h"
#include "keys/status_macros.h"

namespace leadvault::audit {
namespace {

// Em dash (U+2014) and a space: the start of every signature line.
constexpr absl::string_view kSignaturePrefix = "\xE2\x80\x94 ";
// golang.org/x/mod/sumdb/note refuses notes with more than 100 signature
// lines; C2SP signed-note requires accepting at least 16.
constexpr int kMaxSignatures = 100;
constexpr char kAlgEd25519 = 0x01;
constexpr size_t kKeyIdSize = 4;

// Decodes the UTF-8 sequence at `s[i]` into `*rune`. Returns its length, or 0
// if it is not well formed (truncated, overlong, surrogate, above U+10FFFF).
size_t DecodeRune(absl::string_view s, size_t i, uint32_t* rune) {
  const auto b0 = static_cast<uint8_t>(s[i]);
  if (b0 < 0x80) {
    *rune = b0;
    return 1;
  }
  if (b0 < 0xC2 || b0 > 0xF4) return 0;  // continuation, overlong two-byte, or > U+10FFFF
  const size_t length = b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4;
  const uint32_t min = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000;
  uint32_t value = b0 & (0x7F >> length);
  if (s.size() - i < length) return 0;
  for (size_t k = 1; k < length; ++k) {
    const auto b = static_cast<uint8_t>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    value = (value << 6) | (b & 0x3F);
  }
  if (value < min || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return 0;
  *rune = value;
  return length;
}

// Unicode White_Space, as Go's unicode.IsSpace reports it.
bool IsUnicodeSpace(uint32_t r) {
  return (r >= 0x09 && r <= 0x0D) || r == 0x20 || r == 0x85 || r == 0xA0 || r == 0x1680 ||
         (r >= 0x2000 && r <= 0x200A) || r == 0x2028 || r == 0x2029 || r == 0x202F || r == 0x205F ||
         r == 0x3000;
}

// A key name: non-empty UTF-8 with no Unicode space, no '+' and no control
// character (the last can never appear in a note anyway).
bool IsValidKeyName(absl::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size();) {
    uint32_t r = 0;
    const size_t n = DecodeRune(name, i, &r);
    if (n == 0 || r < 0x20 || r == 0x7F || r == '+' || IsUnicodeSpace(r)) return false;
    i += n;
  }
  return true;
}

// Valid UTF-8 whose only ASCII control character is '\n', if `allow_newline`.
bool IsCleanText(absl::string_view s, bool allow_newline) {
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<uint8_t>(s[i]);
    if (b >= 0x20 && b < 0x80) {  // fast path for printable ASCII
      ++i;
      continue;
    }
    uint32_t r = 0;
    const size_t n = DecodeRune(s, i, &r);
    if (n == 0 || (r < 0x20 && !(allow_newline && r == '\n'))) return false;
    i += n;
  }
  return true;
}

// Standard, padded base64 in its one canonical spelling (no whitespace, no
// missing padding, zero trailing bits), so each byte string has one encoding.
bool DecodeCanonicalBase64(absl::string_view in, std::string* out) {
  return absl::Base64Unescape(in, out) && absl::Base64Escape(*out) == in;
}

void AppendBigEndian32(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>((v >> 24) & 0xff));
  out.push_back(static_cast<char>((v >> 16) & 0xff));
  out.push_back(static_cast<char>((v >> 8) & 0xff));
  out.push_back(static_cast<char>(v & 0xff));
}

uint32_t ReadBigEndian32(absl::string_view s) {
  return (uint32_t{static_cast<uint8_t>(s[0])} << 24) |
         (uint32_t{static_cast<uint8_t>(s[1])} << 16) |
         (uint32_t{static_cast<uint8_t>(s[2])} << 8) | uint32_t{static_cast<uint8_t>(s[3])};
}

bool IsLowerHex(absl::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string KeyLabel(absl::string_view name, uint32_t key_id) {
  return absl::StrCat(name, "+", absl::Hex(key_id, absl::kZeroPad8));
}

absl::Status MalformedNote(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("malformed signed note: ", why));
}

absl::Status MalformedLine(int line, absl::string_view what, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("malformed checkpoint: line ", line, " (", what, ") ", why));
}

absl::Status MalformedVerifierKey(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("malformed verifier key: ", why));
}

}  // namespace

bool ParseCanonicalUint64(absl::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 20 || (s[0] == '0' && s.size() > 1)) return false;
  uint64_t value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const auto digit = static_cast<uint64_t>(c - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) return false;
    value = value * 10 + digit;
  }
  *out = value;
  return true;
}

std::string FormatCheckpoint(const Checkpoint& checkpoint) {
  const absl::string_view root(reinterpret_cast<const char*>(checkpoint.root.data()),
                               checkpoint.root.size());
  return absl::StrCat(checkpoint.origin, "\n", checkpoint.size, "\n", absl::Base64Escape(root),
                      "\n");
}

absl::StatusOr<Checkpoint> ParseCheckpoint(absl::string_view body) {
  if (body.empty() || body.back() != '\n') {
    return absl::InvalidArgumentError("malformed checkpoint: does not end in a newline");
  }
  // Every line, the last included, ends in '\n', so find() always succeeds.
  size_t pos = 0;
  auto next_line = [&body, &pos](absl::string_view* line) {
    if (pos >= body.size()) return false;
    const size_t end = body.find('\n', pos);
    *line = body.substr(pos, end - pos);
    pos = end + 1;
    return true;
  };

  Checkpoint checkpoint;
  absl::string_view line;
  if (!next_line(&line) || line.empty()) return MalformedLine(1, "origin", "is empty");
  if (!IsCleanText(line, /*allow_newline=*/false) || line.find('\x7F') != line.npos) {
    return MalformedLine(1, "origin", "is not UTF-8 without control characters");
  }
  checkpoint.origin = std::string(line);

  if (!next_line(&line)) return MalformedLine(2, "tree size", "is missing");
  if (!ParseCanonicalUint64(line, &checkpoint.size)) {
    return MalformedLine(2, "tree size", "is not a canonical decimal uint64");
  }

  if (!next_line(&line)) return MalformedLine(3, "root hash", "is missing");
  std::string root;
  if (!DecodeCanonicalBase64(line, &root) || root.size() != checkpoint.root.size()) {
    return MalformedLine(3, "root hash", "is not the canonical base64 of 32 bytes");
  }
  for (size_t i = 0; i < root.size(); ++i) checkpoint.root[i] = static_cast<uint8_t>(root[i]);

  // Extension lines are opaque, but C2SP requires them to be non-empty.
  for (int number = 4; next_line(&line); ++number) {
    if (line.empty()) return MalformedLine(number, "extension", "is empty");
  }
  return checkpoint;
}

uint32_t NoteKeyId(absl::string_view name, absl::string_view public_key) {
  constexpr char kSeparator[] = {'\n', kAlgEd25519};
  const keys::Sha256Digest digest =
      keys::Sha256({name, absl::string_view(kSeparator, sizeof kSeparator), public_key});
  return (uint32_t{digest[0]} << 24) | (uint32_t{digest[1]} << 16) | (uint32_t{digest[2]} << 8) |
         uint32_t{digest[3]};
}

absl::StatusOr<NoteSigner> NoteSigner::Create(std::string name, const keys::SigningKey* key) {
  if (key == nullptr) return absl::InvalidArgumentError("note signer: no signing key");
  if (!IsValidKeyName(name)) {
    return absl::InvalidArgumentError(
        "note signer: key name must be non-empty UTF-8 without spaces, '+' or control characters");
  }
  const uint32_t key_id = NoteKeyId(name, key->public_key());
  return NoteSigner(std::move(name), key, key_id);
}

std::string NoteSigner::Sign(absl::string_view text) const {
  // REQUIRES: text ends in '\n'. Anything else could never be opened; a caller
  // passing it is a programming error, not a runtime condition.
  if (text.empty() || text.back() != '\n') std::abort();
  std::string raw;
  raw.reserve(kKeyIdSize + keys::kEd25519SignatureSize);
  AppendBigEndian32(raw, key_id_);
  raw += key_->Sign(text);
  return absl::StrCat(text, "\n", kSignaturePrefix, name_, " ", absl::Base64Escape(raw), "\n");
}

std::string NoteSigner::VerifierKey() const {
  std::string encoded_key(1, kAlgEd25519);
  encoded_key += key_->public_key();
  return absl::StrCat(KeyLabel(name_, key_id_), "+", absl::Base64Escape(encoded_key));
}

absl::StatusOr<NoteVerifier> NoteVerifier::Parse(absl::string_view verifier_key) {
  const size_t first_plus = verifier_key.find('+');
  const size_t second_plus =
      first_plus == verifier_key.npos ? verifier_key.npos : verifier_key.find('+', first_plus + 1);
  if (second_plus == verifier_key.npos) {
    return MalformedVerifierKey("expected <name>+<key id>+<key>");
  }
  const absl::string_view name = verifier_key.substr(0, first_plus);
  const absl::string_view id_hex =
      verifier_key.substr(first_plus + 1, second_plus - first_plus - 1);
  const absl::string_view key_base64 = verifier_key.substr(second_plus + 1);
  if (!IsValidKeyName(name)) {
    return MalformedVerifierKey(
        "name must be non-empty UTF-8 without spaces, '+' or control characters");
  }
  if (id_hex.size() != 2 * kKeyIdSize || !IsLowerHex(id_hex)) {
    return MalformedVerifierKey("key id must be 8 lowercase hex digits");
  }
  std::string encoded_key;
  if (!DecodeCanonicalBase64(key_base64, &encoded_key) || encoded_key.empty()) {
    return MalformedVerifierKey("key is not canonical base64");
  }
  if (encoded_key[0] != kAlgEd25519) {
    return MalformedVerifierKey("unknown key algorithm (only Ed25519, 0x01, is supported)");
  }
  if (encoded_key.size() != 1 + keys::kEd25519PublicKeySize) {
    return MalformedVerifierKey("Ed25519 public key must be 32 bytes");
  }
  const std::string id_bytes = absl::HexStringToBytes(id_hex);
  const uint32_t key_id = ReadBigEndian32(id_bytes);
  NoteVerifier verifier;
  verifier.public_key_ = encoded_key.substr(1);
  if (NoteKeyId(name, verifier.public_key_) != key_id) {
    return MalformedVerifierKey("key id does not match the name and key");
  }
  verifier.name_ = std::string(name);
  verifier.key_id_ = key_id;
  return verifier;
}

absl::StatusOr<std::string> NoteVerifier::Open(absl::string_view note) const {
  if (!IsCleanText(note, /*allow_newline=*/true)) {
    return MalformedNote("not UTF-8, or has a control character other than newline");
  }
  // The text ends at the last blank line; signature lines are never empty.
  const size_t split = note.rfind("\n\n");
  if (split == note.npos) return MalformedNote("no blank line before the signatures");
  const absl::string_view text = note.substr(0, split + 1);
  absl::string_view signatures = note.substr(split + 2);
  if (signatures.empty() || signatures.back() != '\n') {
    return MalformedNote("signature lines missing or not ended by a newline");
  }

  // Parse every line before verifying any, so that a malformed note is always
  // INVALID_ARGUMENT. Distinct signatures by this key are all verified (C2SP:
  // a known key's signature MUST be verified); identical repeats are skipped.
  std::vector<std::string> ours;
  int count = 0;
  while (!signatures.empty()) {
    const size_t end = signatures.find('\n');
    absl::string_view line = signatures.substr(0, end);
    signatures.remove_prefix(end + 1);
    if (++count > kMaxSignatures) return MalformedNote("more than 100 signatures");
    if (line.substr(0, kSignaturePrefix.size()) != kSignaturePrefix) {
      return MalformedNote("signature line does not start with an em dash and a space");
    }
    line.remove_prefix(kSignaturePrefix.size());
    const size_t space = line.find(' ');
    if (space == line.npos) return MalformedNote("signature line has no signature");
    const absl::string_view name = line.substr(0, space);
    const absl::string_view signature_base64 = line.substr(space + 1);
    if (!IsValidKeyName(name)) return MalformedNote("signature line has an invalid key name");
    std::string raw;
    if (!DecodeCanonicalBase64(signature_base64, &raw) || raw.size() <= kKeyIdSize) {
      return MalformedNote("signature is not canonical base64 of a key id and signature");
    }
    if (name != name_ || ReadBigEndian32(raw) != key_id_) continue;  // another key's
    raw.erase(0, kKeyIdSize);
    bool seen = false;
    for (const std::string& s : ours) seen = seen || s == raw;
    if (!seen) ours.push_back(std::move(raw));
  }

  if (ours.empty()) {
    return absl::PermissionDeniedError(
        absl::StrCat("signed note: no signature by key ", KeyLabel(name_, key_id_)));
  }
  for (const std::string& signature : ours) {
    if (!keys::VerifySignature(public_key_, text, signature)) {
      return absl::PermissionDeniedError(
          absl::StrCat("signed note: invalid signature by key ", KeyLabel(name_, key_id_)));
    }
  }
  return std::string(text);
}

// A validly signed checkpoint of another origin is INVALID_ARGUMENT: the key
// vouches for it, but it is not a checkpoint of the log this key names.
absl::StatusOr<Checkpoint> OpenCheckpoint(absl::string_view note, const NoteVerifier& verifier) {
  LV_ASSIGN_OR_RETURN(const std::string text, verifier.Open(note));
  LV_ASSIGN_OR_RETURN(Checkpoint checkpoint, ParseCheckpoint(text));
  if (checkpoint.origin != verifier.name()) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint: origin does not match the signing key's name ", verifier.name()));
  }
  return checkpoint;
}

}  // namespace leadvault::audit
