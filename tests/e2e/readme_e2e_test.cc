// The README's command blocks marked `<!-- readme-test: run -->`, and the
// commands the first start prints, run as written against a real leadvaultd:
// so the documentation cannot drift from the product.
//
// One bash process runs every command in turn (variables such as $ctl carry
// over). The placeholders a reader fills in from an earlier command's output
// (LEAD_ID, PRINCIPAL_ID, GRANT_ID, HOLD_ID) are filled in the same way: from
// the last `lead_id:` / `principal_id:` line, `grant ID` / `hold ID` line
// printed. The README's default address and `lv_...` token become the test
// daemon's.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/e2e_fixture.h"
#include "tests/e2e/ops_http_client.h"

namespace leadvault::e2e {
namespace {

constexpr char kReadmeMarker[] = "<!-- readme-test: run -->";

struct Command {
  int line = 0;  // in its source, 1-based
  std::string text;
};

// The commands of `script` (lines of shell): a line ending in `\` or `|`
// continues, a heredoc runs to its delimiter; blank and comment-only lines
// between commands are dropped.
std::vector<Command> SplitCommands(const std::vector<std::string>& lines, int first_line) {
  static const std::regex kHeredoc(R"(<<-?\s*'?([A-Za-z_]+)'?)");
  std::vector<Command> commands;
  Command current;
  std::string heredoc_end;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (!heredoc_end.empty()) {
      absl::StrAppend(&current.text, line, "\n");
      if (line == heredoc_end) heredoc_end.clear();
    } else {
      const absl::string_view stripped = absl::StripAsciiWhitespace(line);
      if (current.text.empty() && (stripped.empty() || absl::StartsWith(stripped, "#"))) continue;
      if (current.text.empty()) current.line = first_line + static_cast<int>(i);
      absl::StrAppend(&current.text, line, "\n");
      std::smatch heredoc;
      if (std::regex_search(line, heredoc, kHeredoc)) heredoc_end = heredoc[1];
    }
    const absl::string_view end = absl::StripTrailingAsciiWhitespace(line);
    if (heredoc_end.empty() && !absl::EndsWith(end, "\\") && !absl::EndsWith(end, "|")) {
      commands.push_back(current);
      current = Command();
    }
  }
  EXPECT_TRUE(current.text.empty()) << "an unfinished command at line " << current.line;
  return commands;
}

// The commands of every marked ```sh block of `readme`.
std::vector<Command> MarkedCommands(const std::string& readme) {
  std::vector<std::string> lines = absl::StrSplit(readme, '\n');
  std::vector<Command> commands;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i] != kReadmeMarker) continue;
    EXPECT_LT(i + 1, lines.size());
    EXPECT_EQ(lines[i + 1], "```sh") << "README line " << i + 2 << ": a marked block is ```sh";
    size_t end = i + 2;
    while (end < lines.size() && lines[end] != "```") ++end;
    std::vector<std::string> block(lines.begin() + static_cast<long>(i) + 2,
                                   lines.begin() + static_cast<long>(end));
    std::vector<Command> split = SplitCommands(block, static_cast<int>(i) + 3);
    commands.insert(commands.end(), split.begin(), split.end());
    i = end;
  }
  return commands;
}

