#include "vault/consent_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "keys/status_macros.h"
#include "vault/access_policy.h"

namespace leadvault::vault {
namespace {

// The channels or purposes a revocation names, or all of them when it names
// none; INVALID_ARGUMENT for an unknown or repeated one.
template <typename T, size_t N>
absl::StatusOr<std::vector<T>> AllIfEmpty(const std::vector<T>& named, const std::array<T, N>& all,
                                          const char* field) {
  if (named.empty()) return std::vector<T>(all.begin(), all.end());
  if (named.size() > N) return absl::InvalidArgumentError(absl::StrCat(field, ": too many"));
  for (size_t i = 0; i < named.size(); ++i) {
    if (std::find(all.begin(), all.end(), named[i]) == all.end()) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": unknown value"));
    }
    if (std::find(named.begin(), named.begin() + i, named[i]) != named.begin() + i) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": each at most once"));
    }
  }
  return named;
}

absl::Status CheckChannelAndPurpose(ConsentChannel channel, ConsentPurpose purpose) {
  if (std::find(kAllConsentChannels.begin(), kAllConsentChannels.end(), channel) ==
      kAllConsentChannels.end()) {
    return absl::InvalidArgumentError("channel: unknown consent channel");
  }
  if (std::find(kAllConsentPurposes.begin(), kAllConsentPurposes.end(), purpose) ==
      kAllConsentPurposes.end()) {
    return absl::InvalidArgumentError("purpose: unknown consent purpose");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ConsentEvent> ConsentStore::RecordGrant(const Actor& actor, const LeadId& lead,
                                                       ConsentGrant grant) {
  const absl::Time now = clock_->Now();
  LV_RETURN_IF_ERROR(NormalizeConsentGrant(grant, now));
  const std::string& id = lead.bytes();
  LV_ASSIGN_OR_RETURN(LeadStore::ConsentSubject subject,
                      leads_->OpenForConsent(actor, id, Rpc::kRecordConsent, /*claim=*/true,
                                             /*need_key=*/!grant.evidence.ip_address.empty()));
  audit::AuditEntry entry = EntryFor(actor, "RecordConsent");
  entry.lead_ids.push_back(lead.text());
  LV_ASSIGN_OR_RETURN(ConsentState state, ledger_->ReadState(id));
  ConsentEvent event = GrantEvent(grant, actor.principal_id, now);
  rocksdb::WriteBatch batch;
  LV_ASSIGN_OR_RETURN(
      Committer::Stamp stamp,
      ledger_->Stage(id, subject.dek.has_value() ? &*subject.dek : nullptr, subject.dek_version,
                     subject.tokens, state, event, *random_, batch, entry));
  LV_RETURN_IF_ERROR(leads_->StageConsentChannels(id, ActiveConsentChannels(state), batch));
  LV_ASSIGN_OR_RETURN(event.audit_sequence,
                      committer_->Commit(std::move(batch), std::move(entry), std::move(stamp)));
  event.evidence.ip_address = keys::SecretBytes();  // never handed back
  return event;
}

absl::StatusOr<ConsentEvent> ConsentStore::RecordRevocation(const Actor& actor, const LeadId& lead,
                                                            ConsentRevocation revocation) {
  // The reply itself is classified and dropped here: it is never stored.
  keys::SecretBytes reply = std::move(revocation.reply_text);
  std::string detail;
  if (revocation.method == RevocationMethod::kSmsReply) {
    std::optional<std::string> keyword = SmsStopKeyword(reply.view());
    detail = keyword.has_value() ? absl::StrCat("keyword:", *keyword) : "free_text";
  } else if (!reply.empty()) {
    return absl::InvalidArgumentError("revocation.reply_text: only with method sms_reply");
  }
  if (RevocationMethodName(revocation.method) == "unknown") {
    return absl::InvalidArgumentError("revocation.method: unknown revocation method");
  }
  ConsentEvent event;
  LV_ASSIGN_OR_RETURN(event.channels,
                      AllIfEmpty(revocation.channels, kAllConsentChannels, "revocation.channels"));
  LV_ASSIGN_OR_RETURN(event.purposes,
                      AllIfEmpty(revocation.purposes, kAllConsentPurposes, "revocation.purposes"));
  std::sort(event.channels.begin(), event.channels.end());
  std::sort(event.purposes.begin(), event.purposes.end());
  const bool sharing = std::find(event.purposes.begin(), event.purposes.end(),
                                 ConsentPurpose::kThirdPartySharing) != event.purposes.end();
  if (!revocation.third_party.empty()) {
    if (!sharing) {
      return absl::InvalidArgumentError(
          "revocation.third_party: only when revoking third_party_sharing");
    }
    LV_RETURN_IF_ERROR(
        NormalizeThirdParty(ConsentPurpose::kThirdPartySharing, revocation.third_party));
  }
  const std::string& id = lead.bytes();
  LV_ASSIGN_OR_RETURN(LeadStore::ConsentSubject subject,
                      leads_->OpenForConsent(actor, id, Rpc::kRecordConsent, /*claim=*/true,
                                             /*need_key=*/false));
  event.method = revocation.method;
  event.method_detail = detail;
  LV_ASSIGN_OR_RETURN(std::optional<ConsentEvent> recorded,
                      CommitRevocation(actor, id, subject, std::move(event), revocation.third_party,
                                       {}, /*only_if_changes=*/false));
  return *std::move(recorded);
}

absl::StatusOr<bool> ConsentStore::ReapplyRevocation(const Actor& actor, const std::string& lead_id,
                                                     std::vector<ConsentChannel> channels,
                                                     std::vector<ConsentPurpose> purposes,
                                                     RevocationMethod method, uint64_t sequence) {
  ConsentEvent event;
  LV_ASSIGN_OR_RETURN(event.channels, AllIfEmpty(channels, kAllConsentChannels, "channels"));
  LV_ASSIGN_OR_RETURN(event.purposes, AllIfEmpty(purposes, kAllConsentPurposes, "purposes"));
  std::sort(event.channels.begin(), event.channels.end());
  std::sort(event.purposes.begin(), event.purposes.end());
  event.method = method;
  event.method_detail = absl::StrCat("reapplied_sequence=", sequence);
  LV_ASSIGN_OR_RETURN(LeadStore::ConsentSubject subject, leads_->OpenForRestore(lead_id));
  LV_ASSIGN_OR_RETURN(
      std::optional<ConsentEvent> recorded,
      CommitRevocation(actor, lead_id, subject, std::move(event), "",
                       {absl::StrCat("reapplied_sequence=", sequence)}, /*only_if_changes=*/true));
  return recorded.has_value();
}

absl::StatusOr<std::optional<ConsentEvent>> ConsentStore::CommitRevocation(
    const Actor& actor, const std::string& id, const LeadStore::ConsentSubject& subject,
    ConsentEvent event, const std::string& third_party, std::vector<std::string> fields,
    bool only_if_changes) {
  const bool sharing = std::find(event.purposes.begin(), event.purposes.end(),
                                 ConsentPurpose::kThirdPartySharing) != event.purposes.end();
  LV_ASSIGN_OR_RETURN(ConsentState state, ledger_->ReadState(id));
  if (sharing) {
    if (!third_party.empty()) {
      event.third_parties.push_back(third_party);
    } else {
      // Sharing with every third party the ledger names on any of the channels.
      for (const ConsentState::Latest& l : state.latest()) {
        if (l.purpose != ConsentPurpose::kThirdPartySharing ||
            std::find(event.channels.begin(), event.channels.end(), l.channel) ==
                event.channels.end() ||
            std::find(event.third_parties.begin(), event.third_parties.end(), l.third_party) !=
                event.third_parties.end()) {
          continue;
        }
        event.third_parties.push_back(l.third_party);
      }
      std::sort(event.third_parties.begin(), event.third_parties.end());
    }
    if (event.third_parties.empty()) {
      // No party to revoke sharing with: the other purposes still are.
      event.purposes.pop_back();  // sorted: sharing is last
      if (event.purposes.empty()) {
        if (only_if_changes) return std::nullopt;
        return absl::InvalidArgumentError(
            "revocation.third_party: the ledger names no third party to revoke sharing with");
      }
    }
  }
  if (only_if_changes) {
    // Nothing to record if every key it covers is revoked already (its
    // contacts then are on the suppression list too).
    bool changes = false;
    for (ConsentChannel c : event.channels) {
      for (ConsentPurpose p : event.purposes) {
        if (p == ConsentPurpose::kThirdPartySharing) {
          for (const std::string& party : event.third_parties) {
            changes = changes ||
                      state.Decide(c, p, party, std::nullopt).reason != ConsentReason::kRevoked;
          }
        } else {
          changes =
              changes || state.Decide(c, p, "", std::nullopt).reason != ConsentReason::kRevoked;
        }
      }
    }
    if (!changes) return std::nullopt;
  }
  event.at = clock_->Now();
  event.recorded_by = actor.principal_id;
  event.action = ConsentAction::kRevoke;
  audit::AuditEntry entry = EntryFor(actor, "RecordConsent");
  entry.lead_ids.push_back(EncodeLeadId(id));
  std::vector<std::string> channels;
  for (ConsentChannel c : event.channels) channels.emplace_back(ConsentChannelName(c));
  std::vector<std::string> purposes;
  for (ConsentPurpose p : event.purposes) purposes.emplace_back(ConsentPurposeName(p));
  entry.fields = {"consent=revoke", absl::StrCat("channels=", absl::StrJoin(channels, ",")),
                  absl::StrCat("purposes=", absl::StrJoin(purposes, ",")),
                  absl::StrCat("method=", RevocationMethodName(event.method))};
  for (std::string& field : fields) entry.fields.push_back(std::move(field));
  rocksdb::WriteBatch batch;
  LV_ASSIGN_OR_RETURN(Committer::Stamp stamp,
                      ledger_->Stage(id, nullptr, subject.dek_version, subject.tokens, state, event,
                                     *random_, batch, entry));
  LV_RETURN_IF_ERROR(leads_->StageConsentChannels(id, ActiveConsentChannels(state), batch));
  LV_ASSIGN_OR_RETURN(event.audit_sequence,
                      committer_->Commit(std::move(batch), std::move(entry), std::move(stamp)));
  return event;
}

absl::StatusOr<ConsentDecision> ConsentStore::CheckConsent(const Actor& actor, const LeadId& lead,
                                                           ConsentChannel channel,
                                                           ConsentPurpose purpose,
                                                           const std::string& third_party) {
  LV_RETURN_IF_ERROR(CheckChannelAndPurpose(channel, purpose));
  std::string party = third_party;
  LV_RETURN_IF_ERROR(NormalizeThirdParty(purpose, party));
  const std::string& id = lead.bytes();
  LV_ASSIGN_OR_RETURN(LeadStore::ConsentSubject subject,
                      leads_->OpenForConsent(actor, id, Rpc::kCheckConsent, /*claim=*/false,
                                             /*need_key=*/false));
  LV_ASSIGN_OR_RETURN(ConsentState state, ledger_->ReadState(id));
  LV_ASSIGN_OR_RETURN(ConsentDecision decision,
                      ledger_->Decide(state, subject.tokens, channel, purpose, party));
  audit::AuditEntry entry = EntryFor(actor, "CheckConsent");
  entry.lead_ids.push_back(lead.text());
  entry.fields.push_back(absl::StrCat("consent:", ConsentChannelName(channel), "/",
                                      ConsentPurposeName(purpose), ":",
                                      ConsentReasonName(decision.reason)));
  LV_RETURN_IF_ERROR(committer_->Commit(rocksdb::WriteBatch(), std::move(entry)).status());
  return decision;
}

absl::StatusOr<ConsentHistoryPage> ConsentStore::GetConsentHistory(const Actor& actor,
                                                                   const LeadId& lead,
                                                                   uint32_t after_number,
                                                                   int page_size) {
  const int size = page_size == 0 ? static_cast<int>(kMaxConsentHistoryPage) : page_size;
  if (size < 1 || size > static_cast<int>(kMaxConsentHistoryPage)) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: must be 1..", kMaxConsentHistoryPage, " (0: the default)"));
  }
  const std::string& id = lead.bytes();
  LV_RETURN_IF_ERROR(leads_
                         ->OpenForConsent(actor, id, Rpc::kGetConsentHistory, /*claim=*/false,
                                          /*need_key=*/false)
                         .status());
  ConsentHistoryPage page;
  LV_ASSIGN_OR_RETURN(page.events,
                      ledger_->ReadEvents(id, after_number, static_cast<size_t>(size) + 1));
  if (page.events.size() > static_cast<size_t>(size)) {
    page.events.pop_back();
    page.next_after_number = page.events.back().number;
  }
  audit::AuditEntry entry = EntryFor(actor, "GetConsentHistory");
  entry.lead_ids.push_back(lead.text());
  entry.fields.push_back(absl::StrCat("consent_events=", page.events.size()));
  LV_RETURN_IF_ERROR(committer_->Commit(rocksdb::WriteBatch(), std::move(entry)).status());
  return page;
}

absl::StatusOr<audit::ConsentProof> ConsentStore::ExportConsentProof(const Actor& actor,
                                                                     const LeadId& lead,
                                                                     bool* committed) {
  const std::string& id = lead.bytes();
  // The lead's claim is held from the read to the commit, so no event can be
  // recorded between them: the export entry counts every event before it.
  LV_ASSIGN_OR_RETURN(LeadStore::ConsentSubject subject,
                      leads_->OpenForConsent(actor, id, Rpc::kExportConsentProof, /*claim=*/true,
                                             /*need_key=*/false));
  LV_ASSIGN_OR_RETURN(std::vector<ConsentEvent> events,
                      ledger_->ReadEvents(id, 0, kMaxConsentEventsPerLead));
  audit::AuditEntry entry = EntryFor(actor, "ExportConsentProof");
  entry.lead_ids.push_back(lead.text());
  entry.fields.push_back(absl::StrCat("consent_events=", events.size()));
  LV_ASSIGN_OR_RETURN(uint64_t seq,
                      committer_->CommitWithCheckpoint(rocksdb::WriteBatch(), std::move(entry)));
  if (committed != nullptr) *committed = true;
  subject.claim.reset();
  std::optional<SignedCheckpoint> checkpoint = log_->LatestCheckpoint();
  if (!checkpoint.has_value() || checkpoint->checkpoint.size < seq) {
    return absl::FailedPreconditionError("audit log: no signed checkpoint yet");
  }
  audit::ConsentProof proof;
  proof.lead_id = lead.text();
  proof.checkpoint_note = checkpoint->note;
  proof.generated_at_unix_micros = absl::ToUnixMicros(clock_->Now());
  proof.generated_by = actor.principal_id;
  proof.export_sequence = seq;
  LV_ASSIGN_OR_RETURN(StoredEntry exported, log_->ReadEntry(seq));
  proof.export_entry = std::move(exported.canonical);
  LV_ASSIGN_OR_RETURN(proof.export_inclusion_proof,
                      log_->InclusionProof(seq - 1, checkpoint->checkpoint.size));
  for (const ConsentEvent& e : events) {
    audit::ConsentProofItem item;
    item.event = ToProofEvent(id, e);
    item.audit_sequence = e.audit_sequence;
    LV_ASSIGN_OR_RETURN(StoredEntry stored, log_->ReadEntry(e.audit_sequence));
    item.audit_entry = std::move(stored.canonical);
    LV_ASSIGN_OR_RETURN(item.inclusion_proof,
                        log_->InclusionProof(e.audit_sequence - 1, checkpoint->checkpoint.size));
    proof.items.push_back(std::move(item));
  }
  return proof;
}

}  // namespace leadvault::vault
