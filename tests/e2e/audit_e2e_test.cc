// End-to-end tests of the audit log with the real binaries: kill -9 under
// load never loses an acknowledged lead nor breaks the log, and
// `leadvaultctl audit export|verify` catch tampering.
#include <algorithm>
#include <atomic>
#include <map>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "tests/e2e/e2e_fixture.h"

#ifndef LEADVAULTCTL_PATH
#error "LEADVAULTCTL_PATH must be defined by the build"
#endif

namespace leadvault::e2e {
namespace {

std::vector<std::string> Concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Runs leadvaultctl with `args` (stdout and stderr to files); its exit code.
int RunCtl(const std::vector<std::string>& args, const std::string& log_prefix,
           std::string* out = nullptr, std::string* err = nullptr) {
  return RunProgram(LEADVAULTCTL_PATH, args, log_prefix, out, err);
}

// The cells of each row of an RFC 4180 file (CRLF rows, '"' quoting).
std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1);
  std::string cell;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        cell.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cell.push_back(c);
      }
    } else if (c == '"' && cell.empty()) {
      quoted = true;
    } else if (c == ',') {
      rows.back().push_back(std::move(cell));
      cell.clear();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      rows.back().push_back(std::move(cell));
      cell.clear();
      rows.emplace_back();
      ++i;
    } else {
      cell.push_back(c);
    }
  }
  EXPECT_TRUE(rows.back().empty() && cell.empty() && !quoted) << "not CRLF-terminated";
  rows.pop_back();
  return rows;
}

// A CSV export's rows as maps from column name to cell.
std::vector<std::map<std::string, std::string>> CsvRecords(const std::string& text,
                                                           std::vector<std::string>* header) {
  std::vector<std::vector<std::string>> rows = ParseCsv(text);
  std::vector<std::map<std::string, std::string>> out;
  if (rows.empty()) {
    ADD_FAILURE() << "no header row";
    return out;
  }
  *header = rows[0];
  for (size_t r = 1; r < rows.size(); ++r) {
    EXPECT_EQ(rows[r].size(), header->size()) << "row " << r;
    std::map<std::string, std::string> record;
    for (size_t i = 0; i < rows[r].size() && i < header->size(); ++i) {
      record[(*header)[i]] = rows[r][i];
    }
    out.push_back(std::move(record));
  }
  return out;
}

// "YYYY-MM-DD hh:mm:ss".
bool IsSpreadsheetTime(const std::string& s) {
  if (s.size() != 19) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char want = i == 4 || i == 7 ? '-' : i == 10 ? ' ' : i == 13 || i == 16 ? ':' : '0';
    if (want == '0' ? !absl::ascii_isdigit(static_cast<unsigned char>(s[i])) : s[i] != want) {
      return false;
    }
  }
  return true;
}

class AuditE2eTest : public E2eTest {
 protected:
  std::vector<std::string> Connect(const std::string& token_name) {
    return {"--server", address_, "--token-file", Path(token_name + ".token")};
  }

  // leadvaultctl audit export (whole log) to `file`; asserts success.
  void Export(const std::string& file, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = Connect("officer");
    args.insert(args.end(), {"audit", "export", "-o", file});
    args.insert(args.end(), extra.begin(), extra.end());
    std::string err;
    ASSERT_EQ(RunCtl(args, file + ".ctl", nullptr, &err), 0) << err;
  }

  // leadvaultctl audit verify; its exit code, stdout and stderr.
  int Verify(const std::string& file, std::string* out, std::string* err,
             const std::string& trusted = "") {
    std::vector<std::string> args = {"audit", "verify", file, "--pubkey", Path("log.pub")};
    if (!trusted.empty()) args.insert(args.end(), {"--trusted", trusted});
    return RunCtl(args, file + ".verify", out, err);
  }
};

