#include "tools/ctl_report.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "audit/audit_entry.h"
#include "keys/status_macros.h"
#include "tools/ctl_audit.h"
#include "tools/ctl_files.h"
#include "tools/ctl_html.h"
#include "tools/ctl_print.h"
#include "vault/disclosure_index.h"

namespace leadvault::tools {
namespace {

constexpr char kExitCodes[] =
    "Exit codes: 0 the report was written (report audit: and the export verified); 1 failed "
    "(the call, the file, or for report audit the export's verification: that report is "
    "written and says so at the top); 2 usage (a bad flag, time or key, an unreadable "
    "--trusted file, no token).";

// A new private directory (mode 0700) beside `path`, for the export a report
// is made from.
absl::StatusOr<std::string> MakeScratchDir(const std::string& path) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  if (dir.empty()) dir = "/";
  std::string scratch = absl::StrCat(dir, "/.leadvault-report-XXXXXX");
  if (::mkdtemp(scratch.data()) == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot create a directory in ", dir));
  }
  return scratch;
}

// "Display Name (<code>id</code>)", or the id alone when no name is known.
std::string PrincipalHtml(const PrincipalNames& names, const std::string& principal_id) {
  const std::string& name = names.Name(principal_id);
  if (name.empty()) return Code(principal_id);
  return absl::StrCat(HtmlEscape(name), " (", Code(principal_id), ")");
}

// ---- The activity review ------------------------------------------------------

constexpr struct {
  const char* role;
  const char* color;
} kRoleColors[] = {
    {"intake", "#1f77b4"}, {"capture", "#2ca02c"}, {"compliance", "#9467bd"},
    {"admin", "#7f7f7f"},  {"analyst", "#17becf"}, {"retention", "#8c564b"},
    {"system", "#bcbd22"}, {"(none)", "#d62728"},
};
constexpr const char* kOtherColors[] = {"#e377c2", "#aec7e8", "#98df8a", "#c5b0d5", "#c49c94"};
constexpr char kDeniedColor[] = "#ff7f0e";
constexpr char kUnauthenticatedColor[] = "#d62728";

std::string RoleLabel(const std::string& role) { return role.empty() ? "(none)" : role; }

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

int64_t DayOf(absl::Time t) { return FloorDiv(absl::ToUnixSeconds(t), 24 * 60 * 60); }

std::string DayLabel(int64_t day) {
  return absl::FormatTime("%Y-%m-%d", absl::FromUnixSeconds(day * 24 * 60 * 60),
                          absl::UTCTimeZone());
}

// What the review counts, fed one entry at a time as the export streams, so
// a long period never sits in memory whole (only its emergency entries do).
class ActivityTally {
 public:
  // The days of [since, until) are charted in at most kMaxBars bars.
  ActivityTally(absl::Time since, absl::Time until)
      : first_day_(DayOf(since)), last_day_(DayOf(until - absl::Nanoseconds(1))) {
    const int64_t days = last_day_ - first_day_ + 1;
    days_per_bar_ = std::max<int64_t>(1, (days + kMaxBars - 1) / kMaxBars);
    bars_ = static_cast<size_t>((days + days_per_bar_ - 1) / days_per_bar_);
    denied_.assign(bars_, 0);
    unauthenticated_.assign(bars_, 0);
  }

  void Add(const audit::AuditEntry& e) {
    names_.Learn(e);
    ++entries_;
    if (entries_ == 1) first_sequence_ = e.sequence;
    last_sequence_ = e.sequence;
    const size_t bar = BarOf(e.time);
    std::vector<uint64_t>& by_role = calls_[RoleLabel(e.role)];
    if (by_role.empty()) by_role.assign(bars_, 0);
    ++by_role[bar];
    ++outcomes_[static_cast<int>(e.outcome)];
    if (e.outcome == audit::Outcome::kDenied) ++denied_[bar];
    if (e.outcome == audit::Outcome::kUnauthenticated) ++unauthenticated_[bar];
    if (e.action == "OpenEmergencyAccess" || !e.break_glass_reason.empty() ||
        e.purpose == "emergency") {
      emergency_.push_back(e);
    }
    if (vault::IsPiiDisclosure(e)) {
      Reader& reader = readers_[e.principal_id];
      reader.role = RoleLabel(e.role);
      ++reader.disclosures;
      for (const std::string& lead : e.lead_ids) {
        LeadReads& reads = leads_[lead];
        ++reads.disclosures;
        reads.readers.insert(e.principal_id);
      }
    }
  }

