#include "vault/consent_ledger.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "keys/aead.h"
#include "keys/blind_index.h"
#include "keys/hash.h"
#include "keys/status_macros.h"
#include "vault/internal/keys.h"
#include "vault/internal/records.pb.h"

namespace leadvault::vault {
namespace {

using internal::ConsentEventRecord;
using internal::ConsentStateRecord;

constexpr uint32_t kFormatVersion = 1;
// Event and state records: format 2 (one event per act, covering channels x
// purposes; the state grouped by event).
constexpr uint32_t kEventFormatVersion = 2;
constexpr uint32_t kStateFormatVersion = 2;
constexpr size_t kSaltSize = 32;
// An IP ciphertext's field number: bound into its associated data, so a
// ciphertext moved to another event (or a PII field) fails to decrypt.
constexpr uint32_t kIpFieldBase = 0x10000;

std::string EventKey(absl::string_view lead_id, uint32_t number) {
  std::string key(lead_id);
  for (int shift = 24; shift >= 0; shift -= 8) key.push_back(static_cast<char>(number >> shift));
  return key;
}

std::string SuppressKey(ConsentChannel channel, ConsentPurpose purpose, absl::string_view token) {
  std::string key(1, static_cast<char>(channel));
  key.push_back(static_cast<char>(purpose));
  key.append(token.data(), token.size());
  return key;
}

// What an event's MAC covers besides its audit sequence: the lead, the event
// (its proof digest: every clear field) and the IP ciphertext.
std::string EventMacPrefix(absl::string_view lead_id, absl::string_view digest,
                           absl::string_view ip_ciphertext) {
  std::string in = "leadvault-consent-event-mac-v1";
  internal::PutLengthPrefixed(in, lead_id);
  internal::PutLengthPrefixed(in, digest);
  internal::PutLengthPrefixed(in, ip_ciphertext);
  return in;
}

std::string EventMac(const keys::SecretBytes& key, std::string prefix, uint64_t audit_sequence) {
  internal::PutBigEndian64(prefix, audit_sequence);
  return keys::KeyedHash(key, prefix);
}

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

std::vector<TcpaElement> MissingFrom(const google::protobuf::RepeatedField<int32_t>& in) {
  std::vector<TcpaElement> out;
  for (int m : in) out.push_back(static_cast<TcpaElement>(m));
  return out;
}

std::string StateMac(const keys::SecretBytes& key, absl::string_view lead_id,
                     const ConsentStateRecord& r) {
  std::string in = "leadvault-consent-state-mac-v2";
  internal::PutLengthPrefixed(in, lead_id);
  internal::PutBigEndian32(in, r.format_version());
  internal::PutBigEndian32(in, r.last_number());
  internal::PutBigEndian32(in, static_cast<uint32_t>(r.groups_size()));
  for (const auto& g : r.groups()) {
    internal::PutBigEndian32(in, g.number());
    internal::PutBigEndian32(in, static_cast<uint32_t>(g.action()));
    internal::PutBigEndian64(in, static_cast<uint64_t>(g.at_unix_micros()));
    internal::PutBigEndian32(in, static_cast<uint32_t>(g.missing_size()));
    for (int m : g.missing()) internal::PutBigEndian32(in, static_cast<uint32_t>(m));
    internal::PutBigEndian32(in, g.pairs());
    internal::PutBigEndian32(in, static_cast<uint32_t>(g.third_parties_size()));
    for (const std::string& t : g.third_parties()) internal::PutLengthPrefixed(in, t);
    internal::PutBigEndian32(in, static_cast<uint32_t>(g.party_channels_size()));
    for (uint32_t c : g.party_channels()) internal::PutBigEndian32(in, c);
  }
  return keys::KeyedHash(key, in);
}

// Purposes keyed without a third party, and the bit of a (channel, purpose) key.
constexpr int kPairPurposes = 3;
int PairBit(ConsentChannel channel, ConsentPurpose purpose) {
  return 4 * (static_cast<int>(channel) - 1) + (static_cast<int>(purpose) - 1);
}

// The state as its row holds it: grouped by the event each key's latest is.
void ToRecord(const ConsentState& state, ConsentStateRecord& r) {
  r.set_format_version(kStateFormatVersion);
  r.set_last_number(state.last_number());
  std::vector<const ConsentState::Latest*> sorted;
  for (const ConsentState::Latest& l : state.latest()) sorted.push_back(&l);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto* a, const auto* b) { return a->number < b->number; });
  internal::ConsentStateGroup* g = nullptr;
  for (const ConsentState::Latest* l : sorted) {
    if (g == nullptr || g->number() != l->number) {
      g = r.add_groups();
      g->set_number(l->number);
      g->set_action(static_cast<int32_t>(l->action));
      g->set_at_unix_micros(absl::ToUnixMicros(l->at));
      for (TcpaElement m : l->missing) g->add_missing(static_cast<int32_t>(m));
    }
    if (l->purpose != ConsentPurpose::kThirdPartySharing) {
      g->set_pairs(g->pairs() | (1u << PairBit(l->channel, l->purpose)));
      continue;
    }
    const uint32_t bit = 1u << (static_cast<int>(l->channel) - 1);
    int i = 0;
    while (i < g->third_parties_size() && g->third_parties(i) != l->third_party) ++i;
    if (i == g->third_parties_size()) {
      g->add_third_parties(l->third_party);
      g->add_party_channels(bit);
    } else {
      g->set_party_channels(i, g->party_channels(i) | bit);
    }
  }
}

