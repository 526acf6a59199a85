// `leadvaultctl funnel`: de-identified funnel metrics for the analyst role
// (Analytics.GetFunnelMetrics) as a table, --json, or --html: one
// self-contained page (tools/ctl_html.h) with the funnel, speed to lead per
// source and the weekly volume.
#ifndef LEADVAULT_TOOLS_CTL_FUNNEL_H_
#define LEADVAULT_TOOLS_CTL_FUNNEL_H_

#include <memory>
#include <optional>
#include <string>

#include "CLI/CLI.hpp"
#include "leadvault/v1/leadvault.pb.h"
#include "tools/ctl_connection.h"

namespace leadvault::tools {

struct FunnelCommand {
  CLI::App* funnel = nullptr;
  std::string from, to;  // YYYY-MM-DD or RFC 3339 (UTC); to is exclusive
  std::string by;        // comma-separated dimensions
  bool json = false;
  std::string html;  // a file to write the chart page to
  bool force = false;
};

std::unique_ptr<FunnelCommand> AddFunnelCommand(CLI::App& app);

// Runs `funnel` if it was parsed: its exit code (0 ok, 1 the call or the
// file failed, 2 usage), or nullopt.
std::optional<int> RunFunnelCommand(const FunnelCommand& command, const ConnectionFlags& flags);

// The page `funnel --html` writes, from the report asked for (`grouped`) and
// the same period by source and by week. Every string is escaped.
std::string FunnelPage(const v1::GetFunnelMetricsResponse& grouped,
                       const v1::GetFunnelMetricsResponse& by_source,
                       const v1::GetFunnelMetricsResponse& by_week, const std::string& grouping,
                       absl::Time generated);

}  // namespace leadvault::tools

#endif  // LEADVAULT_TOOLS_CTL_FUNNEL_H_