  uint64_t entries() const { return entries_; }
  uint64_t first_sequence() const { return first_sequence_; }
  uint64_t last_sequence() const { return last_sequence_; }

  std::string Render() const {
    std::string out = Totals();
    absl::StrAppend(&out, CallsByRole(), Denials(), Emergencies(), ReadsByPrincipal(), TopLeads());
    return out;
  }

 private:
  static constexpr int64_t kMaxBars = 92;
  static constexpr size_t kTopLeads = 25;

  struct Reader {
    std::string role;
    uint64_t disclosures = 0;
    uint64_t leads = 0;  // distinct, counted when rendering
  };
  struct LeadReads {
    uint64_t disclosures = 0;
    std::set<std::string> readers;
  };

  size_t BarOf(absl::Time t) const {
    const int64_t day = std::clamp(DayOf(t), first_day_, last_day_);
    return static_cast<size_t>((day - first_day_) / days_per_bar_);
  }

  std::vector<std::string> BarLabels() const {
    std::vector<std::string> labels;
    for (size_t b = 0; b < bars_; ++b) {
      labels.push_back(DayLabel(first_day_ + static_cast<int64_t>(b) * days_per_bar_));
    }
    return labels;
  }

  std::string Per() const {
    return days_per_bar_ == 1 ? "per day" : absl::StrCat("per ", days_per_bar_, " days");
  }

  uint64_t Outcome(audit::Outcome o) const {
    auto it = outcomes_.find(static_cast<int>(o));
    return it == outcomes_.end() ? 0 : it->second;
  }

  std::string Totals() const {
    std::string out = "<section id=\"totals\">\n<h2>In this period</h2>\n<dl class=\"facts\">\n";
    const std::pair<const char*, uint64_t> totals[] = {
        {"calls", entries_},
        {"allowed", Outcome(audit::Outcome::kAllowed)},
        {"denied", Outcome(audit::Outcome::kDenied)},
        {"failed", Outcome(audit::Outcome::kFailed)},
        {"unauthenticated", Outcome(audit::Outcome::kUnauthenticated)},
        {"emergency", emergency_.size()},
        {"principals-reading", readers_.size()},
        {"leads-read", leads_.size()},
    };
    const char* names[] = {"Calls",
                           "Allowed",
                           "Denied",
                           "Failed",
                           "Authentication failures",
                           "Emergency-access entries",
                           "Principals who read personal data",
                           "Leads whose personal data was read"};
    for (size_t i = 0; i < std::size(totals); ++i) {
      absl::StrAppend(&out, "<dt>", names[i], "</dt><dd id=\"total-", totals[i].first, "\">",
                      totals[i].second, "</dd>\n");
    }
    absl::StrAppend(&out, "</dl>\n</section>\n");
    return out;
  }

