// `leadvaultctl emergency open|list|close`: break-glass grants.
#ifndef LEADVAULT_TOOLS_CTL_EMERGENCY_H_
#define LEADVAULT_TOOLS_CTL_EMERGENCY_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "tools/ctl_connection.h"

namespace leadvault::tools {

struct EmergencyCommands {
  CLI::App* open = nullptr;
  CLI::App* list = nullptr;
  CLI::App* close = nullptr;
  std::string reason;
  std::string reason_file;
  std::vector<std::string> lead_ids;
  int64_t minutes = 15;
  bool open_only = false;
  std::string grant_id;
  bool json = false;  // one JSON document: {"grant": {...}} or {"grants": [...]}
};

std::unique_ptr<EmergencyCommands> AddEmergencyCommands(CLI::App& app);

// Runs the emergency command that was parsed, if any; its exit code, or nullopt.
std::optional<int> RunEmergencyCommand(const EmergencyCommands& commands,
                                       const ConnectionFlags& flags);

}  // namespace leadvault::tools

#endif  // LEADVAULT_TOOLS_CTL_EMERGENCY_H_
