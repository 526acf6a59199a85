// `leadvaultctl lead queue|update|amend|history`: an intake desk working its
// queue and correcting a lead's personal data.
#ifndef LEADVAULT_TOOLS_CTL_LEAD_WORK_H_
#define LEADVAULT_TOOLS_CTL_LEAD_WORK_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "tools/ctl_connection.h"

namespace leadvault::tools {

struct LeadWorkCommands {
  CLI::App* queue = nullptr;
  CLI::App* update = nullptr;
  CLI::App* amend = nullptr;
  CLI::App* history = nullptr;
  bool json = false;
  // queue
  std::string service_line;
  std::string status = "new";
  int page_size = 50;
  std::string page_token;
  bool all_pages = false;
  // update
  std::string lead_id;
  uint64_t expected_version = 0;
  std::string new_status;
  std::vector<std::string> attempts;  // CHANNEL:OUTCOME
  std::string attempt_purpose = "scheduling";
  bool automated = false;
  // amend, history
  std::string purpose;
  std::string reason, reason_file;
  std::string values_file;         // a PersonalData JSON
  std::vector<std::string> clear;  // field names
};

// Adds `queue`, `update`, `amend` and `history` under `lead`.
std::unique_ptr<LeadWorkCommands> AddLeadWorkCommands(CLI::App& lead);

// Runs the command that was parsed, if any; its exit code, or nullopt.
std::optional<int> RunLeadWorkCommand(const LeadWorkCommands& commands,
                                      const ConnectionFlags& flags);

}  // namespace leadvault::tools

#endif  // LEADVAULT_TOOLS_CTL_LEAD_WORK_H_
