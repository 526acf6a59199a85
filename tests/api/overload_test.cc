// Overload and drain: admission control answers RESOURCE_EXHAUSTED beyond its
// bound, refusals cannot become unbounded audit work, health never waits for
// lead traffic, and a drain answers unstarted calls UNAVAILABLE, never CANCELLED.
// Outcomes are counted with the committer parked, never timed.
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "api/admission.h"
#include "api/call.h"
#include "api/health_service.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "tests/api/api_test_util.h"
#include "tests/testing/rpc_error_check.h"

namespace leadvault::api {
namespace {

using testing_util::ApiTest;
namespace v1 = ::leadvault::v1;
namespace health = ::grpc::health::v1;

// ---- Admission, without a server. ----

TEST(AdmissionTest, BoundsLeadCallsInCountAndBytesAndFreesSlotsWithTheCall) {
  AdmissionOptions options;
  options.max_calls = 3;
  options.max_bytes = 100;
  auto admission = Admission::Create(nullptr, options);
  std::vector<Call> admitted;
  for (int i = 0; i < 3; ++i) {
    admitted.emplace_back(vault::Rpc::kCreateLead);
    ASSERT_TRUE(admission->Admit(admitted.back(), 10).ok());
  }
  Call fourth(vault::Rpc::kGetLead);
  absl::Status refused = admission->Admit(fourth, 10);
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.message(), "server overloaded: retry with backoff");
  EXPECT_EQ(fourth.admission, nullptr);
  // Calls outside the lead traffic are never bounded by it.
  Call admin(vault::Rpc::kDisablePrincipal);
  EXPECT_TRUE(admission->Admit(admin, 10).ok());
  EXPECT_EQ(admission->calls_in_flight(), 3u);

  Call copy = admitted[0];  // a copy shares the slot
  admitted.erase(admitted.begin());
  EXPECT_EQ(admission->calls_in_flight(), 3u);
  copy = Call(vault::Rpc::kCreateLead);
  EXPECT_EQ(admission->calls_in_flight(), 2u);

  // Bytes: 2 x 10 in flight, 81 more would pass 100.
  Call big(vault::Rpc::kCreateLead);
  EXPECT_EQ(admission->Admit(big, 81).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(admission->Admit(big, 80).ok());
  admitted.clear();
  big = Call(vault::Rpc::kCreateLead);
  EXPECT_EQ(admission->calls_in_flight(), 0u);
  // An idle server admits one call of any size.
  Call huge(vault::Rpc::kCreateLead);
  EXPECT_TRUE(admission->Admit(huge, 1000).ok());
}

TEST(AdmissionTest, DrainRefusesEveryCallWithUnavailable) {
  auto admission = Admission::Create(nullptr, AdmissionOptions{});
  admission->BeginDrain();
  EXPECT_TRUE(admission->draining());
  for (vault::Rpc rpc : {vault::Rpc::kCreateLead, vault::Rpc::kCreatePrincipal}) {
    Call call(rpc);
    absl::Status s = admission->Admit(call, 1);
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
    EXPECT_EQ(s.message(), "server is shutting down");
  }
  EXPECT_EQ(admission->calls_in_flight(), 0u);
}

// ---- HealthService, on a server of its own. ----

class HealthServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    service_ =
        std::make_unique<HealthService>(std::vector<std::string>{"leadvault.v1.LeadVault"}, [this] {
          absl::MutexLock lock(&mu_);
          return readiness_;
        });
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_GT(port, 0);
    stub_ = health::Health::NewStub(testing::CheckedChannel(absl::StrCat("127.0.0.1:", port),
                                                            grpc::InsecureChannelCredentials()));
  }
  void TearDown() override { server_->Shutdown(); }

  void SetReadiness(absl::Status s) {
    absl::MutexLock lock(&mu_);
    readiness_ = std::move(s);
  }

  grpc::Status Check(const std::string& service, health::HealthCheckResponse* response) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    health::HealthCheckRequest request;
    request.set_service(service);
    return stub_->Check(&ctx, request, response);
  }

  absl::Mutex mu_;
  absl::Status readiness_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<HealthService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<health::Health::Stub> stub_;
};