TEST_F(AuditE2eTest, KillNineUnderCreateLoadLosesNoAcknowledgedLeadAndTheLogVerifies) {
  constexpr int kRounds = 20;
  constexpr int kClients = 8;
  constexpr int kAcksPerRound = 120;  // the kill comes once this many creates were acknowledged

  std::string worker;
  std::vector<std::string> acknowledged;  // every lead id a client was told is stored
  std::string trusted;                    // the checkpoint file of the previous round
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    std::string run = absl::StrCat("r", round);
    auto daemon = Start(run);
    ASSERT_FALSE(address_.empty());
    if (round == 0) {
      std::string admin = AdminToken(run);
      worker = NewPrincipalFile(admin, "worker", {"intake", "capture"}, {"cardiology"});
      NewPrincipalFile(admin, "officer", {"compliance"});
      std::string pub;
      ASSERT_EQ(RunCtl(Concat(Connect("officer"), {"audit", "pubkey"}), Path("pubkey"), &pub), 0);
      WriteFileWithMode(Path("log.pub"), pub, 0600);
    }

    // Concurrent creates; the daemon is killed once kAcksPerRound more are acknowledged.
    absl::Mutex mu;
    std::vector<std::string> acked_now;
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&, c] {
        for (int i = 0; !stop.load(); ++i) {
          std::string key = absl::StrCat("r", round, "-c", c, "-", i);
          v1::CreateLeadResponse response;
          grpc::Status s = leads_->CreateLead(Ctx(worker).get(),
                                              SimpleLead(key, key + "@example.com"), &response);
          if (!s.ok()) break;  // the daemon is gone
          absl::MutexLock lock(&mu);
          acked_now.push_back(response.lead_id());
        }
      });
    }
    {
      absl::MutexLock lock(&mu);
      auto enough = [&] { return acked_now.size() >= static_cast<size_t>(kAcksPerRound); };
      // The cap only bounds a hung test; the kill itself waits for acknowledgements.
      ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(120)));
    }
    ASSERT_EQ(::kill(daemon->pid(), SIGKILL), 0);
    EXPECT_EQ(daemon->WaitExit(), -1);  // killed by the signal
    stop = true;
    for (auto& t : clients) t.join();
    acknowledged.insert(acknowledged.end(), acked_now.begin(), acked_now.end());

    // After the restart every acknowledged lead is there.
    daemon = Start(run + "b");
    ASSERT_FALSE(address_.empty());
    for (const std::string& id : acknowledged) {
      grpc::Status s = GetLead(worker, id, nullptr);
      ASSERT_TRUE(s.ok()) << "acknowledged lead " << id << " lost: " << s.error_message();
    }
    // The whole log verifies offline, from sequence 1 with no gap, and extends
    // the checkpoint taken in the round before (nothing was rolled back).
    std::string file = Path(run + ".jsonl");
    Export(file);
    std::string out, err;
    ASSERT_EQ(Verify(file, &out, &err, trusted), 0) << err;
    EXPECT_TRUE(absl::StrContains(out, "(sequences 1..")) << out;
    if (!trusted.empty()) {
      EXPECT_TRUE(absl::StrContains(out, "consistent with the trusted")) << out;
    }
    trusted = Path(run + ".checkpoint");
    ASSERT_EQ(RunCtl(Concat(Connect("officer"), {"audit", "checkpoint", "-o", trusted}),
                     Path(run + ".cp")),
              0);
    EXPECT_EQ(Stop(*daemon), 0);
  }
  EXPECT_GE(acknowledged.size(), static_cast<size_t>(kRounds * kAcksPerRound));
}

