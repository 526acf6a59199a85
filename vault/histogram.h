// A fixed-bucket histogram that many threads observe into without a lock,
// read as a whole for /metrics (api/metrics.h).
#ifndef LEADVAULT_VAULT_HISTOGRAM_H_
#define LEADVAULT_VAULT_HISTOGRAM_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace leadvault::vault {

class Histogram {
 public:
  // `upper_bounds`: increasing, finite; a last bucket above them counts the rest.
  explicit Histogram(std::vector<double> upper_bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void Observe(double value);

  struct Snapshot {
    std::vector<double> upper_bounds;
    std::vector<uint64_t> cumulative;  // per bound, then one more: the count
    double sum = 0;
  };
  // Each counter is read atomically, not all at once: under concurrent
  // observations the counts may be off by those in flight (as any scrape).
  Snapshot Read() const;

  // 1, 2, 4 ... up to `max` (a power of two): counts such as group sizes.
  static std::vector<double> PowersOfTwo(double max);
  // 50 µs up to about 10 s, in steps of about 2.5x: call and disk latencies.
  static std::vector<double> LatencySeconds();

 private:
  const std::vector<double> bounds_;
  const std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1
  std::atomic<uint64_t> sum_micros_{0};  // in millionths: an integer adds without a CAS loop
};

}  // namespace leadvault::vault

#endif  // LEADVAULT_VAULT_HISTOGRAM_H_
