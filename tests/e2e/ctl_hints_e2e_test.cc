// leadvaultctl's failures name their fix, against the real leadvaultd: no
// daemon at the address, a URL for --server, TLS on one side only, a refused
// token and the throttle after it; every --help states the exit codes; and
// `completion bash` prints a script bash accepts and completes with.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <regex>

#include "absl/strings/str_join.h"
#include "tests/e2e/e2e_fixture.h"

#ifndef LEADVAULTCTL_PATH
#error "LEADVAULTCTL_PATH must be defined by the build"
#endif

namespace leadvault::e2e {
namespace {

constexpr char kFakeToken[] = "lv_0123456789abcdef_notarealsecretatall";

class CtlHintsTest : public E2eTest {
 protected:
  // leadvaultctl with `args` and the extra environment `env`; its exit code.
  int Ctl(std::vector<std::string> args, std::string* err, std::vector<std::string> env = {},
          std::string* out = nullptr) {
    std::string ignored;
    args.insert(args.begin(), LEADVAULTCTL_PATH);
    args.insert(args.begin(), env.begin(), env.end());
    return RunProgram("/usr/bin/env", args, Path(absl::StrCat("ctl", ++runs_)),
                      out == nullptr ? &ignored : out, err);
  }

  // A port on 127.0.0.1 nothing listens on: bound, read and closed again.
  static int FreePort() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_GE(fd, 0);
    sockaddr_in address = {};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
    ::close(fd);
    return ntohs(address.sin_port);
  }

  // ca.pem and server.pem/server.key (for 127.0.0.1) in the scratch dir, by openssl(1).
  void MakeCertificates() {
    WriteFileWithMode(Path("openssl.cnf"), kTestOpensslConfig, 0600);
    const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    const std::string script = absl::StrCat(
        "cd '", dir_.path(), "' && timeout 60 sh -c '",
        "openssl req -x509 -config openssl.cnf -extensions ca_ext ", key,
        " -keyout ca.key -out ca.pem -days 2 -subj /CN=hints-ca",
        " && openssl req -new -config openssl.cnf ", key,
        " -keyout server.key -out server.csr -subj /CN=localhost",
        " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 7 -days 2",
        " -extfile openssl.cnf -extensions server_ext -out server.pem",
        " && chmod 600 ca.key server.key' >openssl.log 2>&1");
    ASSERT_EQ(std::system(script.c_str()), 0) << ReadFile(Path("openssl.log"));
  }

