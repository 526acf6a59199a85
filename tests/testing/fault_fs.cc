#include "tests/testing/fault_fs.h"

#include <cstring>
#include <utility>

namespace leadvault::testing {
namespace {

using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;
using rocksdb::Slice;

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

IOStatus Injected(FaultSwitches& switches, IOStatus status) {
  switches.injected.fetch_add(1);
  return status;
}

// Fails writes while no_space is on and syncs while no_space or fail_sync is on.
class FaultWritableFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FaultWritableFile(std::unique_ptr<rocksdb::FSWritableFile> target,
                    std::shared_ptr<FaultSwitches> switches)
      : FSWritableFileOwnerWrapper(std::move(target)), switches_(std::move(switches)) {}

  IOStatus Append(const Slice& data, const IOOptions& options, IODebugContext* dbg) override {
    if (switches_->no_space) return Injected(*switches_, IOStatus::NoSpace("injected"));
    return FSWritableFileOwnerWrapper::Append(data, options, dbg);
  }
  IOStatus Append(const Slice& data, const IOOptions& options,
                  const rocksdb::DataVerificationInfo& info, IODebugContext* dbg) override {
    if (switches_->no_space) return Injected(*switches_, IOStatus::NoSpace("injected"));
    return FSWritableFileOwnerWrapper::Append(data, options, info, dbg);
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& options,
                            IODebugContext* dbg) override {
    if (switches_->no_space) return Injected(*switches_, IOStatus::NoSpace("injected"));
    return FSWritableFileOwnerWrapper::PositionedAppend(data, offset, options, dbg);
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& options,
                            const rocksdb::DataVerificationInfo& info,
                            IODebugContext* dbg) override {
    if (switches_->no_space) return Injected(*switches_, IOStatus::NoSpace("injected"));
    return FSWritableFileOwnerWrapper::PositionedAppend(data, offset, options, info, dbg);
  }
  IOStatus Allocate(uint64_t offset, uint64_t len, const IOOptions& options,
                    IODebugContext* dbg) override {
    if (switches_->no_space) return Injected(*switches_, IOStatus::NoSpace("injected"));
    return FSWritableFileOwnerWrapper::Allocate(offset, len, options, dbg);
  }
  IOStatus Sync(const IOOptions& options, IODebugContext* dbg) override {
    if (IOStatus s = SyncFault(); !s.ok()) return s;
    return FSWritableFileOwnerWrapper::Sync(options, dbg);
  }
  IOStatus Fsync(const IOOptions& options, IODebugContext* dbg) override {
    if (IOStatus s = SyncFault(); !s.ok()) return s;
    return FSWritableFileOwnerWrapper::Fsync(options, dbg);
  }
  IOStatus RangeSync(uint64_t offset, uint64_t nbytes, const IOOptions& options,
                     IODebugContext* dbg) override {
    if (IOStatus s = SyncFault(); !s.ok()) return s;
    return FSWritableFileOwnerWrapper::RangeSync(offset, nbytes, options, dbg);
  }

 private:
  IOStatus SyncFault() {
    if (switches_->no_space) return Injected(*switches_, IOStatus::NoSpace("injected"));
    if (switches_->fail_sync)
      return Injected(*switches_, IOStatus::IOError("injected sync failure"));
    return IOStatus::OK();
  }

  const std::shared_ptr<FaultSwitches> switches_;
};

// Fails writes while no_space is on and syncs while no_space or fail_sync is on.
class FaultRandomRWFile final : public rocksdb::FSRandomRWFileOwnerWrapper {
 public:
  FaultRandomRWFile(std::unique_ptr<rocksdb::FSRandomRWFile> target,
                    std::shared_ptr<FaultSwitches> switches)
      : FSRandomRWFileOwnerWrapper(std::move(target)), switches_(std::move(switches)) {}

