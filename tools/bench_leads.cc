#include "tools/bench_leads.h"

#include <array>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace leadvault::tools {
namespace {

constexpr std::array<const char*, 16> kFirstNames = {
    "Ada",   "Grace", "Alan",   "Katherine", "Edsger", "Barbara", "Donald", "Frances",
    "Linus", "Hedy",  "Claude", "Margaret",  "Dennis", "Radia",   "Ken",    "Sophie"};
constexpr std::array<const char*, 16> kLastNames = {
    "Lovelace", "Hopper", "Turing",  "Johnson",  "Dijkstra", "Liskov",  "Knuth",    "Allen",
    "Torvalds", "Lamarr", "Shannon", "Hamilton", "Ritchie",  "Perlman", "Thompson", "Wilson"};
constexpr std::array<const char*, 8> kStreets = {"Maple Avenue",   "Oak Street",    "Pine Road",
                                                 "Cedar Lane",     "Elm Boulevard", "Birch Court",
                                                 "Willow Parkway", "Spruce Drive"};
struct Place {
  const char* area_code;
  const char* city;
  const char* state;
  const char* zip;
};
// Valid NANP area codes, each with a city in its region.
constexpr std::array<Place, 7> kPlaces = {{{"212", "New York", "NY", "10001"},
                                           {"415", "San Francisco", "CA", "94103"},
                                           {"617", "Boston", "MA", "02115"},
                                           {"650", "Mountain View", "CA", "94043"},
                                           {"718", "Brooklyn", "NY", "11201"},
                                           {"303", "Denver", "CO", "80202"},
                                           {"206", "Seattle", "WA", "98101"}}};
constexpr std::array<const char*, 4> kConditions = {
    "Knee pain after running; interested in an ACL evaluation",
    "Chronic lower back pain, asking about spine surgery options",
    "Shoulder stiffness since a fall last winter, rotator cuff?",
    "Hip replacement consultation for osteoarthritis"};

// A cheap 64-bit mix (splitmix64 finalizer): deterministic "random-ish" choices.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t Fnv1a(absl::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

constexpr uint64_t kPhonesPerAreaCode = 100 * 10000;  // exchanges 200..299, lines 0000..9999

}  // namespace

SyntheticLeads::SyntheticLeads(std::string run_id)
    : run_id_(std::move(run_id)),
      phone_offset_(Mix(Fnv1a(run_id_)) % (kPlaces.size() * kPhonesPerAreaCode)) {}

void SyntheticLeads::Fill(uint64_t n, v1::CreateLeadRequest& request) const {
  const std::string& run_id = run_id_;
  uint64_t h = Mix(n);
  uint64_t phone_index = (n + phone_offset_) % (kPlaces.size() * kPhonesPerAreaCode);
  const Place& place = kPlaces[phone_index % kPlaces.size()];
  uint64_t rest = phone_index / kPlaces.size();
  request.set_idempotency_key(absl::StrCat("bench-", run_id, "-", n));

  v1::PersonalData* p = request.mutable_personal();
  p->set_first_name(kFirstNames[h % kFirstNames.size()]);
  p->set_last_name(kLastNames[(h >> 8) % kLastNames.size()]);
  p->set_email(absl::StrCat("bench+", n, "-", run_id, "@example.com"));
  p->set_phone(absl::StrFormat("+1 %s %03d %04d", place.area_code, 200 + (rest / 10000) % 100,
                               rest % 10000));
  p->set_date_of_birth(absl::StrFormat("%04d-%02d-%02d", 1940 + (h >> 16) % 65, 1 + (h >> 24) % 12,
                                       1 + (h >> 32) % 28));
  p->set_street_address(absl::StrCat(100 + (h >> 40) % 9000, " ",
                                     kStreets[(h >> 20) % kStreets.size()], " Apt ",
                                     1 + (h >> 12) % 40));
  p->set_city(place.city);
  p->set_state(place.state);
  p->set_postal_code(place.zip);
  p->set_condition_interest(kConditions[(h >> 36) % kConditions.size()]);
  p->set_notes(
      "Prefers a call in the late afternoon. Has seen a physical therapist for six weeks "
      "without much improvement; asked whether an MRI is needed before a consultation and "
      "whether the clinic accepts their PPO plan. Mentioned a prior arthroscopy in 2015.");

  v1::Attribution* a = request.mutable_attribution();
  a->set_source(v1::SOURCE_CHANNEL_WEB_FORM);
  a->set_campaign("spring-ortho");
  a->set_utm_source("google");
  a->set_utm_medium("cpc");
  a->set_utm_campaign("ortho-knee-2024");
  a->set_utm_term("acl surgeon near me");
  a->set_utm_content("ad-variant-b");
  a->set_landing_page("https://clinic.example.com/orthopedics/knee");
  a->set_service_line("orthopedics");
}

}  // namespace leadvault::tools
