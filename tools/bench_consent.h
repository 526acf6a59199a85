// `leadvault-bench consent`: what consent enforcement costs GetLead and what
// a consent grant costs CreateLead, in-process (Google Benchmark).
#ifndef LEADVAULT_TOOLS_BENCH_CONSENT_H_
#define LEADVAULT_TOOLS_BENCH_CONSENT_H_

namespace leadvault::tools {

// Opens a throwaway vault (in /dev/shm when there is one, so fsync does not
// drown the difference), fills it with consented leads, and runs, with the
// Google Benchmark flags in argv[1..argc):
//   GetLead/treatment      a read of every field, no consent involved;
//   GetLead/outreach_sms   the same read for outreach on sms: the consent state
//                          read, decided (and the suppression list looked up);
//   CreateLead/plain       a new lead;
//   CreateLead/consent     a new lead with a complete grant for 4 channels x 2
//                          purposes (one event, its IP address encrypted).
// Each at 8 threads (group commit, as under load), the two of a pair in turn
// five times ("/round:N"), then per pair the ratio of time per operation,
// round by round, and its median. Exit code 0, 1 on a setup failure, 2 for an
// unknown flag.
int RunConsentBench(int argc, char** argv);

}  // namespace leadvault::tools

#endif  // LEADVAULT_TOOLS_BENCH_CONSENT_H_