  std::string CallsByRole() const {
    BarChart chart;
    chart.label = absl::StrCat("Calls ", Per(), " by role");
    chart.bucket_labels = BarLabels();
    size_t other = 0;
    // Known roles in a fixed order and colour, then any other label.
    for (const auto& known : kRoleColors) {
      auto it = calls_.find(known.role);
      if (it != calls_.end()) chart.series.push_back({it->first, known.color, it->second});
    }
    for (const auto& [role, values] : calls_) {
      const std::string& name = role;  // (clang 14 captures no structured binding)
      const bool known = std::any_of(std::begin(kRoleColors), std::end(kRoleColors),
                                     [&name](const auto& k) { return name == k.role; });
      if (known) continue;
      chart.series.push_back({role, kOtherColors[other++ % std::size(kOtherColors)], values});
    }
    std::string out =
        absl::StrCat("<section id=\"calls-by-role\">\n<h2>Calls ", Per(), " by role</h2>\n");
    if (entries_ == 0) {
      absl::StrAppend(&out, "<p class=\"empty\">No calls in this period.</p>\n");
    }
    absl::StrAppend(&out, RenderBarChart(chart), Legend(chart.series), ChartNumbers(chart),
                    "</section>\n");
    return out;
  }

  std::string Denials() const {
    BarChart chart;
    chart.label = absl::StrCat("Denials and authentication failures ", Per());
    chart.bucket_labels = BarLabels();
    chart.stacked = false;
    chart.series = {{"denied", kDeniedColor, denied_},
                    {"authentication failures", kUnauthenticatedColor, unauthenticated_}};
    return absl::StrCat(
        "<section id=\"denials\">\n<h2>Denials and authentication failures ", Per(),
        "</h2>\n<p>Denied: the caller was known but its role, scope or purpose did not allow the "
        "call. Authentication failures: a missing, unknown, expired or wrong token.</p>\n",
        RenderBarChart(chart), Legend(chart.series), ChartNumbers(chart), "</section>\n");
  }

  std::string Emergencies() const {
    std::vector<std::vector<std::string>> rows;
    for (const audit::AuditEntry& e : emergency_) {
      rows.push_back(
          {IsoTime(e.time),
           absl::StrCat(PrincipalHtml(names_, e.principal_id), "<br>",
                        HtmlEscape(RoleLabel(e.role))),
           absl::StrCat(HtmlEscape(e.action), "<br>", HtmlEscape(audit::OutcomeName(e.outcome))),
           Code(absl::StrJoin(e.lead_ids, " ")), HtmlEscape(absl::StrJoin(e.fields, ", ")),
           HtmlEscape(e.break_glass_reason)});
    }
    return TableSection(
        "emergency", "Emergency access",
        "Every grant opened (OpenEmergencyAccess) and every read made under one, "
        "with the written reason and who made it.",
        "No emergency access in this period.",
        {"time (UTC)", "principal, role", "action, outcome", "leads", "details", "reason"},
        {"when", "", "", "detail", "detail", "reason"}, rows);
  }

