// The compliance export end to end: exports written with the real writer
// (export_format), a real Merkle tree and a real signed checkpoint, then
// verified offline; every kind of tampering must be caught where it happened.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "audit/audit_entry.h"
#include "audit/checkpoint.h"
#include "audit/export_format.h"
#include "audit/export_manifest.h"
#include "audit/merkle.h"
#include "audit/verifier.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "keys/hash.h"
#include "keys/secret_bytes.h"
#include "keys/signing.h"
#include "tests/audit/memory_tree.h"

namespace leadvault::audit {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kOrigin[] = "audit.leadvault.test";
// Every TestLog entry names this lead too, so the default filter of a filtered
// export matches every entry and a test can select any subset (as a daemon
// that attests a subset could: the selection is the daemon's word).
constexpr char kEveryLead[] = "ffffffffffffffffffffffffffffffff";

std::string Hex32(uint64_t seed) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(32, '0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
  for (char& c : out) {
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ull;
    c = kHex[x >> 60];
  }
  return out;
}

absl::Time BaseTime() {
  return absl::FromCivil(absl::CivilSecond(2026, 12, 1, 13, 0, 0), absl::UTCTimeZone()) +
         absl::Microseconds(123456);
}

// Deterministic, varied entries, like the daemon writes.
AuditEntry MakeEntry(uint64_t seq) {
  static const char* const kActions[] = {"GetLead", "CreateLead", "FindLeads", "UpdateStatus"};
  static const char* const kRoles[] = {"intake", "capture", "compliance", "admin"};
  AuditEntry e;
  e.sequence = seq;
  e.time = BaseTime() + absl::Microseconds(static_cast<int64_t>(seq) * 1'234'567);
  e.principal_id = Hex32(seq % 17);
  e.role = kRoles[seq % 4];
  e.action = kActions[seq % 4];
  e.outcome = seq % 11 == 0 ? Outcome::kDenied : Outcome::kAllowed;
  e.code = seq % 11 == 0 ? 7 : 0;
  e.lead_ids = {Hex32(seq + 1000)};
  if (seq % 4 == 0) e.fields = {"first_name", "last_name", "email", "phone"};
  if (seq % 4 == 2) e.blind_tokens = {Hex32(seq + 7)};
  e.purpose = seq % 4 == 0 ? "treatment" : "";
  e.request_id = Hex32(seq + 99).substr(0, 16);
  e.peer = "ipv4:127.0.0.1:54321";
  if (seq % 97 == 0) e.break_glass_reason = "patient in ER, consent on file";
  return e;
}

struct ExportSpec {
  uint64_t first = 1;
  uint64_t last = 0;  // default: the log's size
  uint64_t size = 0;  // checkpoint tree size; default: the log's size
  bool filtered = false;
  std::vector<uint64_t> selected;           // filtered: the sequences exported
  ExportFilter filter{"", "", kEveryLead};  // filtered: in the header and manifest
  std::optional<uint64_t> consistency_from;

  ExportSpec& set_first(uint64_t v) {
    first = v;
    return *this;
  }
  ExportSpec& set_last(uint64_t v) {
    last = v;
    return *this;
  }
  ExportSpec& set_size(uint64_t v) {
    size = v;
    return *this;
  }
  ExportSpec& set_filtered(bool v) {
    filtered = v;
    return *this;
  }
  ExportSpec& set_selected(std::vector<uint64_t> v) {
    selected = std::move(v);
    return *this;
  }
  ExportSpec& set_filter(ExportFilter v) {
    filter = std::move(v);
    return *this;
  }
  ExportSpec& set_consistency_from(uint64_t v) {
    consistency_from = v;
    return *this;
  }
};

// A log of n entries with its tree and signing key.
class TestLog {
 public:
  explicit TestLog(uint64_t n, std::function<void(AuditEntry&)> mutate = nullptr) {
    std::string seed(keys::kEd25519SeedSize, '\0');
    for (size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<char>(i + 1);
    key_ = *keys::SigningKey::FromSeed(keys::SecretBytes::CopyFrom(seed));
    signer_.emplace(*NoteSigner::Create(kOrigin, key_.get()));
    verifier_.emplace(*NoteVerifier::Parse(signer_->VerifierKey()));
    for (uint64_t seq = 1; seq <= n; ++seq) {
      AuditEntry e = MakeEntry(seq);
      if (mutate) mutate(e);
      e.lead_ids.push_back(kEveryLead);
      canonical_.push_back(EncodeCanonical(e));
      entries_.push_back(std::move(e));
      tree_.Append(LeafHash(canonical_.back()));
    }
  }

  uint64_t size() const { return entries_.size(); }
  const AuditEntry& entry(uint64_t seq) const { return entries_[seq - 1]; }
  const std::string& canonical(uint64_t seq) const { return canonical_[seq - 1]; }
  const NoteVerifier& verifier() const { return *verifier_; }
  const NoteSigner& signer() const { return *signer_; }
  MemoryTree& tree() { return tree_; }

  Checkpoint CheckpointAt(uint64_t size) { return Checkpoint{kOrigin, size, *RootAt(size, tree_)}; }
  std::string SignedNote(uint64_t size) {
    return signer_->Sign(FormatCheckpoint(CheckpointAt(size)));
  }

  // The sequences of [first, last] that `filter` matches.
  std::vector<uint64_t> Matching(uint64_t first, uint64_t last, const ExportFilter& filter) const {
    std::vector<uint64_t> out;
    for (uint64_t seq = first; seq <= last; ++seq) {
      if (filter.Matches(entry(seq))) out.push_back(seq);
    }
    return out;
  }

  // The manifest a daemon would sign for the filtered export `spec`
  // (spec.last and spec.size set).
  ExportManifest ManifestOf(const ExportSpec& spec) {
    ExportManifest m;
    m.origin = kOrigin;
    const Checkpoint cp = CheckpointAt(spec.size);
    m.tree_size = cp.size;
    m.root = cp.root;
    m.first_sequence = spec.first;
    m.last_sequence = spec.last;
    m.filter = spec.filter;
    LeafChain chain;
    for (uint64_t seq : spec.selected) chain.Append(LeafHash(canonical(seq)));
    m.matches = chain.count();
    m.leaf_chain = chain.value();
    return m;
  }

  std::string EntryLine(const AuditEntry& e, const std::string& canonical,
                        const std::vector<Hash>* inclusion) const {
    std::string line;
    AppendJsonlEntry(e, canonical, inclusion, line);
    return line;
  }

  // The export's lines, each ending in '\n'.
  std::vector<std::string> Lines(ExportSpec spec) {
    if (spec.last == 0) spec.last = size();
    if (spec.size == 0) spec.size = size();
    std::vector<std::string> lines;
    ExportHeader header;
    header.origin = kOrigin;
    header.first_sequence = spec.first;
    header.last_sequence = spec.last;
    header.filtered = spec.filtered;
    if (spec.filtered) header.filter = spec.filter;
    if (!spec.filtered) header.left_frontier = *tree_.ReadNodes(RangeNodes(0, spec.first - 1));
    lines.emplace_back();
    AppendJsonlHeader(header, lines.back());
    if (spec.filtered) {
      for (uint64_t seq : spec.selected) {
        std::vector<Hash> proof = *InclusionProof(seq - 1, spec.size, tree_);
        lines.push_back(EntryLine(entry(seq), canonical(seq), &proof));
      }
    } else {
      for (uint64_t seq = spec.first; seq <= spec.last; ++seq) {
        lines.push_back(EntryLine(entry(seq), canonical(seq), nullptr));
      }
    }
    ExportTrailer trailer;
    trailer.checkpoint_note = SignedNote(spec.size);
    if (!spec.filtered) trailer.right_nodes = *tree_.ReadNodes(RangeNodes(spec.last, spec.size));
    if (spec.filtered)
      trailer.manifest_note = signer_->Sign(FormatExportManifest(ManifestOf(spec)));
    lines.emplace_back();
    AppendJsonlTrailer(trailer, lines.back());
    if (spec.consistency_from.has_value()) {
      lines.emplace_back();
      AppendJsonlConsistency(*spec.consistency_from,
                             *ConsistencyProof(*spec.consistency_from, spec.size, tree_),
                             lines.back());
    }
    return lines;
  }

 private:
  std::unique_ptr<keys::SigningKey> key_;
  std::optional<NoteSigner> signer_;
  std::optional<NoteVerifier> verifier_;
  std::vector<AuditEntry> entries_;
  std::vector<std::string> canonical_;
  MemoryTree tree_;
};

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += line;
  return out;
}

std::string TempPath() {
  const testing::TestInfo* info = testing::UnitTest::GetInstance()->current_test_info();
  return absl::StrCat(testing::TempDir(), "/export_verify_", info->test_suite_name(), "_",
                      info->name(), ".jsonl");
}

absl::StatusOr<VerifyReport> VerifyText(const std::string& text, const NoteVerifier& verifier,
                                        std::optional<Checkpoint> trusted = std::nullopt) {
  const std::string path = TempPath();
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    EXPECT_TRUE(out.good());
  }
  VerifyOptions options;
  options.verifier = &verifier;
  options.trusted = std::move(trusted);
  absl::StatusOr<VerifyReport> report = VerifyExportFile(path, options);
  std::remove(path.c_str());
  return report;
}

class ExportVerifyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { log_ = new TestLog(1000); }
  static void TearDownTestSuite() {
    delete log_;
    log_ = nullptr;
  }

  absl::StatusOr<VerifyReport> Verify(const std::vector<std::string>& lines,
                                      std::optional<Checkpoint> trusted = std::nullopt) {
    return VerifyText(Join(lines), log_->verifier(), std::move(trusted));
  }
  // Expects verification to fail with INVALID_ARGUMENT and a message containing `what`.
  void ExpectFailure(const std::vector<std::string>& lines, absl::string_view what,
                     std::optional<Checkpoint> trusted = std::nullopt) {
    absl::StatusOr<VerifyReport> report = Verify(lines, std::move(trusted));
    ASSERT_FALSE(report.ok()) << "verified, expected: " << what;
    EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument) << report.status();
    EXPECT_THAT(std::string(report.status().message()), HasSubstr(std::string(what)));
  }

  static TestLog* log_;
};
TestLog* ExportVerifyTest::log_ = nullptr;

// --- Valid exports ---------------------------------------------------------

TEST_F(ExportVerifyTest, FullExportVerifies) {
  absl::StatusOr<VerifyReport> report = Verify(log_->Lines({}));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->entries, 1000u);
  EXPECT_EQ(report->first_sequence, 1u);
  EXPECT_EQ(report->last_sequence, 1000u);
  EXPECT_FALSE(report->filtered);
  EXPECT_EQ(report->checkpoint.size, 1000u);
  EXPECT_EQ(report->checkpoint.root, log_->CheckpointAt(1000).root);
  EXPECT_EQ(report->checkpoint.origin, kOrigin);
  EXPECT_FALSE(report->trusted_checked);
}

TEST_F(ExportVerifyTest, MiddleRangeWithFrontierAndRightNodesVerifies) {
  absl::StatusOr<VerifyReport> report =
      Verify(log_->Lines(ExportSpec().set_first(401).set_last(700)));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->entries, 300u);
  EXPECT_EQ(report->first_sequence, 401u);
  EXPECT_EQ(report->last_sequence, 700u);
  // A checkpoint exactly at the range's end, and ranges on subtree borders.
  for (ExportSpec spec : {ExportSpec().set_first(401).set_last(700).set_size(700),
                          ExportSpec().set_first(257).set_last(512).set_size(513),
                          ExportSpec().set_first(1000).set_last(1000),
                          ExportSpec().set_first(1).set_last(1).set_size(1)}) {
    report = Verify(log_->Lines(spec));
    EXPECT_TRUE(report.ok()) << spec.first << ".." << spec.last << "@" << spec.size << ": "
                             << report.status();
  }
}

TEST_F(ExportVerifyTest, EmptyRangeVerifies) {
  absl::StatusOr<VerifyReport> report =
      Verify(log_->Lines(ExportSpec().set_first(501).set_last(500)));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->entries, 0u);
}

TEST_F(ExportVerifyTest, FilteredExportWithInclusionProofsVerifies) {
  absl::StatusOr<VerifyReport> report = Verify(log_->Lines(
      ExportSpec().set_filtered(true).set_selected({1, 2, 17, 256, 257, 500, 999, 1000})));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->entries, 8u);
  EXPECT_TRUE(report->filtered);
  report = Verify(log_->Lines(
      ExportSpec().set_first(401).set_last(700).set_size(800).set_filtered(true).set_selected(
          {401, 555, 700})));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->entries, 3u);
  report = Verify(log_->Lines(
      ExportSpec().set_first(1).set_last(1).set_size(1).set_filtered(true).set_selected({1})));
  EXPECT_TRUE(report.ok()) << report.status();  // an empty inclusion proof
  report = Verify(log_->Lines(ExportSpec().set_filtered(true).set_selected({})));
  EXPECT_TRUE(report.ok()) << report.status();
}

TEST_F(ExportVerifyTest, ExportsLargerThanTheReadBufferVerify) {
  TestLog log(20000);  // about 12 MB, several read buffers
  absl::StatusOr<VerifyReport> report = VerifyText(Join(log.Lines({})), log.verifier());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->entries, 20000u);
  // Tampering deep in the file is still named exactly.
  std::vector<std::string> lines = log.Lines({});
  lines.erase(lines.begin() + 15000);
  report = VerifyText(Join(lines), log.verifier());
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(std::string(report.status().message()),
              StartsWith("sequence 15000 (line 15001): missing"));
  // With several faults, the first in file order is reported (lines are
  // checked on several threads).
  lines = log.Lines({});
  lines[17000].replace(lines[17000].find("\"seq\":"), 6, "\"SEQ\":");
  lines[9000].replace(lines[9000].find("\"seq\":"), 6, "\"SEQ\":");
  lines.erase(lines.begin() + 15000);
  report = VerifyText(Join(lines), log.verifier());
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(std::string(report.status().message()),
              StartsWith("sequence 9000 (line 9001): the displayed fields differ"));
  // A trusted size inside a chunk, deep in the stream.
  report = VerifyText(Join(log.Lines({})), log.verifier(), log.CheckpointAt(12345));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->trusted_checked);
  Checkpoint forked = log.CheckpointAt(12345);
  forked.root[31] ^= 0x80;
  report = VerifyText(Join(log.Lines({})), log.verifier(), forked);
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(std::string(report.status().message()),
              StartsWith("sequence 12345 (line 12346): the tree of 12345 entries differs"));
  // A middle range and a filtered export of the large log.
  report =
      VerifyText(Join(log.Lines(ExportSpec().set_first(3001).set_last(17777))), log.verifier());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->entries, 14777u);
  std::vector<uint64_t> every_seventh;
  for (uint64_t seq = 7; seq <= 20000; seq += 7) every_seventh.push_back(seq);
  report = VerifyText(Join(log.Lines(ExportSpec().set_filtered(true).set_selected(every_seventh))),
                      log.verifier());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->entries, every_seventh.size());
}

TEST_F(ExportVerifyTest, VeryLongEntryLineVerifies) {
  TestLog log(10, [](AuditEntry& e) {
    if (e.sequence == 4) e.purpose = std::string(9 << 20, 'p');  // > two read buffers
  });
  absl::StatusOr<VerifyReport> report = VerifyText(Join(log.Lines({})), log.verifier());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->entries, 10u);
}

// --- Tampering -------------------------------------------------------------

TEST_F(ExportVerifyTest, ChangedDisplayedFieldIsCaughtAtThatEntry) {
  std::vector<std::string> lines = log_->Lines({});
  std::string& line = lines[500];  // sequence 500
  const std::string principal = log_->entry(500).principal_id;
  const size_t at = line.find(principal);
  ASSERT_NE(at, std::string::npos);
  line.replace(at, principal.size(), Hex32(123456));
  ExpectFailure(lines, "sequence 500 (line 501): the displayed fields differ");

  // The time, the sequence and the outcome shown are covered too.
  lines = log_->Lines({});
  lines[42].replace(lines[42].find("\"time\":\"2026"), 11, "\"time\":\"2025");
  ExpectFailure(lines, "sequence 42 (line 43): the displayed fields differ");
  lines = log_->Lines({});
  lines[42].replace(lines[42].find("\"seq\":42,"), 9, "\"seq\":41,");
  ExpectFailure(lines, "sequence 42 (line 43): the displayed fields differ");
  lines = log_->Lines({});
  lines[44].replace(lines[44].find("\"denied\""), 8, "\"allowed\"");  // 44 % 11 == 0
  ExpectFailure(lines, "sequence 44 (line 45): the displayed fields differ");
}

TEST_F(ExportVerifyTest, ReencodedEntryFailsWithRootMismatch) {
  AuditEntry changed = log_->entry(500);
  changed.purpose = "marketing";
  const std::string canonical = EncodeCanonical(changed);
  std::vector<std::string> lines = log_->Lines({});
  lines[500] = log_->EntryLine(changed, canonical, nullptr);
  ExpectFailure(lines, "root mismatch");

  // In a filtered export the entry's own inclusion proof fails.
  lines = log_->Lines(ExportSpec().set_filtered(true).set_selected({10, 500, 900}));
  std::vector<Hash> proof = *InclusionProof(499, 1000, log_->tree());
  lines[2] = log_->EntryLine(changed, canonical, &proof);
  ExpectFailure(lines, "sequence 500 (line 3): inclusion proof");
}

TEST_F(ExportVerifyTest, DeletedEntryIsAGapAtItsSequence) {
  std::vector<std::string> lines = log_->Lines({});
  lines.erase(lines.begin() + 500);
  ExpectFailure(lines, "sequence 500 (line 501): missing: found sequence 501");
  lines = log_->Lines({});
  lines.erase(lines.begin() + 1);  // the first
  ExpectFailure(lines, "sequence 1 (line 2): missing");
  lines = log_->Lines(ExportSpec().set_first(401).set_last(700));
  lines.erase(lines.begin() + 1);
  ExpectFailure(lines, "sequence 401 (line 2): missing");
}

TEST_F(ExportVerifyTest, SwappedEntriesAreCaught) {
  std::vector<std::string> lines = log_->Lines({});
  std::swap(lines[500], lines[501]);
  ExpectFailure(lines, "sequence 500 (line 501): missing: found sequence 501");
  lines = log_->Lines(ExportSpec().set_filtered(true).set_selected({10, 500, 900}));
  std::swap(lines[2], lines[3]);
  ExpectFailure(lines, "sequence 500 (line 4): not after sequence 900");
}

