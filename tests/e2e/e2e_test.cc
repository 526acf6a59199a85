// End-to-end tests of the real leadvaultd binary: start-up, restart, refusals,
// bad input over the wire, and the PII canary scan of every byte it wrote.
#include "tests/e2e/e2e_fixture.h"
#include "tests/e2e/ops_http_client.h"

namespace leadvault::e2e {
namespace {

namespace v1 = ::leadvault::v1;
namespace fs = std::filesystem;

TEST_F(E2eTest, FreshStartServesStopsCleanlyAndRestartsWithoutNewToken) {
  std::string token, worker, id;
  {
    auto daemon = Start("run1");
    ASSERT_FALSE(address_.empty());
    EXPECT_TRUE(absl::StartsWith(address_, "127.0.0.1:")) << address_;

    struct stat st;
    ASSERT_EQ(::stat((DataDir() + "/master.key").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(st.st_size, 32);
    ASSERT_EQ(::stat(Path("run1.token").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    token = AdminToken("run1");
    ASSERT_TRUE(absl::StartsWith(token, "lv_")) << token;
    EXPECT_FALSE(absl::StrContains(daemon->out(), token)) << "written to the file: not on stdout";
    EXPECT_TRUE(absl::StrContains(daemon->out(), Path("run1.token"))) << daemon->out();
    EXPECT_FALSE(absl::StrContains(daemon->err(), token)) << "never in the log";
    EXPECT_TRUE(absl::StrContains(daemon->err(), "generated a new master key")) << daemon->err();

    worker = NewWorker(token);
    v1::CreateLeadRequest request = SimpleLead("e2e-1", "grace@example.com");
    request.mutable_personal()->set_phone("+1 650 253 0000");
    id = CreateLead(worker, request);
    ASSERT_EQ(id.size(), 32u);
    v1::Lead lead;
    grpc::Status s = GetLead(worker, id, &lead);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(lead.personal().first_name(), "Grace");
    EXPECT_EQ(lead.personal().phone(), "+16502530000");

    EXPECT_EQ(Stop(*daemon), 0) << daemon->err();
    EXPECT_TRUE(absl::StrContains(daemon->err(), "stopped cleanly")) << daemon->err();
  }
  {
    auto daemon = Start("run2");
    ASSERT_FALSE(address_.empty());
    // Bootstrap happens once: no new token printed or written.
    EXPECT_FALSE(Exists(Path("run2.token")));
    EXPECT_FALSE(absl::StrContains(daemon->out(), "LEADVAULT_TOKEN")) << daemon->out();
    EXPECT_FALSE(absl::StrContains(daemon->out(), "lv_")) << daemon->out();
    EXPECT_FALSE(absl::StrContains(daemon->err(), "generated a new master key"));
    v1::Lead lead;
    grpc::Status s = GetLead(worker, id, &lead);
    ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    EXPECT_EQ(lead.metadata().lead_id(), id);
    EXPECT_EQ(lead.personal().email(), "grace@example.com");
    // The admin token survived too.
    v1::ListPrincipalsResponse listed;
    ASSERT_TRUE(
        admin_->ListPrincipals(Ctx(token).get(), v1::ListPrincipalsRequest(), &listed).ok());
    EXPECT_EQ(listed.principals_size(), 2);
    EXPECT_EQ(Stop(*daemon), 0) << daemon->err();
  }
}

TEST_F(E2eTest, WrongOrExposedKeyIsRefusedAndDataIsUntouched) {
  {
    auto daemon = Start("init");
    ASSERT_FALSE(address_.empty());
    CreateLead(NewWorker(AdminToken("init")), SimpleLead("k-1", "key@example.com"));
    ASSERT_EQ(Stop(*daemon), 0) << daemon->err();
  }
  const auto before = Snapshot(DataDir());
  ASSERT_FALSE(before.empty());

  // A different (well-formed, 0600) key.
  testing::SeededRandom random(99);
  std::string other(32, '\0');
  random.Fill(reinterpret_cast<uint8_t*>(other.data()), other.size());
  WriteFileWithMode(Path("other.key"), other, 0600);
  std::unique_ptr<Daemon> daemon;
  int code = RunToExit("wrongkey",
                       {"--data-dir", DataDir(), "--listen", "127.0.0.1:0", "--ready-file",
                        Path("wrongkey.ready"), "--key-file", Path("other.key")},
                       &daemon);
  EXPECT_NE(code, 0);
  EXPECT_TRUE(absl::StrContains(daemon->err(), "key-check")) << daemon->err();
  EXPECT_FALSE(Exists(Path("wrongkey.ready")));
  const auto after = Snapshot(DataDir());
  EXPECT_EQ(after.size(), before.size());
  for (const auto& [path, bytes] : before) {
    auto it = after.find(path);
    ASSERT_NE(it, after.end()) << path << " vanished";
    EXPECT_TRUE(it->second == bytes) << path << " changed";
  }
  for (const auto& [path, bytes] : after) EXPECT_TRUE(before.count(path) > 0) << path << " added";

  // The right key file, but readable by others.
  const std::string key = DataDir() + "/master.key";
  ASSERT_EQ(::chmod(key.c_str(), 0644), 0);
  code = RunToExit(
      "exposed",
      {"--data-dir", DataDir(), "--listen", "127.0.0.1:0", "--ready-file", Path("exposed.ready")},
      &daemon);
  EXPECT_NE(code, 0);
  EXPECT_TRUE(absl::StrContains(daemon->err(), "0600")) << daemon->err();
  EXPECT_FALSE(Exists(Path("exposed.ready")));
  // And a fresh 0644 --key-file.
  WriteFileWithMode(Path("loose.key"), other, 0644);
  code = RunToExit(
      "loose",
      {"--data-dir", DataDir(), "--listen", "127.0.0.1:0", "--key-file", Path("loose.key")},
      &daemon);
  EXPECT_NE(code, 0);
  EXPECT_TRUE(absl::StrContains(daemon->err(), "0600")) << daemon->err();

  // Fixed: it starts again.
  ASSERT_EQ(::chmod(key.c_str(), 0600), 0);
  auto again = Start("again");
  ASSERT_FALSE(address_.empty());
  EXPECT_EQ(Stop(*again), 0);
}

// The daemon sweeps expired leads at start (and then every interval), as the
// vault itself, and logs counts only; an interval out of range is refused.
TEST_F(E2eTest, TheRetentionSweepRunsAtStartAndBadIntervalsAreRefused) {
  {
    auto daemon = Start("sweep");
    ASSERT_FALSE(address_.empty());
    bool swept = false;
    for (int waited = 0; !swept && waited < kStartCapMillis; waited += 10) {
      swept = absl::StrContains(daemon->err(), "retention sweep: 0 purged (audit entry ");
      if (!swept) PollPause();
    }
    EXPECT_TRUE(swept) << daemon->err();
    EXPECT_EQ(Stop(*daemon), 0) << daemon->err();
  }
  for (const char* bad : {"5s", "8d", "soon", "-1h"}) {
    std::unique_ptr<Daemon> daemon;
    int code = RunToExit(
        absl::StrCat("bad-interval-", bad),
        {"--data-dir", DataDir(), "--listen", "127.0.0.1:0", "--retention-sweep-interval", bad},
        &daemon);
    EXPECT_NE(code, 0) << bad;
    EXPECT_TRUE(absl::StrContains(daemon->err(), "--retention-sweep-interval")) << daemon->err();
  }
}

TEST_F(E2eTest, NonLoopbackListenIsRefused) {
  std::unique_ptr<Daemon> daemon;
  int code = RunToExit("open",
                       {"--data-dir", DataDir(), "--listen", "0.0.0.0:0", "--ready-file",
                        Path("open.ready"), "--admin-token-file", Path("open.token")},
                       &daemon);
  EXPECT_NE(code, 0);
  EXPECT_TRUE(absl::StrContains(daemon->err(), "TLS")) << daemon->err();
  EXPECT_TRUE(absl::StrContains(daemon->err(), "non-loopback")) << daemon->err();
  EXPECT_FALSE(Exists(Path("open.ready")));
  // Checked before anything is made: no data dir, no key file.
  EXPECT_EQ(code, 78);
  EXPECT_FALSE(Exists(DataDir())) << "a refused start created the data dir";
}

// A refused start must not burn the one-time bootstrap: the next good start
// on the same data dir must still hand out an admin token.
TEST_F(E2eTest, RefusedStartDoesNotLoseTheBootstrapToken) {
  std::unique_ptr<Daemon> daemon;
  ASSERT_NE(RunToExit("open", {"--data-dir", DataDir(), "--listen", "0.0.0.0:0"}, &daemon), 0);
  auto good = Start("good");
  ASSERT_FALSE(address_.empty());
  EXPECT_TRUE(Exists(Path("good.token")));
  EXPECT_TRUE(absl::StrContains(good->out(), "LEADVAULT_TOKEN"));
  EXPECT_EQ(Stop(*good), 0);
}

TEST_F(E2eTest, WithoutATokenFileTheTokenIsPrintedOnce) {
  Daemon daemon(
      {"--data-dir", DataDir(), "--listen", "127.0.0.1:0", "--ready-file", Path("plain.ready")},
      Path("plain"));
  ASSERT_FALSE(daemon.WaitReady(Path("plain.ready")).empty());
  EXPECT_TRUE(absl::StrContains(daemon.out(), "export LEADVAULT_TOKEN=lv_")) << daemon.out();
  EXPECT_FALSE(absl::StrContains(daemon.err(), "lv_")) << "never in the log";
  EXPECT_EQ(daemon.Stop(), 0);
}

// --admin-token-file is written through FILE.tmp: a file or symlink planted
// there (or at FILE) must be refused, never written through, and the refusal
// must come before the one-time token is issued.
TEST_F(E2eTest, AdminTokenFileRefusesPlantedFilesAndNeverWritesTheTokenThroughThem) {
  const std::string victim = Path("victim");
  WriteFileWithMode(victim, "victim\n", 0644);
  auto refused = [&](const std::string& run, const std::string& expect) {
    std::unique_ptr<Daemon> daemon;
    int code = RunToExit(run,
                         {"--data-dir", DataDir(), "--listen", "127.0.0.1:0", "--ready-file",
                          Path(run + ".ready"), "--admin-token-file", Path(run + ".token")},
                         &daemon);
    EXPECT_EQ(code, 1) << run << ": " << daemon->err();
    EXPECT_TRUE(absl::StrContains(daemon->err(), expect)) << run << ": " << daemon->err();
    EXPECT_FALSE(absl::StrContains(daemon->out() + daemon->err(), "lv_")) << run;
    EXPECT_FALSE(Exists(Path(run + ".ready"))) << run;
    EXPECT_EQ(ReadFile(victim), "victim\n") << run;
  };

  // A symlink planted at FILE.tmp is refused and left alone.
  ASSERT_EQ(::symlink(victim.c_str(), Path("link.token.tmp").c_str()), 0);
  refused("link", Path("link.token.tmp") + " already exists");
  struct stat st;
  ASSERT_EQ(::lstat(Path("link.token.tmp").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_FALSE(Exists(Path("link.token")));

  // A file planted at FILE.tmp (open to all, so the old code wrote the token
  // into it and renamed it: its planter then owned FILE) is refused untouched.
  WriteFileWithMode(Path("planted.token.tmp"), "", 0666);
  refused("planted", Path("planted.token.tmp") + " already exists");
  EXPECT_EQ(ReadFile(Path("planted.token.tmp")), "");
  EXPECT_FALSE(Exists(Path("planted.token")));

  // FILE itself a symlink, or another user's file.
  ASSERT_EQ(::symlink(victim.c_str(), Path("target.token").c_str()), 0);
  refused("target", Path("target.token") + " is a symbolic link");
  EXPECT_FALSE(Exists(Path("target.token.tmp")));
  if (::geteuid() == 0) {
    WriteFileWithMode(Path("foreign.token"), "theirs\n", 0644);
    ASSERT_EQ(::chown(Path("foreign.token").c_str(), 65534, 65534), 0);
    refused("foreign", "not a regular file of this user");
    EXPECT_EQ(ReadFile(Path("foreign.token")), "theirs\n");
  }

  // None of that burned the bootstrap: a good start still hands out the token,
  // in a new 0600 file of ours and nowhere else.
  auto good = Start("good");
  ASSERT_FALSE(address_.empty());
  std::string token = AdminToken("good");
  EXPECT_TRUE(absl::StartsWith(token, "lv_"));
  ASSERT_EQ(::lstat(Path("good.token").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_uid, ::geteuid());
  EXPECT_FALSE(Exists(Path("good.token.tmp")));
  EXPECT_FALSE(absl::StrContains(good->out(), token));
  EXPECT_EQ(Stop(*good), 0);
}

TEST_F(E2eTest, BadInputOverTheWireLeavesTheDaemonServing) {
  // Many bad tokens in a row from one peer would be slowed down (a test of its
  // own): here they must each get their plain answer.
  auto daemon = Start("bad", {"--auth-free-failures", "1000"});
  ASSERT_FALSE(address_.empty());
  const std::string worker = NewWorker(AdminToken("bad"));
  const std::string id = CreateLead(worker, SimpleLead("bad-1", "bad@example.com"));

  std::string unauth_message;
  for (const std::string& header :
       {std::string(), std::string("Bearer "), std::string("Bearer zqxgarbage"),
        std::string("Basic x"), "Bearer " + worker + "0",
        "Bearer lv_" + std::string(16, 'f') + "_" + std::string(64, 'f'),
        "Bearer " + std::string(4000, 'A')}) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    if (!header.empty()) ctx->AddMetadata("authorization", header);
    v1::GetLeadRequest request;
    request.set_purpose(v1::PURPOSE_OF_USE_TREATMENT);
    request.set_lead_id(id);
    v1::GetLeadResponse response;
    grpc::Status s = leads_->GetLead(ctx.get(), request, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << header.substr(0, 40);
    if (unauth_message.empty()) unauth_message = s.error_message();
    EXPECT_EQ(s.error_message(), unauth_message);
    EXPECT_FALSE(response.has_lead());
  }

  v1::CreateLeadRequest big = SimpleLead("bad-big", "big@example.com");
  big.mutable_personal()->set_notes(std::string(300 * 1024, 'n'));
  v1::CreateLeadResponse created;
  grpc::Status s = leads_->CreateLead(Ctx(worker).get(), big, &created);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();

  v1::CreateLeadRequest utf8 = SimpleLead("bad-utf8", "utf8@example.com");
  utf8.mutable_personal()->set_first_name("Zqx\xff\xfe");
  s = leads_->CreateLead(Ctx(worker).get(), utf8, &created);
  EXPECT_FALSE(s.ok());

  v1::CreateLeadRequest enum99 = SimpleLead("bad-enum", "enum@example.com");
  enum99.mutable_attribution()->set_source(static_cast<v1::SourceChannel>(99));
  s = leads_->CreateLead(Ctx(worker).get(), enum99, &created);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();

  EXPECT_EQ(::kill(daemon->pid(), 0), 0);
  EXPECT_FALSE(daemon->Reap()) << daemon->err();
  v1::Lead lead;
  s = GetLead(worker, id, &lead);
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_EQ(lead.personal().first_name(), "Grace");
  EXPECT_EQ(Stop(*daemon), 0) << daemon->err();
}

// The canary: PII marker strings in every field must never reach any
// byte on disk or in the daemon's output in clear.
TEST_F(E2eTest, CanaryPiiNeverReachesDiskOrLogsInClear) {
  // Every call logged as JSON and every call counted: the scan below reads
  // the log, and the metrics scraped into the scratch dir.
  auto daemon =
      Start("canary", {"--metrics-listen", "127.0.0.1:0", "--log-format", "json", "--log-calls"});
  ASSERT_FALSE(address_.empty());
  const std::string worker = NewWorker(AdminToken("canary"));

  v1::CreateLeadRequest a;
  a.set_idempotency_key("canary-1");
  auto* p = a.mutable_personal();
  p->set_first_name("Zqxcanaryfn");
  p->set_last_name("Zqxcanaryln");
  p->set_email("zqxcanary.em@canary-example.com");
  p->set_phone("+1 650 253 0123");
  p->set_date_of_birth("1980-05-17");
  p->set_street_address("1600 Zqxcanarystreet Pkwy");
  p->set_city("Zqxcanarycity");
  p->set_state("CA");
  p->set_postal_code("94043-1351");
  p->set_condition_interest("Zqxcanarycondition knee replacement");
  p->set_notes("Zqxcanarynotes call after 5pm\nsecond line");
  auto* at = a.mutable_attribution();
  at->set_source(v1::SOURCE_CHANNEL_PAID_SEARCH);
  at->set_campaign("zqxclearcampaign");
  at->set_utm_source("zqxclearutm");
  at->set_service_line("cardiology");
  at->set_landing_page("https://example.org/zqxclearpath?email=zqxcanaryquery@x.com#zqxcanaryfrag");
  // Consent evidence: clear metadata, except the consenting person's IP address.
  v1::ConsentGrant* consent = a.mutable_consent();
  consent->add_channels(v1::CONSENT_CHANNEL_SMS);
  consent->add_purposes(v1::CONSENT_PURPOSE_SCHEDULING);
  v1::ConsentEvidence* evidence = consent->mutable_evidence();
  evidence->set_captured_at_unix_micros(absl::ToUnixMicros(absl::Now() - absl::Minutes(1)));
  evidence->set_source_url("https://example.org/zqxclearconsentpage?zqxcanaryquery=1");
  evidence->set_seller_name("zqxclearseller");
  evidence->set_disclosure_version("v1");
  evidence->set_disclosure_sha256(std::string(64, 'a'));
  evidence->set_authorizes_automated(true);
  evidence->set_not_condition_of_purchase(true);
  evidence->set_capture_certificate_id("zqxclearcert");
  evidence->set_user_agent("zqxclearagent");
  evidence->set_ip_address("203.0.113.77");

  v1::CreateLeadRequest b;
  b.set_idempotency_key("canary-2");
  p = b.mutable_personal();
  p->set_first_name("Zqxcanarysecondfn");
  p->set_email("Zqxcanary.Second@Canary-Example.com");
  p->set_phone("(617) 253-1000");
  p->set_date_of_birth("07/04/1975");
  p->set_postal_code("021391234");
  p->set_notes("Zqxcanarysecondnotes");
  b.mutable_attribution()->set_source(v1::SOURCE_CHANNEL_WEB_FORM);
  b.mutable_attribution()->set_service_line("cardiology");

  std::vector<std::string> ids = {CreateLead(worker, a), CreateLead(worker, b)};
  // A duplicate of b that brings data of its own: kept on b, encrypted.
  v1::CreateLeadRequest dup = b;
  dup.set_idempotency_key("canary-dup");
  dup.mutable_personal()->set_last_name("Zqxcanarydupln");
  dup.mutable_personal()->set_street_address("77 Zqxcanarydupstreet");
  EXPECT_EQ(CreateLead(worker, dup), ids[1]);
  for (const auto& id : ids) {
    ASSERT_EQ(id.size(), 32u);
    v1::Lead lead;
    grpc::Status s = GetLead(worker, id, &lead);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_FALSE(lead.personal().email().empty());
  }
  for (const auto& [email, phone] :
       {std::pair<std::string, std::string>{"zqxcanary.em@canary-example.com", "6502530123"},
        {"zqxcanary.second@canary-example.com", "+1 617 253 1000"}}) {
    for (bool by_email : {true, false}) {
      v1::FindLeadsRequest find;
      find.set_purpose(v1::PURPOSE_OF_USE_OPERATIONS);
      if (by_email) {
        find.set_email(email);
      } else {
        find.set_phone(phone);
      }
      v1::FindLeadsResponse found;
      grpc::Status s = leads_->FindLeads(Ctx(worker).get(), find, &found);
      ASSERT_TRUE(s.ok()) << s.error_message();
      EXPECT_EQ(found.leads_size(), 1);
    }
  }
  // Invalid input carrying markers is refused (and must not be logged either).
  v1::CreateLeadRequest bad = a;
  bad.set_idempotency_key("canary-bad");
  bad.mutable_personal()->set_email("zqxcanarybad@@canary-example.com");
  v1::CreateLeadResponse refused;
  EXPECT_EQ(leads_->CreateLead(Ctx(worker).get(), bad, &refused).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::UpdateLeadRequest update;
  update.set_lead_id(ids[0]);
  update.set_expected_version(1);
  update.set_status(v1::LEAD_STATUS_CONTACTED);
  v1::UpdateLeadResponse updated;
  ASSERT_TRUE(leads_->UpdateLead(Ctx(worker).get(), update, &updated).ok());
  // An SMS reply revoking consent: classified, never stored.
  auto consent_stub = v1::Consent::NewStub(channel_);
  v1::RecordConsentRequest revoke;
  revoke.set_lead_id(ids[0]);
  revoke.mutable_revocation()->set_method(v1::REVOCATION_METHOD_SMS_REPLY);
  revoke.mutable_revocation()->set_reply_text("Zqxcanaryreply no more texts please");
  v1::RecordConsentResponse revoked;
  grpc::Status revoke_status = consent_stub->RecordConsent(Ctx(worker).get(), revoke, &revoked);
  ASSERT_TRUE(revoke_status.ok()) << revoke_status.error_message();
  EXPECT_EQ(revoked.event().method_detail(), "free_text");
  // An amendment: the new values, the previous ones kept in the history, and
  // the reason are all encrypted (the "zqxcanary" prefix covers every one).
  v1::AmendLeadRequest amend;
  amend.set_lead_id(ids[1]);
  amend.set_expected_version(1);
  amend.set_purpose(v1::PURPOSE_OF_USE_PATIENT_REQUEST);
  amend.set_reason("Zqxcanaryamendreason: the patient spelt her name for us");
  amend.mutable_personal()->set_last_name("Zqxcanaryamendln");
  amend.mutable_personal()->set_email("zqxcanary.amended@canary-example.com");
  amend.add_clear(v1::PERSONAL_FIELD_NOTES);
  v1::AmendLeadResponse amended;
  grpc::Status amend_status = leads_->AmendLead(Ctx(worker).get(), amend, &amended);
  ASSERT_TRUE(amend_status.ok()) << amend_status.error_message();
  v1::ListAmendmentsRequest history;
  history.set_lead_id(ids[1]);
  history.set_purpose(v1::PURPOSE_OF_USE_OPERATIONS);
  v1::ListAmendmentsResponse listed;
  ASSERT_TRUE(leads_->ListAmendments(Ctx(worker).get(), history, &listed).ok());
  ASSERT_EQ(listed.amendments_size(), 1);
  EXPECT_EQ(listed.amendments(0).changes_size(), 3);

  // The metrics while serving: the calls are counted, and no lead id or
  // token is among them (markers: the scan below, which reads this file).
  const int ops_port = OpsPort(daemon->err());
  ASSERT_GT(ops_port, 0) << daemon->err();
  const std::string metrics = OpsGet(ops_port, "/metrics");
  EXPECT_TRUE(absl::StrContains(
      metrics,
      "leadvault_rpc_calls_total{service=\"leadvault.v1.LeadVault\",method=\"CreateLead\","
      "code=\"INVALID_ARGUMENT\"} 1"))
      << metrics;
  for (const std::string& id : ids) EXPECT_FALSE(absl::StrContains(metrics, id));
  EXPECT_FALSE(absl::StrContains(metrics, worker));
  EXPECT_FALSE(absl::StrContains(metrics, "lv_"));
  WriteFileWithMode(Path("canary.metrics"), metrics, 0600);
  // The log has a line for every call, and no token.
  EXPECT_TRUE(absl::StrContains(daemon->err(), "\"method\":\"FindLeads\"")) << daemon->err();
  EXPECT_FALSE(absl::StrContains(daemon->err(), worker));

  // Shutdown flushes the memtables into SST files.
  ASSERT_EQ(Stop(*daemon), 0) << daemon->err();

  // Every marker, also in the normalized forms the vault stores.
  std::vector<std::string> markers = {
      "zqxcanary",  // lower-cased prefix of every text marker
      "Zqxcanaryfn",        "Zqxcanaryln",         "zqxcanary.em@canary-example.com",
      "canary-example.com", "+16502530123",        "6502530123",
      "650 253 0123",       "1980-05-17",          "Zqxcanarystreet",
      "Zqxcanarycity",      "94043-1351",          "940431351",
      "Zqxcanarycondition", "knee replacement",    "Zqxcanarynotes",
      "call after 5pm",     "Zqxcanarysecondfn",   "Zqxcanary.Second",
      "+16172531000",       "6172531000",          "617) 253-1000",
      "1975-07-04",         "07/04/1975",          "02139-1234",
      "021391234",          "Zqxcanarysecondnotes"};
  // The consenting person's IP address and the SMS reply's text.
  markers.insert(markers.end(), {"203.0.113.77", "Zqxcanaryreply", "no more texts"});
  const auto files = Snapshot(dir_.path());
  size_t scanned_bytes = 0;
  bool saw_sst = false, saw_manifest = false, saw_log = false, saw_consent = false;
  std::vector<std::string> clear_found_in;
  for (const auto& [path, bytes] : files) {
    scanned_bytes += bytes.size();
    saw_sst = saw_sst || absl::EndsWith(path, ".sst");
    saw_manifest = saw_manifest || absl::StrContains(path, "MANIFEST");
    saw_log = saw_log || absl::EndsWith(path, "/LOG");
    const std::string lower = absl::AsciiStrToLower(bytes);
    for (const auto& m : markers) {
      EXPECT_FALSE(absl::StrContains(bytes, m))
          << "PII marker \"" << m << "\" in clear in " << path;
      EXPECT_FALSE(absl::StrContains(lower, absl::AsciiStrToLower(m)))
          << "PII marker \"" << m << "\" (lower-cased) in " << path;
    }
    if (absl::StrContains(bytes, "zqxclearcampaign") && absl::StrContains(bytes, "zqxclearutm")) {
      clear_found_in.push_back(path);
    }
    saw_consent = saw_consent || absl::StrContains(bytes, "zqxclearseller");
  }
  // The scan must be able to fail: it did read the data, where clear metadata is.
  EXPECT_TRUE(saw_sst);
  EXPECT_TRUE(saw_manifest);
  EXPECT_TRUE(saw_log);
  EXPECT_GT(scanned_bytes, 0u);
  EXPECT_FALSE(clear_found_in.empty()) << "the scan never saw the clear campaign marker";
  EXPECT_TRUE(saw_consent) << "the scan never saw the clear consent evidence";
  bool in_sst = false;
  for (const auto& path : clear_found_in) in_sst = in_sst || absl::EndsWith(path, ".sst");
  EXPECT_TRUE(in_sst) << "clear metadata not found in any SST: was the flush done?";
}

}  // namespace
}  // namespace leadvault::e2e
