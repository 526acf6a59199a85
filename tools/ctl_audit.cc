#include "tools/ctl_audit.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "audit/audit_entry.h"
#include "audit/checkpoint.h"
#include "audit/export_format.h"
#include "audit/merkle.h"
#include "audit/verifier.h"
#include "keys/status_macros.h"
#include "leadvault/v1/leadvault.grpc.pb.h"
#include "tools/ctl_files.h"
#include "tools/ctl_print.h"

namespace leadvault::tools {
namespace {

namespace v1 = ::leadvault::v1;

constexpr absl::Duration kExportDeadline = absl::Hours(12);
constexpr size_t kWriteChunk = 1 << 20;

absl::Status FromRpc(const grpc::Status& rpc) {
  return absl::Status(static_cast<absl::StatusCode>(rpc.error_code()), rpc.error_message());
}

// The tree size a checkpoint note claims, without checking its signature
// (verify checks it; export only needs the size to ask for a proof).
absl::StatusOr<uint64_t> ClaimedCheckpointSize(const std::string& note) {
  size_t end = note.find("\n\n");
  if (end == std::string::npos) return absl::InvalidArgumentError("trusted: not a signed note");
  LV_ASSIGN_OR_RETURN(audit::Checkpoint checkpoint,
                      audit::ParseCheckpoint(absl::string_view(note).substr(0, end + 1)));
  return checkpoint.size;
}

std::vector<audit::Hash> HashesFromProto(const google::protobuf::RepeatedPtrField<std::string>& in,
                                         absl::Status* status) {
  std::vector<audit::Hash> out;
  out.reserve(in.size());
  for (const std::string& bytes : in) {
    auto h = audit::HashFromBytes(bytes);
    if (!h.ok()) {
      *status = absl::DataLossError("the server sent a malformed hash");
      return {};
    }
    out.push_back(*h);
  }
  return out;
}

// A progress bar on stderr, drawn only when stderr is a terminal.
class Progress {
 public:
  explicit Progress(uint64_t total) : total_(total), tty_(::isatty(STDERR_FILENO) == 1) {}
  void Update(uint64_t done) {
    if (!tty_) return;
    absl::Time now = absl::Now();
    if (now - last_ < absl::Milliseconds(100)) return;
    last_ = now;
    Draw(done);
  }
  void Finish(uint64_t done) {
    if (!tty_) return;
    Draw(done);
    std::fputc('\n', stderr);
  }

 private:
  void Draw(uint64_t done) {
    constexpr int kWidth = 30;
    if (total_ == 0) {
      std::fprintf(stderr, "\r%llu entries", static_cast<unsigned long long>(done));
    } else {
      int filled = static_cast<int>(kWidth * std::min<uint64_t>(done, total_) / total_);
      std::fprintf(stderr, "\r[%s%s] %3d%% %llu/%llu entries", std::string(filled, '#').c_str(),
                   std::string(kWidth - filled, ' ').c_str(),
                   static_cast<int>(100 * std::min<uint64_t>(done, total_) / total_),
                   static_cast<unsigned long long>(done), static_cast<unsigned long long>(total_));
    }
    std::fflush(stderr);
  }
  const uint64_t total_;
  const bool tty_;
  absl::Time last_ = absl::InfinitePast();
};

std::unique_ptr<v1::Compliance::Stub> Stub(const Connection& c) {
  return v1::Compliance::NewStub(c.channel());
}

int RunPubkey(const Connection& connection) {
  absl::StatusOr<std::string> key = FetchVerifierKey(connection);
  if (!key.ok()) return ReportError(key.status());
  std::cout << *key << "\n";
  return kExitOk;
}

int RunCheckpoint(const Connection& connection, const std::string& output) {
  grpc::ClientContext context;
  connection.Prepare(&context);
  v1::GetCheckpointResponse response;
  grpc::Status status = Stub(connection)->GetCheckpoint(&context, {}, &response);
  if (!status.ok()) return ReportRpcError(status, connection);
  if (output.empty()) {
    std::cout << response.checkpoint().note();
    return kExitOk;
  }
  std::ofstream out(output, std::ios::binary | std::ios::trunc);
  out << response.checkpoint().note();
  out.close();
  if (!out) return ReportError(absl::UnavailableError(absl::StrCat("cannot write ", output)));
  return kExitOk;
}

}  // namespace

void PrincipalNames::Learn(const audit::AuditEntry& entry) {
  std::optional<std::string> name = audit::RecordedDisplayName(entry);
  if (name.has_value()) Set(entry.subject, *name);
}

void PrincipalNames::Set(const std::string& principal_id, const std::string& display_name) {
  if (!principal_id.empty() && !display_name.empty()) names_[principal_id] = display_name;
}

const std::string& PrincipalNames::Name(const std::string& principal_id) const {
  static const std::string* const kNone = new std::string();
  auto it = names_.find(principal_id);
  return it == names_.end() ? *kNone : it->second;
}

std::string PrincipalNames::Label(const std::string& principal_id) const {
  return PrincipalLabel(Name(principal_id), principal_id);
}

absl::StatusOr<absl::Time> ParseTimeFlag(const std::string& flag, const std::string& text) {
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, text, &t, &err)) return t;
  if (absl::ParseTime("%Y-%m-%d", text, absl::UTCTimeZone(), &t, &err)) return t;
  return absl::InvalidArgumentError(
      absl::StrCat(flag, ": expected YYYY-MM-DD or an RFC 3339 time"));
}

