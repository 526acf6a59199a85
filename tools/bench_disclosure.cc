#include "tools/bench_disclosure.h"

#include <stdlib.h>
#include <time.h>

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "audit/audit_entry.h"
#include "keys/random.h"
#include "keys/status_macros.h"
#include "rocksdb/write_batch.h"
#include "tools/bench_audit.h"
#include "vault/database.h"
#include "vault/disclosure_index.h"
#include "vault/internal/keys.h"

namespace leadvault::tools {
namespace {

// A mix like a busy intake desk's: 60% reads of one lead (11 fields), 10%
// look-ups matching 3 leads, 30% other calls naming one lead.
audit::AuditEntry Entry(uint64_t seq) {
  audit::AuditEntry e;
  e.sequence = seq;
  e.time = absl::FromUnixMicros(1'796'130'000'000'000 + static_cast<int64_t>(seq) * 73);
  e.principal_id = PseudoRandomHex(seq % 50, 16);
  e.role = "intake";
  e.outcome = audit::Outcome::kAllowed;
  e.purpose = "treatment";
  e.request_id = PseudoRandomHex(seq * 104729 + 3, 16);
  e.peer = "ipv4:127.0.0.1:54321";
  const uint64_t kind = seq % 10;
  if (kind < 6) {
    e.action = "GetLead";
    e.lead_ids = {PseudoRandomHex(seq * 7919 + 1)};
    e.fields = {"first_name",    "last_name",          "email", "phone",
                "date_of_birth", "street_address",     "city",  "state",
                "postal_code",   "condition_interest", "notes"};
  } else if (kind == 6) {
    e.action = "FindLeads";
    e.lead_ids = {PseudoRandomHex(seq * 7919 + 1), PseudoRandomHex(seq * 7919 + 2),
                  PseudoRandomHex(seq * 7919 + 3)};
    e.fields = {"match:email"};
    e.blind_tokens = {PseudoRandomHex(seq * 31 + 7, 64)};
  } else {
    e.action = "UpdateLead";
    e.lead_ids = {PseudoRandomHex(seq * 7919 + 1)};
    e.fields = {"status"};
  }
  return e;
}

absl::Status Fill(vault::Database& db, uint64_t entries) {
  rocksdb::WriteBatch batch;
  for (uint64_t seq = 1; seq <= entries; ++seq) {
    const audit::AuditEntry entry = Entry(seq);
    rocksdb::Status s = batch.Put(db.cf(vault::Cf::kAudit), vault::internal::SequenceKey(seq),
                                  audit::EncodeCanonical(entry));
    for (const std::string& key : vault::DisclosureIndexKeys(entry)) {
      if (s.ok()) s = batch.Put(db.cf(vault::Cf::kAuditLead), key, "");
    }
    if (!s.ok()) return vault::FromRocks(s, "fill");
    if (seq % 10000 == 0 || seq == entries) {
      s = db.db()->Write(rocksdb::WriteOptions(), &batch);
      if (!s.ok()) return vault::FromRocks(s, "fill");
      batch.Clear();
    }
  }
  LV_RETURN_IF_ERROR(db.Flush());
  // A log at rest: compacted, so no background compaction runs while timed.
  for (vault::Cf cf : {vault::Cf::kAudit, vault::Cf::kAuditLead}) {
    rocksdb::Status s =
        db.db()->CompactRange(rocksdb::CompactRangeOptions(), db.cf(cf), nullptr, nullptr);
    if (!s.ok()) return vault::FromRocks(s, "compact");
  }
  return absl::OkStatus();
}

// CPU time of the calling thread, in seconds.
double ThreadCpuSeconds() {
  struct timespec ts;
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "leadvault-bench: %s\n", status.ToString().c_str());
  return 1;
}

}  // namespace

int RunDisclosureCheckBench(int argc, char** argv) {
  uint64_t entries = 1'000'000;
  int runs = 3;
  CLI::App app{"leadvault-bench disclosure-check: time the disclosure index cross-check",
               "leadvault-bench disclosure-check"};
  app.add_option("--entries", entries, "audit entries in the log")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100'000'000}))
      ->capture_default_str();
  app.add_option("--runs", runs, "timed checks (after one untimed warm-up)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (!keys::InitCrypto()) return Fail(absl::InternalError("libsodium failed to initialize"));
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp",
                                 "/leadvault-bench-disclosure-XXXXXX");
  if (::mkdtemp(dir.data()) == nullptr) {
    return Fail(absl::UnavailableError("cannot create a scratch dir"));
  }
  int rc = 0;
  {
    auto db = vault::Database::Open(dir + "/db", vault::DatabaseOptions());
    absl::Status filled = db.ok() ? Fill(**db, entries) : db.status();
    if (!filled.ok()) {
      rc = Fail(filled);
    } else {
      for (int run = 0; run <= runs && rc == 0; ++run) {
        absl::Time start = absl::Now();
        const double cpu_start = ThreadCpuSeconds();
        auto report = vault::CheckDisclosureIndex(**db, keys::SystemRandom());
        const double cpu = ThreadCpuSeconds() - cpu_start;
        absl::Duration took = absl::Now() - start;
        if (!report.ok() || !report->result.ok()) {
          rc = Fail(report.ok() ? report->result : report.status());
          break;
        }
        if (run == 0) continue;  // warm-up: the first pass reads the files into the page cache
        std::printf(
            "disclosure-check: %llu entries, %llu disclosures, %llu index rows in %.3f s "
            "(%.3f s of CPU): %.0f entries/s\n",
            static_cast<unsigned long long>(report->entries),
            static_cast<unsigned long long>(report->disclosures),
            static_cast<unsigned long long>(report->index_rows), absl::ToDoubleSeconds(took), cpu,
            static_cast<double>(report->entries) / absl::ToDoubleSeconds(took));
      }
    }
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return rc;
}

}  // namespace leadvault::tools
