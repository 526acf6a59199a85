// The consent ledger in the vault: recording, enforcement at read and at
// contact, suppression across leads, proofs, tampering and roles.
#include "vault/consent_store.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "audit/consent_proof.h"
#include "gtest/gtest.h"
#include "tests/vault/vault_fixture.h"
#include "vault/internal/keys.h"

namespace leadvault::vault::testing {
namespace {

using C = ConsentChannel;
using P = ConsentPurpose;

constexpr char kSha[] = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

ConsentEvidence CompleteEvidence(absl::Time at, absl::string_view ip = "203.0.113.7") {
  ConsentEvidence v;
  v.captured_at = at;
  v.source_url = "https://clinic.example/knee?utm=1";
  v.seller_name = "Riverside Orthopedics";
  v.disclosure_version = "tcpa-2026-03";
  v.disclosure_sha256 = kSha;
  v.authorizes_automated = true;
  v.not_condition_of_purchase = true;
  v.capture_certificate_id = "https://cert.trustedform.com/0123456789abcdef";
  v.user_agent = "Mozilla/5.0 (X11; Linux x86_64)";
  if (!ip.empty()) v.ip_address = keys::SecretBytes::CopyFrom(ip);
  return v;
}

ConsentGrant Grant(std::vector<C> channels, std::vector<P> purposes, ConsentEvidence v) {
  ConsentGrant g;
  g.channels = std::move(channels);
  g.purposes = std::move(purposes);
  g.evidence = std::move(v);
  return g;
}

class ConsentStoreTest : public VaultFixture {
 protected:
  void SetUp() override { OpenOrDie(); }

  ConsentStore& consent() { return vault_->consent(); }
  LeadStore& leads() { return vault_->leads(); }
  absl::Time Now() const { return clock_.Now(); }

  // A lead of service line "ortho" created by capture, with `grant` if any.
  LeadId Create(const LeadInput& in, std::string key, std::optional<ConsentGrant> grant) {
    NewLead lead = MakeNewLead(in, "ortho", std::move(key));
    lead.consent = std::move(grant);
    absl::StatusOr<CreateResult> r = leads().CreateLead(CaptureActor(), std::move(lead));
    EXPECT_TRUE(r.ok()) << r.status();
    return *LeadId::FromBytes(r.ok() ? r->lead_id : std::string(16, '\0'));
  }

  LeadId CreateConsented(const LeadInput& in, std::string key) {
    return Create(in, std::move(key),
                  Grant({C::kEmail, C::kSms, C::kVoice, C::kAutodialedVoice},
                        {P::kScheduling, P::kMarketing}, CompleteEvidence(Now())));
  }

  ConsentDecision Check(const LeadId& id, C channel, P purpose) {
    absl::StatusOr<ConsentDecision> d =
        consent().CheckConsent(IntakeActor(), id, channel, purpose, "");
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *d : ConsentDecision{};
  }

  void Revoke(const LeadId& id, std::vector<C> channels, std::vector<P> purposes,
              RevocationMethod method = RevocationMethod::kIntakeCall, std::string reply = "") {
    ConsentRevocation r;
    r.channels = std::move(channels);
    r.purposes = std::move(purposes);
    r.method = method;
    if (!reply.empty()) r.reply_text = keys::SecretBytes::CopyFrom(reply);
    auto events = consent().RecordRevocation(IntakeActor(), id, std::move(r));
    ASSERT_TRUE(events.ok()) << events.status();
  }

  // GetLead for outreach on `channel` by intake: the lead, or the error.
  absl::StatusOr<Lead> Outreach(const LeadId& id, C channel, P purpose = P::kScheduling) {
    Actor intake = IntakeActor();
    intake.purpose = Purpose::kSchedulingOutreach;
    vault::Outreach o;
    o.channel = channel;
    o.purpose = purpose;
    return leads().GetLead(intake, id.bytes(), o);
  }