// The entries of a (MAC-checked) row; false if it is malformed.
bool FromRecord(const ConsentStateRecord& r, std::vector<ConsentState::Latest>& out) {
  constexpr uint32_t kAllChannelBits = (1u << kAllConsentChannels.size()) - 1;
  for (const auto& g : r.groups()) {
    if (g.third_parties_size() != g.party_channels_size()) return false;
    std::vector<TcpaElement> missing = MissingFrom(g.missing());
    const ConsentState::Latest base{ConsentChannel::kEmail,
                                    ConsentPurpose::kScheduling,
                                    "",
                                    static_cast<ConsentAction>(g.action()),
                                    absl::FromUnixMicros(g.at_unix_micros()),
                                    g.number(),
                                    std::move(missing)};
    uint32_t pairs = g.pairs();
    for (ConsentChannel channel : kAllConsentChannels) {
      for (int p = 1; p <= kPairPurposes; ++p) {
        const ConsentPurpose purpose = static_cast<ConsentPurpose>(p);
        const uint32_t bit = 1u << PairBit(channel, purpose);
        if ((pairs & bit) == 0) continue;
        pairs &= ~bit;
        ConsentState::Latest l = base;
        l.channel = channel;
        l.purpose = purpose;
        out.push_back(std::move(l));
      }
    }
    if (pairs != 0) return false;  // a bit of no key
    for (int i = 0; i < g.third_parties_size(); ++i) {
      const uint32_t channels = g.party_channels(i);
      if (channels == 0 || (channels & ~kAllChannelBits) != 0) return false;
      for (ConsentChannel channel : kAllConsentChannels) {
        if ((channels & (1u << (static_cast<int>(channel) - 1))) == 0) continue;
        ConsentState::Latest l = base;
        l.channel = channel;
        l.purpose = ConsentPurpose::kThirdPartySharing;
        l.third_party = g.third_parties(i);
        out.push_back(std::move(l));
      }
    }
  }
  return true;
}

// The record of `event` without its audit sequence and MAC, which SealEvent
// appends once the sequence is known (protobuf fields may come in any order).
std::string PrebuildEvent(const ConsentEvent& e, const std::string& ip_ciphertext) {
  ConsentEventRecord r;
  r.set_format_version(kEventFormatVersion);
  r.set_number(e.number);
  r.set_at_unix_micros(absl::ToUnixMicros(e.at));
  r.set_recorded_by(e.recorded_by);
  r.set_action(static_cast<int32_t>(e.action));
  for (ConsentChannel c : e.channels) r.add_channels(static_cast<int32_t>(c));
  for (ConsentPurpose p : e.purposes) r.add_purposes(static_cast<int32_t>(p));
  for (const std::string& t : e.third_parties) r.add_third_parties(t);
  if (e.action == ConsentAction::kGrant) {
    const ConsentEvidence& v = e.evidence;
    r.set_captured_at_unix_micros(absl::ToUnixMicros(v.captured_at));
    r.set_source_url(v.source_url);
    r.set_seller_name(v.seller_name);
    r.set_disclosure_version(v.disclosure_version);
    r.set_disclosure_sha256(absl::HexStringToBytes(v.disclosure_sha256));
    r.set_authorizes_automated(v.authorizes_automated);
    r.set_not_condition_of_purchase(v.not_condition_of_purchase);
    r.set_capture_certificate_id(v.capture_certificate_id);
    r.set_user_agent(v.user_agent);
    r.set_ip_ciphertext(ip_ciphertext);
    r.set_ip_commitment(absl::HexStringToBytes(e.ip_commitment));
    for (TcpaElement m : e.missing) r.add_missing(static_cast<int32_t>(m));
  } else {
    r.set_method(static_cast<int32_t>(e.method));
    r.set_method_detail(e.method_detail);
  }
  return r.SerializeAsString();
}

