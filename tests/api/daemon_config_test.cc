#include "api/daemon_config.h"

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/testing/fakes.h"
#include "toml++/toml.h"

#ifndef LEADVAULT_EXAMPLE_CONFIG
#error "LEADVAULT_EXAMPLE_CONFIG must name packaging/leadvault.toml"
#endif

namespace leadvault::api {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The TOML text that sets `option` to `value` (a TOML literal).
std::string TomlSetting(const ConfigOption& option, const std::string& value) {
  const size_t dot = option.key.find('.');
  if (dot == absl::string_view::npos) return absl::StrCat(option.key, " = ", value, "\n");
  return absl::StrCat("[", option.key.substr(0, dot), "]\n", option.key.substr(dot + 1), " = ",
                      value, "\n");
}

bool IsInt(const ConfigOption& option) {
  return std::holds_alternative<int64_t DaemonConfig::*>(option.field);
}
bool IsBool(const ConfigOption& option) {
  return std::holds_alternative<bool DaemonConfig::*>(option.field);
}

void ExpectRefused(absl::string_view text, absl::string_view key, absl::string_view rule) {
  DaemonConfig config;
  absl::Status s = ApplyConfigToml(text, "test.toml", &config);
  ASSERT_FALSE(s.ok()) << text;
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(s.message(), key)) << s.message();
  EXPECT_TRUE(absl::StrContains(s.message(), rule)) << s.message();
  EXPECT_TRUE(absl::StartsWith(s.message(), "test.toml:")) << s.message();
  EXPECT_TRUE(config == DaemonConfig{}) << "a refused file changed the config: " << text;
}

TEST(DaemonConfigTest, TheDefaultsAreValid) { EXPECT_TRUE(ValidateConfig(DaemonConfig{}).ok()); }

TEST(DaemonConfigTest, EveryOptionHasOneKeyAndOneFlag) {
  std::set<std::string> keys, flags;
  for (const ConfigOption& option : ConfigOptions()) {
    EXPECT_TRUE(keys.insert(std::string(option.key)).second) << option.key;
    EXPECT_TRUE(flags.insert(std::string(option.flag)).second) << option.flag;
    EXPECT_TRUE(absl::StartsWith(option.flag, "--")) << option.flag;
    EXPECT_FALSE(option.help.empty()) << option.key;
  }
}

TEST(DaemonConfigTest, EveryOptionIsSetByTheFileAndThenByItsFlag) {
  for (const ConfigOption& option : ConfigOptions()) {
    SCOPED_TRACE(option.key);
    DaemonConfig config;
    std::string file_value, flag_value;
    if (IsInt(option)) {
      file_value = absl::StrCat(option.max);
      flag_value = absl::StrCat(option.min);
    } else if (IsBool(option)) {
      file_value = "true";
      flag_value = "false";
    } else {
      file_value = "\"from-file\"";
      flag_value = "from-flag";
    }
    ASSERT_TRUE(ApplyConfigToml(TomlSetting(option, file_value), "test.toml", &config).ok());
    EXPECT_FALSE(config == DaemonConfig{}) << "the file did not set it";
    DaemonConfig from_file = config;
    if (IsInt(option)) {
      EXPECT_EQ(config.*std::get<int64_t DaemonConfig::*>(option.field), option.max);
    } else if (IsBool(option)) {
      EXPECT_TRUE(config.*std::get<bool DaemonConfig::*>(option.field));
    } else {
      EXPECT_EQ(config.*std::get<std::string DaemonConfig::*>(option.field), "from-file");
    }
    // The flag wins over the file.
    ASSERT_TRUE(ApplyConfigFlag(option, flag_value, &config).ok());
    if (IsInt(option)) {
      EXPECT_EQ(config.*std::get<int64_t DaemonConfig::*>(option.field), option.min);
    } else if (IsBool(option)) {
      EXPECT_FALSE(config.*std::get<bool DaemonConfig::*>(option.field));
    } else {
      EXPECT_EQ(config.*std::get<std::string DaemonConfig::*>(option.field), "from-flag");
    }
    EXPECT_FALSE(config == from_file);
  }
}

TEST(DaemonConfigTest, EveryIntegerIsCheckedAgainstItsRangeInTheFileAndInTheFlag) {
  for (const ConfigOption& option : ConfigOptions()) {
    if (!IsInt(option)) continue;
    SCOPED_TRACE(option.key);
    const std::string rule =
        absl::StrCat("must be an integer from ", option.min, " to ", option.max);
    for (int64_t bad : {option.min - 1, option.max + 1}) {
      ExpectRefused(TomlSetting(option, absl::StrCat(bad)), option.key, rule);
      DaemonConfig config;
      absl::Status s = ApplyConfigFlag(option, absl::StrCat(bad), &config);
      ASSERT_FALSE(s.ok());
      EXPECT_TRUE(absl::StartsWith(s.message(), absl::StrCat(option.flag, ": ", rule)))
          << s.message();
    }
    ExpectRefused(TomlSetting(option, "\"12\""), option.key, rule);
    ExpectRefused(TomlSetting(option, "1.5"), option.key, rule);
    DaemonConfig config;
    EXPECT_FALSE(ApplyConfigFlag(option, "12x", &config).ok());
    EXPECT_FALSE(ApplyConfigFlag(option, "", &config).ok());
  }
}

TEST(DaemonConfigTest, AValueOfTheWrongTypeNamesTheKeyAndTheType) {
  ExpectRefused("data_dir = 5\n", "data_dir", "must be a string");
  ExpectRefused("[log]\ncalls = \"yes\"\n", "log.calls", "must be true or false");
  ExpectRefused("[log]\ncalls = 1\n", "log.calls", "must be true or false");
  ExpectRefused("[server]\nlisten = [\"a\"]\n", "server.listen", "must be a string");
  ExpectRefused("data_dir = { a = 1 }\n", "data_dir", "is a value, not a table");
}

