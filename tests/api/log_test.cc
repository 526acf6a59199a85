#include "api/log.h"

#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace leadvault::api {
namespace {

const absl::Time kTime = absl::FromUnixMillis(1796299200123);  // 2026-12-03T12:00:00.123Z

TEST(LogTest, AJsonLineIsOneObjectWithTheCallsFields) {
  LogFields fields;
  fields.request_id = "req-1";
  fields.principal_id = "p_abc";
  fields.method = "GetLead";
  fields.code = "PERMISSION_DENIED";
  fields.duration = absl::Microseconds(1500);
  std::string line = FormatLogLine(LogFormat::kJson, kTime, LogLevel::kWarning, "denied",
                                   "the call was denied", fields);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  nlohmann::json j = nlohmann::json::parse(line);
  EXPECT_EQ(j["time"], "2026-12-03T12:00:00.123Z");
  EXPECT_EQ(j["level"], "warning");
  EXPECT_EQ(j["event"], "denied");
  EXPECT_EQ(j["msg"], "the call was denied");
  EXPECT_EQ(j["request_id"], "req-1");
  EXPECT_EQ(j["principal_id"], "p_abc");
  EXPECT_EQ(j["method"], "GetLead");
  EXPECT_EQ(j["code"], "PERMISSION_DENIED");
  EXPECT_DOUBLE_EQ(j["duration_ms"].get<double>(), 1.5);
}

TEST(LogTest, EmptyFieldsAreLeftOut) {
  nlohmann::json j = nlohmann::json::parse(
      FormatLogLine(LogFormat::kJson, kTime, LogLevel::kInfo, "start", "starting", {}));
  EXPECT_EQ(j.size(), 4u) << j.dump();
  EXPECT_FALSE(j.contains("principal_id"));
  EXPECT_FALSE(j.contains("duration_ms"));
}

// Whatever bytes a message holds (quotes, newlines, control bytes, invalid
// UTF-8 from a library's text), the line stays one valid JSON object.
TEST(LogTest, AnyBytesStayOneValidJsonLine) {
  std::string message = "quote\" backslash\\ newline\n tab\t nul";
  message.push_back('\0');
  message += " high\xff\xfe end \xc3\xa9";
  std::string line = FormatLogLine(LogFormat::kJson, kTime, LogLevel::kError, "grpc", message, {});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  for (unsigned char c : line) EXPECT_LT(c, 0x80) << line;
  nlohmann::json j = nlohmann::json::parse(line);
  EXPECT_EQ(j["event"], "grpc");
  EXPECT_NE(j["msg"].get<std::string>().find("quote\" backslash\\ newline\n"), std::string::npos);
}

TEST(LogTest, TheTextLineKeepsTheEstablishedFormOnOneLine) {
  EXPECT_EQ(
      FormatLogLine(LogFormat::kText, kTime, LogLevel::kInfo, "stopped", "stopped cleanly", {}),
      "leadvaultd: stopped cleanly");
  LogFields fields;
  fields.principal_id = "p_abc";
  fields.method = "GetLead";
  fields.code = "PERMISSION_DENIED";
  EXPECT_EQ(
      FormatLogLine(LogFormat::kText, kTime, LogLevel::kWarning, "denied", "two\nlines", fields),
      "leadvaultd: two lines [principal=p_abc method=GetLead code=PERMISSION_DENIED]");
}

}  // namespace
}  // namespace leadvault::api
