// Server-level behaviour: health checking, reflection, deadlines, request ids,
// the loopback-only rule, a port no other socket may share.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "tests/api/api_test_util.h"

namespace leadvault::api {
namespace {

using testing_util::ApiTest;
namespace v1 = ::leadvault::v1;

class ServerTest : public ApiTest {};

TEST_F(ServerTest, HealthCheckIsServing) {
  auto stub = grpc::health::v1::Health::NewStub(channel_);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service("");
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status s = stub->Check(RawCtx().get(), request, &response);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

// One ServerReflectionInfo exchange with a raw `list_services` request, over a
// generic stub (the reflection client library is not installed). Returns the
// raw response bytes.
std::string ReflectionListServices(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto call =
      stub.PrepareCall(&ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag = nullptr;
  bool ok = false;
  auto step = [&](intptr_t want) {
    EXPECT_TRUE(cq.Next(&tag, &ok));
    EXPECT_EQ(reinterpret_cast<intptr_t>(tag), want);
    return ok;
  };
  call->StartCall(reinterpret_cast<void*>(1));
  if (!step(1)) return "";
  // ServerReflectionRequest{list_services (field 7) = "*"}.
  const char request_bytes[] = {0x3a, 0x01, '*'};
  grpc::Slice slice(request_bytes, sizeof(request_bytes));
  grpc::ByteBuffer request(&slice, 1);
  call->Write(request, reinterpret_cast<void*>(2));
  if (!step(2)) return "";
  call->WritesDone(reinterpret_cast<void*>(3));
  step(3);
  grpc::ByteBuffer response;
  call->Read(&response, reinterpret_cast<void*>(4));
  bool got = step(4);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  step(5);
  EXPECT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
  std::string out;
  if (got) {
    std::vector<grpc::Slice> slices;
    EXPECT_TRUE(response.Dump(&slices).ok());
    for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return out;
}

TEST_F(ServerTest, ReflectionListsTheServices) {
  const std::string services = ReflectionListServices(channel_);
  EXPECT_TRUE(absl::StrContains(services, "leadvault.v1.LeadVault"));
  EXPECT_TRUE(absl::StrContains(services, "leadvault.v1.Admin"));
  EXPECT_TRUE(absl::StrContains(services, "grpc.health.v1.Health"));
  EXPECT_TRUE(absl::StrContains(services, "grpc.reflection.v1alpha.ServerReflection"));
}

TEST_F(ServerTest, ExpiredDeadlineIsDeadlineExceeded) {
  const size_t before = LeadCount();
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer " + worker_token_);
  ctx.set_deadline(std::chrono::system_clock::now() - std::chrono::seconds(1));
  v1::CreateLeadResponse response;
  grpc::Status s =
      leads_->CreateLead(&ctx, ValidCreate("deadline", "deadline@example.com"), &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << s.error_message();
  EXPECT_EQ(LeadCount(), before);
  // The server is fine afterwards.
  CreateLead("after-deadline", "after@example.com");
  EXPECT_EQ(LeadCount(), before + 1);
}

std::string InitialMetadata(const grpc::ClientContext& ctx, const std::string& key) {
  auto it = ctx.GetServerInitialMetadata().find(key);
  if (it == ctx.GetServerInitialMetadata().end()) return "<absent>";
  return std::string(it->second.data(), it->second.size());
}

TEST_F(ServerTest, RequestIdIsEchoedInInitialMetadata) {
  // A valid client id comes back as is, on success and on failure.
  for (const std::string& token : {worker_token_, std::string("zqx-bad-token")}) {
    auto ctx = Ctx(token);
    ctx->AddMetadata("x-request-id", "req-7f3a-zqx");
    v1::FindLeadsRequest request;
    request.set_purpose(v1::PURPOSE_OF_USE_OPERATIONS);
    request.set_email("someone@example.com");
    v1::FindLeadsResponse response;
    grpc::Status s = leads_->FindLeads(ctx.get(), request, &response);
    EXPECT_EQ(s.ok(), token == worker_token_) << s.error_message();
    EXPECT_EQ(InitialMetadata(*ctx, "x-request-id"), "req-7f3a-zqx");
  }
  // Without one (or with an unusable one) the server makes one up.
  for (const std::string& client_id : {std::string(), std::string(65, 'a'), std::string("a b")}) {
    auto ctx = Ctx(worker_token_);
    if (!client_id.empty()) ctx->AddMetadata("x-request-id", client_id);
    v1::FindLeadsRequest request;
    request.set_purpose(v1::PURPOSE_OF_USE_OPERATIONS);
    request.set_email("someone@example.com");
    v1::FindLeadsResponse response;
    ASSERT_TRUE(leads_->FindLeads(ctx.get(), request, &response).ok());
    const std::string echoed = InitialMetadata(*ctx, "x-request-id");
    EXPECT_NE(echoed, "<absent>");
    EXPECT_NE(echoed, client_id);
    EXPECT_EQ(echoed.size(), 16u) << echoed;
  }
}

// gRPC's default SO_REUSEPORT would let a second process bind the port and
// take a share of the calls and their tokens: the port is ours alone.
TEST_F(ServerTest, SecondServerOnTheSamePortIsRefusedAndTheFirstKeepsServing) {
  const std::string listen = absl::StrCat("127.0.0.1:", server_->port());
  ServerOptions options;
  options.listen = listen;
  auto second = Server::Start(options, vault_.get());
  ASSERT_FALSE(second.ok()) << "a second server started on " << listen;
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(second.status().message(), "address in use")) << second.status();
  EXPECT_TRUE(absl::StrContains(second.status().message(), listen)) << second.status();

  // Nor may any other socket join it, even one that asks for SO_REUSEPORT.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  int one = 1;
  ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)), 0);
  ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(server_->port()));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  int bind_errno = errno;
  ::close(fd);
  EXPECT_NE(bound, 0) << "a SO_REUSEPORT socket shared the server's port";
  EXPECT_EQ(bind_errno, EADDRINUSE);

  auto stub = grpc::health::v1::Health::NewStub(channel_);
  grpc::health::v1::HealthCheckResponse response;
  EXPECT_TRUE(stub->Check(RawCtx().get(), {}, &response).ok());
}

TEST(ServerStartTest, RefusesNonLoopbackAndBadAddresses) {
  for (const char* listen : {"0.0.0.0:0", "[::]:0", "192.0.2.1:0", "example.com:0"}) {
    ServerOptions options;
    options.listen = listen;
    auto server = Server::Start(options, nullptr);
    ASSERT_FALSE(server.ok()) << listen;
    EXPECT_EQ(server.status().code(), absl::StatusCode::kFailedPrecondition) << listen;
    EXPECT_TRUE(absl::StrContains(server.status().message(), "TLS")) << server.status();
  }
  for (const char* listen : {"127.0.0.1", "127.0.0.1:99999", ":0", "127.0.0.1:x"}) {
    ServerOptions options;
    options.listen = listen;
    auto server = Server::Start(options, nullptr);
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument) << listen;
  }
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_FALSE(IsLoopbackHost("0.0.0.0"));
}

// A host name that merely starts with "127." resolves wherever its DNS says.
TEST(ServerStartTest, HostNamesStartingWith127AreNotLoopback) {
  EXPECT_FALSE(IsLoopbackHost("127.example.com"));
  EXPECT_FALSE(IsLoopbackHost("127.0.0.1.nip.io"));
}

}  // namespace
}  // namespace leadvault::api
