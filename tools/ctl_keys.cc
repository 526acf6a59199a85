#include "tools/ctl_keys.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <thread>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "leadvault/v1/leadvault.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tools/ctl_print.h"

namespace leadvault::tools {
namespace {

namespace v1 = ::leadvault::v1;

// Keys under the current version, of all: the re-wrap's progress.
uint64_t UnderCurrent(const v1::GetMasterKeyStatusResponse& s) {
  for (const v1::MasterKeyVersion& v : s.versions()) {
    if (v.current()) return v.data_keys();
  }
  return 0;
}

bool Finished(const v1::GetMasterKeyStatusResponse& s) {
  return s.rewrap().done() && s.rewrap().kek_version() == s.current_version();
}

// One GetMasterKeyStatus call; its status in `*rpc`.
v1::GetMasterKeyStatusResponse Status(const Connection& connection, bool progress_only,
                                      grpc::Status* rpc) {
  v1::GetMasterKeyStatusRequest request;
  request.set_progress_only(progress_only);
  v1::GetMasterKeyStatusResponse response;
  grpc::ClientContext context;
  connection.Prepare(&context);
  *rpc = v1::Admin::NewStub(connection.channel())->GetMasterKeyStatus(&context, request, &response);
  return response;
}

void PrintStatus(const v1::GetMasterKeyStatusResponse& s) {
  std::printf("current master-key version: %u\n", s.current_version());
  for (const v1::MasterKeyVersion& v : s.versions()) {
    std::printf("  version %u%s: %llu data keys%s\n", v.version(), v.current() ? " (current)" : "",
                static_cast<unsigned long long>(v.data_keys()),
                v.in_use() ? "" : "  (NOT IN USE: these keys cannot be unwrapped)");
  }
  std::printf("data keys in all: %llu\n", static_cast<unsigned long long>(s.data_keys()));
  const v1::RewrapProgress& r = s.rewrap();
  if (Finished(s)) {
    std::printf("re-wrap to version %u: done (%llu moved)\n", r.kek_version(),
                static_cast<unsigned long long>(r.rewrapped()));
  } else {
    std::printf("re-wrap to version %u: running (%llu moved so far)\n", s.current_version(),
                static_cast<unsigned long long>(r.rewrapped()));
  }
  if (r.unreadable() > 0) {
    std::printf("  %llu data keys could not be unwrapped and were left as they are\n",
                static_cast<unsigned long long>(r.unreadable()));
  }
  if (!r.last_error().empty()) std::printf("  its last batch failed: %s\n", r.last_error().c_str());
  for (const v1::MasterKeyVersion& v : s.versions()) {
    if (!v.current() && v.in_use() && v.data_keys() == 0 && Finished(s)) {
      std::printf("version %u wraps nothing: `leadvaultctl keys retire %u` retires it\n",
                  v.version(), v.version());
    }
  }
}

// "[##########..........]  52%  520,000 of 1,000,000 data keys under version 2".
// `done` and `total` come from the first (counting) poll; later polls ask for
// the progress only, and the keys moved since then are added to `done`.
void ShowProgress(uint64_t done, uint64_t total, uint32_t version, bool tty) {
  done = std::min(done, total);
  const int percent = total == 0 ? 100 : static_cast<int>(100 * done / total);
  constexpr int kWidth = 30;
  std::string bar(kWidth * percent / 100, '#');
  bar.resize(kWidth, '.');
  std::fprintf(stderr, "%s[%s] %3d%%  %llu of %llu data keys under version %u%s", tty ? "\r" : "",
               bar.c_str(), percent, static_cast<unsigned long long>(done),
               static_cast<unsigned long long>(total), version, tty ? "" : "\n");
  std::fflush(stderr);
}

// Without --follow: one counting call. With it: a counting call, then calls
// for the progress only (no scan of every data key) until the re-wrap is done
// or fails, then a counting call for the final figures.
int RunStatus(const Connection& connection, const KeysCommands& c) {
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  grpc::Status rpc;
  v1::GetMasterKeyStatusResponse first = Status(connection, /*progress_only=*/false, &rpc);
  if (!rpc.ok()) return ReportRpcError(rpc, connection);
  if (c.follow && (Finished(first) || !first.rewrap().last_error().empty())) {
    ShowProgress(UnderCurrent(first), first.data_keys(), first.current_version(), tty);
    if (tty) std::fputc('\n', stderr);
  } else if (c.follow) {
    const uint64_t total = first.data_keys();
    const uint64_t under_current = UnderCurrent(first);
    const uint64_t moved_before = first.rewrap().rewrapped();
    v1::GetMasterKeyStatusResponse s = first;
    while (true) {
      const uint64_t moved =
          s.rewrap().kek_version() == first.current_version() ? s.rewrap().rewrapped() : 0;
      ShowProgress(under_current + (moved > moved_before ? moved - moved_before : 0), total,
                   s.current_version(), tty);
      if (Finished(s) || !s.rewrap().last_error().empty() ||
          s.current_version() != first.current_version()) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::seconds(c.interval_seconds));
      s = Status(connection, /*progress_only=*/true, &rpc);
      if (!rpc.ok()) {
        if (tty) std::fputc('\n', stderr);
        return ReportRpcError(rpc, connection);
      }
    }
    if (tty) std::fputc('\n', stderr);
    first = Status(connection, /*progress_only=*/false, &rpc);
    if (!rpc.ok()) return ReportRpcError(rpc, connection);
  }
  if (c.json) {
    if (!PrintJson(first)) return ReportError(absl::InternalError("cannot print as JSON"));
  } else {
    PrintStatus(first);
  }
  return first.rewrap().last_error().empty() ? kExitOk : kExitFailed;
}

int RunRotate(const Connection& connection, bool json) {
  v1::RotateMasterKeyResponse response;
  grpc::ClientContext context;
  connection.Prepare(&context);
  grpc::Status status =
      v1::Admin::NewStub(connection.channel())->RotateMasterKey(&context, {}, &response);
  if (!status.ok()) return ReportRpcError(status, connection);
  if (json) {
    return PrintJson(response) ? kExitOk : ReportError(absl::InternalError("cannot print as JSON"));
  }
  std::printf(
      "master-key version %u is current (was %u); every data key is being re-wrapped under it: "
      "`leadvaultctl keys status --follow` follows it\n",
      response.kek_version(), response.previous_version());
  return kExitOk;
}

int RunRetire(const Connection& connection, const KeysCommands& c) {
  v1::RetireMasterKeyRequest request;
  request.set_kek_version(c.version);
  v1::RetireMasterKeyResponse response;
  grpc::ClientContext context;
  connection.Prepare(&context);
  grpc::Status status =
      v1::Admin::NewStub(connection.channel())->RetireMasterKey(&context, request, &response);
  if (!status.ok()) return ReportRpcError(status, connection);
  if (c.json) {
    PrintJsonDocument({{"retired_version", c.version}});
    return kExitOk;
  }
  std::printf(
      "master-key version %u is retired: the daemon starts without it (keep it with any backup "
      "taken before now)\n",
      c.version);
  return kExitOk;
}

}  // namespace