  std::string ReadsByPrincipal() const {
    std::map<std::string, uint64_t> distinct;
    for (const auto& [lead, reads] : leads_) {
      for (const std::string& p : reads.readers) ++distinct[p];
    }
    std::vector<std::pair<std::string, const Reader*>> order;
    for (const auto& [id, reader] : readers_) order.emplace_back(id, &reader);
    std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
      return a.second->disclosures != b.second->disclosures
                 ? a.second->disclosures > b.second->disclosures
                 : a.first < b.first;
    });
    std::vector<std::vector<std::string>> rows;
    for (const auto& [id, reader] : order) {
      rows.push_back({PrincipalHtml(names_, id), HtmlEscape(reader->role),
                      absl::StrCat(reader->disclosures), absl::StrCat(distinct[id])});
    }
    return TableSection("reads-by-principal", "Reads of personal data by principal",
                        "Disclosures as the accounting of disclosures counts them: reads that "
                        "returned a field, look-ups that matched a lead, submissions told of an "
                        "existing lead.",
                        "No personal data was read in this period.",
                        {"principal", "role", "disclosures", "distinct leads"},
                        {"", "", "num", "num"}, rows);
  }

  std::string TopLeads() const {
    std::vector<std::pair<const std::string*, const LeadReads*>> order;
    for (const auto& [lead, reads] : leads_) order.emplace_back(&lead, &reads);
    std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
      if (a.second->readers.size() != b.second->readers.size()) {
        return a.second->readers.size() > b.second->readers.size();
      }
      return *a.first < *b.first;
    });
    if (order.size() > kTopLeads) order.resize(kTopLeads);
    std::vector<std::vector<std::string>> rows;
    for (const auto& [lead, reads] : order) {
      rows.push_back(
          {Code(*lead), absl::StrCat(reads->readers.size()), absl::StrCat(reads->disclosures)});
    }
    return TableSection(
        "top-leads", "Leads read by the most principals",
        absl::StrCat("At most ", kTopLeads,
                     " leads, those with the most distinct readers (lead ids only: the log holds "
                     "no personal value)."),
        "No lead was read in this period.", {"lead", "distinct readers", "disclosures"},
        {"", "num", "num"}, rows);
  }

  const int64_t first_day_, last_day_;
  int64_t days_per_bar_ = 1;
  size_t bars_ = 1;
  uint64_t entries_ = 0, first_sequence_ = 0, last_sequence_ = 0;
  std::map<std::string, std::vector<uint64_t>> calls_;  // role -> per bar
  std::map<int, uint64_t> outcomes_;
  std::vector<uint64_t> denied_, unauthenticated_;  // per bar
  std::vector<audit::AuditEntry> emergency_;
  std::map<std::string, Reader> readers_;  // principal id ->
  // From the export's CreatePrincipal entries: a principal created before the
  // period (or before names were recorded) is shown by its id alone.
  PrincipalNames names_;
  std::unordered_map<std::string, LeadReads> leads_;
};

std::string KeyLabel(const audit::NoteVerifier& verifier) {
  char id[9];
  std::snprintf(id, sizeof(id), "%08x", verifier.key_id());
  return absl::StrCat(verifier.name(), "+", id);
}

// The box at the top: what the report's numbers rest on.
std::string VerificationSection(const absl::StatusOr<audit::VerifyReport>& report,
                                const ActivityTally& tally, const audit::NoteVerifier& verifier,
                                bool key_from_daemon, const std::string& trusted) {
  const std::string key =
      key_from_daemon
          ? absl::StrCat(Code(KeyLabel(verifier)),
                         " as the daemon served it: this proves the export consistent with "
                         "itself, not that it is the log you trust; give the key kept apart "
                         "with --pubkey")
          : absl::StrCat(Code(KeyLabel(verifier)), " (given with --pubkey)");
  std::string out;
  if (report.ok()) {
    absl::StrAppend(
        &out, "<section id=\"verification\" class=\"verification ok\">\n",
        "<h2>Verification of the export: verified OK</h2>\n<p class=\"verdict\">",
        HtmlEscape(VerifiedSummary(*report)), "</p>\n<p>", HtmlEscape(DescribeProof(*report)),
        "</p>\n<dl class=\"facts\">\n<dt>Entries</dt><dd id=\"verified-entries\">", report->entries,
        "</dd>\n<dt>Sequences</dt><dd id=\"verified-range\">", report->first_sequence, "..",
        report->last_sequence, "</dd>\n<dt>Signed tree size</dt><dd id=\"verified-tree-size\">",
        report->checkpoint.size, "</dd>\n<dt>Log</dt><dd>", Code(report->checkpoint.origin),
        "</dd>\n");
  } else {
    absl::StrAppend(
        &out, "<section id=\"verification\" class=\"verification failed\">\n",
        "<h2>Verification of the export: FAILED</h2>\n<p class=\"verdict\">audit verify FAILED: ",
        HtmlEscape(report.status().message()),
        "</p>\n<p>The figures below come from an export that failed verification: do not rely "
        "on them. Export the period again and verify it (<code>leadvaultctl audit "
        "verify</code>); a failure that persists is a security incident.</p>\n"
        "<dl class=\"facts\">\n<dt>Entries received</dt><dd id=\"verified-entries\">",
        tally.entries(), "</dd>\n<dt>Sequences received</dt><dd id=\"verified-range\">",
        tally.first_sequence(), "..", tally.last_sequence(), "</dd>\n");
  }
  absl::StrAppend(&out, "<dt>Verifier key</dt><dd>", key, "</dd>\n<dt>Trusted checkpoint</dt><dd>",
                  trusted.empty() ? "none given (--trusted)"
                  : report.ok() && report->trusted_checked
                      ? absl::StrCat("the log extends it (", HtmlEscape(trusted), ")")
                      : HtmlEscape(trusted),
                  "</dd>\n</dl>\n</section>\n");
  return out;
}