// `prebuilt` with audit_sequence (field 23) and mac (field 24) appended.
std::string SealEvent(const keys::SecretBytes& mac_key, const std::string& prebuilt,
                      const std::string& mac_prefix, uint64_t audit_sequence) {
  const std::string mac = EventMac(mac_key, mac_prefix, audit_sequence);
  std::string out = prebuilt;
  PutVarint(out, (23 << 3) | 0);
  PutVarint(out, audit_sequence);
  PutVarint(out, (24 << 3) | 2);
  PutVarint(out, mac.size());
  out += mac;
  return out;
}

absl::StatusOr<ConsentEvent> ParseEvent(const keys::SecretBytes& mac_key, absl::string_view lead_id,
                                        uint32_t number, absl::string_view bytes) {
  ConsentEventRecord r;
  if (!r.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) ||
      r.format_version() != kEventFormatVersion || r.number() != number) {
    return absl::DataLossError("consent event record: malformed or unknown format version");
  }
  ConsentEvent e;
  e.number = r.number();
  e.at = absl::FromUnixMicros(r.at_unix_micros());
  e.recorded_by = r.recorded_by();
  e.action = static_cast<ConsentAction>(r.action());
  for (int c : r.channels()) e.channels.push_back(static_cast<ConsentChannel>(c));
  for (int p : r.purposes()) e.purposes.push_back(static_cast<ConsentPurpose>(p));
  e.third_parties.assign(r.third_parties().begin(), r.third_parties().end());
  if (e.action == ConsentAction::kGrant) {
    ConsentEvidence& v = e.evidence;
    v.captured_at = absl::FromUnixMicros(r.captured_at_unix_micros());
    v.source_url = r.source_url();
    v.seller_name = r.seller_name();
    v.disclosure_version = r.disclosure_version();
    v.disclosure_sha256 = absl::BytesToHexString(r.disclosure_sha256());
    v.authorizes_automated = r.authorizes_automated();
    v.not_condition_of_purchase = r.not_condition_of_purchase();
    v.capture_certificate_id = r.capture_certificate_id();
    v.user_agent = r.user_agent();
    e.ip_commitment = absl::BytesToHexString(r.ip_commitment());
    e.missing = MissingFrom(r.missing());
  } else {
    e.method = static_cast<RevocationMethod>(r.method());
    e.method_detail = r.method_detail();
  }
  e.audit_sequence = r.audit_sequence();
  const std::string digest = audit::ConsentEventDigest(ToProofEvent(lead_id, e));
  if (!keys::ConstantTimeEquals(
          r.mac(), EventMac(mac_key, EventMacPrefix(lead_id, digest, r.ip_ciphertext()),
                            e.audit_sequence))) {
    return absl::DataLossError("consent event record: fails authentication");
  }
  return e;
}

}  // namespace

audit::ConsentProofEvent ToProofEvent(absl::string_view lead_id, const ConsentEvent& e) {
  audit::ConsentProofEvent p;
  p.lead_id = EncodeLeadId(lead_id);
  p.number = e.number;
  p.at_unix_micros = absl::ToUnixMicros(e.at);
  p.recorded_by = e.recorded_by;
  p.action = std::string(ConsentActionName(e.action));
  for (ConsentChannel c : e.channels) p.channels.emplace_back(ConsentChannelName(c));
  for (ConsentPurpose purpose : e.purposes) p.purposes.emplace_back(ConsentPurposeName(purpose));
  p.third_parties = e.third_parties;
  if (e.action == ConsentAction::kGrant) {
    const ConsentEvidence& v = e.evidence;
    p.captured_at_unix_micros = absl::ToUnixMicros(v.captured_at);
    p.source_url = v.source_url;
    p.seller_name = v.seller_name;
    p.disclosure_version = v.disclosure_version;
    p.disclosure_sha256 = v.disclosure_sha256;
    p.authorizes_automated = v.authorizes_automated;
    p.not_condition_of_purchase = v.not_condition_of_purchase;
    p.capture_certificate_id = v.capture_certificate_id;
    p.user_agent = v.user_agent;
    p.ip_commitment = e.ip_commitment;
    for (TcpaElement m : e.missing) p.missing.emplace_back(TcpaElementName(m));
  } else {
    p.method = std::string(RevocationMethodName(e.method));
    p.method_detail = e.method_detail;
  }
  return p;
}

