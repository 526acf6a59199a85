// leadvault.v1.Retention: legal holds (compliance), manual retention sweeps
// (the retention role), streamed with their progress, and the retention
// policy (set by admin).
#ifndef LEADVAULT_API_RETENTION_SERVICE_H_
#define LEADVAULT_API_RETENTION_SERVICE_H_

#include <atomic>

#include "api/admission.h"
#include "api/auth_throttle.h"
#include "api/worker_pool.h"
#include "leadvault/v1/leadvault.grpc.pb.h"
#include "vault/vault.h"

namespace leadvault::api {

// Progress messages of a sweep are at least this far apart (the last one,
// the report, is always sent).
inline constexpr absl::Duration kSweepProgressInterval = absl::Seconds(1);

// The hold calls are thin handlers on `pool`, like the Admin service. A sweep
// runs on a thread of its own (it may take minutes; at most one runs, as the
// vault allows one sweep at a time: another call is FAILED_PRECONDITION),
// paced as the daemon's scheduled sweeps are (vault::kDaemonSweepPause
// between batches), and ends after its current batch when the client goes
// away or the server shuts down. Its audit entry is the sweep's own
// ("RetentionSweep" or "RetentionSweepDryRun"); each purge has its own too.
// Everything passed must outlive the service.
class RetentionService final : public v1::Retention::CallbackService {
 public:
  RetentionService(vault::Vault* vault, AuthThrottle* throttle, Admission* admission,
                   WorkerPool* pool)
      : vault_(vault), throttle_(throttle), admission_(admission), pool_(pool) {}
  ~RetentionService() override;  // waits for a running sweep's thread

  grpc::ServerUnaryReactor* PlaceLegalHold(grpc::CallbackServerContext* context,
                                           const v1::PlaceLegalHoldRequest* request,
                                           v1::PlaceLegalHoldResponse* response) override;
  grpc::ServerUnaryReactor* ReleaseLegalHold(grpc::CallbackServerContext* context,
                                             const v1::ReleaseLegalHoldRequest* request,
                                             v1::ReleaseLegalHoldResponse* response) override;
  grpc::ServerUnaryReactor* ListLegalHolds(grpc::CallbackServerContext* context,
                                           const v1::ListLegalHoldsRequest* request,
                                           v1::ListLegalHoldsResponse* response) override;
  grpc::ServerUnaryReactor* SetRetentionPolicy(grpc::CallbackServerContext* context,
                                               const v1::SetRetentionPolicyRequest* request,
                                               v1::SetRetentionPolicyResponse* response) override;
  grpc::ServerUnaryReactor* GetRetentionPolicy(grpc::CallbackServerContext* context,
                                               const v1::GetRetentionPolicyRequest* request,
                                               v1::GetRetentionPolicyResponse* response) override;
  grpc::ServerWriteReactor<v1::SweepProgress>* SweepRetention(
      grpc::CallbackServerContext* context, const v1::SweepRetentionRequest* request) override;

  // Ends a running sweep after its current batch (the server is stopping).
  void StopSweeps() { stopping_.store(true); }

 private:
  vault::Vault* const vault_;
  AuthThrottle* const throttle_;
  Admission* const admission_;
  WorkerPool* const pool_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> running_{0};  // sweep threads not yet finished
};

}  // namespace leadvault::api

#endif  // LEADVAULT_API_RETENTION_SERVICE_H_
