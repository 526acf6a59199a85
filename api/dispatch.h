// Runs a unary call's work on the worker pool and finishes the call with it.
#ifndef LEADVAULT_API_DISPATCH_H_
#define LEADVAULT_API_DISPATCH_H_

#include <functional>

#include "absl/status/status.h"
#include "api/status.h"
#include "api/worker_pool.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"

namespace leadvault::api {

// Posts `work` to `pool`; when it returns, the call finishes with its status
// (through ToGrpcStatus). If the pool refuses it (stopping: UNAVAILABLE;
// overloaded: RESOURCE_EXHAUSTED), the call finishes with that at once.
// `work` runs at most once.
inline grpc::ServerUnaryReactor* Dispatch(WorkerPool* pool, grpc::CallbackServerContext* context,
                                          std::function<absl::Status()> work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status posted =
      pool->Post([reactor, work = std::move(work)] { reactor->Finish(ToGrpcStatus(work())); });
  if (!posted.ok()) reactor->Finish(ToGrpcStatus(posted));
  return reactor;
}

}  // namespace leadvault::api

#endif  // LEADVAULT_API_DISPATCH_H_