  absl::Status Attempt(const LeadId& id, ContactChannel channel, P purpose, bool automated) {
    auto meta = leads().GetLead(IntakeActor(), id.bytes());
    if (!meta.ok()) return meta.status();
    LeadUpdate u;
    u.lead_id = id.bytes();
    u.expected_version = meta->meta.version;
    ContactAttempt a;
    a.at = Now();
    a.channel = channel;
    a.outcome = ContactOutcome::kConnected;
    a.purpose = purpose;
    a.automated = automated;
    u.add_contact_attempts.push_back(a);
    return leads().UpdateLead(IntakeActor(), u).status();
  }
};

std::string ReasonOf(const Lead& lead, PiiField field) {
  for (const WithheldField& w : lead.withheld) {
    if (w.field == field) return w.reason;
  }
  return lead.pii.Has(field) ? "returned" : "absent";
}

TEST_F(ConsentStoreTest, GrantRevokeRegrantPerChannelAndPurpose) {
  LeadId id = CreateConsented(LeadInput{}, "k1");
  for (C c : kAllConsentChannels) {
    EXPECT_TRUE(Check(id, c, P::kScheduling).allowed);
    EXPECT_TRUE(Check(id, c, P::kMarketing).allowed);
    EXPECT_EQ(Check(id, c, P::kTreatmentFollowUp).reason, ConsentReason::kNoConsent);
  }
  clock_.Advance(absl::Minutes(1));
  Revoke(id, {C::kSms}, {P::kMarketing});
  ConsentDecision revoked = Check(id, C::kSms, P::kMarketing);
  EXPECT_FALSE(revoked.allowed);
  EXPECT_EQ(revoked.reason, ConsentReason::kRevoked);
  EXPECT_EQ(revoked.at, Now());
  EXPECT_TRUE(Check(id, C::kSms, P::kScheduling).allowed);   // another purpose
  EXPECT_TRUE(Check(id, C::kVoice, P::kMarketing).allowed);  // another channel
  clock_.Advance(absl::Minutes(1));
  auto regrant = consent().RecordGrant(IntakeActor(), id,
                                       Grant({C::kSms}, {P::kMarketing}, CompleteEvidence(Now())));
  ASSERT_TRUE(regrant.ok()) << regrant.status();
  EXPECT_TRUE(Check(id, C::kSms, P::kMarketing).allowed);

  // More acts: intake hears "no texts at all", then the person re-grants
  // sms for scheduling on a preference page.
  clock_.Advance(absl::Minutes(1));
  Revoke(id, {C::kSms}, {});
  EXPECT_EQ(Check(id, C::kSms, P::kMarketing).reason, ConsentReason::kRevoked);
  clock_.Advance(absl::Minutes(1));
  ASSERT_TRUE(consent()
                  .RecordGrant(IntakeActor(), id,
                               Grant({C::kSms}, {P::kScheduling}, CompleteEvidence(Now())))
                  .ok());
  EXPECT_TRUE(Check(id, C::kSms, P::kScheduling).allowed);
  EXPECT_EQ(Check(id, C::kSms, P::kMarketing).reason, ConsentReason::kRevoked);
  for (C c : {C::kEmail, C::kVoice, C::kAutodialedVoice}) {
    EXPECT_TRUE(Check(id, c, P::kScheduling).allowed);
    EXPECT_TRUE(Check(id, c, P::kMarketing).allowed);
  }

  // History: one event per act (the form's grant of 4 channels x 2 purposes,
  // a revocation, a grant, a revocation, a grant), numbered in order, never
  // rewritten.
  auto history = consent().GetConsentHistory(IntakeActor(), id, 0, 0);
  ASSERT_TRUE(history.ok()) << history.status();
  ASSERT_EQ(history->events.size(), 5u);
  for (size_t i = 0; i < history->events.size(); ++i) {
    EXPECT_EQ(history->events[i].number, i + 1);
    EXPECT_NE(history->events[i].audit_sequence, 0u);
  }
  EXPECT_EQ(history->events[0].channels.size(), 4u);
  EXPECT_EQ(history->events[0].purposes, (std::vector<P>{P::kScheduling, P::kMarketing}));
  EXPECT_EQ(history->events[1].action, ConsentAction::kRevoke);
  EXPECT_EQ(history->events[1].method, RevocationMethod::kIntakeCall);
  EXPECT_EQ(history->events[1].channels, (std::vector<C>{C::kSms}));
  EXPECT_EQ(history->events[1].purposes, (std::vector<P>{P::kMarketing}));
  EXPECT_EQ(history->events[2].action, ConsentAction::kGrant);
  // "Every purpose" is spelled out (sharing left out: no third party named).
  EXPECT_EQ(history->events[3].purposes,
            (std::vector<P>{P::kScheduling, P::kTreatmentFollowUp, P::kMarketing}));
  EXPECT_TRUE(history->events[3].third_parties.empty());
  EXPECT_EQ(history->events[4].action, ConsentAction::kGrant);
  EXPECT_FALSE(history->events[0].ip_commitment.empty());
  EXPECT_TRUE(history->events[0].evidence.ip_address.empty());  // never handed back
  EXPECT_EQ(history->events[0].evidence.source_url, "https://clinic.example/knee");
  // Pages.
  auto first = consent().GetConsentHistory(IntakeActor(), id, 0, 2);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->events.size(), 2u);
  EXPECT_EQ(first->next_after_number, 2u);
  auto last = consent().GetConsentHistory(IntakeActor(), id, 4, 2);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->events.size(), 1u);
  EXPECT_EQ(last->next_after_number, 0u);
  EXPECT_TRUE(
      absl::IsInvalidArgument(consent().GetConsentHistory(IntakeActor(), id, 0, 201).status()));
}