absl::StatusOr<std::string> FetchVerifierKey(const Connection& connection) {
  grpc::ClientContext context;
  connection.Prepare(&context);
  v1::GetCheckpointResponse response;
  grpc::Status status = Stub(connection)->GetCheckpoint(&context, {}, &response);
  if (!status.ok()) return FromRpc(status);
  return response.verifier_key();
}

absl::StatusOr<uint64_t> ExportToFile(const Connection& connection, const AuditExportFlags& flags,
                                      const ExportEntryVisitor& visit) {
  const bool csv = flags.format == "csv";
  if (flags.csv_canonical && !csv) {
    return absl::InvalidArgumentError("--csv-canonical needs --format csv");
  }
  audit::CsvOptions csv_options;
  csv_options.canonical_column = flags.csv_canonical;
  // Names from the CreatePrincipal entries of this export (the CSV's name columns).
  PrincipalNames names;
  v1::ExportAuditRequest request;
  request.set_from_sequence(flags.from_sequence);
  request.set_to_sequence(flags.to_sequence);
  if (!flags.since.empty()) {
    LV_ASSIGN_OR_RETURN(absl::Time t, ParseTimeFlag("--since", flags.since));
    request.set_since_unix_micros(absl::ToUnixMicros(t));
  }
  if (!flags.until.empty()) {
    LV_ASSIGN_OR_RETURN(absl::Time t, ParseTimeFlag("--until", flags.until));
    request.set_until_unix_micros(absl::ToUnixMicros(t));
  }
  request.set_principal_id(flags.principal_id);
  request.set_action(flags.action);
  request.set_lead_id(flags.lead_id);
  std::optional<uint64_t> trusted_size;
  if (!flags.trusted.empty()) {
    LV_ASSIGN_OR_RETURN(std::string note, ReadSmallFile(flags.trusted));
    LV_ASSIGN_OR_RETURN(trusted_size, ClaimedCheckpointSize(note));
  }

  // Refused before the (possibly long) export rather than after it; the final
  // rename refuses an output that appeared meanwhile.
  const std::string checkpoint_file = flags.output + ".checkpoint";
  const std::string manifest_file = flags.output + ".manifest";
  const bool filter_asked =
      !flags.principal_id.empty() || !flags.action.empty() || !flags.lead_id.empty();
  LV_RETURN_IF_ERROR(RefuseExisting(flags.output));
  if (csv) LV_RETURN_IF_ERROR(RefuseExisting(checkpoint_file));
  if (csv && filter_asked) LV_RETURN_IF_ERROR(RefuseExisting(manifest_file));
  std::string tmp = flags.output + ".partial";
  LV_ASSIGN_OR_RETURN(int fd, CreateNewFile(tmp));
  std::FILE* out = ::fdopen(fd, "wb");
  if (out == nullptr) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return absl::UnavailableError(absl::StrCat("cannot write ", tmp));
  }
  std::string buffer;
  buffer.reserve(kWriteChunk + (64 << 10));
  bool write_ok = true;
  auto drain = [&](bool force) {
    if (buffer.size() >= kWriteChunk || (force && !buffer.empty())) {
      write_ok = write_ok && std::fwrite(buffer.data(), 1, buffer.size(), out) == buffer.size();
      buffer.clear();
    }
  };

  grpc::ClientContext context;
  connection.Prepare(&context);
  context.set_deadline(absl::ToChronoTime(absl::Now() + kExportDeadline));
  std::unique_ptr<grpc::ClientReader<v1::ExportAuditResponse>> reader =
      Stub(connection)->ExportAudit(&context, request);
  v1::ExportAuditResponse message;
  audit::ExportTrailer trailer;
  absl::Status status;
  bool have_header = false;
  bool filtered_export = false;
  uint64_t count = 0;
  std::unique_ptr<Progress> progress;
  std::vector<audit::Hash> proof;
  while (status.ok() && reader->Read(&message)) {
    if (message.has_header()) {
      const v1::AuditExportHeader& h = message.header();
      audit::ExportHeader header;
      header.origin = h.origin();
      header.first_sequence = h.first_sequence();
      header.last_sequence = h.last_sequence();
      header.filtered = h.filtered();
      header.filter = {h.filter_principal_id(), h.filter_action(), h.filter_lead_id()};
      header.left_frontier = HashesFromProto(h.left_frontier(), &status);
      trailer.checkpoint_note = h.checkpoint_note();
      trailer.right_nodes = HashesFromProto(h.right_nodes(), &status);
      if (csv) {
        audit::AppendCsvHeader(csv_options, buffer);
      } else {
        audit::AppendJsonlHeader(header, buffer);
      }
      have_header = true;
      filtered_export = header.filtered;
      uint64_t total = header.filtered || header.last_sequence < header.first_sequence
                           ? 0
                           : header.last_sequence - header.first_sequence + 1;
      progress = std::make_unique<Progress>(total);
    }
    if (!have_header) {
      status = absl::DataLossError("the server's export has no header");
      break;
    }
    for (const v1::AuditRecord& record : message.entries()) {
      auto entry = audit::DecodeCanonical(record.canonical());
      if (!entry.ok()) {
        status = absl::DataLossError("the server sent a malformed entry");
        break;
      }
      if (csv) {
        names.Learn(*entry);
        audit::AppendCsvEntry(*entry, record.canonical(),
                              {names.Name(entry->principal_id), names.Name(entry->subject)},
                              csv_options, buffer);
      } else {
        bool filtered = record.inclusion_proof_size() > 0;
        if (filtered) proof = HashesFromProto(record.inclusion_proof(), &status);
        audit::AppendJsonlEntry(*entry, record.canonical(), filtered ? &proof : nullptr, buffer);
      }
      if (visit) visit(*entry);
      ++count;
    }
    if (!message.manifest_note().empty()) trailer.manifest_note = message.manifest_note();
    drain(false);
    if (progress != nullptr) progress->Update(count);
  }
  // Stop the server's stream before finishing on a local error: an unread
  // stream would otherwise hold the call until its deadline.
  if (!status.ok()) context.TryCancel();
  grpc::Status rpc = reader->Finish();
  if (status.ok() && !rpc.ok()) status = FromRpc(rpc);
  if (status.ok() && !have_header) status = absl::DataLossError("the server sent no export");
  // A filtered export without the daemon's signed manifest proves nothing
  // about what it left out (a daemon from before manifests).
  if (status.ok() && filtered_export && trailer.manifest_note.empty()) {
    status = absl::DataLossError("the server's filtered export has no signed manifest");
  }
  if (status.ok() && filtered_export != filter_asked) {
    status = absl::DataLossError("the server's export is not filtered as asked");
  }
  if (status.ok() && !csv) {
    audit::AppendJsonlTrailer(trailer, buffer);
    absl::StatusOr<uint64_t> covering = ClaimedCheckpointSize(trailer.checkpoint_note);
    if (!covering.ok()) status = covering.status();
    if (status.ok() && trusted_size.has_value() && *trusted_size <= *covering) {
      // A proof that the export's tree extends the trusted one (verify
      // reports a trusted tree larger than the export's as a rollback).
      grpc::ClientContext proof_context;
      connection.Prepare(&proof_context);
      v1::GetConsistencyProofRequest proof_request;
      proof_request.set_from_size(*trusted_size);
      proof_request.set_to_size(*covering);
      v1::GetConsistencyProofResponse proof_response;
      grpc::Status s =
          Stub(connection)->GetConsistencyProof(&proof_context, proof_request, &proof_response);
      if (!s.ok()) {
        status = FromRpc(s);
      } else {
        audit::AppendJsonlConsistency(*trusted_size,
                                      HashesFromProto(proof_response.proof(), &status), buffer);
      }
    }
  }
  drain(true);
  if (progress != nullptr) progress->Finish(count);
  write_ok = std::fflush(out) == 0 && ::fsync(::fileno(out)) == 0 && write_ok;
  write_ok = std::fclose(out) == 0 && write_ok;
  if (status.ok() && !write_ok) status = absl::UnavailableError(absl::StrCat("cannot write ", tmp));
  // CSV has no room for the checkpoint and manifest: they go beside the file.
  if (status.ok() && csv) status = WriteNewFile(checkpoint_file, trailer.checkpoint_note);
  if (status.ok() && csv && filtered_export) {
    status = WriteNewFile(manifest_file, trailer.manifest_note);
    if (!status.ok()) ::unlink(checkpoint_file.c_str());
  }
  if (status.ok() &&
      ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, flags.output.c_str(), RENAME_NOREPLACE) != 0) {
    status = errno == EEXIST ? AlreadyThere(flags.output)
                             : absl::UnavailableError(absl::StrCat("cannot write ", flags.output));
    if (csv) ::unlink(checkpoint_file.c_str());
    if (csv && filtered_export) ::unlink(manifest_file.c_str());
  }
  if (!status.ok()) {
    ::unlink(tmp.c_str());
    return status;
  }
  return count;
}