// Runs `report(connection, verifier, key_from_daemon)` for a report command:
// first the key given with --pubkey and the --trusted file (exit 2 if either
// cannot be read) and the output path (exit 1 if taken, without --force);
// then, connected, the verifier key: the one given, else the one the daemon
// serves (which proves less: the reports say so).
template <typename Report>
int WithReportKey(const ReportCommands& c, const ConnectionFlags& flags, Report report) {
  std::optional<audit::NoteVerifier> given;
  if (!c.pubkey.empty()) {
    auto loaded = LoadVerifier(c.pubkey);
    if (!loaded.ok()) return ReportError(loaded.status(), kExitUsage);
    given = *std::move(loaded);
  }
  if (!c.trusted.empty()) {
    if (auto note = ReadSmallFile(c.trusted); !note.ok()) {
      return ReportError(note.status(), kExitUsage);
    }
  }
  if (!c.force) {
    if (absl::Status s = RefuseExisting(c.output); !s.ok()) return ReportError(s);
  }
  return WithConnection(flags, [&](const Connection& connection) {
    if (given.has_value()) return report(connection, *given, /*key_from_daemon=*/false);
    absl::StatusOr<std::string> key = FetchVerifierKey(connection);
    if (!key.ok()) return ReportError(key.status());
    absl::StatusOr<audit::NoteVerifier> served = audit::NoteVerifier::Parse(*key);
    if (!served.ok()) return ReportError(served.status());
    return report(connection, *served, /*key_from_daemon=*/true);
  });
}

struct Period {
  absl::Time since, until;
};

absl::StatusOr<Period> ParsePeriod(const ReportCommands& c, absl::Time now) {
  Period p;
  LV_ASSIGN_OR_RETURN(p.since, ParseTimeFlag("--since", c.since));
  p.until = now;
  if (!c.until.empty()) {
    LV_ASSIGN_OR_RETURN(p.until, ParseTimeFlag("--until", c.until));
  }
  if (p.since >= p.until) return absl::InvalidArgumentError("--since must be before --until");
  return p;
}