std::string ConsentLedger::StateKey(absl::string_view lead_id) { return EventKey(lead_id, 0); }

absl::StatusOr<ConsentState> ConsentLedger::ParseState(
    absl::string_view lead_id, const absl::StatusOr<std::string>& row) const {
  if (absl::IsNotFound(row.status())) return ConsentState();
  LV_RETURN_IF_ERROR(row.status());
  ConsentStateRecord r;
  if (!r.ParseFromString(*row) || r.format_version() != kStateFormatVersion) {
    return absl::DataLossError("consent state record: malformed or unknown format version");
  }
  if (!keys::ConstantTimeEquals(r.mac(), StateMac(keys_->record_mac_key(), lead_id, r))) {
    return absl::DataLossError("consent state record: fails authentication");
  }
  std::vector<ConsentState::Latest> latest;
  if (!FromRecord(r, latest)) return absl::DataLossError("consent state record: malformed");
  ConsentState state = ConsentState::FromLatest(std::move(latest));
  if (state.last_number() != r.last_number()) {
    return absl::DataLossError("consent state record: inconsistent");
  }
  return state;
}

absl::StatusOr<ConsentState> ConsentLedger::ReadState(absl::string_view lead_id) const {
  return ParseState(lead_id, db_->Get(Cf::kConsent, StateKey(lead_id)));
}

absl::StatusOr<std::optional<absl::Time>> ConsentLedger::SuppressedAt(
    ConsentChannel channel, ConsentPurpose purpose, absl::string_view token) const {
  if (token.empty()) return std::nullopt;
  auto row = db_->Get(Cf::kSuppress, SuppressKey(channel, purpose, token));
  if (absl::IsNotFound(row.status())) return std::nullopt;
  LV_RETURN_IF_ERROR(row.status());
  internal::SuppressionRecord r;
  if (!r.ParseFromString(*row) || r.format_version() != kFormatVersion) {
    return absl::DataLossError("suppression record: malformed");
  }
  return absl::FromUnixMicros(r.revoked_at_unix_micros());
}

absl::StatusOr<ConsentDecision> ConsentLedger::Decide(const ConsentState& state,
                                                      const ContactTokens& tokens,
                                                      ConsentChannel channel,
                                                      ConsentPurpose purpose,
                                                      absl::string_view third_party) const {
  // The suppression list matters only where a grant would otherwise allow.
  ConsentDecision decision = state.Decide(channel, purpose, third_party, std::nullopt);
  if (!decision.allowed) return decision;
  const absl::Time changed_at =
      channel == ConsentChannel::kEmail ? tokens.email_changed_at : tokens.phone_changed_at;
  if (decision.granted_at <= changed_at) {
    decision.allowed = false;
    decision.reason = ConsentReason::kContactChanged;
    decision.at = changed_at;
    return decision;
  }
  LV_ASSIGN_OR_RETURN(std::optional<absl::Time> suppressed,
                      SuppressedAt(channel, purpose, tokens.For(channel)));
  if (!suppressed.has_value()) return decision;
  return state.Decide(channel, purpose, third_party, suppressed);
}

absl::StatusOr<std::vector<ConsentEvent>> ConsentLedger::ReadEvents(absl::string_view lead_id,
                                                                    uint32_t after,
                                                                    size_t limit) const {
  std::vector<ConsentEvent> events;
  if (limit == 0 || after == UINT32_MAX) return events;
  std::string prefix(lead_id);
  rocksdb::ReadOptions options;
  std::string upper = EventKey(lead_id, UINT32_MAX);
  rocksdb::Slice upper_slice(upper);
  options.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->db()->NewIterator(options, db_->cf(Cf::kConsent)));
  for (it->Seek(EventKey(lead_id, after + 1)); it->Valid() && events.size() < limit; it->Next()) {
    rocksdb::Slice key = it->key();
    if (key.size() != lead_id.size() + 4 || !key.starts_with(prefix)) {
      return absl::DataLossError("consent: malformed key");
    }
    uint32_t number = 0;
    for (size_t i = lead_id.size(); i < key.size(); ++i) {
      number = (number << 8) | static_cast<uint8_t>(key[i]);
    }
    LV_ASSIGN_OR_RETURN(ConsentEvent e,
                        ParseEvent(keys_->record_mac_key(), lead_id, number,
                                   absl::string_view(it->value().data(), it->value().size())));
    events.push_back(std::move(e));
  }
  LV_RETURN_IF_ERROR(db_->Check(it->status(), "scan consent ledger"));
  return events;
}

