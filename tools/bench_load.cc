#include "tools/bench_load.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/tls.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/alarm.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/grpcpp.h"
#include "keys/secret_bytes.h"
#include "leadvault/v1/leadvault.grpc.pb.h"
#include "tools/bench_leads.h"
#include "tools/bench_stats.h"

namespace leadvault::tools {
namespace {

namespace v1 = ::leadvault::v1;
namespace health = ::grpc::health::v1;
using Clock = std::chrono::steady_clock;

// Two driver threads, one completion queue each: the client shares the
// machine with the daemon, so it must stay cheap.
constexpr int kDriverThreads = 2;
constexpr auto kCallDeadline = std::chrono::seconds(30);
constexpr uint64_t kFillProgressEvery = 100000;

// A connection of its own (a local subchannel pool keeps them apart).
struct Connection {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::LeadVault::Stub> leads;
  std::unique_ptr<health::Health::Stub> health;
};

// When a phase counts completions, and when it stops issuing calls.
struct PhasePlan {
  Clock::time_point start;
  Clock::time_point measure_from;
  Clock::time_point stop_at;  // Clock::time_point::max() for a count-bounded phase
  bool timed = true;
};

template <typename Request, typename Response>
using Reader = std::unique_ptr<grpc::ClientAsyncResponseReader<Response>>;

// What a phase does, plugged into the driver. Each function is called only
// from driver thread `t`'s own loop.
template <typename Request, typename Response>
struct Workload {
  // Fills the next request; false when the phase has no more work.
  std::function<bool(int t, Request&)> next;
  // PrepareAsync<Method> on connection `conn`.
  std::function<Reader<Request, Response>(int conn, grpc::ClientContext*, const Request&,
                                          grpc::CompletionQueue*)>
      prepare;
  // Sees every OK response (may be empty).
  std::function<void(int t, const Response&)> on_ok;
  const std::string* authorization = nullptr;  // "Bearer ..."; nullptr sends none
  std::atomic<uint64_t>* progress = nullptr;   // counts completions when set (fill)
};

template <typename Request, typename Response>
struct CallSlot {
  std::optional<grpc::ClientContext> context;  // a ClientContext serves one call only
  Request request;
  Response response;
  grpc::Status status;
  Reader<Request, Response> reader;
  Clock::time_point started;
  int conn = 0;         // the connection this slot's calls use
  grpc::Alarm backoff;  // fires the slot's next call after a RESOURCE_EXHAUSTED
  bool backing_off = false;
};

void PrintFillProgress(uint64_t done, const PhasePlan& plan, int daemon_pid) {
  double secs = std::chrono::duration<double>(Clock::now() - plan.start).count();
  std::string rss =
      daemon_pid > 0 ? absl::StrCat(", daemon RSS ", FormatRss(ReadRssKib(daemon_pid))) : "";
  std::printf("fill: %llu leads, %.0f/s%s\n", static_cast<unsigned long long>(done),
              secs > 0 ? static_cast<double>(done) / secs : 0.0, rss.c_str());
  std::fflush(stdout);
}

// Keeps `in_flight` calls outstanding on one completion queue until the plan
// stops or the workload runs out; records completions inside the window.
template <typename Request, typename Response>
void DriveOneThread(int t, int in_flight, int connections, int backoff_ms, const PhasePlan& plan,
                    const Workload<Request, Response>& work, int daemon_pid, PhaseSample& sample,
                    Clock::time_point& last_done) {
  using Slot = CallSlot<Request, Response>;
  const auto backoff = std::chrono::milliseconds(backoff_ms);
  std::minstd_rand jitter(static_cast<unsigned>(t) + 1);
  grpc::CompletionQueue cq;
  std::vector<Slot> slots(in_flight);
  // Thread t's slots take turns over connections t, t + threads, ...
  int mine = std::max(1, (connections - t + kDriverThreads - 1) / kDriverThreads);
  for (int i = 0; i < in_flight; ++i) slots[i].conn = t + kDriverThreads * (i % mine);
  auto launch = [&](Slot& s) {
    if (Clock::now() >= plan.stop_at || !work.next(t, s.request)) return false;
    s.context.emplace();
    s.context->set_deadline(std::chrono::system_clock::now() + kCallDeadline);
    if (work.authorization != nullptr) s.context->AddMetadata("authorization", *work.authorization);
    s.started = Clock::now();
    s.reader = work.prepare(s.conn, &*s.context, s.request, &cq);
    s.reader->StartCall();
    s.reader->Finish(&s.response, &s.status, &s);
    return true;
  };
  int outstanding = 0;
  for (Slot& s : slots) outstanding += launch(s) ? 1 : 0;
  void* tag = nullptr;
  bool ok = false;
  while (outstanding > 0 && cq.Next(&tag, &ok)) {
    Slot& s = *static_cast<Slot*>(tag);
    if (s.backing_off) {  // the alarm: the back-off is over
      s.backing_off = false;
      if (!launch(s)) --outstanding;
      continue;
    }
    Clock::time_point done = Clock::now();
    if (done >= plan.measure_from && done < plan.stop_at) {
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(done - s.started).count();
      sample.latencies_us.push_back(static_cast<uint32_t>(std::min<int64_t>(us, UINT32_MAX)));
      int code = static_cast<int>(s.status.error_code());
      ++sample.calls_by_code[code >= 0 && code < kGrpcCodeCount ? code : 2];
      last_done = done;
    }
    if (s.status.ok() && work.on_ok) work.on_ok(t, s.response);
    if (work.progress != nullptr) {
      uint64_t n = work.progress->fetch_add(1, std::memory_order_relaxed) + 1;
      if (n % kFillProgressEvery == 0) PrintFillProgress(n, plan, daemon_pid);
    }
    s.reader.reset();
    s.context.reset();
    if (backoff.count() > 0 && s.status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
        Clock::now() + backoff < plan.stop_at) {
      // As a well-behaved client does: wait (jittered 0.5x..1.5x) before the next call.
      s.backing_off = true;
      auto wait = std::chrono::duration_cast<std::chrono::system_clock::duration>(
          backoff / 2 + backoff * static_cast<int64_t>(jitter() % 1000) / 1000);
      s.backoff.Set(&cq, std::chrono::system_clock::now() + wait, &s);
      continue;
    }
    if (!launch(s)) --outstanding;
  }
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

int ConnectionCount(const LoadOptions& options) {
  return std::max(kDriverThreads, options.connections);
}

// One health Check at a time on `stub` until `stop`, recording each one that
// completes between `measure_from` and `stop_at`.
void ProbeHealth(health::Health::Stub& stub, Clock::time_point measure_from,
                 Clock::time_point stop_at, PhaseSample& sample) {
  while (Clock::now() < stop_at) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
    health::HealthCheckResponse response;
    Clock::time_point started = Clock::now();
    grpc::Status status = stub.Check(&context, health::HealthCheckRequest(), &response);
    Clock::time_point done = Clock::now();
    if (done < measure_from || done >= stop_at) continue;
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(done - started).count();
    sample.latencies_us.push_back(static_cast<uint32_t>(std::min<int64_t>(us, UINT32_MAX)));
    // NOT_SERVING counts as an error (UNAVAILABLE) in the probe's row.
    int code = static_cast<int>(status.error_code());
    if (status.ok() && response.status() != health::HealthCheckResponse::SERVING) {
      code = static_cast<int>(grpc::StatusCode::UNAVAILABLE);
    }
    ++sample.calls_by_code[code >= 0 && code < kGrpcCodeCount ? code : 2];
    // Probes are paced, as a load balancer's are: one per millisecond at most.
    std::this_thread::sleep_until(started + std::chrono::milliseconds(1));
  }
}

// Runs one phase on kDriverThreads threads and summarizes it. A timed phase
// runs warmup + duration and counts the calls completing in the duration; an
// untimed one runs until the workload is exhausted and counts every call.
template <typename Request, typename Response>
PhaseReport RunPhase(const char* name, const LoadOptions& options, bool timed,
                     uint64_t expected_calls, const Workload<Request, Response>& work) {
  PhasePlan plan;
  plan.timed = timed;
  plan.start = Clock::now();
  if (timed) {
    plan.measure_from = plan.start + std::chrono::seconds(options.warmup_seconds);
    plan.stop_at = plan.measure_from + std::chrono::seconds(options.duration_seconds);
    expected_calls = static_cast<uint64_t>(options.duration_seconds) * 40000;
  } else {
    plan.measure_from = plan.start;
    plan.stop_at = Clock::time_point::max();
  }
  std::vector<PhaseSample> samples(kDriverThreads);
  std::vector<Clock::time_point> last_done(kDriverThreads, plan.start);
  std::vector<std::thread> threads;
  for (int t = 0; t < kDriverThreads; ++t) {
    int in_flight =
        options.concurrency / kDriverThreads + (t < options.concurrency % kDriverThreads ? 1 : 0);
    samples[t].latencies_us.reserve(expected_calls / kDriverThreads + 1024);
    threads.emplace_back([&, t, in_flight] {
      DriveOneThread(t, in_flight, ConnectionCount(options), options.backoff_ms, plan, work,
                     options.daemon_pid, samples[t], last_done[t]);
    });
  }
  for (std::thread& th : threads) th.join();
  PhaseSample all;
  for (PhaseSample& s : samples) all.Merge(std::move(s));
  double seconds = timed ? static_cast<double>(options.duration_seconds)
                         : std::chrono::duration<double>(
                               *std::max_element(last_done.begin(), last_done.end()) - plan.start)
                               .count();
  return Summarize(name, all, seconds);
}

std::string NewRunId() {
  uint64_t micros = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  return absl::StrFormat("%x%04x", micros & 0xffffffffffULL, ::getpid() & 0xffff);
}

void PrintRss(const LoadOptions& options, const char* when) {
  if (options.daemon_pid <= 0) return;
  std::printf("daemon RSS %s: %s\n", when, FormatRss(ReadRssKib(options.daemon_pid)).c_str());
  std::fflush(stdout);
}

// The CreateLead workload. Lead numbers come from one counter shared by the
// threads; `limit` (0: none) bounds how many calls are issued.
Workload<v1::CreateLeadRequest, v1::CreateLeadResponse> CreateWorkload(
    std::vector<Connection>& conns, const SyntheticLeads& leads, std::atomic<uint64_t>& counter,
    uint64_t limit, const std::string& authorization) {
  Workload<v1::CreateLeadRequest, v1::CreateLeadResponse> w;
  w.next = [&leads, &counter, limit](int, v1::CreateLeadRequest& r) {
    uint64_t n = counter.fetch_add(1, std::memory_order_relaxed);
    if (limit > 0 && n >= limit) return false;
    leads.Fill(n, r);
    return true;
  };
  w.prepare = [&conns](int t, grpc::ClientContext* c, const v1::CreateLeadRequest& r,
                       grpc::CompletionQueue* cq) {
    return conns[t].leads->PrepareAsyncCreateLead(c, r, cq);
  };
  w.authorization = &authorization;
  return w;
}

}  // namespace

int RunLoad(const LoadOptions& options) {
  auto credentials = api::NewChannelCredentials(
      options.server,
      {.ca_file = options.ca_file, .cert_file = options.cert_file, .key_file = options.key_file});
  if (!credentials.ok()) {
    std::fprintf(stderr, "leadvault-bench: %s\n",
                 std::string(credentials.status().message()).c_str());
    return 1;
  }
  std::vector<Connection> conns(ConnectionCount(options));
  for (Connection& c : conns) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    c.channel = grpc::CreateCustomChannel(options.server, *credentials, args);
    if (!c.channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
      std::fprintf(stderr, "leadvault-bench: cannot connect to %s\n", options.server.c_str());
      return 1;
    }
    c.leads = v1::LeadVault::NewStub(c.channel);
    c.health = health::Health::NewStub(c.channel);
  }
  std::string authorization = absl::StrCat("Bearer ", options.token);
  const std::string run_id = NewRunId();
  SyntheticLeads leads(run_id);
  std::printf(
      "leadvault-bench load: server %s, %d in flight on %d threads over %d connections, "
      "run %s\n",
      options.server.c_str(), options.concurrency, kDriverThreads, ConnectionCount(options),
      run_id.c_str());
  PrintRss(options, "before");