// The newest WAL file damaged or lost after a kill -9 (a disk that lost synced
// data, a bad restore): the daemon refuses to start, with DATA_LOSS naming both
// sizes, instead of re-signing a shorter log that contradicts a checkpoint it
// already served; it signs nothing new; and it starts only with
// --recover-lost-log-tail, which the log records, so the officer holding the
// old checkpoint sees the fork for what it is.
TEST_F(AuditE2eTest, LostWalTailIsRefusedNeverReSignedAndRecoveryIsRecorded) {
  auto daemon = Start("a");
  ASSERT_FALSE(address_.empty());
  std::string worker =
      NewPrincipalFile(AdminToken("a"), "worker", {"intake", "capture"}, {"cardiology"});
  NewPrincipalFile(AdminToken("a"), "officer", {"compliance"});
  std::string pub;
  ASSERT_EQ(RunCtl(Concat(Connect("officer"), {"audit", "pubkey"}), Path("pubkey"), &pub), 0);
  WriteFileWithMode(Path("log.pub"), pub, 0600);
  // A clean stop flushes the principals to table files: only what follows is in the newest WAL.
  ASSERT_EQ(Stop(*daemon), 0);

  daemon = Start("b");
  ASSERT_FALSE(address_.empty());
  for (int i = 0; i < 20; ++i) {
    std::string key = absl::StrCat("wal-", i);
    ASSERT_FALSE(CreateLead(worker, SimpleLead(key, key + "@example.com")).empty());
  }
  const std::string served = Path("served.checkpoint");
  ASSERT_EQ(
      RunCtl(Concat(Connect("officer"), {"audit", "checkpoint", "-o", served}), Path("served")), 0);
  ASSERT_EQ(::kill(daemon->pid(), SIGKILL), 0);
  EXPECT_EQ(daemon->WaitExit(), -1);
  daemon.reset();

  // The mark beside the database holds exactly what was served.
  const std::string mark = DataDir() + "/audit-high-water";
  const std::string served_note = ReadFile(served);
  ASSERT_EQ(ReadFile(mark), served_note);
  std::vector<std::string> lines = absl::StrSplit(served_note, '\n');
  ASSERT_GE(lines.size(), 3u);
  const std::string served_size = lines[1];

  std::string newest_wal;
  for (const auto& e : fs::directory_iterator(DataDir() + "/db")) {
    std::string name = e.path().filename().string();
    if (absl::EndsWith(name, ".log") && (newest_wal.empty() || e.path().string() > newest_wal)) {
      newest_wal = e.path().string();
    }
  }
  ASSERT_FALSE(newest_wal.empty());
  ASSERT_GT(fs::file_size(newest_wal), 100u);
  const std::vector<std::string> args = {"--data-dir", DataDir(), "--listen", "127.0.0.1:0"};

  const std::string wal = ReadFile(newest_wal);

  // A record damaged inside the WAL (a byte of the first record's payload,
  // after its 7-byte header): RocksDB's own check refuses it.
  std::string flipped = wal;
  flipped[20] ^= 0x40;
  WriteFileWithMode(newest_wal, flipped, 0600);
  std::unique_ptr<Daemon> refused;
  EXPECT_NE(RunToExit("flipped", args, &refused), 0);
  EXPECT_TRUE(absl::StrContains(refused->err(), "DATA_LOSS")) << refused->err();
  EXPECT_TRUE(absl::StrContains(refused->err(), "write-ahead-log")) << refused->err();
  EXPECT_EQ(ReadFile(mark), served_note);

  // The tail cut inside the last record, the one that carried the served
  // checkpoint: an incomplete last record is what a crash mid-write leaves, so
  // RocksDB drops it (and says so), and the high-water mark refuses the now
  // shorter log.
  WriteFileWithMode(newest_wal, wal.substr(0, wal.size() - 7), 0600);
  EXPECT_NE(RunToExit("torn", args, &refused), 0);
  EXPECT_TRUE(absl::StrContains(refused->err(), "incomplete record")) << refused->err();
  EXPECT_TRUE(absl::StrContains(refused->err(), "high-water mark")) << refused->err();
  EXPECT_EQ(ReadFile(mark), served_note);

  // The refusal stands on every start (the dropped record is gone from the
  // database now), naming both sizes and the way out.
  EXPECT_NE(RunToExit("short", args, &refused), 0);
  const std::string err = refused->err();
  EXPECT_TRUE(absl::StrContains(err, "DATA_LOSS")) << err;
  EXPECT_TRUE(absl::StrContains(err, "high-water mark")) << err;
  EXPECT_TRUE(absl::StrContains(err, absl::StrCat("checkpoint of ", served_size, " entries")))
      << err;
  EXPECT_TRUE(absl::StrContains(err, "--recover-lost-log-tail")) << err;
  // Refusals sign nothing: the mark is what was served.
  EXPECT_EQ(ReadFile(mark), served_note);

  // The operator accepts the loss: the daemon serves, says so, and records it.
  daemon = Start("recovered", {"--recover-lost-log-tail"});
  ASSERT_FALSE(address_.empty()) << daemon->err();
  EXPECT_TRUE(absl::StrContains(daemon->err(), "accepted a log that lost its tail"))
      << daemon->err();
  EXPECT_TRUE(absl::StrContains(daemon->err(), absl::StrCat("high-water mark ", served_size)))
      << daemon->err();
  EXPECT_NE(ReadFile(mark), served_note);
  const std::string file = Path("after.jsonl");
  Export(file);
  EXPECT_TRUE(absl::StrContains(ReadFile(file), "RecoverLostLogTail"));
  std::string out, verify_err;
  // The log verifies on its own, but not as an extension of the served checkpoint: a fork.
  EXPECT_EQ(Verify(file, &out, &verify_err), 0) << verify_err;
  EXPECT_NE(Verify(file, &out, &verify_err, served), 0) << out;
  EXPECT_EQ(Stop(*daemon), 0);

  // The recovery moved the mark: a plain restart now serves.
  daemon = Start("again");
  ASSERT_FALSE(address_.empty()) << daemon->err();
  EXPECT_EQ(Stop(*daemon), 0);
}

