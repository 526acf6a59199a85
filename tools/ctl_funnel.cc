#include "tools/ctl_funnel.h"

#include <cstdio>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "keys/status_macros.h"
#include "leadvault/v1/leadvault.grpc.pb.h"
#include "tools/ctl_audit.h"
#include "tools/ctl_html.h"
#include "tools/ctl_print.h"

namespace leadvault::tools {
namespace {

namespace v1 = ::leadvault::v1;

constexpr char kExitCodes[] =
    "Exit codes: 0 the report was printed (and the page written); 1 the call or the file "
    "failed; 2 usage (a bad flag, date or dimension, no token).";

// What a suppressed count prints as, and the line that explains it.
constexpr char kSuppressedMark[] = "s";
constexpr char kSuppressedNote[] =
    "s: suppressed, a count from 1 to 10 or one that would reveal such a count (no cell below 11 "
    "leads is ever shown)";

absl::StatusOr<std::vector<v1::FunnelDimension>> ParseDimensions(const std::string& text) {
  std::vector<v1::FunnelDimension> out;
  for (absl::string_view name : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    const std::string n = absl::AsciiStrToLower(absl::StripAsciiWhitespace(name));
    if (n == "week") {
      out.push_back(v1::FUNNEL_DIMENSION_WEEK);
    } else if (n == "source") {
      out.push_back(v1::FUNNEL_DIMENSION_SOURCE);
    } else if (n == "campaign") {
      out.push_back(v1::FUNNEL_DIMENSION_CAMPAIGN);
    } else if (n == "service_line" || n == "service-line") {
      out.push_back(v1::FUNNEL_DIMENSION_SERVICE_LINE);
    } else if (n == "status") {
      out.push_back(v1::FUNNEL_DIMENSION_STATUS);
    } else {
      return absl::InvalidArgumentError(
          "--by: dimensions are week, source, campaign, service_line and status");
    }
  }
  return out;
}

std::string DimensionName(v1::FunnelDimension d) {
  return ShortEnumName(v1::FunnelDimension_Name(d), "FUNNEL_DIMENSION_");
}

std::string CountText(const v1::FunnelCount& c) {
  return c.suppressed() ? kSuppressedMark : absl::StrCat(c.value());
}

// "45 s", "5 min", "2 h", "3 d"; "> 30 d" for -1.
std::string DurationText(int64_t seconds) {
  if (seconds < 0) return "> 30 d";
  if (seconds < 60) return absl::StrCat(seconds, " s");
  if (seconds < 3600) return absl::StrCat(seconds / 60, " min");
  if (seconds < 86400) return absl::StrCat(seconds / 3600, " h");
  return absl::StrCat(seconds / 86400, " d");
}

std::string RateText(bool has, double rate) {
  if (!has) return "-";
  return absl::StrCat(static_cast<int64_t>(rate * 1000 + 0.5) / 10.0, "%");
}

// A count and its share of `of` ("12 (27.3%)"), or the mark when withheld.
std::string ShareText(const v1::FunnelCount& c, const v1::FunnelCount& of) {
  if (c.suppressed()) return kSuppressedMark;
  if (of.suppressed() || of.value() == 0) return absl::StrCat(c.value());
  return absl::StrCat(
      c.value(), " (",
      RateText(true, static_cast<double>(c.value()) / static_cast<double>(of.value())), ")");
}

// The group's label per dimension asked for.
std::vector<std::string> GroupCells(const v1::FunnelRow& row,
                                    const std::vector<v1::FunnelDimension>& dims) {
  std::vector<std::string> out;
  for (v1::FunnelDimension d : dims) {
    switch (d) {
      case v1::FUNNEL_DIMENSION_WEEK:
        out.push_back(row.week());
        break;
      case v1::FUNNEL_DIMENSION_SOURCE:
        out.push_back(ShortEnumName(v1::SourceChannel_Name(row.source()), "SOURCE_CHANNEL_"));
        break;
      case v1::FUNNEL_DIMENSION_CAMPAIGN:
        out.push_back(row.campaign());
        break;
      case v1::FUNNEL_DIMENSION_SERVICE_LINE:
        out.push_back(row.service_line());
        break;
      case v1::FUNNEL_DIMENSION_STATUS:
        out.push_back(ShortEnumName(v1::LeadStatus_Name(row.status()), "LEAD_STATUS_"));
        break;
      default:
        out.push_back("?");
    }
  }
  return out;
}

const std::vector<std::string>& MetricHeaders() {
  static const auto* headers = new std::vector<std::string>{
      "leads", "dups",      "contacted", "qualified",  "scheduled",  "showed", "lost",
      "disq.", "appt rate", "show rate", "STL median", "STL p90",    "<=5m",   "<=1h",
      "<=1d",  "email ok",  "sms ok",    "voice ok",   "autodial ok"};
  return *headers;
}

std::vector<std::string> MetricCells(const v1::FunnelRow& r) {
  return {CountText(r.leads()),
          CountText(r.duplicates()),
          CountText(r.contacted()),
          CountText(r.qualified()),
          CountText(r.scheduled()),
          CountText(r.showed()),
          CountText(r.closed_lost()),
          CountText(r.disqualified()),
          RateText(r.has_lead_to_appointment_rate(), r.lead_to_appointment_rate().value()),
          RateText(r.has_show_rate(), r.show_rate().value()),
          r.speed_to_lead_median_seconds() != 0
              ? absl::StrCat("<= ", DurationText(r.speed_to_lead_median_seconds()))
              : "-",
          r.speed_to_lead_p90_seconds() != 0
              ? absl::StrCat("<= ", DurationText(r.speed_to_lead_p90_seconds()))
              : "-",
          CountText(r.within_5_minutes()),
          CountText(r.within_1_hour()),
          CountText(r.within_1_day()),
          ShareText(r.consent_email(), r.leads()),
          ShareText(r.consent_sms(), r.leads()),
          ShareText(r.consent_voice(), r.leads()),
          ShareText(r.consent_autodialed_voice(), r.leads())};
}

std::string DateOf(int64_t unix_micros) {
  return absl::FormatTime("%Y-%m-%d", absl::FromUnixMicros(unix_micros), absl::UTCTimeZone());
}

void PrintReport(const v1::GetFunnelMetricsResponse& response,
                 const std::vector<v1::FunnelDimension>& dims) {
  std::printf("funnel: leads created %s to %s (weeks from Monday, UTC; the end excluded)\n",
              DateOf(response.from_unix_micros()).c_str(),
              DateOf(response.to_unix_micros()).c_str());
  std::vector<std::vector<std::string>> table;
  std::vector<std::string> header;
  for (v1::FunnelDimension d : dims) header.push_back(DimensionName(d));
  for (const std::string& h : MetricHeaders()) header.push_back(h);
  table.push_back(header);
  auto add = [&](std::vector<std::string> group, const v1::FunnelRow& row) {
    for (std::string& cell : MetricCells(row)) group.push_back(std::move(cell));
    table.push_back(std::move(group));
  };
  for (const v1::FunnelRow& row : response.rows()) add(GroupCells(row, dims), row);
  std::vector<std::string> total(dims.size(), "");
  if (!total.empty()) total[0] = "total";
  add(total.empty() ? std::vector<std::string>{} : total, response.total());
  PrintTable(table);
  std::printf(
      "%zu rows; %s; STL: speed to lead, creation to first contact attempt (the "
      "histogram bucket's upper edge)\n",
      static_cast<size_t>(response.rows_size()), kSuppressedNote);
}

// ---- The page -------------------------------------------------------------------

std::string CountHtml(const v1::FunnelCount& c) {
  return c.suppressed() ? "<span class=\"suppressed\" title=\"suppressed\">s</span>"
                        : absl::StrCat(c.value());
}

std::string FunnelSection(const v1::FunnelRow& total) {
  struct Stage {
    const char* name;
    const v1::FunnelCount& count;
  };
  const Stage stages[] = {{"leads", total.leads()},
                          {"contacted", total.contacted()},
                          {"qualified", total.qualified()},
                          {"scheduled", total.scheduled()},
                          {"showed", total.showed()}};
  BarChart chart;
  chart.label = "The funnel: leads of the period by the furthest stage they reached";
  chart.stacked = false;
  Series series{"leads", "#1f77b4", {}};
  std::vector<std::vector<std::string>> rows;
  for (const Stage& s : stages) {
    chart.bucket_labels.push_back(s.name);
    series.values.push_back(s.count.suppressed() ? 0 : static_cast<uint64_t>(s.count.value()));
    rows.push_back({HtmlEscape(s.name), CountHtml(s.count)});
  }
  chart.series.push_back(std::move(series));
  const Stage consent[] = {{"email", total.consent_email()},
                           {"sms", total.consent_sms()},
                           {"voice (manual calls)", total.consent_voice()},
                           {"autodialed or prerecorded voice", total.consent_autodialed_voice()}};
  std::vector<std::vector<std::string>> consent_rows;
  for (const Stage& s : consent) {
    consent_rows.push_back(
        {HtmlEscape(s.name), CountHtml(s.count),
         HtmlEscape(s.count.suppressed() ? "" : ShareText(s.count, total.leads()))});
  }
  return absl::StrCat(
      "<section id=\"funnel\">\n<h2>The funnel</h2>\n<p>Leads created in the period and how many "
      "reached each stage or a later one. Lead to appointment: ",
      HtmlEscape(
          RateText(total.has_lead_to_appointment_rate(), total.lead_to_appointment_rate().value())),
      "; show rate: ", HtmlEscape(RateText(total.has_show_rate(), total.show_rate().value())),
      ".</p>\n", RenderBarChart(chart), Table({"stage", "leads"}, {"", "num"}, rows),
      "<h3>Consent to be contacted</h3>\n<p>Leads whose own consent ledger holds active consent "
      "on the channel (for scheduling, follow-up or marketing).</p>\n",
      Table({"channel", "leads", "share"}, {"", "num", "num"}, consent_rows), "</section>\n");
}

std::string SpeedSection(const v1::GetFunnelMetricsResponse& by_source) {
  BarChart chart;
  chart.label = "Speed to lead per source: first contact attempts by time after creation";
  chart.stacked = true;
  Series b5{"within 5 min", "#2ca02c", {}}, b60{"5 min to 1 h", "#98df8a", {}},
      bday{"1 h to 1 day", "#ff7f0e", {}}, blate{"over 1 day", "#d62728", {}};
  std::vector<std::vector<std::string>> rows;
  for (const v1::FunnelRow& r : by_source.rows()) {
    const std::string source = ShortEnumName(v1::SourceChannel_Name(r.source()), "SOURCE_CHANNEL_");
    const bool shown = !r.first_contacted().suppressed() && !r.within_5_minutes().suppressed() &&
                       !r.within_1_hour().suppressed() && !r.within_1_day().suppressed();
    rows.push_back({HtmlEscape(source), CountHtml(r.first_contacted()),
                    CountHtml(r.within_5_minutes()), CountHtml(r.within_1_hour()),
                    CountHtml(r.within_1_day()),
                    HtmlEscape(r.speed_to_lead_median_seconds() != 0
                                   ? "≤ " + DurationText(r.speed_to_lead_median_seconds())
                                   : "-"),
                    HtmlEscape(r.speed_to_lead_p90_seconds() != 0
                                   ? "≤ " + DurationText(r.speed_to_lead_p90_seconds())
                                   : "-")});
    if (!shown) continue;  // a chart never draws what the table withholds
    chart.bucket_labels.push_back(source);
    const auto v = [](const v1::FunnelCount& c) { return static_cast<uint64_t>(c.value()); };
    b5.values.push_back(v(r.within_5_minutes()));
    b60.values.push_back(v(r.within_1_hour()) - v(r.within_5_minutes()));
    bday.values.push_back(v(r.within_1_day()) - v(r.within_1_hour()));
    blate.values.push_back(v(r.first_contacted()) - v(r.within_1_day()));
  }
  chart.series = {b5, b60, bday, blate};
  std::string out =
      "<section id=\"speed\">\n<h2>Speed to lead per source</h2>\n<p>Creation to first contact "
      "attempt, over the leads with one. Median and 90th percentile are the upper edge of the "
      "bucket that holds them. A source whose counts are suppressed is left out of the "
      "chart.</p>\n";
  if (!chart.bucket_labels.empty()) {
    absl::StrAppend(&out, RenderBarChart(chart), Legend(chart.series));
  }
  absl::StrAppend(&out,
                  rows.empty() ? "<p class=\"empty\">No leads in the period.</p>\n"
                               : Table({"source", "contacted", "within 5 min", "within 1 h",
                                        "within 1 day", "median", "90th percentile"},
                                       {"", "num", "num", "num", "num", "num", "num"}, rows),
                  "</section>\n");
  return out;
}

std::string WeeklySection(const v1::GetFunnelMetricsResponse& by_week) {
  BarChart chart;
  chart.label = "Leads created per week";
  Series leads{"leads", "#1f77b4", {}}, scheduled{"scheduled", "#2ca02c", {}};
  chart.stacked = false;
  std::vector<std::vector<std::string>> rows;
  for (const v1::FunnelRow& r : by_week.rows()) {
    chart.bucket_labels.push_back(r.week());
    leads.values.push_back(r.leads().suppressed() ? 0 : static_cast<uint64_t>(r.leads().value()));
    scheduled.values.push_back(
        r.scheduled().suppressed() ? 0 : static_cast<uint64_t>(r.scheduled().value()));
    rows.push_back({HtmlEscape(r.week()), CountHtml(r.leads()), CountHtml(r.duplicates()),
                    CountHtml(r.scheduled()), CountHtml(r.showed())});
  }
  chart.series = {leads, scheduled};
  std::string out =
      "<section id=\"weekly\">\n<h2>Weekly volume</h2>\n<p>Leads by the week they were created "
      "(Monday, UTC), and how many of them were scheduled. A suppressed week draws no bar.</p>\n";
  if (!rows.empty()) absl::StrAppend(&out, RenderBarChart(chart), Legend(chart.series));
  absl::StrAppend(&out,
                  rows.empty() ? "<p class=\"empty\">No leads in the period.</p>\n"
                               : Table({"week", "leads", "duplicates", "scheduled", "showed"},
                                       {"", "num", "num", "num", "num"}, rows),
                  "</section>\n");
  return out;
}

std::string GroupedSection(const v1::GetFunnelMetricsResponse& grouped,
                           const std::vector<v1::FunnelDimension>& dims) {
  std::vector<std::string> headers, classes;
  for (v1::FunnelDimension d : dims) {
    headers.push_back(DimensionName(d));
    classes.push_back("");
  }
  for (const std::string& h : MetricHeaders()) {
    headers.push_back(h);
    classes.push_back("num");
  }
  std::vector<std::vector<std::string>> rows;
  auto add = [&](std::vector<std::string> group, const v1::FunnelRow& row) {
    std::vector<std::string> cells;
    for (const std::string& g : group) cells.push_back(HtmlEscape(g));
    const std::vector<const v1::FunnelCount*> counts = {
        &row.leads(),     &row.duplicates(), &row.contacted(),   &row.qualified(),
        &row.scheduled(), &row.showed(),     &row.closed_lost(), &row.disqualified()};
    for (const v1::FunnelCount* c : counts) cells.push_back(CountHtml(*c));
    const std::vector<std::string> text = MetricCells(row);
    for (size_t i = counts.size(); i < text.size(); ++i) {
      if (text[i] == kSuppressedMark) {
        cells.push_back("<span class=\"suppressed\" title=\"suppressed\">s</span>");
      } else {
        cells.push_back(HtmlEscape(text[i]));
      }
    }
    rows.push_back(std::move(cells));
  };
  for (const v1::FunnelRow& row : grouped.rows()) add(GroupCells(row, dims), row);
  std::vector<std::string> total(dims.size(), "");
  if (!total.empty()) total[0] = "total";
  add(total, grouped.total());
  return TableSection("grouped", "The report as asked",
                      HtmlEscape(absl::StrCat(kSuppressedNote, ".")), "No leads in the period.",
                      headers, classes, rows);
}

absl::StatusOr<v1::GetFunnelMetricsResponse> Ask(const Connection& connection,
                                                 v1::GetFunnelMetricsRequest request,
                                                 std::vector<v1::FunnelDimension> dims,
                                                 grpc::Status* rpc) {
  auto stub = v1::Analytics::NewStub(connection.channel());
  request.clear_group_by();
  for (v1::FunnelDimension d : dims) request.add_group_by(d);
  grpc::ClientContext context;
  connection.Prepare(&context);
  v1::GetFunnelMetricsResponse response;
  *rpc = stub->GetFunnelMetrics(&context, request, &response);
  if (!rpc->ok()) return absl::UnknownError("rpc");
  return response;
}

}  // namespace

std::string FunnelPage(const v1::GetFunnelMetricsResponse& grouped,
                       const v1::GetFunnelMetricsResponse& by_source,
                       const v1::GetFunnelMetricsResponse& by_week, const std::string& grouping,
                       absl::Time generated) {
  std::vector<v1::FunnelDimension> dims;
  if (auto parsed = ParseDimensions(grouping); parsed.ok()) dims = *parsed;
  std::string html = PageStart(
      "Lead funnel", "De-identified lead-generation metrics: no identifier of any person.",
      {{"Leads created", HtmlEscape(absl::StrCat(DateOf(grouped.from_unix_micros()), " to ",
                                                 DateOf(grouped.to_unix_micros()),
                                                 " (weeks from Monday, UTC; the end excluded)"))},
       {"Grouped by", HtmlEscape(grouping.empty() ? "nothing (the total)" : grouping)},
       {"Generated (UTC)", HtmlEscape(IsoTime(generated))},
       {"Small cells", HtmlEscape(kSuppressedNote)}});
  absl::StrAppend(&html, FunnelSection(grouped.total()), SpeedSection(by_source),
                  WeeklySection(by_week), GroupedSection(grouped, dims),
                  PageEnd("Made by leadvaultctl funnel from Analytics.GetFunnelMetrics; each "
                          "call is in the audit log."));
  return html;
}

std::unique_ptr<FunnelCommand> AddFunnelCommand(CLI::App& app) {
  auto c = std::make_unique<FunnelCommand>();
  c->funnel = app.add_subcommand(
      "funnel",
      "de-identified funnel metrics (analyst): leads, stages, speed to lead, appointment and "
      "show rates, small cells suppressed");
  c->funnel->footer(kExitCodes);
  c->funnel->add_option("--from", c->from, "first day, YYYY-MM-DD (UTC; widened to its Monday)")
      ->required();
  c->funnel->add_option("--to", c->to, "day after the last, YYYY-MM-DD (widened to a Monday)")
      ->required();
  c->funnel->add_option("--by", c->by,
                        "group by, comma-separated: week, source, campaign, service_line, status");
  c->funnel->add_flag("--json", c->json, "print the response as JSON (proto field names)");
  c->funnel->add_option("--html", c->html,
                        "also write a self-contained chart page (mode 0600) to this file");
  c->funnel->add_flag("--force", c->force, "with --html: replace an existing file");
  return c;
}

std::optional<int> RunFunnelCommand(const FunnelCommand& c, const ConnectionFlags& flags) {
  if (!c.funnel->parsed()) return std::nullopt;
  absl::StatusOr<std::vector<v1::FunnelDimension>> dims = ParseDimensions(c.by);
  if (!dims.ok()) return ReportError(dims.status(), kExitUsage);
  absl::StatusOr<absl::Time> from = ParseTimeFlag("--from", c.from);
  if (!from.ok()) return ReportError(from.status(), kExitUsage);
  absl::StatusOr<absl::Time> to = ParseTimeFlag("--to", c.to);
  if (!to.ok()) return ReportError(to.status(), kExitUsage);
  return WithConnection(flags, [&](const Connection& connection) {
    v1::GetFunnelMetricsRequest request;
    request.set_from_unix_micros(absl::ToUnixMicros(*from));
    request.set_to_unix_micros(absl::ToUnixMicros(*to));
    grpc::Status rpc;
    absl::StatusOr<v1::GetFunnelMetricsResponse> grouped = Ask(connection, request, *dims, &rpc);
    if (!grouped.ok()) return ReportRpcError(rpc, connection);
    if (c.json) {
      if (!PrintJson(*grouped)) return ReportError(absl::InternalError("cannot print as JSON"));
    } else {
      PrintReport(*grouped, *dims);
    }
    if (c.html.empty()) return kExitOk;
    absl::StatusOr<v1::GetFunnelMetricsResponse> by_source =
        Ask(connection, request, {v1::FUNNEL_DIMENSION_SOURCE}, &rpc);
    if (!by_source.ok()) return ReportRpcError(rpc, connection);
    absl::StatusOr<v1::GetFunnelMetricsResponse> by_week =
        Ask(connection, request, {v1::FUNNEL_DIMENSION_WEEK}, &rpc);
    if (!by_week.ok()) return ReportRpcError(rpc, connection);
    const std::string html = FunnelPage(*grouped, *by_source, *by_week, c.by, absl::Now());
    if (absl::Status written = WriteReportFile(c.html, html, c.force); !written.ok()) {
      return ReportError(written);
    }
    if (!c.json) std::printf("wrote %s\n", c.html.c_str());
    return kExitOk;
  });
}

}  // namespace leadvault::tools