// A filtered export rests on the daemon's signed word for which entries
// matched; an unfiltered one only on the signed root.
std::string DescribeProof(const audit::VerifyReport& report) {
  if (!report.manifest.has_value()) {
    return absl::StrCat(
        "Proven: every entry from sequence ", report.first_sequence, " to ", report.last_sequence,
        " is here, unaltered and in order, under the signed Merkle root; this relies on the "
        "daemon only for signing that root.");
  }
  const audit::ExportFilter& f = report.manifest->filter;
  std::vector<std::string> filter;
  if (!f.principal_id.empty()) filter.push_back(absl::StrCat("principal_id=", f.principal_id));
  if (!f.action.empty()) filter.push_back(absl::StrCat("action=", f.action));
  if (!f.lead_id.empty()) filter.push_back(absl::StrCat("lead_id=", f.lead_id));
  return absl::StrCat(
      "Proven: every entry from sequence ", report.first_sequence, " to ", report.last_sequence,
      " matching ", absl::StrJoin(filter, " "), " is here: ", report.manifest->matches,
      " entries, as the daemon attested in its signed manifest; each is unaltered and in the "
      "signed Merkle tree. Not proven: that no other entry matches. The daemon's signature covers "
      "the selection, so a filtered export is only as honest as the daemon that made it; an "
      "unfiltered export of the range does not depend on that.");
}

