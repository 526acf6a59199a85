// `leadvault-bench backup`: how long a backup of a filled vault takes, against
// a plain `cp -r` of the same database in the same run.
#ifndef LEADVAULT_TOOLS_BENCH_BACKUP_H_
#define LEADVAULT_TOOLS_BENCH_BACKUP_H_

namespace leadvault::tools {

// Fills a throwaway vault on disk (--dir, default under /var/tmp: a backup is
// measured where data lives, not in memory) with --leads leads,
// compacts it whole (so no background compaction deletes a file while cp
// reads), and for --rounds rounds, alternating: `cp -r` of the database, a
// first backup into an empty directory (vault/backup.h, the vault open and idle),
// and a second, incremental backup into the same directory; the times and
// bytes of each. Exit code 0, 1 on a failure, 2 on a usage error.
int RunBackupBench(int argc, char** argv);

}  // namespace leadvault::tools

#endif  // LEADVAULT_TOOLS_BENCH_BACKUP_H_