TEST_F(ExportVerifyTest, DuplicatedEntryIsCaught) {
  std::vector<std::string> lines = log_->Lines({});
  lines.insert(lines.begin() + 501, lines[500]);
  ExpectFailure(lines, "sequence 500 (line 502): already seen");
  lines = log_->Lines(ExportSpec().set_filtered(true).set_selected({10, 500, 900}));
  lines.insert(lines.begin() + 3, lines[2]);
  ExpectFailure(lines, "sequence 500 (line 4): not after sequence 500");
  // An extra entry at the end of an unfiltered range.
  lines = log_->Lines(ExportSpec().set_first(1).set_last(10).set_size(11));
  lines.insert(lines.begin() + 11, log_->EntryLine(log_->entry(11), log_->canonical(11), nullptr));
  ExpectFailure(lines, "sequence 11 (line 12): beyond the export's last_sequence 10");
}

TEST_F(ExportVerifyTest, TruncatedFilesAreCaught) {
  // Cut after an entry line: no checkpoint.
  std::vector<std::string> lines = log_->Lines({});
  lines.resize(601);
  ExpectFailure(lines, "truncated: no checkpoint line after line 601 (sequence 600)");
  // Cut inside a line.
  std::string text = Join(log_->Lines({}));
  ExpectFailure({text.substr(0, text.size() / 2)}, "does not end in '\\n'");
  // Cut in the middle of the checkpoint line.
  ExpectFailure({text.substr(0, text.size() - 20)}, "does not end in '\\n'");
  // Entries removed from the end, the trailer kept.
  lines = log_->Lines({});
  lines.erase(lines.begin() + 901, lines.begin() + 1001);
  ExpectFailure(lines, "truncated: entries after sequence 900 are missing");
  // A filtered export without its trailer.
  lines = log_->Lines(ExportSpec().set_filtered(true).set_selected({10, 500, 900}));
  lines.pop_back();
  ExpectFailure(lines, "truncated: no checkpoint line at the end of the file");
  // Only the header.
  ExpectFailure({log_->Lines({})[0]}, "truncated: no checkpoint line after line 1");
}

TEST_F(ExportVerifyTest, ForgedCheckpointSignatureIsRejected) {
  std::vector<std::string> lines = log_->Lines({});
  ExportTrailer trailer;
  trailer.checkpoint_note = log_->SignedNote(1000);
  // Flip one base64 character of the signature (before the final '\n').
  std::string& note = trailer.checkpoint_note;
  char& c = note[note.size() - 5];
  c = c == 'A' ? 'B' : 'A';
  lines.back().clear();
  AppendJsonlTrailer(trailer, lines.back());
  absl::StatusOr<VerifyReport> report = Verify(lines);
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(report.status().code(), ::testing::AnyOf(absl::StatusCode::kPermissionDenied,
                                                       absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(report.status().message()), StartsWith("checkpoint: "));

  // A changed body under the original signature.
  trailer.checkpoint_note = log_->SignedNote(1000);
  const std::string size_line = "\n1000\n";
  trailer.checkpoint_note.replace(trailer.checkpoint_note.find(size_line), size_line.size(),
                                  "\n1001\n");
  lines.back().clear();
  AppendJsonlTrailer(trailer, lines.back());
  report = Verify(lines);
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(std::string(report.status().message()), StartsWith("checkpoint: "));
}

TEST_F(ExportVerifyTest, CheckpointByAnotherKeyIsRejected) {
  std::string seed(keys::kEd25519SeedSize, '\x42');
  auto other_key = *keys::SigningKey::FromSeed(keys::SecretBytes::CopyFrom(seed));
  NoteSigner other = *NoteSigner::Create(kOrigin, other_key.get());
  for (bool filtered : {false, true}) {
    ExportSpec spec = ExportSpec().set_last(1000).set_size(1000).set_filtered(filtered);
    if (filtered) spec.selected = {3, 4};
    std::vector<std::string> lines = log_->Lines(spec);
    ExportTrailer trailer;
    trailer.checkpoint_note = other.Sign(FormatCheckpoint(log_->CheckpointAt(1000)));
    if (!filtered) trailer.right_nodes = {};
    if (filtered) {
      trailer.manifest_note = log_->signer().Sign(FormatExportManifest(log_->ManifestOf(spec)));
    }
    lines.back().clear();
    AppendJsonlTrailer(trailer, lines.back());
    absl::StatusOr<VerifyReport> report = Verify(lines);
    ASSERT_FALSE(report.ok());
    EXPECT_THAT(report.status().code(), ::testing::AnyOf(absl::StatusCode::kPermissionDenied,
                                                         absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(std::string(report.status().message()), StartsWith("checkpoint: "));
  }
}

TEST_F(ExportVerifyTest, WrongLeftFrontierOrRightNodesFail) {
  std::vector<std::string> lines = log_->Lines(ExportSpec().set_first(401).set_last(700));
  // A left frontier of the wrong length, then one with a wrong hash.
  ExportHeader header{kOrigin, 401, 700, false, *log_->tree().ReadNodes(RangeNodes(0, 400))};
  header.left_frontier.pop_back();
  lines[0].clear();
  AppendJsonlHeader(header, lines[0]);
  ExpectFailure(lines, "line 1: left_frontier");
  header.left_frontier = *log_->tree().ReadNodes(RangeNodes(0, 400));
  header.left_frontier[0][0] ^= 1;
  lines[0].clear();
  AppendJsonlHeader(header, lines[0]);
  ExpectFailure(lines, "root mismatch");

  lines = log_->Lines(ExportSpec().set_first(401).set_last(700));
  ExportTrailer trailer{log_->SignedNote(1000), *log_->tree().ReadNodes(RangeNodes(700, 1000))};
  trailer.right_nodes.back()[5] ^= 1;
  lines.back().clear();
  AppendJsonlTrailer(trailer, lines.back());
  ExpectFailure(lines, "root mismatch");
  trailer.right_nodes.pop_back();
  lines.back().clear();
  AppendJsonlTrailer(trailer, lines.back());
  ExpectFailure(lines, "checkpoint: right_nodes has");
}

TEST_F(ExportVerifyTest, CheckpointNotCoveringTheRangeFails) {
  std::vector<std::string> lines =
      log_->Lines(ExportSpec().set_first(1).set_last(700).set_size(700));
  ExportTrailer trailer{log_->SignedNote(600), {}};
  lines.back().clear();
  AppendJsonlTrailer(trailer, lines.back());
  ExpectFailure(lines, "checkpoint: tree size 600 does not cover last_sequence 700");
}

// --- Filtered exports: the signed manifest -----------------------------------

// A real filter over a sub-range: action GetLead (sequences 4k) in
// [101, 600], proven against the checkpoint of size 800.
ExportSpec GetLeadSpec() {
  ExportSpec spec = ExportSpec().set_first(101).set_last(600).set_size(800).set_filtered(true);
  spec.filter = ExportFilter{"", "GetLead", ""};
  return spec;
}

class FilteredExportTest : public ExportVerifyTest {
 protected:
  void SetUp() override {
    spec_ = GetLeadSpec();
    spec_.selected = log_->Matching(spec_.first, spec_.last, spec_.filter);
    lines_ = log_->Lines(spec_);
  }
  // The manifest note in the trailer of `lines`.
  static std::string ManifestNoteOf(const std::vector<std::string>& lines) {
    ExportTrailer trailer;
    const std::string& line = lines.back();
    const size_t at = line.find(",\"manifest\":\"");
    EXPECT_NE(at, std::string::npos);
    std::string json = line.substr(at + 13, line.size() - at - 13 - 3);
    return absl::StrReplaceAll(json, {{"\\n", "\n"}});
  }
  // `lines` with the trailer rebuilt from these notes.
  std::vector<std::string> WithTrailer(std::vector<std::string> lines, std::string checkpoint,
                                       std::string manifest) {
    ExportTrailer trailer;
    trailer.checkpoint_note = std::move(checkpoint);
    trailer.manifest_note = std::move(manifest);
    lines.back().clear();
    AppendJsonlTrailer(trailer, lines.back());
    return lines;
  }

  ExportSpec spec_;
  std::vector<std::string> lines_;  // header, 125 entries, trailer
};

TEST_F(FilteredExportTest, IntactFilteredExportVerifiesAgainstItsManifest) {
  ASSERT_EQ(spec_.selected.size(), 125u);
  absl::StatusOr<VerifyReport> report = Verify(lines_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->filtered);
  EXPECT_EQ(report->entries, 125u);
  ASSERT_TRUE(report->manifest.has_value());
  EXPECT_EQ(report->manifest->matches, 125u);
  EXPECT_EQ(report->manifest->filter, spec_.filter);
  EXPECT_EQ(report->manifest->first_sequence, 101u);
  EXPECT_EQ(report->manifest->last_sequence, 600u);
  EXPECT_EQ(report->manifest->tree_size, 800u);
  // A filter that matched nothing: the manifest says so, and that verifies.
  ExportSpec none = GetLeadSpec();
  none.filter.action = "NoSuchAction";
  report = Verify(log_->Lines(none));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->manifest->matches, 0u);
}

TEST_F(FilteredExportTest, DeletedLineFailsOnTheMatchCount) {
  for (size_t at : {size_t{1}, size_t{60}, lines_.size() - 2}) {  // first, middle, last entry
    std::vector<std::string> lines = lines_;
    lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(at));
    ExpectFailure(lines,
                  "manifest: the file has 124 entry lines, the daemon attested 125 matching "
                  "entries in [101, 600] (an entry was removed)");
  }
}

TEST_F(FilteredExportTest, AddedLineFailsOnTheMatchCount) {
  // Another export of the same log and checkpoint selected one more entry
  // (an entry the filter matches, with a valid inclusion proof).
  ExportSpec more = GetLeadSpec();
  more.filter = ExportFilter{"", "", kEveryLead};
  more.selected = {101, 105, 106};
  std::vector<std::string> lines = log_->Lines(more);
  ExportSpec fewer = more;
  fewer.selected = {101, 106};
  std::vector<std::string> attested = log_->Lines(fewer);
  // The file of `more` under the manifest of `fewer`.
  lines.back() = attested.back();
  ExpectFailure(lines,
                "manifest: the file has 3 entry lines, the daemon attested 2 matching entries in "
                "[101, 600] (an entry was added)");
}

TEST_F(FilteredExportTest, DuplicatedLineIsCaught) {
  std::vector<std::string> lines = lines_;
  lines.insert(lines.begin() + 10, lines[10]);
  ExpectFailure(lines,
                absl::StrCat("sequence ", spec_.selected[9], " (line 12): not after sequence ",
                             spec_.selected[9], " (duplicate or out of order)"));
}

TEST_F(FilteredExportTest, SwappedLinesAreCaught) {
  std::vector<std::string> lines = lines_;
  std::swap(lines[20], lines[21]);
  ExpectFailure(lines, absl::StrCat("sequence ", spec_.selected[19], " (line 22): not after"));
}

TEST_F(FilteredExportTest, EntrySwappedForAnotherOfTheRangeIsCaught) {
  // For one the filter does not match: named at its line.
  std::vector<std::string> lines = lines_;
  std::vector<Hash> proof = *InclusionProof(105 - 1, 800, log_->tree());
  ASSERT_EQ(spec_.selected[0], 104u);
  ASSERT_FALSE(spec_.filter.Matches(log_->entry(105)));
  lines[1] = log_->EntryLine(log_->entry(105), log_->canonical(105), &proof);
  ExpectFailure(lines, "sequence 105 (line 2): does not match the export's filter");
  // For one it matches but the daemon did not attest: the leaf chain differs.
  ExportSpec all = GetLeadSpec();
  all.filter = ExportFilter{"", "", kEveryLead};
  all.selected = {101, 150, 200};
  lines = log_->Lines(all);
  proof = *InclusionProof(160 - 1, 800, log_->tree());
  lines[2] = log_->EntryLine(log_->entry(160), log_->canonical(160), &proof);
  ExpectFailure(lines, "manifest: the entry lines' leaf_chain differs from the attested one");
}

TEST_F(FilteredExportTest, EditedMatchCountFailsTheSignature) {
  const std::string note = ManifestNoteOf(lines_);
  ASSERT_THAT(note, HasSubstr("\nmatches 125\n"));
  std::vector<std::string> lines = lines_;
  lines.erase(lines.begin() + 5);
  std::string edited = absl::StrReplaceAll(note, {{"\nmatches 125\n", "\nmatches 124\n"}});
  lines = WithTrailer(lines, log_->SignedNote(800), edited);
  absl::StatusOr<VerifyReport> report = Verify(lines);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kPermissionDenied) << report.status();
  EXPECT_THAT(std::string(report.status().message()),
              StartsWith("manifest: signed note: invalid signature by key"));
  // Re-signed by another key: no signature by the log's key.
  std::string seed(keys::kEd25519SeedSize, '\x42');
  auto other_key = *keys::SigningKey::FromSeed(keys::SecretBytes::CopyFrom(seed));
  NoteSigner other = *NoteSigner::Create(kOrigin, other_key.get());
  const std::string text = edited.substr(0, edited.find("\n\n") + 1);
  lines = WithTrailer(lines, log_->SignedNote(800), other.Sign(text));
  report = Verify(lines);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kPermissionDenied) << report.status();
  EXPECT_THAT(std::string(report.status().message()),
              StartsWith("manifest: signed note: no signature by key"));
}

