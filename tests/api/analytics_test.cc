// Analytics.GetFunnelMetrics over the wire: the analyst's one call. Every
// grouping's response is searched for every identifier the leads carry (the
// canary test extended), calls are audited, bad requests are refused naming
// the field, and the analyst's token reaches nothing else (the access matrix,
// access_policy_test.cc, covers every RPC).
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/api/api_test_util.h"

namespace leadvault::api {
namespace testing_util {
namespace {

class AnalyticsTest : public ApiTest {
 protected:
  void SetUp() override {
    funnel_campaigns_ = {"spring-checkup"};
    ApiTest::SetUp();
    analytics_ = v1::Analytics::NewStub(channel_);
    analyst_token_ = NewPrincipal("Marketing Analyst", {"analyst"}, 0, &analyst_id_);
    capture_token_ = NewPrincipal("Web form", {"capture"}, 0, &capture_id_);
  }

  grpc::Status Funnel(const std::string& token, const v1::GetFunnelMetricsRequest& request,
                      v1::GetFunnelMetricsResponse* response) {
    return analytics_->GetFunnelMetrics(Ctx(token).get(), request, response);
  }

  static v1::GetFunnelMetricsRequest Period() {
    v1::GetFunnelMetricsRequest q;
    q.set_from_unix_micros(absl::ToUnixMicros(StartTime() - absl::Hours(24 * 14)));
    q.set_to_unix_micros(absl::ToUnixMicros(StartTime() + absl::Hours(24 * 14)));
    return q;
  }

  std::unique_ptr<v1::Analytics::Stub> analytics_;
  std::string analyst_token_, analyst_id_, capture_token_, capture_id_;
};

TEST_F(AnalyticsTest, NoGroupingAnswersWithAnIdentifier) {
  std::vector<std::string> canaries = {
      "CanaryFirst",      "CanaryLast",   "canary.person",
      "4155550199",       "CanaryStreet", "CanaryCity",
      "canary condition", "canary notes", "Canary Campaign Jane Roe",
      "1961-02-03",       "canary-utm",   "/canary-page"};
  std::vector<std::string> lead_ids;
  for (int i = 0; i < 24; ++i) {
    v1::CreateLeadRequest create =
        ValidCreate(absl::StrCat("k", i), absl::StrCat("canary.person", i, "@example.org"));
    auto* p = create.mutable_personal();
    p->set_first_name("CanaryFirst");
    p->set_last_name("CanaryLast");
    p->set_phone(absl::StrCat("+1 415 555 01", 10 + i));
    p->set_street_address("1 CanaryStreet");
    p->set_city("CanaryCity");
    p->set_date_of_birth("1961-02-03");
    p->set_condition_interest("canary condition");
    p->set_notes("canary notes");
    auto* a = create.mutable_attribution();
    if (i % 2 == 0) a->set_campaign("Canary Campaign Jane Roe");
    a->set_utm_source("canary-utm");
    a->set_landing_page("https://example.org/canary-page");
    a->set_source(i % 3 == 0 ? v1::SOURCE_CHANNEL_PAID_SEARCH : v1::SOURCE_CHANNEL_WEB_FORM);
    v1::CreateLeadResponse created;
    grpc::Status s = leads_->CreateLead(Ctx(capture_token_).get(), create, &created);
    ASSERT_TRUE(s.ok()) << s.error_message();
    lead_ids.push_back(created.lead_id());
  }
  for (const std::string& id : lead_ids) {
    canaries.push_back(id);
    canaries.push_back(*vault::DecodeLeadId(id));  // the binary form too
  }
  canaries.push_back(analyst_id_);
  canaries.push_back(capture_id_);
  canaries.push_back("Marketing Analyst");
  canaries.push_back("Web form");

  const v1::FunnelDimension dims[] = {
      v1::FUNNEL_DIMENSION_WEEK, v1::FUNNEL_DIMENSION_SOURCE, v1::FUNNEL_DIMENSION_CAMPAIGN,
      v1::FUNNEL_DIMENSION_SERVICE_LINE, v1::FUNNEL_DIMENSION_STATUS};
  bool saw_campaign_label = false;
  for (int mask = 0; mask < 32; ++mask) {
    v1::GetFunnelMetricsRequest q = Period();
    for (int d = 0; d < 5; ++d) {
      if (mask & 1 << d) q.add_group_by(dims[d]);
    }
    v1::GetFunnelMetricsResponse r;
    grpc::Status s = Funnel(analyst_token_, q, &r);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(r.total().leads().value(), 24);
    const std::string wire = r.SerializeAsString();
    const std::string text = r.DebugString();
    for (const std::string& canary : canaries) {
      EXPECT_EQ(wire.find(canary), std::string::npos) << "mask " << mask << ": " << canary;
      EXPECT_EQ(text.find(canary), std::string::npos) << "mask " << mask << ": " << canary;
    }
    for (const v1::FunnelRow& row : r.rows()) {
      if (row.campaign() == "spring-checkup") saw_campaign_label = true;
      if (!row.campaign().empty()) {
        EXPECT_TRUE(row.campaign() == "spring-checkup" || row.campaign() == "(other)")
            << row.campaign();
      }
      if (!row.week().empty()) {
        EXPECT_EQ(row.week(), "2023-11-13");  // a Monday, nothing finer
      }
    }
  }
  EXPECT_TRUE(saw_campaign_label);
}

TEST_F(AnalyticsTest, EveryCallIsAuditedAndBadRequestsNameTheField) {
  for (int i = 0; i < 12; ++i) CreateLead(absl::StrCat("k", i), absl::StrCat("p", i, "@x.org"));
  const size_t before = vault_->audit_log().size();
  v1::GetFunnelMetricsResponse r;
  v1::GetFunnelMetricsRequest q = Period();
  q.add_group_by(v1::FUNNEL_DIMENSION_SOURCE);
  ASSERT_TRUE(Funnel(analyst_token_, q, &r).ok());
  EXPECT_EQ(r.rows_size(), 1);
  EXPECT_EQ(r.rows(0).leads().value(), 12);
  EXPECT_EQ(r.rows(0).source(), v1::SOURCE_CHANNEL_WEB_FORM);
  EXPECT_EQ(r.from_unix_micros(), absl::ToUnixMicros(absl::FromUnixSeconds(1698624000)));
  EXPECT_EQ(vault_->audit_log().size(), before + 1);

  v1::GetFunnelMetricsRequest missing;
  grpc::Status s = Funnel(analyst_token_, missing, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "from_unix_micros: required");
  v1::GetFunnelMetricsRequest unknown = Period();
  unknown.add_group_by(static_cast<v1::FunnelDimension>(42));
  s = Funnel(analyst_token_, unknown, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "group_by: unknown dimension");
  v1::GetFunnelMetricsRequest backwards = Period();
  backwards.set_to_unix_micros(backwards.from_unix_micros() - 1);
  s = Funnel(analyst_token_, backwards, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "to: must be after from");
  // Another role: denied, and the denial is audited too.
  s = Funnel(worker_token_, Period(), &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(vault_->audit_log().size(), before + 5);
}

}  // namespace
}  // namespace testing_util
}  // namespace leadvault::api
