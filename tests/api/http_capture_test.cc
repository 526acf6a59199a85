// The HTTP/JSON capture endpoint (POST /v1/leads) served by the operations
// listener over a real socket: the JSON mapping, both ways of authenticating
// (a capture token, a signed webhook), the same validation, audit and errors
// as gRPC's CreateLead, and what each kind of caller gets wrong.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "api/ops_http.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "tests/api/api_test_util.h"

namespace leadvault::api {
namespace {

using testing_util::ApiTest;
namespace v1 = ::leadvault::v1;

// A marker no answer, error or log may carry.
constexpr char kCanary[] = "Zq7canaryXw";

class HttpCaptureTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    if (HasFatalFailure()) return;
    StartListener();
    capture_token_ = NewPrincipal("web form (token)", {"capture"}, 0, &capture_id_);
    NewPrincipal("web form (signed)", {"capture"}, 0, &form_id_);
    form_secret_ = IssueSecret(form_id_, 0);
    ASSERT_FALSE(form_secret_.empty());
  }

  void TearDown() override {
    ops_.reset();
    ApiTest::TearDown();
  }

  // Restarts the server with a throttle that never engages (for tests that
  // fail many times on purpose) and the listener with it.
  void RestartWithoutThrottle() {
    ops_.reset();
    ServerOptions options;
    options.auth_throttle.free_failures = 1000;
    RestartServer(options);
    if (HasFatalFailure()) return;
    StartListener();
  }

  void StartListener() {
    OpsHttpHandlers handlers;
    handlers.metrics = [] { return std::string(); };
    handlers.readiness = [] { return absl::OkStatus(); };
    Server* server = server_.get();
    handlers.capture = [server](const HttpCaptureRequest& r) { return server->CaptureHttp(r); };
    auto ops = OpsHttpServer::Start("127.0.0.1:0", ServerTlsFiles(), std::move(handlers));
    ASSERT_TRUE(ops.ok()) << ops.status();
    ops_ = *std::move(ops);
  }

  std::string IssueSecret(const std::string& principal_id, int64_t grace_seconds) {
    v1::IssueWebhookSecretRequest q;
    q.set_principal_id(principal_id);
    q.set_grace_seconds(grace_seconds);
    v1::IssueWebhookSecretResponse r;
    grpc::Status s = admin_->IssueWebhookSecret(Ctx(admin_token_).get(), q, &r);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return r.secret();
  }

  static std::string Json(const v1::CreateLeadRequest& request, bool proto_names = true) {
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = proto_names;
    std::string out;
    EXPECT_TRUE(google::protobuf::util::MessageToJsonString(request, &out, options).ok());
    return out;
  }

  // "v1=" + hex HMAC-SHA256 of "<timestamp>.<body>", as a form tool signs.
  static std::string Signature(const std::string& secret, const std::string& timestamp,
                               const std::string& body) {
    const std::string mac =
        leadvault::testing::HmacSha256(secret, absl::StrCat(timestamp, ".", body));
    return "v1=" + absl::BytesToHexString(mac);
  }

  std::string Now() const { return absl::StrCat(absl::ToUnixSeconds(clock_.Now())); }

  struct Answer {
    int status = 0;
    std::string body;
    nlohmann::json json;
    httplib::Headers headers;
  };

  Answer Post(const std::string& body, const httplib::Headers& headers,
              const std::string& content_type = "application/json") {
    httplib::Client client("127.0.0.1", ops_->port());
    client.set_connection_timeout(10, 0);
    client.set_read_timeout(30, 0);
    httplib::Result result = client.Post("/v1/leads", headers, body, content_type.c_str());
    Answer answer;
    if (!result) {
      ADD_FAILURE() << "no answer: " << httplib::to_string(result.error());
      return answer;
    }
    answer.status = result->status;
    answer.body = result->body;
    answer.headers = result->headers;
    answer.json = nlohmann::json::parse(result->body, nullptr, /*allow_exceptions=*/false);
    return answer;
  }

  Answer PostWithToken(const std::string& body, const std::string& token) {
    return Post(body, {{"Authorization", "Bearer " + token}});
  }