TEST_F(AuditE2eTest, ExportedLogVerifiesAndEveryKindOfTamperingIsNamed) {
  auto daemon = Start("run");
  ASSERT_FALSE(address_.empty());
  std::string admin = AdminToken("run");
  std::string worker = NewPrincipalFile(admin, "worker", {"intake", "capture"}, {"cardiology"});
  NewPrincipalFile(admin, "officer", {"compliance"});
  std::string pub;
  ASSERT_EQ(RunCtl(Concat(Connect("officer"), {"audit", "pubkey"}), Path("pubkey"), &pub), 0);
  WriteFileWithMode(Path("log.pub"), pub, 0600);
  std::string read_lead;
  for (int i = 0; i < 10; ++i) {
    read_lead =
        CreateLead(worker, SimpleLead(absl::StrCat("t", i), absl::StrCat("t", i, "@example.com")));
  }
  ASSERT_TRUE(GetLead(worker, read_lead, nullptr).ok());
  // A request id shaped like a spreadsheet formula.
  auto ctx = Ctx(worker);
  ctx->AddMetadata("x-request-id", "=HYPERLINK(\"http://x\")");
  v1::GetLeadResponse got;
  v1::GetLeadRequest get;
  get.set_purpose(v1::PURPOSE_OF_USE_TREATMENT);
  get.set_lead_id(std::string(32, '0'));
  EXPECT_EQ(leads_->GetLead(ctx.get(), get, &got).error_code(), grpc::StatusCode::NOT_FOUND);
  ctx.reset();

  std::string file = Path("log.jsonl");
  Export(file);
  std::string out, err;
  ASSERT_EQ(Verify(file, &out, &err), 0) << err;

  // Lines: 1 header, entries 2..n-1, the checkpoint last.
  std::vector<std::string> lines = absl::StrSplit(ReadFile(file), '\n', absl::SkipEmpty());
  ASSERT_GT(lines.size(), 10u);
  auto write_lines = [&](const std::string& path, const std::vector<std::string>& ls) {
    std::string text;
    for (const std::string& l : ls) absl::StrAppend(&text, l, "\n");
    WriteFileWithMode(path, text, 0600);
  };
  struct Case {
    std::string name;
    std::vector<std::string> lines;
    std::string expect;  // in the failure message
  };
  std::vector<Case> cases;
  {
    auto ls = lines;  // entry 5 shown as someone else
    ls[5] = absl::StrReplaceAll(ls[5], {{"\"role\":\"", "\"role\":\"x"}});
    cases.push_back({"changed", ls, "sequence 5"});
  }
  {
    auto ls = lines;
    ls.erase(ls.begin() + 4);  // entry 4 deleted
    cases.push_back({"deleted", ls, "sequence 5"});
  }
  {
    auto ls = lines;
    std::swap(ls[6], ls[7]);
    cases.push_back({"reordered", ls, "sequence 7"});
  }
  {
    auto ls = lines;
    ls.insert(ls.begin() + 3, ls[3]);
    cases.push_back({"duplicated", ls, "sequence 3"});
  }
  {
    auto ls = lines;
    ls.resize(8);  // no checkpoint after entry 7
    cases.push_back({"truncated", ls, "truncated"});
  }
  for (const Case& c : cases) {
    std::string path = Path("tampered-" + c.name + ".jsonl");
    write_lines(path, c.lines);
    EXPECT_EQ(Verify(path, &out, &err), 1) << c.name;
    EXPECT_TRUE(absl::StrContains(err, c.expect)) << c.name << ": " << err;
  }

  // The accounting of disclosures lists the read, each row proven against the signed key.
  ASSERT_EQ(RunCtl(Concat(Connect("officer"),
                          {"audit", "accounting", read_lead, "--pubkey", Path("log.pub")}),
                   Path("accounting"), &out, &err),
            0)
      << err;
  EXPECT_TRUE(absl::StrContains(out, "1 disclosures, each proven")) << out;
  EXPECT_TRUE(absl::StrContains(out, "GetLead") || absl::StrContains(out, "first_name")) << out;

  // CSV: one row per entry plus a header, formulas neutralised, checkpoint beside it.
  std::string csv = Path("log.csv");
  Export(csv, {"--format", "csv"});
  std::string text = ReadFile(csv);
  EXPECT_TRUE(absl::StrContains(text, "'=HYPERLINK(")) << text.substr(0, 400);
  EXPECT_FALSE(absl::StrContains(text, ",=HYPERLINK("));
  EXPECT_TRUE(Exists(csv + ".checkpoint"));
  EXPECT_EQ(Stop(*daemon), 0);
}