absl::StatusOr<audit::VerifyReport> VerifyExport(const std::string& file,
                                                 const audit::NoteVerifier& verifier,
                                                 const std::string& trusted_file,
                                                 VerifyFailure* failure) {
  audit::VerifyOptions options;
  options.verifier = &verifier;
  if (!trusted_file.empty()) {
    auto note = ReadSmallFile(trusted_file);
    if (!note.ok()) {
      *failure = VerifyFailure::kTrustedFile;
      return note.status();
    }
    auto trusted = audit::OpenCheckpoint(*note, verifier);
    if (!trusted.ok()) {
      *failure = VerifyFailure::kTrustedCheckpoint;
      return absl::InvalidArgumentError(
          absl::StrCat("trusted checkpoint: ", trusted.status().message()));
    }
    options.trusted = *trusted;
  }
  *failure = VerifyFailure::kExport;
  return audit::VerifyExportFile(file, options);
}

std::string VerifiedSummary(const audit::VerifyReport& report) {
  return absl::StrCat(
      "OK: ", report.entries, " entries (sequences ", report.first_sequence, "..",
      report.last_sequence, report.filtered ? ", filtered, each with its inclusion proof" : "",
      ") match checkpoint ", report.checkpoint.origin, " size ", report.checkpoint.size,
      report.trusted_checked ? ", consistent with the trusted checkpoint" : "");
}

