#include "api/retention_service.h"

#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "api/call.h"
#include "api/convert.h"
#include "api/status.h"
#include "keys/status_macros.h"

namespace leadvault::api {
namespace {

void ToProto(const vault::LegalHold& in, v1::LegalHold* out) {
  out->set_lead_id(vault::EncodeLeadId(in.lead_id));
  out->set_hold_id(in.hold_id);
  out->set_reason(in.reason);
  out->set_placed_by(in.placed_by);
  out->set_placed_at_unix_micros(absl::ToUnixMicros(in.placed_at));
}

absl::Status DoPlace(vault::Vault& vault, Call& call, const v1::PlaceLegalHoldRequest& request,
                     v1::PlaceLegalHoldResponse& response) {
  LV_ASSIGN_OR_RETURN(std::string id, RequestLeadId(call, request.lead_id()));
  LV_ASSIGN_OR_RETURN(vault::LegalHold hold, vault.holds().Place(call.actor, id, request.reason()));
  ToProto(hold, response.mutable_hold());
  return absl::OkStatus();
}

absl::Status DoRelease(vault::Vault& vault, Call& call, const v1::ReleaseLegalHoldRequest& request,
                       v1::ReleaseLegalHoldResponse& response) {
  LV_ASSIGN_OR_RETURN(std::string id, RequestLeadId(call, request.lead_id()));
  LV_ASSIGN_OR_RETURN(vault::LegalHold hold,
                      vault.holds().Release(call.actor, id, request.hold_id(), request.reason()));
  ToProto(hold, response.mutable_hold());
  return absl::OkStatus();
}

absl::Status DoList(vault::Vault& vault, Call& call, const v1::ListLegalHoldsRequest& request,
                    v1::ListLegalHoldsResponse& response) {
  std::string id;
  if (!request.lead_id().empty()) {
    LV_ASSIGN_OR_RETURN(id, RequestLeadId(call, request.lead_id()));
  }
  LV_ASSIGN_OR_RETURN(vault::HoldPage page, vault.holds().List(call.actor, id, request.page_size(),
                                                               request.page_token()));
  for (const vault::LegalHold& h : page.holds) ToProto(h, response.add_holds());
  response.set_next_page_token(page.next_page_token);
  return absl::OkStatus();
}

vault::RetentionRule FromProto(const v1::RetentionRule& in) {
  vault::RetentionRule rule;
  rule.name = in.name();
  if (!in.service_line().empty()) rule.service_line = in.service_line();
  if (in.source() != v1::SOURCE_CHANNEL_UNSPECIFIED) {
    rule.source = static_cast<vault::SourceChannel>(in.source());
  }
  if (in.status() != v1::LEAD_STATUS_UNSPECIFIED) {
    rule.status = static_cast<vault::LeadStatus>(in.status());
  }
  rule.period = absl::Hours(24) * static_cast<int64_t>(in.period_days());
  rule.from = static_cast<vault::RetentionAnchor>(in.from());
  return rule;
}

void ToProto(const vault::RetentionRule& in, v1::RetentionRule* out) {
  out->set_name(in.name);
  if (in.service_line.has_value()) out->set_service_line(*in.service_line);
  if (in.source.has_value()) out->set_source(static_cast<v1::SourceChannel>(*in.source));
  if (in.status.has_value()) out->set_status(static_cast<v1::LeadStatus>(*in.status));
  out->set_period_days(static_cast<uint32_t>(in.period / absl::Hours(24)));
  out->set_from(static_cast<v1::RetentionAnchor>(in.from));
}

void ToProto(const vault::StoredRetentionPolicy& in, v1::RetentionPolicyInForce* out) {
  for (const vault::RetentionRule& rule : in.policy.rules) {
    ToProto(rule, out->mutable_policy()->add_rules());
  }
  ToProto(in.policy.default_rule, out->mutable_policy()->mutable_default_rule());
  out->set_version(in.version);
  if (in.version != 0) out->set_set_at_unix_micros(absl::ToUnixMicros(in.set_at));
  out->set_set_by(in.set_by);
}

absl::Status DoSetPolicy(vault::Vault& vault, Call& call,
                         const v1::SetRetentionPolicyRequest& request,
                         v1::SetRetentionPolicyResponse& response) {
  if (request.policy().rules_size() > static_cast<int>(vault::kMaxRetentionRules)) {
    return absl::InvalidArgumentError(
        absl::StrCat("retention.rules: at most ", vault::kMaxRetentionRules, " rules"));
  }
  vault::RetentionPolicy policy;
  for (const v1::RetentionRule& rule : request.policy().rules()) {
    policy.rules.push_back(FromProto(rule));
  }
  policy.default_rule = FromProto(request.policy().default_rule());
  if (policy.default_rule.name.empty()) policy.default_rule.name = "default";
  LV_ASSIGN_OR_RETURN(vault::StoredRetentionPolicy stored,
                      vault.retention_policy().Set(call.actor, std::move(policy)));
  ToProto(stored, response.mutable_policy());
  return absl::OkStatus();
}

absl::Status DoGetPolicy(vault::Vault& vault, Call& call, const v1::GetRetentionPolicyRequest&,
                         v1::GetRetentionPolicyResponse& response) {
  LV_ASSIGN_OR_RETURN(vault::StoredRetentionPolicy stored,
                      vault.retention_policy().Get(call.actor));
  ToProto(stored, response.mutable_policy());
  return absl::OkStatus();
}

void SetCounts(const vault::SweepReport& report, v1::SweepProgress* out) {
  out->set_dry_run(report.dry_run);
  out->set_as_of_unix_micros(absl::ToUnixMicros(report.as_of));
  out->set_purged(report.purged);
  out->set_renewed(report.renewed);
  out->set_held(report.held);
  out->set_due(report.due);
  out->set_more(report.more);
}

// One manual sweep, from its handler to OnDone (which deletes it). The sweep
// runs on a thread of its own that sends progress as it goes (one write in
// flight at most) and then the report; OnWriteDone runs on a gRPC thread.
class SweepReactor final : public grpc::ServerWriteReactor<v1::SweepProgress> {
 public:
  SweepReactor(vault::Vault* vault, AuthThrottle* throttle, grpc::CallbackServerContext* context,
               const v1::SweepRetentionRequest* request, const std::atomic<bool>* stopping,
               std::atomic<int>* running)
      : vault_(vault),
        context_(context),
        stopping_(stopping),
        running_(running),
        call_(vault::Rpc::kSweepRetention) {
    if (absl::Status begun = BeginCall(context, vault->principals(), throttle, call_);
        !begun.ok()) {
      Fail(begun);
      return;
    }
    options_.dry_run = request->dry_run();
    options_.batch_size =
        request->batch_size() == 0 ? vault::kDaemonSweepBatch : request->batch_size();
    if (request->batch_size() < 0) options_.batch_size = 0;  // refused by the sweeper
    options_.max_leads = request->max_leads() == 0 ? 1'000'000 : request->max_leads();
    options_.pause = vault::kDaemonSweepPause;
    options_.stop = &stop_;
    if (stopping_->load()) {
      Fail(ShuttingDownError());
      return;
    }
    running_->fetch_add(1);
    std::thread([this] { Run(); }).detach();
  }