TEST_F(ConsentStoreTest, EachMissingTcpaElementMakesTheGrantIncompleteForAutomatedChannels) {
  const std::vector<std::pair<TcpaElement, std::function<void(ConsentEvidence&)>>> cases = {
      {TcpaElement::kSourceUrl, [](ConsentEvidence& v) { v.source_url.clear(); }},
      {TcpaElement::kSellerName, [](ConsentEvidence& v) { v.seller_name.clear(); }},
      {TcpaElement::kDisclosureVersion, [](ConsentEvidence& v) { v.disclosure_version.clear(); }},
      {TcpaElement::kDisclosureSha256, [](ConsentEvidence& v) { v.disclosure_sha256.clear(); }},
      {TcpaElement::kAuthorizesAutomated,
       [](ConsentEvidence& v) { v.authorizes_automated = false; }},
      {TcpaElement::kNotConditionOfPurchase,
       [](ConsentEvidence& v) { v.not_condition_of_purchase = false; }},
      {TcpaElement::kCaptureCertificateId,
       [](ConsentEvidence& v) { v.capture_certificate_id.clear(); }},
  };
  int n = 0;
  for (const auto& [element, drop] : cases) {
    SCOPED_TRACE(TcpaElementName(element));
    LeadInput in = EmailOnlyInput(100 + n);
    in.phone = absl::StrCat("+1650253", 1000 + n);
    ConsentEvidence v = CompleteEvidence(Now());
    drop(v);
    LeadId id = Create(in, absl::StrCat("inc-", n++),
                       Grant({C::kSms, C::kAutodialedVoice, C::kVoice, C::kEmail}, {P::kScheduling},
                             std::move(v)));
    for (C c : {C::kSms, C::kAutodialedVoice}) {
      ConsentDecision d = Check(id, c, P::kScheduling);
      EXPECT_FALSE(d.allowed);
      EXPECT_EQ(d.reason, ConsentReason::kIncomplete);
      EXPECT_EQ(d.missing, std::vector<TcpaElement>{element});
    }
    EXPECT_TRUE(Check(id, C::kVoice, P::kScheduling).allowed);  // a manual call needs no writing
    EXPECT_TRUE(Check(id, C::kEmail, P::kScheduling).allowed);
    absl::StatusOr<Lead> read = Outreach(id, C::kSms);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(ReasonOf(*read, PiiField::kPhone), "incomplete");
    ASSERT_EQ(read->withheld.size(), 2u);
    EXPECT_TRUE(absl::IsFailedPrecondition(
        Attempt(id, ContactChannel::kPhone, P::kScheduling, /*automated=*/true)));
    EXPECT_TRUE(Attempt(id, ContactChannel::kPhone, P::kScheduling, /*automated=*/false).ok());
  }
}

// The enforcement matrix at read time: channel x purpose x state.
TEST_F(ConsentStoreTest, OutreachReadMatrix) {
  enum State { kNone, kComplete, kIncomplete, kRevoked, kSuppressed };
  const char* names[] = {"none", "complete", "incomplete", "revoked", "suppressed"};
  int n = 0;
  for (State state : {kNone, kComplete, kIncomplete, kRevoked, kSuppressed}) {
    for (C channel : kAllConsentChannels) {
      for (P purpose : {P::kScheduling, P::kTreatmentFollowUp, P::kMarketing}) {
        SCOPED_TRACE(absl::StrCat(names[state], " ", ConsentChannelName(channel), " ",
                                  ConsentPurposeName(purpose)));
        LeadInput in = EmailOnlyInput(1000 + n);
        in.phone = absl::StrCat("+1617555", 1000 + n);
        ++n;
        std::optional<ConsentGrant> grant;
        ConsentEvidence v = CompleteEvidence(Now() - absl::Hours(1));
        if (state == kIncomplete) v.seller_name.clear();
        if (state != kNone) grant = Grant({channel}, {purpose}, std::move(v));
        LeadId id = Create(in, absl::StrCat("m-", n), std::move(grant));
        if (state == kRevoked) Revoke(id, {channel}, {purpose});
        if (state == kSuppressed) {
          // Revoked on the person's lead of another service line, which
          // shares only the contact of this channel.
          LeadInput again = in;
          if (channel == C::kEmail) {
            again.phone = absl::StrCat("+1617666", 1000 + n);
          } else {
            again.email = absl::StrCat("again", n, "@example.net");
          }
          NewLead l = MakeNewLead(again, "spine", absl::StrCat("m-spine-", n));
          auto r = leads().CreateLead(CaptureActor(), std::move(l));
          ASSERT_TRUE(r.ok()) << r.status();
          Actor spine = IntakeActor();
          spine.service_lines = {"spine"};
          ConsentRevocation rev;
          rev.channels = {channel};
          rev.purposes = {purpose};
          rev.method = RevocationMethod::kIntakeCall;
          ASSERT_TRUE(consent()
                          .RecordRevocation(spine, *LeadId::FromBytes(r->lead_id), std::move(rev))
                          .ok());
        }
        clock_.Advance(absl::Seconds(1));
        const bool allowed = state == kComplete || (state == kIncomplete &&
                                                    (channel == C::kEmail || channel == C::kVoice));
        absl::StatusOr<Lead> read = Outreach(id, channel, purpose);
        ASSERT_TRUE(read.ok()) << read.status();
        const PiiField own = channel == C::kEmail ? PiiField::kEmail : PiiField::kPhone;
        const PiiField other = channel == C::kEmail ? PiiField::kPhone : PiiField::kEmail;
        const char* expected = allowed                ? "returned"
                               : state == kNone       ? "no_consent"
                               : state == kIncomplete ? "incomplete"
                               : state == kRevoked    ? "revoked"
                                                      : "suppressed";
        EXPECT_EQ(ReasonOf(*read, own), expected);
        EXPECT_EQ(ReasonOf(*read, other), "not_outreach_channel");
        EXPECT_TRUE(read->pii.Has(PiiField::kFirstName));  // the rest as the role sees it
        EXPECT_EQ(Check(id, channel, purpose).allowed, allowed);
      }
    }
  }
}

TEST_F(ConsentStoreTest, SchedulingOutreachMustNameItsChannel) {
  LeadId id = CreateConsented(LeadInput{}, "k1");
  Actor intake = IntakeActor();
  intake.purpose = Purpose::kSchedulingOutreach;
  absl::Status s = leads().GetLead(intake, id.bytes()).status();
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_TRUE(absl::StartsWith(s.message(), "outreach.channel:"));
  // A treatment read is not outreach: every field as before.
  auto read = leads().GetLead(IntakeActor(), id.bytes());
  ASSERT_TRUE(read.ok());
  EXPECT_TRUE(read->pii.Has(PiiField::kPhone));
  EXPECT_TRUE(read->withheld.empty());
}