absl::StatusOr<ProvenAccounting> FetchAccounting(const Connection& connection,
                                                 const std::string& lead_id,
                                                 int64_t since_unix_micros,
                                                 const audit::NoteVerifier& verifier) {
  v1::AccountingOfDisclosuresRequest request;
  request.set_lead_id(lead_id);
  request.set_since_unix_micros(since_unix_micros);
  ProvenAccounting accounting;
  do {
    grpc::ClientContext context;
    connection.Prepare(&context);
    v1::AccountingOfDisclosuresResponse response;
    grpc::Status status = Stub(connection)->AccountingOfDisclosures(&context, request, &response);
    if (!status.ok()) return FromRpc(status);
    // Every row is proven against a checkpoint signed by the log's key.
    auto checkpoint = audit::OpenCheckpoint(response.checkpoint().note(), verifier);
    if (!checkpoint.ok()) {
      return absl::DataLossError(absl::StrCat("the reply's checkpoint fails verification: ",
                                              checkpoint.status().message()));
    }
    accounting.checkpoint = *checkpoint;
    for (const v1::Disclosure& d : response.disclosures()) {
      absl::Status hashes;
      std::vector<audit::Hash> proof = HashesFromProto(d.inclusion_proof(), &hashes);
      absl::Status proven =
          hashes.ok() && d.sequence() > 0
              ? audit::VerifyInclusion(d.sequence() - 1, checkpoint->size,
                                       audit::LeafHash(d.entry()), proof, checkpoint->root)
              : absl::DataLossError("malformed proof");
      auto entry = audit::DecodeCanonical(d.entry());
      // The row kept is the proven entry's, not the reply's convenience copy.
      if (!proven.ok() || !entry.ok() || entry->sequence != d.sequence()) {
        return absl::DataLossError(
            absl::StrCat("disclosure at sequence ", d.sequence(), " fails its inclusion proof"));
      }
      accounting.names.Set(entry->principal_id, d.principal_display_name());
      accounting.disclosures.push_back(*std::move(entry));
    }
    request.set_from_sequence(response.next_sequence());
  } while (request.from_sequence() != 0);
  return accounting;
}

namespace {

int RunExport(const Connection& connection, const AuditExportFlags& flags) {
  absl::StatusOr<uint64_t> count = ExportToFile(connection, flags);
  if (!count.ok()) return ReportError(count.status(), kExitFailed);
  std::fprintf(stderr, "leadvaultctl: exported %llu entries to %s\n",
               static_cast<unsigned long long>(*count), flags.output.c_str());
  if (*count == 0) {
    std::fprintf(stderr,
                 "leadvaultctl: no entry matched%s (--until is exclusive: a date means its "
                 "midnight UTC)\n",
                 flags.since.empty() && flags.until.empty() ? "" : " the time range");
  }
  return kExitOk;
}

int RunVerify(const AuditVerifyFlags& flags) {
  auto verifier = LoadVerifier(flags.pubkey);
  if (!verifier.ok()) return ReportError(verifier.status(), kExitUsage);
  absl::Time start = absl::Now();
  VerifyFailure failure;
  auto report = VerifyExport(flags.file, *verifier, flags.trusted, &failure);
  if (!report.ok()) {
    switch (failure) {
      case VerifyFailure::kTrustedFile:
        return ReportError(report.status(), kExitUsage);
      case VerifyFailure::kTrustedCheckpoint:
        return ReportError(report.status());
      case VerifyFailure::kExport:
        break;
    }
    std::fprintf(stderr, "leadvaultctl: audit verify FAILED: %s\n",
                 std::string(report.status().message()).c_str());
    return kExitFailed;
  }
  double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::printf("%s\n%s\n", VerifiedSummary(*report).c_str(), DescribeProof(*report).c_str());
  std::fprintf(stderr, "leadvaultctl: verified in %.2f s\n", seconds);
  return kExitOk;
}

int RunAccounting(const Connection& connection, const std::string& lead_id,
                  const std::string& since, const std::string& pubkey) {
  auto verifier = LoadVerifier(pubkey);
  if (!verifier.ok()) return ReportError(verifier.status(), kExitUsage);
  int64_t since_micros = 0;
  if (!since.empty()) {
    auto t = ParseTimeFlag("--since", since);
    if (!t.ok()) return ReportError(t.status(), kExitUsage);
    since_micros = absl::ToUnixMicros(*t);
  }
  absl::StatusOr<ProvenAccounting> accounting =
      FetchAccounting(connection, lead_id, since_micros, *verifier);
  if (!accounting.ok()) return ReportError(accounting.status());
  std::vector<std::vector<std::string>> rows = {
      {"SEQ", "TIME", "PRINCIPAL", "ROLE", "PURPOSE", "FIELDS"}};
  for (const audit::AuditEntry& entry : accounting->disclosures) {
    rows.push_back({absl::StrCat(entry.sequence),
                    absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", entry.time, absl::UTCTimeZone()),
                    accounting->names.Label(entry.principal_id), entry.role,
                    entry.purpose.empty() ? "-" : entry.purpose, absl::StrJoin(entry.fields, ",")});
  }
  PrintTable(rows);
  std::printf("%zu disclosures, each proven in the signed checkpoint of size %llu\n",
              accounting->disclosures.size(),
              static_cast<unsigned long long>(accounting->checkpoint.size));
  return kExitOk;
}

}  // namespace

