#include "tools/ctl_html.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "keys/status_macros.h"
#include "tools/ctl_files.h"
#include "tools/ctl_print.h"

namespace leadvault::tools {
namespace {

// Inline only: the policy forbids every fetch, script and frame.
constexpr char kPageHead[] = R"(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { font: 14px/1.45 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #1b1b1b;
       background: #fff; margin: 24px auto; max-width: 1000px; padding: 0 16px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
header p.cite { color: #555; margin: 0 0 12px; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; margin: 8px 0; }
dl.facts dt { font-weight: bold; } dl.facts dd { margin: 0; }
code { font: 12px/1.3 "DejaVu Sans Mono", "Liberation Mono", monospace; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f5f7; } td.num { text-align: right; white-space: nowrap; }
td.when { white-space: nowrap; } td.detail { overflow-wrap: anywhere; font-size: 12px; }
.reason { white-space: pre-wrap; overflow-wrap: anywhere; } td.reason { min-width: 16em; }
.verification { border: 2px solid; border-radius: 6px; padding: 4px 16px 8px; margin: 16px 0; }
.verification.ok { border-color: #1e8e3e; background: #e6f4ea; }
.verification.failed { border-color: #d93025; background: #fce8e6; }
.verification h2 { border: 0; margin-top: 8px; }
.verdict { font-weight: bold; overflow-wrap: anywhere; }
ul.legend { list-style: none; padding: 0; margin: 4px 0; display: flex; flex-wrap: wrap; gap: 4px 18px; }
.swatch { display: inline-block; width: 12px; height: 12px; margin-right: 6px; vertical-align: -1px; }
svg.chart { width: 100%; height: auto; border: 1px solid #e3e7eb; }
svg.chart text { font: 11px "DejaVu Sans", Arial, sans-serif; fill: #444; }
p.empty { color: #555; font-style: italic; }
.suppressed { color: #777; font-style: italic; }
footer { margin-top: 32px; color: #555; font-size: 12px; }
@media print { body { margin: 0; max-width: none; } details { display: block; } }
</style>
)";

// 1, 2 or 5 times a power of ten, at least `x`.
uint64_t NiceCeiling(uint64_t x) {
  uint64_t scale = 1;
  while (true) {
    for (uint64_t m : {1, 2, 5}) {
      if (m * scale >= x) return m * scale;
    }
    scale *= 10;
  }
}

std::string Num(double x) { return absl::StrCat(std::round(x * 10) / 10); }

}  // namespace

// ---- Writing the file ---------------------------------------------------------

// Writes `html` to `path` through the new private file `path`.partial
// (WriteNewFile), renamed into place: never over an existing file unless
// `force`, and never through a symlink (rename replaces the link itself).
absl::Status WriteReportFile(const std::string& path, const std::string& html, bool force) {
  const std::string partial = absl::StrCat(path, ".partial");
  LV_RETURN_IF_ERROR(WriteNewFile(partial, html));
  const unsigned int flags = force ? 0 : RENAME_NOREPLACE;
  if (::renameat2(AT_FDCWD, partial.c_str(), AT_FDCWD, path.c_str(), flags) != 0) {
    absl::Status refused = errno == EEXIST
                               ? AlreadyThere(path)
                               : absl::UnavailableError(absl::StrCat("cannot write ", path));
    ::unlink(partial.c_str());
    return refused;
  }
  return absl::OkStatus();
}

// ---- HTML ---------------------------------------------------------------------

std::string IsoTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

std::string Code(absl::string_view text) {
  return absl::StrCat("<code>", HtmlEscape(text), "</code>");
}

// The opening of a page titled `title`, through its <body>'s <header> facts.
std::string PageStart(absl::string_view title, absl::string_view cite,
                      const std::vector<std::pair<std::string, std::string>>& facts_html) {
  std::string out = kPageHead;
  absl::StrAppend(&out, "<title>", HtmlEscape(title), "</title>\n</head>\n<body>\n<header>\n<h1>",
                  HtmlEscape(title), "</h1>\n<p class=\"cite\">", HtmlEscape(cite),
                  "</p>\n<dl class=\"facts\">\n");
  for (const auto& [name, value] : facts_html) {
    absl::StrAppend(&out, "<dt>", HtmlEscape(name), "</dt><dd>", value, "</dd>\n");
  }
  absl::StrAppend(&out, "</dl>\n</header>\n");
  return out;
}

std::string PageEnd(absl::string_view footer) {
  return absl::StrCat("<footer>", HtmlEscape(footer), "</footer>\n</body>\n</html>\n");
}

// A table whose cells are already HTML; `classes` names each column's CSS
// class ("num" aligns right, "reason" keeps line breaks; "" none).
std::string Table(const std::vector<std::string>& headers, const std::vector<std::string>& classes,
                  const std::vector<std::vector<std::string>>& rows) {
  std::string out = "<table>\n<thead><tr>";
  for (const std::string& h : headers) absl::StrAppend(&out, "<th>", HtmlEscape(h), "</th>");
  absl::StrAppend(&out, "</tr></thead>\n<tbody>\n");
  for (const auto& row : rows) {
    absl::StrAppend(&out, "<tr>");
    for (size_t i = 0; i < row.size(); ++i) {
      if (i < classes.size() && !classes[i].empty()) {
        absl::StrAppend(&out, "<td class=\"", classes[i], "\">", row[i], "</td>");
      } else {
        absl::StrAppend(&out, "<td>", row[i], "</td>");
      }
    }
    absl::StrAppend(&out, "</tr>\n");
  }
  absl::StrAppend(&out, "</tbody>\n</table>\n");
  return out;
}

// A section `id`: its heading and what it shows (`intro_html`), then the
// table, or `empty` when there are no rows.
std::string TableSection(absl::string_view id, absl::string_view heading,
                         absl::string_view intro_html, absl::string_view empty,
                         const std::vector<std::string>& headers,
                         const std::vector<std::string>& classes,
                         const std::vector<std::vector<std::string>>& rows) {
  return absl::StrCat(
      "<section id=\"", id, "\">\n<h2>", HtmlEscape(heading), "</h2>\n<p>", intro_html, "</p>\n",
      rows.empty() ? absl::StrCat("<p class=\"empty\">", HtmlEscape(empty), "</p>\n")
                   : Table(headers, classes, rows),
      "</section>\n");
}

// ---- SVG bar charts -----------------------------------------------------------

std::string RenderBarChart(const BarChart& chart) {
  constexpr double kWidth = 960, kHeight = 260;
  constexpr double kLeft = 56, kRight = 12, kTop = 12, kBottom = 36;
  constexpr int kTicks = 4;
  const double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  const size_t buckets = chart.bucket_labels.size();
  uint64_t highest = 0;
  for (size_t b = 0; b < buckets; ++b) {
    uint64_t stack = 0;
    for (const Series& s : chart.series) {
      stack = chart.stacked ? stack + s.values[b] : std::max(stack, s.values[b]);
    }
    highest = std::max(highest, stack);
  }
  const uint64_t step = NiceCeiling((std::max<uint64_t>(highest, 1) + kTicks - 1) / kTicks);
  const double top = static_cast<double>(step * kTicks);
  std::string out = absl::StrCat("<svg class=\"chart\" viewBox=\"0 0 ", kWidth, " ", kHeight,
                                 "\" width=\"", kWidth, "\" height=\"", kHeight,
                                 "\" role=\"img\" aria-label=\"", HtmlEscape(chart.label), "\">\n");
  for (int t = 0; t <= kTicks; ++t) {
    const double y = kTop + plot_h - plot_h * t / kTicks;
    absl::StrAppend(&out, "<line x1=\"", kLeft, "\" x2=\"", kWidth - kRight, "\" y1=\"", Num(y),
                    "\" y2=\"", Num(y), "\" stroke=\"", t == 0 ? "#888" : "#e3e7eb", "\"/>",
                    "<text x=\"", kLeft - 6, "\" y=\"", Num(y + 4), "\" text-anchor=\"end\">",
                    step * t, "</text>\n");
  }
  const double slot = buckets == 0 ? plot_w : plot_w / static_cast<double>(buckets);
  const size_t label_every = std::max<size_t>(1, (buckets + 7) / 8);
  const double bar = slot * 0.8;
  const double sub = chart.stacked ? bar : bar / static_cast<double>(chart.series.size());
  for (size_t b = 0; b < buckets; ++b) {
    const double x0 = kLeft + slot * static_cast<double>(b) + slot * 0.1;
    double base = 0;
    for (size_t i = 0; i < chart.series.size(); ++i) {
      const Series& s = chart.series[i];
      const uint64_t v = s.values[b];
      if (v == 0) continue;
      const double h = plot_h * static_cast<double>(v) / top;
      const double x = chart.stacked ? x0 : x0 + sub * static_cast<double>(i);
      const double y = kTop + plot_h - (chart.stacked ? base : 0) - h;
      absl::StrAppend(&out, "<rect x=\"", Num(x), "\" y=\"", Num(y), "\" width=\"",
                      Num(std::max(sub, 1.0)), "\" height=\"", Num(h), "\" fill=\"", s.color,
                      "\"><title>", HtmlEscape(chart.bucket_labels[b]), " ", HtmlEscape(s.name),
                      ": ", v, "</title></rect>\n");
      if (chart.stacked) base += h;
    }
    if (b % label_every == 0) {
      absl::StrAppend(&out, "<text x=\"", Num(x0 + bar / 2), "\" y=\"", Num(kHeight - 14),
                      "\" text-anchor=\"middle\">", HtmlEscape(chart.bucket_labels[b]),
                      "</text>\n");
    }
  }
  absl::StrAppend(&out, "</svg>\n");
  return out;
}

std::string Legend(const std::vector<Series>& series) {
  std::string out = "<ul class=\"legend\">";
  for (const Series& s : series) {
    uint64_t total = 0;
    for (uint64_t v : s.values) total += v;
    absl::StrAppend(&out, "<li><span class=\"swatch\" style=\"background:", s.color, "\"></span>",
                    HtmlEscape(s.name), " (", total, ")</li>");
  }
  absl::StrAppend(&out, "</ul>\n");
  return out;
}

// The chart's numbers as a table (for screen readers and for copying),
// only the buckets with any.
std::string ChartNumbers(const BarChart& chart) {
  std::vector<std::string> headers = {"period"};
  std::vector<std::string> classes = {""};
  for (const Series& s : chart.series) {
    headers.push_back(s.name);
    classes.push_back("num");
  }
  std::vector<std::vector<std::string>> rows;
  for (size_t b = 0; b < chart.bucket_labels.size(); ++b) {
    std::vector<std::string> row = {HtmlEscape(chart.bucket_labels[b])};
    bool any = false;
    for (const Series& s : chart.series) {
      row.push_back(absl::StrCat(s.values[b]));
      any = any || s.values[b] > 0;
    }
    if (any) rows.push_back(std::move(row));
  }
  return absl::StrCat("<details><summary>The numbers</summary>\n", Table(headers, classes, rows),
                      "</details>\n");
}

}  // namespace leadvault::tools