// One bash process, fed one command at a time.
class Shell {
 public:
  Shell(const std::string& dir, const std::vector<std::string>& env) : dir_(dir) {
    int in[2], out[2];
    EXPECT_EQ(::pipe(in), 0);
    EXPECT_EQ(::pipe(out), 0);
    std::vector<std::string> envs = env;
    std::vector<char*> envp;
    for (auto& e : envs) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      if (::dup2(in[0], 0) < 0 || ::dup2(out[1], 1) < 0 || ::chdir(dir.c_str()) != 0) {
        ::_exit(127);
      }
      ::close(in[1]);
      ::close(out[0]);
      char bash[] = "/bin/bash";
      char norc[] = "--norc";
      char noprofile[] = "--noprofile";
      char* argv[] = {bash, noprofile, norc, nullptr};
      ::execve(bash, argv, envp.data());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    to_ = ::fdopen(in[1], "w");
    from_ = ::fdopen(out[0], "r");
    Send("set -o pipefail\n");
  }
  ~Shell() {
    if (to_ != nullptr) std::fclose(to_);
    if (from_ != nullptr) std::fclose(from_);
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  // Runs `command`; its exit code, its stdout and stderr in `out`, `err`.
  int Run(const std::string& command, std::string* out, std::string* err) {
    const std::string out_path = dir_ + "/.command.stdout", err_path = dir_ + "/.command.stderr";
    Send(absl::StrCat("{\n", command, "} >", out_path, " 2>", err_path,
                      " </dev/null; echo \"__rc=$?\"\n"));
    char buffer[256];
    int rc = -1;
    while (std::fgets(buffer, sizeof(buffer), from_) != nullptr) {
      if (std::sscanf(buffer, "__rc=%d", &rc) == 1) break;
    }
    *out = ReadFile(out_path);
    *err = ReadFile(err_path);
    return rc;
  }

 private:
  void Send(const std::string& text) {
    std::fputs(text.c_str(), to_);
    std::fflush(to_);
  }

  std::string dir_;
  pid_t pid_ = -1;
  FILE* to_ = nullptr;
  FILE* from_ = nullptr;
};

class ReadmeTest : public E2eTest {
 protected:
  // Runs `commands` of `source` in `shell`, filling in placeholders; stops at
  // the first failure.
  void RunAll(Shell& shell, const std::vector<Command>& commands, const std::string& source) {
    static const std::regex kId(R"(^(lead_id|principal_id): ([0-9a-f]+)$)");
    static const std::regex kListed(R"(^(grant|hold) ([0-9a-f]+) )");
    for (const Command& command : commands) {
      std::string text = absl::StrReplaceAll(command.text, {{"127.0.0.1:7443", address_},
                                                            {"127.0.0.1:7444", ops_address_},
                                                            {"lv_...", admin_token_}});
      for (const auto& [name, value] : filled_) {
        text = absl::StrReplaceAll(text, {{name, value}});
      }
      for (const char* placeholder : {"LEAD_ID", "PRINCIPAL_ID", "GRANT_ID", "HOLD_ID"}) {
        ASSERT_FALSE(absl::StrContains(text, placeholder))
            << source << " line " << command.line << ": " << placeholder
            << " is not printed by any command before it";
      }
      std::string out, err;
      const int rc = shell.Run(text, &out, &err);
      ASSERT_EQ(rc, 0) << source << " line " << command.line << " failed:\n"
                       << command.text << "stdout:\n"
                       << out << "stderr:\n"
                       << err;
      ++ran_;
      for (absl::string_view view : absl::StrSplit(out, '\n')) {
        const std::string line(view);
        std::smatch match;
        if (std::regex_search(line, match, kId)) {
          filled_[absl::AsciiStrToUpper(match[1].str())] = match[2];
        } else if (std::regex_search(line, match, kListed)) {
          filled_[absl::StrCat(absl::AsciiStrToUpper(match[1].str()), "_ID")] = match[2];
        }
      }
    }
  }

