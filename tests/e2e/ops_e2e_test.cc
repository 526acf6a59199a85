// leadvaultd as operations run it: a config file with flags over it,
// --check-config, --version, a second daemon on a taken data dir, and the
// log's JSON lines.
#include <sys/socket.h>
#include <sys/un.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/e2e_fixture.h"
#include "tests/e2e/ops_http_client.h"

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

  // Its port, for another data dir: in use, by address.
  std::unique_ptr<Daemon> port_taken;
  EXPECT_EQ(
      RunToExit("port", {"--data-dir", Path("other-data"), "--listen", address_}, &port_taken), 1);
  EXPECT_TRUE(absl::StrContains(port_taken->err(), "cannot bind " + address_)) << port_taken->err();
  EXPECT_TRUE(absl::StrContains(port_taken->err(), "address in use")) << port_taken->err();
  EXPECT_EQ(Stop(*first), 0);

  // A data dir that cannot be created: the path and the reason.
  WriteFileWithMode(Path("a-file"), "x", 0600);
  std::unique_ptr<Daemon> no_dir;
  EXPECT_EQ(RunToExit("nodir", {"--data-dir", Path("a-file") + "/data", "--listen", "127.0.0.1:0"},
                      &no_dir),
            1);
  EXPECT_TRUE(absl::StrContains(no_dir->err(), Path("a-file") + "/data: cannot be created: Not a "
                                                                "directory"))
      << no_dir->err();
}

TEST_F(OpsE2eTest, UnderSystemdTheAdminTokenMustGoToAFile) {
  Daemon daemon({"--data-dir", DataDir(), "--listen", "127.0.0.1:0"}, Path("journal"),
                {"JOURNAL_STREAM=8:12345"});
  EXPECT_EQ(daemon.WaitExit(kStartCapMillis), 78);
  EXPECT_TRUE(absl::StrContains(daemon.err(), "admin.token_file")) << daemon.err();
  EXPECT_FALSE(absl::StrContains(daemon.out() + daemon.err(), "lv_"));
  EXPECT_FALSE(Exists(DataDir()));
}