  Answer PostSigned(const std::string& body, const std::string& timestamp = "") {
    const std::string t = timestamp.empty() ? Now() : timestamp;
    return Post(body, {{"X-Leadvault-Principal", form_id_},
                       {"X-Leadvault-Timestamp", t},
                       {"X-Leadvault-Signature", Signature(form_secret_, t, body)}});
  }

  // The error body's code, status and ErrorInfo reason, and that it carries
  // no marker.
  void ExpectError(const Answer& a, int http, const std::string& status, const std::string& what) {
    SCOPED_TRACE(what);
    EXPECT_EQ(a.status, http) << a.body;
    ASSERT_TRUE(a.json.is_object()) << a.body;
    const nlohmann::json& error = a.json["error"];
    EXPECT_EQ(error.value("code", 0), http);
    EXPECT_EQ(error.value("status", ""), status);
    EXPECT_FALSE(error.value("message", "").empty());
    bool info = false;
    for (const auto& d : error["details"]) {
      if (d.value("@type", "") == "type.googleapis.com/google.rpc.ErrorInfo") {
        info = d.value("domain", "") == "leadvault.dev" && !d.value("reason", "").empty();
      }
    }
    EXPECT_TRUE(info) << a.body;
    EXPECT_EQ(a.body.find(kCanary), std::string::npos) << a.body;
  }

  audit::AuditEntry LastEntry() {
    auto stored = vault_->audit_log().ReadEntry(vault_->audit_log().size());
    EXPECT_TRUE(stored.ok()) << stored.status();
    return stored.ok() ? stored->entry : audit::AuditEntry();
  }

  std::unique_ptr<OpsHttpServer> ops_;
  std::string capture_token_, capture_id_;
  std::string form_id_, form_secret_;
};

TEST_F(HttpCaptureTest, ACaptureTokenCreatesTheLeadAsGrpcWould) {
  const v1::CreateLeadRequest request = ValidCreate("http-1", "ada.http@example.org");
  Answer a = PostWithToken(Json(request), capture_token_);
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.json.value("duplicate", true), false);
  EXPECT_EQ(a.json.value("version", ""), "1");  // uint64 is a string in the JSON mapping
  const std::string lead_id = a.json.value("lead_id", "");
  ASSERT_FALSE(lead_id.empty()) << a.body;
  EXPECT_FALSE(a.headers.find("X-Request-Id") == a.headers.end());
  EXPECT_EQ(a.headers.find("Cache-Control")->second, "no-store");

  // Intake reads exactly what was posted.
  v1::GetLeadRequest get;
  get.set_lead_id(lead_id);
  get.set_purpose(v1::PURPOSE_OF_USE_OPERATIONS);
  v1::GetLeadResponse lead;
  grpc::Status s = leads_->GetLead(Ctx(worker_token_).get(), get, &lead);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(lead.lead().personal().email(), "ada.http@example.org");
  EXPECT_EQ(lead.lead().personal().last_name(), "Lovelace");
  EXPECT_EQ(lead.lead().metadata().attribution().campaign(), "spring-checkup");
  // Its audit entry is the CreateLead of the capture principal.
  auto stored = vault_->audit_log().ReadEntry(vault_->audit_log().size() - 1);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->entry.action, "CreateLead");
  EXPECT_EQ(stored->entry.principal_id, capture_id_);
  EXPECT_EQ(stored->entry.outcome, audit::Outcome::kAllowed);

  // The same key again: the first result, nothing new written.
  const size_t leads = LeadCount();
  Answer again = PostWithToken(Json(request), capture_token_);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.json.value("lead_id", ""), lead_id);
  EXPECT_EQ(LeadCount(), leads);
  // lowerCamelCase names (the mapping's default) are read too.
  Answer camel =
      PostWithToken(Json(ValidCreate("http-2", "ada.camel@example.org"), false), capture_token_);
  EXPECT_EQ(camel.status, 200) << camel.body;
  EXPECT_EQ(LeadCount(), leads + 1);
}

