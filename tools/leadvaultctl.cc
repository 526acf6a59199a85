// leadvaultctl: the command-line client of leadvaultd.
//
// Exit codes: 0 success; 1 the call or the operation failed (the gRPC code name
// and message go to stderr); 2 usage, including a missing or refused token.
// A token is printed only where one is issued (init, principal create/rotate).
// Every command that prints a result takes --json: one JSON document on
// stdout instead of the text; its --help names the document's members, and
// tools/ctl_print.h states how replies map to JSON.

#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "api/tls.h"
#include "api/version.h"
#include "google/protobuf/util/json_util.h"
#include "keys/random.h"
#include "keys/secret_bytes.h"
#include "leadvault/v1/leadvault.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tools/ctl_audit.h"
#include "tools/ctl_backup.h"
#include "tools/ctl_check.h"
#include "tools/ctl_completion.h"
#include "tools/ctl_connection.h"
#include "tools/ctl_consent.h"
#include "tools/ctl_db.h"
#include "tools/ctl_emergency.h"
#include "tools/ctl_files.h"
#include "tools/ctl_funnel.h"
#include "tools/ctl_init.h"
#include "tools/ctl_keys.h"
#include "tools/ctl_lead_work.h"
#include "tools/ctl_print.h"
#include "tools/ctl_report.h"
#include "tools/ctl_retention.h"
#include "tools/ctl_webhook.h"
#include "vault/principal_store.h"

namespace leadvault::tools {
namespace {

namespace v1 = ::leadvault::v1;
using google::protobuf::Message;

constexpr size_t kMaxJsonSize = 1 << 20;
constexpr int64_t kSecondsPerDay = 24 * 60 * 60;
constexpr char kJsonHelp[] = "print one JSON document (proto field names) instead of the table";

void PrintPrincipal(const v1::Principal& principal) {
  PrintField("principal_id", principal.principal_id());
  PrintField("name", principal.display_name());
  PrintField("roles", JoinOrDash(principal.roles()));
  PrintField("service_lines", JoinOrDash(principal.service_lines()));
  PrintField("enabled", principal.enabled() ? "true" : "false");
  PrintField("client_cert_sha256",
             principal.client_cert_sha256().empty() ? "-" : principal.client_cert_sha256());
  PrintField("created", FormatMicros(principal.created_at_unix_micros()));
  PrintField("expires", FormatMicros(principal.expires_at_unix_micros()));
}

// Prints `principal` and hands over its freshly issued token: into the new
// file `token_out` (mode 0600; never an existing one) when given, else on
// stdout once. With `json`, one document: {"principal": {...}} with "token"
// (stdout) or "token_file" (--token-out). The response's copy is wiped
// afterwards.
int PrintIssued(const v1::Principal& principal, std::string* token, const std::string& token_out,
                bool json) {
  absl::Cleanup wipe = [token] { keys::WipeString(*token); };
  absl::Status stored = absl::OkStatus();
  if (!token_out.empty()) {
    std::string line = absl::StrCat(*token, "\n");
    stored = WriteNewFile(token_out, line);
    keys::WipeString(line);
  }
  if (json) {
    nlohmann::ordered_json doc = nlohmann::ordered_json::object();
    if (!MessageToJsonValue(principal, &doc["principal"])) {
      return ReportError(absl::InternalError("cannot print the principal as JSON"));
    }
    if (token_out.empty()) {
      doc["token"] = *token;
    } else if (stored.ok()) {
      doc["token_file"] = token_out;
    }
    PrintJsonDocument(doc);
    if (doc.contains("token")) keys::WipeString(doc["token"].get_ref<std::string&>());
  } else {
    PrintPrincipal(principal);
  }
  if (!stored.ok()) {
    // The principal exists; its token is lost with this reply.
    ReportError(stored);
    std::cerr << "leadvaultctl: the token could not be stored and is not shown; issue a new "
                 "one with `principal rotate ID --token-out FILE`\n";
    return kExitFailed;
  }
  if (!token_out.empty()) {
    if (!json) PrintField("token", absl::StrCat("in ", token_out, " (mode 0600)"));
    return kExitOk;
  }
  if (!json) std::cout << "token: " << *token << std::endl;
  std::cerr << "leadvaultctl: the token is shown once and cannot be recovered; store it now "
               "(--token-out FILE writes it to a new 0600 file instead)\n";
  return kExitOk;
}

// `response` as one JSON document (--json) or `principal` as `name: value` lines.
int PrintPrincipalResult(const Message& response, const v1::Principal& principal, bool json) {
  if (!json) {
    PrintPrincipal(principal);
    return kExitOk;
  }
  return PrintJson(response) ? kExitOk : ReportError(absl::InternalError("cannot print as JSON"));
}

// ---- Commands ----------------------------------------------------------------

int RunInit(const InitFlags& flags, bool json) {
  // The process holds the master key: no core file may capture it.
  struct rlimit none = {0, 0};
  ::setrlimit(RLIMIT_CORE, &none);
  ::umask(077);
  absl::StatusOr<vault::IssuedToken> issued = InitDataDir(flags);
  if (!issued.ok()) return ReportError(issued.status());
  const std::string key_file =
      flags.key_file.empty() ? flags.data_dir + "/master.key" : flags.key_file;
  if (json) {
    nlohmann::ordered_json doc = {{"data_dir", flags.data_dir},
                                  {"key_file", key_file},
                                  {"principal_id", issued->principal.id},
                                  {"token", std::string(issued->token.view())}};
    PrintJsonDocument(doc);
    keys::WipeString(doc["token"].get_ref<std::string&>());
    return kExitOk;
  }
  std::cout << "initialized " << flags.data_dir << " (master key file " << key_file << ")\n"
            << "admin principal: " << issued->principal.id << "\n\n"
            << "This is the admin token, shown ONCE. Keep it safe.\n\n"
            << "  export LEADVAULT_TOKEN=" << issued->token.view() << "\n\n"
            << "Start the daemon on it:\n\n  leadvaultd --data-dir " << flags.data_dir
            << (flags.key_file.empty() ? "" : " --key-file " + flags.key_file) << "\n"
            << std::flush;
  return kExitOk;
}

struct PrincipalCreateFlags {
  std::string name;
  std::vector<std::string> roles;
  std::vector<std::string> service_lines;
  int64_t ttl_days = 0;
  std::string client_cert_file;    // PEM; its fingerprint binds the principal
  std::string client_cert_sha256;  // or the fingerprint itself
  std::string token_out;           // a new file for the token, instead of stdout
  bool json = false;
};

// The fingerprint of the first certificate in the PEM file `path`.
absl::StatusOr<std::string> FileCertificateSha256(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat("--client-cert ", path, ": cannot be read"));
  }
  std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  absl::StatusOr<std::string> sha256 = api::CertificateSha256Hex(pem);
  if (!sha256.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--client-cert ", path, ": holds no PEM certificate"));
  }
  return sha256;
}