TEST_F(FilteredExportTest, ManifestOfAnotherExportIsRejected) {
  struct Case {
    ExportSpec other;
    std::string expect;
  };
  std::vector<Case> cases;
  ExportSpec by_principal = GetLeadSpec();
  by_principal.filter = ExportFilter{Hex32(3), "GetLead", ""};
  cases.push_back({by_principal,
                   "manifest: its filter principal_id differs from the header's "
                   "filter_principal_id"});
  ExportSpec by_action = GetLeadSpec();
  by_action.filter.action = "CreateLead";
  cases.push_back({by_action,
                   "manifest: its filter action differs from the header's "
                   "filter_action"});
  ExportSpec wider = GetLeadSpec().set_first(1);
  cases.push_back({wider, "manifest: it covers sequences [1, 600], the header [101, 600]"});
  ExportSpec older = GetLeadSpec().set_size(700);
  cases.push_back({older,
                   "manifest: it was made against tree size 700, the export's checkpoint has "
                   "tree size 800 (the manifest of another export?)"});
  for (Case& c : cases) {
    c.other.selected = log_->Matching(c.other.first, c.other.last, c.other.filter);
    std::vector<std::string> lines = lines_;
    lines = WithTrailer(lines, log_->SignedNote(800), ManifestNoteOf(log_->Lines(c.other)));
    ExpectFailure(lines, c.expect);
  }
  // The same filter, range and checkpoint, another selection: the chain says so.
  ExportSpec same = GetLeadSpec();
  same.selected = {101, 105};
  same.filter = spec_.filter;
  std::vector<std::string> lines =
      WithTrailer(lines_, log_->SignedNote(800), ManifestNoteOf(log_->Lines(same)));
  ExpectFailure(lines, "manifest: the file has 125 entry lines, the daemon attested 2");
}

TEST_F(FilteredExportTest, ManifestAndCheckpointCannotStandInForEachOther) {
  const std::string manifest = ManifestNoteOf(lines_);
  const std::string checkpoint = log_->SignedNote(800);
  // Both carry a valid signature by the log's key, yet neither opens as the other.
  absl::StatusOr<Checkpoint> as_checkpoint = OpenCheckpoint(manifest, log_->verifier());
  ASSERT_FALSE(as_checkpoint.ok());
  EXPECT_THAT(std::string(as_checkpoint.status().message()),
              HasSubstr("malformed checkpoint: line 2 (tree size)"));
  absl::StatusOr<ExportManifest> as_manifest = OpenExportManifest(checkpoint, log_->verifier());
  ASSERT_FALSE(as_manifest.ok());
  EXPECT_THAT(std::string(as_manifest.status().message()), HasSubstr("not an export manifest"));
  // In an export: the manifest where the checkpoint goes, and the reverse.
  ExpectFailure(WithTrailer(lines_, manifest, manifest),
                "checkpoint: malformed checkpoint: line 2 (tree size)");
  ExpectFailure(WithTrailer(lines_, checkpoint, checkpoint),
                "manifest: manifest: has 3 lines, expected 6 (not an export manifest)");
  // And as the trusted checkpoint of an unfiltered export.
  absl::StatusOr<Checkpoint> trusted = OpenCheckpoint(manifest, log_->verifier());
  EXPECT_FALSE(trusted.ok());
}

TEST_F(FilteredExportTest, FilteredExportWithoutAManifestIsRejected) {
  ExpectFailure(WithTrailer(lines_, log_->SignedNote(800), ""),
                "checkpoint line: a filtered export needs the daemon's signed manifest");
  // Nor may an unfiltered export carry one.
  std::vector<std::string> lines = log_->Lines(ExportSpec().set_first(101).set_last(600));
  ExportTrailer trailer;
  trailer.checkpoint_note = log_->SignedNote(1000);
  trailer.right_nodes = *log_->tree().ReadNodes(RangeNodes(600, 1000));
  trailer.manifest_note = ManifestNoteOf(lines_);
  lines.back().clear();
  AppendJsonlTrailer(trailer, lines.back());
  ExpectFailure(lines, "line 502: a manifest in an unfiltered export");
}

TEST_F(FilteredExportTest, HeaderFilterMustBeTheManifests) {
  std::vector<std::string> lines = lines_;
  lines[0] = absl::StrReplaceAll(
      lines[0], {{"\"filter_action\":\"GetLead\"", "\"filter_action\":\"CreateLead\""}});
  ASSERT_NE(lines[0], lines_[0]);
  ExpectFailure(lines, "manifest: its filter action differs from the header's filter_action");
  lines[0] =
      absl::StrReplaceAll(lines_[0], {{"\"filter_action\":\"GetLead\"", "\"filter_action\":\"\""}});
  ExpectFailure(lines, "line 1: a filtered export names no filter");
}