TEST_F(ConsentStoreTest, EveryStopKeywordFormIsARevocation) {
  const std::vector<std::pair<std::string, std::string>> replies = {
      {"STOP", "STOP"},
      {"stop", "STOP"},
      {"  Stop \n", "STOP"},
      {"QUIT", "QUIT"},
      {"end", "END"},
      {"\tRevoke", "REVOKE"},
      {"OPT OUT", "OPT OUT"},
      {"opt   out", "OPT OUT"},
      {"Opt-Out", "OPT OUT"},
      {"optout", "OPT OUT"},
      {"CANCEL ", "CANCEL"},
      {"unsubscribe", "UNSUBSCRIBE"},
      {"please don't text me", ""},
      {"Leave me alone", ""},
  };
  int n = 0;
  for (const auto& [reply, keyword] : replies) {
    SCOPED_TRACE(reply);
    LeadInput in = EmailOnlyInput(2000 + n);
    in.phone = absl::StrCat("+1415555", 1000 + n);
    LeadId id = CreateConsented(in, absl::StrCat("s-", n++));
    clock_.Advance(absl::Seconds(1));
    Revoke(id, {C::kSms}, {}, RevocationMethod::kSmsReply, reply);
    for (P p : {P::kScheduling, P::kMarketing}) {
      EXPECT_EQ(Check(id, C::kSms, p).reason, ConsentReason::kRevoked);
    }
    EXPECT_TRUE(Check(id, C::kVoice, P::kScheduling).allowed);
    auto history = consent().GetConsentHistory(IntakeActor(), id, 1, 0);
    ASSERT_TRUE(history.ok());
    ASSERT_EQ(history->events.size(), 1u);
    // sms x every purpose (sharing left out: no third party named)
    EXPECT_EQ(history->events[0].channels, (std::vector<C>{C::kSms}));
    EXPECT_EQ(history->events[0].purposes.size(), 3u);
    EXPECT_EQ(history->events[0].method_detail,
              keyword.empty() ? "free_text" : absl::StrCat("keyword:", keyword));
  }
}

TEST_F(ConsentStoreTest, SuppressionFollowsThePhoneToDuplicateAndNewLeads) {
  LeadInput person;
  LeadId first = CreateConsented(person, "p1");
  clock_.Advance(absl::Minutes(1));
  // The same person submitted to another service line: its own lead, consent
  // captured an hour before the revocation that follows (an old form resold).
  LeadInput same_phone = person;
  same_phone.email = "other-address@example.net";
  NewLead spine = MakeNewLead(same_phone, "spine", "p2");
  spine.consent =
      Grant({C::kSms, C::kVoice}, {P::kScheduling}, CompleteEvidence(Now() - absl::Hours(1)));
  auto second = leads().CreateLead(CaptureActor(), std::move(spine));
  ASSERT_TRUE(second.ok());
  LeadId spine_id = *LeadId::FromBytes(second->lead_id);
  Actor spine_desk = IntakeActor();
  spine_desk.service_lines = {"spine"};
  ASSERT_TRUE(consent().CheckConsent(spine_desk, spine_id, C::kSms, P::kScheduling, "")->allowed);

  clock_.Advance(absl::Minutes(1));
  Revoke(first, {C::kSms}, {});  // "stop texting me", heard on the ortho lead
  // The other lead with that phone: suppressed on sms, voice untouched.
  auto d = consent().CheckConsent(spine_desk, spine_id, C::kSms, P::kScheduling, "");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->reason, ConsentReason::kSuppressed);
  EXPECT_TRUE(consent().CheckConsent(spine_desk, spine_id, C::kVoice, P::kScheduling, "")->allowed);
  // A duplicate submission to ortho carrying consent captured before the
  // revocation changes nothing; one captured after it is fresh consent.
  clock_.Advance(absl::Minutes(1));
  NewLead dup = MakeNewLead(person, "ortho", "p3");
  dup.consent = Grant({C::kSms}, {P::kScheduling}, CompleteEvidence(Now() - absl::Hours(2)));
  ASSERT_TRUE(leads().CreateLead(CaptureActor(), std::move(dup)).ok());
  EXPECT_FALSE(Check(first, C::kSms, P::kScheduling).allowed);
  // A brand-new lead (pediatrics) with the phone and no fresh consent: suppressed.
  NewLead peds = MakeNewLead(same_phone, "peds", "p4");
  peds.consent = Grant({C::kSms}, {P::kScheduling}, CompleteEvidence(Now() - absl::Hours(3)));
  auto third = leads().CreateLead(CaptureActor(), std::move(peds));
  ASSERT_TRUE(third.ok());
  Actor peds_desk = IntakeActor();
  peds_desk.service_lines = {"peds"};
  LeadId peds_id = *LeadId::FromBytes(third->lead_id);
  EXPECT_EQ(consent().CheckConsent(peds_desk, peds_id, C::kSms, P::kScheduling, "")->reason,
            ConsentReason::kSuppressed);
  // Fresh consent captured on that lead after the revocation lifts it there only.
  clock_.Advance(absl::Minutes(1));
  ASSERT_TRUE(consent()
                  .RecordGrant(peds_desk, peds_id,
                               Grant({C::kSms}, {P::kScheduling}, CompleteEvidence(Now())))
                  .ok());
  EXPECT_TRUE(consent().CheckConsent(peds_desk, peds_id, C::kSms, P::kScheduling, "")->allowed);
  EXPECT_EQ(consent().CheckConsent(spine_desk, spine_id, C::kSms, P::kScheduling, "")->reason,
            ConsentReason::kSuppressed);
  // Contact attempts follow the same decision.
  Actor desk = spine_desk;
  auto meta = leads().GetLead(desk, spine_id.bytes());
  ASSERT_TRUE(meta.ok());
  LeadUpdate u;
  u.lead_id = spine_id.bytes();
  u.expected_version = meta->meta.version;
  u.add_contact_attempts.push_back(
      {Now(), ContactChannel::kSms, ContactOutcome::kReplied, P::kScheduling, false});
  absl::Status refused = leads().UpdateLead(desk, u).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(refused)) << refused;
  EXPECT_NE(refused.message().find("suppressed"), absl::string_view::npos);
}

