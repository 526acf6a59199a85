// One RPC as the audit log records it, from start to finish.
#ifndef LEADVAULT_API_CALL_H_
#define LEADVAULT_API_CALL_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/admission.h"
#include "api/auth_throttle.h"
#include "api/log.h"
#include "api/worker_pool.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "grpcpp/support/status.h"
#include "vault/access_policy.h"
#include "vault/actor.h"
#include "vault/vault.h"

namespace leadvault::api {

// What a call's audit entry names. Every RPC of the leadvault services leaves
// exactly one audit entry: a call that succeeds has it committed by its vault
// operation, atomically with what it changed or before what it read leaves;
// a call that fails (unauthenticated, denied, invalid, not found, overloaded,
// storage error) writes nothing but its own failure entry (FinishCall).
struct Call {
  explicit Call(vault::Rpc which) : rpc(which), action(vault::RpcName(which)) {}
  vault::Rpc rpc;
  std::string action;  // the RPC name, e.g. "GetLead"
  // Request id and peer from the start; principal, role and service lines once
  // authenticated; before that, `subject` names the principal id the token claimed.
  vault::Actor actor;
  std::string subject;
  std::vector<std::string> lead_ids;  // well-formed lead ids the request named (text form)
  // Set once the call's own entry is durable (a Compliance call commits it
  // first): a later failure is then not audited a second time.
  bool entry_committed = false;
  absl::Time start = absl::Now();  // for the call's log line
  // The admission slot of an admitted lead call (Admission::Admit), freed
  // once its work is done: when the call is finished (FinishCall) or refused.
  std::shared_ptr<AdmissionSlot> admission;
};

// Authenticates the call into `call.actor` (see AuthenticateCall), refuses one
// whose deadline has passed or that was cancelled, and one whose roles may not
// make it (vault::CheckCall: PERMISSION_DENIED).
// `throttle` (may be null) slows peers that keep failing to authenticate.
absl::Status BeginCall(grpc::ServerContextBase* context, const vault::PrincipalStore& principals,
                       AuthThrottle* throttle, Call& call);

// Logs a finished call: authentication failures and denials always (ids,
// method and code, never a token), every call when SetLogCalls(true).
void LogCall(const Call& call, const absl::Status& status);
// A call's request id, principal id and method, for its other log events.
LogFields CallLogFields(const Call& call);

// Finishes a unary call with `status`, first freeing its admission slot. A failed call's entry is
// committed first and the call finishes once it is durable; the client gets `status` either way
// (mapped by ToGrpcStatus). Never blocks.
void FinishCall(vault::Vault& vault, grpc::ServerUnaryReactor* reactor, const Call& call,
                const absl::Status& status);
// The same for a call served outside gRPC (the HTTP capture endpoint):
// `answer` runs once the client may be answered (at once, or once the
// failure entry is durable), on the calling or the committer's thread.
void FinishCall(vault::Vault& vault, const Call& call, const absl::Status& status,
                std::function<void()> answer);

// Parses a request's lead id (ParseLeadId: INVALID_ARGUMENT naming the
// field), naming it in the call's audit entry when well formed; the binary id.
absl::StatusOr<std::string> RequestLeadId(Call& call, const std::string& text);

// Begins the call (BeginCall, on the calling gRPC thread), admits it
// (Admission::Admit, with `request_bytes`), runs `work` on `pool`, then
// finishes the call with its status through FinishCall. A call that cannot
// begin finishes with that; one not admitted, refused by the pool
// (RESOURCE_EXHAUSTED), or still queued on the pool when the drain begins
// (UNAVAILABLE) is answered through Admission::Refuse, without waiting for a
// worker. `work` runs at most once.
grpc::ServerUnaryReactor* Dispatch(vault::Vault& vault, AuthThrottle* throttle,
                                   Admission* admission, WorkerPool* pool,
                                   grpc::CallbackServerContext* context, vault::Rpc rpc,
                                   size_t request_bytes, std::function<absl::Status(Call&)> work);

// The one shape of a unary handler served on the pool: `handler` validates,
// converts, makes one vault call and maps the result into `response`; the
// call ceremony (authentication, admission, audit of a failure) is Dispatch's.
// A failed call's response is cleared: never a partial reply.
template <typename Request, typename Response>
grpc::ServerUnaryReactor* Serve(vault::Vault& vault, AuthThrottle* throttle, Admission* admission,
                                WorkerPool* pool, grpc::CallbackServerContext* context,
                                vault::Rpc rpc,
                                absl::Status (*handler)(vault::Vault&, Call&, const Request&,
                                                        Response&),
                                const Request* request, Response* response) {
  return Dispatch(vault, throttle, admission, pool, context, rpc, request->ByteSizeLong(),
                  [&vault, handler, request, response](Call& call) {
                    absl::Status status = handler(vault, call, *request, *response);
                    if (!status.ok()) response->Clear();
                    return status;
                  });
}

}  // namespace leadvault::api

#endif  // LEADVAULT_API_CALL_H_
