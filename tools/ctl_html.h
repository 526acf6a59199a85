// Self-contained HTML pages for leadvaultctl's reports (`report audit|
// accounting`, `funnel --html`): one file, inline CSS and inline SVG, no
// script and no external resource (a Content-Security-Policy forbids loading
// one). Callers escape every string they put in (HtmlEscape, ctl_print.h);
// the helpers here take already-escaped HTML where they say so.
#ifndef LEADVAULT_TOOLS_CTL_HTML_H_
#define LEADVAULT_TOOLS_CTL_HTML_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace leadvault::tools {

// Writes `html` to `path` through the new private file `path`.partial
// (WriteNewFile, mode 0600), renamed into place: never over an existing file
// unless `force`, and never through a symlink (rename replaces the link itself).
absl::Status WriteReportFile(const std::string& path, const std::string& html, bool force);

// "2026-12-03T16:09:37Z".
std::string IsoTime(absl::Time t);

// `text` escaped inside <code>.
std::string Code(absl::string_view text);

// The opening of a page titled `title` with a line citing what it is for,
// through its <body>'s <header> facts (name, value as HTML).
std::string PageStart(absl::string_view title, absl::string_view cite,
                      const std::vector<std::pair<std::string, std::string>>& facts_html);
std::string PageEnd(absl::string_view footer);

// A table whose cells are already HTML; `classes` names each column's CSS
// class ("num" aligns right, "reason" keeps line breaks; "" none).
std::string Table(const std::vector<std::string>& headers, const std::vector<std::string>& classes,
                  const std::vector<std::vector<std::string>>& rows);

// A section `id`: its heading and what it shows (`intro_html`), then the
// table, or `empty` when there are no rows.
std::string TableSection(absl::string_view id, absl::string_view heading,
                         absl::string_view intro_html, absl::string_view empty,
                         const std::vector<std::string>& headers,
                         const std::vector<std::string>& classes,
                         const std::vector<std::vector<std::string>>& rows);

// ---- SVG bar charts -----------------------------------------------------------

struct Series {
  std::string name;
  std::string color;             // "#rrggbb"
  std::vector<uint64_t> values;  // one per bucket
};

struct BarChart {
  std::string label;                       // what the chart shows (aria-label)
  std::vector<std::string> bucket_labels;  // "2026-12-01", one per bucket
  std::vector<Series> series;
  bool stacked = true;  // else side by side within a bucket
};

// The chart as inline SVG (960 x 260, scaled to the page's width).
std::string RenderBarChart(const BarChart& chart);
// Each series' colour, name and total.
std::string Legend(const std::vector<Series>& series);
// The chart's numbers as a table (for screen readers and for copying), only
// the buckets with any, in a <details>.
std::string ChartNumbers(const BarChart& chart);

}  // namespace leadvault::tools

#endif  // LEADVAULT_TOOLS_CTL_HTML_H_