TEST(ExportManifestTest, TextIsTheDocumentedFormat) {
  ExportManifest m;
  m.origin = "leadvault/0123456789abcdef";
  m.tree_size = 800;
  m.root.fill(0x11);
  m.first_sequence = 101;
  m.last_sequence = 600;
  m.filter = {"", "GetLead", "00112233445566778899aabbccddeeff"};
  LeafChain chain;
  chain.Append(LeafHash("a"));
  chain.Append(LeafHash("b"));
  m.matches = chain.count();
  m.leaf_chain = chain.value();
  const std::string text = FormatExportManifest(m);
  const Hash c1 = keys::Sha256({HashBytes(Hash{}), HashBytes(LeafHash("a"))});
  const Hash c2 = keys::Sha256({HashBytes(c1), HashBytes(LeafHash("b"))});
  EXPECT_EQ(text, absl::StrCat("leadvault/0123456789abcdef export-manifest\n"
                               "checkpoint 800 ",
                               absl::Base64Escape(HashBytes(m.root)),
                               "\n"
                               "range 101 600\n"
                               "filter principal_id= action=GetLead "
                               "lead_id=00112233445566778899aabbccddeeff\n"
                               "matches 2\n"
                               "leaf_chain ",
                               absl::Base64Escape(HashBytes(c2)), "\n"));
  absl::StatusOr<ExportManifest> parsed = ParseExportManifest(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(FormatExportManifest(*parsed), text);
  // Every line is checked; a filter value cannot hide a space or a newline.
  EXPECT_THAT(
      std::string(ParseExportManifest(absl::StrReplaceAll(text, {{"matches 2", "matches 02"}}))
                      .status()
                      .message()),
      HasSubstr("manifest line 5 (matches)"));
  EXPECT_THAT(std::string(ParseExportManifest(
                              absl::StrReplaceAll(text, {{"action=GetLead", "action=Get Lead"}}))
                              .status()
                              .message()),
              HasSubstr("manifest line 4 (filter)"));
  EXPECT_FALSE(ValidateExportFilter({"a b", "", ""}).ok());
  EXPECT_FALSE(ValidateExportFilter({"", "x\ny", ""}).ok());
  EXPECT_FALSE(ValidateExportFilter({"", "", std::string(129, 'a')}).ok());
  EXPECT_THAT(std::string(ValidateExportFilter({"", "x\ny", ""}).message()),
              StartsWith("action: "));
}

// --- Trusted checkpoints -------------------------------------------------

TEST_F(ExportVerifyTest, RollbackAgainstTrustedCheckpointFails) {
  ExpectFailure(log_->Lines(ExportSpec().set_first(1).set_last(600).set_size(600)),
                "rollback: ", log_->CheckpointAt(1000));
  ExpectFailure(
      log_->Lines(ExportSpec().set_last(600).set_size(600).set_filtered(true).set_selected({5})),
      "rollback: ", log_->CheckpointAt(601));
}

TEST_F(ExportVerifyTest, ConsistentTrustedCheckpointPasses) {
  // Inside the stream: the tree passes through the trusted size (the empty
  // tree is trivially extended).
  for (uint64_t m : {0u, 1u, 300u, 400u, 512u, 700u}) {
    absl::StatusOr<VerifyReport> report =
        Verify(log_->Lines(ExportSpec().set_first(401).set_last(700)), log_->CheckpointAt(m));
    if (m > 0 && m < 400) {
      ASSERT_FALSE(report.ok()) << m;
      EXPECT_THAT(std::string(report.status().message()),
                  HasSubstr("consistency proof from the trusted tree"));
    } else {
      ASSERT_TRUE(report.ok()) << m << ": " << report.status();
      EXPECT_TRUE(report->trusted_checked);
    }
  }
  // The same size.
  absl::StatusOr<VerifyReport> report = Verify(log_->Lines({}), log_->CheckpointAt(1000));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->trusted_checked);
  // Via the consistency line: the trusted size is outside the exported range.
  for (uint64_t m : {1u, 200u, 800u, 999u}) {
    report = Verify(log_->Lines(ExportSpec().set_first(401).set_last(700).set_consistency_from(m)),
                    log_->CheckpointAt(m));
    ASSERT_TRUE(report.ok()) << m << ": " << report.status();
    EXPECT_TRUE(report->trusted_checked);
  }
  report = Verify(
      log_->Lines(ExportSpec().set_filtered(true).set_selected({7, 8}).set_consistency_from(300)),
      log_->CheckpointAt(300));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->trusted_checked);
}

TEST_F(ExportVerifyTest, TrustedCheckpointNeedsAMatchingConsistencyProof) {
  // No proof, a proof from another size, a proof that does not verify.
  ExpectFailure(log_->Lines(ExportSpec().set_first(401).set_last(700)),
                "(the export has none: export with --trusted", log_->CheckpointAt(800));
  ExpectFailure(log_->Lines(ExportSpec().set_first(401).set_last(700).set_consistency_from(900)),
                "(the export's is from size 900)", log_->CheckpointAt(800));
  std::vector<std::string> lines = log_->Lines(ExportSpec().set_first(401).set_last(700));
  std::vector<Hash> proof = *ConsistencyProof(800, 1000, log_->tree());
  proof[0][0] ^= 1;
  lines.emplace_back();
  AppendJsonlConsistency(800, proof, lines.back());
  ExpectFailure(lines, "checkpoint: not consistent with the trusted checkpoint",
                log_->CheckpointAt(800));
}

TEST_F(ExportVerifyTest, TrustedCheckpointWithAnotherRootFails) {
  Checkpoint forked = log_->CheckpointAt(1000);
  forked.root[0] ^= 1;
  ExpectFailure(log_->Lines({}), "fork", forked);
  forked = log_->CheckpointAt(500);
  forked.root[0] ^= 1;
  ExpectFailure(log_->Lines({}), "sequence 500 (line 501): the tree of 500 entries differs",
                forked);
  ExpectFailure(log_->Lines(ExportSpec().set_first(501).set_last(700)),
                "line 1: the tree of 500 entries", forked);
  ExpectFailure(log_->Lines(ExportSpec().set_first(1).set_last(400).set_consistency_from(500)),
                "checkpoint: not consistent", forked);
}

// --- Malformed files -------------------------------------------------------

TEST_F(ExportVerifyTest, MissingFileIsNotFound) {
  VerifyOptions options;
  options.verifier = &log_->verifier();
  absl::StatusOr<VerifyReport> report =
      VerifyExportFile(testing::TempDir() + "/no-such-export.jsonl", options);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kNotFound);
  options.verifier = nullptr;
  EXPECT_FALSE(VerifyExportFile(testing::TempDir(), options).ok());
}

TEST_F(ExportVerifyTest, GarbageIsACleanError) {
  const std::vector<std::string> good =
      log_->Lines(ExportSpec().set_first(1).set_last(5).set_size(5));
  ExpectFailure({""}, "line 1: empty file");
  ExpectFailure({"hello\n"}, "line 1: header: invalid JSON");
  ExpectFailure({"{\"type\":\"header\"\n"}, "line 1: header: invalid JSON");
  ExpectFailure({"{\"type\":\"entry\"}\n"}, "line 1: not an audit export header");
  ExpectFailure({"{\"type\":\"header\",\"format\":\"x\",\"version\":1}\n"},
                "line 1: not a leadvault-audit-export version 1 header");
  ExpectFailure({std::string("\0\xff\x01\n", 4)}, "line 1: header: invalid JSON");
  // A header with extra spaces is not canonical.
  std::string spaced = good[0];
  spaced.insert(1, " ");
  ExpectFailure({spaced, good[1]}, "line 1: header is not in canonical form");

  auto with_line_2 = [&](std::string line) {
    std::vector<std::string> lines = good;
    lines[1] = std::move(line);
    return lines;
  };
  ExpectFailure(with_line_2("garbage\n"), "line 2: expected an entry or the checkpoint line");
  ExpectFailure(with_line_2("\n"), "line 2: expected an entry or the checkpoint line");
  ExpectFailure(with_line_2("{\"type\":\"entry\",garbage}\n"), "line 2: no \"canonical\" field");
  ExpectFailure(with_line_2("{\"type\":\"entry\",\"seq\":1,\"canonical\":\"!!!!\"}\n"),
                "sequence 1 (line 2): canonical bytes: invalid base64");
  ExpectFailure(with_line_2(absl::StrCat("{\"type\":\"entry\",\"seq\":1,\"canonical\":\"",
                                         absl::Base64Escape("\x01garbage bytes"), "\"}\n")),
                "sequence 1 (line 2): canonical bytes: ");
  ExpectFailure(with_line_2("{\"type\":\"entry\",\"seq\":1,\"canonical\":\"AQ==\",x}\n"),
                "sequence 1 (line 2): unexpected text after the \"canonical\" field");
  ExpectFailure(with_line_2("{\"type\":\"entry\",\"seq\":1,\"canonical\":\"AQ==\","
                            "\"inclusion\":[\"short\"]}\n"),
                "sequence 1 (line 2): malformed inclusion proof");
  // A CR before the '\n' (a file that went through a Windows editor).
  std::string crlf = good[1];
  crlf.insert(crlf.size() - 1, "\r");
  ExpectFailure(with_line_2(crlf), "line 2");
  // An unfiltered entry carrying an inclusion proof.
  std::vector<Hash> proof = *InclusionProof(0, 5, log_->tree());
  ExpectFailure(with_line_2(log_->EntryLine(log_->entry(1), log_->canonical(1), &proof)),
                "sequence 1 (line 2): an inclusion proof in an unfiltered export");
  // A huge displayed sequence.
  std::string huge = good[1];
  huge.replace(huge.find("\"seq\":1,"), 8, "\"seq\":99999999999999999999999999,");
  ExpectFailure(with_line_2(huge), "sequence 1 (line 2): the displayed fields differ");
  // A 5 MB line of garbage, with and without its newline.
  ExpectFailure(with_line_2(std::string(5 << 20, 'x') + "\n"), "line 2: expected an entry");
  ExpectFailure({good[0], std::string(5 << 20, 'x')}, "line 2: does not end in '\\n'");
  // The last line without its newline.
  std::vector<std::string> lines = good;
  lines.back().pop_back();
  ExpectFailure(lines, "line 7: does not end in '\\n'");
  // Lines after the trailer.
  lines = good;
  lines.push_back("{}\n");
  ExpectFailure(lines, "line 8: unexpected line after the checkpoint");
  lines = log_->Lines(ExportSpec().set_first(1).set_last(5).set_size(5).set_consistency_from(3));
  lines.push_back(lines.back());
  ExpectFailure(lines, "line 9: unexpected line after the trailer");
  lines = good;
  lines.push_back(good[1]);
  ExpectFailure(lines, "line 8: unexpected line after the checkpoint");
  // A broken checkpoint line.
  lines = good;
  lines.back() = "{\"type\":\"checkpoint\",\"note\":\"x\n";
  ExpectFailure(lines, "line 7: checkpoint line: invalid JSON");
  lines.back() = "{\"type\":\"checkpoint\",\"note\":\"x\",\"right_nodes\":[]}\n";
  absl::StatusOr<VerifyReport> report = Verify(lines);
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(std::string(report.status().message()), StartsWith("checkpoint: "));
}