  std::atomic<uint64_t> lead_counter{0};
  std::vector<uint64_t> duplicates(kDriverThreads, 0);
  auto count_duplicates = [&duplicates](int t, const v1::CreateLeadResponse& r) {
    duplicates[t] += r.duplicate() ? 1 : 0;
  };
  auto print_duplicates = [&duplicates] {
    uint64_t d = 0;
    for (uint64_t x : duplicates) d += x;
    if (d > 0) std::printf("         %llu creates were duplicate touches\n", (unsigned long long)d);
  };

  if (options.fill > 0) {
    std::atomic<uint64_t> progress{0};
    auto w = CreateWorkload(conns, leads, lead_counter, options.fill, authorization);
    w.on_ok = count_duplicates;
    w.progress = &progress;
    PhaseReport fill = RunPhase("fill", options, /*timed=*/false, options.fill, w);
    PrintReportHeader();
    PrintReportRow(fill, 0);
    print_duplicates();
    PrintRss(options, "after fill");
    keys::WipeString(authorization);
    return 0;
  }

  PrintReportHeader();
  if (options.create_only) {
    auto cw = CreateWorkload(conns, leads, lead_counter, 0, authorization);
    PhaseReport create = RunPhase("create", options, /*timed=*/true, 0, cw);
    PrintReportRow(create, 0);
    if (options.create_report != nullptr) *options.create_report = create;
    keys::WipeString(authorization);
    return 0;
  }
  Workload<health::HealthCheckRequest, health::HealthCheckResponse> hw;
  hw.next = [](int, health::HealthCheckRequest&) { return true; };
  hw.prepare = [&conns](int t, grpc::ClientContext* c, const health::HealthCheckRequest& r,
                        grpc::CompletionQueue* cq) {
    return conns[t].health->PrepareAsyncCheck(c, r, cq);
  };
  PhaseReport health_report = RunPhase("health", options, /*timed=*/true, 0, hw);
  double baseline = health_report.throughput;
  PrintReportRow(health_report, baseline);