int RunPrincipalCreate(const Connection& connection, const PrincipalCreateFlags& flags) {
  v1::CreatePrincipalRequest request;
  if (!flags.client_cert_file.empty()) {
    absl::StatusOr<std::string> sha256 = FileCertificateSha256(flags.client_cert_file);
    if (!sha256.ok()) return ReportError(sha256.status(), kExitUsage);
    request.set_client_cert_sha256(*sha256);
  } else {
    request.set_client_cert_sha256(absl::AsciiStrToLower(flags.client_cert_sha256));
  }
  request.set_display_name(flags.name);
  for (const std::string& role : flags.roles) request.add_roles(role);
  for (const std::string& line : flags.service_lines) request.add_service_lines(line);
  request.set_token_ttl_seconds(flags.ttl_days * kSecondsPerDay);
  v1::CreatePrincipalResponse response;
  grpc::ClientContext context;
  connection.Prepare(&context);
  grpc::Status status =
      v1::Admin::NewStub(connection.channel())->CreatePrincipal(&context, request, &response);
  if (!status.ok()) return ReportRpcError(status, connection);
  return PrintIssued(response.principal(), response.mutable_token(), flags.token_out, flags.json);
}

int RunPrincipalList(const Connection& connection, bool json) {
  // Every page (one call, and one audit entry, per page).
  v1::ListPrincipalsResponse response;
  v1::ListPrincipalsRequest request;
  for (bool first = true; first || !request.page_token().empty(); first = false) {
    grpc::ClientContext context;
    connection.Prepare(&context);
    v1::ListPrincipalsResponse page;
    grpc::Status status =
        v1::Admin::NewStub(connection.channel())->ListPrincipals(&context, request, &page);
    if (!status.ok()) return ReportRpcError(status, connection);
    for (v1::Principal& p : *page.mutable_principals()) *response.add_principals() = std::move(p);
    request.set_page_token(page.next_page_token());
  }
  if (json) {
    nlohmann::ordered_json doc = {{"principals", nlohmann::ordered_json::array()}};
    for (const v1::Principal& p : response.principals()) {
      nlohmann::ordered_json item;
      if (!MessageToJsonValue(p, &item)) {
        return ReportError(absl::InternalError("cannot print a principal as JSON"));
      }
      doc["principals"].push_back(std::move(item));
    }
    PrintJsonDocument(doc);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"ID", "NAME", "ROLES", "SERVICE_LINES", "ENABLED", "EXPIRES", "CLIENT_CERT_SHA256"}};
  for (const v1::Principal& p : response.principals()) {
    rows.push_back({p.principal_id(), p.display_name(), JoinOrDash(p.roles()),
                    JoinOrDash(p.service_lines()), p.enabled() ? "yes" : "no",
                    FormatMicros(p.expires_at_unix_micros()),
                    p.client_cert_sha256().empty() ? "-" : p.client_cert_sha256()});
  }
  PrintTable(rows);
  return kExitOk;
}