  IOStatus Write(uint64_t offset, const Slice& data, const IOOptions& options,
                 IODebugContext* dbg) override {
    if (switches_->no_space) return Injected(*switches_, IOStatus::NoSpace("injected"));
    return FSRandomRWFileOwnerWrapper::Write(offset, data, options, dbg);
  }
  IOStatus Sync(const IOOptions& options, IODebugContext* dbg) override {
    if (IOStatus s = SyncFault(); !s.ok()) return s;
    return FSRandomRWFileOwnerWrapper::Sync(options, dbg);
  }
  IOStatus Fsync(const IOOptions& options, IODebugContext* dbg) override {
    if (IOStatus s = SyncFault(); !s.ok()) return s;
    return FSRandomRWFileOwnerWrapper::Fsync(options, dbg);
  }

 private:
  IOStatus SyncFault() {
    if (switches_->no_space) return Injected(*switches_, IOStatus::NoSpace("injected"));
    if (switches_->fail_sync)
      return Injected(*switches_, IOStatus::IOError("injected sync failure"));
    return IOStatus::OK();
  }

  const std::shared_ptr<FaultSwitches> switches_;
};

// Fails directory fsyncs while fail_sync is on.
class FaultDirectory final : public rocksdb::FSDirectoryWrapper {
 public:
  FaultDirectory(std::unique_ptr<rocksdb::FSDirectory> target,
                 std::shared_ptr<FaultSwitches> switches)
      : FSDirectoryWrapper(std::move(target)), switches_(std::move(switches)) {}

  IOStatus Fsync(const IOOptions& options, IODebugContext* dbg) override {
    if (switches_->fail_sync)
      return Injected(*switches_, IOStatus::IOError("injected sync failure"));
    return FSDirectoryWrapper::Fsync(options, dbg);
  }
  IOStatus FsyncWithDirOptions(const IOOptions& options, IODebugContext* dbg,
                               const rocksdb::DirFsyncOptions& dir_options) override {
    if (switches_->fail_sync)
      return Injected(*switches_, IOStatus::IOError("injected sync failure"));
    return FSDirectoryWrapper::FsyncWithDirOptions(options, dbg, dir_options);
  }

 private:
  const std::shared_ptr<FaultSwitches> switches_;
};

// A table file whose reads come back with a flipped bit while corrupt_reads is on.
class FaultTableFile final : public rocksdb::FSRandomAccessFileOwnerWrapper {
 public:
  FaultTableFile(std::unique_ptr<rocksdb::FSRandomAccessFile> target,
                 std::shared_ptr<FaultSwitches> switches)
      : FSRandomAccessFileOwnerWrapper(std::move(target)), switches_(std::move(switches)) {}

  IOStatus Read(uint64_t offset, size_t n, const IOOptions& options, Slice* result, char* scratch,
                IODebugContext* dbg) const override {
    IOStatus s = FSRandomAccessFileOwnerWrapper::Read(offset, n, options, result, scratch, dbg);
    if (!s.ok() || !switches_->corrupt_reads || result->empty() || scratch == nullptr) return s;
    // The caller's buffer, never the file's (an mmap'd result is copied first).
    if (result->data() != scratch) std::memmove(scratch, result->data(), result->size());
    scratch[result->size() / 2] ^= 0x01;
    *result = Slice(scratch, result->size());
    switches_->injected.fetch_add(1);
    return s;
  }
  // One Read per request, so every path goes through the corruption above.
  IOStatus MultiRead(rocksdb::FSReadRequest* reqs, size_t num_reqs, const IOOptions& options,
                     IODebugContext* dbg) override {
    for (size_t i = 0; i < num_reqs; ++i) {
      reqs[i].status =
          Read(reqs[i].offset, reqs[i].len, options, &reqs[i].result, reqs[i].scratch, dbg);
    }
    return IOStatus::OK();
  }
  // RocksDB's synchronous fallback, which calls Read above.
  IOStatus ReadAsync(rocksdb::FSReadRequest& req, const IOOptions& options,
                     std::function<void(const rocksdb::FSReadRequest&, void*)> cb, void* cb_arg,
                     void** io_handle, rocksdb::IOHandleDeleter* del_fn,
                     IODebugContext* dbg) override {
    return FSRandomAccessFile::ReadAsync(req, options, std::move(cb), cb_arg, io_handle, del_fn,
                                         dbg);
  }

