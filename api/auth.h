// Authentication of a call: bearer token -> principal -> vault::Actor.
#ifndef LEADVAULT_API_AUTH_H_
#define LEADVAULT_API_AUTH_H_

#include "absl/status/statusor.h"
#include "api/auth_throttle.h"
#include "grpcpp/server_context.h"
#include "vault/actor.h"
#include "vault/principal_store.h"

namespace leadvault::api {

// Sets the actor's peer address and request id (the client's `x-request-id`
// when it is 1..64 printable ASCII characters, else a random one), which is
// also sent back in the initial metadata.
void IdentifyCall(grpc::ServerContextBase* context, vault::Actor& actor);

// Reads `authorization: Bearer <token>` from the call's metadata and
// authenticates it into `actor`: the principal, its roles (comma-joined, as
// the audit role) and its service lines. UNAUTHENTICATED (one message for
// every cause) if the header is missing or malformed or the token is not
// valid, or the principal is bound to a client certificate (mutual TLS) and
// the call did not present that one; then `claimed` gets the principal id a
// well-formed token names (never any part of its secret), for the audit entry.
// Without a throttle.
absl::Status AuthenticateCall(grpc::ServerContextBase* context,
                              const vault::PrincipalStore& principals, vault::Actor& actor,
                              std::string* claimed);

// The same, through `throttle` (may be null: none): a call the throttle does
// not admit (its peer address or claimed principal backing off) is refused
// with its RESOURCE_EXHAUSTED before the token is looked at; every
// UNAUTHENTICATED outcome counts as a failure of the peer's address and of the
// principal the token claims; a success forgives nothing.
absl::Status AuthenticateCall(grpc::ServerContextBase* context,
                              const vault::PrincipalStore& principals, AuthThrottle* throttle,
                              vault::Actor& actor, std::string* claimed);

// Fills the authenticated part of `actor` from `principal`: its id, roles
// (comma-joined, as the audit role) and service lines.
void SetActorPrincipal(const vault::Principal& principal, vault::Actor& actor);

// The principal id a bearer token "lv_<16 lower-case hex>_..." claims, unchecked
// (for the throttle and the audit entry of a refused call); else empty.
absl::string_view ClaimedPrincipalId(absl::string_view token);

// A request id the client chose (1..64 printable ASCII characters), else a
// random one (16 hex).
std::string RequestIdOr(absl::string_view client_id);

}  // namespace leadvault::api

#endif  // LEADVAULT_API_AUTH_H_
