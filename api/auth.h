// Authentication of a call: bearer token -> principal -> vault::Actor.
#ifndef LEADVAULT_API_AUTH_H_
#define LEADVAULT_API_AUTH_H_

#include "absl/status/statusor.h"
#include "grpcpp/server_context.h"
#include "vault/actor.h"
#include "vault/principal_store.h"

namespace leadvault::api {

// Reads `authorization: Bearer <token>` from the call's metadata and
// authenticates it. UNAUTHENTICATED (one message for every cause) if the
// header is missing or malformed or the token is not valid. The actor carries
// the principal, its roles (comma-joined, as the audit role), its service
// lines, the peer address and the request id (the client's `x-request-id`
// when it is 1..64 printable ASCII characters, else a random one), which is
// also sent back in the initial metadata.
absl::StatusOr<vault::Actor> AuthenticateCall(grpc::ServerContextBase* context,
                                              const vault::PrincipalStore& principals);

// True if `actor` holds `role`.
bool HasRole(const vault::Actor& actor, absl::string_view role);

}  // namespace leadvault::api

#endif  // LEADVAULT_API_AUTH_H_
