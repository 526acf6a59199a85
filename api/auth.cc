#include "api/auth.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "api/tls.h"
#include "keys/random.h"
#include "keys/secret_bytes.h"

namespace leadvault::api {
namespace {

constexpr absl::string_view kBearer = "Bearer ";

absl::string_view View(const grpc::string_ref& ref) {
  return absl::string_view(ref.data(), ref.size());
}

std::string RequestId(grpc::ServerContextBase* context) {
  auto it = context->client_metadata().find("x-request-id");
  return RequestIdOr(it != context->client_metadata().end() ? View(it->second)
                                                            : absl::string_view());
}

absl::Status Unauthenticated() { return absl::UnauthenticatedError("invalid or expired token"); }

// True if the call's peer presented the client certificate `sha256_hex` names.
bool PresentedCertificate(grpc::ServerContextBase* context, absl::string_view sha256_hex) {
  std::shared_ptr<const grpc::AuthContext> auth = context->auth_context();
  if (auth == nullptr) return false;
  std::vector<grpc::string_ref> pems = auth->FindPropertyValues("x509_pem_cert");
  if (pems.size() != 1) return false;
  absl::StatusOr<std::string> presented = CertificateSha256Hex(View(pems.front()));
  return presented.ok() && keys::ConstantTimeEquals(*presented, sha256_hex);
}

absl::Status Authenticate(grpc::ServerContextBase* context, const vault::PrincipalStore& principals,
                          vault::Actor& actor, std::string* claimed) {
  auto it = context->client_metadata().find("authorization");
  if (it == context->client_metadata().end()) return Unauthenticated();
  absl::string_view header = View(it->second);
  if (header.size() <= kBearer.size() || header.substr(0, kBearer.size()) != kBearer) {
    return Unauthenticated();
  }
  absl::string_view token = header.substr(kBearer.size());
  auto principal = principals.Authenticate(token);
  if (!principal.ok()) {
    *claimed = std::string(ClaimedPrincipalId(token));
    return principal.status();
  }
  if (!principal->client_cert_sha256.empty() &&
      !PresentedCertificate(context, principal->client_cert_sha256)) {
    *claimed = principal->id;
    return Unauthenticated();
  }
  SetActorPrincipal(*principal, actor);
  return absl::OkStatus();
}

// The principal id the call's token claims, unchecked (for the throttle, and
// the audit entry of a throttled call).
std::string ClaimedBy(grpc::ServerContextBase* context) {
  auto it = context->client_metadata().find("authorization");
  if (it == context->client_metadata().end()) return "";
  absl::string_view header = View(it->second);
  if (header.size() <= kBearer.size() || header.substr(0, kBearer.size()) != kBearer) return "";
  return std::string(ClaimedPrincipalId(header.substr(kBearer.size())));
}

}  // namespace

std::string RequestIdOr(absl::string_view client_id) {
  bool printable = !client_id.empty() && client_id.size() <= 64;
  for (char c : client_id) printable = printable && c > 0x20 && c < 0x7f;
  if (printable) return std::string(client_id);
  return absl::BytesToHexString(keys::SystemRandom().Bytes(8));
}

absl::string_view ClaimedPrincipalId(absl::string_view token) {
  constexpr size_t kIdLength = 16;
  if (token.size() < 3 + kIdLength + 1 || token.substr(0, 3) != "lv_" ||
      token[3 + kIdLength] != '_') {
    return {};
  }
  absl::string_view id = token.substr(3, kIdLength);
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return {};
  }
  return id;
}

void SetActorPrincipal(const vault::Principal& principal, vault::Actor& actor) {
  actor.principal_id = principal.id;
  actor.roles = vault::ParseRoles(principal.roles);
  actor.service_lines = principal.service_lines;
}

void IdentifyCall(grpc::ServerContextBase* context, vault::Actor& actor) {
  actor.request_id = RequestId(context);
  actor.peer = context->peer();
  context->AddInitialMetadata("x-request-id", actor.request_id);
}

absl::Status AuthenticateCall(grpc::ServerContextBase* context,
                              const vault::PrincipalStore& principals, vault::Actor& actor,
                              std::string* claimed) {
  return AuthenticateCall(context, principals, /*throttle=*/nullptr, actor, claimed);
}

absl::Status AuthenticateCall(grpc::ServerContextBase* context,
                              const vault::PrincipalStore& principals, AuthThrottle* throttle,
                              vault::Actor& actor, std::string* claimed) {
  if (throttle == nullptr) return Authenticate(context, principals, actor, claimed);
  const std::string peer = context->peer();
  std::string claim = ClaimedBy(context);
  if (absl::Status admitted = throttle->Admit(peer, claim); !admitted.ok()) {
    *claimed = std::move(claim);
    return admitted;
  }
  absl::Status status = Authenticate(context, principals, actor, claimed);
  if (absl::IsUnauthenticated(status)) throttle->RecordFailure(peer, *claimed);
  return status;
}

}  // namespace leadvault::api