absl::StatusOr<Committer::Stamp> ConsentLedger::Stage(
    absl::string_view lead_id, const keys::SecretBytes* dek, uint32_t dek_version,
    const ContactTokens& tokens, ConsentState& state, ConsentEvent& event, keys::Random& random,
    rocksdb::WriteBatch& batch, audit::AuditEntry& entry) const {
  if (state.last_number() + 1 > kMaxConsentEventsPerLead) {
    return absl::FailedPreconditionError(absl::StrCat("consent: a lead's ledger holds at most ",
                                                      kMaxConsentEventsPerLead, " events"));
  }
  event.number = state.last_number() + 1;
  std::string ip_ciphertext;
  if (event.action == ConsentAction::kGrant) {
    event.missing = MissingTcpaElements(event.evidence);
    const keys::SecretBytes& ip = event.evidence.ip_address;
    if (!ip.empty()) {
      if (dek == nullptr) return absl::InternalError("consent: the lead's data key is needed");
      // salt || ip, encrypted together; the commitment binds both. Salt and
      // nonce come from one draw.
      keys::SecretBytes draw(kSaltSize + keys::kNonceSize);
      random.Fill(draw.data(), draw.size());
      keys::SecretBytes salted(kSaltSize + ip.size());
      std::copy_n(draw.data(), kSaltSize, salted.data());
      std::copy_n(ip.data(), ip.size(), salted.data() + kSaltSize);
      keys::Sha256Digest commitment = keys::Sha256({salted.view()});
      event.ip_commitment = absl::BytesToHexString(
          absl::string_view(reinterpret_cast<const char*>(commitment.data()), commitment.size()));
      ip_ciphertext = keys::EncryptField(
          *dek, dek_version, lead_id, kIpFieldBase + event.number, salted.view(),
          absl::string_view(reinterpret_cast<const char*>(draw.data()) + kSaltSize,
                            keys::kNonceSize));
    }
  } else {
    // Every (channel, purpose) the revocation covers is suppressed for the
    // contact the channel reaches.
    internal::SuppressionRecord s;
    s.set_format_version(kFormatVersion);
    s.set_revoked_at_unix_micros(absl::ToUnixMicros(event.at));
    const std::string row = s.SerializeAsString();
    for (ConsentChannel channel : event.channels) {
      const std::string& token = tokens.For(channel);
      if (token.empty()) continue;
      for (ConsentPurpose purpose : event.purposes) {
        LV_RETURN_IF_ERROR(FromRocks(
            batch.Put(db_->cf(Cf::kSuppress), SuppressKey(channel, purpose, token), row), "batch"));
      }
    }
  }
  state.Apply(event);
  if (state.third_parties() > kMaxThirdPartiesPerLead) {
    return absl::FailedPreconditionError(
        absl::StrCat("consent.third_party: a lead's ledger names at most ", kMaxThirdPartiesPerLead,
                     " third parties"));
  }
  const std::string digest = audit::ConsentEventDigest(ToProofEvent(lead_id, event));
  entry.fields.push_back(absl::StrCat("consent_event=", digest));

  ConsentStateRecord r;
  ToRecord(state, r);
  r.set_mac(StateMac(keys_->record_mac_key(), lead_id, r));
  LV_RETURN_IF_ERROR(FromRocks(
      batch.Put(db_->cf(Cf::kConsent), StateKey(lead_id), r.SerializeAsString()), "batch"));
  // The event record names the audit entry that records it: built here, off
  // the committer thread, and written once that sequence is known (the stamp
  // only appends it and the MAC), in the same atomic write.
  rocksdb::ColumnFamilyHandle* cf = db_->cf(Cf::kConsent);
  const keys::SecretBytes* mac_key = &keys_->record_mac_key();
  return Committer::Stamp([key = EventKey(lead_id, event.number),
                           record = PrebuildEvent(event, ip_ciphertext),
                           mac_prefix = EventMacPrefix(lead_id, digest, ip_ciphertext), cf,
                           mac_key](uint64_t sequence, rocksdb::WriteBatch& out) -> absl::Status {
    return FromRocks(out.Put(cf, key, SealEvent(*mac_key, record, mac_prefix, sequence)), "batch");
  });
}

}  // namespace leadvault::vault
