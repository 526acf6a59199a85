// `leadvaultctl db ...`: offline checks of the database files of a data dir.
#ifndef LEADVAULT_TOOLS_CTL_DB_H_
#define LEADVAULT_TOOLS_CTL_DB_H_

#include <memory>
#include <optional>
#include <string>

#include "CLI/CLI.hpp"

namespace leadvault::tools {

struct DbCommands {
  CLI::App* verify = nullptr;
  std::string data_dir;
  bool json = false;  // {"ok": true, "table_files", "table_bytes"} or {"ok": false, "error"}
};

std::unique_ptr<DbCommands> AddDbCommands(CLI::App& app);

// Runs `db verify` if it was parsed; its exit code (0 every checksum matched,
// 1 a corrupted file, named by its base name, or an error), or nullopt. Reads
// DATA_DIR/db read-only and needs no master key; a running daemon may hold it.
std::optional<int> RunDbCommand(const DbCommands& commands);

}  // namespace leadvault::tools

#endif  // LEADVAULT_TOOLS_CTL_DB_H_
