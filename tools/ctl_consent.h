// `leadvaultctl consent ...`: the consent ledger's proof document: export it
// from the daemon, verify it offline.
#ifndef LEADVAULT_TOOLS_CTL_CONSENT_H_
#define LEADVAULT_TOOLS_CTL_CONSENT_H_

#include <memory>
#include <optional>
#include <string>

#include "CLI/CLI.hpp"
#include "tools/ctl_connection.h"

namespace leadvault::tools {

// The `consent` command tree, registered on the app; see RunConsentCommand.
struct ConsentCommands {
  // `consent proof FILE --pubkey KEY`: verifies a proof document offline.
  CLI::App* proof = nullptr;
  std::string proof_file;
  std::string proof_pubkey;  // the verifier key, or a file holding it
  // `consent export-proof LEAD -o FILE` (compliance): fetches the lead's proof
  // document (audit/consent_proof.h) and writes it to FILE, a new file.
  CLI::App* export_proof = nullptr;
  std::string export_lead_id;
  std::string export_output;
  // --json (either command): one JSON document on stdout instead of the text.
  bool json = false;
};

std::unique_ptr<ConsentCommands> AddConsentCommands(CLI::App& app);

// Runs the consent command that was parsed, if any, and returns its exit code
// (0 ok, 1 failed, 2 usage); nullopt if none was parsed. `proof` needs no
// daemon and no token.
std::optional<int> RunConsentCommand(const ConsentCommands& commands, const ConnectionFlags& flags);

}  // namespace leadvault::tools

#endif  // LEADVAULT_TOOLS_CTL_CONSENT_H_