  void OnWriteDone(bool ok) override {
    bool send_final = false;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) stop_.store(true);
      send_final = final_.has_value() && !finished_;
      finished_ = finished_ || send_final;
    }
    if (send_final) SendFinal();
  }

  void OnDone() override { delete this; }

 private:
  // On the sweep's thread.
  void Run() {
    std::atomic<int>* running = running_;  // `this` may be gone once the call is finished
    absl::StatusOr<vault::SweepReport> report = vault_->retention().Sweep(
        call_.actor, options_, [this](const vault::SweepReport& so_far) { Progress(so_far); });
    if (report.ok()) {
      call_.entry_committed = true;
      v1::SweepProgress done;
      SetCounts(*report, &done);
      done.set_done(true);
      for (const auto& [rule, count] : report->per_rule) {
        v1::RetentionRuleCount* c = done.add_per_rule();
        c->set_rule(rule);
        c->set_leads(count);
      }
      for (const auto& [id, rule] : report->listed) {
        v1::PurgedLead* p = done.add_listed();
        p->set_lead_id(id);
        p->set_rule(rule);
      }
      done.set_table_bytes_before(report->table_bytes_before);
      done.set_table_bytes_after(report->table_bytes_after);
      done.set_deletions_compacted(report->deletions_compacted);
      done.set_audit_sequence(report->audit_sequence);
      Complete(std::move(done), absl::OkStatus());
    } else {
      Fail(report.status());
    }
    running->fetch_sub(1);
  }

