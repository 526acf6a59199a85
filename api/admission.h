// Admission control and drain for the unary calls served by the api layer.
#ifndef LEADVAULT_API_ADMISSION_H_
#define LEADVAULT_API_ADMISSION_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/support/server_callback.h"
#include "vault/access_policy.h"
#include "vault/vault.h"

namespace leadvault::api {

struct Call;

// UNAVAILABLE "server is shutting down": a call that never started because
// the server is draining (retry elsewhere; nothing was done).
absl::Status ShuttingDownError();

struct AdmissionOptions {
  // Lead calls (CreateLead, GetLead, FindLeads, ListQueue, UpdateLead, and the
  // Consent service's four) admitted and not yet finished: waiting for a worker, running, or
  // waiting for their group commit. Measured on the development machine (2 cores): CreateLead
  // throughput is flat from 64 callers up (~3,000-3,800/s, full groups), so
  // 256 keeps full groups with ~85 ms of queue at most.
  size_t max_calls = 256;
  // Their request bytes (serialized size); a typical CreateLead is well under
  // 1 KiB, so the count binds first. One call is always admitted when none is
  // in flight, whatever its size.
  size_t max_bytes = 8 << 20;
  // Refused calls (overload or drain) whose own failure entries may be waiting
  // for the committer at once. Beyond it a refusal is answered at once and
  // counted into one "RefusedCalls" tally entry instead (see Refuse), so
  // refusing never becomes unbounded audit work. At least 1.
  size_t max_refusal_entries = 32;
};

// Admits calls against the bounds above and refuses the rest; refuses every
// call once draining. Thread-safe. Held by shared_ptr: the audit callbacks of
// refused calls keep it alive until the committer has run them.
class Admission : public std::enable_shared_from_this<Admission> {
 public:
  // `vault` (may be null when Refuse is never called) must outlive the
  // committer callbacks Refuse schedules.
  static std::shared_ptr<Admission> Create(vault::Vault* vault, const AdmissionOptions& options);
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;

  // Admits `call` (authenticated) with a request of `request_bytes`. On OK the
  // call holds a slot (call.admission) until its last copy is destroyed. Once
  // draining: UNAVAILABLE "server is shutting down". For a lead call beyond
  // max_calls or max_bytes: RESOURCE_EXHAUSTED "server overloaded: retry with
  // backoff". Other calls (Admin, EmergencyAccess) are never bounded here: an
  // administrator must be able to act while leads overload the server.
  absl::Status Admit(Call& call, size_t request_bytes);

  // Answers a call refused by Admit (or dropped at drain) with `status`. While
  // fewer than max_refusal_entries refusals are being recorded, the call gets
  // its own failure entry and is answered once it is durable (as FinishCall);
  // beyond that it is answered at once and counted per principal and action
  // into a tally, written as one entry by the next refusal entry to complete.
  // Never blocks.
  void Refuse(grpc::ServerUnaryReactor* reactor, const Call& call, const absl::Status& status);
  // The same for a call served outside gRPC: `answer` runs once the client
  // may be answered.
  void Refuse(const Call& call, const absl::Status& status, std::function<void()> answer);

  // From now on every Admit is UNAVAILABLE. Irreversible.
  void BeginDrain();
  bool draining() const;

  // Counters, for tests and the daemon's log.
  size_t calls_in_flight() const;
  uint64_t refused_unrecorded() const;  // refusals counted into tallies so far

 private:
  friend class AdmissionSlot;
  Admission(vault::Vault* vault, const AdmissionOptions& options)
      : vault_(vault), options_(options) {}
  void Release(size_t request_bytes);
  // A refusal entry (or tally) finished: writes the pending tally in its slot,
  // or frees the slot.
  void RefusalEntryDone();

  // Constant after construction.
  vault::Vault* const vault_;
  const AdmissionOptions options_;

  mutable absl::Mutex mu_;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  size_t calls_ ABSL_GUARDED_BY(mu_) = 0;
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  size_t refusal_entries_ ABSL_GUARDED_BY(mu_) = 0;
  // "PRINCIPAL:Action" -> refusals not yet written; at most kMaxTallyKeys keys.
  std::map<std::string, uint64_t> tally_ ABSL_GUARDED_BY(mu_);
  uint64_t refused_unrecorded_ ABSL_GUARDED_BY(mu_) = 0;
};

// The slot an admitted lead call holds until Release() (FinishCall and
// Refuse call it before answering, so a client that sends its next call on
// the answer finds the slot free) or its destruction. Thread-safe.
class AdmissionSlot {
 public:
  AdmissionSlot(std::shared_ptr<Admission> admission, size_t request_bytes)
      : admission_(std::move(admission)), request_bytes_(request_bytes) {}
  ~AdmissionSlot() { Release(); }
  AdmissionSlot(const AdmissionSlot&) = delete;
  AdmissionSlot& operator=(const AdmissionSlot&) = delete;

  // Frees the slot; later calls do nothing.
  void Release() {
    if (!released_.exchange(true)) admission_->Release(request_bytes_);
  }

 private:
  const std::shared_ptr<Admission> admission_;
  const size_t request_bytes_;
  std::atomic<bool> released_{false};
};

}  // namespace leadvault::api

#endif  // LEADVAULT_API_ADMISSION_H_
