// ExportAudit served as a callback stream.
#ifndef LEADVAULT_API_EXPORT_STREAM_H_
#define LEADVAULT_API_EXPORT_STREAM_H_

#include "api/auth_throttle.h"
#include "api/export_limiter.h"
#include "api/worker_pool.h"
#include "grpcpp/support/server_callback.h"
#include "leadvault/v1/leadvault.grpc.pb.h"
#include "vault/vault.h"

namespace leadvault::api {

// A streamed message is sent once its entries (and proofs) reach this size:
// well under the 4 MiB a gRPC client accepts by default, whatever the
// entries' sizes (a queue page's entry names up to 500 leads).
inline constexpr size_t kExportMessageBytes = 1 << 20;

// Serves one ExportAudit call: authenticates it (on the calling gRPC thread),
// takes a slot from `limiter` (RESOURCE_EXHAUSTED beyond its caps), commits
// the export's audit entry before anything is sent, then sends the export one
// message at a time, producing each on `pool` only once the client has taken
// the one before: at most one message is buffered per stream, and no gRPC
// thread waits for storage. A failure before the entry is committed is
// audited as the call's one entry; a later one (the client went away, the
// write timed out, storage) is only reported to the client. Everything passed
// must outlive the call.
grpc::ServerWriteReactor<v1::ExportAuditResponse>* ServeExport(
    vault::Vault* vault, AuthThrottle* throttle, WorkerPool* pool, ExportLimiter* limiter,
    grpc::CallbackServerContext* context, const v1::ExportAuditRequest* request);

}  // namespace leadvault::api

#endif  // LEADVAULT_API_EXPORT_STREAM_H_