TEST_F(ConsentStoreTest, ContactAttemptsNeedConsentForTheirChannelAndPurpose) {
  LeadInput in;
  LeadId id = Create(in, "c1", Grant({C::kVoice}, {P::kScheduling}, CompleteEvidence(Now())));
  EXPECT_TRUE(Attempt(id, ContactChannel::kPhone, P::kScheduling, false).ok());
  EXPECT_TRUE(
      absl::IsFailedPrecondition(Attempt(id, ContactChannel::kPhone, P::kMarketing, false)));
  EXPECT_TRUE(
      absl::IsFailedPrecondition(Attempt(id, ContactChannel::kPhone, P::kScheduling, true)));
  EXPECT_TRUE(absl::IsFailedPrecondition(Attempt(id, ContactChannel::kSms, P::kScheduling, false)));
  EXPECT_TRUE(
      absl::IsFailedPrecondition(Attempt(id, ContactChannel::kEmail, P::kScheduling, false)));
  EXPECT_TRUE(Attempt(id, ContactChannel::kMail, P::kMarketing, false).ok());  // mail needs none
  EXPECT_TRUE(absl::IsInvalidArgument(
      Attempt(id, ContactChannel::kSms, P::kScheduling, /*automated=*/true)));
  EXPECT_TRUE(
      absl::IsInvalidArgument(Attempt(id, ContactChannel::kPhone, P::kThirdPartySharing, false)));
  Revoke(id, {C::kVoice}, {P::kScheduling});
  EXPECT_TRUE(
      absl::IsFailedPrecondition(Attempt(id, ContactChannel::kPhone, P::kScheduling, false)));
}

TEST_F(ConsentStoreTest, ARevocationIsSeenByTheNextReadWhileSixteenReadersRun) {
  LeadId id = CreateConsented(LeadInput{}, "r1");
  std::atomic<bool> revoked{false};
  std::atomic<bool> stop{false};
  std::atomic<int> violations{0};
  std::atomic<int> reads{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 16; ++i) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        // Read the flag before the read starts: a read that began after the
        // revocation was acknowledged must never return the phone.
        const bool after = revoked.load();
        absl::StatusOr<Lead> lead = Outreach(id, C::kSms);
        if (!lead.ok()) {
          violations.fetch_add(1);
          continue;
        }
        reads.fetch_add(1);
        if (after && lead->pii.Has(PiiField::kPhone)) violations.fetch_add(1);
      }
    });
  }
  while (reads.load() < 64) std::this_thread::yield();
  Revoke(id, {C::kSms}, {P::kScheduling});
  revoked.store(true);
  const int at_revocation = reads.load();
  while (reads.load() < at_revocation + 64) std::this_thread::yield();
  stop.store(true);
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(violations.load(), 0);
  absl::StatusOr<Lead> lead = Outreach(id, C::kSms);
  ASSERT_TRUE(lead.ok());
  EXPECT_EQ(ReasonOf(*lead, PiiField::kPhone), "revoked");
}

TEST_F(ConsentStoreTest, ProofExportVerifiesOfflineAndFailsWhenAnEventChanges) {
  LeadId id = CreateConsented(LeadInput{}, "x1");
  clock_.Advance(absl::Minutes(1));
  Revoke(id, {C::kSms}, {P::kMarketing}, RevocationMethod::kSmsReply, "STOP");
  Actor officer = MakeActor("00000000000000e1", "compliance");
  officer.purpose = std::nullopt;
  bool committed = false;
  absl::StatusOr<audit::ConsentProof> proof = consent().ExportConsentProof(officer, id, &committed);
  ASSERT_TRUE(proof.ok()) << proof.status();
  EXPECT_TRUE(committed);
  ASSERT_EQ(proof->items.size(), 2u);
  auto verifier = audit::NoteVerifier::Parse(vault_->audit_log().VerifierKey());
  ASSERT_TRUE(verifier.ok());
  auto report = audit::VerifyConsentProof(*proof, *verifier);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->grants, 1u);
  EXPECT_EQ(report->revocations, 1u);
  // Through its JSON form too.
  auto parsed = audit::ParseConsentProof(audit::RenderConsentProof(*proof));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(audit::VerifyConsentProof(*parsed, *verifier).ok());
  audit::ConsentProof changed = *proof;
  changed.items[0].event.seller_name = "Another Seller";
  EXPECT_FALSE(audit::VerifyConsentProof(changed, *verifier).ok());
  changed = *proof;
  changed.items[1].event.method_detail = "free_text";
  EXPECT_FALSE(audit::VerifyConsentProof(changed, *verifier).ok());
  // The vault's own export entry counts the events: a document cut short
  // (the revocation dropped) no longer verifies.
  EXPECT_EQ(report->export_sequence, proof->export_sequence);
  EXPECT_GT(proof->export_sequence, proof->items.back().audit_sequence);
  changed = *proof;
  changed.items.pop_back();
  auto cut = audit::VerifyConsentProof(changed, *verifier);
  EXPECT_TRUE(absl::IsInvalidArgument(cut.status()));
  EXPECT_TRUE(absl::StartsWith(cut.status().message(), "export: ")) << cut.status();
  // Intake may not export; capture sees no such lead.
  Actor intake = IntakeActor();
  EXPECT_TRUE(absl::IsNotFound(consent().ExportConsentProof(intake, id).status()));
}