int RunAuditReport(const ReportCommands& c, const ConnectionFlags& flags) {
  const absl::Time now = absl::Now();
  absl::StatusOr<Period> period = ParsePeriod(c, now);
  if (!period.ok()) return ReportError(period.status(), kExitUsage);
  return WithReportKey(
      c, flags,
      [&](const Connection& connection, const audit::NoteVerifier& verifier, bool key_from_daemon) {
        absl::StatusOr<std::string> scratch = MakeScratchDir(c.output);
        if (!scratch.ok()) return ReportError(scratch.status());
        AuditExportFlags export_flags;
        export_flags.output = absl::StrCat(*scratch, "/export.jsonl");
        export_flags.since =
            absl::FormatTime(absl::RFC3339_full, period->since, absl::UTCTimeZone());
        export_flags.until =
            absl::FormatTime(absl::RFC3339_full, period->until, absl::UTCTimeZone());
        export_flags.trusted = c.trusted;
        absl::Cleanup remove_scratch = [&] {
          ::unlink(export_flags.output.c_str());
          ::rmdir(scratch->c_str());
        };
        ActivityTally tally(period->since, period->until);
        absl::StatusOr<uint64_t> exported = ExportToFile(
            connection, export_flags, [&tally](const audit::AuditEntry& e) { tally.Add(e); });
        if (!exported.ok()) return ReportError(exported.status());
        VerifyFailure failure;
        absl::StatusOr<audit::VerifyReport> verified =
            VerifyExport(export_flags.output, verifier, c.trusted, &failure);

        std::string html = PageStart(
            "Information-system activity review",
            "A review of the audit trail (HIPAA 45 CFR 164.308(a)(1)(ii)(D)), made by leadvaultctl "
            "report audit from an export of the tamper-evident audit log, verified as audit "
            "verify does.",
            {{"Period", HtmlEscape(absl::StrCat(IsoTime(period->since), " to ",
                                                IsoTime(period->until), " (the end excluded)"))},
             {"Generated (UTC)", HtmlEscape(IsoTime(now))},
             {"Daemon", Code(flags.server)}});
        absl::StrAppend(&html,
                        VerificationSection(verified, tally, verifier, key_from_daemon, c.trusted),
                        tally.Render(),
                        PageEnd("Made by leadvaultctl report audit. The audit log holds ids, role "
                                "names, field names and written reasons, never a personal value."));
        absl::Status written = WriteReportFile(c.output, html, c.force);
        if (!written.ok()) return ReportError(written);
        if (!verified.ok()) {
          std::fprintf(stderr, "leadvaultctl: audit verify FAILED: %s\n",
                       std::string(verified.status().message()).c_str());
          std::fprintf(stderr,
                       "leadvaultctl: wrote %s, which says the export FAILED verification\n",
                       c.output.c_str());
          return kExitFailed;
        }
        std::fprintf(stderr, "leadvaultctl: wrote %s (%llu entries, verified OK)\n",
                     c.output.c_str(), static_cast<unsigned long long>(*exported));
        return kExitOk;
      });
}

// ---- The accounting of disclosures --------------------------------------------

// A name from the log and its plain words for a patient.
struct Wording {
  const char* name;
  const char* words;
};

constexpr Wording kRoleWords[] = {
    {"capture", "Lead-capture system (web form or call tracking)"},
    {"intake", "Intake staff"},
    {"analyst", "Analyst"},
    {"compliance", "Privacy and compliance office"},
    {"admin", "System administrator"},
    {"retention", "Records-retention process"},
};

constexpr Wording kPurposeWords[] = {
    {"treatment", "Treatment"},
    {"payment", "Payment"},
    {"operations", "Health care operations"},
    {"patient_request", "At your request"},
    {"scheduling_outreach", "Contacting you to schedule care"},
    {"emergency", "Emergency access"},
};

constexpr Wording kFieldWords[] = {
    {"first_name", "first name"},
    {"last_name", "last name"},
    {"email", "email address"},
    {"phone", "phone number"},
    {"date_of_birth", "date of birth"},
    {"street_address", "street address"},
    {"city", "city"},
    {"state", "state"},
    {"postal_code", "ZIP code"},
    {"condition_interest", "the condition you asked about"},
    {"notes", "notes"},
    {"match:email", "that you are on file (found by your email address)"},
    {"match:phone", "that you are on file (found by your phone number)"},
};

template <size_t N>
std::string Words(const Wording (&table)[N], absl::string_view name) {
  for (const auto& row : table) {
    if (name == row.name) return row.words;
  }
  std::string words(name);
  std::replace(words.begin(), words.end(), '_', ' ');
  return words;
}

std::string WhoWords(const audit::AuditEntry& e, const PrincipalNames& names) {
  std::vector<std::string> roles;
  for (absl::string_view role : absl::StrSplit(e.role, ',', absl::SkipEmpty())) {
    roles.push_back(Words(kRoleWords, role));
  }
  return absl::StrCat(HtmlEscape(roles.empty() ? "Unknown" : absl::StrJoin(roles, " and ")), "<br>",
                      names.Name(e.principal_id).empty()
                          ? absl::StrCat("user or system ", Code(e.principal_id))
                          : PrincipalHtml(names, e.principal_id));
}

