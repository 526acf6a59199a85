#include "tools/ctl_lead_work.h"

#include <cstdio>
#include <iostream>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "keys/secret_bytes.h"
#include "leadvault/v1/leadvault.grpc.pb.h"
#include "tools/ctl_files.h"
#include "tools/ctl_print.h"

namespace leadvault::tools {
namespace {

namespace v1 = ::leadvault::v1;

constexpr char kStatuses[] =
    "new, contacted, qualified, scheduled, showed, closed_lost or disqualified";

// "closed_lost" -> LEAD_STATUS_CLOSED_LOST; a usage error naming the choices.
absl::StatusOr<v1::LeadStatus> ParseStatus(const std::string& name) {
  v1::LeadStatus status = v1::LEAD_STATUS_UNSPECIFIED;
  if (!v1::LeadStatus_Parse("LEAD_STATUS_" + absl::AsciiStrToUpper(name), &status) ||
      status == v1::LEAD_STATUS_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrCat("--status: one of ", kStatuses));
  }
  return status;
}

// "phone:no_answer" -> a contact attempt now, for `purpose`.
absl::StatusOr<v1::ContactAttempt> ParseAttempt(const std::string& spec, v1::ConsentPurpose purpose,
                                                bool automated) {
  std::vector<std::string> parts = absl::StrSplit(spec, ':');
  v1::ContactAttempt attempt;
  v1::ContactChannel channel = v1::CONTACT_CHANNEL_UNSPECIFIED;
  v1::ContactOutcome outcome = v1::CONTACT_OUTCOME_UNSPECIFIED;
  if (parts.size() != 2 ||
      !v1::ContactChannel_Parse("CONTACT_CHANNEL_" + absl::AsciiStrToUpper(parts[0]), &channel) ||
      !v1::ContactOutcome_Parse("CONTACT_OUTCOME_" + absl::AsciiStrToUpper(parts[1]), &outcome) ||
      channel == v1::CONTACT_CHANNEL_UNSPECIFIED || outcome == v1::CONTACT_OUTCOME_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        "--attempt: CHANNEL:OUTCOME, channel phone, sms, email or mail; outcome connected, "
        "voicemail, no_answer, wrong_number, bounced, replied or declined");
  }
  attempt.set_channel(channel);
  attempt.set_outcome(outcome);
  attempt.set_purpose(purpose);
  attempt.set_automated(automated);
  attempt.set_at_unix_micros(absl::ToUnixMicros(absl::Now()));
  return attempt;
}

// "3d4h", "2h13m", "45m", "30s": how long a lead has waited.
std::string Waited(int64_t since_micros, absl::Time now) {
  if (since_micros == 0) return "-";
  int64_t seconds = absl::ToInt64Seconds(now - absl::FromUnixMicros(since_micros));
  if (seconds < 0) seconds = 0;
  if (seconds < 60) return absl::StrCat(seconds, "s");
  if (seconds < 3600) return absl::StrCat(seconds / 60, "m");
  if (seconds < 86400) return absl::StrCat(seconds / 3600, "h", (seconds % 3600) / 60, "m");
  return absl::StrCat(seconds / 86400, "d", (seconds % 86400) / 3600, "h");
}

void PrintQueue(const google::protobuf::RepeatedPtrField<v1::LeadMetadata>& leads, bool header) {
  const absl::Time now = absl::Now();
  std::vector<std::vector<std::string>> rows;
  if (header) {
    rows.push_back({"LEAD_ID", "STATUS", "VERSION", "CREATED", "WAITING", "SOURCE", "CAMPAIGN",
                    "ATTEMPTS", "LAST_ATTEMPT"});
  }
  for (const v1::LeadMetadata& m : leads) {
    const int attempts = m.contact_attempts_size();
    std::string last = "-";
    if (attempts > 0) {
      const v1::ContactAttempt& a = m.contact_attempts(attempts - 1);
      last =
          absl::StrCat(FormatMicros(a.at_unix_micros()), " ",
                       ShortEnumName(v1::ContactChannel_Name(a.channel()), "CONTACT_CHANNEL_"), ":",
                       ShortEnumName(v1::ContactOutcome_Name(a.outcome()), "CONTACT_OUTCOME_"));
    }
    rows.push_back(
        {m.lead_id(), ShortEnumName(v1::LeadStatus_Name(m.status()), "LEAD_STATUS_"),
         absl::StrCat(m.version()), FormatMicros(m.created_at_unix_micros()),
         Waited(m.created_at_unix_micros(), now),
         ShortEnumName(v1::SourceChannel_Name(m.attribution().source()), "SOURCE_CHANNEL_"),
         m.attribution().campaign().empty() ? "-" : m.attribution().campaign(),
         absl::StrCat(attempts), last});
  }
  PrintTable(rows);
}

