// `leadvaultctl keys rotate|status|retire`: master-key rotation (admin).
#ifndef LEADVAULT_TOOLS_CTL_KEYS_H_
#define LEADVAULT_TOOLS_CTL_KEYS_H_

#include <cstdint>
#include <memory>
#include <optional>

#include "CLI/CLI.hpp"
#include "tools/ctl_connection.h"

namespace leadvault::tools {

struct KeysCommands {
  CLI::App* rotate = nullptr;
  CLI::App* status = nullptr;
  CLI::App* retire = nullptr;
  uint32_t version = 0;
  bool follow = false;  // status --follow: until the re-wrap is done, with a progress bar
  int interval_seconds = 2;
  bool json = false;  // one JSON document on stdout (with --follow: the final status only)
};

// Adds `keys` and its subcommands to `app`.
std::unique_ptr<KeysCommands> AddKeysCommands(CLI::App& app);

// Runs the command that was parsed, if any; its exit code, or nullopt.
std::optional<int> RunKeysCommand(const KeysCommands& commands, const ConnectionFlags& flags);

}  // namespace leadvault::tools

#endif  // LEADVAULT_TOOLS_CTL_KEYS_H_