  // After each batch, on the sweep's thread.
  void Progress(const vault::SweepReport& so_far) {
    if (context_->IsCancelled() || stopping_->load()) stop_.store(true);
    const absl::Time now = absl::Now();
    {
      absl::MutexLock lock(&mu_);
      if (writing_ || finished_ || now - last_sent_ < kSweepProgressInterval) return;
      last_sent_ = now;
      writing_ = true;  // progress_ is this thread's until the write is done
    }
    progress_.Clear();
    SetCounts(so_far, &progress_);
    StartWrite(&progress_);  // not under mu_: OnWriteDone takes it
  }

  // The report (or the failure) goes once no progress write is in flight.
  void Complete(v1::SweepProgress last, absl::Status status) {
    bool send_final = false;
    {
      absl::MutexLock lock(&mu_);
      final_ = std::move(last);
      final_status_ = std::move(status);
      send_final = !writing_ && !finished_;
      finished_ = finished_ || send_final;
    }
    if (send_final) SendFinal();
  }

  // Once, with mu_ released: the call may be done (and this object deleted)
  // as soon as it is finished, so nothing is touched after.
  void SendFinal() {
    if (final_status_.ok()) {
      StartWriteAndFinish(&*final_, grpc::WriteOptions(), grpc::Status::OK);
    } else {
      Finish(ToGrpcStatus(final_status_));
    }
  }

  // A failure before the sweep's entry was committed is audited as the
  // call's one entry first (as FinishCall does for unary calls).
  void Fail(const absl::Status& status) {
    if (call_.entry_committed) {
      Complete(v1::SweepProgress(), status);
      return;
    }
    vault_->RecordFailureAsync(
        call_.actor, call_.action, call_.lead_ids, status, call_.subject,
        [this, status](absl::Status) { Complete(v1::SweepProgress(), status); });
  }

  vault::Vault* const vault_;
  grpc::CallbackServerContext* const context_;
  const std::atomic<bool>* const stopping_;
  std::atomic<int>* const running_;
  Call call_;
  vault::SweepOptions options_;
  std::atomic<bool> stop_{false};
  absl::Mutex mu_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_sent_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  v1::SweepProgress progress_;  // the sweep thread's while writing_ is false
  // Set once, under mu_; read by SendFinal, once finished_ is set.
  std::optional<v1::SweepProgress> final_;
  absl::Status final_status_;
};

}  // namespace

RetentionService::~RetentionService() {
  stopping_.store(true);
  while (running_.load() != 0) absl::SleepFor(absl::Milliseconds(10));
}

grpc::ServerUnaryReactor* RetentionService::PlaceLegalHold(grpc::CallbackServerContext* context,
                                                           const v1::PlaceLegalHoldRequest* request,
                                                           v1::PlaceLegalHoldResponse* response) {
  return Serve(*vault_, throttle_, admission_, pool_, context, vault::Rpc::kPlaceLegalHold, DoPlace,
               request, response);
}

grpc::ServerUnaryReactor* RetentionService::ReleaseLegalHold(
    grpc::CallbackServerContext* context, const v1::ReleaseLegalHoldRequest* request,
    v1::ReleaseLegalHoldResponse* response) {
  return Serve(*vault_, throttle_, admission_, pool_, context, vault::Rpc::kReleaseLegalHold,
               DoRelease, request, response);
}

grpc::ServerUnaryReactor* RetentionService::ListLegalHolds(grpc::CallbackServerContext* context,
                                                           const v1::ListLegalHoldsRequest* request,
                                                           v1::ListLegalHoldsResponse* response) {
  return Serve(*vault_, throttle_, admission_, pool_, context, vault::Rpc::kListLegalHolds, DoList,
               request, response);
}

grpc::ServerUnaryReactor* RetentionService::SetRetentionPolicy(
    grpc::CallbackServerContext* context, const v1::SetRetentionPolicyRequest* request,
    v1::SetRetentionPolicyResponse* response) {
  return Serve(*vault_, throttle_, admission_, pool_, context, vault::Rpc::kSetRetentionPolicy,
               DoSetPolicy, request, response);
}

grpc::ServerUnaryReactor* RetentionService::GetRetentionPolicy(
    grpc::CallbackServerContext* context, const v1::GetRetentionPolicyRequest* request,
    v1::GetRetentionPolicyResponse* response) {
  return Serve(*vault_, throttle_, admission_, pool_, context, vault::Rpc::kGetRetentionPolicy,
               DoGetPolicy, request, response);
}

grpc::ServerWriteReactor<v1::SweepProgress>* RetentionService::SweepRetention(
    grpc::CallbackServerContext* context, const v1::SweepRetentionRequest* request) {
  return new SweepReactor(vault_, throttle_, context, request, &stopping_, &running_);
}

}  // namespace leadvault::api
