// `leadvaultctl completion bash`: a bash completion script generated from the
// command tree itself, so it completes exactly the commands and options the
// binary that printed it accepts.
#ifndef LEADVAULT_TOOLS_CTL_COMPLETION_H_
#define LEADVAULT_TOOLS_CTL_COMPLETION_H_

#include <memory>
#include <optional>
#include <string>

#include "CLI/CLI.hpp"

namespace leadvault::tools {

struct CompletionCommand {
  CLI::App* completion = nullptr;
  std::string shell;
};

// Adds `completion SHELL` to `app`.
std::unique_ptr<CompletionCommand> AddCompletionCommand(CLI::App& app);

// Prints the script for `root` (the whole tree, read after every command was
// added) when `completion` was parsed; nullopt otherwise.
std::optional<int> RunCompletionCommand(const CompletionCommand& command, const CLI::App& root);

// The bash script: a completion function `_leadvaultctl` registered for
// `leadvaultctl`. Subcommand names and option names at each level (a parent's
// options too, as fallthrough accepts them after a subcommand), the choices of
// options restricted to a set, file names for other option values.
std::string BashCompletionScript(const CLI::App& root);

}  // namespace leadvault::tools

#endif  // LEADVAULT_TOOLS_CTL_COMPLETION_H_