// A filtered export from the real daemon carries its signed manifest, which
// `audit verify` checks and describes honestly; a deleted line is then caught,
// and a filtered CSV export gets its manifest beside it.
TEST_F(AuditE2eTest, FilteredExportCarriesASignedManifestThatVerifies) {
  auto daemon = Start("run");
  ASSERT_FALSE(address_.empty());
  std::string admin = AdminToken("run");
  std::string worker = NewPrincipalFile(admin, "worker", {"intake", "capture"}, {"cardiology"});
  NewPrincipalFile(admin, "officer", {"compliance"});
  std::string pub;
  ASSERT_EQ(RunCtl(Concat(Connect("officer"), {"audit", "pubkey"}), Path("pubkey"), &pub), 0);
  WriteFileWithMode(Path("log.pub"), pub, 0600);
  std::string lead;
  for (int i = 0; i < 5; ++i) {
    lead = CreateLead(worker, SimpleLead(absl::StrCat("f", i), absl::StrCat("f", i, "@x.example")));
  }
  ASSERT_TRUE(GetLead(worker, lead, nullptr).ok());
  ASSERT_TRUE(GetLead(worker, lead, nullptr).ok());

  // Its create, its two reads and the export's own entry.
  std::string file = Path("lead.jsonl");
  Export(file, {"--lead", lead});
  std::string text = ReadFile(file);
  EXPECT_TRUE(absl::StrContains(text, absl::StrCat("\"filter_lead_id\":\"", lead, "\"")));
  EXPECT_TRUE(absl::StrContains(text, " export-manifest\\n")) << text.substr(text.size() - 600);
  std::string out, err;
  ASSERT_EQ(Verify(file, &out, &err), 0) << err;
  EXPECT_TRUE(absl::StrContains(out, absl::StrCat("matching lead_id=", lead,
                                                  " is here: 4 entries, "
                                                  "as the daemon attested")))
      << out;
  EXPECT_TRUE(absl::StrContains(out, "only as honest as the daemon that made it")) << out;

  std::vector<std::string> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 6u);  // header, 4 entries, checkpoint with manifest
  lines.erase(lines.begin() + 2);
  std::string tampered;
  for (const std::string& l : lines) absl::StrAppend(&tampered, l, "\n");
  WriteFileWithMode(Path("lead-deleted.jsonl"), tampered, 0600);
  EXPECT_EQ(Verify(Path("lead-deleted.jsonl"), &out, &err), 1);
  EXPECT_TRUE(absl::StrContains(err, "the file has 3 entry lines, the daemon attested 4")) << err;

  // The unfiltered export says what it proves without the daemon's word.
  Export(Path("all.jsonl"));
  ASSERT_EQ(Verify(Path("all.jsonl"), &out, &err), 0) << err;
  EXPECT_TRUE(absl::StrContains(out, "relies on the daemon only for signing that root")) << out;

  std::string csv = Path("lead.csv");
  Export(csv, {"--format", "csv", "--lead", lead});
  EXPECT_TRUE(Exists(csv + ".checkpoint"));
  ASSERT_TRUE(Exists(csv + ".manifest"));
  EXPECT_TRUE(absl::StrContains(ReadFile(csv + ".manifest"), " export-manifest\n"));
  EXPECT_FALSE(Exists(Path("all.jsonl.manifest")));
  EXPECT_EQ(Stop(*daemon), 0);
}