std::string HowWords(const audit::AuditEntry& e) {
  if (e.action == "GetLead") return "Viewed";
  if (e.action == "FindLeads") return "Looked up";
  if (e.action == "CreateLead") return "Matched to a new form submission";
  return HtmlEscape(e.action);
}

std::string PurposeWords(const audit::AuditEntry& e) {
  std::string out =
      e.purpose.empty()
          ? (e.action == "CreateLead" ? "Checking for an existing record" : "Not stated")
          : HtmlEscape(Words(kPurposeWords, e.purpose));
  if (!e.break_glass_reason.empty()) {
    absl::StrAppend(&out, "<br>Reason given: <span class=\"reason\">",
                    HtmlEscape(e.break_glass_reason), "</span>");
  }
  return out;
}

// The information a disclosure involved, in plain words. What the log
// records about the read itself (a grant, an outreach channel, what was
// withheld, touches) is not information about the person and is left out.
std::string FieldWords(const audit::AuditEntry& e) {
  std::vector<std::string> words;
  for (const std::string& field : e.fields) {
    if (absl::StartsWith(field, "outreach:") || absl::StartsWith(field, "withheld:") ||
        absl::StrContains(field, '=') || field == "touches") {
      continue;
    }
    absl::string_view name = field;
    const bool masked = absl::ConsumeSuffix(&name, ":masked");
    words.push_back(absl::StrCat(Words(kFieldWords, name), masked ? " (partly hidden)" : ""));
  }
  if (words.empty()) return "-";
  words[0][0] = absl::ascii_toupper(static_cast<unsigned char>(words[0][0]));
  return HtmlEscape(absl::StrJoin(words, ", "));
}

int RunAccountingReport(const ReportCommands& c, const ConnectionFlags& flags) {
  const absl::Time now = absl::Now();
  std::optional<absl::Time> since;
  if (!c.since.empty()) {
    auto t = ParseTimeFlag("--since", c.since);
    if (!t.ok()) return ReportError(t.status(), kExitUsage);
    since = *t;
  }
  return WithReportKey(
      c, flags,
      [&](const Connection& connection, const audit::NoteVerifier& verifier, bool key_from_daemon) {
        absl::StatusOr<ProvenAccounting> accounting = FetchAccounting(
            connection, c.lead_id, since.has_value() ? absl::ToUnixMicros(*since) : 0, verifier);
        if (!accounting.ok()) return ReportError(accounting.status());

        const std::string from =
            since.has_value() ? IsoTime(*since) : std::string("the start of the record");
        const std::string covered = absl::StrCat(from, " to ", IsoTime(now));
        std::string html = PageStart(
            "Accounting of disclosures",
            "Your right to an accounting of disclosures of your health information (HIPAA, 45 CFR "
            "164.528).",
            {{"Record", Code(c.lead_id)},
             {"Period covered", HtmlEscape(covered)},
             {"Generated (UTC)", HtmlEscape(IsoTime(now))},
             {"Prepared from", absl::StrCat("leadvaultd at ", Code(flags.server))}});
        absl::StrAppend(
            &html,
            "<section id=\"intro\">\n<p>This is a list of every time the information we hold "
            "about you in our patient-inquiry system (record ",
            Code(c.lead_id), ") was shown to, or looked up by, a person or computer system, from ",
            HtmlEscape(covered),
            ". For each one it gives the date, who received the information, how and why, and "
            "which pieces of information were involved; it does not repeat the information itself. "
            "It includes the times your information was used for treatment, payment and our health "
            "care operations, which the law does not require us to list.</p>\n<p>If you have a "
            "question about this list, or think that any of these was not appropriate, please "
            "contact our privacy officer.</p>\n</section>\n");
        std::vector<std::vector<std::string>> rows;
        for (const audit::AuditEntry& e : accounting->disclosures) {
          rows.push_back({HtmlEscape(IsoTime(e.time)), WhoWords(e, accounting->names), HowWords(e),
                          PurposeWords(e), FieldWords(e)});
        }
        absl::StrAppend(&html, "<section id=\"disclosures\">\n<h2>Disclosures (<span id=\"count\">",
                        rows.size(), "</span>)</h2>\n");
        if (rows.empty()) {
          absl::StrAppend(&html,
                          "<p class=\"empty\">No disclosure was recorded in this period.</p>\n");
        } else {
          absl::StrAppend(&html, Table({"Date (UTC)", "Who received it", "How", "Purpose",
                                        "What was disclosed"},
                                       {"when", "", "", "", ""}, rows));
        }
        absl::StrAppend(
            &html,
            "</section>\n<section id=\"verification\">\n<h2>How this list was checked</h2>\n<p>"
            "Each row was read from our tamper-evident audit log and checked against its signed "
            "checkpoint (tree size <span id=\"tree-size\">",
            accounting->checkpoint.size, "</span>, log ", Code(accounting->checkpoint.origin),
            ", key ", Code(KeyLabel(verifier)),
            key_from_daemon ? ", as the system served it" : ", the key kept for checking it",
            "). That no row is missing rests on the system's disclosure index, which it checks "
            "against the whole log. A person's or system's name is as the system has it now; the "
            "code beside it is the identity the log records.</p>\n</section>\n");
        absl::StrAppend(&html, PageEnd("Made by leadvaultctl report accounting."));
        absl::Status written = WriteReportFile(c.output, html, c.force);
        if (!written.ok()) return ReportError(written);
        std::fprintf(stderr, "leadvaultctl: wrote %s (%zu disclosures)\n", c.output.c_str(),
                     rows.size());
        return kExitOk;
      });
}

}  // namespace

