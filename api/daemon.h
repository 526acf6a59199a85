// leadvaultd: the daemon's start-up, serving and shutdown.
#ifndef LEADVAULT_API_DAEMON_H_
#define LEADVAULT_API_DAEMON_H_

namespace leadvault::api {

// Runs the daemon with its command line; returns the process exit code.
// Start-up failures print one clear line to stderr (never a key or PII) and exit 1.
int RunDaemon(int argc, char** argv);

}  // namespace leadvault::api

#endif  // LEADVAULT_API_DAEMON_H_