// Exports say who read which lead: they are created new and private (0600),
// never through a symlink nor over an existing file, and so is the CSV's
// checkpoint beside it.
TEST_F(AuditE2eTest, ExportsAreNewPrivateFilesAndAnExistingPathIsRefusedByName) {
  auto daemon = Start("run");
  ASSERT_FALSE(address_.empty());
  NewPrincipalFile(AdminToken("run"), "officer", {"compliance"});
  const mode_t old_umask = ::umask(022);  // what a shell usually has: no help from it
  const std::string jsonl = Path("log.jsonl"), csv = Path("log.csv");
  Export(jsonl);
  Export(csv, {"--format", "csv"});
  for (const std::string& file : {jsonl, csv, csv + ".checkpoint"}) {
    struct stat st;
    ASSERT_EQ(::lstat(file.c_str(), &st), 0) << file;
    EXPECT_TRUE(S_ISREG(st.st_mode)) << file;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << file;
  }

  int run = 0;
  auto refused = [&](const std::string& file, std::vector<std::string> extra,
                     const std::string& named) {
    std::vector<std::string> args = Concat(Connect("officer"), {"audit", "export", "-o", file});
    args.insert(args.end(), extra.begin(), extra.end());
    std::string err;
    EXPECT_EQ(RunCtl(args, Path(absl::StrCat("refused", ++run)), nullptr, &err), 1) << file;
    EXPECT_TRUE(absl::StrContains(err, named + " already exists; refusing to overwrite it"))
        << file << ": " << err;
  };
  const std::string victim = Path("victim");
  WriteFileWithMode(victim, "victim\n", 0644);

  // An earlier export is not overwritten.
  const std::string before = ReadFile(jsonl);
  refused(jsonl, {}, jsonl);
  EXPECT_EQ(ReadFile(jsonl), before);

  // A symlink at the output, live or dangling, is refused: nothing written through it.
  ASSERT_EQ(::symlink(victim.c_str(), Path("link.jsonl").c_str()), 0);
  refused(Path("link.jsonl"), {}, Path("link.jsonl"));
  ASSERT_EQ(::symlink(Path("made-through-link").c_str(), Path("dangling.jsonl").c_str()), 0);
  refused(Path("dangling.jsonl"), {}, Path("dangling.jsonl"));
  EXPECT_FALSE(Exists(Path("made-through-link")));

  // The CSV's FILE.checkpoint, and the FILE.partial an export is written to
  // first, are refused the same way; the export is then not written at all.
  ASSERT_EQ(::symlink(victim.c_str(), Path("side.csv.checkpoint").c_str()), 0);
  refused(Path("side.csv"), {"--format", "csv"}, Path("side.csv.checkpoint"));
  EXPECT_FALSE(Exists(Path("side.csv")));
  ASSERT_EQ(::symlink(victim.c_str(), Path("part.jsonl.partial").c_str()), 0);
  refused(Path("part.jsonl"), {}, Path("part.jsonl.partial"));
  EXPECT_FALSE(Exists(Path("part.jsonl")));
  EXPECT_EQ(ReadFile(victim), "victim\n");

  // A range that matches nothing (a past month, as a copied example has): an
  // empty export that says so, rather than silently.
  std::string err;
  ASSERT_EQ(RunCtl(Concat(Connect("officer"), {"audit", "export", "--since", "2020-11-01",
                                               "--until", "2020-12-01", "-o", Path("empty.jsonl")}),
                   Path("empty"), nullptr, &err),
            0)
      << err;
  EXPECT_TRUE(absl::StrContains(err, "exported 0 entries")) << err;
  EXPECT_TRUE(absl::StrContains(err, "no entry matched the time range")) << err;

  ::umask(old_umask);
  EXPECT_EQ(Stop(*daemon), 0);
}