int RunQueue(const LeadWorkCommands& c, const Connection& connection) {
  v1::ListQueueRequest request;
  request.set_service_line(c.service_line);
  request.set_page_size(c.page_size);
  request.set_page_token(c.page_token);
  absl::StatusOr<v1::LeadStatus> status = ParseStatus(c.status);
  if (!status.ok()) return ReportError(status.status(), kExitUsage);
  request.set_status(*status);
  auto stub = v1::LeadVault::NewStub(connection.channel());
  // --json: one document, {"leads": [...]} (with "next_page_token" when more
  // wait and --all is not given), written lead by lead as the pages arrive,
  // so memory stays one page however long the queue.
  google::protobuf::util::JsonPrintOptions compact;
  compact.preserve_proto_field_names = true;
  if (c.json) std::cout << "{\"leads\": [";
  bool first_lead = true;
  std::string more;  // the next page's token when --all is not given
  uint64_t listed = 0;
  for (int page = 0;; ++page) {
    v1::ListQueueResponse response;
    grpc::ClientContext context;
    connection.Prepare(&context);
    grpc::Status called = stub->ListQueue(&context, request, &response);
    if (!called.ok()) return ReportRpcError(called, connection);
    listed += static_cast<uint64_t>(response.leads_size());
    if (c.json) {
      for (const v1::LeadMetadata& m : response.leads()) {
        std::string line;
        if (!google::protobuf::util::MessageToJsonString(m, &line, compact).ok()) {
          return ReportError(absl::InternalError("cannot print a lead as JSON"));
        }
        std::cout << (first_lead ? "\n  " : ",\n  ") << line;
        first_lead = false;
      }
    } else {
      PrintQueue(response.leads(), page == 0);
    }
    const std::string& token = response.next_page_token();
    if (token.empty()) break;
    if (!absl::c_all_of(token, [](char ch) {
          return absl::ascii_isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_';
        })) {
      return ReportError(absl::DataLossError("the server's page token is not base64url"));
    }
    if (!c.all_pages) {
      more = token;
      break;
    }
    request.set_page_token(token);
  }
  if (c.json) {
    std::cout << "\n]";
    if (!more.empty()) std::cout << ", \"next_page_token\": \"" << more << "\"";
    std::cout << "}\n" << std::flush;
  } else {
    if (!more.empty()) {
      std::fprintf(stderr, "leadvaultctl: more leads wait: --page-token %s (or --all)\n",
                   more.c_str());
    }
    std::fprintf(stderr, "leadvaultctl: %llu leads\n", static_cast<unsigned long long>(listed));
  }
  return kExitOk;
}

