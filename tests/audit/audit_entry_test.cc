#include "audit/audit_entry.h"

#include <string>

#include "gtest/gtest.h"

namespace leadvault::audit {
namespace {

AuditEntry SampleEntry() {
  AuditEntry e;
  e.sequence = 300;  // a multi-byte varint
  e.time = absl::FromUnixMicros(1'764'400'000'123'456);
  e.principal_id = "0123456789abcdef";
  e.role = "intake";
  e.action = "GetLead";
  e.outcome = Outcome::kAllowed;
  e.code = 0;
  e.lead_ids = {"00112233445566778899aabbccddeeff"};
  e.fields = {"first_name", "email"};
  e.blind_tokens = {"ab12"};
  e.purpose = "treatment";
  e.request_id = "req-1";
  e.peer = "ipv4:127.0.0.1:5555";
  e.subject = "";
  return e;
}

TEST(AuditEntryTest, RoundTripsEveryField) {
  AuditEntry e = SampleEntry();
  auto decoded = DecodeCanonical(EncodeCanonical(e));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->sequence, e.sequence);
  EXPECT_EQ(decoded->time, e.time);
  EXPECT_EQ(decoded->principal_id, e.principal_id);
  EXPECT_EQ(decoded->role, e.role);
  EXPECT_EQ(decoded->action, e.action);
  EXPECT_EQ(decoded->outcome, e.outcome);
  EXPECT_EQ(decoded->lead_ids, e.lead_ids);
  EXPECT_EQ(decoded->fields, e.fields);
  EXPECT_EQ(decoded->blind_tokens, e.blind_tokens);
  EXPECT_EQ(decoded->purpose, e.purpose);
  EXPECT_EQ(decoded->request_id, e.request_id);
  EXPECT_EQ(decoded->peer, e.peer);
  EXPECT_EQ(EncodeCanonical(*decoded), EncodeCanonical(e));
}

TEST(AuditEntryTest, EncodingIsDeterministicAndPinned) {
  AuditEntry e;
  e.sequence = 1;
  e.time = absl::FromUnixMicros(2);
  // Built from chars, not assigned from literals: GCC 12 at -O3 warns falsely
  // (-Wrestrict, GCC bug 105329) on a one-character literal assigned here.
  e.principal_id.assign(1, 'p');
  e.action.assign(1, 'A');
  // version 1, seq 1, time zigzag(2)=4, "p", "", "A", outcome 1, code 0, 3 empty
  // lists, 5 empty strings.
  const std::string want(
      "\x01\x01\x04\x01p\x00\x01"
      "A\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00",
      18);
  EXPECT_EQ(EncodeCanonical(e), want);
  EXPECT_EQ(EncodeCanonical(e), EncodeCanonical(e));
}

TEST(AuditEntryTest, NegativeTimesRoundTrip) {
  AuditEntry e = SampleEntry();
  e.time = absl::FromUnixMicros(-5);
  auto decoded = DecodeCanonical(EncodeCanonical(e));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->time, e.time);
}

TEST(AuditEntryTest, MalformedInputIsDataLoss) {
  const std::string good = EncodeCanonical(SampleEntry());
  // Every truncation fails.
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_EQ(DecodeCanonical(good.substr(0, n)).status().code(), absl::StatusCode::kDataLoss)
        << "length " << n;
  }
  EXPECT_EQ(DecodeCanonical(good + "x").status().code(), absl::StatusCode::kDataLoss);
  std::string wrong_version = good;
  wrong_version[0] = 2;
  EXPECT_EQ(DecodeCanonical(wrong_version).status().code(), absl::StatusCode::kDataLoss);
  AuditEntry bad_outcome = SampleEntry();
  bad_outcome.outcome = static_cast<Outcome>(9);
  EXPECT_EQ(DecodeCanonical(EncodeCanonical(bad_outcome)).status().code(),
            absl::StatusCode::kDataLoss);
}

// Found by fuzz/audit_entry_fuzzer: every entry has exactly one encoding, so
// bytes that are not what EncodeCanonical writes are refused.
TEST(AuditEntryTest, NonCanonicalVarintsAreDataLoss) {
  AuditEntry e = SampleEntry();
  e.code = -1;  // sign-extended: ten bytes, ending 0x01
  const std::string good = EncodeCanonical(e);
  ASSERT_TRUE(DecodeCanonical(good).ok());
  const std::string minus_one = "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01";
  const size_t at = good.find(minus_one);
  ASSERT_NE(at, std::string::npos);
  auto with_code = [&](const std::string& varint) {
    std::string bytes = good;
    bytes.replace(at, minus_one.size(), varint);
    return DecodeCanonical(bytes).status().code();
  };
  // Bits past the 64th.
  EXPECT_EQ(with_code("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x41"), absl::StatusCode::kDataLoss);
  // A trailing zero group (0 written in two bytes).
  EXPECT_EQ(with_code(std::string("\x80\x00", 2)), absl::StatusCode::kDataLoss);
  // A code no int encodes to (2^32 + 5 would read back as 5).
  EXPECT_EQ(with_code("\x85\x80\x80\x80\x10"), absl::StatusCode::kDataLoss);
  EXPECT_EQ(with_code(std::string("\x05")), absl::StatusCode::kOk);
  // Lengths too: "req-1" with its length written in two bytes.
  std::string long_length = EncodeCanonical(SampleEntry());
  const size_t req = long_length.find("\x05req-1");
  ASSERT_NE(req, std::string::npos);
  long_length.replace(req, 1, std::string("\x85\x00", 2));
  EXPECT_EQ(DecodeCanonical(long_length).status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace leadvault::audit