std::unique_ptr<ReportCommands> AddReportCommands(CLI::App& app) {
  auto c = std::make_unique<ReportCommands>();
  CLI::App* report = app.add_subcommand(
      "report", "self-contained HTML reports for compliance officers (compliance role)");
  report->require_subcommand(1);
  report->footer(kExitCodes);

  c->audit = report->add_subcommand(
      "audit", "the periodic information-system activity review: export, verify, report");
  c->audit->add_option("--since", c->since, "start of the period (YYYY-MM-DD or RFC 3339, UTC)")
      ->required();
  c->audit->add_option("--until", c->until, "end of the period, excluded (default: now)");
  c->audit->add_option("-o,--output", c->output, "the HTML file to write (mode 0600)")->required();
  c->audit->add_option("--pubkey", c->pubkey,
                       "verifier key, or a file holding it (default: the key the daemon serves, "
                       "which proves less)");
  c->audit->add_option("--trusted", c->trusted,
                       "a signed checkpoint trusted from before: the export must extend it");
  c->audit->add_flag("--force", c->force, "replace an existing output file");
  c->audit->footer(kExitCodes);

  c->accounting = report->add_subcommand(
      "accounting", "a patient-ready accounting of disclosures of one lead (HIPAA 164.528)");
  c->accounting->add_option("LEAD_ID", c->lead_id, "lead id")->required();
  c->accounting->add_option("-o,--output", c->output, "the HTML file to write (mode 0600)")
      ->required();
  c->accounting->add_option("--since", c->since,
                            "from this date (YYYY-MM-DD or RFC 3339; default: all)");
  c->accounting->add_option("--pubkey", c->pubkey,
                            "verifier key, or a file holding it: every row is checked against "
                            "it (default: the key the daemon serves)");
  c->accounting->add_flag("--force", c->force, "replace an existing output file");
  c->accounting->footer(kExitCodes);
  return c;
}

std::optional<int> RunReportCommand(const ReportCommands& c, const ConnectionFlags& flags) {
  if (c.audit->parsed()) return RunAuditReport(c, flags);
  if (c.accounting->parsed()) return RunAccountingReport(c, flags);
  return std::nullopt;
}

}  // namespace leadvault::tools