 private:
  const std::shared_ptr<FaultSwitches> switches_;
};

}  // namespace

FaultFileSystem::FaultFileSystem()
    : FileSystemWrapper(rocksdb::FileSystem::Default()),
      switches_(std::make_shared<FaultSwitches>()) {}

IOStatus FaultFileSystem::NewRandomAccessFile(const std::string& name,
                                              const rocksdb::FileOptions& options,
                                              std::unique_ptr<rocksdb::FSRandomAccessFile>* result,
                                              IODebugContext* dbg) {
  IOStatus s = target()->NewRandomAccessFile(name, options, result, dbg);
  if (s.ok() && EndsWith(name, ".sst")) {
    *result = std::make_unique<FaultTableFile>(std::move(*result), switches_);
  }
  return s;
}

IOStatus FaultFileSystem::NewWritableFile(const std::string& name,
                                          const rocksdb::FileOptions& options,
                                          std::unique_ptr<rocksdb::FSWritableFile>* result,
                                          IODebugContext* dbg) {
  if (switches_->no_space) return Injected(*switches_, IOStatus::NoSpace("injected"));
  IOStatus s = target()->NewWritableFile(name, options, result, dbg);
  if (s.ok()) *result = std::make_unique<FaultWritableFile>(std::move(*result), switches_);
  return s;
}

IOStatus FaultFileSystem::ReopenWritableFile(const std::string& name,
                                             const rocksdb::FileOptions& options,
                                             std::unique_ptr<rocksdb::FSWritableFile>* result,
                                             IODebugContext* dbg) {
  if (switches_->no_space) return Injected(*switches_, IOStatus::NoSpace("injected"));
  IOStatus s = target()->ReopenWritableFile(name, options, result, dbg);
  if (s.ok()) *result = std::make_unique<FaultWritableFile>(std::move(*result), switches_);
  return s;
}

IOStatus FaultFileSystem::ReuseWritableFile(const std::string& name, const std::string& old_name,
                                            const rocksdb::FileOptions& options,
                                            std::unique_ptr<rocksdb::FSWritableFile>* result,
                                            IODebugContext* dbg) {
  if (switches_->no_space) return Injected(*switches_, IOStatus::NoSpace("injected"));
  IOStatus s = target()->ReuseWritableFile(name, old_name, options, result, dbg);
  if (s.ok()) *result = std::make_unique<FaultWritableFile>(std::move(*result), switches_);
  return s;
}

IOStatus FaultFileSystem::NewRandomRWFile(const std::string& name,
                                          const rocksdb::FileOptions& options,
                                          std::unique_ptr<rocksdb::FSRandomRWFile>* result,
                                          IODebugContext* dbg) {
  if (switches_->no_space) return Injected(*switches_, IOStatus::NoSpace("injected"));
  IOStatus s = target()->NewRandomRWFile(name, options, result, dbg);
  if (s.ok()) *result = std::make_unique<FaultRandomRWFile>(std::move(*result), switches_);
  return s;
}

IOStatus FaultFileSystem::NewDirectory(const std::string& name, const IOOptions& options,
                                       std::unique_ptr<rocksdb::FSDirectory>* result,
                                       IODebugContext* dbg) {
  IOStatus s = target()->NewDirectory(name, options, result, dbg);
  if (s.ok()) *result = std::make_unique<FaultDirectory>(std::move(*result), switches_);
  return s;
}

FaultEnv::FaultEnv()
    : fs_(std::make_shared<FaultFileSystem>()), env_(rocksdb::NewCompositeEnv(fs_)) {}

}  // namespace leadvault::testing
