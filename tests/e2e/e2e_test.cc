// End-to-end tests of the real leadvaultd binary: start-up, restart, refusals,
// bad input over the wire, and the PII canary scan of every byte it wrote.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "keys/random.h"
#include "leadvault/v1/leadvault.grpc.pb.h"
#include "tests/testing/fakes.h"

#ifndef LEADVAULTD_PATH
#error "LEADVAULTD_PATH must be defined by the build"
#endif

namespace leadvault::e2e {
namespace {

namespace v1 = ::leadvault::v1;
namespace fs = std::filesystem;

constexpr int kStartCapMillis = 30000;  // generous caps: they only bound a hung test
constexpr int kStopCapMillis = 30000;

class CryptoEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { ASSERT_TRUE(keys::InitCrypto()); }
};
[[maybe_unused]] ::testing::Environment* const kCryptoEnvironment =
    ::testing::AddGlobalTestEnvironment(new CryptoEnvironment);

void PollPause() {
  struct timespec ts = {0, 10 * 1000 * 1000};  // 10 ms between polls
  ::nanosleep(&ts, nullptr);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// Every regular file under `dir`, recursively: path -> bytes.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) files[e.path().string()] = ReadFile(e.path().string());
  }
  return files;
}

// Writes `bytes` to a new file at `path` with exactly `mode`.
void WriteFileWithMode(const std::string& path, const std::string& bytes, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  ASSERT_EQ(::fchmod(fd, mode), 0);
  ASSERT_EQ(::close(fd), 0);
}

// One run of leadvaultd, stdout and stderr captured to files.
class Daemon {
 public:
  Daemon(std::vector<std::string> args, const std::string& log_prefix)
      : out_path_(log_prefix + ".stdout"), err_path_(log_prefix + ".stderr") {
    std::vector<std::string> argv = {LEADVAULTD_PATH};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> raw;
    for (auto& a : argv) raw.push_back(a.data());
    raw.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      // Only async-signal-safe calls until exec.
      int out = ::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      int err = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (out < 0 || err < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) ::_exit(127);
      ::execv(raw[0], raw.data());
      ::_exit(127);
    }
    EXPECT_GT(pid_, 0) << "fork failed";
  }
  ~Daemon() {
    if (running()) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0 && !exit_status_.has_value(); }
  std::string out() const { return ReadFile(out_path_); }
  std::string err() const { return ReadFile(err_path_); }

  // Reaps the process if it has exited; true if it has.
  bool Reap() {
    if (!running()) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) exit_status_ = status;
    return exit_status_.has_value();
  }

  // Waits (bounded) for the process to exit; its exit code, or -1 if it was
  // killed by a signal or did not exit in time.
  int WaitExit(int cap_millis = kStopCapMillis) {
    for (int waited = 0; !Reap() && waited < cap_millis; waited += 10) PollPause();
    if (!Reap()) {
      ADD_FAILURE() << "leadvaultd did not exit within " << cap_millis << " ms";
      return -1;
    }
    return WIFEXITED(*exit_status_) ? WEXITSTATUS(*exit_status_) : -1;
  }

  // SIGTERM, then the exit code.
  int Stop() {
    EXPECT_EQ(::kill(pid_, SIGTERM), 0);
    return WaitExit();
  }

  // Waits (bounded) for `ready_file`; its HOST:PORT, or "" if the process died
  // or the cap passed.
  std::string WaitReady(const std::string& ready_file) {
    for (int waited = 0; waited < kStartCapMillis; waited += 10) {
      if (Exists(ready_file)) {
        std::string address = std::string(absl::StripAsciiWhitespace(ReadFile(ready_file)));
        if (!address.empty()) return address;
      }
      if (Reap()) {
        ADD_FAILURE() << "leadvaultd exited before it was ready; stderr:\n" << err();
        return "";
      }
      PollPause();
    }
    ADD_FAILURE() << "leadvaultd was not ready within " << kStartCapMillis << " ms";
    return "";
  }

 private:
  std::string out_path_;
  std::string err_path_;
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
};

