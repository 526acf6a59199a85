// The consent proof: for one lead, every consent event with its evidence and,
// for each, the audit entry that recorded it and that entry's RFC 6962
// inclusion proof against one signed checkpoint, as one JSON document a
// lawyer can hand over and anyone can verify offline with only the log's
// verifier key (`leadvaultctl consent proof FILE --pubkey KEY`).
//
// The link between an event and the log: the vault records each event in an
// allowed "CreateLead" or "RecordConsent" audit entry whose lead_ids name the
// lead and whose fields hold ConsentEventField(event). That field is a
// SHA-256 over every field of the event, so changing any of them (one byte)
// breaks the link, and the inclusion proof ties the entry to the signed root.
//
// The link between the document and the export: each ExportConsentProof
// call commits its own allowed "ExportConsentProof" audit entry naming the
// lead in lead_ids and holding exactly one field "consent_events=<n>", n the
// number of events the vault held for the lead and exported; the checkpoint
// is signed with (and covers) that entry, and the document carries it with
// its inclusion proof.
//
// What verification proves, and what it does not: the document is complete
// as of its export. Events 1..n are exactly as the log recorded them, in
// order, none missing between 1 and n, each recorded before the export entry;
// and that entry, by the daemon's signed word, says the vault held n events
// for the lead when it exported, so none is missing after n either (a proof
// cut short after event m < n fails). It does not prove that the lead has no
// event recorded after the export entry (a document exported earlier still
// verifies against a later checkpoint: it is complete as of its own export),
// and generated_at/generated_by are the exporter's word: neither is covered
// by a signature (the export entry's own time and principal are).
//
// Thread-safe: these are pure functions.
#ifndef LEADVAULT_AUDIT_CONSENT_PROOF_H_
#define LEADVAULT_AUDIT_CONSENT_PROOF_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "audit/checkpoint.h"
#include "audit/merkle.h"

namespace leadvault::audit {

// One consent event as the proof shows it: the ledger's clear skeleton and
// evidence. The consenting person's IP address is PII and is never in the
// proof: only a commitment to it, ip_commitment = lower-hex SHA-256(salt(32
// random bytes) || ip text), which whoever holds the IP and salt (decrypted by
// the vault under the lead's key) can open later; after the lead is purged and
// its key shredded, the commitment stays and reveals nothing.
struct ConsentProofEvent {
  std::string lead_id;         // text form: 32 lower-case hex
  uint32_t number = 0;         // 1, 2, ... per lead
  int64_t at_unix_micros = 0;  // when the vault recorded it
  std::string recorded_by;     // principal id
  std::string action;          // "grant" | "revoke"
  // What the act covers: each channel for each purpose ("third_party_sharing"
  // with each of third_parties, which is empty without it).
  std::vector<std::string> channels;  // "email" | "sms" | "voice" | "autodialed_voice"
  std::vector<std::string>
      purposes;  // "scheduling" | "treatment_follow_up" | "marketing" | "third_party_sharing"
  std::vector<std::string> third_parties;
  // grants (empty/false/0 on revocations)
  int64_t captured_at_unix_micros = 0;
  std::string source_url;
  std::string seller_name;
  std::string disclosure_version;
  std::string disclosure_sha256;  // 64 lower hex or empty
  bool authorizes_automated = false;
  bool not_condition_of_purchase = false;
  std::string capture_certificate_id;
  std::string user_agent;
  std::string ip_commitment;         // 64 lower hex or empty (no IP captured)
  std::vector<std::string> missing;  // TCPA elements missing, names, e.g. "seller_name"
  // revocations (empty on grants)
  std::string
      method;  // "intake_call" | "sms_reply" | "email_unsubscribe" | "preference_page" | "other"
  std::string method_detail;  // "keyword:STOP", "free_text" or empty

  friend bool operator==(const ConsentProofEvent&, const ConsentProofEvent&) = default;
};

inline constexpr absl::string_view kConsentEventTag = "leadvault-consent-event-v2";

// Deterministic bytes: kConsentEventTag, then every field above in
// declaration order. Strings (the tag too) are a big-endian u32 length and the
// bytes; `number` is a big-endian u32, times big-endian two's-complement
// int64; bools one byte (0 or 1); each list (channels, purposes,
// third_parties, missing) a big-endian u32 count, then each string. Injective: two different events
// never encode alike. REQUIRES: every string is shorter than 2^32 bytes (VerifyConsentProof refuses
// an event that is not; a parsed proof is far below it).
std::string ConsentEventCanonical(const ConsentProofEvent& event);
// Lower-case hex SHA-256 of ConsentEventCanonical (64 characters).
std::string ConsentEventDigest(const ConsentProofEvent& event);
// The audit-entry field that names it: "consent_event=" + digest.
std::string ConsentEventField(const ConsentProofEvent& event);

struct ConsentProofItem {
  ConsentProofEvent event;
  uint64_t audit_sequence = 0;        // the entry that recorded it
  std::string audit_entry;            // its canonical bytes (EncodeCanonical)
  std::vector<Hash> inclusion_proof;  // leaf audit_sequence - 1 in the checkpoint's tree

