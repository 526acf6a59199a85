#include "vault/access_policy.h"

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "keys/error_reason.h"

namespace leadvault::vault {
namespace {

constexpr size_t kRoleCount = kAllRoles.size();

// ---- The tables ---------------------------------------------------------------
// Columns: capture, analyst, intake, compliance, admin, retention.

constexpr bool Y = true;
constexpr bool N = false;

struct RpcRow {
  Rpc rpc;
  const char* name;
  std::array<bool, kRoleCount> allowed;
};

// Who may call what. Lead reads are further scoped per lead (MaySee) and per
// field (kProjections); analyst gets de-identified funnel metrics only.
constexpr std::array<RpcRow, kRpcCount> kRpcs = {{
    {Rpc::kCreateLead, "CreateLead", {Y, N, N, N, N, N}},
    {Rpc::kGetLead, "GetLead", {Y, N, Y, Y, N, N}},
    {Rpc::kFindLeads, "FindLeads", {N, N, Y, Y, N, N}},
    {Rpc::kListQueue, "ListQueue", {N, N, Y, N, N, N}},
    {Rpc::kUpdateLead, "UpdateLead", {N, N, Y, N, N, N}},
    {Rpc::kOpenEmergencyAccess, "OpenEmergencyAccess", {N, N, Y, Y, N, N}},
    {Rpc::kListEmergencyAccess, "ListEmergencyAccess", {N, N, N, Y, N, N}},
    {Rpc::kCloseEmergencyAccess, "CloseEmergencyAccess", {N, N, N, Y, N, N}},
    {Rpc::kCreatePrincipal, "CreatePrincipal", {N, N, N, N, Y, N}},
    {Rpc::kListPrincipals, "ListPrincipals", {N, N, N, N, Y, N}},
    {Rpc::kDisablePrincipal, "DisablePrincipal", {N, N, N, N, Y, N}},
    {Rpc::kRotateToken, "RotateToken", {N, N, N, N, Y, N}},
    {Rpc::kSetServiceLines, "SetServiceLines", {N, N, N, N, Y, N}},
    {Rpc::kGetCheckpoint, "GetCheckpoint", {N, N, N, Y, N, N}},
    {Rpc::kGetInclusionProof, "GetInclusionProof", {N, N, N, Y, N, N}},
    {Rpc::kGetConsistencyProof, "GetConsistencyProof", {N, N, N, Y, N, N}},
    {Rpc::kExportAudit, "ExportAudit", {N, N, N, Y, N, N}},
    {Rpc::kAccountingOfDisclosures, "AccountingOfDisclosures", {N, N, N, Y, N, N}},
    {Rpc::kRecordConsent, "RecordConsent", {N, N, Y, N, N, N}},
    {Rpc::kCheckConsent, "CheckConsent", {N, N, Y, Y, N, N}},
    {Rpc::kGetConsentHistory, "GetConsentHistory", {N, N, Y, Y, N, N}},
    {Rpc::kExportConsentProof, "ExportConsentProof", {N, N, N, Y, N, N}},
    {Rpc::kDeleteLead, "DeleteLead", {N, N, Y, Y, N, N}},
    {Rpc::kPlaceLegalHold, "PlaceLegalHold", {N, N, N, Y, N, N}},
    {Rpc::kReleaseLegalHold, "ReleaseLegalHold", {N, N, N, Y, N, N}},
    {Rpc::kListLegalHolds, "ListLegalHolds", {N, N, N, Y, N, N}},
    {Rpc::kSweepRetention, "SweepRetention", {N, N, N, N, N, Y}},
    {Rpc::kSetRetentionPolicy, "SetRetentionPolicy", {N, N, N, N, Y, N}},
    {Rpc::kGetRetentionPolicy, "GetRetentionPolicy", {N, N, N, Y, Y, Y}},
    {Rpc::kRotateMasterKey, "RotateMasterKey", {N, N, N, N, Y, N}},
    {Rpc::kGetMasterKeyStatus, "GetMasterKeyStatus", {N, N, N, N, Y, N}},
    {Rpc::kRetireMasterKey, "RetireMasterKey", {N, N, N, N, Y, N}},
    {Rpc::kCreateBackup, "CreateBackup", {N, N, N, N, Y, N}},
    {Rpc::kAmendLead, "AmendLead", {N, N, Y, N, N, N}},
    {Rpc::kListAmendments, "ListAmendments", {N, N, Y, Y, N, N}},
    {Rpc::kIssueWebhookSecret, "IssueWebhookSecret", {N, N, N, N, Y, N}},
    {Rpc::kRevokeWebhookSecret, "RevokeWebhookSecret", {N, N, N, N, Y, N}},
    {Rpc::kGetFunnelMetrics, "GetFunnelMetrics", {N, Y, N, N, N, N}},
}};

constexpr Projection H = Projection::kHidden;
constexpr Projection M = Projection::kMasked;
constexpr Projection C = Projection::kClear;

// What each role sees of each field (minimum necessary, 45 CFR 164.502(b)):
// intake works the lead and sees it; compliance reads no identifier
// (separation of duties), only what HIPAA's Safe Harbor leaves in de-identified
// data: birth year, first three ZIP digits, state; capture reads back its own
// leads' clear metadata, no field.
constexpr std::array<std::array<Projection, kRoleCount>, kPiiFieldCount> kProjections = {{
    /* first_name */ {H, H, C, H, H, H},
    /* last_name */ {H, H, C, H, H, H},
    /* email */ {H, H, C, H, H, H},
    /* phone */ {H, H, C, H, H, H},
    /* date_of_birth */ {H, H, C, M, H, H},
    /* street_address */ {H, H, C, H, H, H},
    /* city */ {H, H, C, H, H, H},
    /* state */ {H, H, C, C, H, H},
    /* postal_code */ {H, H, C, M, H, H},
    /* condition_interest */ {H, H, C, H, H, H},
    /* notes */ {H, H, C, H, H, H},
}};

// The purposes of use each role may state; emergency is never stated under a
// role but only under an open emergency-access grant (vault/emergency_access.h).
// Columns: treatment, payment, operations, patient_request, scheduling_outreach, emergency.
constexpr std::array<std::array<bool, kAllPurposes.size()>, kRoleCount> kPurposes = {{
    /* capture */ {N, N, N, N, N, N},
    /* analyst */ {N, N, N, N, N, N},
    /* intake */ {Y, Y, Y, Y, Y, N},
    /* compliance */ {N, N, Y, Y, N, N},
    /* admin */ {N, N, N, N, N, N},
    /* retention */ {N, N, N, N, N, N},
}};

size_t Index(Role role) { return static_cast<size_t>(role); }

bool Contains(const std::vector<std::string>& v, absl::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Whether `role` (which may read leads) has `meta` in its scope.
bool InScope(const Actor& actor, Role role, const LeadMetadata& meta) {
  if (!RoleMayCall(role, Rpc::kGetLead)) return false;
  switch (role) {
    case Role::kIntake:
      return Contains(actor.service_lines, meta.attribution.service_line);
    case Role::kCapture:
      return meta.created_by == actor.principal_id;
    case Role::kCompliance:
      return true;
    default:
      return false;
  }
}

// Bytes of the first UTF-8 code point of `v` (validated text: well formed).
size_t Utf8LeadLength(absl::string_view v) {
  const auto b = static_cast<unsigned char>(v[0]);
  size_t n = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
  return std::min(n, v.size());
}

std::string MaskEmail(absl::string_view email) {
  size_t at = email.rfind('@');
  size_t dot = email.rfind('.');
  std::string out;
  out.append(email.empty() ? "*" : std::string(email.substr(0, Utf8LeadLength(email))));
  out += "***@***";
  if (at != absl::string_view::npos && dot != absl::string_view::npos && dot > at) {
    absl::StrAppend(&out, email.substr(dot));
  }
  return out;
}

std::string MaskDateOfBirth(absl::string_view dob, absl::Time now) {
  int year = 0, month = 0, day = 0;
  if (dob.size() != 10 || !absl::SimpleAtoi(dob.substr(0, 4), &year) ||
      !absl::SimpleAtoi(dob.substr(5, 2), &month) || !absl::SimpleAtoi(dob.substr(8, 2), &day)) {
    return "";
  }
  absl::CivilDay today = absl::ToCivilDay(now, absl::UTCTimeZone());
  int age = static_cast<int>(today.year()) - year;
  if (today.month() < month || (today.month() == month && today.day() < day)) --age;
  // HIPAA Safe Harbor: ages over 89 are aggregated.
  return age > 89 ? "90+" : absl::StrCat(year);
}

}  // namespace

absl::string_view RpcName(Rpc rpc) { return kRpcs[static_cast<size_t>(rpc)].name; }

absl::string_view ProjectionName(Projection projection) {
  switch (projection) {
    case Projection::kClear:
      return "clear";
    case Projection::kMasked:
      return "masked";
    case Projection::kHidden:
      return "hidden";
  }
  return "hidden";
}

bool RoleMayCall(Role role, Rpc rpc) {
  return kRpcs[static_cast<size_t>(rpc)].allowed[Index(role)];
}

Projection RoleProjection(Role role, PiiField field) {
  return kProjections[static_cast<size_t>(field) - 1][Index(role)];
}

bool RoleMayUsePurpose(Role role, Purpose purpose) {
  return kPurposes[Index(role)][static_cast<size_t>(purpose)];
}

absl::Status CheckCall(const Actor& actor, Rpc rpc) {
  for (Role r : actor.roles) {
    if (RoleMayCall(r, rpc)) return absl::OkStatus();
  }
  return WithReason(absl::PermissionDeniedError(absl::StrCat("role: may not call ", RpcName(rpc))),
                    "ROLE_NOT_ALLOWED");
}

bool MaySee(const Actor& actor, const LeadMetadata& meta) {
  for (Role r : actor.roles) {
    if (InScope(actor, r, meta)) return true;
  }
  return false;
}

bool MaySeeAs(const Actor& actor, const LeadMetadata& meta, Rpc rpc) {
  for (Role r : actor.roles) {
    if (RoleMayCall(r, rpc) && InScope(actor, r, meta)) return true;
  }
  return false;
}

bool SeesLeadProgress(const Actor& actor, const LeadMetadata& meta) {
  for (Role r : actor.roles) {
    if (r != Role::kCapture && InScope(actor, r, meta)) return true;
  }
  return false;
}

LeadMetadata SubmissionView(const LeadMetadata& meta) {
  LeadMetadata view;
  view.id = meta.id;
  view.created_at = meta.created_at;
  view.updated_at = meta.created_at;
  view.attribution = meta.attribution;
  view.status = LeadStatus::kUnspecified;
  view.created_by = meta.created_by;
  view.version = 0;
  return view;
}

absl::Status CheckPurposeFor(const Actor& actor, Rpc rpc) {
  if (!actor.purpose.has_value()) {
    return absl::InvalidArgumentError("purpose: required for this call");
  }
  const Purpose purpose = *actor.purpose;
  for (Role r : actor.roles) {
    if (RoleMayCall(r, rpc) && RoleMayUsePurpose(r, purpose)) return absl::OkStatus();
  }
  return WithReason(absl::PermissionDeniedError("purpose: not allowed for this role"),
                    "PURPOSE_NOT_ALLOWED");
}

bool MayListServiceLine(const Actor& actor, absl::string_view service_line) {
  for (Role r : actor.roles) {
    if (r == Role::kIntake && RoleMayCall(r, Rpc::kListQueue) &&
        Contains(actor.service_lines, service_line)) {
      return true;
    }
  }
  return false;
}

FieldProjections ProjectionsFor(const Actor& actor, const LeadMetadata& meta) {
  const std::optional<Purpose>& purpose = actor.purpose;
  FieldProjections out;
  out.fill(Projection::kHidden);
  for (Role r : actor.roles) {
    if (!InScope(actor, r, meta)) continue;
    if (purpose.has_value() && !RoleMayUsePurpose(r, *purpose)) continue;
    for (PiiField f : kAllPiiFields) {
      Projection& p = out[static_cast<size_t>(f) - 1];
      p = std::max(p, RoleProjection(r, f));
    }
  }
  return out;
}

bool WouldDiscloseFields(const Actor& actor, const LeadMetadata& meta) {
  for (Role r : actor.roles) {
    if (!InScope(actor, r, meta)) continue;
    for (PiiField f : kAllPiiFields) {
      if (RoleProjection(r, f) != Projection::kHidden) return true;
    }
  }
  return false;
}

absl::Status CheckPurpose(const Actor& actor, const LeadMetadata& meta) {
  if (!actor.purpose.has_value()) {
    return absl::InvalidArgumentError("purpose: required to read personal data");
  }
  const Purpose purpose = *actor.purpose;
  for (Role r : actor.roles) {
    if (!InScope(actor, r, meta) || !RoleMayUsePurpose(r, purpose)) continue;
    for (PiiField f : kAllPiiFields) {
      if (RoleProjection(r, f) != Projection::kHidden) return absl::OkStatus();
    }
  }
  return WithReason(absl::PermissionDeniedError("purpose: not allowed for this role"),
                    "PURPOSE_NOT_ALLOWED");
}

keys::SecretBytes Mask(PiiField field, const keys::SecretBytes& value, absl::Time now) {
  absl::string_view v = value.view();
  std::string masked;
  switch (field) {
    case PiiField::kFirstName:
    case PiiField::kLastName:
      if (!v.empty()) masked = absl::StrCat(v.substr(0, Utf8LeadLength(v)), ".");
      break;
    case PiiField::kEmail:
      masked = MaskEmail(v);
      break;
    case PiiField::kPhone:
      if (v.size() >= 4) masked = absl::StrCat("***-***-", v.substr(v.size() - 4));
      break;
    case PiiField::kDateOfBirth:
      masked = MaskDateOfBirth(v, now);
      break;
    case PiiField::kPostalCode:
      if (v.size() >= 3) masked = absl::StrCat(v.substr(0, 3), "**");
      break;
    case PiiField::kState:
      masked = std::string(v);
      break;
    default:
      break;  // street, city, free text: hidden
  }
  keys::SecretBytes out = keys::SecretBytes::CopyFrom(masked);
  keys::WipeString(masked);
  return out;
}

namespace {

// "| <first> | capture | ... |" and its separator row.
std::string TableHeader(absl::string_view first) {
  std::string out = absl::StrCat("| ", first, " |");
  for (Role r : kAllRoles) absl::StrAppend(&out, " ", RoleName(r), " |");
  out += "\n| --- |";
  for (size_t i = 0; i < kRoleCount; ++i) out += " --- |";
  out += "\n";
  return out;
}

}  // namespace

std::string RpcTableMarkdown() {
  std::string out = TableHeader("RPC");
  for (const RpcRow& row : kRpcs) {
    absl::StrAppend(&out, "| ", row.name, " |");
    for (bool allowed : row.allowed) out += allowed ? " yes |" : " - |";
    out += "\n";
  }
  return out;
}

std::string ProjectionTableMarkdown() {
  std::string out = TableHeader("field");
  for (PiiField f : kAllPiiFields) {
    absl::StrAppend(&out, "| ", PiiFieldName(f), " |");
    for (Role r : kAllRoles) absl::StrAppend(&out, " ", ProjectionName(RoleProjection(r, f)), " |");
    out += "\n";
  }
  return out;
}

}  // namespace leadvault::vault
