// `leadvaultctl check`: offline integrity checks of a data dir.
#ifndef LEADVAULT_TOOLS_CTL_CHECK_H_
#define LEADVAULT_TOOLS_CTL_CHECK_H_

#include <memory>
#include <optional>
#include <string>

#include "CLI/CLI.hpp"

namespace leadvault::tools {

struct CheckCommand {
  CLI::App* check = nullptr;
  std::string data_dir;
  bool json = false;  // one JSON document: both reports and "ok"
};

std::unique_ptr<CheckCommand> AddCheckCommand(CLI::App& app);

// Runs `check` if it was parsed; its exit code (0 the data dir passed, 1 a
// mismatch or an error), or nullopt. Opens DATA_DIR/db read-only and needs no
// master key: the audit log, the disclosure index and `meta`'s records are not
// encrypted, and the lead rows check (vault/lead_rows_check.h) reads which
// rows exist, not what they hold. A running daemon may hold the data dir: the check covers the
// database as of when it opened. REQUIRES: keys::InitCrypto() has succeeded.
std::optional<int> RunCheckCommand(const CheckCommand& command);

}  // namespace leadvault::tools

#endif  // LEADVAULT_TOOLS_CTL_CHECK_H_
