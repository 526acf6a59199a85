// Retention end to end with the real binaries: a compliance officer's legal
// hold stops an intake worker's deletion request until released; the
// deletion's receipt verifies offline (and a tampered one does not); the
// deleted lead answers as an id never issued; the admin sets the policy and
// the retention principal sweeps (dry run and real), each role held to its own.
#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "tests/e2e/e2e_fixture.h"

#ifndef LEADVAULTCTL_PATH
#error "LEADVAULTCTL_PATH must be defined by the build"
#endif

namespace leadvault::e2e {
namespace {

class RetentionE2eTest : public E2eTest {
 protected:
  // leadvaultctl as `who` (a token file name, or "" for none); its exit code.
  int Ctl(const std::string& who, std::vector<std::string> args, std::string* out = nullptr,
          std::string* err = nullptr) {
    if (!who.empty()) {
      args.insert(args.begin(), {"--server", address_, "--token-file", Path(who + ".token")});
    }
    return RunProgram(LEADVAULTCTL_PATH, args, Path(absl::StrCat("ctl", ++runs_)), out, err);
  }

  int runs_ = 0;
};

TEST_F(RetentionE2eTest, AHeldLeadIsDeletedOnlyAfterReleaseAndItsReceiptVerifiesOffline) {
  auto daemon = Start("retention");
  ASSERT_FALSE(address_.empty());
  const std::string admin = AdminToken("retention");
  WriteFileWithMode(Path("admin.token"), admin + "\n", 0600);
  const std::string worker =
      NewPrincipalFile(admin, "worker", {"capture", "intake"}, {"cardiology"});
  NewPrincipalFile(admin, "officer", {"compliance"});
  NewPrincipalFile(admin, "sweeper", {"retention"});
  const std::string lead = CreateLead(worker, SimpleLead("e2e-del-1", "held@example.com"));
  const std::string other = CreateLead(worker, SimpleLead("e2e-del-2", "other@example.com"));
  ASSERT_FALSE(lead.empty());
  WriteFileWithMode(Path("hold.reason"), "Litigation hold, matter 2026-CV-0142\n", 0600);
  WriteFileWithMode(Path("delete.reason"), "Data subject request DSR-77, identity verified\n",
                    0600);

  // The officer's hold refuses the worker's deletion, naming the hold.
  std::string out, err;
  ASSERT_EQ(
      Ctl("officer", {"hold", "place", lead, "--reason-file", Path("hold.reason")}, &out, &err), 0)
      << err;
  ASSERT_TRUE(absl::StartsWith(out, "hold ")) << out;
  const std::string hold_id = out.substr(5, 16);
  EXPECT_EQ(
      Ctl("worker", {"lead", "delete", lead, "--reason-file", Path("delete.reason")}, &out, &err),
      1);
  EXPECT_TRUE(absl::StrContains(err, "FAILED_PRECONDITION")) << err;
  EXPECT_TRUE(absl::StrContains(err, hold_id)) << err;
  EXPECT_FALSE(absl::StrContains(err, "2026-CV")) << "never the hold's reason";
  ASSERT_EQ(Ctl("officer", {"hold", "list"}, &out, &err), 0) << err;
  EXPECT_TRUE(absl::StrContains(out, "1 legal hold in place")) << out;
  // Holds are the compliance role's: the worker may not list or release them.
  EXPECT_EQ(Ctl("worker", {"hold", "list"}, &out, &err), 1);
  EXPECT_TRUE(absl::StrContains(err, "PERMISSION_DENIED")) << err;

  ASSERT_EQ(
      Ctl("officer",
          {"hold", "release", lead, hold_id, "--reason", "Matter settled; hold lifted by counsel"},
          &out, &err),
      0)
      << err;
  ASSERT_EQ(Ctl("worker",
                {"lead", "delete", lead, "--reason-file", Path("delete.reason"), "-o",
                 Path("receipt.json")},
                &out, &err),
            0)
      << err;
  EXPECT_TRUE(absl::StrContains(out, "\"format\": \"leadvault-deletion-receipt\"")) << out;
  EXPECT_EQ(ReadFile(Path("receipt.json")), out);

  // Verified offline with only the log's public key; a receipt edited to
  // name another lead fails.
  std::string pub;
  ASSERT_EQ(Ctl("officer", {"audit", "pubkey"}, &pub, &err), 0) << err;
  WriteFileWithMode(Path("log.pub"), pub, 0600);
  ASSERT_EQ(
      Ctl("", {"receipt", "verify", Path("receipt.json"), "--pubkey", Path("log.pub")}, &out, &err),
      0)
      << err;
  EXPECT_TRUE(absl::StrContains(out, "OK: lead " + lead + " was purged")) << out;
  WriteFileWithMode(Path("forged.json"),
                    absl::StrReplaceAll(ReadFile(Path("receipt.json")), {{lead, other}}), 0600);
  EXPECT_EQ(
      Ctl("", {"receipt", "verify", Path("forged.json"), "--pubkey", Path("log.pub")}, &out, &err),
      1);
  EXPECT_TRUE(absl::StrContains(err, "FAILED")) << err;

  // The deleted lead answers exactly as an id never issued.
  const std::string never = "0123456789abcdef0123456789abcdef";
  std::string answers[2];
  for (int i = 0; i < 2; ++i) {
    v1::GetLeadRequest get;
    get.set_lead_id(i == 0 ? lead : never);
    get.set_purpose(v1::PURPOSE_OF_USE_TREATMENT);
    v1::GetLeadResponse response;
    grpc::Status s = leads_->GetLead(Ctx(worker).get(), get, &response);
    answers[i] = absl::StrCat(s.error_code(), " ", s.error_message());
  }
  EXPECT_EQ(answers[0], answers[1]);
  EXPECT_TRUE(absl::StartsWith(answers[0], "5 ")) << answers[0];  // NOT_FOUND
  EXPECT_EQ(
      Ctl("worker", {"lead", "delete", lead, "--reason-file", Path("delete.reason")}, &out, &err),
      1);
  EXPECT_TRUE(absl::StrContains(err, "NOT_FOUND")) << err;

  // The policy: admin sets it, the retention principal reads it, not the reverse.
  WriteFileWithMode(Path("policy.txtpb"),
                    "rules { name: \"cardio-lost\" service_line: \"cardiology\" "
                    "status: LEAD_STATUS_CLOSED_LOST period_days: 90 "
                    "from: RETENTION_ANCHOR_LAST_ACTIVITY }\n"
                    "default_rule { period_days: 400 from: RETENTION_ANCHOR_LAST_ACTIVITY }\n",
                    0600);
  ASSERT_EQ(Ctl("sweeper", {"retention", "policy", "list"}, &out, &err), 0) << err;
  EXPECT_TRUE(absl::StrContains(out, "version 0")) << out;
  EXPECT_EQ(Ctl("sweeper", {"retention", "policy", "set", Path("policy.txtpb")}, &out, &err), 1);
  EXPECT_TRUE(absl::StrContains(err, "PERMISSION_DENIED")) << err;
  ASSERT_EQ(Ctl("admin", {"retention", "policy", "set", Path("policy.txtpb")}, &out, &err), 0)
      << err;
  EXPECT_TRUE(absl::StrContains(out, "version 1")) << out;
  EXPECT_TRUE(absl::StrContains(out, "cardio-lost")) << out;
  WriteFileWithMode(Path("bad.txtpb"), "default_rule { period_days: 0 }\n", 0600);
  EXPECT_EQ(Ctl("admin", {"retention", "policy", "set", Path("bad.txtpb")}, &out, &err), 1);
  EXPECT_TRUE(absl::StrContains(err, "INVALID_ARGUMENT")) << err;

  // Sweeps: the retention role's only. Nothing is due, but the deletion's
  // bytes are compacted away by the real one.
  EXPECT_EQ(Ctl("officer", {"retention", "sweep"}, &out, &err), 1);
  EXPECT_TRUE(absl::StrContains(err, "PERMISSION_DENIED")) << err;
  ASSERT_EQ(Ctl("sweeper", {"retention", "sweep", "--dry-run"}, &out, &err), 0) << err;
  EXPECT_TRUE(absl::StrContains(out, "dry run as of")) << out;
  ASSERT_EQ(Ctl("sweeper", {"retention", "sweep"}, &out, &err), 0) << err;
  EXPECT_TRUE(absl::StrContains(out, "0 purged")) << out;
  EXPECT_TRUE(absl::StrContains(out, "(1 deletion requests included)")) << out;

  EXPECT_EQ(Stop(*daemon), 0) << daemon->err();
}

}  // namespace
}  // namespace leadvault::e2e
