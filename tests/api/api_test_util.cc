#include "tests/api/api_test_util.h"

#include <cstring>

#include "keys/random.h"
#include "keys/secret_bytes.h"
#include "tests/testing/rpc_error_check.h"
#include "vault/database.h"
#include "vault/lead_rows_check.h"

namespace leadvault::api {
namespace testing_util {
namespace {

class CryptoEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { ASSERT_TRUE(keys::InitCrypto()); }
};

[[maybe_unused]] ::testing::Environment* const kCryptoEnvironment =
    ::testing::AddGlobalTestEnvironment(new CryptoEnvironment);

}  // namespace

void ApiTest::SetUp() {
  keys::SecretBytes kek(32);
  for (size_t i = 0; i < kek.size(); ++i) kek.data()[i] = static_cast<uint8_t>(7 * i + 1);
  vault::VaultOptions options;
  options.data_dir = dir_.path() + "/db";
  options.clock = &clock_;
  options.random = &random_;
  options.funnel_campaigns = funnel_campaigns_;
  auto vault = vault::Vault::Open(options, std::move(kek));
  ASSERT_TRUE(vault.ok()) << vault.status();
  vault_ = *std::move(vault);
  auto issued = vault_->BootstrapAdmin();
  ASSERT_TRUE(issued.ok()) << issued.status();
  admin_token_ = std::string(issued->token.view());

  RestartServer(ServerOptions{});
  if (HasFatalFailure()) return;
  worker_token_ = NewPrincipal("intake desk", {"capture", "intake"});
  ASSERT_FALSE(worker_token_.empty());
}

void ApiTest::TearDown() {
  leads_.reset();
  admin_.reset();
  channel_.reset();
  if (server_ != nullptr) server_->Shutdown(absl::ZeroDuration());
  server_.reset();
  vault_.reset();
}

void ApiTest::RestartServer(const ServerOptions& options) {
  leads_.reset();
  admin_.reset();
  channel_.reset();
  if (server_ != nullptr) server_->Shutdown(absl::ZeroDuration());
  server_.reset();
  auto server = Server::Start(options, vault_.get());
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
  ASSERT_GT(server_->port(), 0);
  channel_ = testing::CheckedChannel(server_->address(), grpc::InsecureChannelCredentials());
  leads_ = v1::LeadVault::NewStub(channel_);
  admin_ = v1::Admin::NewStub(channel_);
}

std::unique_ptr<grpc::ClientContext> ApiTest::RawCtx() const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return ctx;
}

std::unique_ptr<grpc::ClientContext> ApiTest::Ctx(const std::string& token) const {
  auto ctx = RawCtx();
  if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
  return ctx;
}

std::string ApiTest::NewPrincipal(const std::string& name, std::initializer_list<std::string> roles,
                                  int64_t ttl_seconds, std::string* principal_id) {
  v1::CreatePrincipalRequest request;
  request.set_display_name(name);
  for (const auto& r : roles) request.add_roles(r);
  request.add_service_lines("cardiology");
  request.add_service_lines("cardio");
  request.set_token_ttl_seconds(ttl_seconds);
  v1::CreatePrincipalResponse response;
  grpc::Status s = admin_->CreatePrincipal(Ctx(admin_token_).get(), request, &response);
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  if (principal_id != nullptr) *principal_id = response.principal().principal_id();
  return response.token();
}

std::string ApiTest::NewPrincipalWithLines(const std::string& name,
                                           std::initializer_list<std::string> roles,
                                           std::initializer_list<std::string> service_lines) {
  v1::CreatePrincipalRequest request;
  request.set_display_name(name);
  for (const auto& r : roles) request.add_roles(r);
  for (const auto& l : service_lines) request.add_service_lines(l);
  v1::CreatePrincipalResponse response;
  grpc::Status s = admin_->CreatePrincipal(Ctx(admin_token_).get(), request, &response);
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  return response.token();
}

v1::CreateLeadRequest ApiTest::ValidCreate(const std::string& idempotency_key,
                                           const std::string& email) {
  v1::CreateLeadRequest r;
  r.set_idempotency_key(idempotency_key);
  auto* p = r.mutable_personal();
  p->set_first_name("Ada");
  p->set_last_name("Lovelace");
  p->set_email(email);
  p->set_date_of_birth("1980-05-17");
  p->set_state("ca");
  p->set_postal_code("94043");
  p->set_city("Mountain View");
  p->set_notes("prefers mornings");
  auto* a = r.mutable_attribution();
  a->set_source(v1::SOURCE_CHANNEL_WEB_FORM);
  a->set_campaign("spring-checkup");
  a->set_service_line("cardiology");
  a->set_landing_page("https://example.org/heart?email=leak#frag");
  return r;
}

std::string ApiTest::CreateLead(const std::string& idempotency_key, const std::string& email) {
  v1::CreateLeadResponse response;
  grpc::Status s =
      leads_->CreateLead(Ctx(worker_token_).get(), ValidCreate(idempotency_key, email), &response);
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  return response.lead_id();
}

std::vector<std::string> ApiTest::FindIds(bool by_email, const std::string& value) {
  v1::FindLeadsRequest r;
  if (by_email) {
    r.set_email(value);
  } else {
    r.set_phone(value);
  }
  r.set_purpose(v1::PURPOSE_OF_USE_OPERATIONS);
  v1::FindLeadsResponse response;
  grpc::Status s = leads_->FindLeads(Ctx(worker_token_).get(), r, &response);
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  std::vector<std::string> ids;
  for (const auto& m : response.leads()) ids.push_back(m.lead_id());
  return ids;
}

void ApiTest::ExpectLeadRowsConsistent() {
  auto report = vault::CheckLeadRows(vault_->database());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->result.ok()) << report->result;
}

size_t ApiTest::LeadCount() {
  std::unique_ptr<rocksdb::Iterator> it(vault_->database().db()->NewIterator(
      rocksdb::ReadOptions(), vault_->database().cf(vault::Cf::kLeads)));
  size_t n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
  EXPECT_TRUE(it->status().ok());
  return n;
}

}  // namespace testing_util
}  // namespace leadvault::api