int RunPrincipalDisable(const Connection& connection, const std::string& principal_id, bool json) {
  v1::DisablePrincipalRequest request;
  request.set_principal_id(principal_id);
  v1::DisablePrincipalResponse response;
  grpc::ClientContext context;
  connection.Prepare(&context);
  grpc::Status status =
      v1::Admin::NewStub(connection.channel())->DisablePrincipal(&context, request, &response);
  if (!status.ok()) return ReportRpcError(status, connection);
  return PrintPrincipalResult(response, response.principal(), json);
}

int RunPrincipalRotate(const Connection& connection, const std::string& principal_id,
                       int64_t ttl_days, int64_t grace_minutes, const std::string& token_out,
                       bool json) {
  v1::RotateTokenRequest request;
  request.set_principal_id(principal_id);
  request.set_token_ttl_seconds(ttl_days * kSecondsPerDay);
  request.set_grace_seconds(grace_minutes * 60);
  v1::RotateTokenResponse response;
  grpc::ClientContext context;
  connection.Prepare(&context);
  grpc::Status status =
      v1::Admin::NewStub(connection.channel())->RotateToken(&context, request, &response);
  if (!status.ok()) return ReportRpcError(status, connection);
  return PrintIssued(response.principal(), response.mutable_token(), token_out, json);
}

// A `lead create` flag that sets one string field of PersonalData or Attribution.
struct LeadFieldFlag {
  const char* flag;
  const char* field;
  bool personal;  // PersonalData (else Attribution)
  const char* help;
};

constexpr LeadFieldFlag kLeadFieldFlags[] = {
    {"--service-line", "service_line", false, "service line (required; lower-case [a-z0-9_-])"},
    {"--first-name", "first_name", true, "first name"},
    {"--last-name", "last_name", true, "last name"},
    {"--email", "email", true, "email address"},
    {"--phone", "phone", true, "phone number"},
    {"--dob", "date_of_birth", true, "date of birth, YYYY-MM-DD or MM/DD/YYYY"},
    {"--street", "street_address", true, "street address"},
    {"--city", "city", true, "city"},
    {"--state", "state", true, "two-letter USPS state code"},
    {"--postal-code", "postal_code", true, "ZIP or ZIP+4"},
    {"--condition", "condition_interest", true, "condition of interest (PHI)"},
    {"--notes", "notes", true, "free-text notes (PHI)"},
    {"--campaign", "campaign", false, "campaign name"},
    {"--landing-page", "landing_page", false, "landing page URL"},
};
constexpr size_t kLeadFieldFlagCount = std::size(kLeadFieldFlags);

const std::vector<std::string> kSourceNames = {"web_form", "paid_search", "paid_social", "referral",
                                               "event",    "phone_call",  "other"};

struct LeadCreateFlags {
  std::string from_json;
  std::string idempotency_key;
  std::string source = "web_form";
  bool source_given = false;
  std::string values[kLeadFieldFlagCount];
  bool json = false;
};

// Reads all of `path` ("-": stdin), at most kMaxJsonSize bytes.
absl::StatusOr<std::string> ReadInput(const std::string& path) {
  std::string contents;
  if (path == "-") {
    contents.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::NotFoundError(absl::StrCat("--from-json: cannot open ", path));
    contents.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (in.bad()) return absl::DataLossError(absl::StrCat("--from-json: cannot read ", path));
  }
  if (contents.size() > kMaxJsonSize) {
    keys::WipeString(contents);
    return absl::InvalidArgumentError("--from-json: input larger than 1 MiB");
  }
  return contents;
}