std::unique_ptr<AuditCommands> AddAuditCommands(CLI::App& app) {
  auto c = std::make_unique<AuditCommands>();
  CLI::App* audit = app.add_subcommand(
      "audit", "the tamper-evident audit log (compliance role; verify works offline)");
  audit->require_subcommand(1);
  c->pubkey = audit->add_subcommand("pubkey", "print the log's verifier key (signed-note form)");
  c->checkpoint = audit->add_subcommand("checkpoint", "print a fresh signed checkpoint");
  c->checkpoint->add_option("-o,--output", c->checkpoint_output, "write it to FILE");

  AuditExportFlags& e = c->export_flags;
  c->export_log = audit->add_subcommand("export", "stream the audit log to a file");
  c->export_log->add_option("--format", e.format, "jsonl (verifiable) or csv (spreadsheets)")
      ->check(CLI::IsMember({"jsonl", "csv"}))
      ->capture_default_str();
  c->export_log->add_option("-o,--output", e.output, "output file")->required();
  c->export_log->add_option("--since", e.since, "entries at or after (YYYY-MM-DD or RFC 3339)");
  c->export_log->add_option("--until", e.until, "entries before (YYYY-MM-DD or RFC 3339)");
  c->export_log->add_option("--from-seq", e.from_sequence, "first sequence");
  c->export_log->add_option("--to-seq", e.to_sequence, "last sequence");
  c->export_log->add_option("--principal", e.principal_id, "only this principal's entries");
  c->export_log->add_option("--action", e.action, "only this action, e.g. GetLead");
  c->export_log->add_option("--lead", e.lead_id, "only entries naming this lead id");
  c->export_log->add_option("--trusted", e.trusted,
                            "a checkpoint trusted from before: add a consistency proof to it");
  c->export_log->add_flag("--csv-canonical", e.csv_canonical,
                          "csv: add each entry's canonical bytes (base64) as the last column");

  AuditVerifyFlags& v = c->verify_flags;
  c->verify = audit->add_subcommand("verify", "verify an export offline (no daemon, no key)");
  c->verify->add_option("FILE", v.file, "a JSON Lines export")->required();
  c->verify->add_option("--pubkey", v.pubkey, "verifier key, or a file holding it")->required();
  c->verify->add_option("--trusted", v.trusted, "a signed checkpoint trusted from before");

  c->accounting = audit->add_subcommand(
      "accounting", "accounting of disclosures: every access to one lead's personal data");
  c->accounting->add_option("LEAD_ID", c->lead_id, "lead id")->required();
  c->accounting->add_option("--since", c->since, "from this date (YYYY-MM-DD or RFC 3339)");
  c->accounting
      ->add_option("--pubkey", c->accounting_pubkey,
                   "verifier key, or a file holding it: every row is checked against it")
      ->required();
  return c;
}

std::optional<int> RunAuditCommand(const AuditCommands& c, const ConnectionFlags& flags) {
  if (c.verify->parsed()) return RunVerify(c.verify_flags);
  if (c.pubkey->parsed()) {
    return WithConnection(flags, [&](const Connection& conn) { return RunPubkey(conn); });
  }
  if (c.checkpoint->parsed()) {
    return WithConnection(
        flags, [&](const Connection& conn) { return RunCheckpoint(conn, c.checkpoint_output); });
  }
  if (c.export_log->parsed()) {
    if (c.export_flags.csv_canonical && c.export_flags.format != "csv") {
      return ReportError(absl::InvalidArgumentError("--csv-canonical needs --format csv"),
                         kExitUsage);
    }
    return WithConnection(flags,
                          [&](const Connection& conn) { return RunExport(conn, c.export_flags); });
  }
  if (c.accounting->parsed()) {
    return WithConnection(flags, [&](const Connection& conn) {
      return RunAccounting(conn, c.lead_id, c.since, c.accounting_pubkey);
    });
  }
  return std::nullopt;
}

}  // namespace leadvault::tools
