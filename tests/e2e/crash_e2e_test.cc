// The crash loop with the real binaries: leadvaultd is killed with SIGKILL
// under concurrent CreateLead, GetLead and UpdateLead load, again and again on
// the same data dir, and after every restart nothing acknowledged is lost,
// nothing is duplicated, and the audit log verifies from sequence 1.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "tests/e2e/e2e_fixture.h"

#ifndef LEADVAULTCTL_PATH
#error "LEADVAULTCTL_PATH must be defined by the build"
#endif

namespace leadvault::e2e {
namespace {

constexpr int kRounds = 50;
constexpr int kClients = 6;
constexpr int kAcksPerRound = 24;  // the kill comes once this many calls were acknowledged
constexpr int kCheckThreads = 4;

// A lead's status follows from its version, so a read checks both: every
// update moves new -> contacted -> closed_lost -> contacted -> ...
v1::LeadStatus StatusFor(uint64_t version) {
  if (version <= 1) return v1::LEAD_STATUS_NEW;
  return version % 2 == 0 ? v1::LEAD_STATUS_CONTACTED : v1::LEAD_STATUS_CLOSED_LOST;
}

std::string EmailFor(const std::string& key) { return key + "@example.com"; }

// What the clients were told, and what may or may not have happened.
struct Model {
  struct Known {
    std::string email;
    uint64_t version = 1;    // the last acknowledged version
    uint64_t attempted = 0;  // an update to this version was sent but not acknowledged
    int owner = -1;          // the one client that updates it
  };
  absl::Mutex mu;
  std::map<std::string, Known> leads ABSL_GUARDED_BY(mu);  // lead id -> known
  std::vector<std::string> ids ABSL_GUARDED_BY(mu);        // the same ids, for random picks
  std::vector<std::vector<std::string>> owned ABSL_GUARDED_BY(mu) =
      std::vector<std::vector<std::string>>(kClients);  // by owner
  std::vector<v1::CreateLeadRequest> unacknowledged_creates ABSL_GUARDED_BY(mu);
  int acks ABSL_GUARDED_BY(mu) = 0;  // acknowledged calls this round

  // For the summary line.
  struct Counts {
    uint64_t creates = 0, reads = 0, updates = 0;     // acknowledged
    uint64_t retried_creates = 0, retried_found = 0;  // ... found: had committed unacknowledged
    uint64_t unacknowledged_updates = 0, unacknowledged_updates_applied = 0;
    uint64_t audit_entries = 0;  // verified after the last restart
  };
  Counts counts ABSL_GUARDED_BY(mu);

  void Add(const std::string& id, const std::string& email, int owner)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    leads[id] = Known{email, 1, 0, owner};
    ids.push_back(id);
    owned[owner].push_back(id);
  }
};

class CrashE2eTest : public E2eTest {
 protected:
  int RunCtl(const std::vector<std::string>& args, const std::string& log_prefix,
             std::string* out = nullptr, std::string* err = nullptr) {
    return RunProgram(LEADVAULTCTL_PATH, args, log_prefix, out, err);
  }

  std::vector<std::string> Connect() {
    return {"--server", address_, "--token-file", Path("officer.token")};
  }

  // Every lead of the worker's service line, by id, from the work queues (no
  // PII read, so no audit entry per lead).
  std::map<std::string, v1::LeadMetadata> Census(const std::string& token) {
    std::map<std::string, v1::LeadMetadata> all;
    for (v1::LeadStatus status :
         {v1::LEAD_STATUS_NEW, v1::LEAD_STATUS_CONTACTED, v1::LEAD_STATUS_CLOSED_LOST}) {
      std::string page_token;
      do {
        v1::ListQueueRequest request;
        request.set_service_line("cardiology");
        request.set_status(status);
        request.set_page_size(500);
        request.set_page_token(page_token);
        v1::ListQueueResponse response;
        grpc::Status s = leads_->ListQueue(Ctx(token).get(), request, &response);
        EXPECT_TRUE(s.ok()) << s.error_message();
        if (!s.ok()) return all;
        for (const v1::LeadMetadata& m : response.leads()) {
          EXPECT_TRUE(all.emplace(m.lead_id(), m).second) << "listed twice: " << m.lead_id();
        }
        page_token = response.next_page_token();
      } while (!page_token.empty());
    }
    return all;
  }