TEST_F(HttpCaptureTest, ASignedWebhookCreatesTheLeadAndAReplayWritesNothing) {
  // No idempotency key: the signature stands for one.
  v1::CreateLeadRequest request = ValidCreate("", "grace.signed@example.org");
  const std::string body = Json(request);
  const std::string t = Now();
  Answer a = PostSigned(body, t);
  ASSERT_EQ(a.status, 200) << a.body;
  const std::string lead_id = a.json.value("lead_id", "");
  ASSERT_FALSE(lead_id.empty());
  EXPECT_EQ(LastEntry().principal_id, form_id_);
  EXPECT_EQ(LastEntry().action, "CreateLead");
  const size_t leads = LeadCount();
  const uint64_t entries = vault_->audit_log().size();
  // The very same request again (a retry, or a replay within the window).
  Answer replay = PostSigned(body, t);
  ASSERT_EQ(replay.status, 200) << replay.body;
  EXPECT_EQ(replay.json.value("lead_id", ""), lead_id);
  EXPECT_EQ(LeadCount(), leads);
  EXPECT_EQ(vault_->audit_log().size(), entries + 1);  // the call is audited, nothing else
  // Signed a second later it is a new submission (a duplicate of the lead).
  Answer later = PostSigned(body, absl::StrCat(absl::ToUnixSeconds(clock_.Now()) + 1));
  ASSERT_EQ(later.status, 200) << later.body;
  EXPECT_TRUE(later.json.value("duplicate", false));
}

TEST_F(HttpCaptureTest, EveryBadCredentialIsUnauthenticatedAndWritesOnlyItsEntry) {
  RestartWithoutThrottle();
  const std::string body = Json(ValidCreate("bad-auth", absl::StrCat(kCanary, "@example.org")));
  const std::string t = Now();
  const std::string good = Signature(form_secret_, t, body);
  std::string flipped = good;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  const std::string stale = absl::StrCat(absl::ToUnixSeconds(clock_.Now()) - 301);
  const std::string future = absl::StrCat(absl::ToUnixSeconds(clock_.Now()) + 301);
  std::string other_id;
  NewPrincipal("another form", {"capture"}, 0, &other_id);
  const std::string other_secret = IssueSecret(other_id, 0);
  struct Case {
    std::string what;
    httplib::Headers headers;
  };
  const std::vector<Case> cases = {
      {"nothing", {}},
      {"a bad token", {{"Authorization", "Bearer lv_0000000000000000_" + std::string(64, 'a')}}},
      {"not Bearer", {{"Authorization", "Basic " + capture_token_}}},
      {"the secret as a token", {{"Authorization", "Bearer " + form_secret_}}},
      {"a flipped signature",
       {{"X-Leadvault-Principal", form_id_},
        {"X-Leadvault-Timestamp", t},
        {"X-Leadvault-Signature", flipped}}},
      {"another form's secret",
       {{"X-Leadvault-Principal", form_id_},
        {"X-Leadvault-Timestamp", t},
        {"X-Leadvault-Signature", Signature(other_secret, t, body)}}},
      {"a signature of another body",
       {{"X-Leadvault-Principal", form_id_},
        {"X-Leadvault-Timestamp", t},
        {"X-Leadvault-Signature", Signature(form_secret_, t, body + " ")}}},
      {"signed with another timestamp",
       {{"X-Leadvault-Principal", form_id_},
        {"X-Leadvault-Timestamp", absl::StrCat(absl::ToUnixSeconds(clock_.Now()) + 1)},
        {"X-Leadvault-Signature", good}}},
      {"a stale timestamp",
       {{"X-Leadvault-Principal", form_id_},
        {"X-Leadvault-Timestamp", stale},
        {"X-Leadvault-Signature", Signature(form_secret_, stale, body)}}},
      {"a future timestamp",
       {{"X-Leadvault-Principal", form_id_},
        {"X-Leadvault-Timestamp", future},
        {"X-Leadvault-Signature", Signature(form_secret_, future, body)}}},
      {"no version prefix",
       {{"X-Leadvault-Principal", form_id_},
        {"X-Leadvault-Timestamp", t},
        {"X-Leadvault-Signature", good.substr(3)}}},
      {"no principal", {{"X-Leadvault-Timestamp", t}, {"X-Leadvault-Signature", good}}},
      {"a token and a signature",
       {{"Authorization", "Bearer " + capture_token_},
        {"X-Leadvault-Principal", form_id_},
        {"X-Leadvault-Timestamp", t},
        {"X-Leadvault-Signature", good}}},
  };
  const size_t leads = LeadCount();
  const uint64_t entries = vault_->audit_log().size();
  for (const Case& c : cases) {
    Answer a = Post(body, c.headers);
    ExpectError(a, 401, "UNAUTHENTICATED", c.what);
    EXPECT_NE(a.headers.find("WWW-Authenticate"), a.headers.end()) << c.what;
    EXPECT_EQ(a.body.find(form_secret_.substr(22, 16)), std::string::npos) << c.what;
    audit::AuditEntry entry = LastEntry();
    EXPECT_EQ(entry.action, "CreateLead") << c.what;
    EXPECT_EQ(entry.outcome, audit::Outcome::kUnauthenticated) << c.what;
  }
  EXPECT_EQ(LeadCount(), leads);
  EXPECT_EQ(vault_->audit_log().size(), entries + cases.size());
  // A clock that drifted is named as such.
  Answer drift = Post(body, cases[8].headers);
  EXPECT_NE(drift.json["error"].value("message", "").find("x-leadvault-timestamp"),
            std::string::npos)
      << drift.body;
}

