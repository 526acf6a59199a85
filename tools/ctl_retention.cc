#include "tools/ctl_retention.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "audit/deletion_receipt.h"
#include "google/protobuf/text_format.h"
#include "leadvault/v1/leadvault.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tools/ctl_files.h"
#include "tools/ctl_print.h"

namespace leadvault::tools {
namespace {

namespace v1 = ::leadvault::v1;

// A sweep of a million leads at the daemon's pacing takes minutes.
constexpr absl::Duration kSweepDeadline = absl::Hours(24);

void PrintHold(const v1::LegalHold& h) {
  std::printf("hold %s  lead %s  placed %s by %s\n  reason: %s\n", h.hold_id().c_str(),
              h.lead_id().c_str(), FormatMicros(h.placed_at_unix_micros()).c_str(),
              h.placed_by().c_str(), h.reason().c_str());
}

// The hold as text (after `label`, if any), or (--json) `response` ({"hold": {...}}) as JSON.
int PrintHoldResult(const google::protobuf::Message& response, const v1::LegalHold& hold,
                    const char* label, bool json) {
  if (json) {
    return PrintJson(response) ? kExitOk : ReportError(absl::InternalError("cannot print as JSON"));
  }
  if (label != nullptr) std::printf("%s\n", label);
  PrintHold(hold);
  return kExitOk;
}

int RunDelete(const Connection& connection, const RetentionCommands& c) {
  absl::StatusOr<std::string> reason = ReadReason(c.reason, c.reason_file);
  if (!reason.ok()) return ReportError(reason.status(), kExitUsage);
  // Refused before the call: the deletion cannot be undone, and its receipt
  // must have somewhere to go.
  if (!c.output.empty()) {
    if (absl::Status free = RefuseExisting(c.output); !free.ok()) return ReportError(free);
  }
  v1::DeleteLeadRequest request;
  request.set_lead_id(c.lead_id);
  request.set_reason(*reason);
  v1::DeleteLeadResponse response;
  grpc::ClientContext context;
  connection.Prepare(&context);
  grpc::Status status =
      v1::LeadVault::NewStub(connection.channel())->DeleteLead(&context, request, &response);
  if (!status.ok()) return ReportRpcError(status, connection);
  const v1::DeletionReceipt& r = response.receipt();
  audit::DeletionReceipt receipt;
  receipt.lead_id = r.lead_id();
  receipt.sequence = r.sequence();
  receipt.entry = r.entry();
  for (const std::string& bytes : r.inclusion_proof()) {
    absl::StatusOr<audit::Hash> hash = audit::HashFromBytes(bytes);
    if (!hash.ok()) {
      return ReportError(absl::DataLossError("the daemon's receipt holds a malformed hash"));
    }
    receipt.inclusion_proof.push_back(*hash);
  }
  receipt.checkpoint_note = r.checkpoint().note();
  const std::string text = audit::RenderDeletionReceipt(receipt);
  std::fputs(text.c_str(), stdout);
  std::fflush(stdout);
  if (!c.output.empty()) {
    if (absl::Status written = WriteNewFile(c.output, text); !written.ok()) {
      return ReportError(written, kExitFailed);
    }
  }
  std::fprintf(stderr,
               "leadvaultctl: lead %s deleted (audit entry %llu); verify the receipt offline with: "
               "leadvaultctl receipt verify FILE --pubkey '%s'\n",
               r.lead_id().c_str(), static_cast<unsigned long long>(r.sequence()),
               r.verifier_key().c_str());
  return kExitOk;
}

int RunVerify(const RetentionCommands& c) {
  absl::StatusOr<audit::NoteVerifier> verifier = LoadVerifier(c.pubkey);
  if (!verifier.ok()) return ReportError(verifier.status(), kExitUsage);
  absl::StatusOr<std::string> text = ReadSmallFile(c.receipt_file);
  if (!text.ok()) return ReportError(text.status(), kExitFailed);
  absl::StatusOr<audit::DeletionReceipt> receipt = audit::ParseDeletionReceipt(*text);
  absl::StatusOr<audit::DeletionReceiptReport> report =
      receipt.ok() ? audit::VerifyDeletionReceipt(*receipt, *verifier) : receipt.status();
  if (!report.ok()) {
    std::fprintf(stderr, "leadvaultctl: deletion receipt FAILED: %s\n",
                 std::string(report.status().message()).c_str());
    if (c.json) {
      PrintJsonDocument({{"ok", false}, {"error", std::string(report.status().message())}});
    }
    return kExitFailed;
  }
  const audit::AuditEntry& e = report->entry;
  if (c.json) {
    PrintJsonDocument(
        {{"ok", true},
         {"lead_id", receipt->lead_id},
         {"sequence", e.sequence},
         {"action", e.action},
         {"principal_id", e.principal_id},
         {"role", e.role},
         {"time", absl::FormatTime(absl::RFC3339_full, e.time, absl::UTCTimeZone())},
         {"with_reason", !e.break_glass_reason.empty()},
         {"checkpoint",
          {{"origin", report->checkpoint.origin}, {"size", report->checkpoint.size}}}});
    return kExitOk;
  }
  std::printf(
      "OK: lead %s was purged: audit entry %llu, %s by principal %s (%s) at %s%s, included in "
      "checkpoint %s size %llu.\n"
      "Proven: the signed log records the purge of this lead, which the vault commits together "
      "with the deletion of every row the lead owned and of its data key. Not proven: when the "
      "deleted bytes left the disk (the next retention sweep compacts them away).\n",
      receipt->lead_id.c_str(), static_cast<unsigned long long>(e.sequence), e.action.c_str(),
      e.principal_id.c_str(), e.role.c_str(),
      absl::FormatTime(absl::RFC3339_full, e.time, absl::UTCTimeZone()).c_str(),
      e.break_glass_reason.empty() ? "" : ", with a written reason",
      report->checkpoint.origin.c_str(), static_cast<unsigned long long>(report->checkpoint.size));
  return kExitOk;
}

int RunHold(const Connection& connection, const RetentionCommands& c) {
  auto stub = v1::Retention::NewStub(connection.channel());
  grpc::ClientContext context;
  connection.Prepare(&context);
  grpc::Status status;
  if (c.hold_place->parsed() || c.hold_release->parsed()) {
    absl::StatusOr<std::string> reason = ReadReason(c.reason, c.reason_file);
    if (!reason.ok()) return ReportError(reason.status(), kExitUsage);
    if (c.hold_place->parsed()) {
      v1::PlaceLegalHoldRequest request;
      request.set_lead_id(c.lead_id);
      request.set_reason(*reason);
      v1::PlaceLegalHoldResponse response;
      status = stub->PlaceLegalHold(&context, request, &response);
      if (status.ok()) return PrintHoldResult(response, response.hold(), nullptr, c.json);
    } else {
      v1::ReleaseLegalHoldRequest request;
      request.set_lead_id(c.lead_id);
      request.set_hold_id(c.hold_id);
      request.set_reason(*reason);
      v1::ReleaseLegalHoldResponse response;
      status = stub->ReleaseLegalHold(&context, request, &response);
      if (status.ok()) return PrintHoldResult(response, response.hold(), "released:", c.json);
    }
    return status.ok() ? kExitOk : ReportRpcError(status, connection);
  }
  // Every page (one audited call per page).
  v1::ListLegalHoldsRequest request;
  request.set_lead_id(c.lead_id);
  request.set_page_size(200);
  int count = 0;
  nlohmann::ordered_json holds = nlohmann::ordered_json::array();
  for (bool first = true; first || !request.page_token().empty(); first = false) {
    grpc::ClientContext page_context;
    connection.Prepare(&page_context);
    v1::ListLegalHoldsResponse response;
    status = stub->ListLegalHolds(first ? &context : &page_context, request, &response);
    if (!status.ok()) return ReportRpcError(status, connection);
    for (const v1::LegalHold& h : response.holds()) {
      if (!c.json) {
        PrintHold(h);
        continue;
      }
      nlohmann::ordered_json hold;
      if (!MessageToJsonValue(h, &hold)) {
        return ReportError(absl::InternalError("cannot print a hold as JSON"));
      }
      holds.push_back(std::move(hold));
    }
    count += response.holds_size();
    request.set_page_token(response.next_page_token());
  }
  if (c.json) {
    PrintJsonDocument({{"holds", std::move(holds)}});
    return kExitOk;
  }
  std::printf("%d legal %s in place\n", count, count == 1 ? "hold" : "holds");
  return kExitOk;
}

// "[#########...........]  45%  4,500 of 10,000 due: 4,400 purged, 3 held"
void ShowProgress(const v1::SweepProgress& p, bool tty) {
  const uint64_t seen = p.purged() + p.renewed() + p.held();
  const uint64_t due = std::max(p.due(), seen);
  const int percent = due == 0 ? 100 : static_cast<int>(100 * seen / due);
  constexpr int kWidth = 30;
  std::string bar(kWidth * percent / 100, '#');
  bar.resize(kWidth, '.');
  std::fprintf(stderr, "%s[%s] %3d%%  %llu of %llu due: %llu %s, %llu held, %llu renewed%s",
               tty ? "\r" : "", bar.c_str(), percent, static_cast<unsigned long long>(seen),
               static_cast<unsigned long long>(due), static_cast<unsigned long long>(p.purged()),
               p.dry_run() ? "would go" : "purged", static_cast<unsigned long long>(p.held()),
               static_cast<unsigned long long>(p.renewed()), tty ? "" : "\n");
  std::fflush(stderr);
}

int RunSweep(const Connection& connection, const RetentionCommands& c) {
  v1::SweepRetentionRequest request;
  request.set_dry_run(c.dry_run);
  request.set_batch_size(c.batch);
  request.set_max_leads(c.max_leads);
  grpc::ClientContext context;
  connection.Prepare(&context);
  context.set_deadline(absl::ToChronoTime(absl::Now() + kSweepDeadline));
  std::unique_ptr<grpc::ClientReader<v1::SweepProgress>> reader =
      v1::Retention::NewStub(connection.channel())->SweepRetention(&context, request);
  const bool tty = !c.quiet && ::isatty(STDERR_FILENO) == 1;
  v1::SweepProgress message;
  std::optional<v1::SweepProgress> report;
  bool shown = false;
  while (reader->Read(&message)) {
    if (message.done()) {
      report = message;
      continue;
    }
    if (!c.quiet) {
      ShowProgress(message, tty);
      shown = true;
    }
  }
  grpc::Status status = reader->Finish();
  if (shown && tty) std::fputc('\n', stderr);
  if (!status.ok()) return ReportRpcError(status, connection);
  if (!report.has_value()) {
    return ReportError(absl::DataLossError("the sweep ended without its report"));
  }
  if (c.json) {
    return PrintJson(*report) ? kExitOk : ReportError(absl::InternalError("cannot print as JSON"));
  }
  const v1::SweepProgress& r = *report;
  std::printf(
      "%s as of %s: %llu %s, %llu renewed, %llu held%s\n", r.dry_run() ? "dry run" : "sweep",
      FormatMicros(r.as_of_unix_micros()).c_str(), static_cast<unsigned long long>(r.purged()),
      r.dry_run() ? "would be purged" : "purged", static_cast<unsigned long long>(r.renewed()),
      static_cast<unsigned long long>(r.held()), r.more() ? " (more are due: run it again)" : "");
  for (const v1::RetentionRuleCount& rule : r.per_rule()) {
    std::printf("  rule %s: %llu\n", rule.rule().c_str(),
                static_cast<unsigned long long>(rule.leads()));
  }
  if (r.dry_run()) {
    for (const v1::PurgedLead& lead : r.listed()) {
      std::printf("  %s  %s\n", lead.lead_id().c_str(), lead.rule().c_str());
    }
    if (static_cast<uint64_t>(r.listed_size()) < r.purged()) {
      std::printf("  (the first %d listed)\n", r.listed_size());
    }
  }
  if (r.table_bytes_before() != 0 || r.table_bytes_after() != 0) {
    std::printf("compacted: table files %llu -> %llu bytes (%llu deletion requests included)\n",
                static_cast<unsigned long long>(r.table_bytes_before()),
                static_cast<unsigned long long>(r.table_bytes_after()),
                static_cast<unsigned long long>(r.deletions_compacted()));
  }
  std::printf("audit entry %llu\n", static_cast<unsigned long long>(r.audit_sequence()));
  return kExitOk;
}

void PrintPolicy(const v1::RetentionPolicyInForce& p) {
  if (p.version() == 0) {
    std::printf("# version 0: the built-in policy (never set)\n");
  } else {
    std::printf("# version %llu, set %s by %s\n", static_cast<unsigned long long>(p.version()),
                FormatMicros(p.set_at_unix_micros()).c_str(), p.set_by().c_str());
  }
  std::string text;
  google::protobuf::TextFormat::PrintToString(p.policy(), &text);
  std::fputs(text.c_str(), stdout);
}

int RunPolicy(const Connection& connection, const RetentionCommands& c) {
  auto stub = v1::Retention::NewStub(connection.channel());
  grpc::ClientContext context;
  connection.Prepare(&context);
  if (c.policy_list->parsed()) {
    v1::GetRetentionPolicyResponse response;
    grpc::Status status = stub->GetRetentionPolicy(&context, {}, &response);
    if (!status.ok()) return ReportRpcError(status, connection);
    if (c.json) {
      return PrintJson(response) ? kExitOk
                                 : ReportError(absl::InternalError("cannot print as JSON"));
    }
    PrintPolicy(response.policy());
    return kExitOk;
  }
  absl::StatusOr<std::string> text = ReadSmallFile(c.policy_file);
  if (!text.ok()) return ReportError(text.status(), kExitUsage);
  v1::SetRetentionPolicyRequest request;
  if (!google::protobuf::TextFormat::ParseFromString(*text, request.mutable_policy())) {
    return ReportError(
        absl::InvalidArgumentError(absl::StrCat(
            c.policy_file, ": not a RetentionPolicy in protobuf text format (see README)")),
        kExitUsage);
  }
  v1::SetRetentionPolicyResponse response;
  grpc::Status status = stub->SetRetentionPolicy(&context, request, &response);
  if (!status.ok()) return ReportRpcError(status, connection);
  if (c.json) {
    if (!PrintJson(response)) return ReportError(absl::InternalError("cannot print as JSON"));
  } else {
    PrintPolicy(response.policy());
  }
  std::fprintf(stderr,
               "leadvaultctl: policy version %llu in force; the leads it affects are re-stamped "
               "in the background\n",
               static_cast<unsigned long long>(response.policy().version()));
  return kExitOk;
}

void AddReasonOptions(CLI::App* command, RetentionCommands& c, const char* what) {
  CLI::Option_group* why = command->add_option_group("reason", "exactly one of");
  why->add_option("--reason-file", c.reason_file,
                  absl::StrCat("file holding the reason ", what, ", or - for stdin"));
  why->add_option("--reason", c.reason, "the reason inline (visible in ps and shell history)");
  why->require_option(1);
}

}  // namespace

std::unique_ptr<RetentionCommands> AddRetentionCommands(CLI::App& app, CLI::App& lead) {
  auto c = std::make_unique<RetentionCommands>();
  c->lead_delete = lead.add_subcommand(
      "delete",
      "purge a lead now (data-subject request; intake in scope, or compliance) and print its "
      "deletion receipt");
  c->lead_delete->add_option("LEAD", c->lead_id, "lead id (32 hex)")->required();
  AddReasonOptions(c->lead_delete, *c, "(recorded in the audit entry and the receipt)");
  c->lead_delete->add_option("-o,--output", c->output, "also write the receipt to this new file");
  c->lead_delete->add_flag(
      "--json", c->json,
      "accepted for uniformity: the receipt printed is one JSON document with or without it "
      "(the file `receipt verify` reads)");

  CLI::App* receipt = app.add_subcommand("receipt", "deletion receipts");
  receipt->require_subcommand(1);
  c->receipt_verify =
      receipt->add_subcommand("verify", "verify a deletion receipt offline (no daemon, no token)");
  c->receipt_verify->add_option("FILE", c->receipt_file, "a deletion receipt (JSON)")->required();
  c->receipt_verify->add_option("--pubkey", c->pubkey, "verifier key, or a file holding it")
      ->required();
  c->receipt_verify->add_flag(
      "--json", c->json,
      "print {\"ok\", \"lead_id\", \"sequence\", \"action\", \"principal_id\", \"role\", "
      "\"time\", \"with_reason\", \"checkpoint\": {\"origin\", \"size\"}}; on failure "
      "{\"ok\": false, \"error\"} (exit 1)");

  CLI::App* hold = app.add_subcommand("hold", "legal holds (compliance): block every purge");
  hold->require_subcommand(1);
  c->hold_place = hold->add_subcommand("place", "put a lead under a legal hold");
  c->hold_place->add_option("LEAD", c->lead_id, "lead id (32 hex)")->required();
  AddReasonOptions(c->hold_place, *c, "(the matter; recorded in the audit entry)");
  c->hold_place->add_flag("--json", c->json, "print {\"hold\": {...}} (proto field names)");
  c->hold_release = hold->add_subcommand("release", "release a legal hold");
  c->hold_release->add_option("LEAD", c->lead_id, "lead id (32 hex)")->required();
  c->hold_release->add_option("HOLD_ID", c->hold_id, "hold id (16 hex)")->required();
  AddReasonOptions(c->hold_release, *c, "(recorded in the audit entry)");
  c->hold_release->add_flag("--json", c->json,
                            "print {\"hold\": {...}}, the released hold (proto field names)");
  c->hold_list = hold->add_subcommand("list", "list the legal holds in place");
  c->hold_list->add_option("--lead", c->lead_id, "only this lead's");
  c->hold_list->add_flag("--json", c->json,
                         "print {\"holds\": [...]}, every page (proto field names)");

  CLI::App* retention = app.add_subcommand("retention", "retention: sweeps (retention role)");
  retention->require_subcommand(1);
  c->sweep = retention->add_subcommand(
      "sweep", "purge the leads whose retention ended now, with a progress bar on stderr");
  c->sweep->add_flag("--dry-run", c->dry_run,
                     "list and count what would be purged; write nothing but the audit entry");
  c->sweep->add_option("--batch", c->batch, "leads per batch (1..4096; default: the daemon's)")
      ->check(CLI::Range(1, 4096));
  c->sweep->add_option("--max-leads", c->max_leads, "at most this many (default 1,000,000)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{10'000'000}));
  c->sweep->add_flag("--quiet", c->quiet, "no progress, only the report");
  c->sweep->add_flag("--json", c->json,
                     "print only the final report, as one JSON document (a SweepProgress with "
                     "done: proto field names); the progress bar stays on stderr (--quiet drops "
                     "it)");
  CLI::App* policy = retention->add_subcommand("policy", "the retention policy");
  policy->require_subcommand(1);
  c->policy_set = policy->add_subcommand(
      "set",
      "replace the policy (admin) from a file: a leadvault.v1.RetentionPolicy in "
      "protobuf text format");
  c->policy_set->add_option("FILE", c->policy_file, "the policy file")->required();
  c->policy_set->add_flag("--json", c->json,
                          "print {\"policy\": {...}}, the policy now in force (proto field names)");
  c->policy_list =
      policy->add_subcommand("list", "print the policy in force (admin, compliance, retention)");
  c->policy_list->add_flag("--json", c->json,
                           "print {\"policy\": {...}} as JSON instead of protobuf text format "
                           "(proto field names)");
  return c;
}

std::optional<int> RunRetentionCommand(const RetentionCommands& c, const ConnectionFlags& flags) {
  if (c.receipt_verify->parsed()) return RunVerify(c);
  if (c.lead_delete->parsed()) {
    return WithConnection(flags,
                          [&](const Connection& connection) { return RunDelete(connection, c); });
  }
  if (c.hold_place->parsed() || c.hold_release->parsed() || c.hold_list->parsed()) {
    return WithConnection(flags,
                          [&](const Connection& connection) { return RunHold(connection, c); });
  }
  if (c.policy_set->parsed() || c.policy_list->parsed()) {
    return WithConnection(flags,
                          [&](const Connection& connection) { return RunPolicy(connection, c); });
  }
  if (c.sweep->parsed()) {
    return WithConnection(flags,
                          [&](const Connection& connection) { return RunSweep(connection, c); });
  }
  return std::nullopt;
}

}  // namespace leadvault::tools
