#include "tools/bench_vault.h"

#include <stdlib.h>

#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "keys/random.h"
#include "keys/secret_bytes.h"

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