int RunUpdate(const LeadWorkCommands& c, const Connection& connection) {
  v1::UpdateLeadRequest request;
  request.set_lead_id(c.lead_id);
  request.set_expected_version(c.expected_version);
  if (!c.new_status.empty()) {
    absl::StatusOr<v1::LeadStatus> status = ParseStatus(c.new_status);
    if (!status.ok()) return ReportError(status.status(), kExitUsage);
    request.set_status(*status);
  }
  v1::ConsentPurpose purpose = v1::CONSENT_PURPOSE_UNSPECIFIED;
  if (!v1::ConsentPurpose_Parse("CONSENT_PURPOSE_" + absl::AsciiStrToUpper(c.attempt_purpose),
                                &purpose) ||
      purpose == v1::CONSENT_PURPOSE_UNSPECIFIED ||
      purpose == v1::CONSENT_PURPOSE_THIRD_PARTY_SHARING) {
    return ReportError(absl::InvalidArgumentError(
                           "--attempt-purpose: scheduling, treatment_follow_up or marketing"),
                       kExitUsage);
  }
  for (const std::string& spec : c.attempts) {
    absl::StatusOr<v1::ContactAttempt> attempt = ParseAttempt(spec, purpose, c.automated);
    if (!attempt.ok()) return ReportError(attempt.status(), kExitUsage);
    *request.add_add_contact_attempts() = *std::move(attempt);
  }
  if (c.new_status.empty() && c.attempts.empty()) {
    return ReportError(absl::InvalidArgumentError("give --status, --attempt or both"), kExitUsage);
  }
  v1::UpdateLeadResponse response;
  grpc::ClientContext context;
  connection.Prepare(&context);
  grpc::Status status =
      v1::LeadVault::NewStub(connection.channel())->UpdateLead(&context, request, &response);
  if (status.error_code() == grpc::StatusCode::ABORTED) {
    std::fprintf(stderr,
                 "leadvaultctl: the lead changed since version %llu was read: list the queue "
                 "again for its version, then retry\n",
                 static_cast<unsigned long long>(c.expected_version));
  }
  if (!status.ok()) return ReportRpcError(status, connection);
  if (c.json) {
    if (!PrintJson(response.metadata())) return ReportError(absl::InternalError("cannot print"));
  } else {
    PrintLeadMetadata(response.metadata());
  }
  return kExitOk;
}

absl::StatusOr<v1::PurposeOfUse> ParsePurposeOfUse(const std::string& name) {
  v1::PurposeOfUse purpose = v1::PURPOSE_OF_USE_UNSPECIFIED;
  if (!v1::PurposeOfUse_Parse("PURPOSE_OF_USE_" + absl::AsciiStrToUpper(name), &purpose) ||
      purpose == v1::PURPOSE_OF_USE_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        "--purpose: treatment, payment, operations, patient_request or scheduling_outreach");
  }
  return purpose;
}

// "last_name" -> PERSONAL_FIELD_LAST_NAME.
std::string FieldName(v1::PersonalField field) {
  return absl::AsciiStrToLower(
      absl::string_view(v1::PersonalField_Name(field)).substr(sizeof("PERSONAL_FIELD_") - 1));
}

int RunAmend(const LeadWorkCommands& c, const Connection& connection) {
  v1::AmendLeadRequest request;
  request.set_lead_id(c.lead_id);
  request.set_expected_version(c.expected_version);
  absl::StatusOr<v1::PurposeOfUse> purpose = ParsePurposeOfUse(c.purpose);
  if (!purpose.ok()) return ReportError(purpose.status(), kExitUsage);
  request.set_purpose(*purpose);
  absl::StatusOr<std::string> reason = ReadReason(c.reason, c.reason_file);
  if (!reason.ok()) return ReportError(reason.status(), kExitUsage);
  request.set_reason(*std::move(reason));
  if (!c.values_file.empty()) {
    absl::StatusOr<std::string> json = ReadSmallFile(c.values_file);
    if (!json.ok()) return ReportError(json.status(), kExitUsage);
    auto parsed = google::protobuf::util::JsonStringToMessage(*json, request.mutable_personal());
    keys::WipeString(*json);
    if (!parsed.ok()) {
      // The first line names the problem; later ones may quote the input (PII).
      std::string detail(parsed.message());
      return ReportError(absl::InvalidArgumentError(absl::StrCat(
                             "--values-file: not a PersonalData JSON object ({\"email\": ...}): ",
                             detail.substr(0, detail.find('\n')))),
                         kExitUsage);
    }
  }
  for (const std::string& name : c.clear) {
    v1::PersonalField field = v1::PERSONAL_FIELD_UNSPECIFIED;
    if (!v1::PersonalField_Parse("PERSONAL_FIELD_" + absl::AsciiStrToUpper(name), &field) ||
        field == v1::PERSONAL_FIELD_UNSPECIFIED) {
      return ReportError(absl::InvalidArgumentError(absl::StrCat(
                             "--clear: not a personal field (first_name, last_name, email, phone, "
                             "date_of_birth, street_address, city, state, postal_code, "
                             "condition_interest, notes)")),
                         kExitUsage);
    }
    request.add_clear(field);
  }
  if (c.values_file.empty() && c.clear.empty()) {
    return ReportError(absl::InvalidArgumentError("give --values-file, --clear or both"),
                       kExitUsage);
  }
  v1::AmendLeadResponse response;
  grpc::ClientContext context;
  connection.Prepare(&context);
  grpc::Status status =
      v1::LeadVault::NewStub(connection.channel())->AmendLead(&context, request, &response);
  keys::WipeString(*request.mutable_reason());
  if (status.error_code() == grpc::StatusCode::ABORTED) {
    std::fprintf(stderr,
                 "leadvaultctl: the lead changed since version %llu was read: read it again "
                 "(lead get) for its version, then retry\n",
                 static_cast<unsigned long long>(c.expected_version));
  }
  if (!status.ok()) return ReportRpcError(status, connection);
  if (c.json) {
    if (!PrintJson(response)) return ReportError(absl::InternalError("cannot print"));
    return kExitOk;
  }
  std::vector<std::string> amended;
  for (int f : response.amended()) amended.push_back(FieldName(static_cast<v1::PersonalField>(f)));
  PrintField("amendment", absl::StrCat(response.amendment_number()));
  PrintField("amended", absl::StrJoin(amended, ", "));
  PrintLeadMetadata(response.metadata());
  return kExitOk;
}

