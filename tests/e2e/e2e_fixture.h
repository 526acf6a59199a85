// Shared by the end-to-end tests: the real leadvaultd as a child process, and
// a fixture that starts it on a scratch data dir and talks to it over gRPC.
#ifndef LEADVAULT_TESTS_E2E_E2E_FIXTURE_H_
#define LEADVAULT_TESTS_E2E_E2E_FIXTURE_H_

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
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
#include "tests/testing/rpc_error_check.h"

#ifndef LEADVAULTD_PATH
#error "LEADVAULTD_PATH must be defined by the build"
#endif

namespace leadvault::e2e {

namespace v1 = ::leadvault::v1;
namespace fs = std::filesystem;

// An openssl(1) config with the extensions of a test CA (ca_ext) and the server
// (server_ext, for 127.0.0.1 and localhost) and client (client_ext) certificates it signs.
inline constexpr char kTestOpensslConfig[] = R"(
[req]
distinguished_name = dn
prompt = no
[dn]
CN = leadvault test
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
)";

inline constexpr int kStartCapMillis = 30000;  // generous caps: they only bound a hung test
inline constexpr int kStopCapMillis = 30000;

class CryptoEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { ASSERT_TRUE(keys::InitCrypto()); }
};
// Registered once per test binary (an inline variable has one definition).
inline ::testing::Environment* const kCryptoEnvironment =
    ::testing::AddGlobalTestEnvironment(new CryptoEnvironment);

inline void PollPause() {
  struct timespec ts = {0, 10 * 1000 * 1000};  // 10 ms between polls
  ::nanosleep(&ts, nullptr);
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `program` with `args`, its stdout and stderr in `log_prefix`.stdout and
// .stderr (and in `out`, `err` when given); its exit code, or -1.
inline int RunProgram(const std::string& program, const std::vector<std::string>& args,
                      const std::string& log_prefix, std::string* out = nullptr,
                      std::string* err = nullptr) {
  std::vector<std::string> argv = {program};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> raw;
  for (auto& a : argv) raw.push_back(a.data());
  raw.push_back(nullptr);
  const std::string out_path = log_prefix + ".stdout", err_path = log_prefix + ".stderr";
  pid_t pid = ::fork();
  if (pid == 0) {
    int o = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int e = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (o < 0 || e < 0 || ::dup2(o, 1) < 0 || ::dup2(e, 2) < 0) ::_exit(127);
    ::execv(raw[0], raw.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (out != nullptr) *out = ReadFile(out_path);
  if (err != nullptr) *err = ReadFile(err_path);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

inline bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// Every regular file under `dir`, recursively: path -> bytes.
inline std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) files[e.path().string()] = ReadFile(e.path().string());
  }
  return files;
}

// Writes `bytes` to a new file at `path` with exactly `mode`.
inline void WriteFileWithMode(const std::string& path, const std::string& bytes, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  ASSERT_EQ(::fchmod(fd, mode), 0);
  ASSERT_EQ(::close(fd), 0);
}

// One run of leadvaultd, stdout and stderr captured to files.
class Daemon {
 public:
  // `env`: "NAME=value" strings added to the daemon's environment.
  Daemon(std::vector<std::string> args, const std::string& log_prefix,
         std::vector<std::string> env = {})
      : out_path_(log_prefix + ".stdout"), err_path_(log_prefix + ".stderr") {
    std::vector<std::string> argv = {LEADVAULTD_PATH};
    argv.insert(argv.end(), args.begin(), args.end());
    // The metrics listener's default port is fixed (127.0.0.1:7444): tests
    // that run at once must not share it, so each daemon takes a free one.
    if (std::find(args.begin(), args.end(), "--metrics-listen") == args.end()) {
      argv.insert(argv.end(), {"--metrics-listen", "127.0.0.1:0"});
    }
    std::vector<char*> raw;
    for (auto& a : argv) raw.push_back(a.data());
    raw.push_back(nullptr);
    std::vector<char*> envp;
    for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      // Only async-signal-safe calls until exec.
      int out = ::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      int err = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (out < 0 || err < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) ::_exit(127);
      ::execve(raw[0], raw.data(), envp.data());
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
  std::unique_ptr<Daemon> Start(const std::string& run, std::vector<std::string> extra = {},
                                std::vector<std::string> env = {}) {
    std::vector<std::string> args = {"--data-dir",         DataDir(),
                                     "--listen",           "127.0.0.1:0",
                                     "--ready-file",       Path(run + ".ready"),
                                     "--admin-token-file", Path(run + ".token")};
    args.insert(args.end(), extra.begin(), extra.end());
    auto daemon = std::make_unique<Daemon>(args, Path(run), std::move(env));
    address_ = daemon->WaitReady(Path(run + ".ready"));
    if (!address_.empty()) {
      channel_ = testing::CheckedChannel(address_, grpc::InsecureChannelCredentials());
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

  // A principal made by the admin with `roles` and `service_lines`; its
  // token, also written to the 0600 file `<name>.token` for leadvaultctl.
  std::string NewPrincipalFile(const std::string& admin_token, const std::string& name,
                               const std::vector<std::string>& roles,
                               const std::vector<std::string>& service_lines = {}) {
    v1::CreatePrincipalRequest request;
    request.set_display_name(name);
    for (const std::string& role : roles) request.add_roles(role);
    for (const std::string& line : service_lines) request.add_service_lines(line);
    v1::CreatePrincipalResponse response;
    grpc::Status s = admin_->CreatePrincipal(Ctx(admin_token).get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    WriteFileWithMode(Path(name + ".token"), response.token() + "\n", 0600);
    return response.token();
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
    request.set_purpose(v1::PURPOSE_OF_USE_TREATMENT);
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

}  // namespace leadvault::e2e

#endif  // LEADVAULT_TESTS_E2E_E2E_FIXTURE_H_
