// The HTTP/JSON capture endpoint: POST /v1/leads for web-form tools and
// backends that post JSON webhooks and cannot speak gRPC. Off by default
// (http_capture.enabled); served by the operations HTTP listener (ops_http.h),
// under its TLS rules.
//
// One request is one CreateLead call, with the same validation, admission,
// audit entry and errors as over gRPC: the body is a CreateLeadRequest in
// protobuf's JSON mapping (unknown fields refused); the answer is a
// CreateLeadResponse in the same mapping (proto field names), or an error as
// Google's JSON error body, {"error": {"code": HTTP, "status": "NAME",
// "message": "field: rule", "details": [google.rpc details]}}, with the HTTP
// status gRPC's code maps to (README "Capturing leads over HTTP").
//
// A caller authenticates with either
//  - its bearer token ("Authorization: Bearer lv_..."), as over gRPC; or
//  - a webhook signature: X-Leadvault-Principal (its id), X-Leadvault-Timestamp
//    (unix seconds, within 5 minutes of the daemon's clock) and
//    X-Leadvault-Signature "v1=" + hex HMAC-SHA256 of "<timestamp>.<body>"
//    keyed with the principal's webhook secret (Admin.IssueWebhookSecret).
//    A signed request without an idempotency_key gets one derived from its
//    signature, so a replay of it within the window writes nothing new.
// A principal bound to a client certificate is refused (this listener asks
// for none). Failed authentications go through the same throttle as gRPC's.
#ifndef LEADVAULT_API_HTTP_CAPTURE_H_
#define LEADVAULT_API_HTTP_CAPTURE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "api/admission.h"
#include "api/auth_throttle.h"
#include "vault/vault.h"

namespace leadvault::api {

// The largest request body the endpoint reads (larger: 413 from the listener).
inline constexpr size_t kMaxCaptureBodyBytes = 64 * 1024;

// What the endpoint reads of one HTTP request.
struct HttpCaptureRequest {
  absl::string_view peer;  // "ipv4:ADDR:PORT" / "ipv6:[ADDR]:PORT", as gRPC names peers
  absl::string_view content_type;
  absl::string_view authorization;  // Authorization
  absl::string_view request_id;     // X-Request-Id (optional)
  absl::string_view principal;      // X-Leadvault-Principal
  absl::string_view timestamp;      // X-Leadvault-Timestamp
  absl::string_view signature;      // X-Leadvault-Signature
  absl::string_view body;
};

// Its answer.
struct HttpCaptureReply {
  int status = 200;
  std::string body;                 // JSON
  std::string request_id;           // X-Request-Id of the answer (the client's or a new one)
  int64_t retry_after_seconds = 0;  // > 0: sent as Retry-After
};

// The HTTP status for a gRPC code (google.rpc.Code's documented mapping).
int HttpStatusForCode(absl::StatusCode code);

// Google's JSON error body for a non-OK `status` answered with HTTP status
// `http`: the same code name, message and google.rpc details as the gRPC
// error (ToRpcStatus).
std::string HttpErrorBody(const absl::Status& status, int http);

// Serves the endpoint for one vault. Thread-safe.
class HttpCapture {
 public:
  // `throttle` may be null (none); `vault` and `admission` outlive this.
  HttpCapture(vault::Vault* vault, AuthThrottle* throttle, std::shared_ptr<Admission> admission)
      : vault_(vault), throttle_(throttle), admission_(std::move(admission)) {}

  // Handles one request, blocking until its answer may be sent: after the
  // lead and its audit entry are durable, or after the failure's entry is.
  HttpCaptureReply Handle(const HttpCaptureRequest& request) const;

 private:
  // Authenticates the request into call.actor and checks the role; sets
  // `derived_key` to the idempotency key a signed request implies.
  absl::Status Authenticate(const HttpCaptureRequest& request, Call& call,
                            std::string* derived_key) const;
  absl::Status Verify(const HttpCaptureRequest& request, Call& call,
                      std::string* derived_key) const;

  vault::Vault* const vault_;
  AuthThrottle* const throttle_;
  const std::shared_ptr<Admission> admission_;
};

}  // namespace leadvault::api

#endif  // LEADVAULT_API_HTTP_CAPTURE_H_
