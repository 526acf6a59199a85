#include "api/emergency_service.h"

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "api/call.h"
#include "api/convert.h"
#include "api/log.h"
#include "keys/status_macros.h"

namespace leadvault::api {
namespace {

void ToProto(const vault::EmergencyGrant& in, absl::Time now,
             const vault::PrincipalStore& principals, v1::EmergencyGrant* out) {
  out->set_grant_id(in.id);
  out->set_principal_id(in.principal_id);
  out->set_principal_display_name(principals.DisplayName(in.principal_id));
  out->set_role(in.role);
  for (v1::Role r : RolesFromLabel(in.role)) out->add_role_codes(r);
  out->set_reason(in.reason);
  for (const std::string& id : in.lead_ids) out->add_lead_ids(vault::EncodeLeadId(id));
  out->set_opened_at_unix_micros(absl::ToUnixMicros(in.opened_at));
  out->set_expires_at_unix_micros(absl::ToUnixMicros(in.expires_at));
  if (in.closed_at != absl::InfinitePast()) {
    out->set_closed_at_unix_micros(absl::ToUnixMicros(in.closed_at));
  }
  out->set_closed_by(in.closed_by);
  if (!in.closed_by.empty()) {
    out->set_closed_by_display_name(principals.DisplayName(in.closed_by));
  }
  out->set_open(in.OpenAt(now));
}

absl::Status DoOpen(vault::Vault& vault, Call& call, const v1::OpenEmergencyAccessRequest& request,
                    v1::OpenEmergencyAccessResponse& response) {
  // Counted before anything is collected into the call's audit entry.
  if (request.lead_ids_size() == 0 ||
      request.lead_ids_size() > static_cast<int>(vault::kMaxEmergencyLeads)) {
    return absl::InvalidArgumentError(
        absl::StrCat("lead_ids: 1 to ", vault::kMaxEmergencyLeads, " leads"));
  }
  std::vector<std::string> lead_ids;
  for (const std::string& text : request.lead_ids()) {
    LV_ASSIGN_OR_RETURN(std::string id, ParseLeadId(text));
    call.lead_ids.push_back(vault::EncodeLeadId(id));
    lead_ids.push_back(std::move(id));
  }
  absl::StatusOr<vault::EmergencyGrant> opened = vault.emergency().OpenGrant(
      call.actor, request.reason(), std::move(lead_ids), absl::Seconds(request.duration_seconds()));
  if (absl::IsResourceExhausted(opened.status())) {
    // A burst of break-glass openings stands out to operators as well as in the log.
    LogEvent(LogLevel::kWarning, "emergency_access_refused",
             absl::StrCat("emergency access refused: principal ", call.actor.principal_id,
                          " is past a break-glass bound (", vault.emergency().refused_count(),
                          " refused since start)"),
             CallLogFields(call));
  }
  LV_RETURN_IF_ERROR(opened.status());
  const vault::EmergencyGrant& grant = *opened;
  // Operators see every emergency access as it opens (no reason, no data).
  LogEvent(LogLevel::kWarning, "emergency_access_opened",
           absl::StrCat("emergency access opened: grant ", grant.id, " by principal ",
                        grant.principal_id, " for ", grant.lead_ids.size(), " leads until ",
                        absl::FormatTime(absl::RFC3339_sec, grant.expires_at, absl::UTCTimeZone()),
                        " (", vault.emergency().opened_count(), " opened since start)"),
           CallLogFields(call));
  ToProto(grant, vault.clock().Now(), vault.principals(), response.mutable_grant());
  return absl::OkStatus();
}

absl::Status DoList(vault::Vault& vault, Call& call, const v1::ListEmergencyAccessRequest& request,
                    v1::ListEmergencyAccessResponse& response) {
  LV_ASSIGN_OR_RETURN(vault::GrantPage page,
                      vault.emergency().List(call.actor, request.open_only(), request.page_size(),
                                             request.page_token()));
  const absl::Time now = vault.clock().Now();
  for (const vault::EmergencyGrant& g : page.grants) {
    ToProto(g, now, vault.principals(), response.add_grants());
  }
  response.set_next_page_token(page.next_page_token);
  return absl::OkStatus();
}

absl::Status DoClose(vault::Vault& vault, Call& call,
                     const v1::CloseEmergencyAccessRequest& request,
                     v1::CloseEmergencyAccessResponse& response) {
  LV_ASSIGN_OR_RETURN(vault::EmergencyGrant grant,
                      vault.emergency().Close(call.actor, request.grant_id()));
  ToProto(grant, vault.clock().Now(), vault.principals(), response.mutable_grant());
  return absl::OkStatus();
}

}  // namespace

grpc::ServerUnaryReactor* EmergencyAccessService::OpenEmergencyAccess(
    grpc::CallbackServerContext* context, const v1::OpenEmergencyAccessRequest* request,
    v1::OpenEmergencyAccessResponse* response) {
  return Serve(*vault_, throttle_, admission_, pool_, context, vault::Rpc::kOpenEmergencyAccess,
               DoOpen, request, response);
}

grpc::ServerUnaryReactor* EmergencyAccessService::ListEmergencyAccess(
    grpc::CallbackServerContext* context, const v1::ListEmergencyAccessRequest* request,
    v1::ListEmergencyAccessResponse* response) {
  return Serve(*vault_, throttle_, admission_, pool_, context, vault::Rpc::kListEmergencyAccess,
               DoList, request, response);
}

grpc::ServerUnaryReactor* EmergencyAccessService::CloseEmergencyAccess(
    grpc::CallbackServerContext* context, const v1::CloseEmergencyAccessRequest* request,
    v1::CloseEmergencyAccessResponse* response) {
  return Serve(*vault_, throttle_, admission_, pool_, context, vault::Rpc::kCloseEmergencyAccess,
               DoClose, request, response);
}

}  // namespace leadvault::api