std::unique_ptr<KeysCommands> AddKeysCommands(CLI::App& app) {
  auto c = std::make_unique<KeysCommands>();
  CLI::App* keys = app.add_subcommand("keys", "master-key rotation (admin)");
  keys->require_subcommand(1);
  c->rotate = keys->add_subcommand(
      "rotate",
      "make the one new key in the daemon's key source the current master-key version and "
      "re-wrap every data key under it in the background");
  c->rotate->add_flag("--json", c->json,
                      "print {\"kek_version\", \"previous_version\"} (proto field names)");
  c->status = keys->add_subcommand(
      "status", "master-key versions, data keys under each, and the re-wrap's progress");
  c->status->add_flag("--follow", c->follow,
                      "poll until the re-wrap is done, with a progress bar on stderr");
  c->status->add_option("--interval", c->interval_seconds, "seconds between polls with --follow")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  c->status->add_flag("--json", c->json,
                      "print the status as one JSON document (GetMasterKeyStatusResponse, proto "
                      "field names); with --follow only the final one, the progress bar staying "
                      "on stderr");
  c->retire = keys->add_subcommand("retire",
                                   "retire a master-key version nothing is wrapped under any more");
  c->retire->add_option("VERSION", c->version, "the version (from keys status)")
      ->required()
      ->check(CLI::Range(1u, 4000000000u));
  c->retire->add_flag("--json", c->json, "print {\"retired_version\": VERSION}");
  return c;
}

std::optional<int> RunKeysCommand(const KeysCommands& c, const ConnectionFlags& flags) {
  if (c.rotate->parsed()) {
    return WithConnection(
        flags, [&](const Connection& connection) { return RunRotate(connection, c.json); });
  }
  if (c.status->parsed()) {
    return WithConnection(flags,
                          [&](const Connection& connection) { return RunStatus(connection, c); });
  }
  if (c.retire->parsed()) {
    return WithConnection(flags,
                          [&](const Connection& connection) { return RunRetire(connection, c); });
  }
  return std::nullopt;
}

}  // namespace leadvault::tools