// Builds the request: the JSON (if any) first, then the flags given on top.
absl::StatusOr<v1::CreateLeadRequest> BuildCreateLeadRequest(const LeadCreateFlags& flags) {
  v1::CreateLeadRequest request;
  if (!flags.from_json.empty()) {
    absl::StatusOr<std::string> json = ReadInput(flags.from_json);
    if (!json.ok()) return json.status();
    auto parsed = google::protobuf::util::JsonStringToMessage(*json, &request);
    keys::WipeString(*json);
    if (!parsed.ok()) {
      // The parser's first line names the problem; later lines may quote the input (PII).
      std::string detail = std::string(parsed.message());
      detail = detail.substr(0, detail.find('\n'));
      return absl::InvalidArgumentError(
          absl::StrCat("--from-json: not a CreateLeadRequest JSON object ({\"personal\": {...}, "
                       "\"attribution\": {...}}): ",
                       detail));
    }
  }
  for (size_t i = 0; i < kLeadFieldFlagCount; ++i) {
    if (flags.values[i].empty()) continue;
    Message* target = kLeadFieldFlags[i].personal
                          ? static_cast<Message*>(request.mutable_personal())
                          : static_cast<Message*>(request.mutable_attribution());
    target->GetReflection()->SetString(
        target, target->GetDescriptor()->FindFieldByName(kLeadFieldFlags[i].field),
        flags.values[i]);
  }
  if (flags.source_given || request.attribution().source() == v1::SOURCE_CHANNEL_UNSPECIFIED) {
    v1::SourceChannel source;
    if (!v1::SourceChannel_Parse("SOURCE_CHANNEL_" + absl::AsciiStrToUpper(flags.source),
                                 &source)) {
      return absl::InvalidArgumentError("--source: unknown source channel");
    }
    request.mutable_attribution()->set_source(source);
  }
  if (request.attribution().service_line().empty()) {
    return absl::InvalidArgumentError(
        "--service-line is required (or attribution.service_line in --from-json)");
  }
  if (!flags.idempotency_key.empty()) {
    request.set_idempotency_key(flags.idempotency_key);
  } else if (request.idempotency_key().empty()) {
    request.set_idempotency_key(absl::BytesToHexString(keys::SystemRandom().Bytes(16)));
  }
  return request;
}

int RunLeadCreate(const Connection& connection, const LeadCreateFlags& flags) {
  absl::StatusOr<v1::CreateLeadRequest> request = BuildCreateLeadRequest(flags);
  if (!request.ok()) return ReportError(request.status(), kExitUsage);
  v1::CreateLeadResponse response;
  grpc::ClientContext context;
  connection.Prepare(&context);
  grpc::Status status =
      v1::LeadVault::NewStub(connection.channel())->CreateLead(&context, *request, &response);
  if (!status.ok()) return ReportRpcError(status, connection);
  if (flags.json) {
    return PrintJson(response) ? kExitOk : ReportError(absl::InternalError("cannot print as JSON"));
  }
  PrintField("lead_id", response.lead_id());
  PrintField("duplicate", response.duplicate() ? "true" : "false");
  PrintField("version", absl::StrCat(response.version()));
  return kExitOk;
}

int RunLeadGet(const Connection& connection, const std::string& lead_id, const std::string& purpose,
               const std::string& channel, const std::string& outreach_purpose, bool json) {
  v1::GetLeadRequest request;
  request.set_lead_id(lead_id);
  v1::PurposeOfUse p = v1::PURPOSE_OF_USE_UNSPECIFIED;
  v1::PurposeOfUse_Parse("PURPOSE_OF_USE_" + absl::AsciiStrToUpper(purpose), &p);
  request.set_purpose(p);
  if (!channel.empty()) {
    v1::ConsentChannel c = v1::CONSENT_CHANNEL_UNSPECIFIED;
    v1::ConsentChannel_Parse("CONSENT_CHANNEL_" + absl::AsciiStrToUpper(channel), &c);
    request.set_outreach_channel(c);
    v1::ConsentPurpose o = v1::CONSENT_PURPOSE_UNSPECIFIED;
    v1::ConsentPurpose_Parse("CONSENT_PURPOSE_" + absl::AsciiStrToUpper(outreach_purpose), &o);
    request.set_outreach_purpose(o);
  }
  v1::GetLeadResponse response;
  grpc::ClientContext context;
  connection.Prepare(&context);
  grpc::Status status =
      v1::LeadVault::NewStub(connection.channel())->GetLead(&context, request, &response);
  if (!status.ok()) return ReportRpcError(status, connection);
  if (json) {
    if (!PrintJson(response.lead())) {
      return ReportError(absl::InternalError("cannot print the lead as JSON"));
    }
  } else {
    PrintLeadMetadata(response.lead().metadata());
    PrintStringFields(response.lead().personal());
    // Later submissions, each with what it brought (masked as the lead's own
    // fields) and where it differs from the lead.
    int number = 0;
    for (const v1::Submission& submission : response.lead().submissions()) {
      PrintSubmission(submission, ++number);
    }
  }
  // Contact fields a read for outreach did not return, and why (on stderr:
  // stdout stays the lead, written first).
  std::cout << std::flush;
  for (const v1::WithheldField& w : response.withheld()) {
    std::cerr << "withheld: " << w.field() << " (" << w.reason();
    for (const std::string& m : w.missing()) std::cerr << ", missing " << m;
    std::cerr << ")\n";
  }
  return kExitOk;
}

