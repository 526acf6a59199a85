#include "api/export_stream.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/call.h"
#include "api/status.h"

namespace leadvault::api {
namespace {

template <typename Repeated>
void AddHashes(const std::vector<audit::Hash>& hashes, Repeated* out) {
  for (const audit::Hash& h : hashes) out->Add(std::string(audit::HashBytes(h)));
}

vault::AuditQuery QueryOf(const v1::ExportAuditRequest& request) {
  vault::AuditQuery query;
  query.from_sequence = request.from_sequence() == 0 ? 1 : request.from_sequence();
  query.to_sequence = request.to_sequence();
  if (request.since_unix_micros() != 0) {
    query.since = absl::FromUnixMicros(request.since_unix_micros());
  }
  if (request.until_unix_micros() != 0) {
    query.until = absl::FromUnixMicros(request.until_unix_micros());
  }
  query.principal_id = request.principal_id();
  query.action = request.action();
  query.lead_id = request.lead_id();
  return query;
}

void SetHeader(const vault::ExportPlan& plan, v1::AuditExportHeader* header) {
  header->set_origin(plan.header.origin);
  header->set_first_sequence(plan.header.first_sequence);
  header->set_last_sequence(plan.header.last_sequence);
  header->set_filtered(plan.header.filtered);
  AddHashes(plan.header.left_frontier, header->mutable_left_frontier());
  header->set_checkpoint_note(plan.trailer.checkpoint_note);
  AddHashes(plan.trailer.right_nodes, header->mutable_right_nodes());
  header->set_filter_principal_id(plan.header.filter.principal_id);
  header->set_filter_action(plan.header.filter.action);
  header->set_filter_lead_id(plan.header.filter.lead_id);
}

// One export, from its handler to OnDone (which deletes it). Its state is
// touched by one thread at a time: the handler, then in turn a pool task
// that produces a message and starts its write, and the gRPC thread that
// reports the write done and posts the next task.
class ExportReactor final : public grpc::ServerWriteReactor<v1::ExportAuditResponse> {
 public:
  ExportReactor(vault::Vault* vault, AuthThrottle* throttle, WorkerPool* pool,
                ExportLimiter* limiter, grpc::CallbackServerContext* context,
                const v1::ExportAuditRequest* request)
      : vault_(vault),
        pool_(pool),
        limiter_(limiter),
        context_(context),
        request_(request),
        call_(vault::Rpc::kExportAudit) {
    // Authentication is in memory: done here, so a refused export is audited
    // with its principal.
    if (absl::Status begun = BeginCall(context, vault->principals(), throttle, call_);
        !begun.ok()) {
      Fail(begun);
      return;
    }
    absl::StatusOr<uint64_t> slot =
        limiter->Acquire(call_.actor.principal_id, [context] { context->TryCancel(); });
    if (!slot.ok()) {
      Fail(slot.status());
      return;
    }
    slot_ = *slot;
    if (absl::Status posted = pool->Post([this] { Begin(); }); !posted.ok()) Fail(posted);
  }

  void OnWriteDone(bool ok) override {
    limiter_->WriteDone(*slot_);
    message_.Clear();
    if (!ok) {
      Fail(absl::CancelledError("export: the client went away or stopped reading"));
    } else if (last_) {
      Finish(grpc::Status::OK);
    } else if (absl::Status posted = pool_->Post([this] { Produce(); }); !posted.ok()) {
      Fail(posted);
    }
  }

  void OnDone() override {
    if (slot_.has_value()) limiter_->Release(*slot_);
    delete this;
  }

 private:
  // On the pool: commits the export's entry, then produces the first message.
  void Begin() {
    absl::StatusOr<vault::ExportPlan> plan =
        vault_->audit().BeginExport(call_.actor, QueryOf(*request_), &call_.entry_committed);
    if (!plan.ok()) {
      Fail(plan.status());
      return;
    }
    SetHeader(*plan, message_.mutable_header());
    cursor_.emplace(vault_->audit().OpenExport(*std::move(plan)));
    Produce();
  }

  // On the pool: fills `message_` with entries up to kExportMessageBytes (the
  // last message with the manifest) and starts its write.
  void Produce() {
    if (context_->IsCancelled()) {
      Fail(absl::CancelledError("export: the client went away"));
      return;
    }
    size_t bytes = 0;
    absl::Status stepped = cursor_->Step(
        [&](const vault::StoredEntry& stored, const std::vector<audit::Hash>* proof) {
          v1::AuditRecord* record = message_.add_entries();
          record->set_canonical(stored.canonical);
          bytes += stored.canonical.size() + 8;
          if (proof != nullptr) {
            AddHashes(*proof, record->mutable_inclusion_proof());
            bytes += proof->size() * (keys::kSha256Size + 2);
          }
          return bytes < kExportMessageBytes;
        },
        [this] { return context_->IsCancelled(); });
    if (!stepped.ok()) {
      Fail(stepped);
      return;
    }
    if (cursor_->done()) {
      absl::StatusOr<std::string> manifest = cursor_->Manifest();
      if (!manifest.ok()) {
        Fail(manifest.status());
        return;
      }
      message_.set_manifest_note(*std::move(manifest));
      last_ = true;
      if (!message_.has_header() && message_.entries_size() == 0 &&
          message_.manifest_note().empty()) {
        Finish(grpc::Status::OK);
        return;
      }
    }
    limiter_->WriteStarted(*slot_);
    StartWrite(&message_);
  }

  // Finishes the call with `status`. Before the export's entry is committed,
  // a failure is committed as the call's entry first (as FinishCall does for
  // unary calls); after it, the client is only told.
  void Fail(const absl::Status& status) {
    grpc::Status reply = ToGrpcStatus(status);
    if (status.ok() || call_.entry_committed) {
      Finish(reply);
      return;
    }
    vault_->RecordFailureAsync(call_.actor, call_.action, call_.lead_ids, status, call_.subject,
                               [this, reply](absl::Status) { Finish(reply); });
  }

  vault::Vault* const vault_;
  WorkerPool* const pool_;
  ExportLimiter* const limiter_;
  grpc::CallbackServerContext* const context_;
  const v1::ExportAuditRequest* const request_;
  Call call_;
  std::optional<uint64_t> slot_;  // once admitted
  std::optional<vault::ExportCursor> cursor_;
  v1::ExportAuditResponse message_;  // the one message produced or being written
  bool last_ = false;                // message_ is the export's last
};

}  // namespace

grpc::ServerWriteReactor<v1::ExportAuditResponse>* ServeExport(
    vault::Vault* vault, AuthThrottle* throttle, WorkerPool* pool, ExportLimiter* limiter,
    grpc::CallbackServerContext* context, const v1::ExportAuditRequest* request) {
  return new ExportReactor(vault, throttle, pool, limiter, context, request);
}

}  // namespace leadvault::api
