#include "api/http_capture.h"

#include <cmath>
#include <optional>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "api/auth.h"
#include "api/call.h"
#include "api/convert.h"
#include "api/status.h"
#include "google/protobuf/util/json_util.h"
#include "keys/error_reason.h"
#include "keys/secret_bytes.h"
#include "keys/status_macros.h"
#include "leadvault/v1/leadvault.pb.h"
#include "nlohmann/json.hpp"

namespace leadvault::api {
namespace {

namespace v1 = ::leadvault::v1;

constexpr absl::string_view kBearer = "Bearer ";
constexpr absl::string_view kSignatureVersion = "v1=";
constexpr size_t kSignatureHex = 64;  // HMAC-SHA256
constexpr size_t kMaxTimestampDigits = 12;

absl::Status BadToken() { return absl::UnauthenticatedError("invalid or expired token"); }

absl::Status BadSignature() {
  return absl::UnauthenticatedError("invalid or expired webhook signature");
}

bool IsLowerHex(absl::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// "application/json", with parameters (charset) or not, in any case.
bool IsJson(absl::string_view content_type) {
  absl::string_view type = content_type.substr(0, content_type.find(';'));
  return absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(type), "application/json");
}

// The JSON body of a successful answer.
std::string ResponseBody(const v1::CreateLeadResponse& response) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(response, &out, options);
  return out;
}

// What a call's outcome is waited on with.
struct Outcome {
  absl::Notification answered;
  absl::Status status;
  v1::CreateLeadResponse response;
};

}  // namespace

int HttpStatusForCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kCancelled:
      return 499;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    default:  // UNKNOWN, INTERNAL, DATA_LOSS
      return 500;
  }
}

std::string HttpErrorBody(const absl::Status& status, int http) {
  google::rpc::Status rpc = ToRpcStatus(status);
  std::string details_json;
  nlohmann::json details = nlohmann::json::array();
  if (google::protobuf::util::MessageToJsonString(rpc, &details_json).ok()) {
    nlohmann::json parsed =
        nlohmann::json::parse(details_json, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_object() && parsed.contains("details")) details = parsed["details"];
  }
  nlohmann::json error = {{"code", http},
                          {"status", absl::StatusCodeToString(status.code())},
                          {"message", rpc.message()},
                          {"details", std::move(details)}};
  return nlohmann::json({{"error", std::move(error)}}).dump();
}

absl::Status HttpCapture::Verify(const HttpCaptureRequest& request, Call& call,
                                 std::string* derived_key) const {
  // The timestamp is checked first and said plainly: a clock that drifted is
  // the usual cause, and it depends on no secret and no principal.
  int64_t seconds = 0;
  if (request.timestamp.empty() || request.timestamp.size() > kMaxTimestampDigits ||
      !absl::c_all_of(request.timestamp, absl::ascii_isdigit) ||
      !absl::SimpleAtoi(request.timestamp, &seconds)) {
    return absl::UnauthenticatedError("x-leadvault-timestamp: must be unix seconds");
  }
  const absl::Duration skew = absl::FromUnixSeconds(seconds) - vault_->clock().Now();
  if (absl::AbsDuration(skew) > vault::kWebhookTimestampWindow) {
    return absl::UnauthenticatedError(
        "x-leadvault-timestamp: must be within 5 minutes of the daemon's clock");
  }
  absl::string_view signature = request.signature;
  if (!absl::ConsumePrefix(&signature, kSignatureVersion) || signature.size() != kSignatureHex ||
      !IsLowerHex(absl::AsciiStrToLower(signature))) {
    return BadSignature();
  }
  const std::string hex = absl::AsciiStrToLower(signature);
  const std::string mac = absl::HexStringToBytes(hex);
  std::string payload = absl::StrCat(request.timestamp, ".", request.body);
  absl::StatusOr<vault::Principal> principal =
      vault_->principals().AuthenticateWebhook(request.principal, payload, mac);
  keys::WipeString(payload);
  if (!principal.ok()) return principal.status();
  SetActorPrincipal(*principal, call.actor);
  *derived_key = absl::StrCat("webhook-signature-", hex);
  return absl::OkStatus();
}

