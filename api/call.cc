#include "api/call.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "api/auth.h"
#include "api/convert.h"
#include "api/log.h"
#include "api/status.h"
#include "keys/status_macros.h"

namespace leadvault::api {
absl::Status BeginCall(grpc::ServerContextBase* context, const vault::PrincipalStore& principals,
                       AuthThrottle* throttle, Call& call) {
  if (call.actor.request_id.empty()) IdentifyCall(context, call.actor);
  LV_RETURN_IF_ERROR(AuthenticateCall(context, principals, throttle, call.actor, &call.subject));
  if (context->IsCancelled()) return absl::DeadlineExceededError("deadline exceeded or cancelled");
  return vault::CheckCall(call.actor, call.rpc);
}

LogFields CallLogFields(const Call& call) {
  LogFields fields;
  fields.request_id = call.actor.request_id;
  // Before authentication the principal is the one the token claimed, if any.
  fields.principal_id = call.actor.principal_id.empty() ? call.subject : call.actor.principal_id;
  fields.method = call.action;
  return fields;
}

void LogCall(const Call& call, const absl::Status& status) {
  const bool refused = absl::IsUnauthenticated(status) || absl::IsPermissionDenied(status);
  if (!refused && !LogCallsEnabled()) return;
  const std::string code(absl::StatusCodeToString(status.code()));
  LogFields fields = CallLogFields(call);
  fields.code = code;
  fields.duration = absl::Now() - call.start;
  LogEvent(refused ? LogLevel::kWarning : LogLevel::kInfo,
           absl::IsUnauthenticated(status)    ? "auth_failed"
           : absl::IsPermissionDenied(status) ? "denied"
                                              : "call",
           status.ok() ? absl::StrCat(call.action, " ok")
                       : absl::StrCat(call.action, " ", code, ": ", status.message()),
           fields);
}

void FinishCall(vault::Vault& vault, grpc::ServerUnaryReactor* reactor, const Call& call,
                const absl::Status& status) {
  FinishCall(vault, call, status,
             [reactor, reply = ToGrpcStatus(status)] { reactor->Finish(reply); });
}

void FinishCall(vault::Vault& vault, const Call& call, const absl::Status& status,
                std::function<void()> answer) {
  if (call.admission != nullptr) call.admission->Release();
  LogCall(call, status);
  if (status.ok() || call.entry_committed) {
    answer();
    return;
  }
  vault.RecordFailureAsync(call.actor, call.action, call.lead_ids, status, call.subject,
                           [answer = std::move(answer)](absl::Status) { answer(); });
}

grpc::ServerUnaryReactor* Dispatch(vault::Vault& vault, AuthThrottle* throttle,
                                   Admission* admission, WorkerPool* pool,
                                   grpc::CallbackServerContext* context, vault::Rpc rpc,
                                   size_t request_bytes, std::function<absl::Status(Call&)> work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto call = std::make_shared<Call>(rpc);
  // Authentication is in memory: done here, so even a call refused for
  // overload is audited with its principal.
  if (absl::Status begun = BeginCall(context, vault.principals(), throttle, *call); !begun.ok()) {
    FinishCall(vault, reactor, *call, begun);
    return reactor;
  }
  if (absl::Status admitted = admission->Admit(*call, request_bytes); !admitted.ok()) {
    admission->Refuse(reactor, *call, admitted);
    return reactor;
  }
  absl::Status posted = pool->Post(
      [&vault, admission, reactor, call, work = std::move(work)] {
        // Admitted before the drain began but not started: it never starts.
        if (admission->draining()) {
          admission->Refuse(reactor, *call, ShuttingDownError());
          return;
        }
        absl::Status status = work(*call);
        FinishCall(vault, reactor, *call, status);
      },
      [admission, reactor, call] { admission->Refuse(reactor, *call, ShuttingDownError()); });
  if (!posted.ok()) admission->Refuse(reactor, *call, posted);
  return reactor;
}

absl::StatusOr<std::string> RequestLeadId(Call& call, const std::string& text) {
  LV_ASSIGN_OR_RETURN(std::string id, ParseLeadId(text));
  call.lead_ids.push_back(vault::EncodeLeadId(id));
  return id;
}

}  // namespace leadvault::api