// The CSV export for spreadsheets: plain-language columns, times a
// spreadsheet reads, status names beside codes, display names from the
// export's own CreatePrincipal entries (an id alone for a principal created
// before the range), the canonical column only with --csv-canonical, and a
// display name shaped like a formula neutralised. The accounting and the
// emergency list name principals too.
TEST_F(AuditE2eTest, CsvExportNamesPrincipalsForSpreadsheets) {
  auto daemon = Start("run");
  ASSERT_FALSE(address_.empty());
  const std::string admin = AdminToken("run");
  const std::string worker =
      NewPrincipalFile(admin, "worker", {"intake", "capture"}, {"cardiology"});
  const std::string worker_id = worker.substr(3, 16);
  NewPrincipalFile(admin, "officer", {"compliance"});
  const std::string formula = "=HYPERLINK(\"http://x.example/\",\"click\")";
  v1::CreatePrincipalRequest create;
  create.set_display_name(formula);
  create.add_roles("analyst");
  v1::CreatePrincipalResponse created;
  grpc::Status s = admin_->CreatePrincipal(Ctx(admin).get(), create, &created);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const std::string formula_id = created.principal().principal_id();
  std::string pub;
  ASSERT_EQ(RunCtl(Concat(Connect("officer"), {"audit", "pubkey"}), Path("pubkey"), &pub), 0);
  WriteFileWithMode(Path("log.pub"), pub, 0600);

  const std::string lead = CreateLead(worker, SimpleLead("csv", "csv@example.com"));
  ASSERT_TRUE(GetLead(worker, lead, nullptr).ok());
  // Denied: the worker is known but not an admin.
  v1::ListPrincipalsResponse principals;
  ASSERT_EQ(admin_->ListPrincipals(Ctx(worker).get(), {}, &principals).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // The formula-named analyst makes a call of its own.
  GetLead(created.token(), lead, nullptr);

  const std::string csv = Path("log.csv");
  Export(csv, {"--format", "csv"});
  const std::string text = ReadFile(csv);
  std::vector<std::string> header;
  std::vector<std::map<std::string, std::string>> records = CsvRecords(text, &header);
  EXPECT_EQ(header,
            (std::vector<std::string>{
                "Sequence", "Time (UTC)", "Exact Time (RFC 3339)", "Principal ID", "Principal Name",
                "Role", "Action", "Outcome", "Status Code", "Status Name", "Lead IDs", "Fields",
                "Blind Tokens", "Purpose", "Request ID", "Client Address", "Break-Glass Reason",
                "Target Principal ID", "Target Principal Name"}))
      << "no canonical column without --csv-canonical";
  ASSERT_GT(records.size(), 6u);
  uint64_t last_creation = 0;
  bool read = false, denied = false, formula_row = false, formula_created = false;
  for (const auto& r : records) {
    EXPECT_TRUE(IsSpreadsheetTime(r.at("Time (UTC)"))) << r.at("Time (UTC)");
    EXPECT_TRUE(absl::EndsWith(r.at("Exact Time (RFC 3339)"), "Z")) << r.at("Sequence");
    EXPECT_EQ(r.at("Exact Time (RFC 3339)").substr(0, 19),
              absl::StrReplaceAll(r.at("Time (UTC)"), {{" ", "T"}}));
    if (r.at("Action") == "CreatePrincipal") {
      last_creation = std::max<uint64_t>(last_creation, std::stoull(r.at("Sequence")));
    }
    if (r.at("Principal ID") == worker_id && r.at("Action") == "GetLead") {
      read = true;
      EXPECT_EQ(r.at("Principal Name"), "worker");
      EXPECT_EQ(r.at("Outcome"), "allowed");
      EXPECT_EQ(r.at("Status Code"), "0");
      EXPECT_EQ(r.at("Status Name"), "OK");
      EXPECT_EQ(r.at("Lead IDs"), lead);
    }
    if (r.at("Principal ID") == worker_id && r.at("Action") == "ListPrincipals") {
      denied = true;
      EXPECT_EQ(r.at("Outcome"), "denied");
      EXPECT_EQ(r.at("Status Code"), "7");
      EXPECT_EQ(r.at("Status Name"), "PERMISSION_DENIED");
    }
    if (r.at("Principal ID") == formula_id) {
      formula_row = true;
      EXPECT_EQ(r.at("Principal Name"), "'" + formula);
    }
    if (r.at("Action") == "CreatePrincipal" && r.at("Target Principal ID") == formula_id) {
      formula_created = true;
      EXPECT_EQ(r.at("Target Principal Name"), "'" + formula);
      EXPECT_EQ(r.at("Principal Name"), "bootstrap admin");  // named by its own creation
    }
  }
  EXPECT_TRUE(read && denied && formula_row && formula_created) << text.substr(0, 2000);
  EXPECT_TRUE(absl::StrContains(text, "\"'=HYPERLINK(\"\"http://x.example/\"\",\"\"click\"\")\""));
  EXPECT_FALSE(absl::StrContains(text, ",=HYPERLINK"));
  EXPECT_FALSE(absl::StrContains(text, ",\"=HYPERLINK"));

  // With --csv-canonical: the same rows and the canonical bytes last, as in
  // the JSON Lines export.
  const std::string with_canonical = Path("canonical.csv");
  Export(with_canonical, {"--format", "csv", "--csv-canonical", "--to-seq", "5"});
  std::vector<std::map<std::string, std::string>> canonical_records =
      CsvRecords(ReadFile(with_canonical), &header);
  ASSERT_EQ(header.back(), "Canonical Entry (base64)");
  ASSERT_EQ(canonical_records.size(), 5u);
  Export(Path("first.jsonl"), {"--to-seq", "5"});
  const std::string jsonl = ReadFile(Path("first.jsonl"));
  for (const auto& r : canonical_records) {
    EXPECT_TRUE(absl::StrContains(
        jsonl, absl::StrCat("\"canonical\":\"", r.at("Canonical Entry (base64)"), "\"")))
        << r.at("Sequence");
  }
  std::string out, err;
  EXPECT_EQ(RunCtl(Concat(Connect("officer"),
                          {"audit", "export", "-o", Path("x.jsonl"), "--csv-canonical"}),
                   Path("x"), &out, &err),
            2);
  EXPECT_TRUE(absl::StrContains(err, "--csv-canonical needs --format csv")) << err;
  EXPECT_FALSE(Exists(Path("x.jsonl")));

  // A range that starts after the principals were created: ids alone, never a failure.
  ASSERT_GT(last_creation, 0u);
  const std::string later = Path("later.csv");
  Export(later, {"--format", "csv", "--from-seq", absl::StrCat(last_creation + 1)});
  bool worker_seen = false;
  for (const auto& r : CsvRecords(ReadFile(later), &header)) {
    if (r.at("Principal ID") == worker_id) {
      worker_seen = true;
      EXPECT_EQ(r.at("Principal Name"), "") << "created outside the range";
    }
  }
  EXPECT_TRUE(worker_seen);

  // The accounting names the reader beside its id.
  ASSERT_EQ(
      RunCtl(Concat(Connect("officer"), {"audit", "accounting", lead, "--pubkey", Path("log.pub")}),
             Path("accounting"), &out, &err),
      0)
      << err;
  EXPECT_TRUE(absl::StrContains(out, absl::StrCat("worker (", worker_id, ")"))) << out;

  // The emergency list names who opened a grant.
  ASSERT_EQ(RunCtl(Concat(Connect("worker"), {"emergency", "open", "--lead", lead, "--minutes", "5",
                                              "--reason", "patient unresponsive at triage"}),
                   Path("open"), &out, &err),
            0)
      << err;
  ASSERT_EQ(RunCtl(Concat(Connect("officer"), {"emergency", "list"}), Path("list"), &out, &err), 0)
      << err;
  EXPECT_TRUE(absl::StrContains(out, absl::StrCat("principal worker (", worker_id, ")"))) << out;
  EXPECT_EQ(Stop(*daemon), 0);
}

}  // namespace
}  // namespace leadvault::e2e
