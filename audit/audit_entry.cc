#include "audit/audit_entry.h"

#include <utility>

#include "absl/status/status.h"

namespace leadvault::audit {
namespace {

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void PutBytes(std::string& out, absl::string_view s) {
  PutVarint(out, s.size());
  out.append(s.data(), s.size());
}

void PutList(std::string& out, const std::vector<std::string>& list) {
  PutVarint(out, list.size());
  for (const std::string& s : list) PutBytes(out, s);
}

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1)); }

// Reads from a canonical encoding; any malformation latches `ok_ = false`.
class Reader {
 public:
  explicit Reader(absl::string_view in) : in_(in) {}

  // Only the shortest encoding of a value, as PutVarint writes it: no trailing
  // zero group and no bits past the 64th, so no two encodings share a value.
  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in_.empty()) return Fail();
      uint8_t b = static_cast<uint8_t>(in_.front());
      in_.remove_prefix(1);
      if (shift == 63 && b > 1) return Fail();
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) return (b == 0 && shift > 0) ? Fail() : v;
    }
    return Fail();
  }

  std::string Bytes() {
    uint64_t n = Varint();
    if (!ok_ || n > in_.size()) {
      Fail();
      return "";
    }
    std::string s(in_.substr(0, n));
    in_.remove_prefix(n);
    return s;
  }

  std::vector<std::string> List() {
    uint64_t n = Varint();
    std::vector<std::string> out;
    if (!ok_ || n > in_.size()) {
      Fail();
      return out;
    }
    out.reserve(n);
    for (uint64_t i = 0; i < n && ok_; ++i) out.push_back(Bytes());
    return out;
  }

  bool ok() const { return ok_; }
  bool done() const { return in_.empty(); }

 private:
  uint64_t Fail() {
    ok_ = false;
    return 0;
  }
  absl::string_view in_;
  bool ok_ = true;
};

}  // namespace

absl::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kAllowed:
      return "allowed";
    case Outcome::kDenied:
      return "denied";
    case Outcome::kFailed:
      return "failed";
    case Outcome::kUnauthenticated:
      return "unauthenticated";
  }
  return "unknown";
}

Outcome OutcomeForCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return Outcome::kAllowed;
    case absl::StatusCode::kUnauthenticated:
      return Outcome::kUnauthenticated;
    case absl::StatusCode::kPermissionDenied:
      return Outcome::kDenied;
    default:
      return Outcome::kFailed;
  }
}

std::string EncodeCanonical(const AuditEntry& e) {
  std::string out;
  out.reserve(128);
  out.push_back(static_cast<char>(kCanonicalVersion));
  PutVarint(out, e.sequence);
  PutVarint(out, ZigZag(absl::ToUnixMicros(e.time)));
  PutBytes(out, e.principal_id);
  PutBytes(out, e.role);
  PutBytes(out, e.action);
  PutVarint(out, static_cast<uint64_t>(e.outcome));
  PutVarint(out, static_cast<uint64_t>(e.code));
  PutList(out, e.lead_ids);
  PutList(out, e.fields);
  PutList(out, e.blind_tokens);
  PutBytes(out, e.purpose);
  PutBytes(out, e.request_id);
  PutBytes(out, e.peer);
  PutBytes(out, e.break_glass_reason);
  PutBytes(out, e.subject);
  return out;
}

absl::StatusOr<AuditEntry> DecodeCanonical(absl::string_view bytes) {
  if (bytes.empty() || static_cast<uint8_t>(bytes[0]) != kCanonicalVersion) {
    return absl::DataLossError("audit entry: unknown canonical version");
  }
  Reader r(bytes.substr(1));
  AuditEntry e;
  e.sequence = r.Varint();
  e.time = absl::FromUnixMicros(UnZigZag(r.Varint()));
  e.principal_id = r.Bytes();
  e.role = r.Bytes();
  e.action = r.Bytes();
  uint64_t outcome = r.Varint();
  e.outcome = static_cast<Outcome>(outcome);
  const uint64_t code = r.Varint();
  e.code = static_cast<int>(code);
  e.lead_ids = r.List();
  e.fields = r.List();
  e.blind_tokens = r.List();
  e.purpose = r.Bytes();
  e.request_id = r.Bytes();
  e.peer = r.Bytes();
  e.break_glass_reason = r.Bytes();
  e.subject = r.Bytes();
  // `code` must be what EncodeCanonical writes for an int (sign-extended).
  if (!r.ok() || !r.done() || outcome < 1 || outcome > 4 || static_cast<uint64_t>(e.code) != code) {
    return absl::DataLossError("audit entry: malformed canonical encoding");
  }
  return e;
}

}  // namespace leadvault::audit
