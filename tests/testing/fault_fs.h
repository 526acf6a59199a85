// A fault-injecting RocksDB FileSystem for storage-fault tests: full disk,
// failed fsync and corrupted table reads, switched on and off while a database
// runs over it.
#ifndef LEADVAULT_TESTS_TESTING_FAULT_FS_H_
#define LEADVAULT_TESTS_TESTING_FAULT_FS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "rocksdb/env.h"
#include "rocksdb/file_system.h"

namespace leadvault::testing {

// The switches, shared by the file system and every file it opened (a file
// may outlive a switch change, never the switches). Thread-safe.
struct FaultSwitches {
  std::atomic<bool> no_space{false};
  std::atomic<bool> fail_sync{false};
  std::atomic<bool> corrupt_reads{false};
  std::atomic<uint64_t> injected{0};
};

// A FileSystemWrapper over rocksdb::FileSystem::Default(). With every switch
// off it only forwards. Switches apply to calls made after they change, also
// on files opened before. Thread-safe.
class FaultFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  FaultFileSystem();

  static const char* kClassName() { return "LeadvaultFaultFileSystem"; }
  const char* Name() const override { return kClassName(); }

  // New writable files, appends and syncs fail with IOStatus::NoSpace().
  void SetNoSpace(bool on) { switches_->no_space = on; }
  // Sync, Fsync and RangeSync of files and directories fail with IOStatus::IOError.
  void SetFailSync(bool on) { switches_->fail_sync = on; }
  // Every read from a *.sst file returns its data with one bit flipped (the
  // middle byte's lowest bit), as a bad disk sector would; the file is unchanged.
  void SetCorruptReads(bool on) { switches_->corrupt_reads = on; }
  // How many calls were failed or reads corrupted so far.
  uint64_t injected() const { return switches_->injected.load(); }

  rocksdb::IOStatus NewRandomAccessFile(const std::string& name,
                                        const rocksdb::FileOptions& options,
                                        std::unique_ptr<rocksdb::FSRandomAccessFile>* result,
                                        rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(const std::string& name, const std::string& old_name,
                                      const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewRandomRWFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSRandomRWFile>* result,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewDirectory(const std::string& name, const rocksdb::IOOptions& options,
                                 std::unique_ptr<rocksdb::FSDirectory>* result,
                                 rocksdb::IODebugContext* dbg) override;

 private:
  const std::shared_ptr<FaultSwitches> switches_;
};

// Owns a FaultFileSystem and the Env to hand to vault::DatabaseOptions::env.
// Must outlive every database opened through env().
class FaultEnv {
 public:
  FaultEnv();
  FaultEnv(const FaultEnv&) = delete;
  FaultEnv& operator=(const FaultEnv&) = delete;

  FaultFileSystem& fs() { return *fs_; }
  rocksdb::Env* env() { return env_.get(); }

 private:
  std::shared_ptr<FaultFileSystem> fs_;
  std::unique_ptr<rocksdb::Env> env_;
};

}  // namespace leadvault::testing

#endif  // LEADVAULT_TESTS_TESTING_FAULT_FS_H_