TEST_F(ExportVerifyTest, NonCanonicalEncodingIsRejected) {
  // The same entry with the code as a 10-byte varint that decodes to the
  // same int: displayed identically, but not the bytes the log writes.
  AuditEntry e = log_->entry(1);
  e.code = 0;
  std::string canonical = EncodeCanonical(e);
  AuditEntry probe = e;
  probe.code = 0x5A;  // find where the code's varint sits: the only byte that differs
  const std::string probe_bytes = EncodeCanonical(probe);
  size_t at = 0;
  while (canonical[at] == probe_bytes[at]) ++at;
  std::string padded = canonical;
  padded.replace(at, 1, std::string("\x80\x80\x80\x80\x10", 5));  // 2^32 -> (int) 0
  // DecodeCanonical itself refuses it now (fuzz/audit_entry_fuzzer), and the
  // verifier says so for the line.
  ASSERT_FALSE(DecodeCanonical(padded).ok());
  std::vector<std::string> lines = log_->Lines(ExportSpec().set_first(1).set_last(1).set_size(1));
  lines[1] = log_->EntryLine(e, padded, nullptr);
  ExpectFailure(lines, "sequence 1 (line 2): canonical bytes: audit entry: malformed");
}

TEST_F(ExportVerifyTest, HugeNumbersInTheHeaderAreCleanErrors) {
  std::vector<std::string> lines = log_->Lines(ExportSpec().set_first(1).set_last(5).set_size(5));
  std::string header = lines[0];
  header.replace(header.find("\"first_sequence\":1,"), 19,
                 "\"first_sequence\":18446744073709551616,");
  lines[0] = header;
  ExpectFailure(lines, "line 1: header: invalid JSON at byte");
  lines = log_->Lines(ExportSpec().set_first(1).set_last(5).set_size(5));
  ExportHeader h{kOrigin, 1, UINT64_MAX, false, {}};
  lines[0].clear();
  AppendJsonlHeader(h, lines[0]);
  ExpectFailure(lines, "checkpoint: tree size 5 does not cover");
  h = ExportHeader{kOrigin, UINT64_MAX, UINT64_MAX - 1, false, {}};
  lines[0].clear();
  AppendJsonlHeader(h, lines[0]);
  ExpectFailure(lines, "line 1: left_frontier");
  h = ExportHeader{kOrigin, 0, 5, true, {}};
  lines[0].clear();
  AppendJsonlHeader(h, lines[0]);
  ExpectFailure(lines, "line 1: first_sequence must be at least 1");
  h = ExportHeader{kOrigin, 10, 3, false, {}};
  lines[0].clear();
  AppendJsonlHeader(h, lines[0]);
  ExpectFailure(lines, "line 1: last_sequence is before first_sequence - 1");
}

// --- Rendering -------------------------------------------------------------

AuditEntry GoldenEntry() {
  AuditEntry e;
  e.sequence = 42;
  e.time = BaseTime();
  e.principal_id = "0123456789abcdef0123456789abcdef";
  e.role = "intake";
  e.action = "GetLead";
  e.outcome = Outcome::kAllowed;
  e.code = 0;
  e.lead_ids = {"00112233445566778899aabbccddeeff"};
  e.fields = {"first_name", "email"};
  e.purpose = "treatment";
  e.request_id = "0011223344556677";
  e.peer = "ipv4:127.0.0.1:54321";
  return e;
}

TEST(ExportFormatTest, EntryLineHasTheDocumentedFormat) {
  const AuditEntry e = GoldenEntry();
  const std::string canonical = EncodeCanonical(e);
  std::string line;
  AppendJsonlEntry(e, canonical, nullptr, line);
  EXPECT_EQ(line,
            absl::StrCat("{\"type\":\"entry\",\"seq\":42,\"time\":\"2026-12-01T13:00:00.123456Z\","
                         "\"principal\":\"0123456789abcdef0123456789abcdef\",\"role\":\"intake\","
                         "\"action\":\"GetLead\",\"outcome\":\"allowed\",\"code\":0,"
                         "\"lead_ids\":[\"00112233445566778899aabbccddeeff\"],"
                         "\"fields\":[\"first_name\",\"email\"],\"blind_tokens\":[],"
                         "\"purpose\":\"treatment\",\"request_id\":\"0011223344556677\","
                         "\"peer\":\"ipv4:127.0.0.1:54321\",\"break_glass_reason\":\"\","
                         "\"subject\":\"\",\"canonical\":\"",
                         absl::Base64Escape(canonical), "\"}\n"));
  Hash a{}, b{};
  b.fill(0xFF);
  std::vector<Hash> proof = {a, b};
  std::string with_proof = "prefix:";
  AppendJsonlEntry(e, canonical, &proof, with_proof);
  EXPECT_EQ(with_proof, absl::StrCat("prefix:", line.substr(0, line.size() - 2),
                                     ",\"inclusion\":[\"", absl::Base64Escape(HashBytes(a)),
                                     "\",\"", absl::Base64Escape(HashBytes(b)), "\"]}\n"));
  std::vector<Hash> empty;
  line.clear();
  AppendJsonlEntry(e, canonical, &empty, line);
  EXPECT_THAT(line, ::testing::EndsWith(",\"inclusion\":[]}\n"));
}

TEST(ExportFormatTest, HeaderTrailerAndConsistencyLines) {
  Hash h{};
  const std::string h64 = absl::Base64Escape(HashBytes(h));
  std::string out;
  AppendJsonlHeader({"log.example", 401, 700, false, {h, h}}, out);
  EXPECT_EQ(out, absl::StrCat("{\"type\":\"header\",\"format\":\"leadvault-audit-export\","
                              "\"version\":1,\"origin\":\"log.example\",\"first_sequence\":401,"
                              "\"last_sequence\":700,\"filtered\":false,\"left_frontier\":[\"",
                              h64, "\",\"", h64, "\"]}\n"));
  out.clear();
  AppendJsonlTrailer({"log.example\n7\nroot=\n\n\xE2\x80\x94 log.example sig\n", {h}}, out);
  EXPECT_EQ(out, absl::StrCat("{\"type\":\"checkpoint\",\"note\":\"log.example\\n7\\nroot=\\n\\n"
                              "\xE2\x80\x94 log.example sig\\n\",\"right_nodes\":[\"",
                              h64, "\"]}\n"));
  out.clear();
  AppendJsonlConsistency(12, {}, out);
  EXPECT_EQ(out, "{\"type\":\"consistency\",\"from_size\":12,\"proof\":[]}\n");
}

std::string RenderedTime(absl::Time t) {
  AuditEntry e = GoldenEntry();
  e.time = t;
  std::string line;
  AppendJsonlEntry(e, EncodeCanonical(e), nullptr, line);
  const size_t at = line.find("\"time\":\"") + 8;
  return line.substr(at, line.find('"', at) - at);
}

