// `--json` on every leadvaultctl command that prints a result, against a real
// leadvaultd: each prints one JSON document whose values are the ones the
// command acted on (the principal it created, the lead, the queue entry, the
// hold, the grant, the backup...). Also `lead get`'s table showing a lead's
// later submissions, and leadvault-bench's command line (--help, --version,
// usage errors; nothing is timed).
#include <sys/stat.h>

#include <chrono>
#include <regex>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/e2e_fixture.h"

#ifndef LEADVAULTCTL_PATH
#error "LEADVAULTCTL_PATH must be defined by the build"
#endif
#ifndef LEADVAULT_BENCH_PATH
#error "LEADVAULT_BENCH_PATH must be defined by the build"
#endif

namespace leadvault::e2e {
namespace {

using nlohmann::json;

// `doc` at the JSON pointer `pointer`: "" (Str), -1 (Num), false (Bool) or 0
// (Size) when it is absent or of another type.
std::string Str(const json& doc, const std::string& pointer) {
  const json::json_pointer at(pointer);
  return doc.contains(at) && doc.at(at).is_string() ? doc.at(at).get<std::string>() : "";
}
int64_t Num(const json& doc, const std::string& pointer) {
  const json::json_pointer at(pointer);
  return doc.contains(at) && doc.at(at).is_number() ? doc.at(at).get<int64_t>() : -1;
}
bool Bool(const json& doc, const std::string& pointer) {
  const json::json_pointer at(pointer);
  return doc.contains(at) && doc.at(at).is_boolean() && doc.at(at).get<bool>();
}
size_t Size(const json& doc, const std::string& pointer) {
  const json::json_pointer at(pointer);
  return doc.contains(at) && doc.at(at).is_array() ? doc.at(at).size() : 0;
}
// The strings of the array at `pointer`.
std::vector<std::string> Strings(const json& doc, const std::string& pointer) {
  std::vector<std::string> out;
  for (size_t i = 0; i < Size(doc, pointer); ++i)
    out.push_back(Str(doc, absl::StrCat(pointer, "/", i)));
  return out;
}
// The value of `field` of each object in the array at `pointer`.
std::vector<std::string> Column(const json& doc, const std::string& pointer,
                                const std::string& field) {
  std::vector<std::string> out;
  for (size_t i = 0; i < Size(doc, pointer); ++i) {
    out.push_back(Str(doc, absl::StrCat(pointer, "/", i, "/", field)));
  }
  return out;
}
bool Has(const std::vector<std::string>& values, const std::string& value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

bool IsHex(const std::string& text, size_t length) {
  return text.size() == length &&
         std::all_of(text.begin(), text.end(), [](char c) { return absl::ascii_isxdigit(c); });
}

// The README's lead with a complete consent grant (email and sms, scheduling).
std::string LeadWithConsentJson(const std::string& email) {
  const int64_t captured = std::chrono::duration_cast<std::chrono::microseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count() -
                           60'000'000;
  return absl::StrCat(R"({"personal": {"first_name": "Grace", "email": ")", email,
                      R"(", "phone": "+1 415 555 0134"},
 "attribution": {"service_line": "cardiology", "source": "SOURCE_CHANNEL_REFERRAL"},
 "consent": {"channels": ["CONSENT_CHANNEL_EMAIL", "CONSENT_CHANNEL_SMS"],
             "purposes": ["CONSENT_PURPOSE_SCHEDULING"],
             "evidence": {"captured_at_unix_micros": ")",
                      captured, R"(",
                          "source_url": "https://clinic.example/heart", "seller_name": "Example Cardio",
                          "disclosure_version": "2026-10",
                          "disclosure_sha256": ")",
                      std::string(64, 'a'), R"(",
                          "authorizes_automated": true, "not_condition_of_purchase": true}}})");
}

