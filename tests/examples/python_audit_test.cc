// The Python verifier of examples/python (written from audit/FORMAT.md alone)
// against the code: it checks every test vector, accepts what the real daemon
// exports, and refuses each kind of tampering naming the sequence that
// `leadvaultctl audit verify` names.
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "tests/e2e/e2e_fixture.h"

#if !defined(LEADVAULTCTL_PATH) || !defined(LEADVAULT_PYTHON3) || !defined(LEADVAULT_AUDIT_PY) || \
    !defined(LEADVAULT_FORMAT_VECTORS)
#error \
    "LEADVAULTCTL_PATH, LEADVAULT_PYTHON3, LEADVAULT_AUDIT_PY and LEADVAULT_FORMAT_VECTORS must be defined by the build"
#endif

namespace leadvault::e2e {
namespace {

struct ProgramRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

ProgramRun RunPython(const std::vector<std::string>& args, const std::string& log_prefix) {
  std::vector<std::string> argv = {LEADVAULT_AUDIT_PY};
  argv.insert(argv.end(), args.begin(), args.end());
  ProgramRun run;
  run.exit_code = RunProgram(LEADVAULT_PYTHON3, argv, log_prefix, &run.out, &run.err);
  return run;
}

ProgramRun RunCtl(const std::vector<std::string>& args, const std::string& log_prefix) {
  ProgramRun run;
  run.exit_code = RunProgram(LEADVAULTCTL_PATH, args, log_prefix, &run.out, &run.err);
  return run;
}

// "sequence N (line M)" at the start of a failure message after `marker`, or "".
std::string NamedPlace(const std::string& err, const std::string& marker) {
  const size_t at = err.find(marker);
  if (at == std::string::npos) return "";
  const size_t begin = at + marker.size();
  const size_t end = err.find("): ", begin);
  return end == std::string::npos ? "" : err.substr(begin, end + 1 - begin);
}

TEST(PythonVectorsTest, PythonVerifierChecksEveryVector) {
  testing::ScratchDir dir;
  ProgramRun run = RunPython({"vectors", LEADVAULT_FORMAT_VECTORS}, dir.path() + "/vectors");
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(absl::StartsWith(run.out, "OK: ")) << run.out;
  EXPECT_TRUE(absl::StrContains(run.out, " checks of ")) << run.out;
}

class PythonAuditE2eTest : public E2eTest {
 protected:
  std::vector<std::string> Officer(std::vector<std::string> args) {
    std::vector<std::string> out = {"--server", address_, "--token-file", Path("officer.token")};
    out.insert(out.end(), args.begin(), args.end());
    return out;
  }

  void Export(const std::string& file, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"audit", "export", "-o", file};
    args.insert(args.end(), extra.begin(), extra.end());
    ProgramRun run = RunCtl(Officer(args), file + ".export");
    ASSERT_EQ(run.exit_code, 0) << run.err;
  }

  ProgramRun PythonVerify(const std::string& file, const std::string& trusted = "") {
    std::vector<std::string> args = {"verify", file, "--pubkey", Path("log.pub")};
    if (!trusted.empty()) args.insert(args.end(), {"--trusted", trusted});
    return RunPython(args, file + ".py");
  }

  ProgramRun CtlVerify(const std::string& file, const std::string& trusted = "") {
    std::vector<std::string> args = {"audit", "verify", file, "--pubkey", Path("log.pub")};
    if (!trusted.empty()) args.insert(args.end(), {"--trusted", trusted});
    return RunCtl(args, file + ".ctl");
  }

  void WriteLines(const std::string& path, const std::vector<std::string>& lines) {
    std::string text;
    for (const std::string& l : lines) absl::StrAppend(&text, l, "\n");
    WriteFileWithMode(path, text, 0600);
  }

