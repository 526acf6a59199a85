// ExportAudit under clients that stop reading: per-principal and total caps,
// the write timeout, and a server stop that does not wait for them. A client
// that "never reads" is a stream on a channel without BDP probing (so the
// HTTP/2 window stays at 64 KiB) whose messages are not read: the server's
// first write, of about 1 MiB, cannot complete. The tests wait for states the
// server reports (ExportLimiter::counts), never for time; the write timeout
// runs on the test's fake clock.
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "audit/audit_entry.h"
#include "tests/api/api_test_util.h"
#include "tests/testing/rpc_error_check.h"

namespace leadvault::api {
namespace testing_util {
namespace {

struct ExportCall {
  std::unique_ptr<grpc::ClientContext> ctx;
  std::unique_ptr<grpc::ClientReader<v1::ExportAuditResponse>> reader;
};

struct ReadResult {
  grpc::Status status;
  int messages = 0;
  std::vector<uint64_t> sequences;
  uint64_t first = 0, last = 0;  // the header's range
};

class ExportStreamTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    if (HasFatalFailure()) return;
    officer_token_ = NewPrincipal("privacy officer", {"compliance"});
    slow_token_ = NewPrincipal("slow officer", {"compliance"}, 0, &slow_id_);
    FillAudit();
    Connect();
  }

  void Restart(const ExportLimits& limits) {
    ServerOptions options;
    options.exports = limits;
    RestartServer(options);
    Connect();
  }

  void Connect() {
    compliance_ = v1::Compliance::NewStub(channel_);
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own
    slow_ = v1::Compliance::NewStub(
        testing::CheckedChannel(server_->address(), grpc::InsecureChannelCredentials(), args));
  }

  // About 2.5 MiB of audit entries: the first export message is full (1 MiB).
  void FillAudit() {
    std::vector<std::thread> writers;
    for (int t = 0; t < 16; ++t) {
      writers.emplace_back([this] {
        for (int i = 0; i < 500; ++i) {
          audit::AuditEntry e;
          e.principal_id = "0000000000000001";
          e.action = "Filler";
          e.request_id = std::string(200, 'f');
          ASSERT_TRUE(vault_->committer().Commit(rocksdb::WriteBatch(), e).ok());
        }
      });
    }
    for (auto& w : writers) w.join();
  }

  // Starts an export of the whole log; a deadline far beyond the test's, so
  // that only the server ends a stream its client does not read.
  ExportCall Open(v1::Compliance::Stub& stub, const std::string& token,
                  const std::string& request_id) {
    ExportCall call;
    call.ctx = std::make_unique<grpc::ClientContext>();
    call.ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::hours(1));
    call.ctx->AddMetadata("authorization", "Bearer " + token);
    call.ctx->AddMetadata("x-request-id", request_id);
    call.reader = stub.ExportAudit(call.ctx.get(), v1::ExportAuditRequest());
    return call;
  }

  static ReadResult ReadToEnd(ExportCall& call) {
    ReadResult result;
    v1::ExportAuditResponse message;
    while (call.reader->Read(&message)) {
      ++result.messages;
      if (message.has_header()) {
        result.first = message.header().first_sequence();
        result.last = message.header().last_sequence();
      }
      for (const v1::AuditRecord& r : message.entries()) {
        auto e = audit::DecodeCanonical(r.canonical());
        EXPECT_TRUE(e.ok());
        if (e.ok()) result.sequences.push_back(e->sequence);
      }
    }
    result.status = call.reader->Finish();
    return result;
  }

  // A whole export, read as it comes: every entry of the header's range, in order.
  void ExpectCompleteExport(v1::Compliance::Stub& stub, const std::string& token,
                            const std::string& request_id) {
    ExportCall call = Open(stub, token, request_id);
    ReadResult result = ReadToEnd(call);
    ASSERT_TRUE(result.status.ok()) << result.status.error_message();
    EXPECT_GE(result.messages, 2);  // more than one message: the first was full
    ASSERT_GT(result.last, result.first);
    ASSERT_EQ(result.sequences.size(), result.last - result.first + 1);
    for (size_t i = 0; i < result.sequences.size(); ++i) {
      ASSERT_EQ(result.sequences[i], result.first + i);
    }
  }

  // Waits until `done` holds; the bound only turns a hang into a failure.
  static bool Eventually(const std::function<bool()>& done) {
    for (absl::Time end = absl::Now() + absl::Seconds(60); absl::Now() < end;
         absl::SleepFor(absl::Milliseconds(5))) {
      if (done()) return true;
    }
    return done();
  }

  bool Writing(size_t n) {
    return Eventually([&] { return server_->exports().counts().writing == n; });
  }