TEST_F(HealthServiceTest, ServingOnlyWhileReadyForEveryKnownServiceAndNotFoundForOthers) {
  for (const char* service : {"", "leadvault.v1.LeadVault"}) {
    health::HealthCheckResponse response;
    ASSERT_TRUE(Check(service, &response).ok()) << service;
    EXPECT_EQ(response.status(), health::HealthCheckResponse::SERVING) << service;
  }
  // What vault::Vault::StorageHealth reports for a full disk.
  SetReadiness(absl::ResourceExhaustedError("storage nearly full"));
  for (const char* service : {"", "leadvault.v1.LeadVault"}) {
    health::HealthCheckResponse response;
    ASSERT_TRUE(Check(service, &response).ok()) << service;
    EXPECT_EQ(response.status(), health::HealthCheckResponse::NOT_SERVING) << service;
  }
  SetReadiness(absl::OkStatus());
  health::HealthCheckResponse response;
  ASSERT_TRUE(Check("", &response).ok());
  EXPECT_EQ(response.status(), health::HealthCheckResponse::SERVING);
  EXPECT_EQ(Check("no.such.Service", &response).error_code(), grpc::StatusCode::NOT_FOUND);
}

// ---- The server under overload and drain, with the committer parked. ----

// Parks the committer thread before each group write until released.
class CommitterGate {
 public:
  void Park() {
    absl::MutexLock lock(&mu_);
    ++parked_;
    mu_.Await(absl::Condition(&released_));
  }
  void AwaitParked() {
    absl::MutexLock lock(&mu_);
    auto parked = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return parked_ > 0; };
    mu_.Await(absl::Condition(&parked));
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    released_ = true;
  }

 private:
  absl::Mutex mu_;
  int parked_ ABSL_GUARDED_BY(mu_) = 0;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
};

// One async client call and its outcome.
template <typename Response>
struct AsyncCall {
  grpc::ClientContext context;
  Response response;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> reader;
};

class OverloadTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    health_ = health::Health::NewStub(channel_);
  }
  void TearDown() override {
    gate_.Release();
    if (vault_ != nullptr) vault_->committer().SetBeforeWriteHookForTesting(nullptr);
    ApiTest::TearDown();
  }

  // Replaces the fixture's server with one started with `options`.
  void Restart(const ServerOptions& options) {
    server_->Shutdown(absl::ZeroDuration());
    auto server = Server::Start(options, vault_.get());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = testing::CheckedChannel(server_->address(), grpc::InsecureChannelCredentials());
    leads_ = v1::LeadVault::NewStub(channel_);
    admin_ = v1::Admin::NewStub(channel_);
    health_ = health::Health::NewStub(channel_);
  }

  void ParkCommitter() {
    vault_->committer().SetBeforeWriteHookForTesting([this] { gate_.Park(); });
  }

  // Waits for the next completion on `cq` (bounded only against a hung test).
  template <typename Response>
  AsyncCall<Response>* Next(grpc::CompletionQueue& cq) {
    void* tag = nullptr;
    bool ok = false;
    auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(60);
    if (cq.AsyncNext(&tag, &ok, deadline) != grpc::CompletionQueue::GOT_EVENT) return nullptr;
    EXPECT_TRUE(ok);
    return static_cast<AsyncCall<Response>*>(tag);
  }

  health::HealthCheckResponse::ServingStatus HealthStatus(const std::string& service) {
    health::HealthCheckRequest request;
    request.set_service(service);
    health::HealthCheckResponse response;
    grpc::Status s = health_->Check(RawCtx().get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    return response.status();
  }

  // Every audit entry on disk.
  std::vector<audit::AuditEntry> AuditEntries() {
    std::vector<audit::AuditEntry> entries;
    for (uint64_t seq = 1; seq <= vault_->audit_log().size(); ++seq) {
      auto stored = vault_->audit_log().ReadEntry(seq);
      EXPECT_TRUE(stored.ok()) << stored.status();
      if (stored.ok()) entries.push_back(stored->entry);
    }
    return entries;
  }

  CommitterGate gate_;
  std::unique_ptr<health::Health::Stub> health_;
};