  std::vector<std::vector<std::string>> ids(kDriverThreads);
  auto cw = CreateWorkload(conns, leads, lead_counter, options.create_count, authorization);
  cw.on_ok = [&ids, &count_duplicates](int t, const v1::CreateLeadResponse& r) {
    count_duplicates(t, r);
    ids[t].push_back(r.lead_id());
  };
  PhaseReport create =
      RunPhase("create", options, options.create_count == 0, options.create_count, cw);
  PrintReportRow(create, baseline);
  print_duplicates();

  std::vector<std::string> all_ids;
  for (auto& v : ids) all_ids.insert(all_ids.end(), v.begin(), v.end());
  if (all_ids.empty()) {
    keys::WipeString(authorization);
    std::fprintf(stderr, "leadvault-bench: no lead was created; cannot run the GetLead phase\n");
    return 1;
  }
  std::shuffle(all_ids.begin(), all_ids.end(), std::mt19937_64(42));
  std::vector<size_t> cursor(kDriverThreads);
  for (int t = 0; t < kDriverThreads; ++t) cursor[t] = t * all_ids.size() / kDriverThreads;
  Workload<v1::GetLeadRequest, v1::GetLeadResponse> gw;
  gw.next = [&all_ids, &cursor](int t, v1::GetLeadRequest& r) {
    r.set_lead_id(all_ids[cursor[t]++ % all_ids.size()]);
    r.set_purpose(v1::PURPOSE_OF_USE_TREATMENT);
    return true;
  };
  gw.prepare = [&conns](int t, grpc::ClientContext* c, const v1::GetLeadRequest& r,
                        grpc::CompletionQueue* cq) {
    return conns[t].leads->PrepareAsyncGetLead(c, r, cq);
  };
  gw.authorization = &authorization;
  PhaseReport get = RunPhase("get", options, /*timed=*/true, 0, gw);
  PrintReportRow(get, baseline);
  PrintRss(options, "after");
  keys::WipeString(authorization);
  return 0;
}

int RunProbe(const ProbeOptions& options) {
  auto credentials = api::NewChannelCredentials(
      options.server,
      {.ca_file = options.ca_file, .cert_file = options.cert_file, .key_file = options.key_file});
  if (!credentials.ok()) {
    std::fprintf(stderr, "leadvault-bench: %s\n",
                 std::string(credentials.status().message()).c_str());
    return 1;
  }
  auto channel = grpc::CreateChannel(options.server, *credentials);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    std::fprintf(stderr, "leadvault-bench: cannot connect to %s\n", options.server.c_str());
    return 1;
  }
  auto stub = health::Health::NewStub(channel);
  Clock::time_point measure_from = Clock::now() + std::chrono::seconds(options.warmup_seconds);
  Clock::time_point stop_at = measure_from + std::chrono::seconds(options.duration_seconds);
  PhaseSample sample;
  ProbeHealth(*stub, measure_from, stop_at, sample);
  PrintReportHeader();
  PrintReportRow(Summarize("probe", sample, options.duration_seconds), 0);
  return 0;
}

}  // namespace leadvault::tools