int RunHistory(const LeadWorkCommands& c, const Connection& connection) {
  v1::ListAmendmentsRequest request;
  request.set_lead_id(c.lead_id);
  absl::StatusOr<v1::PurposeOfUse> purpose = ParsePurposeOfUse(c.purpose);
  if (!purpose.ok()) return ReportError(purpose.status(), kExitUsage);
  request.set_purpose(*purpose);
  request.set_page_token(c.page_token);
  auto stub = v1::LeadVault::NewStub(connection.channel());
  bool first = true;
  if (c.json) std::cout << "{\"amendments\": [";
  while (true) {
    v1::ListAmendmentsResponse response;
    grpc::ClientContext context;
    connection.Prepare(&context);
    grpc::Status status = stub->ListAmendments(&context, request, &response);
    if (!status.ok()) return ReportRpcError(status, connection);
    const std::string& token = response.next_page_token();
    if (!absl::c_all_of(token, [](char ch) {
          return absl::ascii_isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_';
        })) {
      return ReportError(absl::DataLossError("the server's page token is not base64url"));
    }
    for (const v1::Amendment& a : response.amendments()) {
      if (c.json) {
        google::protobuf::util::JsonPrintOptions compact;
        compact.preserve_proto_field_names = true;
        std::string line;
        if (!google::protobuf::util::MessageToJsonString(a, &line, compact).ok()) {
          return ReportError(absl::InternalError("cannot print an amendment as JSON"));
        }
        std::cout << (first ? "\n  " : ",\n  ") << line;
        keys::WipeString(line);
      } else {
        std::printf("%samendment %u  %s  by %s  version %llu  purpose %s\n", first ? "" : "\n",
                    a.number(), FormatMicros(a.at_unix_micros()).c_str(), a.principal_id().c_str(),
                    static_cast<unsigned long long>(a.version()),
                    ShortEnumName(v1::PurposeOfUse_Name(a.purpose()), "PURPOSE_OF_USE_").c_str());
        PrintField("  reason", a.reason());
        for (const v1::AmendedField& f : a.changes()) {
          const std::string shown = f.hidden()             ? "(hidden)"
                                    : f.previous().empty() ? "(none)"
                                    : f.masked()           ? f.previous() + " (masked)"
                                                           : f.previous();
          PrintField(absl::StrCat("  ", FieldName(f.field()), f.cleared() ? " (cleared)" : ""),
                     absl::StrCat("was ", shown));
        }
      }
      first = false;
    }
    if (response.next_page_token().empty() || !c.all_pages) {
      if (c.json) {
        std::cout << "\n]";
        if (!token.empty()) std::cout << ", \"next_page_token\": \"" << token << "\"";
        std::cout << "}\n" << std::flush;
      } else if (!response.next_page_token().empty()) {
        std::printf("\nmore: --page-token %s\n", response.next_page_token().c_str());
      } else if (first) {
        std::printf("no amendments\n");
      }
      return kExitOk;
    }
    request.set_page_token(response.next_page_token());
  }
}

}  // namespace