TEST_F(HttpCaptureTest, BadInputGetsTheSameErrorsAsGrpcAndWritesNothing) {
  RestartWithoutThrottle();
  v1::CreateLeadRequest bad_email = ValidCreate("bad-email", "not-an-email");
  bad_email.mutable_personal()->set_email(absl::StrCat(kCanary, " not an email"));
  const std::string intake_token = NewPrincipal("front desk", {"intake"});
  struct Case {
    std::string what;
    std::string body;
    std::string token;
    std::string content_type;
    int http;
    std::string status;
  };
  const std::string valid = Json(ValidCreate("fine", "fine@example.org"));
  const std::vector<Case> cases = {
      {"malformed JSON", absl::StrCat("{\"personal\": {\"email\": \"", kCanary), capture_token_,
       "application/json", 400, "INVALID_ARGUMENT"},
      {"an unknown field", absl::StrCat("{\"personel\": {\"email\": \"", kCanary, "\"}}"),
       capture_token_, "application/json", 400, "INVALID_ARGUMENT"},
      {"a wrong type", absl::StrCat("{\"personal\": {\"email\": [\"", kCanary, "\"]}}"),
       capture_token_, "application/json", 400, "INVALID_ARGUMENT"},
      {"an unknown enum name", absl::StrCat("{\"attribution\": {\"source\": \"", kCanary, "\"}}"),
       capture_token_, "application/json", 400, "INVALID_ARGUMENT"},
      {"an empty body", "", capture_token_, "application/json", 400, "INVALID_ARGUMENT"},
      {"an invalid email", Json(bad_email), capture_token_, "application/json", 400,
       "INVALID_ARGUMENT"},
      {"a form post", valid, capture_token_, "application/x-www-form-urlencoded", 415,
       "INVALID_ARGUMENT"},
      {"intake may not capture", valid, intake_token, "application/json", 403, "PERMISSION_DENIED"},
  };
  const size_t leads = LeadCount();
  for (const Case& c : cases) {
    Answer a = Post(c.body, {{"Authorization", "Bearer " + c.token}}, c.content_type);
    ExpectError(a, c.http, c.status, c.what);
    EXPECT_EQ(LastEntry().action, "CreateLead") << c.what;
    EXPECT_NE(LastEntry().outcome, audit::Outcome::kAllowed) << c.what;
  }
  EXPECT_EQ(LeadCount(), leads);
  // The field and rule are named, as over gRPC.
  Answer email = PostWithToken(Json(bad_email), capture_token_);
  bool field = false;
  for (const auto& d : email.json["error"]["details"]) {
    if (d.value("@type", "") == "type.googleapis.com/google.rpc.BadRequest") {
      field = d["fieldViolations"][0].value("field", "") == "email";
    }
  }
  EXPECT_TRUE(field) << email.body;
  // A body over the bound is refused by the listener before anything reads it.
  Answer big = PostWithToken(std::string(kMaxCaptureBodyBytes + 1, ' '), capture_token_);
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(LeadCount(), leads);
}

