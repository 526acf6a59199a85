#include "tools/bench_vault.h"

#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "keys/random.h"
#include "keys/secret_bytes.h"
#include "rocksdb/db.h"

namespace leadvault::tools {

std::string BenchScratchDir(const std::string& name) {
  std::filesystem::path base = std::filesystem::exists("/dev/shm")
                                   ? std::filesystem::path("/dev/shm")
                                   : std::filesystem::temp_directory_path();
  std::string dir = (base / absl::StrCat("leadvault-", name, "-bench.XXXXXX")).string();
  if (::mkdtemp(dir.data()) == nullptr) return "";
  return dir;
}

absl::StatusOr<std::unique_ptr<vault::Vault>> OpenBenchVault(const std::string& dir,
                                                             const vault::Clock* clock) {
  keys::SecretBytes kek(32);
  keys::SystemRandom().Fill(kek.data(), kek.size());
  vault::VaultOptions options;
  options.data_dir = dir + "/db";
  options.clock = clock;
  return vault::Vault::Open(options, std::move(kek));
}

double AwaitBenchQuiet(vault::Vault& vault) {
  const absl::Time start = absl::Now();
  rocksdb::DB* db = vault.database().db();
  auto busy = [db, &vault] {
    for (const char* property :
         {"rocksdb.num-running-flushes", "rocksdb.num-running-compactions"}) {
      uint64_t value = 0;
      if (db->GetIntProperty(property, &value) && value > 0) return true;
    }
    for (size_t cf = 0; cf < vault::kCfCount; ++cf) {
      for (const char* property :
           {"rocksdb.mem-table-flush-pending", "rocksdb.compaction-pending"}) {
        uint64_t value = 0;
        if (db->GetIntProperty(vault.database().cf(static_cast<vault::Cf>(cf)), property, &value) &&
            value > 0) {
          return true;
        }
      }
    }
    return false;
  };
  while (busy()) absl::SleepFor(absl::Milliseconds(100));
  return absl::ToDoubleSeconds(absl::Now() - start);
}

vault::Actor BenchCapture() {
  vault::Actor capture;
  capture.principal_id = "00000000000000c1";
  capture.roles = {vault::Role::kCapture};
  return capture;
}

vault::Actor BenchIntake() {
  vault::Actor intake;
  intake.principal_id = "00000000000000a1";
  intake.roles = {vault::Role::kIntake};
  intake.service_lines = {"orthopedics"};
  intake.purpose = vault::Purpose::kTreatment;
  return intake;
}

bool FillBenchLeads(vault::Vault& vault, const vault::Actor& capture, uint64_t first,
                    uint64_t count, std::vector<std::string>* ids) {
  constexpr int kWriters = 8;
  std::atomic<uint64_t> next{0};
  std::atomic<bool> failed{false};
  std::vector<std::vector<std::string>> made(kWriters);
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (uint64_t i = next++; i < count && !failed; i = next++) {
        auto created = vault.leads().CreateLead(capture, BenchLead(first + i, "sweep"));
        if (!created.ok()) {
          std::fprintf(stderr, "leadvault-bench: fill: %s\n",
                       std::string(created.status().message()).c_str());
          failed = true;
          return;
        }
        made[w].push_back(created->lead_id);
      }
    });
  }
  for (auto& t : writers) t.join();
  for (auto& m : made) ids->insert(ids->end(), m.begin(), m.end());
  return !failed;
}

BenchReaders::BenchReaders(vault::Vault& vault, const vault::Actor& intake,
                           const std::vector<std::string>& ids, int readers) {
  samples_.resize(readers);
  for (int r = 0; r < readers; ++r) {
    threads_.emplace_back([this, &vault, &intake, &ids, r] {
      uint64_t i = static_cast<uint64_t>(r) * 7919;
      while (!done_.load(std::memory_order_acquire)) {
        const absl::Time start = absl::Now();
        auto lead = vault.leads().GetLead(intake, ids[i++ % ids.size()]);
        samples_[r].push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
        if (!lead.ok()) failed_ = true;
      }
    });
  }
}

BenchLatency BenchReaders::Stop() {
  done_ = true;
  for (auto& t : threads_) t.join();
  std::vector<double> all;
  for (auto& s : samples_) all.insert(all.end(), s.begin(), s.end());
  BenchLatency l;
  l.calls = all.size();
  if (all.empty()) return l;
  std::sort(all.begin(), all.end());
  l.p50_us = all[all.size() / 2];
  l.p99_us = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  return l;
}

vault::NewLead BenchLead(uint64_t n, const std::string& run) {
  vault::NewLead lead;
  auto set = [&lead](vault::PiiField f, const std::string& v) {
    lead.pii.Set(f, keys::SecretBytes::CopyFrom(v));
  };
  set(vault::PiiField::kFirstName, "Grace");
  set(vault::PiiField::kLastName, "Hopper");
  set(vault::PiiField::kEmail, absl::StrCat("bench+", n, "-", run, "@example.com"));
  set(vault::PiiField::kPhone, absl::StrCat("+1617", 2000000 + n % 7000000));
  set(vault::PiiField::kDateOfBirth, "1961-04-12");
  set(vault::PiiField::kStreetAddress, "77 Maple Avenue Apt 4");
  set(vault::PiiField::kCity, "Boston");
  set(vault::PiiField::kState, "MA");
  set(vault::PiiField::kPostalCode, "02115");
  set(vault::PiiField::kConditionInterest, "Knee pain after running; ACL evaluation");
  set(vault::PiiField::kNotes, "Prefers a call in the late afternoon.");
  lead.attribution.source = vault::SourceChannel::kWebForm;
  lead.attribution.campaign = "spring-ortho";
  lead.attribution.landing_page = "https://clinic.example.com/orthopedics/knee";
  lead.attribution.service_line = "orthopedics";
  lead.idempotency_key = absl::StrCat("bench-", run, "-", n);
  return lead;
}

}  // namespace leadvault::tools