TEST_F(ConsentStoreTest, RolesAndScope) {
  LeadId id = CreateConsented(LeadInput{}, "a1");
  auto g = [this] { return Grant({C::kEmail}, {P::kMarketing}, CompleteEvidence(Now())); };
  // Capture records grants only with the lead it creates.
  EXPECT_TRUE(absl::IsNotFound(consent().RecordGrant(CaptureActor(), id, g()).status()));
  Actor officer = MakeActor("00000000000000e1", "compliance");
  EXPECT_TRUE(absl::IsNotFound(consent().RecordGrant(officer, id, g()).status()));
  EXPECT_TRUE(consent().CheckConsent(officer, id, C::kEmail, P::kScheduling, "").ok());
  EXPECT_TRUE(consent().GetConsentHistory(officer, id, 0, 0).ok());
  for (const char* role : {"admin", "analyst", "capture"}) {
    Actor a = MakeActor("00000000000000f1", role);
    EXPECT_TRUE(
        absl::IsNotFound(consent().CheckConsent(a, id, C::kEmail, P::kScheduling, "").status()));
    EXPECT_TRUE(absl::IsNotFound(consent().GetConsentHistory(a, id, 0, 0).status()));
  }
  Actor other_line = IntakeActor();
  other_line.service_lines = {"cardiology"};
  EXPECT_TRUE(absl::IsNotFound(consent().RecordGrant(other_line, id, g()).status()));
  EXPECT_TRUE(absl::IsNotFound(
      consent().CheckConsent(other_line, id, C::kEmail, P::kScheduling, "").status()));
  ConsentRevocation r;
  EXPECT_TRUE(absl::IsNotFound(consent().RecordRevocation(other_line, id, std::move(r)).status()));
  // A made-up id is the same NOT_FOUND.
  LeadId nobody = *LeadId::FromBytes(std::string(16, '\x42'));
  EXPECT_TRUE(absl::IsNotFound(consent().RecordGrant(IntakeActor(), nobody, g()).status()));
}

TEST_F(ConsentStoreTest, ThirdPartySharingIsPerNamedParty) {
  LeadId id = CreateConsented(LeadInput{}, "t1");
  ConsentGrant g = Grant({C::kEmail}, {P::kThirdPartySharing}, CompleteEvidence(Now()));
  g.third_party = "  Acme Imaging ";
  ASSERT_TRUE(consent().RecordGrant(IntakeActor(), id, std::move(g)).ok());
  EXPECT_TRUE(consent()
                  .CheckConsent(IntakeActor(), id, C::kEmail, P::kThirdPartySharing, "ACME imaging")
                  ->allowed);
  EXPECT_EQ(consent()
                .CheckConsent(IntakeActor(), id, C::kEmail, P::kThirdPartySharing, "Other Lab")
                ->reason,
            ConsentReason::kNoConsent);
  EXPECT_TRUE(absl::IsInvalidArgument(
      consent().CheckConsent(IntakeActor(), id, C::kEmail, P::kThirdPartySharing, "").status()));
  // A read for outreach names the party as it likes; the ledger's key is normalized.
  Actor intake = IntakeActor();
  vault::Outreach share{C::kEmail, P::kThirdPartySharing, " ACME Imaging"};
  auto read = leads().GetLead(intake, id.bytes(), share);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(ReasonOf(*read, PiiField::kEmail), "returned");
  share.third_party = "";
  EXPECT_TRUE(absl::IsInvalidArgument(leads().GetLead(intake, id.bytes(), share).status()));
  // Another party on sms only.
  ConsentGrant beta = Grant({C::kSms}, {P::kThirdPartySharing}, CompleteEvidence(Now()));
  beta.third_party = "Beta Labs";
  ASSERT_TRUE(consent().RecordGrant(IntakeActor(), id, std::move(beta)).ok());
  // Revoking sharing on voice names no party there: nothing to revoke.
  ConsentRevocation none;
  none.channels = {C::kVoice};
  none.purposes = {P::kThirdPartySharing};
  EXPECT_TRUE(absl::IsInvalidArgument(
      consent().RecordRevocation(IntakeActor(), id, std::move(none)).status()));
  clock_.Advance(absl::Minutes(1));
  Revoke(id, {C::kEmail}, {P::kThirdPartySharing});  // every party named on email
  auto share_check = [&](C channel, const std::string& party) {
    return consent().CheckConsent(IntakeActor(), id, channel, P::kThirdPartySharing, party)->reason;
  };
  EXPECT_EQ(share_check(C::kEmail, "acme imaging"), ConsentReason::kRevoked);
  EXPECT_EQ(share_check(C::kSms, "beta labs"), ConsentReason::kActive);
  EXPECT_TRUE(Check(id, C::kEmail, P::kMarketing).allowed);
  auto history = consent().GetConsentHistory(IntakeActor(), id, 0, 0);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->events.size(), 4u);
  EXPECT_EQ(history->events[3].third_parties, (std::vector<std::string>{"acme imaging"}));
  // Every channel, every purpose: both parties, each on every channel.
  clock_.Advance(absl::Minutes(1));
  Revoke(id, {}, {});
  EXPECT_EQ(share_check(C::kSms, "beta labs"), ConsentReason::kRevoked);
  history = consent().GetConsentHistory(IntakeActor(), id, 4, 0);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->events.size(), 1u);
  EXPECT_EQ(history->events[0].channels.size(), 4u);
  EXPECT_EQ(history->events[0].purposes.size(), 4u);
  EXPECT_EQ(history->events[0].third_parties,
            (std::vector<std::string>{"acme imaging", "beta labs"}));
  for (C c : kAllConsentChannels) {
    for (P p : {P::kScheduling, P::kTreatmentFollowUp, P::kMarketing}) {
      EXPECT_FALSE(Check(id, c, p).allowed);
    }
  }
}