std::unique_ptr<LeadWorkCommands> AddLeadWorkCommands(CLI::App& lead) {
  auto c = std::make_unique<LeadWorkCommands>();
  c->queue = lead.add_subcommand(
      "queue",
      "an intake queue, oldest first: id, status, version, wait, source, campaign and contact "
      "attempts (no personal data; intake)");
  c->queue->add_option("--service-line", c->service_line, "the queue's service line")->required();
  c->queue->add_option("--status", c->status, absl::StrCat("the leads in this status: ", kStatuses))
      ->capture_default_str();
  c->queue->add_option("--page-size", c->page_size, "leads per page (1..500)")
      ->check(CLI::Range(1, 500))
      ->capture_default_str();
  c->queue->add_option("--page-token", c->page_token, "go on from a page a previous call named");
  c->queue->add_flag("--all", c->all_pages, "every page, not only the first");
  c->queue->add_flag("--json", c->json, "print JSON (proto field names)");

  c->update = lead.add_subcommand(
      "update", "change a lead's status and record contact attempts (intake; no personal data)");
  c->update->add_option("LEAD_ID", c->lead_id, "lead id")->required();
  c->update
      ->add_option("--expected-version", c->expected_version,
                   "the version read (lead queue or lead get); a stale one is refused")
      ->required();
  c->update->add_option(
      "--status", c->new_status,
      absl::StrCat("the new status (along the allowed transitions): ", kStatuses));
  c->update->add_option("--attempt", c->attempts,
                        "a contact attempt made now, CHANNEL:OUTCOME, e.g. phone:no_answer "
                        "(repeatable; refused without active consent)");
  c->update
      ->add_option("--attempt-purpose", c->attempt_purpose,
                   "the attempts' purpose: scheduling, treatment_follow_up or marketing")
      ->capture_default_str();
  c->update->add_flag("--automated", c->automated,
                      "the attempts were autodialed or prerecorded calls");
  c->update->add_flag("--json", c->json, "print JSON (proto field names)");

  c->amend = lead.add_subcommand(
      "amend",
      "correct a lead's personal data (HIPAA 164.526; intake): the previous values are kept, "
      "encrypted, in the lead's history");
  c->amend->add_option("LEAD_ID", c->lead_id, "lead id")->required();
  c->amend
      ->add_option("--expected-version", c->expected_version,
                   "the version read (lead get); a stale one is refused")
      ->required();
  c->amend->add_option("--purpose", c->purpose, "patient_request or operations")->required();
  c->amend->add_option("--values-file", c->values_file,
                       "the corrected values as a PersonalData JSON object, e.g. "
                       "{\"email\": \"...\", \"last_name\": \"...\"} (off the command line)");
  c->amend->add_option("--clear", c->clear, "a field to remove (repeatable), e.g. notes");
  auto* why = c->amend->add_option_group("reason", "why (10..1000 characters)");
  why->add_option("--reason-file", c->reason_file, "the reason, from a file ('-': stdin)");
  why->add_option("--reason", c->reason, "the reason, inline");
  why->require_option(1);
  c->amend->add_flag("--json", c->json, "print JSON (proto field names)");

  c->history = lead.add_subcommand(
      "history",
      "a lead's amendments, newest first, with the previous values as your roles see them "
      "(intake, compliance)");
  c->history->add_option("LEAD_ID", c->lead_id, "lead id")->required();
  c->history->add_option("--purpose", c->purpose, "purpose of use, e.g. operations")->required();
  c->history->add_option("--page-token", c->page_token, "go on from a page a previous call named");
  c->history->add_flag("--all", c->all_pages, "every page, not only the first");
  c->history->add_flag("--json", c->json, "print JSON (proto field names)");
  return c;
}

std::optional<int> RunLeadWorkCommand(const LeadWorkCommands& c, const ConnectionFlags& flags) {
  if (c.queue->parsed()) {
    return WithConnection(flags,
                          [&c](const Connection& connection) { return RunQueue(c, connection); });
  }
  if (c.update->parsed()) {
    return WithConnection(flags,
                          [&c](const Connection& connection) { return RunUpdate(c, connection); });
  }
  if (c.amend->parsed()) {
    return WithConnection(flags,
                          [&c](const Connection& connection) { return RunAmend(c, connection); });
  }
  if (c.history->parsed()) {
    return WithConnection(flags,
                          [&c](const Connection& connection) { return RunHistory(c, connection); });
  }
  return std::nullopt;
}

}  // namespace leadvault::tools