  // The audit entries whose request id is `request_id`.
  std::vector<audit::AuditEntry> EntriesFor(const std::string& request_id) {
    std::vector<audit::AuditEntry> out;
    std::unique_ptr<rocksdb::Iterator> it(vault_->database().db()->NewIterator(
        rocksdb::ReadOptions(), vault_->database().cf(vault::Cf::kAudit)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      auto e = audit::DecodeCanonical(it->value().ToString());
      EXPECT_TRUE(e.ok());
      if (e.ok() && e->request_id == request_id) out.push_back(*std::move(e));
    }
    return out;
  }

  std::unique_ptr<v1::Compliance::Stub> compliance_;  // on channel_
  std::unique_ptr<v1::Compliance::Stub> slow_;        // never reads what it is sent
  std::string officer_token_;
  std::string slow_token_;
  std::string slow_id_;
};

TEST_F(ExportStreamTest, UnreadExportsOfOnePrincipalLeaveTheOtherOfficersAnswered) {
  // Defaults: 2 exports per principal, 8 in all.
  std::vector<ExportCall> held;
  for (int i = 0; i < 2; ++i) held.push_back(Open(*slow_, slow_token_, "held"));
  ASSERT_TRUE(Writing(2));
  // Twenty unread streams exhausted the old 16-thread synchronous server for everyone.
  for (int i = 0; i < 18; ++i) {
    ExportCall extra = Open(*slow_, slow_token_, "extra");
    ReadResult result = ReadToEnd(extra);
    EXPECT_EQ(result.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << result.status.error_message();
    EXPECT_EQ(result.messages, 0);
  }

  v1::GetCheckpointResponse checkpoint;
  grpc::Status s = compliance_->GetCheckpoint(Ctx(officer_token_).get(), {}, &checkpoint);
  ASSERT_TRUE(s.ok()) << s.error_message();
  v1::GetInclusionProofRequest inclusion;
  inclusion.set_sequence(1);
  v1::GetInclusionProofResponse proof;
  s = compliance_->GetInclusionProof(Ctx(officer_token_).get(), inclusion, &proof);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(proof.entry().empty());
  ExpectCompleteExport(*compliance_, officer_token_, "other");

  // Each refused export is audited once, as the failure its client saw.
  std::vector<audit::AuditEntry> refused = EntriesFor("extra");
  ASSERT_EQ(refused.size(), 18u);
  for (const audit::AuditEntry& e : refused) {
    EXPECT_EQ(e.action, "ExportAudit");
    EXPECT_EQ(e.principal_id, slow_id_);
    EXPECT_EQ(e.outcome, audit::Outcome::kFailed);
    EXPECT_EQ(e.code, static_cast<int>(grpc::StatusCode::RESOURCE_EXHAUSTED));
  }
  EXPECT_EQ(EntriesFor("held").size(), 2u);

  for (ExportCall& call : held) {
    call.ctx->TryCancel();
    EXPECT_EQ(ReadToEnd(call).status.error_code(), grpc::StatusCode::CANCELLED);
  }
  // A stream its client cancelled gives its slot back.
  ASSERT_TRUE(Eventually([&] { return server_->exports().counts().open == 0; }));
  ExpectCompleteExport(*compliance_, slow_token_, "again");
}

TEST_F(ExportStreamTest, TheTotalCapRefusesEveryoneOnceFull) {
  Restart(ExportLimits{2, 3, absl::Seconds(30)});
  const std::string third_token = NewPrincipal("third officer", {"compliance"});
  std::vector<ExportCall> held;
  held.push_back(Open(*slow_, slow_token_, "held"));
  held.push_back(Open(*slow_, slow_token_, "held"));
  held.push_back(Open(*slow_, officer_token_, "held"));
  ASSERT_TRUE(Writing(3));
  ExportCall refused = Open(*compliance_, third_token, "refused");
  ReadResult result = ReadToEnd(refused);
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(result.status.error_message().find("at most 3 exports at once"), std::string::npos)
      << result.status.error_message();
  v1::GetCheckpointResponse checkpoint;
  EXPECT_TRUE(compliance_->GetCheckpoint(Ctx(third_token).get(), {}, &checkpoint).ok());
  for (ExportCall& call : held) call.ctx->TryCancel();
  for (ExportCall& call : held) ReadToEnd(call);
  ASSERT_TRUE(Eventually([&] { return server_->exports().counts().open == 0; }));
  ExpectCompleteExport(*compliance_, third_token, "after");
}

TEST_F(ExportStreamTest, AnUnreadExportIsCancelledByTheWriteTimeoutAndItsSlotFreed) {
  Restart(ExportLimits{1, 2, absl::Seconds(10)});
  ExportCall unread = Open(*slow_, slow_token_, "unread");
  ASSERT_TRUE(Writing(1));
  ExportCall second = Open(*compliance_, slow_token_, "second");
  EXPECT_EQ(ReadToEnd(second).status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);

  clock_.Advance(absl::Seconds(11));
  // The watchdog cancels the stream, then frees its slot.
  ASSERT_TRUE(Eventually([&] { return server_->exports().counts().open == 0; }));
  ReadResult cut = ReadToEnd(unread);
  EXPECT_EQ(cut.status.error_code(), grpc::StatusCode::CANCELLED) << cut.status.error_message();
  EXPECT_EQ(EntriesFor("unread").size(), 1u);  // its own entry, committed before it began

  // The slot is free again: the same principal's next export, read as it comes, completes.
  ExpectCompleteExport(*compliance_, slow_token_, "next");
}

TEST_F(ExportStreamTest, ShutdownDoesNotWaitForUnreadExports) {
  std::vector<ExportCall> held;
  held.push_back(Open(*slow_, slow_token_, "held"));
  held.push_back(Open(*slow_, slow_token_, "held"));
  held.push_back(Open(*slow_, officer_token_, "held"));
  ASSERT_TRUE(Writing(3));
  // With an hour's grace and clients whose deadlines are an hour away, only
  // the cancelled exports let this return (a hang is the failure).
  server_->Shutdown(absl::Hours(1));
  for (ExportCall& call : held) {
    ReadResult result = ReadToEnd(call);
    EXPECT_FALSE(result.status.ok());
  }
}

TEST(ExportOptionsTest, CapsMustStayBelowTheWorkerPool) {
  for (ExportLimits limits : {ExportLimits{0, 8}, ExportLimits{3, 2}, ExportLimits{2, 128},
                              ExportLimits{2, 8, absl::Seconds(-1)}}) {
    ServerOptions options;
    options.exports = limits;
    auto server = Server::Start(options, nullptr);
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument) << server.status();
  }
}

}  // namespace
}  // namespace testing_util
}  // namespace leadvault::api