  // Both verifiers refuse `lines` with exit 1; Python names `place`
  // ("sequence N (line M)"), as leadvaultctl does.
  void ExpectRefusedAt(const std::string& name, const std::vector<std::string>& lines,
                       const std::string& place, const std::string& what) {
    SCOPED_TRACE(name);
    const std::string path = Path(name + ".jsonl");
    WriteLines(path, lines);
    ProgramRun py = PythonVerify(path);
    EXPECT_EQ(py.exit_code, 1) << py.out << py.err;
    EXPECT_EQ(NamedPlace(py.err, "verify FAILED: "), place) << py.err;
    EXPECT_TRUE(absl::StrContains(py.err, what)) << py.err;
    ProgramRun ctl = CtlVerify(path);
    EXPECT_EQ(ctl.exit_code, 1) << ctl.out << ctl.err;
    EXPECT_EQ(NamedPlace(ctl.err, "verify FAILED: "), place) << ctl.err;
  }
};

TEST_F(PythonAuditE2eTest, PythonVerifierAcceptsTheDaemonsExportsAndNamesTampering) {
  auto daemon = Start("run");
  ASSERT_FALSE(address_.empty());
  const std::string worker =
      NewPrincipalFile(AdminToken("run"), "worker", {"intake", "capture"}, {"cardiology"});
  NewPrincipalFile(AdminToken("run"), "officer", {"compliance"});
  ProgramRun pub = RunCtl(Officer({"audit", "pubkey"}), Path("pubkey"));
  ASSERT_EQ(pub.exit_code, 0) << pub.err;
  WriteFileWithMode(Path("log.pub"), pub.out, 0600);

  // A checkpoint kept from early on; then leads, reads and a denied read.
  const std::string early = Path("early.checkpoint");
  ProgramRun cp = RunCtl(Officer({"audit", "checkpoint", "-o", early}), Path("early"));
  ASSERT_EQ(cp.exit_code, 0) << cp.err;
  std::vector<std::string> leads;
  for (int i = 0; i < 6; ++i) {
    leads.push_back(CreateLead(
        worker, SimpleLead(absl::StrCat("py", i), absl::StrCat("py", i, "@example.com"))));
  }
  ASSERT_TRUE(GetLead(worker, leads[2], nullptr).ok());
  ASSERT_TRUE(GetLead(worker, leads[2], nullptr).ok());
  EXPECT_EQ(GetLead(worker, std::string(32, '0'), nullptr).error_code(),
            grpc::StatusCode::NOT_FOUND);

  // (b) The whole log, alone and against the early checkpoint.
  const std::string all = Path("all.jsonl");
  Export(all);
  ProgramRun py = PythonVerify(all);
  ASSERT_EQ(py.exit_code, 0) << py.err;
  EXPECT_TRUE(absl::StartsWith(py.out, "OK: ")) << py.out;
  EXPECT_TRUE(absl::StrContains(py.out, "(sequences 1..")) << py.out;
  EXPECT_TRUE(absl::StrContains(py.out, "relies on the daemon only for signing that root"))
      << py.out;
  py = PythonVerify(all, early);
  ASSERT_EQ(py.exit_code, 0) << py.err;
  EXPECT_TRUE(absl::StrContains(py.out, "consistent with the trusted checkpoint")) << py.out;

  // A range that starts after the early checkpoint's tree: its consistency
  // line (from the daemon's proof) is what proves it extends that tree.
  const std::vector<std::string> early_lines = absl::StrSplit(ReadFile(early), '\n');
  ASSERT_GE(early_lines.size(), 3u);
  uint64_t early_size = 0;
  ASSERT_TRUE(absl::SimpleAtoi(early_lines[1], &early_size)) << early_lines[1];
  const std::string tail = Path("tail.jsonl");
  Export(tail, {"--from-seq", absl::StrCat(early_size + 3), "--trusted", early});
  EXPECT_TRUE(absl::StrContains(ReadFile(tail), "{\"type\":\"consistency\",\"from_size\":"));
  py = PythonVerify(tail, early);
  ASSERT_EQ(py.exit_code, 0) << py.err;
  EXPECT_TRUE(absl::StrContains(py.out, "consistent with the trusted checkpoint")) << py.out;
  EXPECT_TRUE(absl::StrContains(py.out, absl::StrCat("(sequences ", early_size + 3, "..")))
      << py.out;

  // (c) Tampering, each named at the sequence leadvaultctl names.
  const std::vector<std::string> lines = absl::StrSplit(ReadFile(all), '\n', absl::SkipEmpty());
  ASSERT_GT(lines.size(), 10u);  // line i + 1 holds sequence i
  {
    std::vector<std::string> ls = lines;
    const size_t at = ls[5].find("\"action\":\"") + 10;
    ASSERT_GT(at, 10u);
    ls[5][at] ^= 0x20;  // one byte of sequence 5's displayed action: its case
    ExpectRefusedAt("flipped", ls, "sequence 5 (line 6)", "the displayed fields differ");
  }
  {
    std::vector<std::string> ls = lines;
    ls.erase(ls.begin() + 5);
    ExpectRefusedAt("dropped", ls, "sequence 5 (line 6)", "missing: found sequence 6 here");
  }
  {
    std::vector<std::string> ls = lines;
    std::swap(ls[6], ls[7]);
    ExpectRefusedAt("reordered", ls, "sequence 6 (line 7)", "missing: found sequence 7 here");
  }
  {
    std::vector<std::string> ls = lines;
    ls.pop_back();  // the checkpoint line
    const std::string path = Path("truncated.jsonl");
    WriteLines(path, ls);
    ProgramRun refused = PythonVerify(path);
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_TRUE(absl::StrContains(refused.err, "verify FAILED: truncated: no checkpoint line"))
        << refused.err;
  }

  // (d) A filtered export with the daemon's signed manifest.
  const std::string lead = Path("lead.jsonl");
  Export(lead, {"--lead", leads[2]});
  py = PythonVerify(lead);
  ASSERT_EQ(py.exit_code, 0) << py.err;
  EXPECT_TRUE(absl::StrContains(py.out, "filtered, each with its inclusion proof")) << py.out;
  EXPECT_TRUE(absl::StrContains(py.out, "(lead_id) is here: 4 entries")) << py.out;
  EXPECT_EQ(CtlVerify(lead).exit_code, 0);
  std::vector<std::string> filtered = absl::StrSplit(ReadFile(lead), '\n', absl::SkipEmpty());
  ASSERT_EQ(filtered.size(), 6u);  // header, create, two reads, this export, checkpoint
  filtered.erase(filtered.begin() + 2);
  WriteLines(Path("lead-dropped.jsonl"), filtered);
  py = PythonVerify(Path("lead-dropped.jsonl"));
  EXPECT_EQ(py.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(
      py.err, "manifest: the file has 3 entry lines, the daemon attested 4 matching entries"))
      << py.err;

  // No message quotes an entry's values: not a lead id, not the principal.
  for (const char* name : {"flipped", "dropped", "reordered"}) {
    const std::string err = ReadFile(Path(absl::StrCat(name, ".jsonl.py.stderr")));
    for (const std::string& id : leads) EXPECT_FALSE(absl::StrContains(err, id)) << err;
    EXPECT_FALSE(absl::StrContains(err, "GetLead")) << err;
    EXPECT_FALSE(absl::StrContains(err, "CreateLead")) << err;
  }
  EXPECT_EQ(Stop(*daemon), 0);
}

}  // namespace
}  // namespace leadvault::e2e
