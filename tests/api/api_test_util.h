// Test harness for tests/api: an in-process vault in a scratch dir, served by
// api::Server on 127.0.0.1:0, with real gRPC stubs to it.
#ifndef LEADVAULT_TESTS_API_API_TEST_UTIL_H_
#define LEADVAULT_TESTS_API_API_TEST_UTIL_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "api/server.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "leadvault/v1/leadvault.grpc.pb.h"
#include "tests/testing/fakes.h"
#include "vault/vault.h"

namespace leadvault::api {
namespace testing_util {

namespace v1 = ::leadvault::v1;

// 2023-11-14T22:13:20Z: a fixed "now" for every test.
inline absl::Time StartTime() { return absl::FromUnixSeconds(1700000000); }

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // A client context carrying `authorization: Bearer <token>` (unless `token`
  // is empty) and a generous deadline that only bounds a hung test.
  std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token) const;
  std::unique_ptr<grpc::ClientContext> RawCtx() const;

  // Creates a principal through the Admin service; returns its token.
  std::string NewPrincipal(const std::string& name, std::initializer_list<std::string> roles,
                           int64_t ttl_seconds = 0, std::string* principal_id = nullptr);

  // A principal with `roles` scoped to exactly `service_lines`; returns its token.
  std::string NewPrincipalWithLines(const std::string& name,
                                    std::initializer_list<std::string> roles,
                                    std::initializer_list<std::string> service_lines);

  // A valid create request with no marker strings.
  static v1::CreateLeadRequest ValidCreate(const std::string& idempotency_key,
                                           const std::string& email);

  // Creates a lead with `worker_token_`; returns its id.
  std::string CreateLead(const std::string& idempotency_key, const std::string& email);

  // The ids FindLeads (worker_token_, purpose operations) returns for an email
  // (`by_email`) or a phone.
  std::vector<std::string> FindIds(bool by_email, const std::string& value);

  // Every row a lead owns is where its record says, and none is left behind
  // (vault::CheckLeadRows).
  void ExpectLeadRowsConsistent();

  // Number of keys in the vault's `leads` column family.
  size_t LeadCount();

  // Replaces the server with one started with `options` (same vault, so the
  // tokens stay valid) and reconnects channel_ and the stubs.
  void RestartServer(const ServerOptions& options);

  std::vector<std::string> funnel_campaigns_;  // the vault's approved labels (set before SetUp)
  testing::ScratchDir dir_;
  testing::FakeClock clock_{StartTime()};
  testing::SeededRandom random_{20240517};
  std::unique_ptr<vault::Vault> vault_;
  std::unique_ptr<Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::LeadVault::Stub> leads_;
  std::unique_ptr<v1::Admin::Stub> admin_;
  std::string admin_token_;
  std::string worker_token_;  // roles capture + intake, service line "cardiology"
};

}  // namespace testing_util
}  // namespace leadvault::api

#endif  // LEADVAULT_TESTS_API_API_TEST_UTIL_H_
