#include "api/analytics_service.h"

#include "absl/time/time.h"
#include "api/call.h"
#include "keys/status_macros.h"

namespace leadvault::api {
namespace {

void ToProto(const vault::FunnelValue& in, v1::FunnelCount* out) {
  out->set_value(in.value);
  out->set_suppressed(in.suppressed);
}

void ToProto(const vault::FunnelRow& in, v1::FunnelRow* out) {
  if (in.week.has_value()) {
    out->set_week(absl::FormatTime("%Y-%m-%d", *in.week, absl::UTCTimeZone()));
  }
  if (in.source.has_value()) out->set_source(static_cast<v1::SourceChannel>(*in.source));
  if (in.campaign.has_value()) out->set_campaign(*in.campaign);
  if (in.service_line.has_value()) out->set_service_line(*in.service_line);
  if (in.status.has_value()) out->set_status(static_cast<v1::LeadStatus>(*in.status));
  v1::FunnelCount* const counts[] = {
      out->mutable_leads(),           out->mutable_duplicates(),
      out->mutable_contacted(),       out->mutable_qualified(),
      out->mutable_scheduled(),       out->mutable_showed(),
      out->mutable_closed_lost(),     out->mutable_disqualified(),
      out->mutable_first_contacted(), out->mutable_within_5_minutes(),
      out->mutable_within_1_hour(),   out->mutable_within_1_day(),
      out->mutable_consent_email(),   out->mutable_consent_sms(),
      out->mutable_consent_voice(),   out->mutable_consent_autodialed_voice()};
  static_assert(std::size(counts) == vault::kFunnelCountCount);
  for (size_t c = 0; c < vault::kFunnelCountCount; ++c) ToProto(in.counts[c], counts[c]);
  if (in.speed_to_lead_median_seconds.has_value()) {
    out->set_speed_to_lead_median_seconds(*in.speed_to_lead_median_seconds);
  }
  if (in.speed_to_lead_p90_seconds.has_value()) {
    out->set_speed_to_lead_p90_seconds(*in.speed_to_lead_p90_seconds);
  }
  if (in.lead_to_appointment_rate.has_value()) {
    out->mutable_lead_to_appointment_rate()->set_value(*in.lead_to_appointment_rate);
  }
  if (in.show_rate.has_value()) out->mutable_show_rate()->set_value(*in.show_rate);
}

absl::Status DoFunnel(vault::Vault& vault, Call& call, const v1::GetFunnelMetricsRequest& request,
                      v1::GetFunnelMetricsResponse& response) {
  if (request.from_unix_micros() <= 0) {
    return absl::InvalidArgumentError("from_unix_micros: required");
  }
  if (request.to_unix_micros() <= 0) return absl::InvalidArgumentError("to_unix_micros: required");
  vault::FunnelQuery query;
  query.from = absl::FromUnixMicros(request.from_unix_micros());
  query.to = absl::FromUnixMicros(request.to_unix_micros());
  for (int d : request.group_by()) {
    if (d < static_cast<int>(vault::FunnelDimension::kWeek) ||
        d > static_cast<int>(vault::FunnelDimension::kStatus)) {
      return absl::InvalidArgumentError("group_by: unknown dimension");
    }
    query.group_by.push_back(static_cast<vault::FunnelDimension>(d));
  }
  LV_ASSIGN_OR_RETURN(vault::FunnelReport report,
                      vault.funnel().GetFunnelMetrics(call.actor, query, &call.entry_committed));
  response.set_from_unix_micros(absl::ToUnixMicros(report.from));
  response.set_to_unix_micros(absl::ToUnixMicros(report.to));
  for (const vault::FunnelRow& row : report.rows) ToProto(row, response.add_rows());
  ToProto(report.total, response.mutable_total());
  response.set_suppressed_cells(report.suppressed_cells);
  return absl::OkStatus();
}

}  // namespace

grpc::ServerUnaryReactor* AnalyticsService::GetFunnelMetrics(
    grpc::CallbackServerContext* context, const v1::GetFunnelMetricsRequest* request,
    v1::GetFunnelMetricsResponse* response) {
  return Serve(*vault_, throttle_, admission_, pool_, context, vault::Rpc::kGetFunnelMetrics,
               DoFunnel, request, response);
}

}  // namespace leadvault::api
