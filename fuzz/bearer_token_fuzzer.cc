// Bearer-token authentication of a call (api/auth.h): the `authorization` and
// `x-request-id` metadata a client sends, against a real vault holding one
// admin principal. Input: the request id as a libFuzzer random-length string,
// then the authorization header; "@TOKEN@" in the header stands for the
// admin's real token, so the fuzzer can mutate around a valid one.
#include <fuzzer/FuzzedDataProvider.h>
#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "api/auth.h"
#include "fuzz/fuzz_check.h"
#include "grpcpp/server_context.h"
#include "grpcpp/test/server_context_test_spouse.h"
#include "keys/random.h"
#include "keys/secret_bytes.h"
#include "vault/actor.h"
#include "vault/vault.h"

namespace {

using leadvault::vault::Vault;

struct Fixture {
  std::string dir;
  std::unique_ptr<Vault> vault;
  std::string token;
  std::string admin_id;
};

Fixture* fixture = nullptr;

void CloseFixture() {
  fixture->vault.reset();
  std::error_code ignored;
  std::filesystem::remove_all(fixture->dir, ignored);
}

void OpenFixture() {
  FUZZ_CHECK(leadvault::keys::InitCrypto());
  fixture = new Fixture;
  const char* tmp = std::getenv("TMPDIR");
  std::string dir_template =
      absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/leadvault_auth_fuzz_XXXXXX");
  FUZZ_CHECK(mkdtemp(dir_template.data()) != nullptr);
  fixture->dir = dir_template;
  leadvault::vault::VaultOptions options;
  options.data_dir = fixture->dir + "/data";
  absl::StatusOr<std::unique_ptr<Vault>> vault =
      Vault::Open(options, leadvault::keys::SecretBytes::CopyFrom(std::string(32, 'm')));
  FUZZ_CHECK(vault.ok());
  fixture->vault = std::move(*vault);
  absl::StatusOr<leadvault::vault::IssuedToken> admin = fixture->vault->BootstrapAdmin();
  FUZZ_CHECK(admin.ok());
  fixture->token = std::string(admin->token.view());
  fixture->admin_id = admin->principal.id;
  std::atexit(CloseFixture);
}

bool IsLowerHex(absl::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (fixture == nullptr) OpenFixture();
  FuzzedDataProvider provider(data, size);
  const std::string request_id = provider.ConsumeRandomLengthString(100);
  const std::string header =
      absl::StrReplaceAll(provider.ConsumeRemainingBytesAsString(), {{"@TOKEN@", fixture->token}});

  grpc::ServerContext context;
  grpc::testing::ServerContextTestSpouse spouse(&context);
  spouse.AddClientMetadata("x-request-id", request_id);
  spouse.AddClientMetadata("authorization", header);

  leadvault::vault::Actor actor;
  leadvault::api::IdentifyCall(&context, actor);
  // The request id is the client's when it is 1..64 printable ASCII, else a fresh one.
  FUZZ_CHECK(!actor.request_id.empty() && actor.request_id.size() <= 64);
  for (char c : actor.request_id) FUZZ_CHECK(c > 0x20 && c < 0x7f);
  bool client_id_ok = !request_id.empty() && request_id.size() <= 64;
  for (char c : request_id) client_id_ok = client_id_ok && c > 0x20 && c < 0x7f;
  if (client_id_ok) FUZZ_CHECK(actor.request_id == request_id);

  std::string claimed;
  absl::Status status =
      leadvault::api::AuthenticateCall(&context, fixture->vault->principals(), actor, &claimed);
  if (header == absl::StrCat("Bearer ", fixture->token)) {
    FUZZ_CHECK(status.ok());
    FUZZ_CHECK(actor.principal_id == fixture->admin_id &&
               actor.roles == std::vector<leadvault::vault::Role>{leadvault::vault::Role::kAdmin});
    return 0;
  }
  // Anything else: one UNAUTHENTICATED message for every cause, and the
  // claimed id is a well-formed token's 16-hex principal id or nothing, never
  // any part of its secret.
  FUZZ_CHECK(absl::IsUnauthenticated(status));
  FUZZ_CHECK(status.message() == "invalid or expired token");
  FUZZ_CHECK(actor.principal_id.empty());
  if (!claimed.empty()) {
    FUZZ_CHECK(claimed.size() == 16 && IsLowerHex(claimed));
    FUZZ_CHECK(absl::StartsWith(header, absl::StrCat("Bearer lv_", claimed, "_")));
  }
  return 0;
}