class E2eTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return dir_.path() + "/" + name; }
  std::string DataDir() const { return Path("data"); }

  // Starts leadvaultd on DataDir() and waits until it serves. `run` names its files.
  std::unique_ptr<Daemon> Start(const std::string& run, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--data-dir",         DataDir(),
                                     "--listen",           "127.0.0.1:0",
                                     "--ready-file",       Path(run + ".ready"),
                                     "--admin-token-file", Path(run + ".token")};
    args.insert(args.end(), extra.begin(), extra.end());
    auto daemon = std::make_unique<Daemon>(args, Path(run));
    address_ = daemon->WaitReady(Path(run + ".ready"));
    if (!address_.empty()) {
      channel_ = grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
      leads_ = v1::LeadVault::NewStub(channel_);
      admin_ = v1::Admin::NewStub(channel_);
    }
    return daemon;
  }

  // Runs leadvaultd with `args` expecting it to refuse to start; its exit code.
  int RunToExit(const std::string& run, std::vector<std::string> args,
                std::unique_ptr<Daemon>* out) {
    *out = std::make_unique<Daemon>(args, Path(run));
    return (*out)->WaitExit(kStartCapMillis);
  }

  // Closes the client connection, then stops `daemon` with SIGTERM; its exit code.
  int Stop(Daemon& daemon) {
    leads_.reset();
    admin_.reset();
    channel_.reset();
    return daemon.Stop();
  }

  std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token) const {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
    return ctx;
  }

  // The bootstrap admin token from `run`'s --admin-token-file.
  std::string AdminToken(const std::string& run) {
    return std::string(absl::StripAsciiWhitespace(ReadFile(Path(run + ".token"))));
  }

  // An intake principal made by the admin; its token.
  std::string NewWorker(const std::string& admin_token) {
    v1::CreatePrincipalRequest request;
    request.set_display_name("e2e intake");
    request.add_roles("capture");
    request.add_roles("intake");
    request.add_service_lines("cardiology");
    v1::CreatePrincipalResponse response;
    grpc::Status s = admin_->CreatePrincipal(Ctx(admin_token).get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    return response.token();
  }

  v1::CreateLeadRequest SimpleLead(const std::string& key, const std::string& email) {
    v1::CreateLeadRequest r;
    r.set_idempotency_key(key);
    r.mutable_personal()->set_first_name("Grace");
    r.mutable_personal()->set_email(email);
    r.mutable_attribution()->set_source(v1::SOURCE_CHANNEL_REFERRAL);
    r.mutable_attribution()->set_service_line("cardiology");
    return r;
  }

  std::string CreateLead(const std::string& token, const v1::CreateLeadRequest& request) {
    v1::CreateLeadResponse response;
    grpc::Status s = leads_->CreateLead(Ctx(token).get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    return response.lead_id();
  }

  grpc::Status GetLead(const std::string& token, const std::string& id, v1::Lead* lead) {
    v1::GetLeadRequest request;
    request.set_lead_id(id);
    v1::GetLeadResponse response;
    grpc::Status s = leads_->GetLead(Ctx(token).get(), request, &response);
    if (lead != nullptr) *lead = response.lead();
    return s;
  }

  testing::ScratchDir dir_;
  std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::LeadVault::Stub> leads_;
  std::unique_ptr<v1::Admin::Stub> admin_;
};

TEST_F(E2eTest, FreshStartServesStopsCleanlyAndRestartsWithoutNewToken) {
  std::string token, worker, id;
  {
    auto daemon = Start("run1");
    ASSERT_FALSE(address_.empty());
    EXPECT_TRUE(absl::StartsWith(address_, "127.0.0.1:")) << address_;

    struct stat st;
    ASSERT_EQ(::stat((DataDir() + "/master.key").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(st.st_size, 32);
    ASSERT_EQ(::stat(Path("run1.token").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    token = AdminToken("run1");
    ASSERT_TRUE(absl::StartsWith(token, "lv_")) << token;
    EXPECT_TRUE(absl::StrContains(daemon->out(), token)) << "the token is shown once on stdout";
    EXPECT_FALSE(absl::StrContains(daemon->err(), token)) << "never in the log";
    EXPECT_TRUE(absl::StrContains(daemon->err(), "generated a new master key")) << daemon->err();

    worker = NewWorker(token);
    v1::CreateLeadRequest request = SimpleLead("e2e-1", "grace@example.com");
    request.mutable_personal()->set_phone("+1 650 253 0000");
    id = CreateLead(worker, request);
    ASSERT_EQ(id.size(), 32u);
    v1::Lead lead;
    grpc::Status s = GetLead(worker, id, &lead);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(lead.personal().first_name(), "Grace");
    EXPECT_EQ(lead.personal().phone(), "+16502530000");

    EXPECT_EQ(Stop(*daemon), 0) << daemon->err();
    EXPECT_TRUE(absl::StrContains(daemon->err(), "stopped cleanly")) << daemon->err();
  }
  {
    auto daemon = Start("run2");
    ASSERT_FALSE(address_.empty());
    // Bootstrap happens once: no new token printed or written.
    EXPECT_FALSE(Exists(Path("run2.token")));
    EXPECT_FALSE(absl::StrContains(daemon->out(), "LEADVAULT_TOKEN")) << daemon->out();
    EXPECT_FALSE(absl::StrContains(daemon->out(), "lv_")) << daemon->out();
    EXPECT_FALSE(absl::StrContains(daemon->err(), "generated a new master key"));
    v1::Lead lead;
    grpc::Status s = GetLead(worker, id, &lead);
    ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    EXPECT_EQ(lead.metadata().lead_id(), id);
    EXPECT_EQ(lead.personal().email(), "grace@example.com");
    // The admin token survived too.
    v1::ListPrincipalsResponse listed;
    ASSERT_TRUE(
        admin_->ListPrincipals(Ctx(token).get(), v1::ListPrincipalsRequest(), &listed).ok());
    EXPECT_EQ(listed.principals_size(), 2);
    EXPECT_EQ(Stop(*daemon), 0) << daemon->err();
  }
}

TEST_F(E2eTest, WrongOrExposedKeyIsRefusedAndDataIsUntouched) {
  {
    auto daemon = Start("init");
    ASSERT_FALSE(address_.empty());
    CreateLead(NewWorker(AdminToken("init")), SimpleLead("k-1", "key@example.com"));
    ASSERT_EQ(Stop(*daemon), 0) << daemon->err();
  }
  const auto before = Snapshot(DataDir());
  ASSERT_FALSE(before.empty());

  // A different (well-formed, 0600) key.
  testing::SeededRandom random(99);
  std::string other(32, '\0');
  random.Fill(reinterpret_cast<uint8_t*>(other.data()), other.size());
  WriteFileWithMode(Path("other.key"), other, 0600);
  std::unique_ptr<Daemon> daemon;
  int code = RunToExit("wrongkey",
                       {"--data-dir", DataDir(), "--listen", "127.0.0.1:0", "--ready-file",
                        Path("wrongkey.ready"), "--key-file", Path("other.key")},
                       &daemon);
  EXPECT_NE(code, 0);
  EXPECT_TRUE(absl::StrContains(daemon->err(), "key-check")) << daemon->err();
  EXPECT_FALSE(Exists(Path("wrongkey.ready")));
  const auto after = Snapshot(DataDir());
  EXPECT_EQ(after.size(), before.size());
  for (const auto& [path, bytes] : before) {
    auto it = after.find(path);
    ASSERT_NE(it, after.end()) << path << " vanished";
    EXPECT_TRUE(it->second == bytes) << path << " changed";
  }
  for (const auto& [path, bytes] : after) EXPECT_TRUE(before.count(path) > 0) << path << " added";

  // The right key file, but readable by others.
  const std::string key = DataDir() + "/master.key";
  ASSERT_EQ(::chmod(key.c_str(), 0644), 0);
  code = RunToExit(
      "exposed",
      {"--data-dir", DataDir(), "--listen", "127.0.0.1:0", "--ready-file", Path("exposed.ready")},
      &daemon);
  EXPECT_NE(code, 0);
  EXPECT_TRUE(absl::StrContains(daemon->err(), "0600")) << daemon->err();
  EXPECT_FALSE(Exists(Path("exposed.ready")));
  // And a fresh 0644 --key-file.
  WriteFileWithMode(Path("loose.key"), other, 0644);
  code = RunToExit(
      "loose",
      {"--data-dir", DataDir(), "--listen", "127.0.0.1:0", "--key-file", Path("loose.key")},
      &daemon);
  EXPECT_NE(code, 0);
  EXPECT_TRUE(absl::StrContains(daemon->err(), "0600")) << daemon->err();

  // Fixed: it starts again.
  ASSERT_EQ(::chmod(key.c_str(), 0600), 0);
  auto again = Start("again");
  ASSERT_FALSE(address_.empty());
  EXPECT_EQ(Stop(*again), 0);
}

TEST_F(E2eTest, NonLoopbackListenIsRefused) {
  std::unique_ptr<Daemon> daemon;
  int code = RunToExit("open",
                       {"--data-dir", DataDir(), "--listen", "0.0.0.0:0", "--ready-file",
                        Path("open.ready"), "--admin-token-file", Path("open.token")},
                       &daemon);
  EXPECT_NE(code, 0);
  EXPECT_TRUE(absl::StrContains(daemon->err(), "TLS")) << daemon->err();
  EXPECT_TRUE(absl::StrContains(daemon->err(), "non-loopback")) << daemon->err();
  EXPECT_FALSE(Exists(Path("open.ready")));
}

// A refused start must not burn the one-time bootstrap: the next good start
// on the same data dir must still hand out an admin token.
TEST_F(E2eTest, RefusedStartDoesNotLoseTheBootstrapToken) {
  std::unique_ptr<Daemon> daemon;
  ASSERT_NE(RunToExit("open", {"--data-dir", DataDir(), "--listen", "0.0.0.0:0"}, &daemon), 0);
  auto good = Start("good");
  ASSERT_FALSE(address_.empty());
  EXPECT_TRUE(Exists(Path("good.token")));
  EXPECT_TRUE(absl::StrContains(good->out(), "LEADVAULT_TOKEN"));
  EXPECT_EQ(Stop(*good), 0);
}

TEST_F(E2eTest, BadInputOverTheWireLeavesTheDaemonServing) {
  auto daemon = Start("bad");
  ASSERT_FALSE(address_.empty());
  const std::string worker = NewWorker(AdminToken("bad"));
  const std::string id = CreateLead(worker, SimpleLead("bad-1", "bad@example.com"));

  std::string unauth_message;
  for (const std::string& header :
       {std::string(), std::string("Bearer "), std::string("Bearer zqxgarbage"),
        std::string("Basic x"), "Bearer " + worker + "0",
        "Bearer lv_" + std::string(16, 'f') + "_" + std::string(64, 'f'),
        "Bearer " + std::string(4000, 'A')}) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    if (!header.empty()) ctx->AddMetadata("authorization", header);
    v1::GetLeadRequest request;
    request.set_lead_id(id);
    v1::GetLeadResponse response;
    grpc::Status s = leads_->GetLead(ctx.get(), request, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << header.substr(0, 40);
    if (unauth_message.empty()) unauth_message = s.error_message();
    EXPECT_EQ(s.error_message(), unauth_message);
    EXPECT_FALSE(response.has_lead());
  }

  v1::CreateLeadRequest big = SimpleLead("bad-big", "big@example.com");
  big.mutable_personal()->set_notes(std::string(300 * 1024, 'n'));
  v1::CreateLeadResponse created;
  grpc::Status s = leads_->CreateLead(Ctx(worker).get(), big, &created);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();

  v1::CreateLeadRequest utf8 = SimpleLead("bad-utf8", "utf8@example.com");
  utf8.mutable_personal()->set_first_name("Zqx\xff\xfe");
  s = leads_->CreateLead(Ctx(worker).get(), utf8, &created);
  EXPECT_FALSE(s.ok());

  v1::CreateLeadRequest enum99 = SimpleLead("bad-enum", "enum@example.com");
  enum99.mutable_attribution()->set_source(static_cast<v1::SourceChannel>(99));
  s = leads_->CreateLead(Ctx(worker).get(), enum99, &created);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();

  EXPECT_EQ(::kill(daemon->pid(), 0), 0);
  EXPECT_FALSE(daemon->Reap()) << daemon->err();
  v1::Lead lead;
  s = GetLead(worker, id, &lead);
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_EQ(lead.personal().first_name(), "Grace");
  EXPECT_EQ(Stop(*daemon), 0) << daemon->err();
}

// The canary: PII marker strings in every field must never reach any
// byte on disk or in the daemon's output in clear.
TEST_F(E2eTest, CanaryPiiNeverReachesDiskOrLogsInClear) {
  auto daemon = Start("canary");
  ASSERT_FALSE(address_.empty());
  const std::string worker = NewWorker(AdminToken("canary"));

  v1::CreateLeadRequest a;
  a.set_idempotency_key("canary-1");
  auto* p = a.mutable_personal();
  p->set_first_name("Zqxcanaryfn");
  p->set_last_name("Zqxcanaryln");
  p->set_email("zqxcanary.em@canary-example.com");
  p->set_phone("+1 650 253 0123");
  p->set_date_of_birth("1980-05-17");
  p->set_street_address("1600 Zqxcanarystreet Pkwy");
  p->set_city("Zqxcanarycity");
  p->set_state("CA");
  p->set_postal_code("94043-1351");
  p->set_condition_interest("Zqxcanarycondition knee replacement");
  p->set_notes("Zqxcanarynotes call after 5pm\nsecond line");
  auto* at = a.mutable_attribution();
  at->set_source(v1::SOURCE_CHANNEL_PAID_SEARCH);
  at->set_campaign("zqxclearcampaign");
  at->set_utm_source("zqxclearutm");
  at->set_service_line("cardiology");
  at->set_landing_page("https://example.org/zqxclearpath?email=zqxcanaryquery@x.com#zqxcanaryfrag");

  v1::CreateLeadRequest b;
  b.set_idempotency_key("canary-2");
  p = b.mutable_personal();
  p->set_first_name("Zqxcanarysecondfn");
  p->set_email("Zqxcanary.Second@Canary-Example.com");
  p->set_phone("(617) 253-1000");
  p->set_date_of_birth("07/04/1975");
  p->set_postal_code("021391234");
  p->set_notes("Zqxcanarysecondnotes");
  b.mutable_attribution()->set_source(v1::SOURCE_CHANNEL_WEB_FORM);
  b.mutable_attribution()->set_service_line("cardiology");

  std::vector<std::string> ids = {CreateLead(worker, a), CreateLead(worker, b)};
  for (const auto& id : ids) {
    ASSERT_EQ(id.size(), 32u);
    v1::Lead lead;
    grpc::Status s = GetLead(worker, id, &lead);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_FALSE(lead.personal().email().empty());
  }
  for (const auto& [email, phone] :
       {std::pair<std::string, std::string>{"zqxcanary.em@canary-example.com", "6502530123"},
        {"zqxcanary.second@canary-example.com", "+1 617 253 1000"}}) {
    for (bool by_email : {true, false}) {
      v1::FindLeadsRequest find;
      if (by_email) {
        find.set_email(email);
      } else {
        find.set_phone(phone);
      }
      v1::FindLeadsResponse found;
      grpc::Status s = leads_->FindLeads(Ctx(worker).get(), find, &found);
      ASSERT_TRUE(s.ok()) << s.error_message();
      EXPECT_EQ(found.leads_size(), 1);
    }
  }
  // Invalid input carrying markers is refused (and must not be logged either).
  v1::CreateLeadRequest bad = a;
  bad.set_idempotency_key("canary-bad");
  bad.mutable_personal()->set_email("zqxcanarybad@@canary-example.com");
  v1::CreateLeadResponse refused;
  EXPECT_EQ(leads_->CreateLead(Ctx(worker).get(), bad, &refused).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::UpdateLeadRequest update;
  update.set_lead_id(ids[0]);
  update.set_expected_version(1);
  update.set_status(v1::LEAD_STATUS_CONTACTED);
  v1::UpdateLeadResponse updated;
  ASSERT_TRUE(leads_->UpdateLead(Ctx(worker).get(), update, &updated).ok());

  // Shutdown flushes the memtables into SST files.
  ASSERT_EQ(Stop(*daemon), 0) << daemon->err();

  // Every marker, also in the normalized forms the vault stores.
  const std::vector<std::string> markers = {
      "zqxcanary",  // lower-cased prefix of every text marker
      "Zqxcanaryfn",        "Zqxcanaryln",         "zqxcanary.em@canary-example.com",
      "canary-example.com", "+16502530123",        "6502530123",
      "650 253 0123",       "1980-05-17",          "Zqxcanarystreet",
      "Zqxcanarycity",      "94043-1351",          "940431351",
      "Zqxcanarycondition", "knee replacement",    "Zqxcanarynotes",
      "call after 5pm",     "Zqxcanarysecondfn",   "Zqxcanary.Second",
      "+16172531000",       "6172531000",          "617) 253-1000",
      "1975-07-04",         "07/04/1975",          "02139-1234",
      "021391234",          "Zqxcanarysecondnotes"};
  const auto files = Snapshot(dir_.path());
  size_t scanned_bytes = 0;
  bool saw_sst = false, saw_manifest = false, saw_log = false;
  std::vector<std::string> clear_found_in;
  for (const auto& [path, bytes] : files) {
    scanned_bytes += bytes.size();
    saw_sst = saw_sst || absl::EndsWith(path, ".sst");
    saw_manifest = saw_manifest || absl::StrContains(path, "MANIFEST");
    saw_log = saw_log || absl::EndsWith(path, "/LOG");
    const std::string lower = absl::AsciiStrToLower(bytes);
    for (const auto& m : markers) {
      EXPECT_FALSE(absl::StrContains(bytes, m))
          << "PII marker \"" << m << "\" in clear in " << path;
      EXPECT_FALSE(absl::StrContains(lower, absl::AsciiStrToLower(m)))
          << "PII marker \"" << m << "\" (lower-cased) in " << path;
    }
    if (absl::StrContains(bytes, "zqxclearcampaign") && absl::StrContains(bytes, "zqxclearutm")) {
      clear_found_in.push_back(path);
    }
  }
  // The scan must be able to fail: it did read the data, where clear metadata is.
  EXPECT_TRUE(saw_sst);
  EXPECT_TRUE(saw_manifest);
  EXPECT_TRUE(saw_log);
  EXPECT_GT(scanned_bytes, 0u);
  EXPECT_FALSE(clear_found_in.empty()) << "the scan never saw the clear campaign marker";
  bool in_sst = false;
  for (const auto& path : clear_found_in) in_sst = in_sst || absl::EndsWith(path, ".sst");
  EXPECT_TRUE(in_sst) << "clear metadata not found in any SST: was the flush done?";
}

}  // namespace
}  // namespace leadvault::e2e