class CtlJsonTest : public E2eTest {
 protected:
  // leadvaultctl as `who` (the token in `who`.token; none when empty) with
  // `args`; its exit code, stdout in `out`, stderr in `err`.
  int Ctl(const std::string& who, std::vector<std::string> args, std::string* out,
          std::string* err) {
    if (!who.empty()) args.insert(args.begin(), {"--token-file", Path(who + ".token")});
    if (!address_.empty()) args.insert(args.begin(), {"--server", address_});
    return RunProgram(LEADVAULTCTL_PATH, args, Path(absl::StrCat("ctl", ++runs_)), out, err);
  }

  // The same, expecting exit code `rc` and stdout to be one JSON object,
  // which is returned (an empty object when it is not).
  json CtlJson(const std::string& who, const std::vector<std::string>& args, int rc = 0) {
    std::string out, err;
    const std::string command = absl::StrJoin(args, " ");
    EXPECT_EQ(Ctl(who, args, &out, &err), rc) << command << "\nstdout:\n"
                                              << out << "stderr:\n"
                                              << err;
    json doc = json::parse(out, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(doc.is_object()) << command << ": stdout is not one JSON object:\n" << out;
    return doc.is_object() ? doc : json::object();
  }

  // The admin token of `run` in admin.token, for Ctl("admin", ...).
  std::string AdminFile(const std::string& run) {
    const std::string admin = AdminToken(run);
    WriteFileWithMode(Path("admin.token"), admin + "\n", 0600);
    return admin;
  }

  int runs_ = 0;
};

TEST_F(CtlJsonTest, PrincipalCommandsPrintThePrincipalAndATokenOnlyWhereTheTextDoes) {
  auto daemon = Start("run");
  ASSERT_FALSE(address_.empty());
  AdminFile("run");

  json created = CtlJson("admin", {"principal", "create", "--name", "Desk", "--role", "capture",
                                   "--role", "intake", "--service-line", "cardiology", "--json"});
  const std::string id = Str(created, "/principal/principal_id");
  ASSERT_TRUE(IsHex(id, 16)) << created.dump();
  EXPECT_EQ(Str(created, "/principal/display_name"), "Desk");
  const std::vector<std::string> roles = Strings(created, "/principal/roles");
  EXPECT_TRUE(roles.size() == 2 && Has(roles, "capture") && Has(roles, "intake")) << created.dump();
  EXPECT_TRUE(Bool(created, "/principal/enabled"));
  const std::string token = Str(created, "/token");
  EXPECT_TRUE(absl::StartsWith(token, absl::StrCat("lv_", id, "_"))) << created.dump();
  EXPECT_FALSE(created.contains("token_file"));
  // The token works: the new principal reads the (empty) queue.
  WriteFileWithMode(Path("desk.token"), token + "\n", 0600);
  json queue = CtlJson("desk", {"lead", "queue", "--service-line", "cardiology", "--json"});
  EXPECT_EQ(Size(queue, "/leads"), 0u) << queue.dump();

  // --token-out: the token goes to the file only; the document names the file.
  json second = CtlJson("admin", {"principal", "create", "--name", "Call centre", "--role",
                                  "intake", "--token-out", Path("call.token"), "--json"});
  const std::string second_id = Str(second, "/principal/principal_id");
  ASSERT_TRUE(IsHex(second_id, 16)) << second.dump();
  EXPECT_EQ(Str(second, "/token_file"), Path("call.token"));
  EXPECT_FALSE(second.contains("token"));
  EXPECT_FALSE(absl::StrContains(second.dump(), "lv_")) << second.dump();
  EXPECT_TRUE(absl::StartsWith(ReadFile(Path("call.token")), absl::StrCat("lv_", second_id, "_")));

  json list = CtlJson("admin", {"principal", "list", "--json"});
  const std::vector<std::string> ids = Column(list, "/principals", "principal_id");
  EXPECT_TRUE(Has(ids, id) && Has(ids, second_id)) << list.dump();
  EXPECT_TRUE(Has(Column(list, "/principals", "display_name"), "Call centre")) << list.dump();

  json granted = CtlJson("admin", {"principal", "grant-service-lines", id, "--service-line",
                                   "cardiology", "--service-line", "oncology", "--json"});
  EXPECT_EQ(Str(granted, "/principal/principal_id"), id);
  const std::vector<std::string> lines = Strings(granted, "/principal/service_lines");
  EXPECT_TRUE(lines.size() == 2 && Has(lines, "cardiology") && Has(lines, "oncology"))
      << granted.dump();

  json rotated = CtlJson("admin", {"principal", "rotate", id, "--json"});
  EXPECT_EQ(Str(rotated, "/principal/principal_id"), id);
  const std::string new_token = Str(rotated, "/token");
  EXPECT_TRUE(absl::StartsWith(new_token, absl::StrCat("lv_", id, "_"))) << rotated.dump();
  EXPECT_NE(new_token, token);

  json disabled = CtlJson("admin", {"principal", "disable", second_id, "--json"});
  EXPECT_EQ(Str(disabled, "/principal/principal_id"), second_id);
  EXPECT_FALSE(Bool(disabled, "/principal/enabled")) << disabled.dump();
  EXPECT_EQ(Stop(*daemon), 0);
}

TEST_F(CtlJsonTest, LeadConsentHoldEmergencyAndDeletionCommandsPrintJson) {
  auto daemon = Start("run");
  ASSERT_FALSE(address_.empty());
  const std::string admin = AdminFile("run");
  NewPrincipalFile(admin, "desk", {"capture", "intake"}, {"cardiology"});
  NewPrincipalFile(admin, "webform", {"capture"}, {"cardiology"});
  NewPrincipalFile(admin, "privacy", {"compliance"});

  // A lead with consent, from a file; then the same person from another form.
  WriteFileWithMode(Path("lead.json"), LeadWithConsentJson("grace@example.com"), 0600);
  json created = CtlJson("desk", {"lead", "create", "--from-json", Path("lead.json"), "--json"});
  const std::string id = Str(created, "/lead_id");
  ASSERT_TRUE(IsHex(id, 32)) << created.dump();
  EXPECT_EQ(Str(created, "/version"), "1");  // uint64: a string in proto JSON
  EXPECT_FALSE(Bool(created, "/duplicate"));
  json touch = CtlJson("webform", {"lead", "create", "--service-line", "cardiology", "--first-name",
                                   "Gracie", "--email", "grace@example.com", "--json"});
  const std::string receipt_id = Str(touch, "/lead_id");
  EXPECT_TRUE(IsHex(receipt_id, 32)) << touch.dump();
  EXPECT_NE(receipt_id, id) << "a sender that cannot read the lead gets an id of its own";

  // lead get: the lead, then its later submission, in the table and in JSON.
  std::string out, err;
  ASSERT_EQ(Ctl("desk", {"lead", "get", id, "--purpose", "treatment"}, &out, &err), 0) << err;
  EXPECT_TRUE(absl::StrContains(out, "first_name: Grace\n")) << out;
  EXPECT_TRUE(std::regex_search(
      out, std::regex(R"(\nsubmission 1: \d{4}-\d\d-\d\dT[^\n]* web_form cardiology\n)")))
      << out;
  EXPECT_TRUE(absl::StrContains(out, "\n  first_name: Gracie\n")) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(\n  conflicts: [^\n]*first_name)"))) << out;
  EXPECT_LT(out.find("first_name: Grace\n"), out.find("submission 1:")) << out;
  json lead = CtlJson("desk", {"lead", "get", id, "--purpose", "treatment", "--json"});
  EXPECT_EQ(Str(lead, "/metadata/lead_id"), id);
  EXPECT_EQ(Str(lead, "/personal/email"), "grace@example.com");
  ASSERT_EQ(Size(lead, "/submissions"), 1u) << lead.dump();
  EXPECT_EQ(Str(lead, "/submissions/0/personal/first_name"), "Gracie");
  EXPECT_TRUE(Has(Strings(lead, "/submissions/0/conflicts"), "first_name")) << lead.dump();

  json found = CtlJson(
      "desk", {"lead", "find", "--email", "grace@example.com", "--purpose", "treatment", "--json"});
  EXPECT_EQ(Column(found, "/leads", "lead_id"), std::vector<std::string>{id}) << found.dump();
  json none = CtlJson("desk", {"lead", "find", "--email", "nobody@example.com", "--purpose",
                               "treatment", "--json"});
  EXPECT_TRUE(none.contains("leads") && Size(none, "/leads") == 0) << none.dump();

  // The queue entry, a status change, an amendment and the history.
  json queue = CtlJson("desk", {"lead", "queue", "--service-line", "cardiology", "--json"});
  ASSERT_EQ(Column(queue, "/leads", "lead_id"), std::vector<std::string>{id}) << queue.dump();
  EXPECT_EQ(Str(queue, "/leads/0/status"), "LEAD_STATUS_NEW");
  json updated = CtlJson(
      "desk", {"lead", "update", id, "--expected-version", "1", "--status", "contacted", "--json"});
  EXPECT_EQ(Str(updated, "/lead_id"), id);
  EXPECT_EQ(Str(updated, "/status"), "LEAD_STATUS_CONTACTED");
  EXPECT_EQ(Str(updated, "/version"), "2");
  WriteFileWithMode(Path("amend.json"), R"({"last_name": "Hopper"})", 0600);
  json amended = CtlJson("desk", {"lead", "amend", id, "--expected-version", "2", "--purpose",
                                  "patient_request", "--values-file", Path("amend.json"),
                                  "--reason", "patient called: the surname was missing", "--json"});
  EXPECT_EQ(Num(amended, "/amendment_number"), 1) << amended.dump();
  EXPECT_EQ(Strings(amended, "/amended"), std::vector<std::string>{"PERSONAL_FIELD_LAST_NAME"});
  json history = CtlJson("desk", {"lead", "history", id, "--purpose", "operations", "--json"});
  ASSERT_EQ(Size(history, "/amendments"), 1u) << history.dump();
  EXPECT_EQ(Num(history, "/amendments/0/number"), 1);

  // Legal holds (compliance).
  json held = CtlJson("privacy", {"hold", "place", id, "--reason", "matter 2026-114", "--json"});
  const std::string hold_id = Str(held, "/hold/hold_id");
  ASSERT_TRUE(IsHex(hold_id, 16)) << held.dump();
  EXPECT_EQ(Str(held, "/hold/lead_id"), id);
  json holds = CtlJson("privacy", {"hold", "list", "--json"});
  EXPECT_EQ(Column(holds, "/holds", "hold_id"), std::vector<std::string>{hold_id}) << holds.dump();
  json released = CtlJson(
      "privacy", {"hold", "release", id, hold_id, "--reason", "matter 2026-114 closed", "--json"});
  EXPECT_EQ(Str(released, "/hold/hold_id"), hold_id);
  holds = CtlJson("privacy", {"hold", "list", "--json"});
  EXPECT_TRUE(holds.contains("holds") && Size(holds, "/holds") == 0) << holds.dump();

  // Emergency access: opened by the desk, listed and closed by compliance.
  json opened = CtlJson("desk", {"emergency", "open", "--lead", id, "--minutes", "15", "--reason",
                                 "unresponsive patient at triage", "--json"});
  const std::string grant_id = Str(opened, "/grant/grant_id");
  ASSERT_FALSE(grant_id.empty()) << opened.dump();
  EXPECT_EQ(Strings(opened, "/grant/lead_ids"), std::vector<std::string>{id});
  EXPECT_TRUE(Bool(opened, "/grant/open"));
  json grants = CtlJson("privacy", {"emergency", "list", "--open", "--json"});
  EXPECT_EQ(Column(grants, "/grants", "grant_id"), std::vector<std::string>{grant_id})
      << grants.dump();
  json closed = CtlJson("privacy", {"emergency", "close", grant_id, "--json"});
  EXPECT_EQ(Str(closed, "/grant/grant_id"), grant_id);
  EXPECT_FALSE(Bool(closed, "/grant/open")) << closed.dump();
  grants = CtlJson("privacy", {"emergency", "list", "--open", "--json"});
  EXPECT_TRUE(grants.contains("grants") && Size(grants, "/grants") == 0) << grants.dump();

  // The consent proof, exported and verified offline; the log's key and checkpoint.
  json key = CtlJson("privacy", {"audit", "pubkey", "--json"});
  const std::string pubkey = Str(key, "/verifier_key");
  ASSERT_FALSE(pubkey.empty()) << key.dump();
  json checkpoint = CtlJson("privacy", {"audit", "checkpoint", "--json"});
  EXPECT_EQ(Str(checkpoint, "/verifier_key"), pubkey);
  EXPECT_GT(std::stoll("0" + Str(checkpoint, "/checkpoint/tree_size")), 0) << checkpoint.dump();
  EXPECT_TRUE(absl::StrContains(Str(checkpoint, "/checkpoint/note"),
                                Str(checkpoint, "/checkpoint/origin")));
  json exported =
      CtlJson("privacy", {"consent", "export-proof", id, "-o", Path("proof.json"), "--json"});
  EXPECT_EQ(Str(exported, "/lead_id"), id);
  EXPECT_EQ(Str(exported, "/file"), Path("proof.json"));
  json proof = CtlJson("", {"consent", "proof", Path("proof.json"), "--pubkey", pubkey, "--json"});
  EXPECT_TRUE(Bool(proof, "/ok")) << proof.dump();
  EXPECT_EQ(Str(proof, "/lead_id"), id);
  EXPECT_EQ(Num(proof, "/events"), 1);
  EXPECT_EQ(Num(proof, "/grants"), 1);
  EXPECT_EQ(Num(proof, "/revocations"), 0);
  EXPECT_GT(Num(proof, "/checkpoint/size"), 0);
  WriteFileWithMode(Path("not-a-proof.json"), "{}", 0600);
  json refused =
      CtlJson("", {"consent", "proof", Path("not-a-proof.json"), "--pubkey", pubkey, "--json"}, 1);
  EXPECT_TRUE(refused.contains("ok") && !Bool(refused, "/ok")) << refused.dump();
  EXPECT_FALSE(Str(refused, "/error").empty());

  // A deletion: its receipt is JSON either way; verified offline, and refused
  // for another lead's id.
  json receipt = CtlJson("desk", {"lead", "delete", id, "--reason", "request DSR-2026-0042", "-o",
                                  Path("receipt.json"), "--json"});
  EXPECT_EQ(Str(receipt, "/lead_id"), id) << receipt.dump();
  EXPECT_EQ(receipt, json::parse(ReadFile(Path("receipt.json")), nullptr, false));
  json verified =
      CtlJson("", {"receipt", "verify", Path("receipt.json"), "--pubkey", pubkey, "--json"});
  EXPECT_TRUE(Bool(verified, "/ok")) << verified.dump();
  EXPECT_EQ(Str(verified, "/lead_id"), id);
  EXPECT_EQ(Str(verified, "/action"), "DeleteLead");
  EXPECT_EQ(Num(verified, "/sequence"), Num(receipt, "/sequence"));
  EXPECT_TRUE(Bool(verified, "/with_reason"));
  json forged = receipt;
  forged["lead_id"] = receipt_id;
  WriteFileWithMode(Path("forged.json"), forged.dump(), 0600);
  json rejected =
      CtlJson("", {"receipt", "verify", Path("forged.json"), "--pubkey", pubkey, "--json"}, 1);
  EXPECT_TRUE(rejected.contains("ok") && !Bool(rejected, "/ok")) << rejected.dump();
  EXPECT_EQ(Stop(*daemon), 0);
}

TEST_F(CtlJsonTest, RetentionKeysAndBackupCommandsPrintJson) {
  auto daemon = Start("run");
  ASSERT_FALSE(address_.empty());
  const std::string admin = AdminFile("run");
  const std::string worker = NewWorker(admin);
  for (int n = 0; n < 3; ++n) {
    ASSERT_FALSE(CreateLead(worker, SimpleLead(absl::StrCat("json-", n),
                                               absl::StrCat("j", n, "@example.com")))
                     .empty());
  }
  NewPrincipalFile(admin, "purge", {"retention"});

  // The retention policy: the built-in one (version 0, left out), then a set one.
  json builtin = CtlJson("admin", {"retention", "policy", "list", "--json"});
  EXPECT_TRUE(builtin.contains("policy")) << builtin.dump();
  EXPECT_EQ(Str(builtin, "/policy/version"), "") << "version 0 is the default: left out";
  WriteFileWithMode(Path("policy.txtpb"),
                    "rules { name: \"lost-90d\" status: LEAD_STATUS_CLOSED_LOST period_days: 90 "
                    "from: RETENTION_ANCHOR_LAST_ACTIVITY }\n"
                    "default_rule { period_days: 365 from: RETENTION_ANCHOR_LAST_ACTIVITY }\n",
                    0600);
  json set = CtlJson("admin", {"retention", "policy", "set", Path("policy.txtpb"), "--json"});
  EXPECT_EQ(Str(set, "/policy/version"), "1") << set.dump();
  EXPECT_EQ(Str(set, "/policy/policy/rules/0/name"), "lost-90d");
  json listed = CtlJson("purge", {"retention", "policy", "list", "--json"});
  EXPECT_EQ(Str(listed, "/policy/version"), "1");
  // A dry-run sweep: only its final report (nothing is due).
  json sweep = CtlJson("purge", {"retention", "sweep", "--dry-run", "--json"});
  EXPECT_TRUE(Bool(sweep, "/done")) << sweep.dump();
  EXPECT_TRUE(Bool(sweep, "/dry_run"));
  EXPECT_FALSE(Str(sweep, "/audit_sequence").empty()) << sweep.dump();

  // Master keys: the status, a rotation to a key added to the file, its
  // re-wrap followed to the end (the final status only), the old version retired.
  json status = CtlJson("admin", {"keys", "status", "--json"});
  EXPECT_EQ(Num(status, "/current_version"), 1) << status.dump();
  EXPECT_EQ(Str(status, "/data_keys"), "3");
  const std::string key_file = DataDir() + "/master.key";
  const std::string old_hex = absl::BytesToHexString(ReadFile(key_file));
  ASSERT_EQ(old_hex.size(), 64u);
  ::unlink(key_file.c_str());
  WriteFileWithMode(key_file, absl::StrCat(std::string(64, 'c'), "\n", old_hex, "\n"), 0600);
  json rotated = CtlJson("admin", {"keys", "rotate", "--json"});
  EXPECT_EQ(Num(rotated, "/kek_version"), 2) << rotated.dump();
  EXPECT_EQ(Num(rotated, "/previous_version"), 1);
  json followed = CtlJson("admin", {"keys", "status", "--follow", "--interval", "1", "--json"});
  EXPECT_EQ(Num(followed, "/current_version"), 2) << followed.dump();
  EXPECT_TRUE(Bool(followed, "/rewrap/done")) << followed.dump();
  json retired = CtlJson("admin", {"keys", "retire", "1", "--json"});
  EXPECT_EQ(Num(retired, "/retired_version"), 1) << retired.dump();

  // Backups: taken by the daemon, then listed and verified offline; restored
  // with the daemon stopped.
  const std::string backups = Path("backups");
  ASSERT_EQ(::mkdir(backups.c_str(), 0700), 0);
  json backup = CtlJson("admin", {"backup", "create", backups, "--json"});
  EXPECT_EQ(Num(backup, "/backup_id"), 1) << backup.dump();
  EXPECT_GT(Num(backup, "/files"), 0);
  json backup_list = CtlJson("", {"backup", "list", backups, "--json"});
  ASSERT_EQ(Size(backup_list, "/backups"), 1u) << backup_list.dump();
  EXPECT_EQ(Num(backup_list, "/backups/0/id"), 1);
  EXPECT_EQ(Num(backup_list, "/backups/0/files"), Num(backup, "/files"));
  EXPECT_EQ(Num(backup_list, "/backups/0/created_unix_seconds"),
            std::stoll("0" + Str(backup, "/created_unix_seconds")));
  json backup_verified = CtlJson("", {"backup", "verify", backups, "--json"});
  EXPECT_TRUE(Bool(backup_verified, "/ok")) << backup_verified.dump();
  EXPECT_EQ(backup_verified["verified"], json::array({1}));
  ASSERT_EQ(Stop(*daemon), 0);
  address_.clear();
  json restored = CtlJson("", {"backup", "restore", backups, "--data-dir", DataDir(), "--json"});
  EXPECT_EQ(Num(restored, "/restored"), 1) << restored.dump();
  EXPECT_EQ(Str(restored, "/data_dir"), DataDir());
}

TEST_F(CtlJsonTest, OfflineCommandsPrintJson) {
  const std::string fresh = Path("fresh");
  json init = CtlJson("", {"init", "--data-dir", fresh, "--json"});
  const std::string principal_id = Str(init, "/principal_id");
  ASSERT_TRUE(IsHex(principal_id, 16)) << init.dump();
  EXPECT_EQ(Str(init, "/data_dir"), fresh);
  EXPECT_EQ(Str(init, "/key_file"), fresh + "/master.key");
  EXPECT_TRUE(absl::StartsWith(Str(init, "/token"), absl::StrCat("lv_", principal_id, "_")));

  json check = CtlJson("", {"check", "--data-dir", fresh, "--json"});
  EXPECT_TRUE(Bool(check, "/ok")) << check.dump();
  EXPECT_TRUE(Bool(check, "/disclosure_index/ok"));
  EXPECT_TRUE(Bool(check, "/lead_rows/ok"));
  EXPECT_EQ(Num(check, "/lead_rows/leads"), 0);
  EXPECT_GT(Num(check, "/disclosure_index/audit_entries"), 0) << "the bootstrap is audited";
  json verified = CtlJson("", {"db", "verify", "--data-dir", fresh, "--json"});
  EXPECT_TRUE(Bool(verified, "/ok")) << verified.dump();
  EXPECT_GE(Num(verified, "/table_files"), 0);

  // No database there: exit 1, and the document says so.
  json missing = CtlJson("", {"check", "--data-dir", Path("nowhere"), "--json"}, 1);
  EXPECT_TRUE(missing.contains("ok") && !Bool(missing, "/ok")) << missing.dump();
  EXPECT_TRUE(absl::StrContains(Str(missing, "/error"), "holds no leadvault database"));
  missing = CtlJson("", {"db", "verify", "--data-dir", Path("nowhere"), "--json"}, 1);
  EXPECT_TRUE(missing.contains("ok") && !Bool(missing, "/ok")) << missing.dump();
}

// leadvault-bench on CLI11: --help (of the tool and of each kind of
// command), --version, and usage errors as exit code 2. Nothing runs long.
class BenchCliTest : public E2eTest {
 protected:
  int Bench(std::vector<std::string> args, std::string* out, std::string* err) {
    args.insert(args.begin(), {"-u", "LEADVAULT_TOKEN", LEADVAULT_BENCH_PATH});
    return RunProgram("/usr/bin/env", args, Path(absl::StrCat("bench", ++runs_)), out, err);
  }
  int runs_ = 0;
};

TEST_F(BenchCliTest, HelpAndVersionExitZeroAndUsageErrorsExitTwo) {
  std::string out, err;
  ASSERT_EQ(Bench({"--help"}, &out, &err), 0) << err;
  for (const char* command : {"load", "probe", "crypto", "audit", "audit-cost", "disclosure-check",
                              "consent", "retention", "rewrap", "backup"}) {
    EXPECT_TRUE(absl::StrContains(out, absl::StrCat("  ", command, " "))) << command << "\n" << out;
  }
  EXPECT_TRUE(absl::StrContains(out, "Exit codes: 0 success; 1 the run failed; 2 usage")) << out;
  ASSERT_EQ(Bench({"--version"}, &out, &err), 0) << err;
  EXPECT_TRUE(absl::StartsWith(out, "leadvault-bench ")) << out;

  // Each kind of command: flags defined here, its own parser's, Google Benchmark's.
  ASSERT_EQ(Bench({"load", "--help"}, &out, &err), 0) << err;
  EXPECT_TRUE(absl::StrContains(out, "--concurrency")) << out;
  EXPECT_TRUE(absl::StrContains(out, "--token-file")) << out;
  ASSERT_EQ(Bench({"probe", "--help"}, &out, &err), 0) << err;
  EXPECT_TRUE(absl::StrContains(out, "--warmup-seconds")) << out;
  for (const auto& [command, flag] :
       std::vector<std::pair<std::string, std::string>>{{"audit-cost", "--rounds"},
                                                        {"disclosure-check", "--entries"},
                                                        {"retention", "--loaded-leads"},
                                                        {"rewrap", "--pause-ms"},
                                                        {"backup", "--dir"}}) {
    ASSERT_EQ(Bench({command, "--help"}, &out, &err), 0) << command << ": " << err;
    EXPECT_TRUE(absl::StrContains(out, flag)) << command << ":\n" << out;
    EXPECT_EQ(Bench({command, "--no-such-flag"}, &out, &err), 2) << command;
  }
  for (const char* command : {"crypto", "audit", "consent"}) {
    ASSERT_EQ(Bench({command, "--help"}, &out, &err), 0) << command << ": " << err;
    EXPECT_TRUE(absl::StrContains(out, "--benchmark_filter")) << command << ":\n" << out;
  }
  // --benchmark_* flags reach Google Benchmark: the crypto benchmarks listed, none run.
  ASSERT_EQ(Bench({"crypto", "--benchmark_list_tests=true"}, &out, &err), 0) << err;
  EXPECT_TRUE(absl::StrContains(out, "BM_")) << out;
  EXPECT_EQ(Bench({"crypto", "--no-such-flag"}, &out, &err), 2) << out << err;

  EXPECT_EQ(Bench({}, &out, &err), 2);
  EXPECT_TRUE(absl::StrContains(err, "load")) << "the usage names the commands: " << err;
  EXPECT_EQ(Bench({"no-such-command"}, &out, &err), 2);
  EXPECT_EQ(Bench({"load", "--no-such-flag", "--server", "127.0.0.1:1"}, &out, &err), 2);
  EXPECT_EQ(Bench({"load"}, &out, &err), 2) << "--server is required";
  EXPECT_EQ(Bench({"load", "--concurrency", "1", "--server", "127.0.0.1:1"}, &out, &err), 2);
  EXPECT_EQ(Bench({"load", "--server", "127.0.0.1:1"}, &out, &err), 2) << "no token";
  EXPECT_TRUE(absl::StrContains(err, "no token")) << err;
  // The scripts' flags parse (refused only for the missing token, after parsing).
  EXPECT_EQ(Bench({"load", "--server", "127.0.0.1:1", "--concurrency", "2000", "--connections", "8",
                   "--backoff-ms", "500", "--daemon-pid", "1", "--fill", "5"},
                  &out, &err),
            2);
  EXPECT_TRUE(absl::StrContains(err, "no token")) << err;
  // A bench's own flags reach it with their values, in order: a tiny run.
  ASSERT_EQ(Bench({"disclosure-check", "--entries", "200", "--runs", "1"}, &out, &err), 0) << err;
  EXPECT_TRUE(absl::StrContains(out, "200 entries")) << out;
}

}  // namespace
}  // namespace leadvault::e2e
