#include "tools/ctl_emergency.h"

#include <cstdio>

#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "leadvault/v1/leadvault.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tools/ctl_files.h"
#include "tools/ctl_print.h"

namespace leadvault::tools {
namespace {

namespace v1 = ::leadvault::v1;

void PrintGrant(const v1::EmergencyGrant& g) {
  std::printf("grant %s  %s  principal %s (%s)  opened %s  expires %s  closed %s%s\n",
              g.grant_id().c_str(), g.open() ? "OPEN  " : "ended ",
              PrincipalLabel(g.principal_display_name(), g.principal_id()).c_str(),
              g.role().c_str(), FormatMicros(g.opened_at_unix_micros()).c_str(),
              FormatMicros(g.expires_at_unix_micros()).c_str(),
              FormatMicros(g.closed_at_unix_micros()).c_str(),
              g.closed_by().empty()
                  ? ""
                  : (" by " + PrincipalLabel(g.closed_by_display_name(), g.closed_by())).c_str());
  std::printf("  leads: %s\n  reason: %s\n", absl::StrJoin(g.lead_ids(), ",").c_str(),
              g.reason().c_str());
}

// The grant as text, or (--json) `response` ({"grant": {...}}) as JSON.
int PrintGrantResult(const google::protobuf::Message& response, const v1::EmergencyGrant& grant,
                     bool json) {
  if (!json) {
    PrintGrant(grant);
    return kExitOk;
  }
  return PrintJson(response) ? kExitOk : ReportError(absl::InternalError("cannot print as JSON"));
}

}  // namespace

std::unique_ptr<EmergencyCommands> AddEmergencyCommands(CLI::App& app) {
  auto c = std::make_unique<EmergencyCommands>();
  CLI::App* emergency = app.add_subcommand(
      "emergency", "break-glass emergency access (intake and compliance; audited and flagged)");
  emergency->require_subcommand(1);
  c->open = emergency->add_subcommand(
      "open",
      "open a time-limited grant to read leads in full (then: lead get --purpose emergency)");
  // The reason is free text that may mention a patient: it is read from a file
  // or stdin by default, so it stays out of argv and shell history.
  CLI::Option_group* why = c->open->add_option_group("reason", "exactly one of");
  why->add_option("--reason-file", c->reason_file,
                  "file holding the reason, or - for stdin (recorded in every audit entry)");
  why->add_option("--reason", c->reason, "the reason inline (visible in ps and shell history)");
  why->require_option(1);
  c->open->add_option("--lead", c->lead_ids, "lead id the grant covers (repeatable)")->required();
  c->open->add_option("--minutes", c->minutes, "how long (1..60, default 15)")
      ->check(CLI::Range(1, 60));
  c->open->add_flag("--json", c->json, "print {\"grant\": {...}} (proto field names)");
  c->list = emergency->add_subcommand("list", "list grants (compliance)");
  c->list->add_flag("--open", c->open_only, "only the grants open now");
  c->list->add_flag("--json", c->json,
                    "print {\"grants\": [...]}, every page, newest first (proto field names)");
  c->close = emergency->add_subcommand("close", "end a grant early (compliance)");
  c->close->add_option("GRANT_ID", c->grant_id, "grant id")->required();
  c->close->add_flag("--json", c->json, "print {\"grant\": {...}} (proto field names)");
  return c;
}

std::optional<int> RunEmergencyCommand(const EmergencyCommands& c, const ConnectionFlags& flags) {
  if (!c.open->parsed() && !c.list->parsed() && !c.close->parsed()) return std::nullopt;
  return WithConnection(flags, [&](const Connection& connection) {
    auto stub = v1::EmergencyAccess::NewStub(connection.channel());
    grpc::ClientContext context;
    connection.Prepare(&context);
    grpc::Status status;
    if (c.open->parsed()) {
      v1::OpenEmergencyAccessRequest request;
      absl::StatusOr<std::string> reason = ReadReason(c.reason, c.reason_file);
      if (!reason.ok()) return ReportError(reason.status(), 2);
      request.set_reason(*reason);
      for (const std::string& id : c.lead_ids) request.add_lead_ids(id);
      request.set_duration_seconds(c.minutes * 60);
      v1::OpenEmergencyAccessResponse response;
      status = stub->OpenEmergencyAccess(&context, request, &response);
      if (status.ok()) return PrintGrantResult(response, response.grant(), c.json);
    } else if (c.list->parsed()) {
      // Every page, newest first (one call per page).
      v1::ListEmergencyAccessRequest request;
      request.set_open_only(c.open_only);
      int count = 0;
      nlohmann::ordered_json grants = nlohmann::ordered_json::array();
      for (bool first = true; first || !request.page_token().empty(); first = false) {
        grpc::ClientContext page_context;
        connection.Prepare(&page_context);
        v1::ListEmergencyAccessResponse response;
        status = stub->ListEmergencyAccess(first ? &context : &page_context, request, &response);
        if (!status.ok()) break;
        for (const v1::EmergencyGrant& g : response.grants()) {
          if (!c.json) {
            PrintGrant(g);
            continue;
          }
          nlohmann::ordered_json grant;
          if (!MessageToJsonValue(g, &grant)) {
            return ReportError(absl::InternalError("cannot print a grant as JSON"));
          }
          grants.push_back(std::move(grant));
        }
        count += response.grants_size();
        request.set_page_token(response.next_page_token());
      }
      if (status.ok() && c.json) {
        PrintJsonDocument({{"grants", std::move(grants)}});
      } else if (status.ok()) {
        std::printf("%d grants\n", count);
      }
    } else {
      v1::CloseEmergencyAccessRequest request;
      request.set_grant_id(c.grant_id);
      v1::CloseEmergencyAccessResponse response;
      status = stub->CloseEmergencyAccess(&context, request, &response);
      if (status.ok()) return PrintGrantResult(response, response.grant(), c.json);
    }
    return status.ok() ? 0 : ReportRpcError(status, connection);
  });
}

}  // namespace leadvault::tools