TEST_F(OverloadTest, ExactlyTheCallsBeyondTheBoundGetResourceExhaustedAndHealthStaysServing) {
  constexpr int kMaxCalls = 8;
  constexpr int kRefusalEntries = 2;
  constexpr int kExcess = 6;
  ServerOptions options;
  options.admission.max_calls = kMaxCalls;
  options.admission.max_refusal_entries = kRefusalEntries;
  ASSERT_NO_FATAL_FAILURE(Restart(options));
  ParkCommitter();

  using Create = AsyncCall<v1::CreateLeadResponse>;
  grpc::CompletionQueue cq;
  std::vector<std::unique_ptr<Create>> calls;
  for (int i = 0; i < kMaxCalls + kExcess; ++i) {
    auto c = std::make_unique<Create>();
    c->context.AddMetadata("authorization", "Bearer " + worker_token_);
    c->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    c->reader = leads_->AsyncCreateLead(
        &c->context,
        ValidCreate(absl::StrCat("overload-", i), absl::StrCat("o", i, "@example.com")), &cq);
    c->reader->Finish(&c->response, &c->status, c.get());
    calls.push_back(std::move(c));
  }

  // With the committer parked nothing admitted can finish, nor can a refusal
  // whose own entry waits for it: only refusals beyond the refusal-entry
  // bound answer, at once. They happen only once kMaxCalls are admitted and
  // kRefusalEntries refusals are waiting, so after them every call has arrived.
  std::map<int, int> codes;
  for (int i = 0; i < kExcess - kRefusalEntries; ++i) {
    Create* done = Next<v1::CreateLeadResponse>(cq);
    ASSERT_NE(done, nullptr) << "a refusal waited for the parked committer";
    EXPECT_EQ(done->status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_EQ(done->status.error_message(), "server overloaded: retry with backoff");
    testing::ErrorDetails details = testing::DecodeErrorDetails(done->status);
    EXPECT_EQ(details.info.reason(), "OVERLOADED");
    EXPECT_TRUE(details.has_retry) << "a retry delay for the client's backoff";
    ++codes[done->status.error_code()];
  }
  gate_.AwaitParked();
  EXPECT_EQ(server_->admission().calls_in_flight(), static_cast<size_t>(kMaxCalls));
  EXPECT_EQ(server_->admission().refused_unrecorded(),
            static_cast<uint64_t>(kExcess - kRefusalEntries));
  // Health answers while lead calls wait for the parked committer.
  EXPECT_EQ(HealthStatus(""), health::HealthCheckResponse::SERVING);
  EXPECT_EQ(HealthStatus("leadvault.v1.LeadVault"), health::HealthCheckResponse::SERVING);

  gate_.Release();
  for (int i = 0; i < kMaxCalls + kRefusalEntries; ++i) {
    Create* done = Next<v1::CreateLeadResponse>(cq);
    ASSERT_NE(done, nullptr);
    ++codes[done->status.error_code()];
  }
  EXPECT_EQ(codes[grpc::StatusCode::OK], kMaxCalls);
  EXPECT_EQ(codes[grpc::StatusCode::RESOURCE_EXHAUSTED], kExcess);
  EXPECT_EQ(codes.size(), 2u);
  EXPECT_EQ(server_->admission().calls_in_flight(), 0u);
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }

  // A later call commits after the tally, which was queued before the answers.
  NewPrincipal("after overload", {"capture"});
  int created = 0, refused_entries = 0;
  uint64_t tallied = 0;
  for (const audit::AuditEntry& e : AuditEntries()) {
    if (e.action == "CreateLead" && e.code == 0) ++created;
    if (e.action == "CreateLead" &&
        e.code == static_cast<int>(absl::StatusCode::kResourceExhausted)) {
      ++refused_entries;
    }
    if (e.action == "RefusedCalls") {
      EXPECT_EQ(e.principal_id, "system");
      EXPECT_EQ(e.code, static_cast<int>(absl::StatusCode::kResourceExhausted));
      ASSERT_FALSE(e.fields.empty());
      uint64_t n = 0;
      ASSERT_TRUE(absl::StartsWith(e.fields[0], "calls="));
      ASSERT_TRUE(absl::SimpleAtoi(e.fields[0].substr(6), &n));
      tallied += n;
      for (size_t i = 1; i < e.fields.size(); ++i) {
        EXPECT_TRUE(absl::EndsWith(e.fields[i], ":CreateLead=" + std::to_string(n))) << e.fields[i];
      }
    }
  }
  EXPECT_EQ(created, kMaxCalls);
  EXPECT_EQ(refused_entries, kRefusalEntries);
  EXPECT_EQ(tallied, static_cast<uint64_t>(kExcess - kRefusalEntries));
}

