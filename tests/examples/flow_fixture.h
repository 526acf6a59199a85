// Shared by the tests of the example clients (examples/python/leadvault_flow.py,
// examples/node/flow.js): the real leadvaultd on 127.0.0.1 port 0, in plaintext
// or with mutual TLS (certificates made with the openssl CLI), the flow's three
// principals made with leadvaultctl, and the checks of what a client's run left
// in the audit log, read back with leadvaultctl.
#ifndef LEADVAULT_TESTS_EXAMPLES_FLOW_FIXTURE_H_
#define LEADVAULT_TESTS_EXAMPLES_FLOW_FIXTURE_H_

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/e2e_fixture.h"

#ifndef LEADVAULTCTL_PATH
#error "LEADVAULTCTL_PATH must be defined by the build"
#endif

namespace leadvault::e2e {

struct ProgramRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `program` with `args`, the "NAME=value" strings of `env` replacing
// those names in the inherited environment (an empty value unsets them for
// the clients, which treat empty as unset); stdout and stderr in
// `log_prefix`.stdout and .stderr.
inline ProgramRun RunWithEnv(const std::string& program, const std::vector<std::string>& args,
                             const std::vector<std::string>& env, const std::string& log_prefix) {
  std::vector<std::string> argv = {program};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> raw;
  for (auto& a : argv) raw.push_back(a.data());
  raw.push_back(nullptr);
  std::vector<std::string> environment;
  for (char** e = environ; *e != nullptr; ++e) {
    const absl::string_view entry(*e);
    bool replaced = false;
    for (const std::string& mine : env) {
      const absl::string_view name = absl::string_view(mine).substr(0, mine.find('=') + 1);
      replaced = replaced || absl::StartsWith(entry, name);
    }
    if (!replaced) environment.emplace_back(entry);
  }
  environment.insert(environment.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (auto& e : environment) envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string out_path = log_prefix + ".stdout", err_path = log_prefix + ".stderr";
  ProgramRun run;
  pid_t pid = ::fork();
  if (pid == 0) {
    int o = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int e = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (o < 0 || e < 0 || ::dup2(o, 1) < 0 || ::dup2(e, 2) < 0) ::_exit(127);
    ::execve(raw[0], raw.data(), envp.data());
    ::_exit(127);
  }
  int status = 0;
  if (pid > 0 && ::waitpid(pid, &status, 0) == pid && WIFEXITED(status)) {
    run.exit_code = WEXITSTATUS(status);
  }
  run.out = ReadFile(out_path);
  run.err = ReadFile(err_path);
  return run;
}

// One entry line of a JSON Lines audit export, the members the checks use.
struct ExportedEntry {
  std::string action;
  std::string outcome;
  std::string role;
  std::string purpose;
  int code = 0;
  std::vector<std::string> lead_ids;
  std::vector<std::string> fields;
};

// The made-up personal values both clients submit (their email holds a random
// run id, so no client output may hold an '@').
inline constexpr const char* kDemoPersonalValues[] = {"Grace", "Hopper", "@", "example.com"};

class ExampleFlowTest : public E2eTest {
 protected:
  static constexpr char kServiceLine[] = "orthopedics";

  // Starts leadvaultd (with mutual TLS when `tls`) and makes the flow's
  // principals with leadvaultctl: capture.token, intake.token (an intake desk
  // of `intake_line`) and compliance.token, each a 0600 file.
  std::unique_ptr<Daemon> StartWithPrincipals(bool tls,
                                              const std::string& intake_line = kServiceLine) {
    tls_ = tls;
    std::vector<std::string> extra;
    if (tls) {
      MakeCertificates();
      if (HasFatalFailure()) return nullptr;
      extra = {"--tls-cert",       Path("server.pem"), "--tls-key",
               Path("server.key"), "--tls-client-ca",  Path("ca.pem")};
    }
    auto daemon = Start("run", extra);
    if (address_.empty()) return daemon;
    const std::string admin = Path("run.token");
    struct NewPrincipal {
      const char* file;
      std::vector<std::string> flags;
    };
    const std::vector<NewPrincipal> principals = {
        {"capture", {"--name", "Web form", "--role", "capture"}},
        {"intake", {"--name", "Ortho intake", "--role", "intake", "--service-line", intake_line}},
        {"compliance", {"--name", "Privacy officer", "--role", "compliance"}},
    };
    for (const NewPrincipal& p : principals) {
      std::vector<std::string> args = {"--token-file", admin, "principal", "create"};
      args.insert(args.end(), p.flags.begin(), p.flags.end());
      args.insert(args.end(), {"--token-out", Path(absl::StrCat(p.file, ".token"))});
      ProgramRun run = Ctl(args, Path(absl::StrCat("principal-", p.file)));
      EXPECT_EQ(run.exit_code, 0) << run.err;
    }
    return daemon;
  }

  // leadvaultctl with this daemon's connection flags before `args`.
  ProgramRun Ctl(std::vector<std::string> args, const std::string& log_prefix) const {
    std::vector<std::string> all = {"--server", address_};
    if (tls_) {
      all.insert(all.end(), {"--ca", Path("ca.pem"), "--cert", Path("client.pem"), "--key",
                             Path("client.key")});
    }
    all.insert(all.end(), args.begin(), args.end());
    ProgramRun run;
    run.exit_code = RunProgram(LEADVAULTCTL_PATH, all, log_prefix, &run.out, &run.err);
    return run;
  }

  // A client's flags for the tokens and the export file.
  std::vector<std::string> TokenAndExportArgs(const std::string& export_file) const {
    return {"--capture-token-file",
            Path("capture.token"),
            "--intake-token-file",
            Path("intake.token"),
            "--compliance-token-file",
            Path("compliance.token"),
            "--service-line",
            kServiceLine,
            "-o",
            export_file};
  }

  // The entry lines of the JSON Lines export at `path`, in order.
  static std::vector<ExportedEntry> EntriesOf(const std::string& path) {
    std::vector<ExportedEntry> entries;
    for (absl::string_view line : absl::StrSplit(ReadFile(path), '\n', absl::SkipEmpty())) {
      nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      EXPECT_FALSE(j.is_discarded()) << path << ": a line that is not JSON";
      if (j.is_discarded() || j.value("type", "") != "entry") continue;
      ExportedEntry e;
      e.action = j.value("action", "");
      e.outcome = j.value("outcome", "");
      e.role = j.value("role", "");
      e.purpose = j.value("purpose", "");
      e.code = j.value("code", -1);
      e.lead_ids = j.value("lead_ids", std::vector<std::string>());
      e.fields = j.value("fields", std::vector<std::string>());
      entries.push_back(std::move(e));
    }
    return entries;
  }

  // What a successful run shows: its steps, the lead it created, an export
  // that leadvaultctl verifies against the checkpoint the client kept, and the
  // log's entries of every step naming that lead, read back by leadvaultctl.
  void ExpectFlowAudited(const ProgramRun& run, const std::string& export_file) {
    ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
    EXPECT_TRUE(absl::StrContains(run.out, "OK: the flow ran and its audit trail verified"))
        << run.out;
    const std::string marker = "created lead ";
    const size_t at = run.out.find(marker);
    ASSERT_NE(at, std::string::npos) << run.out;
    const std::string lead_id = run.out.substr(at + marker.size(), 32);
    ASSERT_EQ(lead_id.size(), 32u) << run.out;
    for (char c : lead_id) ASSERT_TRUE(absl::ascii_isxdigit(c)) << run.out;

    // The client's export, its key and its trusted checkpoint: new 0600 files
    // that the C++ verifier accepts, the key being the daemon's.
    for (const std::string& file : {export_file, export_file + ".pub", export_file + ".trusted"}) {
      struct stat st;
      ASSERT_EQ(::stat(file.c_str(), &st), 0) << file;
      EXPECT_EQ(st.st_mode & 0777, 0600u) << file;
    }
    ProgramRun pub =
        Ctl({"--token-file", Path("compliance.token"), "audit", "pubkey"}, Path("ctl-pubkey"));
    ASSERT_EQ(pub.exit_code, 0) << pub.err;
    EXPECT_EQ(absl::StripAsciiWhitespace(ReadFile(export_file + ".pub")),
              absl::StripAsciiWhitespace(pub.out));
    ProgramRun verified = Ctl({"audit", "verify", export_file, "--pubkey", export_file + ".pub",
                               "--trusted", export_file + ".trusted"},
                              Path("ctl-verify-client-export"));
    EXPECT_EQ(verified.exit_code, 0) << verified.err;
    EXPECT_TRUE(absl::StrContains(verified.out, "consistent with the trusted checkpoint"))
        << verified.out;
    bool own_export_entry = false;
    for (const ExportedEntry& e : EntriesOf(export_file)) {
      own_export_entry = own_export_entry || (e.action == "ExportAudit" && e.role == "compliance");
    }
    EXPECT_TRUE(own_export_entry) << "the client's export lacks its own ExportAudit entry";

    // The log's entries naming the lead, exported by leadvaultctl: exactly
    // the flow's steps, then this export.
    const std::string lead_export = Path("lead.jsonl");
    ProgramRun exported = Ctl({"--token-file", Path("compliance.token"), "audit", "export",
                               "--lead", lead_id, "-o", lead_export},
                              Path("ctl-export-lead"));
    ASSERT_EQ(exported.exit_code, 0) << exported.err;
    ProgramRun lead_verified =
        Ctl({"audit", "verify", lead_export, "--pubkey", export_file + ".pub"},
            Path("ctl-verify-lead"));
    EXPECT_EQ(lead_verified.exit_code, 0) << lead_verified.err;
    struct Expected {
      const char* action;
      const char* outcome;
      const char* role;
      const char* purpose;
      int code;
      std::vector<std::string> some_fields;  // field names (never values) it must list
    };
    const std::vector<Expected> expected = {
        {"CreateLead", "allowed", "capture", "", 0, {"email"}},
        {"ListQueue", "allowed", "intake", "", 0, {}},
        {"GetLead",
         "allowed",
         "intake",
         "scheduling_outreach",
         0,
         {"outreach:email/scheduling", "email"}},
        {"UpdateLead", "allowed", "intake", "", 0, {"status", "contact_attempts"}},
        {"UpdateLead", "failed", "intake", "", 10, {}},  // the stale version: ABORTED
        {"ExportAudit", "allowed", "compliance", "", 0, {}},
    };
    const std::vector<ExportedEntry> entries = EntriesOf(lead_export);
    ASSERT_EQ(entries.size(), expected.size()) << ReadFile(lead_export);
    for (size_t i = 0; i < expected.size(); ++i) {
      SCOPED_TRACE(absl::StrCat("entry ", i, " (", expected[i].action, ")"));
      EXPECT_EQ(entries[i].action, expected[i].action);
      EXPECT_EQ(entries[i].outcome, expected[i].outcome);
      EXPECT_EQ(entries[i].role, expected[i].role);
      EXPECT_EQ(entries[i].purpose, expected[i].purpose);
      EXPECT_EQ(entries[i].code, expected[i].code);
      EXPECT_THAT(entries[i].lead_ids, ::testing::Contains(lead_id));
      for (const std::string& field : expected[i].some_fields) {
        EXPECT_THAT(entries[i].fields, ::testing::Contains(field));
      }
    }
  }

  // The client with `args`, the "NAME=value" strings of `env` set, its output
  // in `log`.stdout and .stderr under the scratch dir.
  virtual ProgramRun RunFlow(const std::vector<std::string>& args, std::vector<std::string> env,
                             const std::string& log) = 0;

  // The whole flow in plaintext, the server named by --server (the
  // environment's LEADVAULT_SERVER and LEADVAULT_CA cleared); its run.
  ProgramRun ExpectFlowInPlaintext() {
    auto daemon = StartWithPrincipals(/*tls=*/false);
    EXPECT_FALSE(address_.empty());
    if (address_.empty()) return {};
    std::vector<std::string> args = {"--server", address_};
    const std::vector<std::string> rest = TokenAndExportArgs(Path("flow.jsonl"));
    args.insert(args.end(), rest.begin(), rest.end());
    ProgramRun run = RunFlow(args, {"LEADVAULT_SERVER=", "LEADVAULT_CA="}, "flow");
    ExpectFlowAudited(run, Path("flow.jsonl"));
    EXPECT_TRUE(absl::StrContains(run.out, "(plaintext)")) << run.out;
    ExpectNoPersonalData(run);
    EXPECT_EQ(Stop(*daemon), 0);
    return run;
  }

  // The whole flow over mutual TLS, the server and the CA named by
  // LEADVAULT_SERVER and LEADVAULT_CA; its run.
  ProgramRun ExpectFlowOverMutualTls() {
    auto daemon = StartWithPrincipals(/*tls=*/true);
    EXPECT_FALSE(address_.empty());
    if (daemon == nullptr || address_.empty()) return {};
    std::vector<std::string> args = {"--cert", Path("client.pem"), "--key", Path("client.key")};
    const std::vector<std::string> rest = TokenAndExportArgs(Path("flow.jsonl"));
    args.insert(args.end(), rest.begin(), rest.end());
    ProgramRun run =
        RunFlow(args, {"LEADVAULT_SERVER=" + address_, "LEADVAULT_CA=" + Path("ca.pem")}, "flow");
    ExpectFlowAudited(run, Path("flow.jsonl"));
    EXPECT_TRUE(absl::StrContains(run.out, "(mutual TLS)")) << run.out;
    ExpectNoPersonalData(run);
    EXPECT_EQ(Stop(*daemon), 0);
    return run;
  }

  // A step that fails is exit 1 naming it, with no export left behind; a
  // token file others may read is refused before any call, exit 2.
  void ExpectFailuresExitNonzero() {
    // The intake desk serves another service line: the lead is not in its queue.
    auto daemon = StartWithPrincipals(/*tls=*/false, /*intake_line=*/"cardiology");
    ASSERT_FALSE(address_.empty());
    std::vector<std::string> args = {"--server", address_};
    const std::vector<std::string> rest = TokenAndExportArgs(Path("flow.jsonl"));
    args.insert(args.end(), rest.begin(), rest.end());
    ProgramRun run = RunFlow(args, {"LEADVAULT_CA="}, "flow");
    EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
    EXPECT_TRUE(absl::StrContains(run.err, "FAILED after step 2: ListQueue: lead ")) << run.err;
    EXPECT_FALSE(Exists(Path("flow.jsonl")));
    ExpectNoPersonalData(run);

    ASSERT_EQ(::chmod(Path("intake.token").c_str(), 0644), 0);
    run = RunFlow(args, {"LEADVAULT_CA="}, "flow-open-token");
    EXPECT_EQ(run.exit_code, 2) << run.out << run.err;
    EXPECT_TRUE(absl::StrContains(run.err, "is accessible by group or others")) << run.err;
    EXPECT_EQ(Stop(*daemon), 0);
  }

  // No personal value in what a client printed.
  static void ExpectNoPersonalData(const ProgramRun& run) {
    for (const char* value : kDemoPersonalValues) {
      EXPECT_FALSE(absl::StrContains(run.out, value)) << value << " in:\n" << run.out;
      EXPECT_FALSE(absl::StrContains(run.err, value)) << value << " in:\n" << run.err;
    }
  }

  bool tls_ = false;

 private:
  // Runs `command` in the scratch dir through the shell, bounded by
  // timeout(1), its output appended to openssl.log; its exit code.
  int Shell(const std::string& command) const {
    const std::string line =
        absl::StrCat("cd '", dir_.path(), "' && timeout 60 ", command, " >>openssl.log 2>&1");
    const int status = std::system(line.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // A test CA, the daemon's certificate for 127.0.0.1 and a client's, each
  // key mode 0600.
  void MakeCertificates() {
    WriteFileWithMode(Path("openssl.cnf"), kTestOpensslConfig, 0600);
    const auto new_key = [](const std::string& name) {
      return absl::StrCat("-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ", name,
                          ".key");
    };
    ASSERT_EQ(Shell(absl::StrCat("openssl req -x509 -config openssl.cnf -extensions ca_ext ",
                                 new_key("ca"), " -out ca.pem -days 2 -subj '/CN=flow test CA'")),
              0)
        << ReadFile(Path("openssl.log"));
    int serial = 0;
    for (const auto& [name, extensions] : std::vector<std::pair<std::string, std::string>>{
             {"server", "server_ext"}, {"client", "client_ext"}}) {
      ASSERT_EQ(Shell(absl::StrCat("openssl req -new -config openssl.cnf ", new_key(name), " -out ",
                                   name, ".csr -subj '/CN=", name, "'")),
                0)
          << ReadFile(Path("openssl.log"));
      ASSERT_EQ(Shell(absl::StrCat("openssl x509 -req -in ", name, ".csr -CA ca.pem -CAkey ca.key",
                                   " -set_serial ", ++serial, " -days 2 -extfile openssl.cnf",
                                   " -extensions ", extensions, " -out ", name, ".pem")),
                0)
          << ReadFile(Path("openssl.log"));
    }
    for (const char* key : {"ca.key", "server.key", "client.key"}) {
      ASSERT_EQ(::chmod(Path(key).c_str(), 0600), 0) << key;
    }
  }
};

}  // namespace leadvault::e2e

#endif  // LEADVAULT_TESTS_EXAMPLES_FLOW_FIXTURE_H_