TEST_F(HttpCaptureTest, ACertificateBoundPrincipalCannotUseTheHttpListener) {
  v1::CreatePrincipalRequest q;
  q.set_display_name("bound form");
  q.add_roles("capture");
  q.set_client_cert_sha256(std::string(64, 'b'));
  v1::CreatePrincipalResponse r;
  ASSERT_TRUE(admin_->CreatePrincipal(Ctx(admin_token_).get(), q, &r).ok());
  ExpectError(PostWithToken(Json(ValidCreate("bound", "bound@example.org")), r.token()), 401,
              "UNAUTHENTICATED", "cert-bound token");
  // Nor can it get a webhook secret.
  v1::IssueWebhookSecretRequest issue;
  issue.set_principal_id(r.principal().principal_id());
  v1::IssueWebhookSecretResponse issued;
  grpc::Status s = admin_->IssueWebhookSecret(Ctx(admin_token_).get(), issue, &issued);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(issued.secret().empty());
}

TEST_F(HttpCaptureTest, RepeatedFailuresAreThrottledLikeGrpc) {
  const std::string body = Json(ValidCreate("throttled", "throttled@example.org"));
  const std::string t = Now();
  httplib::Headers wrong = {{"X-Leadvault-Principal", form_id_},
                            {"X-Leadvault-Timestamp", t},
                            {"X-Leadvault-Signature", "v1=" + std::string(64, 'a')}};
  Answer a;
  for (int i = 0; i < 10 && a.status != 429; ++i) a = Post(body, wrong);
  ExpectError(a, 429, "RESOURCE_EXHAUSTED", "throttled");
  const auto retry = a.headers.find("Retry-After");
  ASSERT_NE(retry, a.headers.end());
  EXPECT_GE(std::stoi(retry->second), 1);
  // The principal is backing off even with the right signature, until it ends.
  EXPECT_EQ(PostSigned(body, t).status, 429);
  clock_.Advance(absl::Minutes(2));
  EXPECT_EQ(PostSigned(body).status, 200);
}

TEST_F(HttpCaptureTest, ARotatedSecretKeepsWorkingForItsGraceAndARevokedOneStops) {
  const std::string first = form_secret_;
  const std::string second = IssueSecret(form_id_, 600);
  ASSERT_NE(first, second);
  const std::string body = Json(ValidCreate("", "rotation@example.org"));
  auto post_with = [&](const std::string& secret, const std::string& b) {
    const std::string t = Now();
    return Post(b, {{"X-Leadvault-Principal", form_id_},
                    {"X-Leadvault-Timestamp", t},
                    {"X-Leadvault-Signature", Signature(secret, t, b)}});
  };
  EXPECT_EQ(post_with(first, body).status, 200);
  EXPECT_EQ(post_with(second, body).status, 200);
  clock_.Advance(absl::Seconds(600));
  EXPECT_EQ(post_with(first, body).status, 401);
  EXPECT_EQ(post_with(second, body).status, 200);
  v1::RevokeWebhookSecretRequest revoke;
  revoke.set_principal_id(form_id_);
  v1::RevokeWebhookSecretResponse revoked;
  ASSERT_TRUE(admin_->RevokeWebhookSecret(Ctx(admin_token_).get(), revoke, &revoked).ok());
  EXPECT_EQ(revoked.principal().webhook_secret_expires_at_unix_micros(), 0);
  EXPECT_EQ(post_with(second, body).status, 401);
}

TEST_F(HttpCaptureTest, ADrainingServerAnswersUnavailable) {
  server_->BeginDrain();
  Answer a = PostWithToken(Json(ValidCreate("drain", "drain@example.org")), capture_token_);
  ExpectError(a, 503, "UNAVAILABLE", "draining");
}

}  // namespace
}  // namespace leadvault::api
