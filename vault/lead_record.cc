#include "vault/lead_record.h"

namespace leadvault::vault {

void ToRecord(const Attribution& a, internal::AttributionRecord* r) {
  r->set_source(static_cast<int32_t>(a.source));
  r->set_campaign(a.campaign);
  r->set_utm_source(a.utm_source);
  r->set_utm_medium(a.utm_medium);
  r->set_utm_campaign(a.utm_campaign);
  r->set_utm_term(a.utm_term);
  r->set_utm_content(a.utm_content);
  r->set_landing_page(a.landing_page);
  r->set_service_line(a.service_line);
}

Attribution FromRecord(const internal::AttributionRecord& r) {
  Attribution a;
  a.source = static_cast<SourceChannel>(r.source());
  a.campaign = r.campaign();
  a.utm_source = r.utm_source();
  a.utm_medium = r.utm_medium();
  a.utm_campaign = r.utm_campaign();
  a.utm_term = r.utm_term();
  a.utm_content = r.utm_content();
  a.landing_page = r.landing_page();
  a.service_line = r.service_line();
  return a;
}

LeadMetadata MetadataFromRecord(const std::string& lead_id, const internal::LeadRecord& r) {
  LeadMetadata m;
  m.id = lead_id;
  m.created_at = absl::FromUnixMicros(r.created_at_unix_micros());
  m.updated_at = absl::FromUnixMicros(r.updated_at_unix_micros());
  m.attribution = FromRecord(r.attribution());
  m.status = static_cast<LeadStatus>(r.status());
  for (const auto& c : r.contact_attempts()) {
    m.contact_attempts.push_back(
        {absl::FromUnixMicros(c.at_unix_micros()), static_cast<ContactChannel>(c.channel()),
         static_cast<ContactOutcome>(c.outcome()),
         c.purpose() == 0 ? ConsentPurpose::kScheduling : static_cast<ConsentPurpose>(c.purpose()),
         c.automated()});
  }
  for (const auto& t : r.touches()) {
    m.touches.push_back({absl::FromUnixMicros(t.at_unix_micros()), FromRecord(t.attribution())});
  }
  m.created_by = r.created_by();
  m.version = r.version();
  return m;
}

void StampRetention(const RetentionPolicy& policy, const std::string& lead_id,
                    internal::LeadRecord& record) {
  const RetentionDecision d =
      DecideRetention(policy, RetentionFactsOf(MetadataFromRecord(lead_id, record)));
  record.set_expires_at_unix_micros(absl::ToUnixMicros(d.expires_at));
  record.set_retention_rule(d.rule_name);
}

rocksdb::ReadOptions PrefixReadOptions() {
  rocksdb::ReadOptions options;
  options.prefix_same_as_start = true;
  return options;
}

}  // namespace leadvault::vault
