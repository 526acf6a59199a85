// Master-key rotation end to end: the operator adds a key to the key file,
// rotates, follows the re-wrap, retires the old version and drops it from the
// file; the daemon refuses to start without a version still in use, and no
// key byte reaches any output.
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/e2e/e2e_fixture.h"

#ifndef LEADVAULTCTL_PATH
#error "LEADVAULTCTL_PATH must be defined by the build"
#endif

namespace leadvault::e2e {
namespace {

class KeysE2eTest : public E2eTest {
 protected:
  // leadvaultctl with the token in `who`.token; its exit code.
  int Ctl(const std::string& who, std::vector<std::string> args, std::string* out,
          std::string* err) {
    args.insert(args.begin(), {"--server", address_, "--token-file", Path(who + ".token")});
    return RunProgram(LEADVAULTCTL_PATH, args, Path(absl::StrCat("ctl", ++runs_)), out, err);
  }

  void WriteKeys(const std::vector<std::string>& hex_keys) {
    std::string text;
    for (const std::string& k : hex_keys) absl::StrAppend(&text, k, "\n");
    ::unlink(KeyFile().c_str());
    WriteFileWithMode(KeyFile(), text, 0600);
  }

  std::string KeyFile() const { return DataDir() + "/master.key"; }

  // Nothing a run printed holds a key, in hex or raw.
  void ExpectNoKeyIn(const std::string& text, const std::vector<std::string>& hex_keys) {
    for (const std::string& k : hex_keys) {
      EXPECT_FALSE(absl::StrContains(absl::AsciiStrToLower(text), k.substr(0, 16)));
      EXPECT_FALSE(absl::StrContains(text, absl::HexStringToBytes(k).substr(0, 8)));
    }
  }

