#include "api/admission.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/call.h"
#include "api/status.h"
#include "api/worker_pool.h"

namespace leadvault::api {
namespace {

// Distinct "principal:action" keys a tally keeps; the rest count as "other".
constexpr size_t kMaxTallyKeys = 64;

// The calls the admission bound applies to: the lead traffic.
constexpr bool IsBounded(vault::Rpc rpc) {
  switch (rpc) {
    case vault::Rpc::kCreateLead:
    case vault::Rpc::kGetLead:
    case vault::Rpc::kFindLeads:
    case vault::Rpc::kListQueue:
    case vault::Rpc::kUpdateLead:
    case vault::Rpc::kAmendLead:
    case vault::Rpc::kListAmendments:
    case vault::Rpc::kRecordConsent:
    case vault::Rpc::kCheckConsent:
    case vault::Rpc::kGetConsentHistory:
    case vault::Rpc::kExportConsentProof:
      return true;
    default:
      return false;
  }
}

}  // namespace

absl::Status ShuttingDownError() { return absl::UnavailableError("server is shutting down"); }

std::shared_ptr<Admission> Admission::Create(vault::Vault* vault, const AdmissionOptions& options) {
  return std::shared_ptr<Admission>(new Admission(vault, options));
}

absl::Status Admission::Admit(Call& call, size_t request_bytes) {
  const bool bounded = IsBounded(call.rpc);
  {
    absl::MutexLock lock(&mu_);
    if (draining_) return ShuttingDownError();
    if (!bounded) return absl::OkStatus();
    if (calls_ >= options_.max_calls ||
        (calls_ > 0 && bytes_ + request_bytes > options_.max_bytes)) {
      return OverloadedError();
    }
    ++calls_;
    bytes_ += request_bytes;
  }
  call.admission = std::make_shared<AdmissionSlot>(shared_from_this(), request_bytes);
  return absl::OkStatus();
}

void Admission::Release(size_t request_bytes) {
  absl::MutexLock lock(&mu_);
  --calls_;
  bytes_ -= request_bytes;
}

void Admission::Refuse(grpc::ServerUnaryReactor* reactor, const Call& call,
                       const absl::Status& status) {
  Refuse(call, status, [reactor, reply = ToGrpcStatus(status)] { reactor->Finish(reply); });
}

void Admission::Refuse(const Call& call, const absl::Status& status, std::function<void()> answer) {
  if (call.admission != nullptr) call.admission->Release();
  bool tallied = false;
  {
    absl::MutexLock lock(&mu_);
    if (refusal_entries_ >= options_.max_refusal_entries) {
      // Every slot is busy, so a slot's completion will write this tally.
      std::string key = absl::StrCat(call.actor.principal_id, ":", call.action);
      if (tally_.size() >= kMaxTallyKeys && tally_.count(key) == 0) key = "other";
      ++tally_[key];
      ++refused_unrecorded_;
      tallied = true;
    } else {
      ++refusal_entries_;
    }
  }
  if (tallied) {
    answer();
    return;
  }
  vault_->RecordFailureAsync(call.actor, call.action, call.lead_ids, status, call.subject,
                             [self = shared_from_this(), answer = std::move(answer)](absl::Status) {
                               // Tally first: once a client has its answer,
                               // the tally it may have joined is queued.
                               self->RefusalEntryDone();
                               answer();
                             });
}

void Admission::RefusalEntryDone() {
  std::vector<std::string> fields;
  {
    absl::MutexLock lock(&mu_);
    if (tally_.empty()) {
      --refusal_entries_;
      return;
    }
    uint64_t calls = 0;
    for (const auto& [key, count] : tally_) calls += count;
    fields.push_back(absl::StrCat("calls=", calls));
    for (const auto& [key, count] : tally_) fields.push_back(absl::StrCat(key, "=", count));
    tally_.clear();
  }
  // The tally keeps the slot until it is written (or could not be: a stopped
  // committer answers at once, and then the slot is freed with nothing left).
  vault_->RecordRefusalTallyAsync(
      std::move(fields), [self = shared_from_this()](absl::Status) { self->RefusalEntryDone(); });
}

void Admission::BeginDrain() {
  absl::MutexLock lock(&mu_);
  draining_ = true;
}

bool Admission::draining() const {
  absl::MutexLock lock(&mu_);
  return draining_;
}

size_t Admission::calls_in_flight() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

uint64_t Admission::refused_unrecorded() const {
  absl::MutexLock lock(&mu_);
  return refused_unrecorded_;
}

}  // namespace leadvault::api