int RunLeadFind(const Connection& connection, const std::string& email, const std::string& phone,
                const std::string& purpose, bool json) {
  v1::FindLeadsRequest request;
  v1::PurposeOfUse p = v1::PURPOSE_OF_USE_UNSPECIFIED;
  v1::PurposeOfUse_Parse("PURPOSE_OF_USE_" + absl::AsciiStrToUpper(purpose), &p);
  request.set_purpose(p);
  if (!email.empty()) {
    request.set_email(email);
  } else {
    request.set_phone(phone);
  }
  v1::FindLeadsResponse response;
  grpc::ClientContext context;
  connection.Prepare(&context);
  grpc::Status status =
      v1::LeadVault::NewStub(connection.channel())->FindLeads(&context, request, &response);
  if (!status.ok()) return ReportRpcError(status, connection);
  if (json) {
    nlohmann::ordered_json doc = {{"leads", nlohmann::ordered_json::array()}};
    for (const v1::LeadMetadata& lead : response.leads()) {
      nlohmann::ordered_json item;
      if (!MessageToJsonValue(lead, &item)) {
        return ReportError(absl::InternalError("cannot print a lead as JSON"));
      }
      doc["leads"].push_back(std::move(item));
    }
    PrintJsonDocument(doc);
  }
  if (response.leads().empty()) {
    std::cerr << "leadvaultctl: no matching leads\n";
    return kExitOk;
  }
  if (json) return kExitOk;
  std::vector<std::vector<std::string>> rows = {{"LEAD_ID", "STATUS", "SERVICE_LINE", "CREATED"}};
  for (const v1::LeadMetadata& lead : response.leads()) {
    rows.push_back(
        {lead.lead_id(), ShortEnumName(v1::LeadStatus_Name(lead.status()), "LEAD_STATUS_"),
         lead.attribution().service_line(), FormatMicros(lead.created_at_unix_micros())});
  }
  PrintTable(rows);
  return kExitOk;
}

// `audit pubkey --json` and `audit checkpoint --json`. The audit commands
// live in tools/ctl_audit.*; their --json is added here, and only when they
// define none of their own (AddAuditJsonFlags).
struct AuditJsonFlags {
  CLI::App* pubkey = nullptr;      // set when --json was added to it here
  CLI::App* checkpoint = nullptr;  // likewise
  bool json = false;
};

void AddAuditJsonFlags(const AuditCommands& audit, AuditJsonFlags* flags) {
  if (audit.pubkey->get_option_no_throw("--json") == nullptr) {
    flags->pubkey = audit.pubkey;
    flags->pubkey->add_flag("--json", flags->json, "print {\"verifier_key\": KEY}");
  }
  if (audit.checkpoint->get_option_no_throw("--json") == nullptr) {
    flags->checkpoint = audit.checkpoint;
    CLI::Option* json = flags->checkpoint->add_flag(
        "--json", flags->json,
        "print the signed checkpoint and the verifier key as one JSON document (proto field "
        "names; the note as a string)");
    if (CLI::Option* output = flags->checkpoint->get_option_no_throw("--output")) {
      json->excludes(output);
    }
  }
}

// Runs `audit pubkey|checkpoint --json` if that was parsed; its exit code, or nullopt.
std::optional<int> RunAuditJson(const AuditJsonFlags& flags, const ConnectionFlags& connection) {
  const bool pubkey = flags.pubkey != nullptr && flags.pubkey->parsed();
  const bool checkpoint = flags.checkpoint != nullptr && flags.checkpoint->parsed();
  if (!flags.json || (!pubkey && !checkpoint)) return std::nullopt;
  return WithConnection(connection, [&](const Connection& c) {
    v1::GetCheckpointResponse response;
    grpc::ClientContext context;
    c.Prepare(&context);
    grpc::Status status =
        v1::Compliance::NewStub(c.channel())->GetCheckpoint(&context, {}, &response);
    if (!status.ok()) return ReportRpcError(status, c);
    if (pubkey) {
      PrintJsonDocument({{"verifier_key", response.verifier_key()}});
      return kExitOk;
    }
    return PrintJson(response) ? kExitOk : ReportError(absl::InternalError("cannot print as JSON"));
  });
}

// ---- Command line ------------------------------------------------------------

// Ends the --help of `app` and of every command under it with the exit codes,
// after the footer it has; a command whose footer states its own keeps those.
void AddExitCodesToHelp(CLI::App* app) {
  const std::string footer = app->get_footer();
  if (!absl::StrContains(footer, "Exit codes:")) {
    app->footer(footer.empty() ? kExitCodesHelp : absl::StrCat(footer, "\n", kExitCodesHelp));
  }
  for (CLI::App* sub : app->get_subcommands([](CLI::App* s) { return !s->get_name().empty(); })) {
    AddExitCodesToHelp(sub);
  }
}