TEST_F(OverloadTest, DrainAnswersNotServingAndRefusesNewCallsWithUnavailable) {
  EXPECT_TRUE(server_->Readiness().ok()) << server_->Readiness();
  EXPECT_TRUE(absl::StrContains(server_->Metrics(), "\nleadvault_ready 1\n"));
  server_->BeginDrain();
  EXPECT_EQ(HealthStatus(""), health::HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(HealthStatus("leadvault.v1.Admin"), health::HealthCheckResponse::NOT_SERVING);
  // /readyz and the metrics say so too.
  EXPECT_TRUE(absl::IsUnavailable(server_->Readiness())) << server_->Readiness();
  EXPECT_TRUE(absl::StrContains(server_->Metrics(), "\nleadvault_ready 0\n"));
  v1::CreateLeadResponse response;
  grpc::Status s = leads_->CreateLead(Ctx(worker_token_).get(),
                                      ValidCreate("drain-1", "d1@example.com"), &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_EQ(s.error_message(), "server is shutting down");
  v1::FindLeadsRequest find;
  find.set_email("d1@example.com");
  find.set_purpose(v1::PURPOSE_OF_USE_TREATMENT);
  v1::FindLeadsResponse found;
  s = leads_->FindLeads(Ctx(worker_token_).get(), find, &found);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_EQ(LeadCount(), 0u);
}

TEST_F(OverloadTest, ShutdownAnswersQueuedCallsUnavailableAndLetsRunningOnesFinish) {
  ServerOptions options;
  options.worker_threads = 1;  // one running call; the rest queue on the pool
  options.exports.per_principal = 1;
  options.exports.total = 1;
  options.admission.max_refusal_entries = 1;
  ASSERT_NO_FATAL_FAILURE(Restart(options));
  ParkCommitter();

  using Find = AsyncCall<v1::FindLeadsResponse>;
  grpc::CompletionQueue cq;
  auto start = [&](int i) {
    auto c = std::make_unique<Find>();
    c->context.AddMetadata("authorization", "Bearer " + worker_token_);
    c->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    v1::FindLeadsRequest request;
    request.set_email(absl::StrCat("f", i, "@example.com"));
    request.set_purpose(v1::PURPOSE_OF_USE_TREATMENT);
    c->reader = leads_->AsyncFindLeads(&c->context, request, &cq);
    c->reader->Finish(&c->response, &c->status, c.get());
    return c;
  };
  // The first call runs on the only worker and waits in the parked committer.
  std::unique_ptr<Find> running = start(0);
  gate_.AwaitParked();
  constexpr int kQueued = 4;
  std::vector<std::unique_ptr<Find>> queued;
  for (int i = 1; i <= kQueued; ++i) queued.push_back(start(i));
  // Admitted: queued on the pool behind the running call (admission happens
  // just before the post; one admitted but not yet posted is refused by the
  // worker instead, also with UNAVAILABLE).
  while (server_->admission().calls_in_flight() < kQueued + 1) std::this_thread::yield();

  std::thread shutdown([this] { server_->Shutdown(absl::Seconds(60)); });
  auto join = absl::MakeCleanup([&] {
    gate_.Release();
    shutdown.join();
  });
  // Dropped at once: all but the one whose refusal entry waits for the
  // committer answer while the running call still waits.
  std::map<int, int> codes;
  for (int i = 0; i < kQueued - 1; ++i) {
    Find* done = Next<v1::FindLeadsResponse>(cq);
    ASSERT_NE(done, nullptr) << "a queued call was not answered at drain";
    ASSERT_NE(done, running.get());
    EXPECT_EQ(done->status.error_code(), grpc::StatusCode::UNAVAILABLE)
        << done->status.error_message();
    EXPECT_EQ(done->status.error_message(), "server is shutting down");
    ++codes[done->status.error_code()];
  }
  gate_.Release();
  for (int i = 0; i < 2; ++i) {
    Find* done = Next<v1::FindLeadsResponse>(cq);
    ASSERT_NE(done, nullptr);
    if (done == running.get()) {
      EXPECT_TRUE(done->status.ok()) << done->status.error_message();
    } else {
      EXPECT_EQ(done->status.error_code(), grpc::StatusCode::UNAVAILABLE);
    }
    ++codes[done->status.error_code()];
  }
  std::move(join).Invoke();
  EXPECT_EQ(codes[grpc::StatusCode::OK], 1);
  EXPECT_EQ(codes[grpc::StatusCode::UNAVAILABLE], kQueued);
  EXPECT_EQ(codes[grpc::StatusCode::CANCELLED], 0);
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
}

}  // namespace
}  // namespace leadvault::api