  int runs_ = 0;
};

TEST_F(KeysE2eTest, AKeyFileGainsAKeyTheAdminRotatesRetiresAndTheDaemonRunsOnTheNewOne) {
  auto daemon = Start("first");
  ASSERT_FALSE(address_.empty());
  const std::string admin = AdminToken("first");
  WriteFileWithMode(Path("admin.token"), admin + "\n", 0600);
  const std::string worker = NewWorker(admin);
  WriteFileWithMode(Path("worker.token"), worker + "\n", 0600);
  std::vector<std::string> ids;
  for (int n = 0; n < 40; ++n) {
    ids.push_back(CreateLead(
        worker, SimpleLead(absl::StrCat("k-", n), absl::StrCat("rotate", n, "@example.com"))));
  }
  const std::string old_hex = absl::BytesToHexString(ReadFile(KeyFile()));  // generated: raw
  ASSERT_EQ(old_hex.size(), 64u);
  const std::string new_hex(64, 'c');
  const std::vector<std::string> both = {old_hex, new_hex};

  std::string out, err, printed;
  ASSERT_EQ(Ctl("admin", {"keys", "status"}, &out, &err), 0) << err;
  EXPECT_TRUE(absl::StrContains(out, "current master-key version: 1")) << out;
  EXPECT_TRUE(absl::StrContains(out, "version 1 (current): 40 data keys")) << out;
  EXPECT_EQ(Ctl("worker", {"keys", "status"}, &out, &err), 1);
  EXPECT_TRUE(absl::StrContains(err, "PERMISSION_DENIED")) << err;

  // Nothing new in the file: refused, nothing changed.
  EXPECT_EQ(Ctl("admin", {"keys", "rotate"}, &out, &err), 1);
  EXPECT_TRUE(absl::StrContains(err, "holds 0 new master keys")) << err;
  absl::StrAppend(&printed, out, err);

  // The file now holds the old key and a new one (hex, one per line).
  WriteKeys({new_hex, old_hex});
  ASSERT_EQ(Ctl("admin", {"keys", "rotate"}, &out, &err), 0) << err;
  EXPECT_TRUE(absl::StrContains(out, "master-key version 2 is current (was 1)")) << out;
  absl::StrAppend(&printed, out, err);
  ASSERT_EQ(Ctl("admin", {"keys", "status", "--follow", "--interval", "1"}, &out, &err), 0) << err;
  EXPECT_TRUE(absl::StrContains(err, "40 of 40 data keys under version 2")) << err;
  EXPECT_TRUE(absl::StrContains(out, "version 2 (current): 40 data keys")) << out;
  EXPECT_TRUE(absl::StrContains(out, "version 1: 0 data keys")) << out;
  EXPECT_TRUE(absl::StrContains(out, "re-wrap to version 2: done (40 moved)")) << out;
  EXPECT_TRUE(absl::StrContains(out, "`leadvaultctl keys retire 1` retires it")) << out;
  absl::StrAppend(&printed, out, err);
  ASSERT_EQ(Stop(*daemon), 0);

  // Version 1 is still in use until retired: a file without it is refused.
  WriteKeys({new_hex});
  std::unique_ptr<Daemon> refused;
  EXPECT_NE(RunToExit("refused", {"--data-dir", DataDir(), "--listen", "127.0.0.1:0"}, &refused),
            0);
  EXPECT_TRUE(absl::StrContains(refused->err(), "version 1 is in use but not in the key source"))
      << refused->err();
  absl::StrAppend(&printed, refused->out(), refused->err());

  WriteKeys(both);
  daemon = Start("second");
  ASSERT_FALSE(address_.empty());
  EXPECT_EQ(Ctl("admin", {"keys", "retire", "2"}, &out, &err), 1);
  EXPECT_TRUE(absl::StrContains(err, "is the current one")) << err;
  ASSERT_EQ(Ctl("admin", {"keys", "retire", "1"}, &out, &err), 0) << err;
  EXPECT_TRUE(absl::StrContains(out, "master-key version 1 is retired")) << out;
  absl::StrAppend(&printed, out, err);
  ASSERT_EQ(Stop(*daemon), 0);

  // Now the new key alone runs it, every lead reads; the old one alone is wrong.
  WriteKeys({new_hex});
  daemon = Start("third");
  ASSERT_FALSE(address_.empty());
  for (const std::string& id : ids) {
    v1::Lead lead;
    grpc::Status s = GetLead(worker, id, &lead);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(lead.personal().first_name(), "Grace");
  }
  ASSERT_EQ(Ctl("admin", {"keys", "status"}, &out, &err), 0) << err;
  EXPECT_TRUE(absl::StrContains(out, "version 2 (current): 40 data keys")) << out;
  EXPECT_FALSE(absl::StrContains(out, "version 1")) << out;
  absl::StrAppend(&printed, out, err, daemon->out(), daemon->err());
  ASSERT_EQ(Stop(*daemon), 0);
  WriteKeys({old_hex});
  EXPECT_NE(RunToExit("old", {"--data-dir", DataDir(), "--listen", "127.0.0.1:0"}, &refused), 0);
  EXPECT_TRUE(absl::StrContains(refused->err(), "master key does not match this data dir"))
      << refused->err();
  absl::StrAppend(&printed, refused->err());
  ExpectNoKeyIn(printed, both);
}

// A passphrase source: the daemon reads the variable once at start, so a
// rotation restarts it with the old and the new passphrase on two lines; the
// keys it derived then are what the rotation reads.
TEST_F(KeysE2eTest, APassphraseSourceRotatesAcrossARestartAndRunsOnTheNewPassphrase) {
  const std::string old_pass = "correct horse battery staple";
  const std::string new_pass = "tr0ub4dor and three more words";
  const std::vector<std::string> flags = {"--passphrase-env", "LV_E2E_PASSPHRASE"};
  auto daemon = Start("first", flags, {"LV_E2E_PASSPHRASE=" + old_pass});
  ASSERT_FALSE(address_.empty());
  const std::string admin = AdminToken("first");
  WriteFileWithMode(Path("admin.token"), admin + "\n", 0600);
  const std::string worker = NewWorker(admin);
  std::vector<std::string> ids;
  for (int n = 0; n < 5; ++n) {
    ids.push_back(CreateLead(
        worker, SimpleLead(absl::StrCat("p-", n), absl::StrCat("pass", n, "@example.com"))));
  }
  std::string out, err, printed;
  EXPECT_EQ(Ctl("admin", {"keys", "rotate"}, &out, &err), 1);  // nothing new
  EXPECT_TRUE(absl::StrContains(err, "holds 0 new master keys")) << err;
  absl::StrAppend(&printed, out, err, daemon->out(), daemon->err());
  ASSERT_EQ(Stop(*daemon), 0);

  daemon = Start("second", flags, {absl::StrCat("LV_E2E_PASSPHRASE=", old_pass, "\n", new_pass)});
  ASSERT_FALSE(address_.empty());
  ASSERT_EQ(Ctl("admin", {"keys", "rotate"}, &out, &err), 0) << err;
  EXPECT_TRUE(absl::StrContains(out, "master-key version 2 is current (was 1)")) << out;
  ASSERT_EQ(Ctl("admin", {"keys", "status", "--follow", "--interval", "1"}, &out, &err), 0) << err;
  EXPECT_TRUE(absl::StrContains(out, "version 2 (current): 5 data keys")) << out;
  ASSERT_EQ(Ctl("admin", {"keys", "retire", "1"}, &out, &err), 0) << err;
  absl::StrAppend(&printed, out, err, daemon->out(), daemon->err());
  ASSERT_EQ(Stop(*daemon), 0);

  daemon = Start("third", flags, {"LV_E2E_PASSPHRASE=" + new_pass});
  ASSERT_FALSE(address_.empty());
  for (const std::string& id : ids) {
    v1::Lead lead;
    grpc::Status s = GetLead(worker, id, &lead);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  absl::StrAppend(&printed, daemon->out(), daemon->err());
  ASSERT_EQ(Stop(*daemon), 0);
  EXPECT_FALSE(absl::StrContains(printed, "horse"));
  EXPECT_FALSE(absl::StrContains(printed, "tr0ub4dor"));
}

}  // namespace
}  // namespace leadvault::e2e