int Run(int argc, char** argv) {
  CLI::App app{"leadvaultctl: the command-line client of leadvaultd"};
  app.footer(
      "The token is read from --token-file (mode 0600) or the LEADVAULT_TOKEN environment "
      "variable, never from an argument. LEADVAULT_SERVER and LEADVAULT_CA stand for --server "
      "and --ca.");
  app.set_version_flag("--version", api::VersionLine("leadvaultctl"));
  app.require_subcommand(1);
  app.fallthrough();  // global options are accepted after the subcommand too

  ConnectionFlags connection_flags;
  app.add_option("--server", connection_flags.server, "leadvaultd address HOST:PORT")
      ->envname("LEADVAULT_SERVER")
      ->capture_default_str();
  app.add_option("--token-file", connection_flags.token_file,
                 "file whose first line is the bearer token (mode 0600; else $LEADVAULT_TOKEN)");
  app.add_option("--ca", connection_flags.ca_file,
                 "connect with TLS, trusting the PEM CA(s) in this file (plaintext without it)")
      ->envname("LEADVAULT_CA");
  app.add_option("--cert", connection_flags.cert_file,
                 "mutual TLS: PEM client certificate to present (with --key and --ca)");
  app.add_option("--key", connection_flags.key_file, "PEM private key of --cert (mode 0600)");

  // init
  InitFlags init_flags;
  CLI::App* init = app.add_subcommand(
      "init", "prepare a new data dir offline: master key file, vault, admin token");
  init->add_option("--data-dir", init_flags.data_dir, "data directory to create")->required();
  init->add_option("--key-file", init_flags.key_file,
                   "master key file to create (default DATA_DIR/master.key)");
  // One --json for the commands defined in this file (one of them runs).
  bool json = false;
  init->add_flag("--json", json,
                 "print {\"data_dir\", \"key_file\", \"principal_id\", \"token\"} (the token "
                 "shown once, as without it)");

  // principal
  CLI::App* principal = app.add_subcommand("principal", "manage principals (admin role)");
  principal->require_subcommand(1);
  PrincipalCreateFlags create_flags;
  CLI::App* principal_create =
      principal->add_subcommand("create", "create a principal; prints its token once");
  principal_create->add_option("--name", create_flags.name, "display name")->required();
  principal_create
      ->add_option("--role", create_flags.roles,
                   "role: capture, analyst, intake, compliance, admin or retention (repeatable)")
      ->required()
      ->check(CLI::Validator(
          [](std::string& role) {
            return vault::IsKnownRole(role) ? std::string() : "unknown role " + role;
          },
          "ROLE"));
  principal_create->add_option("--service-line", create_flags.service_lines,
                               "service line the principal may see (repeatable)");
  principal_create
      ->add_option("--ttl-days", create_flags.ttl_days, "token lifetime in days (default 90)")
      ->check(CLI::PositiveNumber);
  CLI::Option* client_cert = principal_create->add_option(
      "--client-cert", create_flags.client_cert_file,
      "mutual TLS: bind the principal to this PEM client certificate (its SHA-256 fingerprint)");
  principal_create
      ->add_option("--client-cert-sha256", create_flags.client_cert_sha256,
                   "mutual TLS: bind the principal to this SHA-256 certificate fingerprint (hex)")
      ->excludes(client_cert);
  principal_create->add_option("--token-out", create_flags.token_out,
                               "write the token to this new file (mode 0600) instead of stdout");
  principal_create->add_flag("--json", create_flags.json,
                             "print {\"principal\": {...}, \"token\": ...} (proto field names; "
                             "\"token_file\" instead of \"token\" with --token-out)");
  CLI::App* principal_list = principal->add_subcommand("list", "list principals");
  principal_list->add_flag("--json", json, "print {\"principals\": [...]} (proto field names)");
  std::string principal_id;
  CLI::App* principal_disable = principal->add_subcommand("disable", "disable a principal");
  principal_disable->add_option("ID", principal_id, "principal id")->required();
  principal_disable->add_flag("--json", json, kJsonHelp);
  int64_t rotate_ttl_days = 0;
  CLI::App* principal_rotate =
      principal->add_subcommand("rotate", "issue a new token (the old one stops working)");
  principal_rotate->add_option("ID", principal_id, "principal id")->required();
  int64_t rotate_grace_minutes = 0;
  principal_rotate
      ->add_option("--grace-minutes", rotate_grace_minutes,
                   "the old token keeps working this long (default 0: it stops at once)")
      ->check(CLI::Range(0, 7 * 24 * 60));
  std::vector<std::string> grant_lines;
  CLI::App* principal_grant = principal->add_subcommand(
      "grant-service-lines", "set the service lines a principal is scoped to");
  principal_grant->add_option("ID", principal_id, "principal id")->required();
  principal_grant->add_option("--service-line", grant_lines, "service line (repeatable)")
      ->required();
  principal_grant->add_flag("--json", json, kJsonHelp);
  principal_rotate->add_option("--ttl-days", rotate_ttl_days, "token lifetime in days (default 90)")
      ->check(CLI::PositiveNumber);
  std::string rotate_token_out;
  principal_rotate->add_option(
      "--token-out", rotate_token_out,
      "write the new token to this new file (mode 0600) instead of stdout");
  principal_rotate->add_flag("--json", json,
                             "print {\"principal\": {...}, \"token\": ...} (proto field names; "
                             "\"token_file\" instead of \"token\" with --token-out)");

  // lead
  CLI::App* lead =
      app.add_subcommand("lead", "create, read, find, list (queue), update and delete leads");
  lead->require_subcommand(1);
  LeadCreateFlags lead_flags;
  CLI::App* lead_create = lead->add_subcommand(
      "create", "create a lead (or record a touch on a duplicate); prints its id");
  lead_create->footer(
      "Values given as flags are visible to other users in `ps` and in shell history: the "
      "flag form is for support and smoke tests only.\nPass real data with --from-json FILE "
      "(or - for stdin): a CreateLeadRequest JSON object such as\n  {\"personal\": "
      "{\"first_name\": \"...\", \"email\": \"...\"}, \"attribution\": {\"service_line\": "
      "\"...\", \"source\": \"SOURCE_CHANNEL_REFERRAL\"}}\nFlags given as well override the "
      "JSON's fields.");
  lead_create->add_option("--from-json", lead_flags.from_json,
                          "read a CreateLeadRequest JSON object from FILE, or - for stdin");
  CLI::Option* source_option =
      lead_create->add_option("--source", lead_flags.source, "source channel")
          ->check(CLI::IsMember(kSourceNames))
          ->capture_default_str();
  for (size_t i = 0; i < kLeadFieldFlagCount; ++i) {
    lead_create->add_option(kLeadFieldFlags[i].flag, lead_flags.values[i], kLeadFieldFlags[i].help);
  }
  lead_create->add_option("--idempotency-key", lead_flags.idempotency_key,
                          "makes retries safe (default: random)");
  lead_create->add_flag("--json", lead_flags.json, kJsonHelp);
  std::string lead_id;
  CLI::App* lead_get = lead->add_subcommand(
      "get", "print a lead's metadata and personal data, then its later submissions");
  lead_get->add_option("LEAD_ID", lead_id, "lead id")->required();
  lead_get->add_flag("--json", json,
                     "print the lead as JSON (proto field names; its submissions in "
                     "\"submissions\"); withheld fields stay on stderr");
  std::string lead_purpose;
  lead_get
      ->add_option("--purpose", lead_purpose, "purpose of use of the read (recorded in the audit)")
      ->required()
      ->check(CLI::IsMember({"treatment", "payment", "operations", "patient_request",
                             "scheduling_outreach", "emergency"}));
  std::string lead_channel, lead_outreach_purpose = "scheduling";
  lead_get
      ->add_option("--channel", lead_channel,
                   "a read for outreach on this channel (required with scheduling_outreach): "
                   "its contact field only with active consent")
      ->check(CLI::IsMember({"email", "sms", "voice", "autodialed_voice"}));
  lead_get
      ->add_option("--outreach-purpose", lead_outreach_purpose,
                   "what the outreach is for (default scheduling)")
      ->check(CLI::IsMember({"scheduling", "treatment_follow_up", "marketing"}));
  std::string find_email, find_phone;
  CLI::App* lead_find = lead->add_subcommand("find", "find leads by email or phone");
  CLI::Option_group* find_key = lead_find->add_option_group("key", "exactly one of");
  find_key->add_option("--email", find_email, "email address");
  find_key->add_option("--phone", find_phone, "phone number");
  find_key->require_option(1);
  lead_find->add_flag("--json", json, "print {\"leads\": [...]} (proto field names)");
  std::string find_purpose;
  lead_find
      ->add_option("--purpose", find_purpose,
                   "purpose of use (recorded; each match counts as a disclosure)")
      ->required()
      ->check(CLI::IsMember(
          {"treatment", "payment", "operations", "patient_request", "scheduling_outreach"}));

  std::unique_ptr<AuditCommands> audit = AddAuditCommands(app);
  std::unique_ptr<WebhookSecretCommands> webhook = AddWebhookSecretCommands(*principal);
  std::unique_ptr<EmergencyCommands> emergency = AddEmergencyCommands(app);
  std::unique_ptr<CheckCommand> check = AddCheckCommand(app);
  std::unique_ptr<DbCommands> db = AddDbCommands(app);
  std::unique_ptr<ConsentCommands> consent = AddConsentCommands(app);
  std::unique_ptr<RetentionCommands> retention = AddRetentionCommands(app, *lead);
  std::unique_ptr<LeadWorkCommands> lead_work = AddLeadWorkCommands(*lead);
  std::unique_ptr<KeysCommands> keys_commands = AddKeysCommands(app);
  std::unique_ptr<BackupCommands> backup_commands = AddBackupCommands(app);
  std::unique_ptr<ReportCommands> report = AddReportCommands(app);
  std::unique_ptr<FunnelCommand> funnel = AddFunnelCommand(app);
  std::unique_ptr<CompletionCommand> completion = AddCompletionCommand(app);
  AuditJsonFlags audit_json;
  AddAuditJsonFlags(*audit, &audit_json);
  AddExitCodesToHelp(&app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help is a ParseError with exit code 0; every real parse error is a usage error.
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  lead_flags.source_given = source_option->count() > 0;

  if (std::optional<int> rc = RunCompletionCommand(*completion, app); rc.has_value()) return *rc;
  if (!keys::InitCrypto()) {
    return ReportError(absl::InternalError("libsodium failed to initialize"));
  }
  if (init->parsed()) return RunInit(init_flags, json);
  if (std::optional<int> rc = RunCheckCommand(*check); rc.has_value()) return *rc;
  if (std::optional<int> rc = RunDbCommand(*db); rc.has_value()) return *rc;
  if (std::optional<int> rc = RunAuditJson(audit_json, connection_flags); rc.has_value()) {
    return *rc;
  }
  if (std::optional<int> rc = RunAuditCommand(*audit, connection_flags); rc.has_value()) {
    return *rc;
  }
  if (std::optional<int> rc = RunWebhookSecretCommand(*webhook, connection_flags); rc.has_value()) {
    return *rc;
  }
  if (std::optional<int> rc = RunEmergencyCommand(*emergency, connection_flags); rc.has_value()) {
    return *rc;
  }
  if (std::optional<int> rc = RunFunnelCommand(*funnel, connection_flags); rc.has_value()) {
    return *rc;
  }
  if (std::optional<int> rc = RunConsentCommand(*consent, connection_flags); rc.has_value()) {
    return *rc;
  }
  if (std::optional<int> rc = RunLeadWorkCommand(*lead_work, connection_flags); rc.has_value()) {
    return *rc;
  }
  if (std::optional<int> rc = RunRetentionCommand(*retention, connection_flags); rc.has_value()) {
    return *rc;
  }
  if (std::optional<int> rc = RunKeysCommand(*keys_commands, connection_flags); rc.has_value()) {
    return *rc;
  }
  if (std::optional<int> rc = RunBackupCommand(*backup_commands, connection_flags);
      rc.has_value()) {
    return *rc;
  }
  if (std::optional<int> rc = RunReportCommand(*report, connection_flags); rc.has_value()) {
    return *rc;
  }
  if (principal_create->parsed()) {
    return WithConnection(connection_flags,
                          [&](const Connection& c) { return RunPrincipalCreate(c, create_flags); });
  }
  if (principal_list->parsed()) {
    return WithConnection(connection_flags,
                          [&](const Connection& c) { return RunPrincipalList(c, json); });
  }
  if (principal_disable->parsed()) {
    return WithConnection(connection_flags, [&](const Connection& c) {
      return RunPrincipalDisable(c, principal_id, json);
    });
  }
  if (principal_grant->parsed()) {
    return WithConnection(connection_flags, [&](const Connection& c) {
      v1::SetServiceLinesRequest request;
      request.set_principal_id(principal_id);
      for (const std::string& line : grant_lines) request.add_service_lines(line);
      v1::SetServiceLinesResponse response;
      grpc::ClientContext context;
      c.Prepare(&context);
      grpc::Status status =
          v1::Admin::NewStub(c.channel())->SetServiceLines(&context, request, &response);
      if (!status.ok()) return ReportRpcError(status, c);
      return PrintPrincipalResult(response, response.principal(), json);
    });
  }
  if (principal_rotate->parsed()) {
    return WithConnection(connection_flags, [&](const Connection& c) {
      return RunPrincipalRotate(c, principal_id, rotate_ttl_days, rotate_grace_minutes,
                                rotate_token_out, json);
    });
  }
  if (lead_create->parsed()) {
    return WithConnection(connection_flags,
                          [&](const Connection& c) { return RunLeadCreate(c, lead_flags); });
  }
  if (lead_get->parsed()) {
    return WithConnection(connection_flags, [&](const Connection& c) {
      return RunLeadGet(c, lead_id, lead_purpose, lead_channel, lead_outreach_purpose, json);
    });
  }
  if (lead_find->parsed()) {
    return WithConnection(connection_flags, [&](const Connection& c) {
      return RunLeadFind(c, find_email, find_phone, find_purpose, json);
    });
  }
  return kExitUsage;  // unreachable: require_subcommand(1) at every level
}

}  // namespace
}  // namespace leadvault::tools

int main(int argc, char** argv) { return leadvault::tools::Run(argc, argv); }