TEST_F(ConsentStoreTest, RetriedCreateRecordsConsentOnceAndADifferentConsentIsRefused) {
  NewLead first = MakeNewLead(LeadInput{}, "ortho", "idem-1");
  first.consent = Grant({C::kSms}, {P::kScheduling}, CompleteEvidence(Now()));
  auto a = leads().CreateLead(CaptureActor(), std::move(first));
  ASSERT_TRUE(a.ok());
  NewLead retry = MakeNewLead(LeadInput{}, "ortho", "idem-1");
  retry.consent = Grant({C::kSms}, {P::kScheduling}, CompleteEvidence(Now()));
  auto b = leads().CreateLead(CaptureActor(), std::move(retry));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->lead_id, b->lead_id);
  LeadId id = *LeadId::FromBytes(a->lead_id);
  EXPECT_EQ(consent().GetConsentHistory(IntakeActor(), id, 0, 0)->events.size(), 1u);
  NewLead changed = MakeNewLead(LeadInput{}, "ortho", "idem-1");
  changed.consent = Grant({C::kSms}, {P::kScheduling}, CompleteEvidence(Now(), "198.51.100.1"));
  EXPECT_TRUE(
      absl::IsFailedPrecondition(leads().CreateLead(CaptureActor(), std::move(changed)).status()));
  // Bad evidence writes nothing and names the field, never the value.
  NewLead bad = MakeNewLead(EmailOnlyInput(9), "ortho", "idem-2");
  bad.consent = Grant({C::kSms}, {P::kScheduling}, CompleteEvidence(Now(), "CANARY-ip-9911"));
  auto before = DumpState(*vault_);
  absl::Status s = leads().CreateLead(CaptureActor(), std::move(bad)).status();
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_EQ(s.message().find("CANARY"), absl::string_view::npos);
  EXPECT_EQ(DumpState(*vault_), before);
}

TEST_F(ConsentStoreTest, EvidenceNeverReachesTheAuditLogOrTheDiskInClear) {
  ConsentEvidence v = CompleteEvidence(Now(), "192.0.2.77");
  LeadId id = Create(LeadInput{}, "c1", Grant({C::kSms}, {P::kScheduling}, std::move(v)));
  Revoke(id, {C::kSms}, {}, RevocationMethod::kSmsReply, "CANARY-reply-5521 stop it please");
  // The IP and the reply are in no row of any column family, nor in any audit entry.
  for (const auto& [cf, rows] : DumpAll(*vault_)) {
    for (const auto& [k, value] : rows) {
      EXPECT_FALSE(absl::StrContains(value, "192.0.2.77")) << cf;
      EXPECT_FALSE(absl::StrContains(value, "CANARY-reply")) << cf;
      EXPECT_FALSE(absl::StrContains(k, "192.0.2.77")) << cf;
    }
  }
  for (const auto& [seq, entry] : ReadAudit(*vault_)) {
    std::string all = audit::EncodeCanonical(entry);
    EXPECT_FALSE(absl::StrContains(all, "192.0.2.77")) << seq;
    EXPECT_FALSE(absl::StrContains(all, "CANARY")) << seq;
    EXPECT_FALSE(absl::StrContains(all, "Riverside")) << seq;  // evidence only as a digest
  }
}

