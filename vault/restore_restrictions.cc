#include "vault/restore_restrictions.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "keys/status_macros.h"
#include "vault/audit_journal.h"
#include "vault/lead_store.h"

namespace leadvault::vault {
namespace {

// The value of field "`name`=..." of `entry`, if it has one.
std::optional<std::string> FieldValue(const audit::AuditEntry& entry, absl::string_view name) {
  const std::string prefix = absl::StrCat(name, "=");
  for (const std::string& field : entry.fields) {
    if (absl::StartsWith(field, prefix)) return field.substr(prefix.size());
  }
  return std::nullopt;
}

bool Allowed(const audit::AuditEntry& entry) { return entry.outcome == audit::Outcome::kAllowed; }

// Whether a re-application changed something: NOT_FOUND (made after the
// backup) leaves nothing to change. Any other error (a full consent ledger,
// say) fails the replay: a restriction is never skipped silently.
absl::StatusOr<bool> Changed(absl::StatusOr<bool> changed) {
  if (absl::IsNotFound(changed.status())) return false;
  return changed;
}

}  // namespace

void RestrictionsSinceBackup::Note(const audit::AuditEntry& entry, uint64_t sequence) {
  if (!Allowed(entry)) return;
  const std::string& a = entry.action;
  if (a == "DisablePrincipal" && !entry.subject.empty()) {
    disabled_[entry.subject] = sequence;
  } else if (a == "RotateToken" && !entry.subject.empty()) {
    tokens_ended_[entry.subject] = sequence;
  } else if ((a == "IssueWebhookSecret" || a == "RevokeWebhookSecret") && !entry.subject.empty()) {
    webhooks_ended_[entry.subject] = sequence;
  } else if (a == "SetServiceLines" && !entry.subject.empty()) {
    std::optional<std::string> lines = FieldValue(entry, "service_lines");
    if (!lines.has_value()) return;  // an entry from before they were named
    service_lines_[entry.subject] = {sequence, absl::StrSplit(*lines, ',', absl::SkipEmpty())};
  } else if ((a == "PlaceLegalHold" || a == "ReleaseLegalHold") && entry.lead_ids.size() == 1) {
    std::optional<std::string> lead = DecodeLeadId(entry.lead_ids[0]);
    std::optional<std::string> hold_id = FieldValue(entry, "hold_id");
    if (!lead.has_value() || !hold_id.has_value()) return;
    const std::string key = *lead + *hold_id;
    if (a == "ReleaseLegalHold") {
      holds_.erase(key);
      return;
    }
    LegalHold hold;
    hold.lead_id = *lead;
    hold.hold_id = *hold_id;
    hold.reason = entry.break_glass_reason;
    hold.placed_by = entry.principal_id;
    hold.placed_at = entry.time;
    holds_[key] = {sequence, std::move(hold)};
  } else if (a == "CloseEmergencyAccess") {
    std::optional<std::string> grant = FieldValue(entry, "grant");
    if (grant.has_value()) closed_grants_[*grant] = sequence;
  } else if (a == "RecordConsent" && FieldValue(entry, "consent") == "revoke" &&
             entry.lead_ids.size() == 1) {
    std::optional<std::string> lead = DecodeLeadId(entry.lead_ids[0]);
    std::optional<std::string> channels = FieldValue(entry, "channels");
    std::optional<std::string> purposes = FieldValue(entry, "purposes");
    std::optional<std::string> method = FieldValue(entry, "method");
    if (!lead.has_value() || !channels.has_value() || !purposes.has_value() ||
        !method.has_value()) {
      return;
    }
    Revocation r;
    r.sequence = sequence;
    r.lead_id = *lead;
    for (absl::string_view name : absl::StrSplit(*channels, ',', absl::SkipEmpty())) {
      if (std::optional<ConsentChannel> c = ParseConsentChannel(name)) r.channels.push_back(*c);
    }
    for (absl::string_view name : absl::StrSplit(*purposes, ',', absl::SkipEmpty())) {
      if (std::optional<ConsentPurpose> p = ParseConsentPurpose(name)) r.purposes.push_back(*p);
    }
    // A name this build does not know: revoke every channel or purpose.
    if (r.channels.size() !=
        static_cast<size_t>(std::count(channels->begin(), channels->end(), ',')) + 1) {
      r.channels.clear();
    }
    if (r.purposes.size() !=
        static_cast<size_t>(std::count(purposes->begin(), purposes->end(), ',')) + 1) {
      r.purposes.clear();
    }
    r.method = ParseRevocationMethod(*method).value_or(RevocationMethod::kIntakeCall);
    // One re-application per lead: the union of what its revocations named
    // (empty: every one), under the newest.
    auto [it, inserted] = revocations_.try_emplace(r.lead_id, r);
    if (!inserted) {
      Revocation& merged = it->second;
      auto unite = [](auto& into, const auto& from) {
        if (into.empty() || from.empty()) {
          into.clear();
          return;
        }
        for (const auto& v : from) {
          if (std::find(into.begin(), into.end(), v) == into.end()) into.push_back(v);
        }
      };
      unite(merged.channels, r.channels);
      unite(merged.purposes, r.purposes);
      merged.sequence = r.sequence;
      merged.method = r.method;
    }
  }
}

absl::StatusOr<uint64_t> RestrictionsSinceBackup::Reapply(
    const Actor& system, const RestrictionTargets& to, const std::set<std::string>& purged) const {
  PrincipalStore& principals = *to.principals;
  uint64_t changes = 0;
  auto add = [&changes](absl::StatusOr<bool> changed) -> absl::Status {
    LV_ASSIGN_OR_RETURN(bool did, Changed(std::move(changed)));
    if (did) ++changes;
    return absl::OkStatus();
  };
  for (const auto& [id, sequence] : disabled_) {
    LV_RETURN_IF_ERROR(add(principals.ReapplyDisable(system, id, sequence)));
  }
  for (const auto& [id, sequence] : tokens_ended_) {
    LV_RETURN_IF_ERROR(add(principals.ReapplyTokenEnd(system, id, sequence)));
  }
  for (const auto& [id, sequence] : webhooks_ended_) {
    LV_RETURN_IF_ERROR(add(principals.ReapplyWebhookEnd(system, id, sequence)));
  }
  for (const auto& [id, change] : service_lines_) {
    LV_RETURN_IF_ERROR(
        add(principals.ReapplyServiceLines(system, id, change.second, change.first)));
  }
  for (const auto& [grant, sequence] : closed_grants_) {
    absl::StatusOr<EmergencyGrant> closed = to.emergency->Close(system, grant);
    if (absl::IsFailedPrecondition(closed.status())) continue;  // no longer open: expired
    LV_RETURN_IF_ERROR(add(closed.ok() ? absl::StatusOr<bool>(true) : closed.status()));
  }
  for (const auto& [key, placed] : holds_) {
    if (purged.count(placed.second.lead_id) > 0) continue;
    LV_RETURN_IF_ERROR(add(to.holds->Reinstate(system, placed.second, placed.first)));
  }
  for (const auto& [lead, r] : revocations_) {
    LV_RETURN_IF_ERROR(add(to.consent->ReapplyRevocation(system, r.lead_id, r.channels, r.purposes,
                                                         r.method, r.sequence)));
  }
  return changes;
}

}  // namespace leadvault::vault
