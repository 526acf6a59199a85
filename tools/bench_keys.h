// `leadvault-bench rewrap`: how fast a master-key rotation's re-wrap moves
// data keys, and what it does to GetLead latency meanwhile, in-process.
#ifndef LEADVAULT_TOOLS_BENCH_KEYS_H_
#define LEADVAULT_TOOLS_BENCH_KEYS_H_

namespace leadvault::tools {

// Opens a throwaway vault (in /dev/shm when there is one) and fills it with
// --leads leads (8 writers, group commit). Then:
//  1. with no online load, a rotation and its re-wrap unpaced: data keys
//     moved per second;
//  2. the vault reopened as the daemon runs it; --readers threads call
//     GetLead for --seconds to warm it up, then for --seconds more: the idle
//     p50/p99;
//  3. with the re-wrap paced as the daemon's (--loaded-batch, --pause-ms), a
//     second rotation while the same readers run: the
//     re-wrap's rate, the readers' p50/p99 meanwhile and the ratio of the
//     two p99s.
// Exit code 0, 1 on a failure, 2 on a usage error.
int RunRewrapBench(int argc, char** argv);

}  // namespace leadvault::tools

#endif  // LEADVAULT_TOOLS_BENCH_KEYS_H_