TEST(ExportFormatTest, TimesAreRfc3339UtcWithMicroseconds) {
  EXPECT_EQ(RenderedTime(BaseTime()), "2026-12-01T13:00:00.123456Z");
  EXPECT_EQ(RenderedTime(absl::UnixEpoch()), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(RenderedTime(absl::UnixEpoch() - absl::Microseconds(1)), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(RenderedTime(
                absl::FromCivil(absl::CivilSecond(2024, 2, 29, 23, 59, 59), absl::UTCTimeZone()) +
                absl::Microseconds(7)),
            "2024-02-29T23:59:59.000007Z");
  EXPECT_EQ(
      RenderedTime(absl::FromCivil(absl::CivilSecond(10000, 1, 1, 0, 0, 0), absl::UTCTimeZone())),
      "+10000-01-01T00:00:00.000000Z");
  EXPECT_EQ(
      RenderedTime(absl::FromCivil(absl::CivilSecond(-1, 12, 31, 0, 0, 0), absl::UTCTimeZone())),
      "-0001-12-31T00:00:00.000000Z");
  // The extremes of the canonical encoding render without overflow.
  EXPECT_THAT(RenderedTime(absl::InfiniteFuture()), StartsWith("+294247-01-10T04:00:54.775807Z"));
  EXPECT_THAT(RenderedTime(absl::InfinitePast()), StartsWith("-290308-12-21T19:59:05.224192Z"));
}

// Decodes a JSON string literal as documented: standard escapes, and a lone
// "\udc80".."\udcff" is the raw byte 0x80..0xff. Test-local on purpose.
std::optional<std::string> DecodeJsonString(absl::string_view lit) {
  if (lit.size() < 2 || lit.front() != '"' || lit.back() != '"') return std::nullopt;
  lit = lit.substr(1, lit.size() - 2);
  std::string out;
  for (size_t i = 0; i < lit.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(lit[i]);
    if (c < 0x20 || c == '"') return std::nullopt;
    if (c != '\\') {
      out.push_back(static_cast<char>(c));
      continue;
    }
    if (++i >= lit.size()) return std::nullopt;
    switch (lit[i]) {
      case '"':
      case '\\':
      case '/':
        out.push_back(lit[i]);
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'u': {
        if (i + 4 >= lit.size()) return std::nullopt;
        const uint32_t u =
            static_cast<uint32_t>(std::stoul(std::string(lit.substr(i + 1, 4)), nullptr, 16));
        i += 4;
        if (u >= 0xDC80 && u <= 0xDCFF) {
          out.push_back(static_cast<char>(u & 0xFF));
        } else if (u >= 0xD800 && u <= 0xDFFF) {
          return std::nullopt;  // the renderer writes no other surrogate
        } else if (u < 0x80) {
          out.push_back(static_cast<char>(u));
        } else if (u < 0x800) {
          out.push_back(static_cast<char>(0xC0 | (u >> 6)));
          out.push_back(static_cast<char>(0x80 | (u & 0x3F)));
        } else {
          out.push_back(static_cast<char>(0xE0 | (u >> 12)));
          out.push_back(static_cast<char>(0x80 | ((u >> 6) & 0x3F)));
          out.push_back(static_cast<char>(0x80 | (u & 0x3F)));
        }
        break;
      }
      default:
        return std::nullopt;
    }
  }
  return out;
}

bool IsValidUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : c < 0xC2 ? 0 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF5 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    uint32_t cp = len == 1 ? c : c & (0x7F >> len);
    for (size_t k = 1; k < len; ++k) {
      const unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

const std::vector<std::string>& HostileStrings() {
  static const auto* const kStrings = new std::vector<std::string>{
      "",
      "plain",
      "quote\" backslash\\ slash/",
      std::string("nul\0byte", 8),
      "\x01\x02\x1f\x7f",
      "\b\f\n\r\t",
      "\xff",
      "\xff\xfe",
      "\xc3\x28",                                   // a lead byte, then ASCII
      "\xe2\x82",                                   // a truncated sequence at the end
      "\xe2\x82\xe2\x82\xac",                       // a truncated sequence, then a euro sign
      "\xc0\xaf",                                   // overlong '/'
      "\xed\xa0\x80",                               // an encoded surrogate
      "\xf4\x90\x80\x80",                           // above U+10FFFF
      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e",  // valid UTF-8 stays as it is
      "\xe2\x80\xa8\xe2\x80\xa9",                   // line and paragraph separators
      "\\udcff",                                    // text that looks like an escape
      "\"},{\"type\":\"entry\",\"canonical\":\"AQ==\"}",
  };
  return *kStrings;
}

std::string RenderedPrincipal(absl::string_view principal) {
  AuditEntry e = GoldenEntry();
  e.principal_id = std::string(principal);
  std::string line;
  AppendJsonlEntry(e, EncodeCanonical(e), nullptr, line);
  const size_t begin = line.find("\"principal\":") + 12;
  const size_t end = line.find(",\"role\":\"intake\"");
  return line.substr(begin, end - begin);
}

TEST(ExportFormatTest, JsonEscapingIsValidAndRoundTrips) {
  for (const std::string& s : HostileStrings()) {
    const std::string lit = RenderedPrincipal(s);
    EXPECT_TRUE(IsValidUtf8(lit)) << absl::CHexEscape(s);
    for (char c : lit) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << absl::CHexEscape(s);
    std::optional<std::string> back = DecodeJsonString(lit);
    ASSERT_TRUE(back.has_value()) << lit;
    EXPECT_EQ(*back, s) << lit;
  }
  EXPECT_EQ(RenderedPrincipal("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(RenderedPrincipal("\n\t\x01\x7f"), "\"\\n\\t\\u0001\\u007f\"");
  EXPECT_EQ(RenderedPrincipal("\xff\xc3\x28"), "\"\\udcff\\udcc3(\"");
  EXPECT_EQ(RenderedPrincipal("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
  EXPECT_EQ(RenderedPrincipal("\xe2\x80\xa8"), "\"\\u2028\"");
  // Distinct strings render distinctly.
  std::map<std::string, std::string> seen;
  for (const std::string& s : HostileStrings()) {
    auto [it, inserted] = seen.emplace(RenderedPrincipal(s), s);
    EXPECT_TRUE(inserted) << absl::CHexEscape(s) << " and " << absl::CHexEscape(it->second);
  }
}

TEST(ExportFormatTest, HonestExportOfHostileStringsVerifies) {
  const std::vector<std::string>& hostile = HostileStrings();
  TestLog log(hostile.size() * 2, [&hostile](AuditEntry& e) {
    const std::string& s = hostile[e.sequence % hostile.size()];
    e.principal_id = s;
    e.purpose = s;
    e.lead_ids = {s, s + "x"};
    e.fields = {s};
    e.break_glass_reason = s;
    e.subject = s;
    e.peer = s;
  });
  absl::StatusOr<VerifyReport> report = VerifyText(Join(log.Lines({})), log.verifier());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->entries, hostile.size() * 2);
  report = VerifyText(Join(log.Lines(ExportSpec().set_filtered(true).set_selected({1, 5, 9, 20}))),
                      log.verifier());
  ASSERT_TRUE(report.ok()) << report.status();
}

// The cells of each row of an RFC 4180 file (CRLF rows, '"' quoting, '""'
// for a quote). A test fails on a malformed file.
std::vector<std::vector<std::string>> ParseCsv(absl::string_view text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string cell;
  size_t i = 0;
  bool cell_started = false;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '"' && !cell_started) {
      ++i;
      for (;;) {
        if (i >= text.size()) {
          ADD_FAILURE() << "unterminated quoted cell";
          return rows;
        }
        if (text[i] == '"') {
          if (i + 1 < text.size() && text[i + 1] == '"') {
            cell.push_back('"');
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        cell.push_back(text[i++]);
      }
      cell_started = true;
      if (i < text.size() && text[i] != ',' && text[i] != '\r') {
        ADD_FAILURE() << "text after a quoted cell at byte " << i;
        return rows;
      }
      continue;
    }
    if (c == ',') {
      row.push_back(std::move(cell));
      cell.clear();
      cell_started = false;
      ++i;
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      row.push_back(std::move(cell));
      cell.clear();
      cell_started = false;
      rows.push_back(std::move(row));
      row.clear();
      i += 2;
    } else {
      EXPECT_NE(c, '"') << "a bare quote at byte " << i;
      EXPECT_NE(c, '\n') << "a bare LF at byte " << i;
      EXPECT_NE(c, '\r') << "a bare CR at byte " << i;
      cell.push_back(c);
      cell_started = true;
      ++i;
    }
  }
  EXPECT_TRUE(row.empty() && cell.empty()) << "the last row does not end in CRLF";
  return rows;
}

const std::vector<std::string>& CsvColumns() {
  static const auto* columns = new std::vector<std::string>{"Sequence",
                                                            "Time (UTC)",
                                                            "Exact Time (RFC 3339)",
                                                            "Principal ID",
                                                            "Principal Name",
                                                            "Role",
                                                            "Action",
                                                            "Outcome",
                                                            "Status Code",
                                                            "Status Name",
                                                            "Lead IDs",
                                                            "Fields",
                                                            "Blind Tokens",
                                                            "Purpose",
                                                            "Request ID",
                                                            "Client Address",
                                                            "Break-Glass Reason",
                                                            "Target Principal ID",
                                                            "Target Principal Name"};
  return *columns;
}

// The cell of `row` under the header `column` of `header`.
std::string Cell(const std::vector<std::string>& header, const std::vector<std::string>& row,
                 const std::string& column) {
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == column) return i < row.size() ? row[i] : "<missing cell>";
  }
  return "<no column " + column + ">";
}

TEST(ExportFormatTest, CsvHeaderIsPlainLanguageAndTheCanonicalColumnOnlyOnRequest) {
  std::string out;
  AppendCsvHeader({}, out);
  EXPECT_EQ(out,
            "Sequence,Time (UTC),Exact Time (RFC 3339),Principal ID,Principal Name,Role,Action,"
            "Outcome,Status Code,Status Name,Lead IDs,Fields,Blind Tokens,Purpose,Request ID,"
            "Client Address,Break-Glass Reason,Target Principal ID,Target Principal Name\r\n");
  EXPECT_EQ(ParseCsv(out), std::vector<std::vector<std::string>>{CsvColumns()});

  CsvOptions with_canonical;
  with_canonical.canonical_column = true;
  out.clear();
  AppendCsvHeader(with_canonical, out);
  std::vector<std::string> columns = CsvColumns();
  columns.push_back("Canonical Entry (base64)");
  EXPECT_EQ(ParseCsv(out), std::vector<std::vector<std::string>>{columns});
}

TEST(ExportFormatTest, CsvRowCellByCell) {
  AuditEntry e = GoldenEntry();
  e.outcome = Outcome::kDenied;
  e.code = 7;
  e.subject = "fedcba9876543210";
  const std::string canonical = EncodeCanonical(e);
  std::string out;
  AppendCsvHeader({}, out);
  AppendCsvEntry(e, canonical, {"Dr. Ada Lovelace", "Intake, Desk \"B\""}, {}, out);
  std::vector<std::vector<std::string>> rows = ParseCsv(out);
  ASSERT_EQ(rows.size(), 2u);
  const std::vector<std::string>& header = rows[0];
  const std::vector<std::string>& row = rows[1];
  ASSERT_EQ(row.size(), header.size()) << "no canonical column by default";
  EXPECT_EQ(Cell(header, row, "Sequence"), "42");
  // What spreadsheets read as a date-time: UTC, whole seconds, a space for T.
  EXPECT_EQ(Cell(header, row, "Time (UTC)"), "2026-12-01 13:00:00");
  EXPECT_EQ(Cell(header, row, "Exact Time (RFC 3339)"), "2026-12-01T13:00:00.123456Z");
  EXPECT_EQ(Cell(header, row, "Principal ID"), "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(Cell(header, row, "Principal Name"), "Dr. Ada Lovelace");
  EXPECT_EQ(Cell(header, row, "Role"), "intake");
  EXPECT_EQ(Cell(header, row, "Action"), "GetLead");
  EXPECT_EQ(Cell(header, row, "Outcome"), "denied");
  EXPECT_EQ(Cell(header, row, "Status Code"), "7");
  EXPECT_EQ(Cell(header, row, "Status Name"), "PERMISSION_DENIED");
  EXPECT_EQ(Cell(header, row, "Lead IDs"), "00112233445566778899aabbccddeeff");
  EXPECT_EQ(Cell(header, row, "Fields"), "first_name;email");
  EXPECT_EQ(Cell(header, row, "Blind Tokens"), "");
  EXPECT_EQ(Cell(header, row, "Purpose"), "treatment");
  EXPECT_EQ(Cell(header, row, "Request ID"), "0011223344556677");
  EXPECT_EQ(Cell(header, row, "Client Address"), "ipv4:127.0.0.1:54321");
  EXPECT_EQ(Cell(header, row, "Break-Glass Reason"), "");
  EXPECT_EQ(Cell(header, row, "Target Principal ID"), "fedcba9876543210");
  EXPECT_EQ(Cell(header, row, "Target Principal Name"), "Intake, Desk \"B\"");
  EXPECT_THAT(out, HasSubstr(",\"Intake, Desk \"\"B\"\"\"\r\n"));
  EXPECT_THAT(out, Not(HasSubstr(absl::Base64Escape(canonical))));

  // With the canonical column: the exact bytes, last.
  CsvOptions with_canonical;
  with_canonical.canonical_column = true;
  out.clear();
  AppendCsvHeader(with_canonical, out);
  AppendCsvEntry(e, canonical, {"Dr. Ada Lovelace", ""}, with_canonical, out);
  rows = ParseCsv(out);
  ASSERT_EQ(rows.size(), 2u);
  ASSERT_EQ(rows[1].size(), rows[0].size());
  EXPECT_EQ(rows[0].back(), "Canonical Entry (base64)");
  EXPECT_EQ(rows[1].back(), absl::Base64Escape(canonical));
  EXPECT_EQ(Cell(rows[0], rows[1], "Target Principal Name"), "");
  std::string decoded;
  ASSERT_TRUE(absl::Base64Unescape(rows[1].back(), &decoded));
  EXPECT_EQ(decoded, canonical);

  // A code with no name: the number alone; times before 1970 floor to the second.
  e.code = 99;
  e.time = absl::FromUnixMicros(-1);
  out.clear();
  AppendCsvHeader({}, out);
  AppendCsvEntry(e, canonical, {}, {}, out);
  rows = ParseCsv(out);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(Cell(rows[0], rows[1], "Status Code"), "99");
  EXPECT_EQ(Cell(rows[0], rows[1], "Status Name"), "");
  EXPECT_EQ(Cell(rows[0], rows[1], "Time (UTC)"), "1969-12-31 23:59:59");
  EXPECT_EQ(Cell(rows[0], rows[1], "Exact Time (RFC 3339)"), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(Cell(rows[0], rows[1], "Principal Name"), "");
}

TEST(ExportFormatTest, CsvQuotesAndNeutralisesFormulas) {
  AuditEntry e = GoldenEntry();
  e.principal_id = "=1+1";
  e.role = "+x";
  e.action = "-x";
  e.code = -1;
  e.lead_ids = {"a", "b"};
  e.fields = {"@x"};
  e.blind_tokens = {"\tx"};
  e.purpose = "a,b";
  e.request_id = "a\"b";
  e.peer = "line\nbreak";
  e.break_glass_reason = "\rx";
  e.subject = "bad\xff";
  e.time = absl::FromUnixSeconds(-62198755200);  // -0001-01-01T00:00:00Z
  const std::string canonical = EncodeCanonical(e);
  CsvOptions with_canonical;
  with_canonical.canonical_column = true;
  std::string out;
  AppendCsvEntry(e, canonical, {"=HYPERLINK(\"http://x\",\"y\")", "@SUM(A1)"}, with_canonical, out);
  EXPECT_EQ(out,
            absl::StrCat("42,'-0001-01-01 00:00:00,'-0001-01-01T00:00:00.000000Z,'=1+1,"
                         "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",'+x,'-x,allowed,'-1,,a;b,'@x,"
                         "'\tx,\"a,b\",\"a\"\"b\",\"line\nbreak\",\"'\rx\",bad\xEF\xBF\xBD,"
                         "'@SUM(A1),",
                         absl::Base64Escape(canonical), "\r\n"));
  // Every cell a spreadsheet would evaluate starts with the quote.
  const std::vector<std::vector<std::string>> rows = ParseCsv(out);
  ASSERT_EQ(rows.size(), 1u);
  for (const std::string& cell : rows[0]) {
    if (cell.empty()) continue;
    EXPECT_FALSE(cell[0] == '=' || cell[0] == '+' || cell[0] == '-' || cell[0] == '@' ||
                 cell[0] == '\t' || cell[0] == '\r')
        << absl::CHexEscape(cell);
  }
  // Plain cells stay unquoted.
  out.clear();
  AppendCsvEntry(GoldenEntry(), EncodeCanonical(GoldenEntry()), {"Ada", ""}, {}, out);
  EXPECT_EQ(out,
            "42,2026-12-01 13:00:00,2026-12-01T13:00:00.123456Z,0123456789abcdef0123456789abcdef,"
            "Ada,intake,GetLead,allowed,0,OK,00112233445566778899aabbccddeeff,first_name;email,,"
            "treatment,0011223344556677,ipv4:127.0.0.1:54321,,,\r\n");
}

TEST(ExportFormatTest, StatusCodeNamesAreGrpcs) {
  EXPECT_EQ(StatusCodeName(0), "OK");
  EXPECT_EQ(StatusCodeName(5), "NOT_FOUND");
  EXPECT_EQ(StatusCodeName(7), "PERMISSION_DENIED");
  EXPECT_EQ(StatusCodeName(16), "UNAUTHENTICATED");
  for (int code = 0; code <= 16; ++code) {
    EXPECT_EQ(StatusCodeName(code), absl::StatusCodeToString(static_cast<absl::StatusCode>(code)))
        << code;
  }
  EXPECT_EQ(StatusCodeName(-1), "");
  EXPECT_EQ(StatusCodeName(17), "");
}

TEST(ExportFormatTest, RecordedDisplayNameComesOnlyFromAnAllowedCreatePrincipal) {
  AuditEntry e;
  e.action = "CreatePrincipal";
  e.outcome = Outcome::kAllowed;
  e.principal_id = "aaaaaaaaaaaaaaaa";
  e.subject = "bbbbbbbbbbbbbbbb";
  e.fields = {"roles", "service_lines", "display_name=Front desk, =east= wing"};
  EXPECT_EQ(RecordedDisplayName(e), "Front desk, =east= wing");
  // Its position among the fields does not matter.
  e.fields = {"display_name=Ada", "roles", "service_lines", "client_cert_sha256"};
  EXPECT_EQ(RecordedDisplayName(e), "Ada");
  // An entry from before names were recorded, or an empty one.
  e.fields = {"roles", "service_lines"};
  EXPECT_EQ(RecordedDisplayName(e), std::nullopt);
  e.fields = {"display_name="};
  EXPECT_EQ(RecordedDisplayName(e), std::nullopt);
  // Not a creation that happened, or no principal created.
  e.fields = {"display_name=Ada"};
  e.outcome = Outcome::kDenied;
  EXPECT_EQ(RecordedDisplayName(e), std::nullopt);
  e.outcome = Outcome::kAllowed;
  e.subject.clear();
  EXPECT_EQ(RecordedDisplayName(e), std::nullopt);
  e.subject = "bbbbbbbbbbbbbbbb";
  e.action = "SetServiceLines";
  EXPECT_EQ(RecordedDisplayName(e), std::nullopt);
}

}  // namespace
}  // namespace leadvault::audit
