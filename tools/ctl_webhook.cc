#include "tools/ctl_webhook.h"

#include <iostream>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "keys/secret_bytes.h"
#include "leadvault/v1/leadvault.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tools/ctl_files.h"
#include "tools/ctl_print.h"

namespace leadvault::tools {
namespace {

namespace v1 = ::leadvault::v1;

void PrintWebhookState(const v1::Principal& p) {
  PrintField("principal_id", p.principal_id());
  PrintField("display_name", p.display_name());
  PrintField("webhook_secret_expires",
             p.webhook_secret_expires_at_unix_micros() == 0
                 ? std::string("none (revoked or never issued)")
                 : FormatMicros(p.webhook_secret_expires_at_unix_micros()));
  if (p.previous_webhook_secret_expires_at_unix_micros() != 0) {
    PrintField("previous_secret_expires",
               FormatMicros(p.previous_webhook_secret_expires_at_unix_micros()));
  }
}

// Hands over the freshly issued secret: into the new file `out` (mode 0600;
// never an existing one) when given, else on stdout once. The response's copy
// is wiped afterwards.
int PrintIssued(v1::IssueWebhookSecretResponse& response, const std::string& out, bool json) {
  std::string* secret = response.mutable_secret();
  absl::Cleanup wipe = [secret] { keys::WipeString(*secret); };
  absl::Status stored = absl::OkStatus();
  if (!out.empty()) {
    std::string line = absl::StrCat(*secret);  // no newline: the file is the HMAC key
    stored = WriteNewFile(out, line);
    keys::WipeString(line);
  }
  if (json) {
    nlohmann::ordered_json doc = nlohmann::ordered_json::object();
    if (!MessageToJsonValue(response.principal(), &doc["principal"])) {
      return ReportError(absl::InternalError("cannot print the principal as JSON"));
    }
    if (out.empty()) {
      doc["secret"] = *secret;
    } else if (stored.ok()) {
      doc["secret_file"] = out;
    }
    PrintJsonDocument(doc);
    if (doc.contains("secret")) keys::WipeString(doc["secret"].get_ref<std::string&>());
  } else {
    PrintWebhookState(response.principal());
  }
  if (!stored.ok()) {
    ReportError(stored);
    std::cerr << "leadvaultctl: the secret could not be stored and is not shown; issue a new "
                 "one with `principal webhook-secret issue ID --secret-out FILE`\n";
    return kExitFailed;
  }
  if (!out.empty()) {
    if (!json) PrintField("secret", absl::StrCat("in ", out, " (mode 0600)"));
    return kExitOk;
  }
  if (!json) std::cout << "secret: " << *secret << std::endl;
  std::cerr << "leadvaultctl: the secret is shown once and cannot be recovered; store it in the "
               "form tool now (--secret-out FILE writes it to a new 0600 file instead)\n";
  return kExitOk;
}

}  // namespace

std::unique_ptr<WebhookSecretCommands> AddWebhookSecretCommands(CLI::App& principal) {
  auto c = std::make_unique<WebhookSecretCommands>();
  CLI::App* webhook = principal.add_subcommand(
      "webhook-secret",
      "the secret a web-form tool signs HTTP capture requests with (POST /v1/leads)");
  webhook->require_subcommand(1);
  c->issue = webhook->add_subcommand(
      "issue", "issue a new secret for a capture-only principal (shown once)");
  c->issue->add_option("ID", c->principal_id, "principal id")->required();
  c->issue->add_option("--ttl-days", c->ttl_days, "secret lifetime in days (default 90, max 366)")
      ->check(CLI::Range(0, 366));
  c->issue
      ->add_option("--grace-minutes", c->grace_minutes,
                   "keep the previous secret working this long (default 0: it stops at once; "
                   "max 7 days)")
      ->check(CLI::Range(0, 7 * 24 * 60));
  c->issue->add_option("--secret-out", c->secret_out,
                       "write the secret to this new file (mode 0600), not to stdout");
  c->issue->add_flag("--json", c->json,
                     "print {\"principal\": {...}, \"secret\": \"...\"} (\"secret_file\" with "
                     "--secret-out)");
  c->revoke = webhook->add_subcommand(
      "revoke", "end the principal's webhook secrets at once (its token is not affected)");
  c->revoke->add_option("ID", c->principal_id, "principal id")->required();
  c->revoke->add_flag("--json", c->json, "print {\"principal\": {...}} (proto field names)");
  return c;
}

std::optional<int> RunWebhookSecretCommand(const WebhookSecretCommands& c,
                                           const ConnectionFlags& flags) {
  if (!c.issue->parsed() && !c.revoke->parsed()) return std::nullopt;
  // A file that is already there is refused before anything is issued.
  if (c.issue->parsed() && !c.secret_out.empty()) {
    if (absl::Status s = RefuseExisting(c.secret_out); !s.ok()) return ReportError(s, 2);
  }
  return WithConnection(flags, [&](const Connection& connection) {
    auto stub = v1::Admin::NewStub(connection.channel());
    grpc::ClientContext context;
    connection.Prepare(&context);
    grpc::Status status;
    if (c.issue->parsed()) {
      v1::IssueWebhookSecretRequest request;
      request.set_principal_id(c.principal_id);
      request.set_ttl_seconds(c.ttl_days * 86400);
      request.set_grace_seconds(c.grace_minutes * 60);
      v1::IssueWebhookSecretResponse response;
      status = stub->IssueWebhookSecret(&context, request, &response);
      if (status.ok()) return PrintIssued(response, c.secret_out, c.json);
    } else {
      v1::RevokeWebhookSecretRequest request;
      request.set_principal_id(c.principal_id);
      v1::RevokeWebhookSecretResponse response;
      status = stub->RevokeWebhookSecret(&context, request, &response);
      if (status.ok()) {
        if (c.json) {
          return PrintJson(response) ? kExitOk
                                     : ReportError(absl::InternalError("cannot print as JSON"));
        }
        PrintWebhookState(response.principal());
        return kExitOk;
      }
    }
    return ReportRpcError(status, connection);
  });
}

}  // namespace leadvault::tools
