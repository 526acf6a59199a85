// Writes the generated part of the seed corpus (run once, output committed):
//   make_corpus <fuzz/corpus dir>
// verifier/: small valid exports of FuzzLog (unfiltered, a sub-range,
// filtered, with a consistency proof); checkpoint/: its signed notes, a
// body and its verifier key; audit_entry/: canonical entries; records/: one
// serialized record of each type, ciphertexts under a key the target never tries.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "audit/audit_entry.h"
#include "audit/checkpoint.h"
#include "audit/consent_proof.h"
#include "audit/deletion_receipt.h"
#include "audit/export_format.h"
#include "audit/export_manifest.h"
#include "audit/merkle.h"
#include "audit/verifier.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/fuzz_log.h"
#include "keys/aead.h"
#include "keys/random.h"
#include "keys/secret_bytes.h"
#include "vault/internal/records.pb.h"

namespace leadvault::fuzz {
namespace {

// Fixed bytes, so that the corpus is the same on every run.
class CountingRandom final : public keys::Random {
 public:
  void Fill(uint8_t* out, size_t size) override {
    for (size_t i = 0; i < size; ++i) out[i] = static_cast<uint8_t>(next_++);
  }

 private:
  uint8_t next_ = 7;
};

void Write(const std::string& dir, const std::string& name, const std::string& bytes) {
  std::ofstream out(absl::StrCat(dir, "/", name), std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  FUZZ_CHECK(out.good());
}

std::vector<audit::Hash> Nodes(FuzzLog& log, uint64_t begin, uint64_t end) {
  absl::StatusOr<std::vector<audit::Hash>> nodes = log.ReadNodes(audit::RangeNodes(begin, end));
  FUZZ_CHECK(nodes.ok());
  return *nodes;
}

std::string SignedNote(FuzzLog& log, uint64_t size) {
  return log.signer().Sign(audit::FormatCheckpoint(log.CheckpointAt(size)));
}

// An unfiltered export of [first, last] under the checkpoint at `size`.
std::string Export(FuzzLog& log, uint64_t first, uint64_t last, uint64_t size,
                   uint64_t consistency_from = 0) {
  std::string out;
  audit::ExportHeader header;
  header.origin = kLogOrigin;
  header.first_sequence = first;
  header.last_sequence = last;
  header.left_frontier = Nodes(log, 0, first - 1);
  audit::AppendJsonlHeader(header, out);
  for (uint64_t seq = first; seq <= last; ++seq) {
    audit::AppendJsonlEntry(log.entry(seq), log.canonical(seq), nullptr, out);
  }
  audit::ExportTrailer trailer;
  trailer.checkpoint_note = SignedNote(log, size);
  trailer.right_nodes = Nodes(log, last, size);
  audit::AppendJsonlTrailer(trailer, out);
  if (consistency_from != 0) {
    absl::StatusOr<std::vector<audit::Hash>> proof =
        audit::ConsistencyProof(consistency_from, size, log);
    FUZZ_CHECK(proof.ok());
    audit::AppendJsonlConsistency(consistency_from, *proof, out);
  }
  return out;
}

// A filtered export (by action) of [1, size], with its signed manifest.
std::string FilteredExport(FuzzLog& log, const std::string& action, uint64_t size) {
  std::string out;
  audit::ExportHeader header;
  header.origin = kLogOrigin;
  header.first_sequence = 1;
  header.last_sequence = size;
  header.filtered = true;
  header.filter.action = action;
  audit::AppendJsonlHeader(header, out);
  audit::LeafChain chain;
  for (uint64_t seq = 1; seq <= size; ++seq) {
    if (!header.filter.Matches(log.entry(seq))) continue;
    absl::StatusOr<std::vector<audit::Hash>> proof = audit::InclusionProof(seq - 1, size, log);
    FUZZ_CHECK(proof.ok());
    audit::AppendJsonlEntry(log.entry(seq), log.canonical(seq), &*proof, out);
    chain.Append(audit::LeafHash(log.canonical(seq)));
  }
  const audit::Checkpoint checkpoint = log.CheckpointAt(size);
  audit::ExportManifest manifest;
  manifest.origin = kLogOrigin;
  manifest.tree_size = checkpoint.size;
  manifest.root = checkpoint.root;
  manifest.first_sequence = 1;
  manifest.last_sequence = size;
  manifest.filter = header.filter;
  manifest.matches = chain.count();
  manifest.leaf_chain = chain.value();
  audit::ExportTrailer trailer;
  trailer.checkpoint_note = SignedNote(log, size);
  trailer.manifest_note = log.signer().Sign(audit::FormatExportManifest(manifest));
  audit::AppendJsonlTrailer(trailer, out);
  return out;
}

std::string Record(char selector, const google::protobuf::Message& record) {
  return std::string(1, selector) + record.SerializeAsString();
}

void WriteRecords(const std::string& dir) {
  CountingRandom random;
  const keys::SecretBytes key = keys::SecretBytes::CopyFrom(std::string(32, 's'));
  const std::string lead_id(16, '\x01');
  const std::string nonce(keys::kNonceSize, 'n');

  vault::internal::LeadRecord lead;
  lead.set_format_version(1);
  lead.set_created_at_unix_micros(1'796'000'000'000'000);
  lead.set_updated_at_unix_micros(1'796'000'000'000'001);
  lead.mutable_attribution()->set_source(1);
  lead.mutable_attribution()->set_service_line("orthopedics");
  lead.mutable_attribution()->set_landing_page("https://example.org/knee");
  lead.set_status(1);
  auto* attempt = lead.add_contact_attempts();
  attempt->set_at_unix_micros(1'796'000'000'000'002);
  attempt->set_channel(1);
  attempt->set_outcome(2);
  lead.add_touches()->mutable_attribution()->set_campaign("spring");
  lead.set_created_by("00112233445566ff");
  lead.set_version(3);
  lead.set_dek_version(1);
  for (uint32_t field : {3u, 4u}) {
    auto* f = lead.add_fields();
    f->set_field(field);
    f->set_ciphertext(keys::EncryptField(key, 1, lead_id, field, "value", nonce));
  }
  Write(dir, "lead", Record(0, lead));

  vault::internal::WrappedKeyRecord wrapped;
  wrapped.set_format_version(1);
  wrapped.set_kek_version(1);
  wrapped.set_dek_version(1);
  wrapped.set_wrapped(keys::WrapKey(key, 1, absl::StrCat("dek:", std::string(32, '0')),
                                    keys::SecretBytes::CopyFrom(std::string(32, 'd')), random));
  Write(dir, "wrapped_key", Record(1, wrapped));

  vault::internal::PrincipalRecord principal;
  principal.set_format_version(1);
  principal.set_principal_id("00112233445566ff");
  principal.set_display_name("intake desk");
  principal.add_roles("intake");
  principal.add_service_lines("cardiology");
  principal.set_enabled(true);
  principal.set_token_hash(std::string(32, 'h'));
  principal.set_client_cert_sha256(std::string(64, 'a'));
  Write(dir, "principal", Record(2, principal));

  vault::internal::IdempotencyRecord idem;
  idem.set_format_version(1);
  idem.set_lead_id(lead_id);
  idem.set_duplicate(true);
  idem.set_version(2);
  Write(dir, "idempotency", Record(3, idem));

  vault::internal::EmergencyGrantRecord grant;
  grant.set_format_version(1);
  grant.set_grant_id("g1");
  grant.set_principal_id("00112233445566ff");
  grant.set_role("intake");
  grant.set_reason("patient in ER");
  grant.add_lead_ids(lead_id);
  grant.set_opened_at_unix_micros(1);
  grant.set_expires_at_unix_micros(2);
  Write(dir, "emergency_grant", Record(4, grant));
  Write(dir, "attribution", Record(5, lead.attribution()));
  Write(dir, "contact_attempt", Record(6, lead.contact_attempts(0)));
  Write(dir, "touch", Record(7, lead.touches(0)));
  Write(dir, "encrypted_field", Record(8, lead.fields(0)));
}

// A deletion receipt naming the log's last entry (parses; it does not
// verify: that entry is no purge, and the proof's hashes are made up).
std::string DeletionReceiptSeed(FuzzLog& log) {
  audit::DeletionReceipt receipt;
  receipt.lead_id = "00112233445566778899aabbccddeeff";
  receipt.sequence = kLogSize;
  receipt.entry = log.canonical(kLogSize);
  audit::Hash a, b;
  a.fill('a');
  b.fill('b');
  receipt.inclusion_proof = {a, b};
  receipt.checkpoint_note = SignedNote(log, kLogSize);
  return audit::RenderDeletionReceipt(receipt);
}

// A consent proof document: a grant and a revocation with every field set
// (parses; it does not verify, as the log's entries name no consent event).
std::string ConsentProofSeed(FuzzLog& log) {
  audit::ConsentProof proof;
  proof.lead_id = "00112233445566778899aabbccddeeff";
  proof.checkpoint_note = SignedNote(log, kLogSize);
  proof.generated_at_unix_micros = 1796220000123456;
  proof.generated_by = "00000000000000e1";
  proof.export_sequence = kLogSize;
  proof.export_entry = log.canonical(kLogSize);
  audit::ConsentProofItem grant;
  grant.event.lead_id = proof.lead_id;
  grant.event.number = 1;
  grant.event.at_unix_micros = 1796210000000000;
  grant.event.recorded_by = "00000000000000c1";
  grant.event.action = "grant";
  grant.event.channels = {"email", "sms"};
  grant.event.purposes = {"scheduling", "third_party_sharing"};
  grant.event.third_parties = {"acme imaging"};
  grant.event.captured_at_unix_micros = 1796209990000000;
  grant.event.source_url = "https://clinic.example/knee";
  grant.event.seller_name = "Riverside \"Ortho\" \u00e9";
  grant.event.disclosure_version = "tcpa-v3";
  grant.event.disclosure_sha256 = std::string(64, 'a');
  grant.event.authorizes_automated = true;
  grant.event.capture_certificate_id = "https://cert.trustedform.com/abc";
  grant.event.user_agent = "Mozilla/5.0";
  grant.event.ip_commitment = std::string(64, 'b');
  grant.event.missing = {"not_condition_of_purchase"};
  grant.audit_sequence = 2;
  grant.audit_entry = log.canonical(2);
  audit::ConsentProofItem revoke;
  revoke.event.lead_id = proof.lead_id;
  revoke.event.number = 2;
  revoke.event.at_unix_micros = 1796215000000000;
  revoke.event.recorded_by = "00000000000000a1";
  revoke.event.action = "revoke";
  revoke.event.channels = {"sms"};
  revoke.event.purposes = {"scheduling", "third_party_sharing"};
  revoke.event.third_parties = {"acme imaging", "beta labs"};
  revoke.event.method = "sms_reply";
  revoke.event.method_detail = "keyword:STOP";
  revoke.audit_sequence = 4;
  revoke.audit_entry = log.canonical(4);
  proof.items = {grant, revoke};
  return audit::RenderConsentProof(proof);
}

int Main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_corpus <fuzz/corpus dir>\n");
    return 2;
  }
  FUZZ_CHECK(keys::InitCrypto());
  const std::string root = argv[1];
  FuzzLog log;

  const std::string verifier = root + "/verifier";
  Write(verifier, "full", Export(log, 1, kLogSize, kLogSize));
  Write(verifier, "range", Export(log, 2, 4, kLogSize));
  Write(verifier, "empty_range", Export(log, 4, 3, 5));
  Write(verifier, "consistency", Export(log, 1, kLogSize, kLogSize, 3));
  Write(verifier, "filtered", FilteredExport(log, "FindLeads", kLogSize));  // 2 and 6
  // Every seed export verifies: the fuzz target starts from valid files.
  absl::StatusOr<audit::NoteVerifier> key = audit::NoteVerifier::Parse(log.VerifierKey());
  FUZZ_CHECK(key.ok());
  audit::VerifyOptions options;
  options.verifier = &*key;
  for (const char* name : {"full", "range", "empty_range", "consistency", "filtered"}) {
    absl::StatusOr<audit::VerifyReport> report =
        audit::VerifyExportFile(absl::StrCat(verifier, "/", name), options);
    if (!report.ok()) std::fprintf(stderr, "%s: %s\n", name, report.status().ToString().c_str());
    FUZZ_CHECK(report.ok());
  }

  const std::string checkpoint = root + "/checkpoint";
  Write(checkpoint, "note", SignedNote(log, kLogSize));
  Write(checkpoint, "note_empty_tree", SignedNote(log, 0));
  Write(checkpoint, "body", audit::FormatCheckpoint(log.CheckpointAt(2)) + "extension\n");
  Write(checkpoint, "verifier_key", log.VerifierKey());

  const std::string entries = root + "/audit_entry";
  for (uint64_t seq = 1; seq <= kLogSize; ++seq) {
    Write(entries, absl::StrCat("entry", seq), log.canonical(seq));
  }

  WriteRecords(root + "/records");
  Write(root + "/consent_proof", "grant_and_revoke", ConsentProofSeed(log));
  Write(root + "/deletion_receipt", "two_hash_proof", DeletionReceiptSeed(log));
  return 0;
}

}  // namespace
}  // namespace leadvault::fuzz

int main(int argc, char** argv) { return leadvault::fuzz::Main(argc, argv); }