// The state row groups keys by the event they rest on; whatever sequence of
// acts built it, it reads back deciding every key as the events say.
TEST_F(ConsentStoreTest, TheStateRowDecidesEveryKeyAsTheEventsSay) {
  LeadId id = Create(LeadInput{}, "m1", std::nullopt);
  const std::vector<std::string> parties = {"acme imaging", "beta labs", "gamma health"};
  ConsentState model;
  // The newest revocation per (channel, purpose): this lead's phone and email
  // are suppressed there (the model of the suppression list).
  std::map<std::pair<C, P>, absl::Time> revoked;
  uint64_t seed = 0x9e3779b97f4a7c15u;
  auto next = [&seed](uint64_t n) {
    seed = seed * 6364136223846793005u + 1442695040888963407u;
    return (seed >> 33) % n;
  };
  auto subset = [&next](auto all) {
    std::vector<typename decltype(all)::value_type> out;
    for (auto v : all) {
      if (next(2) == 0) out.push_back(v);
    }
    return out;
  };
  for (int step = 0; step < 60; ++step) {
    SCOPED_TRACE(step);
    clock_.Advance(absl::Minutes(1));
    absl::StatusOr<ConsentEvent> event = absl::InternalError("none");
    if (next(3) != 0) {
      std::vector<C> channels = subset(kAllConsentChannels);
      std::vector<P> purposes = subset(kAllConsentPurposes);
      if (channels.empty()) channels = {C::kSms};
      if (purposes.empty()) purposes = {P::kMarketing};
      ConsentEvidence v = CompleteEvidence(Now() - absl::Seconds(next(90) + 1));
      if (next(3) == 0) v.seller_name.clear();  // incomplete
      ConsentGrant g = Grant(channels, purposes, std::move(v));
      if (std::find(purposes.begin(), purposes.end(), P::kThirdPartySharing) != purposes.end()) {
        g.third_party = parties[next(parties.size())];
      }
      event = consent().RecordGrant(IntakeActor(), id, std::move(g));
    } else {
      ConsentRevocation r;
      r.channels = subset(kAllConsentChannels);
      r.purposes = subset(kAllConsentPurposes);
      if (next(2) == 0 &&
          (r.purposes.empty() || std::find(r.purposes.begin(), r.purposes.end(),
                                           P::kThirdPartySharing) != r.purposes.end())) {
        r.third_party = parties[next(parties.size())];
      }
      r.method = RevocationMethod::kPreferencePage;
      event = consent().RecordRevocation(IntakeActor(), id, std::move(r));
      if (absl::IsInvalidArgument(event.status())) continue;  // sharing with no party named
    }
    ASSERT_TRUE(event.ok()) << event.status();
    model.Apply(*event);
    if (event->action == ConsentAction::kRevoke) {
      for (C c : event->channels) {
        for (P p : event->purposes) revoked[{c, p}] = event->at;
      }
    }
    absl::StatusOr<ConsentState> stored = vault_->consent_ledger().ReadState(id.bytes());
    ASSERT_TRUE(stored.ok()) << stored.status();
    EXPECT_EQ(stored->last_number(), model.last_number());
    EXPECT_EQ(stored->latest().size(), model.latest().size());
    EXPECT_EQ(stored->third_parties(), model.third_parties());
    for (C c : kAllConsentChannels) {
      for (P p : kAllConsentPurposes) {
        for (const std::string& party :
             p == P::kThirdPartySharing ? parties : std::vector<std::string>{""}) {
          std::optional<absl::Time> suppressed;
          if (auto it = revoked.find({c, p}); it != revoked.end()) suppressed = it->second;
          const ConsentDecision want = model.Decide(c, p, party, suppressed);
          const ConsentDecision got = stored->Decide(c, p, party, suppressed);
          EXPECT_EQ(got.reason, want.reason) << ConsentChannelName(c) << "/" << party;
          EXPECT_EQ(got.at, want.at);
          EXPECT_EQ(got.event_number, want.event_number);
          EXPECT_EQ(got.missing, want.missing);
          absl::StatusOr<ConsentDecision> served =
              consent().CheckConsent(IntakeActor(), id, c, p, party);
          ASSERT_TRUE(served.ok()) << served.status();
          EXPECT_EQ(served->reason, want.reason);
        }
      }
    }
  }
  EXPECT_GT(model.last_number(), 30u);
}

TEST_F(ConsentStoreTest, AnOfflineEditOfTheLedgerIsDataLoss) {
  LeadId id = CreateConsented(LeadInput{}, "d1");
  Revoke(id, {C::kSms}, {P::kScheduling});
  Database& db = vault_->database();
  // Flip the revocation in the state row back to a grant: the MAC refuses it.
  std::string state_key = ConsentLedger::StateKey(id.bytes());
  auto row = db.Get(Cf::kConsent, state_key);
  ASSERT_TRUE(row.ok());
  std::string edited = *row;
  edited[edited.size() / 2] ^= 0x01;
  ASSERT_TRUE(db.db()->Put(rocksdb::WriteOptions(), db.cf(Cf::kConsent), state_key, edited).ok());
  EXPECT_TRUE(absl::IsDataLoss(
      consent().CheckConsent(IntakeActor(), id, C::kSms, P::kScheduling, "").status()));
  absl::StatusOr<Lead> read = Outreach(id, C::kSms);
  EXPECT_TRUE(absl::IsDataLoss(read.status())) << read.status();
  ASSERT_TRUE(db.db()->Put(rocksdb::WriteOptions(), db.cf(Cf::kConsent), state_key, *row).ok());
  // An event record edited: history refuses it.
  std::string event_key = id.bytes() + std::string("\0\0\0\x02", 4);
  auto event = db.Get(Cf::kConsent, event_key);
  ASSERT_TRUE(event.ok());
  std::string bad = *event;
  bad[bad.size() / 3] ^= 0x01;
  ASSERT_TRUE(db.db()->Put(rocksdb::WriteOptions(), db.cf(Cf::kConsent), event_key, bad).ok());
  EXPECT_TRUE(absl::IsDataLoss(consent().GetConsentHistory(IntakeActor(), id, 0, 0).status()));
}

}  // namespace
}  // namespace leadvault::vault::testing