  std::string admin_token_;
  std::string ops_address_;  // the operations listener (README: 127.0.0.1:7444)
  std::map<std::string, std::string> filled_;
  int ran_ = 0;
};

TEST_F(ReadmeTest, FirstStartDemoThenEveryMarkedReadmeBlockRunsAsWritten) {
  // The daemon as scripts/run.sh starts it: its data dir ./leadvault-data,
  // the admin token printed once, with the demo commands.
  const std::string work = Path("work");
  ASSERT_TRUE(fs::create_directories(work + "/build/tools"));
  fs::create_symlink(LEADVAULTCTL_PATH, work + "/build/tools/leadvaultctl");
  // With the HTTP capture endpoint on, for the README's webhook example.
  Daemon daemon({"--data-dir", work + "/leadvault-data", "--listen", "127.0.0.1:0", "--ready-file",
                 Path("run.ready"), "--metrics-listen", "127.0.0.1:0", "--http-capture"},
                Path("run"));
  address_ = daemon.WaitReady(Path("run.ready"));
  ASSERT_FALSE(address_.empty());
  const int ops_port = OpsPort(daemon.err());
  ASSERT_GT(ops_port, 0) << daemon.err();
  ops_address_ = absl::StrCat("127.0.0.1:", ops_port);

  // The first start's advice, after "Try it": the export, then each command.
  std::vector<Command> demo;
  static const std::regex kExport(R"(\n  (export LEADVAULT_TOKEN=(lv_[0-9a-f_]+))\n)");
  const std::string first_start = daemon.out();
  std::smatch exported;
  ASSERT_TRUE(std::regex_search(first_start, exported, kExport)) << first_start;
  admin_token_ = exported[2];
  demo.push_back({0, exported[1].str() + "\n"});
  bool advice = false;
  for (absl::string_view line : absl::StrSplit(daemon.out(), '\n')) {
    if (absl::StartsWith(line, "Try it")) advice = true;
    if (advice &&
        (absl::StartsWith(line, "  build/tools/") || absl::StartsWith(line, "  export"))) {
      demo.push_back({static_cast<int>(demo.size()), absl::StrCat(line.substr(2), "\n")});
    }
  }
  ASSERT_GE(demo.size(), 4u) << daemon.out();

  const std::string path =
      absl::StrCat(fs::path(LEADVAULTCTL_PATH).parent_path().string(), ":",
                   getenv("PATH") != nullptr ? getenv("PATH") : "/usr/bin:/bin");
  Shell shell(work, {"PATH=" + path, "HOME=" + work, "LANG=C.UTF-8"});
  RunAll(shell, demo, "the first start's demo");
  if (HasFatalFailure()) return;
  EXPECT_TRUE(filled_.contains("LEAD_ID")) << "the demo created no lead";
  filled_.clear();

  const std::vector<Command> readme = MarkedCommands(ReadFile(README_PATH));
  ASSERT_GE(readme.size(), 40u) << "the README's marked blocks are missing";
  RunAll(shell, readme, "README.md");
  if (HasFatalFailure()) return;
  EXPECT_EQ(ran_, static_cast<int>(demo.size() + readme.size()));
  EXPECT_EQ(Stop(daemon), 0);
}

// `--token-out` (the README's way to hand tokens over): a new 0600 file, the
// token on no stream; an existing file is refused and never overwritten.
TEST_F(ReadmeTest, TokenOutWritesANewPrivateFileAndPrintsNoToken) {
  auto daemon = Start("run");
  ASSERT_FALSE(address_.empty());
  const std::string admin = AdminToken("run");
  const std::string token_file = Path("intake.token");
  std::string out, err;
  ASSERT_EQ(RunProgram("/usr/bin/env",
                       {"LEADVAULT_TOKEN=" + admin, "LEADVAULT_SERVER=" + address_,
                        LEADVAULTCTL_PATH, "principal", "create", "--name", "Desk", "--role",
                        "intake", "--service-line", "cardiology", "--token-out", token_file},
                       Path("create"), &out, &err),
            0)
      << err;
  EXPECT_FALSE(absl::StrContains(out + err, "lv_")) << out << err;
  EXPECT_TRUE(absl::StrContains(out, "token: in " + token_file + " (mode 0600)")) << out;
  struct stat st;
  ASSERT_EQ(::stat(token_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  const std::string token(absl::StripAsciiWhitespace(ReadFile(token_file)));
  ASSERT_TRUE(absl::StartsWith(token, "lv_"));
  // The token authenticates: an intake principal is refused the admin call, not unknown.
  ASSERT_EQ(RunProgram(LEADVAULTCTL_PATH,
                       {"--server", address_, "--token-file", token_file, "principal", "list"},
                       Path("list"), &out, &err),
            1);
  EXPECT_TRUE(absl::StrContains(err, "PERMISSION_DENIED")) << err;  // authenticated, not admin

  // Rotating into the same file: refused, the file untouched, no token shown.
  const std::string principal_id = token.substr(3, 16);
  ASSERT_EQ(RunProgram("/usr/bin/env",
                       {"LEADVAULT_TOKEN=" + admin, LEADVAULTCTL_PATH, "--server", address_,
                        "principal", "rotate", principal_id, "--token-out", token_file},
                       Path("rotate"), &out, &err),
            1);
  EXPECT_FALSE(absl::StrContains(out + err, "lv_")) << out << err;
  EXPECT_TRUE(absl::StrContains(err, "principal rotate ID --token-out FILE")) << err;
  EXPECT_EQ(std::string(absl::StripAsciiWhitespace(ReadFile(token_file))), token);
  EXPECT_EQ(Stop(*daemon), 0);
}

// `lead queue` and `lead update`: an intake desk works its queue from the CLI.
TEST_F(ReadmeTest, IntakeDeskWorksItsQueueFromTheCli) {
  auto daemon = Start("run");
  ASSERT_FALSE(address_.empty());
  const std::string token = NewWorker(AdminToken("run"));  // capture + intake, cardiology
  const std::string id = CreateLead(token, SimpleLead("queue-1", "q1@example.com"));
  ASSERT_FALSE(id.empty());
  auto ctl = [&](std::vector<std::string> args, std::string* out, std::string* err) {
    args.insert(args.begin(),
                {"LEADVAULT_TOKEN=" + token, "LEADVAULT_SERVER=" + address_, LEADVAULTCTL_PATH});
    return RunProgram("/usr/bin/env", args, Path("ctl"), out, err);
  };
  std::string out, err;
  ASSERT_EQ(ctl({"lead", "queue", "--service-line", "cardiology"}, &out, &err), 0) << err;
  EXPECT_TRUE(absl::StartsWith(out, "LEAD_ID")) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex(id + R"(\s+new\s+1\s+\d{4}-\d\d-\d\dT)"))) << out;
  EXPECT_TRUE(absl::StrContains(err, "1 leads")) << err;
  EXPECT_FALSE(absl::StrContains(out, "q1@example.com")) << "a queue holds no personal data";
  // Pages: two more leads, pages of two. --json names the next page; --all
  // follows every page into one document.
  const std::string second = CreateLead(token, SimpleLead("queue-2", "q2@example.com"));
  const std::string third = CreateLead(token, SimpleLead("queue-3", "q3@example.com"));
  ASSERT_EQ(ctl({"lead", "queue", "--service-line", "cardiology", "--page-size", "2", "--json"},
                &out, &err),
            0)
      << err;
  nlohmann::json page = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(page.is_discarded()) << out;
  ASSERT_EQ(page["leads"].size(), 2u) << out;
  EXPECT_EQ(page["leads"][0]["lead_id"], id);  // oldest first
  EXPECT_EQ(page["leads"][1]["lead_id"], second);
  ASSERT_TRUE(page.contains("next_page_token")) << out;
  ASSERT_EQ(ctl({"lead", "queue", "--service-line", "cardiology", "--page-size", "2",
                 "--page-token", page["next_page_token"].get<std::string>(), "--json"},
                &out, &err),
            0)
      << err;
  page = nlohmann::json::parse(out, nullptr, false);
  ASSERT_EQ(page["leads"].size(), 1u) << out;
  EXPECT_EQ(page["leads"][0]["lead_id"], third);
  EXPECT_FALSE(page.contains("next_page_token")) << out;
  ASSERT_EQ(
      ctl({"lead", "queue", "--service-line", "cardiology", "--page-size", "2", "--all", "--json"},
          &out, &err),
      0)
      << err;
  nlohmann::json all = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(all.is_discarded()) << out;
  ASSERT_EQ(all["leads"].size(), 3u) << out;
  EXPECT_EQ(all["leads"][2]["lead_id"], third);
  EXPECT_EQ(all["leads"][0]["version"], "1");  // uint64 in proto JSON
  EXPECT_FALSE(all.contains("next_page_token"));
  EXPECT_FALSE(absl::StrContains(out, "example.com")) << "a queue holds no personal data";
  // The table without --all names the next page on stderr.
  ASSERT_EQ(ctl({"lead", "queue", "--service-line", "cardiology", "--page-size", "2"}, &out, &err),
            0);
  EXPECT_TRUE(absl::StrContains(err, "more leads wait: --page-token ")) << err;
  // LEADVAULT_CA stands for --ca: a CA file that does not exist is named.
  ASSERT_NE(RunProgram("/usr/bin/env",
                       {"LEADVAULT_TOKEN=" + token, "LEADVAULT_SERVER=" + address_,
                        "LEADVAULT_CA=" + Path("no-such-ca.pem"), LEADVAULTCTL_PATH, "lead",
                        "queue", "--service-line", "cardiology"},
                       Path("ca"), &out, &err),
            0);
  EXPECT_TRUE(absl::StrContains(err, "no-such-ca.pem")) << err;

  // A stale version: refused, with what to do.
  ASSERT_EQ(
      ctl({"lead", "update", id, "--expected-version", "7", "--status", "contacted"}, &out, &err),
      1);
  EXPECT_TRUE(absl::StrContains(err, "ABORTED")) << err;
  EXPECT_TRUE(absl::StrContains(err, "list the queue again")) << err;
  // A bad attempt spec is a usage error, sent nowhere.
  EXPECT_EQ(ctl({"lead", "update", id, "--expected-version", "1", "--attempt", "pigeon:lost"}, &out,
                &err),
            2);
  EXPECT_TRUE(absl::StrContains(err, "--attempt: CHANNEL:OUTCOME")) << err;
  ASSERT_EQ(
      ctl({"lead", "update", id, "--expected-version", "1", "--status", "contacted"}, &out, &err),
      0)
      << err;
  EXPECT_TRUE(absl::StrContains(out, "status: contacted\nversion: 2\n")) << out;
  ASSERT_EQ(ctl({"lead", "queue", "--service-line", "cardiology"}, &out, &err), 0) << err;
  EXPECT_FALSE(absl::StrContains(out, id)) << "it left the queue of new leads";
  ASSERT_EQ(
      ctl({"lead", "queue", "--service-line", "cardiology", "--status", "contacted"}, &out, &err),
      0)
      << err;
  EXPECT_TRUE(absl::StrContains(out, id)) << out;
  EXPECT_EQ(Stop(*daemon), 0);
}

// The harness itself: continuations, pipes and heredocs make one command each.
TEST_F(ReadmeTest, IntakeDeskAmendsALeadAndReadsItsHistoryFromTheCli) {
  auto daemon = Start("run");
  ASSERT_FALSE(address_.empty());
  const std::string token = NewWorker(AdminToken("run"));  // capture + intake, cardiology
  const std::string id = CreateLead(token, SimpleLead("amend-1", "amend.me@example.com"));
  ASSERT_FALSE(id.empty());
  auto ctl = [&](std::vector<std::string> args, std::string* out, std::string* err) {
    args.insert(args.begin(),
                {"LEADVAULT_TOKEN=" + token, "LEADVAULT_SERVER=" + address_, LEADVAULTCTL_PATH});
    return RunProgram("/usr/bin/env", args, Path("ctl"), out, err);
  };
  WriteFileWithMode(Path("values.json"), R"({"email": "amended@example.com", "city": "Boston"})",
                    0600);
  WriteFileWithMode(Path("reason.txt"), "patient called: the address had a typo", 0600);
  std::string out, err;
  ASSERT_EQ(ctl({"lead", "amend", id, "--expected-version", "1", "--purpose", "patient_request",
                 "--values-file", Path("values.json"), "--reason-file", Path("reason.txt")},
                &out, &err),
            0)
      << err;
  EXPECT_TRUE(absl::StrContains(out, "amended")) << out;
  EXPECT_TRUE(absl::StrContains(out, "email, city")) << out;
  EXPECT_FALSE(absl::StrContains(out, "amended@example.com")) << "the reply echoes no value";
  // A stale version names the fix; a bad field is a usage error.
  EXPECT_EQ(ctl({"lead", "amend", id, "--expected-version", "1", "--purpose", "operations",
                 "--clear", "city", "--reason", "remove the city, asked"},
                &out, &err),
            1);
  EXPECT_TRUE(absl::StrContains(err, "read it again")) << err;
  EXPECT_EQ(ctl({"lead", "amend", id, "--expected-version", "2", "--purpose", "operations",
                 "--clear", "shoe_size", "--reason", "remove the city, asked"},
                &out, &err),
            2);
  // The history, in clear for intake, as a table and as JSON.
  ASSERT_EQ(ctl({"lead", "history", id, "--purpose", "operations"}, &out, &err), 0) << err;
  EXPECT_TRUE(absl::StrContains(out, "amendment 1")) << out;
  EXPECT_TRUE(absl::StrContains(out, "was amend.me@example.com")) << out;
  EXPECT_TRUE(absl::StrContains(out, "patient called: the address had a typo")) << out;
  ASSERT_EQ(ctl({"lead", "history", id, "--purpose", "operations", "--json"}, &out, &err), 0)
      << err;
  nlohmann::json history = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(history.is_discarded()) << out;
  ASSERT_EQ(history["amendments"].size(), 1u) << out;
  EXPECT_EQ(history["amendments"][0]["changes"][0]["field"], "PERSONAL_FIELD_EMAIL");
  EXPECT_EQ(history["amendments"][0]["changes"][0]["previous"], "amend.me@example.com");
}

TEST(ReadmeHarnessTest, SplitsCommandsAsTheShellReadsThem) {
  const std::vector<std::string> lines = {"# a comment", "a --x \\", "    --y",       "",
                                          "echo hi |",   "    b",    "cat > f <<'P'", "x: 1",
                                          "# kept",      "P",        "c  # trailing"};
  std::vector<Command> commands = SplitCommands(lines, 10);
  ASSERT_EQ(commands.size(), 4u);
  EXPECT_EQ(commands[0].line, 11);
  EXPECT_EQ(commands[0].text, "a --x \\\n    --y\n");
  EXPECT_EQ(commands[1].text, "echo hi |\n    b\n");
  EXPECT_EQ(commands[2].text, "cat > f <<'P'\nx: 1\n# kept\nP\n");
  EXPECT_EQ(commands[3].line, 20);
}

}  // namespace
}  // namespace leadvault::e2e