// /metrics scraped while writers create leads carrying canary values: the
// issue's series are there, and no canary, lead id or token ever is.
TEST_F(OpsE2eTest, MetricsScrapedUnderLoadShowTheSeriesAndNoIdentifier) {
  auto daemon = Start("load", {"--metrics-listen", "127.0.0.1:0", "--log-format", "json"});
  ASSERT_FALSE(address_.empty());
  const int port = OpsPort(daemon->err());
  ASSERT_GT(port, 0) << daemon->err();
  const std::string admin = AdminToken("load");
  const std::string worker = NewWorker(admin);

  std::atomic<bool> stop{false};
  std::atomic<int> created{0};
  std::vector<std::string> ids[2];
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; !stop.load(); ++i) {
        v1::CreateLeadRequest r =
            SimpleLead(absl::StrCat("load-", w, "-", i),
                       absl::StrCat("zqxmetricscanary", w, "x", i, "@canary-example.com"));
        r.mutable_personal()->set_last_name("Zqxmetricscanaryln");
        v1::CreateLeadResponse response;
        if (leads_->CreateLead(Ctx(worker).get(), r, &response).ok()) {
          ids[w].push_back(response.lead_id());
          created.fetch_add(1);
        }
      }
    });
  }
  // A failed authentication and a denial (the admin may not read leads).
  v1::Lead lead;
  EXPECT_EQ(GetLead("lv_bogus_token", "00000000000000000000000000000000", &lead).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(GetLead(admin, "00000000000000000000000000000000", &lead).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  std::vector<std::string> scrapes;
  while (created.load() < 200 || scrapes.size() < 3) {
    int status = 0;
    scrapes.push_back(OpsGet(port, "/metrics", &status));
    ASSERT_EQ(status, 200);
  }
  stop.store(true);
  for (auto& t : writers) t.join();
  int status = 0;
  scrapes.push_back(OpsGet(port, "/metrics", &status));
  const std::string& last = scrapes.back();

  for (const char* series : {
           "leadvault_build_info{version=\"0.",
           "leadvault_rpc_calls_total{service=\"leadvault.v1.LeadVault\",method=\"CreateLead\","
           "code=\"OK\"}",
           "leadvault_rpc_duration_seconds_bucket{service=\"leadvault.v1.LeadVault\",method="
           "\"CreateLead\",code=\"OK\",le=\"0.001\"}",
           "method=\"GetLead\",code=\"UNAUTHENTICATED\"}",
           "method=\"GetLead\",code=\"PERMISSION_DENIED\"}",
           "leadvault_commit_group_entries_bucket{le=\"1\"}",
           "leadvault_commit_write_seconds_count ",
           "leadvault_committer_queue_depth ",
           "leadvault_audit_tree_size ",
           "leadvault_audit_unsigned_entries ",
           "leadvault_audit_checkpoint_age_seconds ",
           "leadvault_auth_failures_total 1",
           "leadvault_auth_throttled_total 0",
           "leadvault_emergency_grants_open 0",
           "leadvault_rocksdb_live_table_bytes ",
           "leadvault_rocksdb_pending_compaction_bytes ",
           "leadvault_rocksdb_block_cache_hit_ratio ",
           "leadvault_ready 1",
       }) {
    EXPECT_TRUE(absl::StrContains(last, series)) << series << "\n" << last;
  }
  for (const std::string& scrape : scrapes) {
    EXPECT_FALSE(absl::StrContains(absl::AsciiStrToLower(scrape), "zqxmetricscanary"));
    EXPECT_FALSE(absl::StrContains(scrape, "canary-example"));
    EXPECT_FALSE(absl::StrContains(scrape, worker));
    EXPECT_FALSE(absl::StrContains(scrape, admin));
    for (const auto& list : ids) {
      for (const std::string& id : list) ASSERT_FALSE(absl::StrContains(scrape, id)) << id;
    }
  }
  // The log says who failed and was denied, by id, and never holds a token or a value.
  EXPECT_TRUE(absl::StrContains(daemon->err(), "\"event\":\"auth_failed\"")) << daemon->err();
  EXPECT_TRUE(absl::StrContains(daemon->err(), "\"event\":\"denied\"")) << daemon->err();
  EXPECT_FALSE(absl::StrContains(absl::AsciiStrToLower(daemon->err()), "zqxmetricscanary"));
  EXPECT_FALSE(absl::StrContains(daemon->err(), admin));
  EXPECT_FALSE(absl::StrContains(daemon->err(), "lv_bogus_token"));
  EXPECT_EQ(Stop(*daemon), 0) << daemon->err();
}

TEST_F(OpsE2eTest, ProbesAndHealthNameEveryServiceAndSighupNeverStopsTheDaemon) {
  auto daemon = Start("probes", {"--metrics-listen", "127.0.0.1:0", "--log-format", "json"});
  ASSERT_FALSE(address_.empty());
  const int port = OpsPort(daemon->err());
  ASSERT_GT(port, 0) << daemon->err();
  int status = 0;
  EXPECT_EQ(OpsGet(port, "/healthz", &status), "ok\n");
  EXPECT_EQ(status, 200);
  EXPECT_EQ(OpsGet(port, "/readyz", &status), "ready\n");
  EXPECT_EQ(status, 200);
  OpsGet(port, "/nothing-here", &status);
  EXPECT_EQ(status, 404);

  auto health = grpc::health::v1::Health::NewStub(channel_);
  for (const char* service :
       {"", "leadvault.v1.LeadVault", "leadvault.v1.Admin", "leadvault.v1.Compliance",
        "leadvault.v1.EmergencyAccess", "leadvault.v1.Consent", "leadvault.v1.Retention"}) {
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    grpc::Status s = health->Check(Ctx("").get(), request, &response);
    ASSERT_TRUE(s.ok()) << service << ": " << s.error_message();
    EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING) << service;
  }
  grpc::health::v1::HealthCheckRequest unknown;
  unknown.set_service("leadvault.v1.Nope");
  grpc::health::v1::HealthCheckResponse response;
  EXPECT_EQ(health->Check(Ctx("").get(), unknown, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);

  // SIGHUP reloads and goes on serving.
  ASSERT_EQ(::kill(daemon->pid(), SIGHUP), 0);
  bool reloaded = false;
  for (int waited = 0; !reloaded && waited < kStartCapMillis; waited += 10) {
    reloaded = absl::StrContains(daemon->err(), "SIGHUP");
    if (!reloaded) PollPause();
  }
  EXPECT_TRUE(reloaded) << daemon->err();
  EXPECT_TRUE(daemon->running());
  EXPECT_EQ(OpsGet(port, "/readyz", &status), "ready\n");
  health.reset();  // an open client channel would hold the server's drain
  EXPECT_EQ(Stop(*daemon), 0) << daemon->err();
}

// systemd's notify protocol, with a socket of the test's own in NOTIFY_SOCKET:
// READY once serving, WATCHDOG pings, RELOADING then READY around a SIGHUP,
// STOPPING at the drain.
TEST_F(OpsE2eTest, TheDaemonTalksToSystemdsNotifySocket) {
  const std::string socket_path = Path("notify.sock");
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  ASSERT_LT(socket_path.size(), sizeof(address.sun_path));
  std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  struct timeval cap = {kStartCapMillis / 1000, 0};  // bounds a hung test only
  ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &cap, sizeof(cap)), 0);
  // Reads datagrams until one holds `want`; false if none did before the cap.
  auto await = [fd](const std::string& want) {
    char buffer[4096];
    while (true) {
      ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
      if (n < 0) return false;
      if (absl::StrContains(absl::string_view(buffer, static_cast<size_t>(n)), want)) return true;
    }
  };

  auto daemon = Start("notify", {"--metrics-listen", ""},
                      {"NOTIFY_SOCKET=" + socket_path, "WATCHDOG_USEC=200000"});
  ASSERT_FALSE(address_.empty()) << daemon->err();
  EXPECT_TRUE(await("READY=1"));
  EXPECT_TRUE(await("WATCHDOG=1"));
  EXPECT_TRUE(await("WATCHDOG=1")) << "pinged again";
  ASSERT_EQ(::kill(daemon->pid(), SIGHUP), 0);
  EXPECT_TRUE(await("RELOADING=1"));
  EXPECT_TRUE(await("READY=1"));
  EXPECT_TRUE(daemon->running());
  leads_.reset();  // an open client channel would hold the drain
  admin_.reset();
  channel_.reset();
  ASSERT_EQ(::kill(daemon->pid(), SIGTERM), 0);
  EXPECT_TRUE(await("STOPPING=1"));
  EXPECT_EQ(daemon->WaitExit(), 0) << daemon->err();
  ::close(fd);
}

}  // namespace
}  // namespace leadvault::e2e
