// leadvaultd as operations run it: a config file with flags over it,
// --check-config, --version, a second daemon on a taken data dir, and the
// log's JSON lines.
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/e2e_fixture.h"

namespace leadvault::e2e {
namespace {

class OpsE2eTest : public E2eTest {
 protected:
  void WriteConfig(const std::string& name, const std::string& text) {
    WriteFileWithMode(Path(name), text, 0644);
  }
};

TEST_F(OpsE2eTest, VersionNamesTheBuildAndTheOnDiskFormat) {
  std::string out;
  EXPECT_EQ(RunProgram(LEADVAULTD_PATH, {"--version"}, Path("version"), &out), 0);
  EXPECT_TRUE(absl::StartsWith(out, "leadvaultd 0.")) << out;
  EXPECT_TRUE(absl::StrContains(out, "(commit ")) << out;
  EXPECT_TRUE(absl::StrContains(out, "on-disk format 1")) << out;
  EXPECT_EQ(RunProgram(LEADVAULTCTL_PATH, {"--version"}, Path("ctl-version"), &out), 0);
  EXPECT_TRUE(absl::StartsWith(out, "leadvaultctl 0.")) << out;
}

TEST_F(OpsE2eTest, CheckConfigValidatesWithoutCreatingAnything) {
  WriteConfig("good.toml",
              absl::StrCat("data_dir = \"", DataDir(), "\"\n[server]\nlisten = \"127.0.0.1:0\"\n"));
  std::string out, err;
  EXPECT_EQ(RunProgram(LEADVAULTD_PATH, {"--config", Path("good.toml"), "--check-config"},
                       Path("check-good"), &out, &err),
            0)
      << err;
  EXPECT_TRUE(absl::StrContains(out, "configuration is valid")) << out;
  EXPECT_FALSE(Exists(DataDir()));

  struct Bad {
    std::string text;
    std::vector<std::string> flags;
    std::string expect;
  };
  const std::vector<Bad> bad = {
      {"[server]\nworker_threads = 0\n", {}, "server.worker_threads: must be an integer from"},
      {"[server]\nthreads = 4\n", {}, "bad.toml:2: server.threads: unknown key"},
      {"[server\n", {}, "not valid TOML"},
      {"[log]\nformat = \"xml\"\n", {}, "log.format: must be text or json"},
      // A flag over a good file is checked with the same rule.
      {"", {"--worker-threads", "0"}, "--worker-threads: must be an integer from"},
      {"", {"--metrics-listen", "0.0.0.0:9"}, "metrics.listen: refusing the non-loopback"},
  };
  for (const Bad& b : bad) {
    WriteConfig("bad.toml", b.text);
    std::vector<std::string> args = {"--config", Path("bad.toml"), "--data-dir", DataDir()};
    args.insert(args.end(), b.flags.begin(), b.flags.end());
    // Refused as a check and as a start alike, with EX_CONFIG and nothing made.
    for (bool check : {true, false}) {
      std::vector<std::string> run = args;
      if (check) run.push_back("--check-config");
      EXPECT_EQ(RunProgram(LEADVAULTD_PATH, run, Path("check-bad"), &out, &err), 78) << b.expect;
      EXPECT_TRUE(absl::StrContains(err, b.expect)) << err;
      EXPECT_FALSE(Exists(DataDir())) << b.expect;
    }
  }
  EXPECT_EQ(
      RunProgram(LEADVAULTD_PATH, {"--config", Path("absent.toml")}, Path("absent"), &out, &err),
      78);
  EXPECT_TRUE(absl::StrContains(err, Path("absent.toml") + ": cannot be read")) << err;
  EXPECT_EQ(RunProgram(LEADVAULTD_PATH, {"--no-such-flag"}, Path("usage"), &out, &err), 64);
}

// The file sets what the flags do not; a flag wins over the file.
TEST_F(OpsE2eTest, TheDaemonRunsFromItsConfigFileWithFlagsOverIt) {
  WriteConfig("leadvault.toml",
              absl::StrCat("data_dir = \"", DataDir(), "\"\n",
                           "[server]\nlisten = \"127.0.0.1:1\"\n",  // overridden below
                           "ready_file = \"", Path("file.ready"), "\"\n",
                           "[admin]\ntoken_file = \"", Path("file.token"), "\"\n",
                           "[log]\nformat = \"json\"\n[metrics]\nlisten = \"\"\n"));
  Daemon daemon({"--config", Path("leadvault.toml"), "--listen", "127.0.0.1:0"}, Path("cfg"));
  std::string address = daemon.WaitReady(Path("file.ready"));
  ASSERT_FALSE(address.empty()) << daemon.err();
  EXPECT_FALSE(absl::EndsWith(address, ":1")) << "the flag did not override the file";
  EXPECT_TRUE(Exists(Path("file.token")));
  EXPECT_TRUE(Exists(DataDir() + "/master.key"));
  EXPECT_EQ(daemon.Stop(), 0);
  // Every log line is one JSON object with a time, a level and an event.
  int lines = 0;
  bool started = false;
  for (absl::string_view line : absl::StrSplit(daemon.err(), '\n', absl::SkipEmpty())) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(j.is_object()) << line;
    EXPECT_TRUE(j.contains("time") && j.contains("level") && j.contains("event")) << line;
    started = started || (j["event"] == "start" &&
                          absl::StrContains(j["msg"].get<std::string>(), "on-disk format"));
    ++lines;
  }
  EXPECT_GT(lines, 2);
  EXPECT_TRUE(started) << daemon.err();
}

TEST_F(OpsE2eTest, ASecondDaemonOnTheSameDataDirIsRefusedByName) {
  auto first = Start("first");
  ASSERT_FALSE(address_.empty());
  std::unique_ptr<Daemon> second;
  EXPECT_EQ(RunToExit("second",
                      {"--data-dir", DataDir(), "--listen", "127.0.0.1:0", "--metrics-listen", ""},
                      &second),
            1);
  EXPECT_TRUE(absl::StrContains(second->err(), "another leadvaultd holds it")) << second->err();
  EXPECT_TRUE(absl::StrContains(second->err(), DataDir())) << second->err();
  EXPECT_EQ(Stop(*first), 0);
}

TEST_F(OpsE2eTest, UnderSystemdTheAdminTokenMustGoToAFile) {
  Daemon daemon({"--data-dir", DataDir(), "--listen", "127.0.0.1:0"}, Path("journal"),
                {"JOURNAL_STREAM=8:12345"});
  EXPECT_EQ(daemon.WaitExit(kStartCapMillis), 78);
  EXPECT_TRUE(absl::StrContains(daemon.err(), "admin.token_file")) << daemon.err();
  EXPECT_FALSE(absl::StrContains(daemon.out() + daemon.err(), "lv_"));
  EXPECT_FALSE(Exists(DataDir()));
}

}  // namespace
}  // namespace leadvault::e2e