  // After a restart: what was acknowledged is there, an unacknowledged update
  // either happened whole or not at all, an unacknowledged create retried with
  // its idempotency key makes exactly one lead, and nothing else exists.
  void CheckAfterRestart(const std::string& worker, Model& model) {
    absl::MutexLock lock(&model.mu);
    std::map<std::string, v1::LeadMetadata> census = Census(worker);
    for (auto& [id, known] : model.leads) {
      auto it = census.find(id);
      ASSERT_NE(it, census.end()) << "acknowledged lead " << id << " lost";
      const uint64_t version = it->second.version();
      if (known.attempted != 0) ++model.counts.unacknowledged_updates;
      if (known.attempted != 0 && version == known.attempted) {
        known.version = version;  // the unacknowledged update was applied, whole
        ++model.counts.unacknowledged_updates_applied;
      }
      known.attempted = 0;
      EXPECT_EQ(version, known.version) << "lead " << id << ": an acknowledged update is lost";
      EXPECT_EQ(it->second.status(), StatusFor(version)) << "lead " << id;
    }
    for (const v1::CreateLeadRequest& request : model.unacknowledged_creates) {
      v1::CreateLeadResponse response;
      grpc::Status s = leads_->CreateLead(Ctx(worker).get(), request, &response);
      ASSERT_TRUE(s.ok()) << "retry of " << request.idempotency_key() << ": " << s.error_message();
      ASSERT_EQ(model.leads.count(response.lead_id()), 0u) << "an acknowledged id came back";
      ++model.counts.retried_creates;
      if (census.count(response.lead_id()) != 0) ++model.counts.retried_found;
      v1::FindLeadsRequest find;
      find.set_email(request.personal().email());
      find.set_purpose(v1::PURPOSE_OF_USE_TREATMENT);
      v1::FindLeadsResponse found;
      ASSERT_TRUE(leads_->FindLeads(Ctx(worker).get(), find, &found).ok());
      ASSERT_EQ(found.leads_size(), 1) << "duplicates of " << request.idempotency_key();
      EXPECT_EQ(found.leads(0).lead_id(), response.lead_id());
      model.Add(response.lead_id(), request.personal().email(), /*owner=*/0);
    }
    model.unacknowledged_creates.clear();
    // Nothing that was never acknowledged nor retried: no duplicate, no ghost.
    census = Census(worker);
    EXPECT_EQ(census.size(), model.leads.size());

    // Every lead reads back whole, with the same content and version.
    std::vector<std::pair<std::string, Model::Known>> all(model.leads.begin(), model.leads.end());
    std::atomic<size_t> next{0};
    std::vector<std::thread> readers;
    for (int t = 0; t < kCheckThreads; ++t) {
      readers.emplace_back([&] {
        for (size_t i = next++; i < all.size(); i = next++) {
          v1::Lead lead;
          grpc::Status s = GetLead(worker, all[i].first, &lead);
          EXPECT_TRUE(s.ok()) << "lead " << all[i].first << ": " << s.error_message();
          EXPECT_EQ(lead.personal().email(), all[i].second.email);
          EXPECT_EQ(lead.personal().first_name(), "Grace");
          EXPECT_EQ(lead.metadata().version(), all[i].second.version);
        }
      });
    }
    for (auto& r : readers) r.join();
  }

  // The whole log verifies offline from sequence 1 with no gap, and extends
  // the `trusted` checkpoint of the round before (nothing was rolled back).
  void VerifyLog(const std::string& run, const std::string& trusted, Model& model) {
    const std::string file = Path(run + ".jsonl");
    std::vector<std::string> args = Connect();
    args.insert(args.end(), {"audit", "export", "-o", file});
    std::string out, err;
    ASSERT_EQ(RunCtl(args, file + ".ctl", nullptr, &err), 0) << err;
    ASSERT_EQ(RunCtl({"audit", "verify", file, "--pubkey", Path("log.pub"), "--trusted", trusted},
                     file + ".verify", &out, &err),
              0)
        << out << err;
    EXPECT_TRUE(absl::StrContains(out, "consistent with the trusted")) << out;
    const size_t at = out.find("(sequences 1..");
    ASSERT_NE(at, std::string::npos) << out;
    absl::MutexLock lock(&model.mu);
    model.counts.audit_entries = std::strtoull(out.c_str() + at + 14, nullptr, 10);
  }