absl::Status HttpCapture::Authenticate(const HttpCaptureRequest& request, Call& call,
                                       std::string* derived_key) const {
  const bool bearer = !request.authorization.empty();
  const bool signed_request =
      !request.signature.empty() || !request.principal.empty() || !request.timestamp.empty();
  if (bearer && signed_request) {
    return absl::UnauthenticatedError(
        "authorization: a Bearer token or a webhook signature, not both");
  }
  if (!bearer && !signed_request) {
    return absl::UnauthenticatedError(
        "authorization: a Bearer token or a webhook signature (X-Leadvault-Signature) is "
        "required");
  }
  absl::string_view token = request.authorization;
  const bool bearer_form = absl::ConsumePrefix(&token, kBearer) && !token.empty();
  // The principal the request claims (unchecked): the throttle's key, and the
  // audit entry's subject if it fails.
  std::string claim;
  if (bearer) {
    claim = std::string(ClaimedPrincipalId(token));
  } else if (request.principal.size() == 16 && IsLowerHex(request.principal)) {
    claim = std::string(request.principal);
  }
  const std::string peer(request.peer);
  if (throttle_ != nullptr) {
    if (absl::Status admitted = throttle_->Admit(peer, claim); !admitted.ok()) {
      call.subject = claim;
      return admitted;
    }
  }
  absl::Status status;
  if (!bearer) {
    status = Verify(request, call, derived_key);
  } else if (!bearer_form) {
    status = BadToken();
  } else {
    absl::StatusOr<vault::Principal> principal = vault_->principals().Authenticate(token);
    if (!principal.ok()) {
      status = principal.status();
    } else if (!principal->client_cert_sha256.empty()) {
      status = BadToken();  // it must present its certificate, which this listener cannot ask
    } else {
      SetActorPrincipal(*principal, call.actor);
    }
  }
  if (!status.ok()) {
    call.subject = claim;
    if (throttle_ != nullptr && absl::IsUnauthenticated(status)) {
      throttle_->RecordFailure(peer, claim);
    }
    return status;
  }
  return vault::CheckCall(call.actor, call.rpc);
}

HttpCaptureReply HttpCapture::Handle(const HttpCaptureRequest& request) const {
  auto call = std::make_shared<Call>(vault::Rpc::kCreateLead);
  call->actor.request_id = RequestIdOr(request.request_id);
  call->actor.peer = std::string(request.peer);
  auto outcome = std::make_shared<Outcome>();
  // Answers once the call's outcome is durable (FinishCall) or refused.
  auto finish = [vault = vault_, call, outcome](absl::Status status) {
    outcome->status = std::move(status);
    if (!outcome->status.ok()) outcome->response.Clear();
    FinishCall(*vault, *call, outcome->status, [outcome] { outcome->answered.Notify(); });
  };

  std::string derived_key;
  absl::Status begun = Authenticate(request, *call, &derived_key);
  if (begun.ok() && !IsJson(request.content_type)) {
    begun = WithReason(absl::InvalidArgumentError("content-type: must be application/json"),
                       "UNSUPPORTED_MEDIA_TYPE");
  }
  if (!begun.ok()) {
    finish(begun);
  } else if (absl::Status admitted = admission_->Admit(*call, request.body.size());
             !admitted.ok()) {
    outcome->status = admitted;
    admission_->Refuse(*call, admitted, [outcome] { outcome->answered.Notify(); });
  } else {
    v1::CreateLeadRequest parsed;
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;
    // The parser's own message may quote the input: it is never passed on.
    std::string body(request.body);
    const bool ok = google::protobuf::util::JsonStringToMessage(body, &parsed, options).ok();
    keys::WipeString(body);
    vault::NewLead lead;
    absl::Status converted;
    if (!ok) {
      converted = absl::InvalidArgumentError(
          "body: must be a CreateLeadRequest in protobuf's JSON mapping (known fields, "
          "their types, valid JSON)");
    } else if (parsed.has_consent()) {
      absl::StatusOr<vault::ConsentGrant> consent = FromProto(parsed.consent());
      if (consent.ok()) {
        lead.consent = *std::move(consent);
      } else {
        converted = consent.status();
      }
    }
    if (!converted.ok()) {
      finish(converted);
    } else {
      lead.pii = FromProto(parsed.personal());
      lead.attribution = FromProto(parsed.attribution());
      lead.idempotency_key =
          parsed.idempotency_key().empty() ? derived_key : parsed.idempotency_key();
      vault_->leads().CreateLeadAsync(
          call->actor, std::move(lead),
          [outcome, finish](absl::StatusOr<vault::CreateResult> result) {
            if (result.ok()) {
              outcome->response.set_lead_id(vault::EncodeLeadId(result->lead_id));
              outcome->response.set_duplicate(result->duplicate);
              outcome->response.set_version(result->version);
            }
            finish(result.status());
          });
    }
  }
  outcome->answered.WaitForNotification();

  HttpCaptureReply reply;
  reply.request_id = call->actor.request_id;
  if (outcome->status.ok()) {
    reply.status = 200;
    reply.body = ResponseBody(outcome->response);
    return reply;
  }
  reply.status = absl::IsInvalidArgument(outcome->status) &&
                         ErrorReason(outcome->status) == "UNSUPPORTED_MEDIA_TYPE"
                     ? 415
                     : HttpStatusForCode(outcome->status.code());
  reply.body = HttpErrorBody(outcome->status, reply.status);
  if (std::optional<absl::Duration> delay = RetryDelay(outcome->status)) {
    reply.retry_after_seconds =
        std::max<int64_t>(1, static_cast<int64_t>(std::ceil(absl::ToDoubleSeconds(*delay))));
  }
  return reply;
}

}  // namespace leadvault::api