  friend bool operator==(const ConsentProofItem&, const ConsentProofItem&) = default;
};

struct ConsentProof {
  std::string lead_id;          // text form
  std::string checkpoint_note;  // signed note (C2SP), covers every audit_sequence
  int64_t generated_at_unix_micros = 0;
  std::string generated_by;  // principal id of the officer
  // The vault's "ExportConsentProof" entry for this document: its sequence,
  // canonical bytes (EncodeCanonical) and inclusion proof (leaf
  // export_sequence - 1 in the checkpoint's tree).
  uint64_t export_sequence = 0;
  std::string export_entry;
  std::vector<Hash> export_inclusion_proof;
  std::vector<ConsentProofItem> items;  // in event number order

  friend bool operator==(const ConsentProof&, const ConsentProof&) = default;
};

// ParseConsentProof's bounds.
inline constexpr size_t kMaxConsentProofBytes = size_t{64} << 20;
inline constexpr size_t kMaxConsentProofEvents = 10'000;

// The document, format "leadvault-consent-proof" version 2: one JSON object,
// two-space indented, one key per line, keys in this order, ending in '\n':
//   format, version, lead_id, generated_at_unix_micros, generated_at,
//   generated_by, checkpoint (the signed note), export_sequence, export_entry
//   (base64 of the canonical bytes), export_inclusion_proof (array of base64
//   hashes), events: [ one object per item,
//   in order: number, lead_id, at_unix_micros, at, recorded_by, action,
//   channels, purposes, third_parties (arrays of strings),
//   captured_at_unix_micros, captured_at,
//   source_url, seller_name, disclosure_version, disclosure_sha256,
//   authorizes_automated, not_condition_of_purchase, capture_certificate_id,
//   user_agent, ip_commitment, missing (array of strings), method,
//   method_detail, digest (ConsentEventDigest), audit_sequence, audit_entry
//   (base64 of the canonical bytes), inclusion_proof (array of base64
//   hashes) ].
// "at", "captured_at" and "generated_at" spell the unix micros beside them
// as RFC 3339 UTC with six fraction digits, or "" when those are 0; they and
// "digest" are informative (derived, never read as a source). Strings are
// escaped as audit/export_format.h states; base64 is RFC 4648 with padding.
// Deterministic: equal proofs render to equal bytes.
std::string RenderConsentProof(const ConsentProof& proof);

// Parses a document as rendered above, with any JSON whitespace and key
// order. Strict: an unknown, missing, repeated or wrongly typed key, a
// number out of its field's range, base64 that is not canonical, a hash that
// is not 32 bytes, or an informative value that does not match its source
// (a digest that is not the event's, a time that is not its micros') is
// INVALID_ARGUMENT naming the key ("event 3: ..." for the third event of the
// list, "invalid JSON at byte N: ..." for syntax). Bounded: a text over
// kMaxConsentProofBytes, more than kMaxConsentProofEvents events, or an array
// of more than 64 strings is refused before it is held. Event text must be
// valid UTF-8 (the vault validates it): the renderer escapes other bytes as
// lone surrogates, which this parser (nlohmann::json) refuses.
absl::StatusOr<ConsentProof> ParseConsentProof(absl::string_view text);

struct ConsentProofReport {
  Checkpoint checkpoint;
  uint64_t export_sequence = 0;
  absl::Time exported_at;  // the export entry's time (signed, unlike generated_at)
  size_t events = 0;
  size_t grants = 0;
  size_t revocations = 0;
};

// Verifies offline: the checkpoint note's signature (NoteVerifier); events
// numbered 1..n with no gap, reorder or duplicate, each of the document's
// lead (32 lower hex), each a "grant" or a "revoke", hex digests of the right
// form; for each event: its audit entry decodes (DecodeCanonical), has
// sequence == audit_sequence, is an allowed "CreateLead" or "RecordConsent",
// names the lead in lead_ids, and carries ConsentEventField(event) in fields
// (so any change to any event field fails); audit_sequence is in 1..tree size
// and the entry's leaf hash with its inclusion proof rebuilds the
// checkpoint's root at index audit_sequence - 1. Events of one call share an
// entry. Then the export: export_sequence is in 1..tree size and greater than
// every event's audit_sequence; export_entry decodes, has sequence ==
// export_sequence, is an allowed "ExportConsentProof", names the lead in
// lead_ids, and holds exactly one "consent_events=" field, which is
// "consent_events=<n>" with n the number of events in the document (decimal,
// no sign or leading zero); its leaf hash with export_inclusion_proof rebuilds
// the checkpoint's root at index export_sequence - 1. Errors are
// INVALID_ARGUMENT "event 3: ..." (the third of the list), "export: ...",
// "checkpoint: ..." or "lead_id: ...", and never echo a field's value.
absl::StatusOr<ConsentProofReport> VerifyConsentProof(const ConsentProof& proof,
                                                      const NoteVerifier& verifier);

}  // namespace leadvault::audit

#endif  // LEADVAULT_AUDIT_CONSENT_PROOF_H_