  // `leadvaultctl check` on the data dir (read-only, beside the daemon, no
  // load running): every lead whole, the disclosure index matching the log,
  // and the funnel aggregates equal to a recount of the leads.
  void CheckRecount(const std::string& run) {
    std::string out, err;
    ASSERT_EQ(RunCtl({"check", "--data-dir", DataDir()}, Path(run + ".check"), &out, &err), 0)
        << out << err;
    EXPECT_TRUE(absl::StrContains(out, "funnel aggregates: ok (")) << out;
    EXPECT_TRUE(absl::StrContains(out, "lead rows: ok")) << out;
  }

  // One client's calls until the daemon dies: creates, reads of any lead and
  // updates of its own leads. Every acknowledged call is counted.
  void RunClient(const std::string& worker, Model& model, int round, int client,
                 const std::atomic<bool>& stop, const std::atomic<bool>& killed) {
    // A failed call is the kill's doing only once the kill was sent.
    auto expect_killed = [&](const grpc::Status& s) {
      if (!killed.load()) {
        ADD_FAILURE() << "before the kill: " << s.error_code() << " " << s.error_message();
      }
    };
    std::mt19937 random(round * 1000 + client);
    for (int i = 0; !stop.load(); ++i) {
      const int op = i % 3;
      std::string id;
      Model::Known known;
      {
        absl::MutexLock lock(&model.mu);
        // Any lead is read; only its owner updates a lead, so versions are known.
        const std::vector<std::string>& pool = op == 2 ? model.owned[client] : model.ids;
        if (op != 0 && !pool.empty()) {
          id = pool[random() % pool.size()];
          known = model.leads[id];
        }
      }
      if (op == 0 || id.empty()) {
        std::string key = absl::StrCat("r", round, "-c", client, "-", i);
        v1::CreateLeadRequest request = SimpleLead(key, EmailFor(key));
        v1::CreateLeadResponse response;
        grpc::Status s = leads_->CreateLead(Ctx(worker).get(), request, &response);
        absl::MutexLock lock(&model.mu);
        if (!s.ok()) {
          expect_killed(s);
          model.unacknowledged_creates.push_back(request);
          return;  // the daemon is gone
        }
        EXPECT_FALSE(response.duplicate());
        model.Add(response.lead_id(), EmailFor(key), client);
        ++model.acks;
        ++model.counts.creates;
      } else if (op == 1) {
        v1::Lead lead;
        grpc::Status s = GetLead(worker, id, &lead);
        if (!s.ok()) {
          expect_killed(s);
          return;
        }
        EXPECT_EQ(lead.personal().email(), known.email);
        EXPECT_GE(lead.metadata().version(), known.version);
        absl::MutexLock lock(&model.mu);
        ++model.acks;
        ++model.counts.reads;
      } else {
        v1::UpdateLeadRequest request;
        request.set_lead_id(id);
        request.set_expected_version(known.version);
        request.set_status(StatusFor(known.version + 1));
        v1::UpdateLeadResponse response;
        grpc::Status s = leads_->UpdateLead(Ctx(worker).get(), request, &response);
        absl::MutexLock lock(&model.mu);
        if (!s.ok()) {
          expect_killed(s);
          model.leads[id].attempted = known.version + 1;
          return;
        }
        EXPECT_EQ(response.metadata().version(), known.version + 1);
        model.leads[id].version = response.metadata().version();
        ++model.acks;
        ++model.counts.updates;
      }
    }
  }
};

TEST_F(CrashE2eTest, KillNineUnderMixedLoadLosesNothingAcknowledgedAndTheLogVerifies) {
  Model model;
  std::string worker;
  std::string trusted;  // the checkpoint file of the previous round
  std::unique_ptr<Daemon> daemon;
  for (int round = 0; round <= kRounds; ++round) {  // kRounds kills, each followed by a check
    SCOPED_TRACE(absl::StrCat("round ", round));
    const std::string run = absl::StrCat("r", round);
    daemon = Start(run);
    ASSERT_FALSE(address_.empty()) << daemon->err();
    if (round == 0) {
      const std::string admin = AdminToken(run);
      worker = NewWorker(admin);
      v1::CreatePrincipalRequest request;
      request.set_display_name("officer");
      request.add_roles("compliance");
      v1::CreatePrincipalResponse response;
      ASSERT_TRUE(admin_->CreatePrincipal(Ctx(admin).get(), request, &response).ok());
      WriteFileWithMode(Path("officer.token"), response.token() + "\n", 0600);
      std::string pub;
      ASSERT_EQ(
          RunCtl({"--server", address_, "--token-file", Path("officer.token"), "audit", "pubkey"},
                 Path("pubkey"), &pub),
          0);
      WriteFileWithMode(Path("log.pub"), pub, 0600);
    } else {
      ASSERT_NO_FATAL_FAILURE(CheckAfterRestart(worker, model));
      ASSERT_NO_FATAL_FAILURE(VerifyLog(run, trusted, model));
      if (round % 5 == 0 || round == kRounds) {
        ASSERT_NO_FATAL_FAILURE(CheckRecount(run));
      }
    }
    if (round == kRounds) break;  // the last kill checked: done
    trusted = Path(run + ".checkpoint");
    std::vector<std::string> args = Connect();
    args.insert(args.end(), {"audit", "checkpoint", "-o", trusted});
    ASSERT_EQ(RunCtl(args, Path(run + ".cp")), 0);

    {
      absl::MutexLock lock(&model.mu);
      model.acks = 0;
    }
    std::atomic<bool> stop{false};
    std::atomic<bool> killed{false};
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&, c] { RunClient(worker, model, round, c, stop, killed); });
    }
    bool acknowledged_enough;
    {
      absl::MutexLock lock(&model.mu);
      auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(model.mu) {
        return model.acks >= kAcksPerRound;
      };
      // The cap only bounds a hung test; the kill itself waits for acknowledgements.
      acknowledged_enough = model.mu.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(120));
    }
    killed = true;
    EXPECT_EQ(::kill(daemon->pid(), SIGKILL), 0);
    EXPECT_EQ(daemon->WaitExit(), -1);  // killed by the signal
    stop = true;
    for (auto& t : clients) t.join();
    ASSERT_TRUE(acknowledged_enough);
  }
  absl::MutexLock lock(&model.mu);
  uint64_t updates_applied = 0;
  for (const auto& [id, known] : model.leads) updates_applied += known.version - 1;
  EXPECT_GE(model.leads.size(), static_cast<size_t>(kRounds * kAcksPerRound / 4));
  EXPECT_GT(updates_applied, 0u);
  const Model::Counts n = model.counts;
  std::printf(
      "crash loop: %d SIGKILL rounds; acknowledged %llu creates, %llu reads, %llu updates, all "
      "found after every restart; %llu unacknowledged creates retried (%llu had committed, no "
      "duplicate); %llu unacknowledged updates (%llu applied whole); %llu audit entries verified "
      "after the last restart, %zu leads at the end\n",
      kRounds, static_cast<unsigned long long>(n.creates), static_cast<unsigned long long>(n.reads),
      static_cast<unsigned long long>(n.updates),
      static_cast<unsigned long long>(n.retried_creates),
      static_cast<unsigned long long>(n.retried_found),
      static_cast<unsigned long long>(n.unacknowledged_updates),
      static_cast<unsigned long long>(n.unacknowledged_updates_applied),
      static_cast<unsigned long long>(n.audit_entries), model.leads.size());
  EXPECT_EQ(Stop(*daemon), 0);
}

}  // namespace
}  // namespace leadvault::e2e
