// End-to-end tests of `leadvaultctl report audit|accounting` with the real
// binaries: a daemon with reads, a denial, an authentication failure and an
// emergency access whose reason holds markup; the HTML reports rendered by
// headless Chromium (Debian's `chromium`, scripts/setup.sh), their
// screenshots decoded and their DOMs checked: the verification result, the
// counts, the reason as inert text, no script and no external resource.
#include <sys/stat.h>
#include <zlib.h>

#include <cstdint>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/e2e_fixture.h"

#ifndef LEADVAULTCTL_PATH
#error "LEADVAULTCTL_PATH must be defined by the build"
#endif

namespace leadvault::e2e {
namespace {

constexpr char kChromium[] = "/usr/bin/chromium";
constexpr char kTimeout[] = "/usr/bin/timeout";
constexpr char kChromiumCapSeconds[] = "240";  // only bounds a hung browser
constexpr char kReason[] = "Unresponsive at triage <script>alert(1)</script> & \"quotes\"";
// The reason as the report's HTML writes it, and as a DOM serializes the text.
constexpr char kReasonInHtml[] =
    "Unresponsive at triage &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;";
constexpr char kReasonInDom[] =
    "Unresponsive at triage &lt;script&gt;alert(1)&lt;/script&gt; &amp; \"quotes\"";
// A valid verifier key that is not the daemon's: audit/testdata/vectors.json's
// public TEST key (audit/FORMAT.md, section 9).
constexpr char kOtherKey[] =
    "vectors.leadvault.test+0eb74388+ARy+SneajOd8+DxlHB+sh2tWHJOAM4m42WwFOCWDHTjv";

int RunCtl(const std::vector<std::string>& args, const std::string& log_prefix,
           std::string* out = nullptr, std::string* err = nullptr) {
  return RunProgram(LEADVAULTCTL_PATH, args, log_prefix, out, err);
}

// What a screenshot shows: its size and every distinct RGB colour in it.
struct Picture {
  uint32_t width = 0, height = 0;
  std::set<uint32_t> colours;  // 0xRRGGBB
};

uint32_t BigEndian32(const std::string& bytes, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(bytes[at + i]);
  return v;
}

uint8_t Paeth(int a, int b, int c) {
  const int p = a + b - c;
  const int pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return static_cast<uint8_t>(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
}

// Decodes an 8-bit RGB or RGBA non-interlaced PNG (what Chromium writes):
// chunks, zlib, then the five scanline filters (PNG spec, section 9).
::testing::AssertionResult DecodePng(const std::string& bytes, Picture* picture) {
  if (bytes.size() < 8 || bytes.compare(0, 8, "\x89PNG\r\n\x1a\n", 8) != 0) {
    return ::testing::AssertionFailure() << "not a PNG";
  }
  std::string compressed;
  size_t channels = 0;
  for (size_t at = 8; at + 12 <= bytes.size();) {
    const uint32_t length = BigEndian32(bytes, at);
    const std::string type = bytes.substr(at + 4, 4);
    if (at + 12 + length > bytes.size()) return ::testing::AssertionFailure() << "truncated";
    const size_t data = at + 8;
    if (type == "IHDR") {
      picture->width = BigEndian32(bytes, data);
      picture->height = BigEndian32(bytes, data + 4);
      const int depth = bytes[data + 8], colour_type = bytes[data + 9],
                interlace = bytes[data + 12];
      channels = colour_type == 2 ? 3 : colour_type == 6 ? 4 : 0;
      if (depth != 8 || channels == 0 || interlace != 0) {
        return ::testing::AssertionFailure()
               << "unexpected PNG format " << depth << "/" << colour_type << "/" << interlace;
      }
    } else if (type == "IDAT") {
      compressed.append(bytes, data, length);
    } else if (type == "IEND") {
      break;
    }
    at += 12 + length;
  }
  const size_t stride = picture->width * channels;
  std::string raw(picture->height * (stride + 1), '\0');
  uLongf raw_size = raw.size();
  if (channels == 0 ||
      ::uncompress(reinterpret_cast<Bytef*>(raw.data()), &raw_size,
                   reinterpret_cast<const Bytef*>(compressed.data()), compressed.size()) != Z_OK ||
      raw_size != raw.size()) {
    return ::testing::AssertionFailure() << "the image data does not inflate";
  }
  std::vector<uint8_t> previous(stride, 0), line(stride, 0);
  for (uint32_t y = 0; y < picture->height; ++y) {
    const char* row = raw.data() + y * (stride + 1);
    const int filter = static_cast<uint8_t>(row[0]);
    for (size_t x = 0; x < stride; ++x) {
      const int v = static_cast<uint8_t>(row[1 + x]);
      const int a = x >= channels ? line[x - channels] : 0;
      const int b = previous[x];
      const int c = x >= channels ? previous[x - channels] : 0;
      int predicted = 0;
      switch (filter) {
        case 0:
          break;
        case 1:
          predicted = a;
          break;
        case 2:
          predicted = b;
          break;
        case 3:
          predicted = (a + b) / 2;
          break;
        case 4:
          predicted = Paeth(a, b, c);
          break;
        default:
          return ::testing::AssertionFailure() << "unknown filter " << filter;
      }
      line[x] = static_cast<uint8_t>(v + predicted);
    }
    for (size_t x = 0; x + channels <= stride; x += channels) {
      picture->colours.insert(static_cast<uint32_t>(line[x]) << 16 |
                              static_cast<uint32_t>(line[x + 1]) << 8 | line[x + 2]);
    }
    previous.swap(line);
  }
  return ::testing::AssertionSuccess();
}

// The <tr> of `html` that holds `needle`, or "".
std::string RowWith(const std::string& html, const std::string& needle) {
  size_t at = html.find(needle);
  if (at == std::string::npos) return "";
  size_t start = html.rfind("<tr>", at), end = html.find("</tr>", at);
  if (start == std::string::npos || end == std::string::npos) return "";
  return html.substr(start, end - start);
}

// The section of `html` whose id is `id`, or "".
std::string Section(const std::string& html, const std::string& id) {
  size_t start = html.find("<section id=\"" + id + "\"");
  if (start == std::string::npos) return "";
  size_t end = html.find("</section>", start);
  return end == std::string::npos ? "" : html.substr(start, end - start);
}

// What a self-contained page must never hold: a script, or anything that
// would fetch from elsewhere.
void ExpectSelfContained(const std::string& file, const std::string& html) {
  const std::string lower = absl::AsciiStrToLower(html);
  for (const char* banned : {"<script", "http://", "https://", "src=", "href=", "url(", "@import",
                             "<link", "<iframe", "<object", "<embed"}) {
    EXPECT_FALSE(absl::StrContains(lower, banned)) << file << " holds " << banned;
  }
  EXPECT_TRUE(absl::StrContains(
      html,
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src "
      "'unsafe-inline'; img-src data:\">"))
      << file;
}

class ReportE2eTest : public E2eTest {
 protected:
  std::vector<std::string> As(const std::string& token_name, std::vector<std::string> args) {
    args.insert(args.begin(), {"--server", address_, "--token-file", Path(token_name + ".token")});
    return args;
  }

  // Runs headless Chromium on the file `html` with `args`; its stdout.
  std::string Chromium(const std::string& html, const std::vector<std::string>& args,
                       const std::string& run) {
    EXPECT_TRUE(Exists(kChromium)) << kChromium << " is missing: run scripts/setup.sh";
    std::vector<std::string> argv = {
        "HOME=" + Path("chromium-home"),
        kTimeout,
        kChromiumCapSeconds,
        kChromium,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",  // the launcher's own check for it fails in containers
        "--no-first-run",
        "--no-default-browser-check",
        "--force-color-profile=srgb",
        "--hide-scrollbars",
        "--user-data-dir=" + Path("chromium-" + run)};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("file://" + html);
    std::string out, err;
    EXPECT_EQ(RunProgram("/usr/bin/env", argv, Path("chromium-" + run), &out, &err), 0) << err;
    return out;
  }

  std::string Dom(const std::string& html, const std::string& run) {
    return Chromium(html, {"--dump-dom"}, run + "-dom");
  }

  Picture Screenshot(const std::string& html, const std::string& run) {
    const std::string png = Path(run + ".png");
    Chromium(html, {"--screenshot=" + png, "--window-size=1280,2000"}, run + "-shot");
    const std::string bytes = ReadFile(png);
    EXPECT_GT(bytes.size(), 10000u) << png;
    Picture picture;
    EXPECT_TRUE(DecodePng(bytes, &picture)) << png;
    EXPECT_EQ(picture.width, 1280u);
    EXPECT_EQ(picture.height, 2000u);
    return picture;
  }

  // The day before today to the day after tomorrow, UTC: the whole test.
  std::vector<std::string> Period() const {
    const absl::Time now = absl::Now();
    auto day = [](absl::Time t) { return absl::FormatTime("%Y-%m-%d", t, absl::UTCTimeZone()); };
    return {"--since", day(now - absl::Hours(24)), "--until", day(now + absl::Hours(48))};
  }

  // Principals, two leads, reads, a denial, a failed authentication and an
  // emergency access with kReason; the log's key in log.pub.
  void MakeActivity() {
    const std::string admin = AdminToken("run");
    desk_ = NewPrincipalFile(admin, "desk", {"capture", "intake"}, {"cardiology"});
    other_desk_ = NewPrincipalFile(admin, "other-desk", {"intake"}, {"cardiology"});
    NewPrincipalFile(admin, "officer", {"compliance"});
    std::string pub;
    ASSERT_EQ(RunCtl(As("officer", {"audit", "pubkey"}), Path("pubkey"), &pub), 0);
    WriteFileWithMode(Path("log.pub"), pub, 0600);
    ASSERT_EQ(RunCtl(As("officer", {"audit", "checkpoint", "-o", Path("trusted.checkpoint")}),
                     Path("checkpoint")),
              0);

    lead_a_ = CreateLead(desk_, SimpleLead("report-a", "a@example.com"));
    lead_b_ = CreateLead(desk_, SimpleLead("report-b", "b@example.com"));
    ASSERT_FALSE(lead_a_.empty());
    ASSERT_FALSE(lead_b_.empty());
    ASSERT_TRUE(GetLead(desk_, lead_a_, nullptr).ok());
    ASSERT_TRUE(GetLead(desk_, lead_a_, nullptr).ok());
    ASSERT_TRUE(GetLead(desk_, lead_b_, nullptr).ok());
    ASSERT_TRUE(GetLead(other_desk_, lead_a_, nullptr).ok());
    // Denied: the officer is known but not an admin.
    v1::ListPrincipalsResponse principals;
    grpc::Status denied = admin_->ListPrincipals(Ctx(ReadToken("officer")).get(), {}, &principals);
    ASSERT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    // An authentication failure: a token no one was issued.
    grpc::Status unknown =
        GetLead("lv_0000000000000000_00000000000000000000000000000000", lead_b_, nullptr);
    ASSERT_EQ(unknown.error_code(), grpc::StatusCode::UNAUTHENTICATED);

    // Emergency access by the desk, its reason from a file, then a read under it.
    WriteFileWithMode(Path("reason.txt"), kReason, 0600);
    std::string out, err;
    ASSERT_EQ(RunCtl(As("desk", {"emergency", "open", "--lead", lead_a_, "--minutes", "15",
                                 "--reason-file", Path("reason.txt")}),
                     Path("open"), &out, &err),
              0)
        << err;
    v1::GetLeadRequest request;
    request.set_purpose(v1::PURPOSE_OF_USE_EMERGENCY);
    request.set_lead_id(lead_a_);
    v1::GetLeadResponse response;
    grpc::Status emergency = leads_->GetLead(Ctx(desk_).get(), request, &response);
    ASSERT_TRUE(emergency.ok()) << emergency.error_message();
  }

  std::string ReadToken(const std::string& name) {
    return std::string(absl::StripAsciiWhitespace(ReadFile(Path(name + ".token"))));
  }

  std::string desk_, other_desk_, lead_a_, lead_b_;
};

TEST_F(ReportE2eTest, AuditReportRendersInChromiumWithTheVerificationCountsAndInertReasons) {
  auto daemon = Start("run");
  ASSERT_FALSE(address_.empty());
  MakeActivity();
  if (HasFatalFailure()) return;

  const std::string review = Path("review.html");
  std::vector<std::string> args =
      As("officer", {"report", "audit", "-o", review, "--pubkey", Path("log.pub"), "--trusted",
                     Path("trusted.checkpoint")});
  for (const std::string& a : Period()) args.push_back(a);
  std::string out, err;
  ASSERT_EQ(RunCtl(args, Path("review"), &out, &err), 0) << err;
  EXPECT_TRUE(absl::StrContains(err, "verified OK")) << err;
  struct stat st;
  ASSERT_EQ(::stat(review.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  const std::string html = ReadFile(review);
  ExpectSelfContained(review, html);
  EXPECT_TRUE(absl::StrContains(html, kReasonInHtml));
  EXPECT_FALSE(absl::StrContains(html, kReason)) << "the reason must be escaped";
  EXPECT_FALSE(absl::StrContains(html, "example.com")) << "a report holds no personal value";

  const std::string dom = Dom(review, "review");
  ASSERT_TRUE(absl::StrContains(dom, "Information-system activity review")) << dom;
  EXPECT_FALSE(absl::StrContains(absl::AsciiStrToLower(dom), "<script")) << dom;
  // The header: period, generation time, daemon.
  EXPECT_TRUE(absl::StrContains(dom, "Generated (UTC)")) << dom;
  EXPECT_TRUE(absl::StrContains(dom, "<code>" + address_ + "</code>")) << dom;
  // The verification at the top, before any figure.
  const std::string verification = Section(dom, "verification");
  EXPECT_LT(dom.find("id=\"verification\""), dom.find("id=\"totals\""));
  EXPECT_TRUE(absl::StrContains(verification, "class=\"verification ok\"")) << verification;
  EXPECT_TRUE(absl::StrContains(verification, "verified OK")) << verification;
  EXPECT_TRUE(absl::StrContains(verification, "OK: ")) << verification;
  EXPECT_TRUE(absl::StrContains(verification, "consistent with the trusted checkpoint"))
      << verification;
  EXPECT_TRUE(absl::StrContains(verification, "id=\"verified-range\">1..")) << verification;
  EXPECT_TRUE(absl::StrContains(verification, "(given with --pubkey)")) << verification;
  // The counts: one denial, one authentication failure, an opening and a read
  // under emergency access.
  const std::string totals = Section(dom, "totals");
  EXPECT_TRUE(absl::StrContains(totals, "id=\"total-denied\">1<")) << totals;
  EXPECT_TRUE(absl::StrContains(totals, "id=\"total-unauthenticated\">1<")) << totals;
  EXPECT_TRUE(absl::StrContains(totals, "id=\"total-emergency\">2<")) << totals;
  EXPECT_TRUE(absl::StrContains(totals, "id=\"total-leads-read\">2<")) << totals;
  EXPECT_TRUE(absl::StrContains(Section(dom, "calls-by-role"), "<svg")) << dom;
  EXPECT_TRUE(absl::StrContains(Section(dom, "denials"), "<svg")) << dom;
  EXPECT_TRUE(absl::StrContains(Section(dom, "denials"), "denied (1)")) << dom;
  // The emergency access: its reason as text, who opened it.
  const std::string emergency = Section(dom, "emergency");
  const std::string opened = RowWith(emergency, "<td>OpenEmergencyAccess<br>");
  EXPECT_TRUE(absl::StrContains(opened, kReasonInDom)) << emergency;
  EXPECT_TRUE(absl::StrContains(opened, desk_.substr(3, 16))) << opened;  // the principal id
  // Named from its CreatePrincipal entry in the export, the id beside the name.
  EXPECT_TRUE(absl::StrContains(opened, "desk (<code>" + desk_.substr(3, 16) + "</code>)"))
      << opened;
  // Reads by principal: the desk read lead A twice, lead B once and lead A
  // under emergency access; the other desk read lead A once.
  const std::string readers = Section(dom, "reads-by-principal");
  EXPECT_TRUE(absl::StrContains(RowWith(readers, desk_.substr(3, 16)),
                                "<td class=\"num\">4</td><td class=\"num\">2</td>"))
      << readers;
  EXPECT_TRUE(absl::StrContains(RowWith(readers, other_desk_.substr(3, 16)),
                                "<td class=\"num\">1</td><td class=\"num\">1</td>"))
      << readers;
  EXPECT_TRUE(
      absl::StrContains(readers, "<td>desk (<code>" + desk_.substr(3, 16) + "</code>)</td>"))
      << readers;
  EXPECT_TRUE(absl::StrContains(
      readers, "<td>other-desk (<code>" + other_desk_.substr(3, 16) + "</code>)</td>"))
      << readers;
  const std::string top = Section(dom, "top-leads");
  EXPECT_TRUE(
      absl::StrContains(RowWith(top, lead_a_), "<td class=\"num\">2</td><td class=\"num\">4</td>"))
      << top;
  EXPECT_LT(top.find(lead_a_), top.find(lead_b_)) << "lead A has the most readers";

  // Rendered: a real picture, with the verified banner and the intake bars.
  const Picture picture = Screenshot(review, "review");
  EXPECT_GT(picture.colours.size(), 16u);
  EXPECT_TRUE(picture.colours.contains(0xe6f4ea)) << "the verified-OK banner";
  EXPECT_TRUE(picture.colours.contains(0x1f77b4)) << "the intake role's bars";
  EXPECT_EQ(Stop(*daemon), 0);
}

TEST_F(ReportE2eTest, AccountingReportIsPatientReadyAndRendersInChromium) {
  auto daemon = Start("run");
  ASSERT_FALSE(address_.empty());
  MakeActivity();
  if (HasFatalFailure()) return;

  const std::string accounting = Path("accounting.html");
  std::string out, err;
  ASSERT_EQ(RunCtl(As("officer", {"report", "accounting", lead_a_, "-o", accounting, "--pubkey",
                                  Path("log.pub")}),
                   Path("accounting"), &out, &err),
            0)
      << err;
  struct stat st;
  ASSERT_EQ(::stat(accounting.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  const std::string html = ReadFile(accounting);
  ExpectSelfContained(accounting, html);
  EXPECT_TRUE(absl::StrContains(html, kReasonInHtml));
  EXPECT_FALSE(absl::StrContains(html, "example.com")) << "a report holds no personal value";
  EXPECT_FALSE(absl::StrContains(html, "Grace")) << "a report holds no personal value";

  const std::string dom = Dom(accounting, "accounting");
  ASSERT_TRUE(absl::StrContains(dom, "Accounting of disclosures")) << dom;
  EXPECT_FALSE(absl::StrContains(absl::AsciiStrToLower(dom), "<script")) << dom;
  EXPECT_TRUE(absl::StrContains(dom, "Period covered")) << dom;
  EXPECT_TRUE(absl::StrContains(Section(dom, "intro"), "<code>" + lead_a_ + "</code>")) << dom;
  // Lead A: two reads by the desk, one by the other desk, one under emergency access.
  const std::string rows = Section(dom, "disclosures");
  EXPECT_TRUE(absl::StrContains(rows, "<span id=\"count\">4</span>")) << rows;
  EXPECT_TRUE(absl::StrContains(rows, "Intake staff")) << rows;
  EXPECT_TRUE(absl::StrContains(rows, "Treatment")) << rows;
  EXPECT_TRUE(absl::StrContains(rows, "First name, email address")) << rows;
  const std::string emergency = RowWith(rows, "Emergency access");
  EXPECT_TRUE(absl::StrContains(emergency, kReasonInDom)) << rows;
  // Who received it: the display name, the id beside it.
  EXPECT_TRUE(absl::StrContains(emergency, "desk (<code>" + desk_.substr(3, 16) + "</code>)"))
      << emergency;
  EXPECT_TRUE(
      absl::StrContains(rows, "other-desk (<code>" + other_desk_.substr(3, 16) + "</code>)"))
      << rows;
  EXPECT_TRUE(absl::StrContains(Section(dom, "verification"), "id=\"tree-size\">")) << dom;

  const Picture picture = Screenshot(accounting, "accounting");
  EXPECT_GT(picture.colours.size(), 8u);
  EXPECT_EQ(Stop(*daemon), 0);
}

TEST_F(ReportE2eTest, ExitCodesFilesAndAFailedVerificationSaySo) {
  auto daemon = Start("run");
  ASSERT_FALSE(address_.empty());
  MakeActivity();
  if (HasFatalFailure()) return;
  std::string out, err;

  // --help names the exit codes.
  ASSERT_EQ(RunCtl({"report", "audit", "--help"}, Path("help"), &out, &err), 0);
  EXPECT_TRUE(absl::StrContains(out, "Exit codes: 0")) << out;
  ASSERT_EQ(RunCtl({"report", "accounting", "--help"}, Path("help"), &out, &err), 0);
  EXPECT_TRUE(absl::StrContains(out, "Exit codes: 0")) << out;
  // Usage: no period, a bad time, a bad key, an unreadable trusted checkpoint.
  const std::string file = Path("review.html");
  EXPECT_EQ(RunCtl(As("officer", {"report", "audit", "-o", file}), Path("u1")), 2);
  EXPECT_EQ(
      RunCtl(As("officer", {"report", "audit", "-o", file, "--since", "yesterday"}), Path("u2")),
      2);
  EXPECT_EQ(RunCtl(As("officer", {"report", "audit", "-o", file, "--since", "2026-01-02", "--until",
                                  "2026-01-01"}),
                   Path("u3")),
            2);
  EXPECT_EQ(RunCtl(As("officer", {"report", "audit", "-o", file, "--since", "2026-01-01",
                                  "--pubkey", Path("no-such.pub")}),
                   Path("u4")),
            2);
  EXPECT_EQ(RunCtl(As("officer", {"report", "audit", "-o", file, "--since", "2026-01-01",
                                  "--trusted", Path("no-such.checkpoint")}),
                   Path("u5")),
            2);
  EXPECT_FALSE(Exists(file)) << "a usage error writes nothing";
  // Not the compliance role: the call fails and nothing is written.
  std::vector<std::string> period = Period();
  std::vector<std::string> args = As("desk", {"report", "audit", "-o", file});
  args.insert(args.end(), period.begin(), period.end());
  EXPECT_EQ(RunCtl(args, Path("desk"), &out, &err), 1);
  EXPECT_TRUE(absl::StrContains(err, "PERMISSION_DENIED")) << err;
  EXPECT_FALSE(Exists(file));
  EXPECT_EQ(RunCtl(As("desk", {"report", "accounting", lead_a_, "-o", file}), Path("desk2")), 1);
  EXPECT_FALSE(Exists(file));

  // Without --pubkey: the daemon's key, and the report says what that proves.
  args = As("officer", {"report", "audit", "-o", file});
  args.insert(args.end(), period.begin(), period.end());
  ASSERT_EQ(RunCtl(args, Path("first"), &out, &err), 0) << err;
  const std::string first = ReadFile(file);
  EXPECT_TRUE(absl::StrContains(first, "as the daemon served it")) << first;
  // An existing file is refused and kept; --force replaces it (still 0600).
  EXPECT_EQ(RunCtl(args, Path("again"), &out, &err), 1);
  EXPECT_TRUE(absl::StrContains(err, "already exists")) << err;
  EXPECT_EQ(ReadFile(file), first);
  args.push_back("--force");
  ASSERT_EQ(RunCtl(args, Path("force"), &out, &err), 0) << err;
  EXPECT_NE(ReadFile(file), first);
  struct stat st;
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  ASSERT_EQ(
      RunCtl(As("officer", {"report", "accounting", lead_a_, "-o", file}), Path("acc"), &out, &err),
      1);
  EXPECT_TRUE(absl::StrContains(err, "already exists")) << err;

  // A key that is not the log's: the report is written, FAILED at its top, exit 1.
  WriteFileWithMode(Path("other.pub"), kOtherKey, 0600);
  const std::string failed = Path("failed.html");
  args = As("officer", {"report", "audit", "-o", failed, "--pubkey", Path("other.pub")});
  args.insert(args.end(), period.begin(), period.end());
  ASSERT_EQ(RunCtl(args, Path("failed"), &out, &err), 1);
  EXPECT_TRUE(absl::StrContains(err, "audit verify FAILED: checkpoint: ")) << err;
  const std::string html = ReadFile(failed);
  ExpectSelfContained(failed, html);
  const std::string verification = Section(html, "verification");
  EXPECT_TRUE(absl::StrContains(verification, "class=\"verification failed\"")) << verification;
  EXPECT_TRUE(absl::StrContains(verification, "audit verify FAILED: checkpoint: ")) << html;
  EXPECT_TRUE(absl::StrContains(verification, "do not rely")) << html;
  // The accounting with a key that is not the log's: refused, nothing written.
  EXPECT_EQ(RunCtl(As("officer", {"report", "accounting", lead_a_, "-o", Path("acc.html"),
                                  "--pubkey", Path("other.pub")}),
                   Path("acc-bad"), &out, &err),
            1);
  EXPECT_TRUE(absl::StrContains(err, "fails verification")) << err;
  EXPECT_FALSE(Exists(Path("acc.html")));
  // No scratch export is left beside the reports.
  for (const auto& entry : fs::directory_iterator(dir_.path())) {
    EXPECT_FALSE(absl::StartsWith(entry.path().filename().string(), ".leadvault-report-"))
        << entry.path();
  }
  EXPECT_EQ(Stop(*daemon), 0);
}

// `leadvaultctl funnel`: the analyst's table, --json and the chart page, from
// a daemon with 22 web-form leads (11 scheduled) on an approved campaign and
// 4 referrals (a small cell); the page rendered in Chromium.
TEST_F(ReportE2eTest, FunnelTableJsonAndPageRenderInChromium) {
  auto daemon = Start("run", {"--funnel-campaigns", "spring-checkup,fall"});
  ASSERT_FALSE(address_.empty());
  const std::string admin = AdminToken("run");
  const std::string desk = NewPrincipalFile(admin, "desk", {"capture", "intake"}, {"cardiology"});
  NewPrincipalFile(admin, "analyst", {"analyst"});
  for (int i = 0; i < 26; ++i) {
    v1::CreateLeadRequest r =
        SimpleLead(absl::StrCat("funnel-", i), absl::StrCat("funnel.person", i, "@example.com"));
    r.mutable_personal()->set_last_name("Canaryfunnel");
    r.mutable_attribution()->set_source(i < 22 ? v1::SOURCE_CHANNEL_WEB_FORM
                                               : v1::SOURCE_CHANNEL_REFERRAL);
    r.mutable_attribution()->set_campaign(i < 22 ? "spring-checkup" : "Jane Canary's campaign");
    const std::string id = CreateLead(desk, r);
    ASSERT_FALSE(id.empty());
    if (i >= 11 && i < 22) {
      for (auto [version, status] :
           {std::pair{1, v1::LEAD_STATUS_CONTACTED}, {2, v1::LEAD_STATUS_SCHEDULED}}) {
        v1::UpdateLeadRequest u;
        u.set_lead_id(id);
        u.set_expected_version(version);
        u.set_status(status);
        v1::UpdateLeadResponse response;
        grpc::Status s = leads_->UpdateLead(Ctx(desk).get(), u, &response);
        ASSERT_TRUE(s.ok()) << s.error_message();
      }
    }
  }
  const absl::Time now = absl::Now();
  auto day = [](absl::Time t) { return absl::FormatTime("%Y-%m-%d", t, absl::UTCTimeZone()); };
  const std::vector<std::string> period = {"--from", day(now - absl::Hours(24 * 7)), "--to",
                                           day(now + absl::Hours(24 * 7))};
  auto funnel = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = As("analyst", {"funnel"});
    args.insert(args.end(), period.begin(), period.end());
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };

  // The table: web_form shown, referral (4) withheld, and with it the other
  // row of the line (the total would give it away).
  std::string out, err;
  ASSERT_EQ(RunCtl(funnel({"--by", "source,campaign"}), Path("funnel-table"), &out, &err), 0)
      << err;
  EXPECT_TRUE(absl::StrContains(out, "source")) << out;
  EXPECT_TRUE(absl::StrContains(out, "spring-checkup")) << out;
  EXPECT_TRUE(absl::StrContains(out, "(other)")) << out;
  EXPECT_FALSE(absl::StrContains(out, "Canary")) << out;
  EXPECT_TRUE(absl::StrContains(out, "s: suppressed")) << out;
  const std::string total_line = out.substr(out.find("\ntotal"));
  EXPECT_TRUE(absl::StrContains(total_line, "26")) << out;  // the total is shown

  // --json: the response, proto field names.
  ASSERT_EQ(RunCtl(funnel({"--by", "source", "--json"}), Path("funnel-json"), &out, &err), 0)
      << err;
  nlohmann::json json = nlohmann::json::parse(out);
  ASSERT_EQ(json["rows"].size(), 2u) << out;
  EXPECT_EQ(json["total"]["leads"]["value"], "26");
  EXPECT_EQ(json["total"]["scheduled"]["value"], "11");
  EXPECT_EQ(json["total"]["lead_to_appointment_rate"]["value"], 11.0 / 26.0);
  for (const auto& row : json["rows"]) {
    if (row["source"] == "SOURCE_CHANNEL_REFERRAL") {
      EXPECT_EQ(row["leads"]["suppressed"], true) << row.dump();
    }
  }

  // --by must name dimensions.
  EXPECT_EQ(RunCtl(funnel({"--by", "zip_code"}), Path("funnel-bad"), &out, &err), 2);
  EXPECT_TRUE(absl::StrContains(err, "--by: dimensions are week, source")) << err;

  // The page: self-contained, the funnel, speed per source and weekly volume.
  const std::string page = Path("funnel.html");
  ASSERT_EQ(RunCtl(funnel({"--by", "source", "--html", page}), Path("funnel-html"), &out, &err), 0)
      << err;
  struct stat st;
  ASSERT_EQ(::stat(page.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  const std::string html = ReadFile(page);
  ExpectSelfContained(page, html);
  EXPECT_FALSE(absl::StrContains(html, "Canary")) << "a funnel page holds no personal value";
  EXPECT_FALSE(absl::StrContains(html, "example.com"));
  const std::string dom = Dom(page, "funnel");
  ASSERT_TRUE(absl::StrContains(dom, "Lead funnel")) << dom;
  EXPECT_FALSE(absl::StrContains(absl::AsciiStrToLower(dom), "<script")) << dom;
  const std::string stages = Section(dom, "funnel");
  EXPECT_TRUE(absl::StrContains(stages, "<svg")) << stages;
  EXPECT_TRUE(absl::StrContains(RowWith(stages, "<td>scheduled</td>"), ">11<")) << stages;
  EXPECT_TRUE(absl::StrContains(RowWith(stages, "<td>leads</td>"), ">26<")) << stages;
  EXPECT_TRUE(absl::StrContains(stages, "42.3%")) << stages;  // 11 of 26 to an appointment
  const std::string speed = Section(dom, "speed");
  EXPECT_TRUE(absl::StrContains(RowWith(speed, "<td>referral</td>"), "suppressed")) << speed;
  EXPECT_TRUE(absl::StrContains(Section(dom, "weekly"), "<svg")) << dom;
  const std::string grouped = Section(dom, "grouped");
  EXPECT_TRUE(absl::StrContains(RowWith(grouped, "<td>web_form</td>"), "suppressed"))
      << grouped;  // withheld with referral: the total would give it away
  const Picture picture = Screenshot(page, "funnel");
  EXPECT_GT(picture.colours.size(), 8u);
  EXPECT_TRUE(picture.colours.contains(0x1f77b4)) << "the funnel's bars";
  EXPECT_EQ(Stop(*daemon), 0);
}

}  // namespace
}  // namespace leadvault::e2e