TEST(DaemonConfigTest, AnUnknownKeyIsRefusedWithItsLine) {
  ExpectRefused("datadir = \"x\"\n", "datadir", "unknown key");
  ExpectRefused("[server]\nlisten = \"127.0.0.1:1\"\nlsiten = \"x\"\n",
                "test.toml:3: server.lsiten", "unknown key");
  ExpectRefused("[srever]\nlisten = \"x\"\n", "srever.listen", "unknown key");
  ExpectRefused("[server.tls]\ncert = \"x\"\n", "server.tls", "unknown key");
  ExpectRefused("listen = \"127.0.0.1:1\"\n", "listen", "unknown key");  // it lives in [server]
  // Repair flags are never file options.
  ExpectRefused("recover_lost_log_tail = true\n", "recover_lost_log_tail", "unknown key");
}

TEST(DaemonConfigTest, ASyntaxErrorNamesItsLineAndColumn) {
  DaemonConfig config;
  absl::Status s = ApplyConfigToml("[server]\nlisten = \n", "test.toml", &config);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::StartsWith(s.message(), "test.toml:2:")) << s.message();
  EXPECT_TRUE(absl::StrContains(s.message(), "not valid TOML")) << s.message();
  // The same key twice is a TOML error too.
  s = ApplyConfigToml("data_dir = \"a\"\ndata_dir = \"b\"\n", "test.toml", &config);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::StartsWith(s.message(), "test.toml:2:")) << s.message();
  EXPECT_TRUE(config == DaemonConfig{});
}

TEST(DaemonConfigTest, AFileThatCannotBeReadIsNamedWithTheReason) {
  testing::ScratchDir dir;
  DaemonConfig config;
  absl::Status s = ApplyConfigFile(dir.path() + "/missing.toml", &config);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.message(), dir.path() + "/missing.toml")) << s.message();
  EXPECT_TRUE(absl::StrContains(s.message(), "No such file or directory")) << s.message();

  const std::string big = dir.path() + "/big.toml";
  {
    std::ofstream out(big);
    out << "# " << std::string(1 << 20, 'x') << "\n";
  }
  s = ApplyConfigFile(big, &config);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.message(), "larger than")) << s.message();
  EXPECT_TRUE(config == DaemonConfig{});
}

TEST(DaemonConfigTest, ValidationNamesTheOptionsThatDisagree) {
  struct Case {
    void (*edit)(DaemonConfig&);
    const char* names;
  };
  const Case cases[] = {
      {[](DaemonConfig& c) { c.retention_sweep_interval = "soon"; }, "retention.sweep_interval"},
      {[](DaemonConfig& c) { c.retention_sweep_interval = "5s"; }, "retention.sweep_interval"},
      {[](DaemonConfig& c) { c.retention_sweep_interval = "8d"; }, "retention.sweep_interval"},
      {[](DaemonConfig& c) { c.log_format = "xml"; }, "log.format"},
      {[](DaemonConfig& c) { c.tls_cert = "c.pem"; }, "tls.cert and tls.key"},
      {[](DaemonConfig& c) { c.tls_key = "k.pem"; }, "tls.cert and tls.key"},
      {[](DaemonConfig& c) { c.tls_client_ca = "ca.pem"; }, "tls.client_ca"},
      {[](DaemonConfig& c) {
         c.key_file = "k";
         c.master_key_command = "cat k";
       },
       "at most one of key_file, passphrase_env and master_key_command"},
      {[](DaemonConfig& c) { c.max_exports_per_principal = c.max_exports + 1; },
       "compliance.max_exports_per_principal"},
      {[](DaemonConfig& c) { c.worker_threads = c.max_exports; }, "compliance.max_exports"},
      {[](DaemonConfig& c) { c.data_dir = ""; }, "data_dir"},
  };
  for (const Case& c : cases) {
    DaemonConfig config;
    c.edit(config);
    absl::Status s = ValidateConfig(config);
    ASSERT_FALSE(s.ok()) << c.names;
    EXPECT_TRUE(absl::StrContains(s.message(), c.names)) << s.message();
  }
  DaemonConfig off;
  off.retention_sweep_interval = "0";
  EXPECT_TRUE(ValidateConfig(off).ok());
  EXPECT_EQ(SweepInterval(off), absl::ZeroDuration());
  EXPECT_EQ(SweepInterval(DaemonConfig{}), absl::Hours(1));
}

// The shipped example names every option, and sets each to its default except
// the few a package changes.
TEST(DaemonConfigTest, TheExampleConfigNamesEveryOptionWithItsDefault) {
  const std::string text = ReadAll(LEADVAULT_EXAMPLE_CONFIG);
  ASSERT_FALSE(text.empty());
  DaemonConfig config;
  absl::Status s = ApplyConfigToml(text, LEADVAULT_EXAMPLE_CONFIG, &config);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(ValidateConfig(config).ok());
  toml::table table = toml::parse(text);
  for (const ConfigOption& option : ConfigOptions()) {
    EXPECT_TRUE(table.at_path(std::string_view(option.key.data(), option.key.size())))
        << option.key << " is missing from the example config";
  }
  DaemonConfig expected;
  expected.data_dir = "/var/lib/leadvault";
  expected.admin_token_file = "/var/lib/leadvault/admin-token";
  expected.log_format = "json";
  EXPECT_TRUE(config == expected) << "an option in the example differs from its default";
}

}  // namespace
}  // namespace leadvault::api
