// `leadvaultctl principal webhook-secret issue|revoke`: the secrets web-form
// tools sign HTTP capture requests with (README "Capturing leads over HTTP").
#ifndef LEADVAULT_TOOLS_CTL_WEBHOOK_H_
#define LEADVAULT_TOOLS_CTL_WEBHOOK_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "CLI/CLI.hpp"
#include "tools/ctl_connection.h"

namespace leadvault::tools {

struct WebhookSecretCommands {
  CLI::App* issue = nullptr;
  CLI::App* revoke = nullptr;
  std::string principal_id;
  int64_t ttl_days = 0;
  int64_t grace_minutes = 0;
  std::string secret_out;  // a new 0600 file for the secret, instead of stdout
  bool json = false;
};

// Adds `webhook-secret issue|revoke` under `principal`.
std::unique_ptr<WebhookSecretCommands> AddWebhookSecretCommands(CLI::App& principal);

// Runs the webhook-secret command that was parsed, if any; its exit code, or nullopt.
std::optional<int> RunWebhookSecretCommand(const WebhookSecretCommands& commands,
                                           const ConnectionFlags& flags);

}  // namespace leadvault::tools

#endif  // LEADVAULT_TOOLS_CTL_WEBHOOK_H_
