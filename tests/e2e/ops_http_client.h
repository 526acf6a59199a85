// The daemon's operations listener, as a scraper or probe reaches it.
#ifndef LEADVAULT_TESTS_E2E_OPS_HTTP_CLIENT_H_
#define LEADVAULT_TESTS_E2E_OPS_HTTP_CLIENT_H_

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "httplib.h"

namespace leadvault::e2e {

// The port of the listener the daemon logged ("... /readyz on HOST:PORT"), or 0.
inline int OpsPort(const std::string& log) {
  const std::string marker = "/healthz and /readyz on ";
  size_t at = log.find(marker);
  if (at == std::string::npos) return 0;
  size_t colon = log.find(':', at + marker.size());
  return colon == std::string::npos ? 0 : std::atoi(log.c_str() + colon + 1);
}

// GET `path` from 127.0.0.1:`port`; the body, and the HTTP status in `status`
// (0 when the request failed).
inline std::string OpsGet(int port, const std::string& path, int* status = nullptr) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(10, 0);
  client.set_read_timeout(30, 0);
  httplib::Result result = client.Get(path.c_str());
  if (status != nullptr) *status = result ? result->status : 0;
  return result ? result->body : std::string();
}

}  // namespace leadvault::e2e

#endif  // LEADVAULT_TESTS_E2E_OPS_HTTP_CLIENT_H_