  int runs_ = 0;
};

TEST_F(CtlHintsTest, NoDaemonAtTheAddressNamesTheAddressAndTheFlags) {
  const std::string server = absl::StrCat("127.0.0.1:", FreePort());
  std::string err;
  ASSERT_EQ(Ctl({"--server", server, "principal", "list"}, &err,
                {std::string("LEADVAULT_TOKEN=") + kFakeToken}),
            1);
  EXPECT_TRUE(absl::StrContains(err, "UNAVAILABLE")) << err;
  EXPECT_TRUE(
      absl::StrContains(err, absl::StrCat("leadvaultctl: no leadvaultd answering at ", server,
                                          " (is it running? --server / LEADVAULT_SERVER)")))
      << err;
  // The same through LEADVAULT_SERVER.
  ASSERT_EQ(Ctl({"lead", "queue", "--service-line", "cardiology"}, &err,
                {std::string("LEADVAULT_TOKEN=") + kFakeToken, "LEADVAULT_SERVER=" + server}),
            1);
  EXPECT_TRUE(absl::StrContains(err, "no leadvaultd answering at " + server)) << err;
  EXPECT_FALSE(absl::StrContains(err, kFakeToken)) << err;
}

TEST_F(CtlHintsTest, AUrlOrAPathForServerIsAUsageErrorBeforeAnyToken) {
  std::string err;
  for (const char* url : {"https://127.0.0.1:7443", "http://localhost:7443"}) {
    EXPECT_EQ(Ctl({"--server", url, "principal", "list"}, &err), 2) << url;
    EXPECT_TRUE(absl::StrContains(err, "--server: give HOST:PORT (e.g. 127.0.0.1:7443), not a URL"))
        << err;
    EXPECT_FALSE(absl::StrContains(err, "no token")) << "refused before the token: " << err;
  }
  EXPECT_EQ(Ctl({"principal", "list"}, &err, {"LEADVAULT_SERVER=/run/leadvault.sock"}), 2);
  EXPECT_TRUE(absl::StrContains(err, "--server: give HOST:PORT (e.g. 127.0.0.1:7443), not a path"))
      << err;
  EXPECT_EQ(Ctl({"--server", "127.0.0.1", "principal", "list"}, &err), 2);
  EXPECT_TRUE(absl::StrContains(err, "--server: give HOST:PORT")) << err;
}

TEST_F(CtlHintsTest, APlaintextClientOfATlsDaemonIsToldToPassCa) {
  MakeCertificates();
  if (HasFatalFailure()) return;
  auto daemon = Start("tls", {"--tls-cert", Path("server.pem"), "--tls-key", Path("server.key")});
  ASSERT_FALSE(address_.empty());
  std::string err;
  ASSERT_EQ(Ctl({"--server", address_, "principal", "list"}, &err,
                {"LEADVAULT_TOKEN=" + AdminToken("tls")}),
            1);
  EXPECT_TRUE(absl::StrContains(err, "UNAVAILABLE")) << err;
  EXPECT_TRUE(absl::StrContains(
      err, absl::StrCat(address_,
                        " closed a plaintext connection: if leadvaultd there speaks "
                        "TLS, pass --ca FILE / LEADVAULT_CA")))
      << err;
  EXPECT_FALSE(absl::StrContains(err, AdminToken("tls"))) << err;
  // With the CA the same call goes through.
  ASSERT_EQ(Ctl({"--server", address_, "--ca", Path("ca.pem"), "principal", "list"}, &err,
                {"LEADVAULT_TOKEN=" + AdminToken("tls")}),
            0)
      << err;
  EXPECT_EQ(Stop(*daemon), 0);
}

TEST_F(CtlHintsTest, ATlsClientOfAPlaintextDaemonIsToldToDropCa) {
  MakeCertificates();
  if (HasFatalFailure()) return;
  auto daemon = Start("plain");
  ASSERT_FALSE(address_.empty());
  std::string err;
  ASSERT_EQ(Ctl({"--server", address_, "principal", "list"}, &err,
                {"LEADVAULT_TOKEN=" + AdminToken("plain"), "LEADVAULT_CA=" + Path("ca.pem")}),
            1);
  EXPECT_TRUE(absl::StrContains(err, "UNAVAILABLE")) << err;
  EXPECT_TRUE(absl::StrContains(err, "wrong version number")) << "gRPC's own text: " << err;
  EXPECT_TRUE(absl::StrContains(
      err, absl::StrCat(address_,
                        " does not speak TLS (a plaintext leadvaultd?): drop --ca / "
                        "LEADVAULT_CA")))
      << err;
  EXPECT_FALSE(absl::StrContains(err, AdminToken("plain"))) << err;
  EXPECT_EQ(Stop(*daemon), 0);
}

TEST_F(CtlHintsTest, ARefusedTokenNamesItsSourceThenTheThrottleSaysWhenToRetry) {
  auto daemon = Start("run", {"--auth-free-failures", "2"});
  ASSERT_FALSE(address_.empty());
  WriteFileWithMode(Path("stale.token"), std::string(kFakeToken) + "\n", 0600);
  std::string err;
  ASSERT_EQ(
      Ctl({"--server", address_, "--token-file", Path("stale.token"), "principal", "list"}, &err),
      1);
  EXPECT_TRUE(absl::StrContains(err, "UNAUTHENTICATED")) << err;
  EXPECT_TRUE(absl::StrContains(
      err, "the token from --token-file " + Path("stale.token") + " was refused: tokens expire"))
      << err;
  EXPECT_TRUE(absl::StrContains(err, "rotated")) << err;
  EXPECT_TRUE(absl::StrContains(err, "LEADVAULT_TOKEN")) << err;
  EXPECT_FALSE(absl::StrContains(err, kFakeToken)) << err;
  ASSERT_EQ(Ctl({"--server", address_, "principal", "list"}, &err,
                {std::string("LEADVAULT_TOKEN=") + kFakeToken}),
            1);
  EXPECT_TRUE(absl::StrContains(err, "the token from LEADVAULT_TOKEN was refused")) << err;

  // Each refusal past the two free ones backs the address off for longer (1 s, 2 s,
  // ...): a few calls in a row meet the back-off, RESOURCE_EXHAUSTED with its
  // ErrorInfo reason and RetryInfo delay.
  static const std::regex kThrottled(
      R"(RESOURCE_EXHAUSTED: too many failed authentications; retry later \[AUTH_THROTTLED\]; )"
      R"(retry in [0-9]+ s)");
  bool throttled = false;
  for (int i = 0; i < 10 && !throttled; ++i) {
    EXPECT_EQ(Ctl({"--server", address_, "principal", "list"}, &err,
                  {std::string("LEADVAULT_TOKEN=") + kFakeToken}),
              1);
    throttled = absl::StrContains(err, "RESOURCE_EXHAUSTED");
  }
  ASSERT_TRUE(throttled) << err;
  EXPECT_TRUE(std::regex_search(err, kThrottled)) << err;
  EXPECT_FALSE(absl::StrContains(err, kFakeToken)) << err;
  EXPECT_EQ(Stop(*daemon), 0);
}

TEST_F(CtlHintsTest, EveryHelpStatesTheExitCodes) {
  const std::string kExitCodes = "Exit codes: 0 ok; 1 the call failed";
  std::string out, err;
  for (std::vector<std::string> command :
       std::vector<std::vector<std::string>>{{},
                                             {"principal"},
                                             {"principal", "create"},
                                             {"lead", "get"},
                                             {"lead", "amend"},
                                             {"audit", "export"},
                                             {"completion"}}) {
    const std::string name = absl::StrJoin(command, " ");
    command.push_back("--help");
    ASSERT_EQ(Ctl(command, &err, {}, &out), 0) << name << ": " << err;
    EXPECT_TRUE(absl::StrContains(out, kExitCodes)) << name << ":\n" << out;
    EXPECT_TRUE(absl::StrContains(out, "2 usage")) << name << ":\n" << out;
  }
  // A command with a footer of its own keeps it, and the exit codes follow.
  ASSERT_EQ(Ctl({"lead", "create", "--help"}, &err, {}, &out), 0) << err;
  EXPECT_TRUE(absl::StrContains(out, "Pass real data with --from-json FILE")) << out;
  EXPECT_GT(out.find(kExitCodes), out.find("--from-json FILE")) << out;
  // One that states exit codes of its own keeps those alone.
  ASSERT_EQ(Ctl({"db", "verify", "--help"}, &err, {}, &out), 0) << err;
  EXPECT_TRUE(absl::StrContains(out, "Exit codes: 0 every checksum matched")) << out;
}

TEST_F(CtlHintsTest, BashCompletionIsValidAndCompletesCommandsOptionsAndChoices) {
  std::string script, err;
  ASSERT_EQ(Ctl({"completion", "bash"}, &err, {}, &script), 0) << err;
  WriteFileWithMode(Path("leadvaultctl.bash"), script, 0600);
  std::string out;
  ASSERT_EQ(RunProgram("/bin/bash", {"-n", Path("leadvaultctl.bash")}, Path("bash-n"), &out, &err),
            0)
      << err;

  // Sourced in bash: registered for leadvaultctl; the function run with
  // COMP_WORDS/COMP_CWORD as bash sets them, its COMPREPLY printed one a line.
  auto complete = [&](const std::string& words) {
    const std::string program =
        absl::StrCat("source '", Path("leadvaultctl.bash"), "' || exit 9\n",
                     "complete -p leadvaultctl || exit 8\n", "COMP_WORDS=(", words, ")\n",
                     "COMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n", "_leadvaultctl\n",
                     "printf 'reply:%s\\n' \"${COMPREPLY[@]}\"\n");
    std::string reply, bash_err;
    EXPECT_EQ(RunProgram("/bin/bash", {"-c", program}, Path("complete"), &reply, &bash_err), 0)
        << words << ": " << bash_err;
    return reply;
  };
  std::string reply = complete("leadvaultctl lea");
  EXPECT_TRUE(absl::StrContains(reply, "complete -F _leadvaultctl leadvaultctl")) << reply;
  EXPECT_TRUE(absl::StrContains(reply, "reply:lead\n")) << reply;
  EXPECT_FALSE(absl::StrContains(reply, "reply:init\n")) << reply;
  reply = complete("leadvaultctl lead am");
  EXPECT_TRUE(absl::StrContains(reply, "reply:amend\n")) << reply;
  // An option's value is skipped on the way down the tree.
  reply = complete("leadvaultctl --server 127.0.0.1:7443 principal cr");
  EXPECT_TRUE(absl::StrContains(reply, "reply:create\n")) << reply;
  // Options of the command and (fallthrough) of its parents; an option's choices.
  reply = complete("leadvaultctl lead get --pu");
  EXPECT_TRUE(absl::StrContains(reply, "reply:--purpose\n")) << reply;
  reply = complete("leadvaultctl lead get --tok");
  EXPECT_TRUE(absl::StrContains(reply, "reply:--token-file\n")) << reply;
  reply = complete("leadvaultctl lead get LEAD --purpose tr");
  EXPECT_TRUE(absl::StrContains(reply, "reply:treatment\n")) << reply;
}

}  // namespace
}  // namespace leadvault::e2e
