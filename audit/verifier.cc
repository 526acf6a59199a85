// Verification streams the file once, in large read(2)s into two alternating
// buffers (the next is read while the current one is checked); only two
// batches of lines and the O(log n) Merkle frontier are held, whatever the
// file's size. A batch's entry lines are checked in chunks claimed by the
// calling thread and helper threads (decode, re-encode, re-render and compare,
// leaf hash, and unfiltered the chunk's compact range, filtered the inclusion
// proof), then folded in file order on the calling thread (sequence rule,
// frontier append), so the failure reported is the first in file order.
//
// A filtered export's entries are checked against the checkpoint as they are
// read, so its trailer is first read from the end of the file (the last
// kTailBytes, with pread); when the stream reaches that line it must be the
// same bytes. The signature is thus checked before any entry, and so is the
// signed manifest of a filtered export (audit/export_manifest.h), whose count
// and leaf chain are then checked against the entry lines once they are read.
#include "audit/verifier.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "audit/audit_entry.h"
#include "audit/export_format.h"
#include "audit/export_manifest.h"
#include "audit/merkle.h"
#include "keys/status_macros.h"

namespace leadvault::audit {
namespace {

constexpr size_t kReadBytes = size_t{4} << 20;
constexpr size_t kMaxLineBytes = size_t{64} << 20;
constexpr size_t kTailBytes = size_t{1} << 20;
constexpr unsigned kMaxThreads = 4;

constexpr absl::string_view kEntryPrefix = "{\"type\":\"entry\",";
constexpr absl::string_view kCheckpointPrefix = "{\"type\":\"checkpoint\",";
constexpr absl::string_view kConsistencyPrefix = "{\"type\":\"consistency\",";
constexpr absl::string_view kSeqPrefix = "{\"type\":\"entry\",\"seq\":";
constexpr absl::string_view kCanonicalKey = "\"canonical\":";
constexpr absl::string_view kInclusionOpen = ",\"inclusion\":[";

absl::Status WithPrefix(absl::string_view prefix, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(prefix, status.message()));
}

std::string LineLabel(uint64_t line) { return absl::StrCat("line ", line); }

// ---------------------------------------------------------------------------
// Base64 (standard alphabet, '=' padding, zero pad bits).

struct Base64Values {
  uint8_t value[256];
  constexpr Base64Values() : value() {
    for (int i = 0; i < 256; ++i) value[i] = 0xFF;
    for (int i = 0; i < 26; ++i) {
      value['A' + i] = static_cast<uint8_t>(i);
      value['a' + i] = static_cast<uint8_t>(26 + i);
    }
    for (int i = 0; i < 10; ++i) value['0' + i] = static_cast<uint8_t>(52 + i);
    value[static_cast<int>('+')] = 62;
    value[static_cast<int>('/')] = 63;
  }
};
constexpr Base64Values kBase64;

// Decodes `in` into `out` (replacing it); false if `in` is not canonical base64.
bool DecodeBase64(absl::string_view in, std::string& out) {
  const size_t n = in.size();
  out.clear();
  if (n % 4 != 0) return false;
  if (n == 0) return true;
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  const size_t pad = s[n - 1] != '=' ? 0 : (s[n - 2] != '=' ? 1 : 2);
  out.resize(n / 4 * 3 - pad);
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  const size_t full = pad == 0 ? n : n - 4;
  uint32_t bad = 0;
  for (size_t i = 0; i < full; i += 4) {
    const uint32_t a = kBase64.value[s[i]], b = kBase64.value[s[i + 1]],
                   c = kBase64.value[s[i + 2]], d = kBase64.value[s[i + 3]];
    bad |= a | b | c | d;
    const uint32_t v = (a << 18) | (b << 12) | (c << 6) | d;
    o[0] = static_cast<unsigned char>(v >> 16);
    o[1] = static_cast<unsigned char>(v >> 8);
    o[2] = static_cast<unsigned char>(v);
    o += 3;
  }
  if ((bad & 0xC0) != 0) return false;
  if (pad != 0) {
    const uint32_t a = kBase64.value[s[n - 4]], b = kBase64.value[s[n - 3]];
    const uint32_t c = pad == 1 ? kBase64.value[s[n - 2]] : 0;
    if (((a | b | c) & 0xC0) != 0) return false;
    const uint32_t v = (a << 18) | (b << 12) | (c << 6);
    o[0] = static_cast<unsigned char>(v >> 16);
    if (pad == 1) {
      o[1] = static_cast<unsigned char>(v >> 8);
      if ((v & 0xFF) != 0) return false;
    } else if ((v & 0xFFFF) != 0) {
      return false;
    }
  }
  return true;
}

absl::StatusOr<Hash> HashFromBase64(absl::string_view text) {
  std::string bytes;
  if (!DecodeBase64(text, bytes)) return absl::InvalidArgumentError("invalid base64 hash");
  return HashFromBytes(bytes);
}

// ---------------------------------------------------------------------------
// A minimal JSON reader for the header and trailer lines: one object whose
// values are strings, unsigned integers, booleans or arrays of strings. It is
// lenient where the re-rendering that follows is strict.

void AppendUtf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

class FlatJson {
 public:
  static absl::StatusOr<FlatJson> Parse(absl::string_view text) {
    FlatJson json;
    Parser p{text};
    p.SkipSpace();
    if (!p.Eat('{')) return p.Error("expected '{'");
    p.SkipSpace();
    if (!p.Eat('}')) {
      for (;;) {
        Member m;
        p.SkipSpace();
        if (!p.String(m.key)) return p.Error("expected a string key");
        p.SkipSpace();
        if (!p.Eat(':')) return p.Error("expected ':'");
        p.SkipSpace();
        LV_RETURN_IF_ERROR(p.Value(m));
        json.members_.push_back(std::move(m));
        p.SkipSpace();
        if (p.Eat(',')) continue;
        if (p.Eat('}')) break;
        return p.Error("expected ',' or '}'");
      }
    }
    p.SkipSpace();
    if (p.pos != text.size()) return p.Error("text after the object");
    return json;
  }

  absl::StatusOr<std::string> GetString(absl::string_view key) const {
    LV_ASSIGN_OR_RETURN(const Member* m, Find(key, Kind::kString));
    return m->str;
  }
  absl::StatusOr<uint64_t> GetUint(absl::string_view key) const {
    LV_ASSIGN_OR_RETURN(const Member* m, Find(key, Kind::kUint));
    return m->number;
  }
  absl::StatusOr<bool> GetBool(absl::string_view key) const {
    LV_ASSIGN_OR_RETURN(const Member* m, Find(key, Kind::kBool));
    return m->flag;
  }
  absl::StatusOr<std::vector<Hash>> GetHashes(absl::string_view key) const {
    LV_ASSIGN_OR_RETURN(const Member* m, Find(key, Kind::kStrings));
    std::vector<Hash> hashes;
    hashes.reserve(m->list.size());
    for (const std::string& s : m->list) {
      auto hash = HashFromBase64(s);
      if (!hash.ok())
        return absl::InvalidArgumentError(absl::StrCat("\"", key, "\": ", hash.status().message()));
      hashes.push_back(*hash);
    }
    return hashes;
  }

 private:
  enum class Kind { kString, kUint, kBool, kStrings };
  struct Member {
    std::string key;
    Kind kind = Kind::kString;
    std::string str;
    uint64_t number = 0;
    bool flag = false;
    std::vector<std::string> list;
  };

  struct Parser {
    absl::string_view text;
    size_t pos = 0;

    absl::Status Error(absl::string_view what) const {
      return absl::InvalidArgumentError(absl::StrCat("invalid JSON at byte ", pos + 1, ": ", what));
    }
    void SkipSpace() {
      while (pos < text.size() &&
             (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\r' || text[pos] == '\n')) {
        ++pos;
      }
    }
    bool Eat(char c) {
      if (pos < text.size() && text[pos] == c) {
        ++pos;
        return true;
      }
      return false;
    }
    bool Hex4(uint32_t& value) {
      if (text.size() - pos < 4) return false;
      value = 0;
      for (int i = 0; i < 4; ++i) {
        const char c = text[pos++];
        uint32_t d;
        if (c >= '0' && c <= '9') {
          d = static_cast<uint32_t>(c - '0');
        } else if (c >= 'a' && c <= 'f') {
          d = static_cast<uint32_t>(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
          d = static_cast<uint32_t>(c - 'A' + 10);
        } else {
          return false;
        }
        value = (value << 4) | d;
      }
      return true;
    }
    // A string literal, decoded; "\udc80".."\udcff" standing alone is the byte 0x80..0xff.
    bool String(std::string& out) {
      if (!Eat('"')) return false;
      while (pos < text.size()) {
        const unsigned char c = static_cast<unsigned char>(text[pos]);
        if (c == '"') {
          ++pos;
          return true;
        }
        if (c < 0x20) return false;
        if (c != '\\') {
          out.push_back(static_cast<char>(c));
          ++pos;
          continue;
        }
        if (++pos >= text.size()) return false;
        const char e = text[pos++];
        switch (e) {
          case '"':
          case '\\':
          case '/':
            out.push_back(e);
            break;
          case 'b':
            out.push_back('\b');
            break;
          case 'f':
            out.push_back('\f');
            break;
          case 'n':
            out.push_back('\n');
            break;
          case 'r':
            out.push_back('\r');
            break;
          case 't':
            out.push_back('\t');
            break;
          case 'u': {
            uint32_t u;
            if (!Hex4(u)) return false;
            if (u >= 0xD800 && u <= 0xDBFF) {
              uint32_t low;
              if (!Eat('\\') || !Eat('u') || !Hex4(low) || low < 0xDC00 || low > 0xDFFF) {
                return false;
              }
              AppendUtf8(0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00), out);
            } else if (u >= 0xDC80 && u <= 0xDCFF) {
              out.push_back(static_cast<char>(u & 0xFF));
            } else if (u >= 0xDC00 && u <= 0xDFFF) {
              return false;
            } else {
              AppendUtf8(u, out);
            }
            break;
          }
          default:
            return false;
        }
      }
      return false;
    }
    absl::Status Value(Member& m) {
      if (pos >= text.size()) return Error("expected a value");
      const char c = text[pos];
      if (c == '"') {
        m.kind = Kind::kString;
        if (!String(m.str)) return Error("malformed string");
        return absl::OkStatus();
      }
      if (c == '[') {
        m.kind = Kind::kStrings;
        ++pos;
        SkipSpace();
        if (Eat(']')) return absl::OkStatus();
        for (;;) {
          SkipSpace();
          std::string s;
          if (!String(s)) return Error("expected a string in the array");
          m.list.push_back(std::move(s));
          SkipSpace();
          if (Eat(',')) continue;
          if (Eat(']')) return absl::OkStatus();
          return Error("expected ',' or ']'");
        }
      }
      if (text.substr(pos, 4) == "true") {
        pos += 4;
        m.kind = Kind::kBool;
        m.flag = true;
        return absl::OkStatus();
      }
      if (text.substr(pos, 5) == "false") {
        pos += 5;
        m.kind = Kind::kBool;
        m.flag = false;
        return absl::OkStatus();
      }
      if (c >= '0' && c <= '9') {
        m.kind = Kind::kUint;
        const size_t start = pos;
        uint64_t v = 0;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
          const uint64_t d = static_cast<uint64_t>(text[pos] - '0');
          if (v > (UINT64_MAX - d) / 10) return Error("number out of range");
          v = v * 10 + d;
          ++pos;
        }
        if (text[start] == '0' && pos - start > 1) return Error("number with a leading zero");
        if (pos < text.size() && (text[pos] == '.' || text[pos] == 'e' || text[pos] == 'E')) {
          return Error("expected an integer");
        }
        m.number = v;
        return absl::OkStatus();
      }
      if (c == '-') return Error("negative number");
      return Error("unexpected value");
    }
  };

  absl::StatusOr<const Member*> Find(absl::string_view key, Kind kind) const {
    for (const Member& m : members_) {
      if (m.key != key) continue;
      if (m.kind != kind) {
        return absl::InvalidArgumentError(absl::StrCat("\"", key, "\" has the wrong type"));
      }
      return &m;
    }
    return absl::InvalidArgumentError(absl::StrCat("missing \"", key, "\""));
  }

  std::vector<Member> members_;
};

// ---------------------------------------------------------------------------
// The file, read in batches of complete '\n'-terminated lines.

// The complete lines of one read (without their '\n'), viewing `buffer`.
struct Batch {
  std::unique_ptr<char[]> buffer;
  size_t capacity = 0;
  std::vector<absl::string_view> lines;
  uint64_t first_line = 0;  // the line number of lines[0]
};

class LineFile {
 public:
  static absl::StatusOr<std::unique_ptr<LineFile>> Open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      const std::string what = absl::StrCat("cannot open ", path, ": ", std::strerror(err));
      if (err == ENOENT || err == ENOTDIR) return absl::NotFoundError(what);
      return absl::UnavailableError(what);
    }
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return absl::InvalidArgumentError(absl::StrCat(path, " is not a regular file"));
    }
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return std::unique_ptr<LineFile>(new LineFile(fd, static_cast<uint64_t>(st.st_size)));
  }
  ~LineFile() { ::close(fd_); }
  LineFile(const LineFile&) = delete;
  LineFile& operator=(const LineFile&) = delete;

  // True once every line has been returned.
  bool at_end() const { return eof_ && carry_size_ == 0; }

  // Replaces `batch` with the next complete lines: at least one, or none at
  // the end of the file. A line cut by the end of the buffer is carried into
  // the next call, so successive calls must alternate between two batches
  // (the carried bytes are read from the previous one, which is not written).
  absl::Status ReadBatch(Batch& batch) {
    batch.lines.clear();
    batch.first_line = next_line_;
    if (batch.capacity < carry_size_ + kReadBytes / 2) {
      batch.capacity = std::max(kReadBytes, 2 * carry_size_);
      batch.buffer = std::make_unique_for_overwrite<char[]>(batch.capacity);
    }
    if (carry_size_ > 0) std::memcpy(batch.buffer.get(), carry_, carry_size_);
    size_t end = carry_size_;
    size_t begin = 0;  // of the first line not yet split off
    size_t scanned = 0;
    for (;;) {
      while (!eof_ && end < batch.capacity) {
        const ssize_t r = ::read(fd_, batch.buffer.get() + end, batch.capacity - end);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return absl::UnavailableError(absl::StrCat("read: ", std::strerror(errno)));
        if (r == 0) eof_ = true;
        end += static_cast<size_t>(r);
      }
      const char* base = batch.buffer.get();
      while (scanned < end) {
        const void* nl = std::memchr(base + scanned, '\n', end - scanned);
        if (nl == nullptr) {
          scanned = end;
          break;
        }
        const size_t at = static_cast<size_t>(static_cast<const char*>(nl) - base);
        batch.lines.emplace_back(base + begin, at - begin);
        begin = scanned = at + 1;
      }
      if (!batch.lines.empty() || (eof_ && begin == end)) break;
      if (eof_) {
        return absl::InvalidArgumentError(
            absl::StrCat(LineLabel(next_line_), ": does not end in '\\n' (truncated file?)"));
      }
      // One unfinished line fills the buffer: grow it.
      if (batch.capacity >= kMaxLineBytes) {
        return absl::InvalidArgumentError(
            absl::StrCat(LineLabel(next_line_), ": longer than ", kMaxLineBytes, " bytes"));
      }
      auto bigger = std::make_unique_for_overwrite<char[]>(batch.capacity * 2);
      std::memcpy(bigger.get(), batch.buffer.get(), end);
      batch.buffer = std::move(bigger);
      batch.capacity *= 2;
    }
    carry_ = batch.buffer.get() + begin;
    carry_size_ = end - begin;
    next_line_ += batch.lines.size();
    return absl::OkStatus();
  }

  // Reads up to `n` bytes ending at the end of the file (as stat'ed at open).
  absl::Status ReadTail(size_t n, std::string& out, uint64_t& offset) {
    n = static_cast<size_t>(std::min<uint64_t>(n, size_));
    offset = size_ - n;
    out.resize(n);
    size_t done = 0;
    while (done < n) {
      const ssize_t r =
          ::pread(fd_, out.data() + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return absl::UnavailableError(absl::StrCat("read: ", std::strerror(errno)));
      if (r == 0) return absl::UnavailableError("read: the file shrank while being verified");
      done += static_cast<size_t>(r);
    }
    return absl::OkStatus();
  }

 private:
  LineFile(int fd, uint64_t size) : fd_(fd), size_(size) {}

  const int fd_;
  const uint64_t size_;
  const char* carry_ = nullptr;  // an unfinished line, in the previous batch's buffer
  size_t carry_size_ = 0;
  uint64_t next_line_ = 1;
  bool eof_ = false;
};

// ---------------------------------------------------------------------------
// Runs the chunks of a loop on helper threads and the calling thread; each
// thread claims the next chunk when it is done with one, so a thread that is
// descheduled does not hold the others up.

class WorkerPool {
 public:
  // work(chunk, worker): worker 0 is the calling thread, 1.. the helpers.
  using Work = absl::FunctionRef<void(size_t chunk, size_t worker)>;

  explicit WorkerPool(size_t helpers) {
    for (size_t i = 0; i < helpers; ++i) threads_.emplace_back([this, i] { Loop(i + 1); });
  }
  ~WorkerPool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    work_cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  size_t workers() const { return threads_.size() + 1; }

  // The helpers start on chunks [0, chunks). `work` must stay alive until
  // Finish() returns. REQUIRES: no Start() without its Finish().
  void Start(size_t chunks, const Work* work) {
    next_chunk_.store(0, std::memory_order_relaxed);
    chunks_ = chunks;
    work_ = work;
    if (threads_.empty()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_ = threads_.size();
      ++generation_;
    }
    work_cv_.notify_all();
  }

  // Runs the chunks not yet claimed on the calling thread, then waits until
  // the helpers are done with theirs.
  void Finish() {
    RunChunks(0);
    if (threads_.empty()) return;
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [this] { return pending_ == 0; });
  }

 private:
  void RunChunks(size_t worker) {
    for (;;) {
      const size_t chunk = next_chunk_.fetch_add(1, std::memory_order_relaxed);
      if (chunk >= chunks_) return;
      (*work_)(chunk, worker);
    }
  }

  void Loop(size_t worker) {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        work_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
      }
      RunChunks(worker);
      {
        std::lock_guard<std::mutex> lock(mu_);
        --pending_;
      }
      done_cv_.notify_one();
    }
  }

  // Set by Start() before the helpers are woken (published by mu_).
  const Work* work_ = nullptr;
  size_t chunks_ = 0;
  std::atomic<size_t> next_chunk_{0};

  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  size_t pending_ = 0;       // guarded by mu_
  uint64_t generation_ = 0;  // guarded by mu_
  bool stop_ = false;        // guarded by mu_
  std::vector<std::thread> threads_;
};

// ---------------------------------------------------------------------------

struct ParsedTrailer {
  std::string line;  // as read, without '\n'
  ExportTrailer trailer;
  Checkpoint checkpoint;
  std::optional<ExportManifest> manifest;  // filtered only
};

struct Consistency {
  uint64_t from_size = 0;
  std::vector<Hash> proof;
};

// What one thread needs to check entry lines.
struct EntryScratch {
  std::string canonical;
  std::string rendered;
  std::vector<Hash> inclusion;
};

// The outcome of checking one entry line on its own.
struct EntryResult {
  absl::Status status;
  uint64_t sequence = 0;
  Hash leaf{};
};

// Entry lines are checked in chunks of this many; unfiltered, each chunk's
// leaves are also merged into the chunk's compact range on the worker, so the
// in-order fold appends O(log kChunkLines) nodes per chunk.
constexpr size_t kChunkLines = 128;

class ExportVerifier {
 public:
  ExportVerifier(const VerifyOptions& options, LineFile& file) : options_(options), file_(file) {}

  absl::StatusOr<VerifyReport> Run();

 private:
  absl::Status ReadHeader(absl::string_view line);
  absl::Status ReadTrailerFromEnd();
  absl::StatusOr<ParsedTrailer> ParseTrailerLine(absl::string_view line,
                                                 absl::string_view label) const;
  absl::Status OnCheckpointLine(absl::string_view line, uint64_t line_number);
  absl::Status OnConsistencyLine(absl::string_view line, uint64_t line_number);
  // Checks lines [0, count) of `lines` (entry lines, the first numbered
  // first_line) on all workers; the read of the next batch, `prefetch`, runs
  // on this thread meanwhile. Then folds them in order.
  absl::Status CheckEntries(const absl::string_view* lines, size_t count, uint64_t first_line,
                            absl::FunctionRef<void()> prefetch);
  void CheckChunk(const absl::string_view* lines, size_t count, uint64_t first_line,
                  uint64_t first_leaf, size_t chunk, size_t worker);
  void CheckEntryLine(absl::string_view line, uint64_t line_number, EntryScratch& scratch,
                      EntryResult& result) const;
  absl::Status CheckTrustedInStream(uint64_t line_number);
  absl::Status CheckTrustedAtEnd();
  // Filtered: the manifest against the header and checkpoint, before any entry.
  absl::Status CheckManifestAgainstHeader(const ExportManifest& manifest,
                                          const Checkpoint& checkpoint) const;
  // Filtered: the entry lines read against the manifest's count and chain.
  absl::Status CheckManifestAgainstEntries() const;

  const VerifyOptions& options_;
  LineFile& file_;

  // Constant after the header (and, when filtered, the trailer read from the end).
  ExportHeader header_;
  std::optional<ParsedTrailer> tail_trailer_;

  MerkleFrontier frontier_;  // unfiltered: leaves [0, sequence of the last entry)
  uint64_t entries_ = 0;
  uint64_t last_seen_ = 0;  // sequence of the last entry (0 before the first)
  LeafChain chain_;         // filtered: over the leaves of the entries read
  std::optional<ParsedTrailer> trailer_;
  std::optional<Consistency> consistency_;
  bool trusted_checked_ = false;

  std::unique_ptr<WorkerPool> pool_;
  std::vector<EntryScratch> scratch_;                              // one per worker
  std::vector<EntryResult> results_;                               // one per line of a batch
  std::vector<std::vector<std::pair<NodeId, Hash>>> chunk_nodes_;  // one per chunk of a batch
};

absl::Status ExportVerifier::ReadHeader(absl::string_view line) {
  auto json = FlatJson::Parse(line);
  if (!json.ok()) return WithPrefix("line 1: header: ", json.status());
  auto type = json->GetString("type");
  if (!type.ok() || *type != "header") {
    return absl::InvalidArgumentError("line 1: not an audit export header");
  }
  auto format = json->GetString("format");
  auto version = json->GetUint("version");
  if (!format.ok() || *format != "leadvault-audit-export" || !version.ok() || *version != 1) {
    return absl::InvalidArgumentError("line 1: not a leadvault-audit-export version 1 header");
  }
  auto origin = json->GetString("origin");
  auto first = json->GetUint("first_sequence");
  auto last = json->GetUint("last_sequence");
  auto filtered = json->GetBool("filtered");
  auto left = json->GetHashes("left_frontier");
  for (const absl::Status& s :
       {origin.status(), first.status(), last.status(), filtered.status(), left.status()}) {
    if (!s.ok()) return WithPrefix("line 1: header: ", s);
  }
  header_.origin = *std::move(origin);
  header_.first_sequence = *first;
  header_.last_sequence = *last;
  header_.filtered = *filtered;
  header_.left_frontier = *std::move(left);
  if (header_.filtered) {
    auto principal = json->GetString("filter_principal_id");
    auto action = json->GetString("filter_action");
    auto lead = json->GetString("filter_lead_id");
    for (const absl::Status& s : {principal.status(), action.status(), lead.status()}) {
      if (!s.ok()) return WithPrefix("line 1: header: ", s);
    }
    header_.filter = {*std::move(principal), *std::move(action), *std::move(lead)};
  }
  std::string rendered;
  AppendJsonlHeader(header_, rendered);
  if (rendered.size() != line.size() + 1 ||
      absl::string_view(rendered).substr(0, line.size()) != line) {
    return absl::InvalidArgumentError("line 1: header is not in canonical form");
  }
  if (header_.first_sequence == 0) {
    return absl::InvalidArgumentError("line 1: first_sequence must be at least 1");
  }
  if (header_.filtered) {
    if (!header_.left_frontier.empty()) {
      return absl::InvalidArgumentError("line 1: a filtered export has no left_frontier");
    }
    if (header_.filter.empty()) {
      return absl::InvalidArgumentError("line 1: a filtered export names no filter");
    }
    LV_RETURN_IF_ERROR(WithPrefix("line 1: filter_", ValidateExportFilter(header_.filter)));
    if (header_.last_sequence < header_.first_sequence - 1) {
      return absl::InvalidArgumentError("line 1: last_sequence is before first_sequence - 1");
    }
  } else {
    if (header_.last_sequence < header_.first_sequence - 1) {
      return absl::InvalidArgumentError("line 1: last_sequence is before first_sequence - 1");
    }
    auto frontier = MerkleFrontier::FromNodes(header_.first_sequence - 1, header_.left_frontier);
    if (!frontier.ok()) return WithPrefix("line 1: left_frontier: ", frontier.status());
    frontier_ = *std::move(frontier);
  }
  if (options_.trusted.has_value() && options_.trusted->origin != header_.origin) {
    return absl::InvalidArgumentError(
        "line 1: the export's origin differs from the trusted checkpoint's");
  }
  return absl::OkStatus();
}

absl::StatusOr<ParsedTrailer> ExportVerifier::ParseTrailerLine(absl::string_view line,
                                                               absl::string_view label) const {
  ParsedTrailer parsed;
  parsed.line = std::string(line);
  auto json = FlatJson::Parse(line);
  if (!json.ok()) return WithPrefix(absl::StrCat(label, ": checkpoint line: "), json.status());
  auto note = json->GetString("note");
  auto right = json->GetHashes("right_nodes");
  for (const absl::Status& s : {note.status(), right.status()}) {
    if (!s.ok()) return WithPrefix(absl::StrCat(label, ": checkpoint line: "), s);
  }
  parsed.trailer.checkpoint_note = *std::move(note);
  parsed.trailer.right_nodes = *std::move(right);
  auto manifest_note = json->GetString("manifest");
  if (header_.filtered) {
    if (!manifest_note.ok() || manifest_note->empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(label,
                       ": a filtered export needs the daemon's signed manifest "
                       "(\"manifest\"), which is missing"));
    }
    parsed.trailer.manifest_note = *std::move(manifest_note);
  } else if (manifest_note.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(label, ": a manifest in an unfiltered export"));
  }
  std::string rendered;
  AppendJsonlTrailer(parsed.trailer, rendered);
  if (rendered.size() != line.size() + 1 ||
      absl::string_view(rendered).substr(0, line.size()) != line) {
    return absl::InvalidArgumentError(
        absl::StrCat(label, ": checkpoint line is not in canonical form"));
  }
  auto checkpoint = OpenCheckpoint(parsed.trailer.checkpoint_note, *options_.verifier);
  if (!checkpoint.ok()) return WithPrefix("checkpoint: ", checkpoint.status());
  parsed.checkpoint = *std::move(checkpoint);
  const Checkpoint& cp = parsed.checkpoint;
  if (cp.origin != header_.origin) {
    return absl::InvalidArgumentError("checkpoint: its origin differs from the header's origin");
  }
  if (cp.size < header_.last_sequence) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint: tree size ", cp.size,
                                                   " does not cover last_sequence ",
                                                   header_.last_sequence));
  }
  if (header_.filtered && !parsed.trailer.right_nodes.empty()) {
    return absl::InvalidArgumentError("checkpoint: a filtered export has no right_nodes");
  }
  if (header_.filtered) {
    auto manifest = OpenExportManifest(parsed.trailer.manifest_note, *options_.verifier);
    if (!manifest.ok()) return WithPrefix("manifest: ", manifest.status());
    LV_RETURN_IF_ERROR(CheckManifestAgainstHeader(*manifest, cp));
    parsed.manifest = *std::move(manifest);
  }
  return parsed;
}

absl::Status ExportVerifier::CheckManifestAgainstHeader(const ExportManifest& m,
                                                        const Checkpoint& cp) const {
  if (m.origin != header_.origin) {
    return absl::InvalidArgumentError("manifest: its origin differs from the header's origin");
  }
  if (m.tree_size != cp.size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "manifest: it was made against tree size ", m.tree_size,
        ", the export's checkpoint has tree size ", cp.size, " (the manifest of another export?)"));
  }
  if (m.root != cp.root) {
    return absl::InvalidArgumentError(
        "manifest: its root differs from the export's checkpoint root (the manifest of another "
        "export?)");
  }
  if (m.first_sequence != header_.first_sequence || m.last_sequence != header_.last_sequence) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest: it covers sequences [", m.first_sequence, ", ", m.last_sequence,
                     "], the header [", header_.first_sequence, ", ", header_.last_sequence, "]"));
  }
  const struct {
    absl::string_view name;
    const std::string& signed_value;
    const std::string& header_value;
  } members[] = {{"principal_id", m.filter.principal_id, header_.filter.principal_id},
                 {"action", m.filter.action, header_.filter.action},
                 {"lead_id", m.filter.lead_id, header_.filter.lead_id}};
  for (const auto& member : members) {
    if (member.signed_value != member.header_value) {
      return absl::InvalidArgumentError(absl::StrCat(
          "manifest: its filter ", member.name, " differs from the header's filter_", member.name));
    }
  }
  return absl::OkStatus();
}

absl::Status ExportVerifier::CheckManifestAgainstEntries() const {
  const ExportManifest& m = *trailer_->manifest;
  if (entries_ != m.matches) {
    return absl::InvalidArgumentError(absl::StrCat(
        "manifest: the file has ", entries_, " entry lines, the daemon attested ", m.matches,
        " matching entries in [", m.first_sequence, ", ", m.last_sequence, "] (",
        entries_ < m.matches ? "an entry was removed" : "an entry was added", ")"));
  }
  if (chain_.value() != m.leaf_chain) {
    return absl::InvalidArgumentError(
        "manifest: the entry lines' leaf_chain differs from the attested one (an entry was "
        "replaced by another, or the manifest is another export's)");
  }
  return absl::OkStatus();
}

absl::Status ExportVerifier::ReadTrailerFromEnd() {
  std::string tail;
  uint64_t offset = 0;
  LV_RETURN_IF_ERROR(file_.ReadTail(kTailBytes, tail, offset));
  absl::string_view rest(tail);
  if (rest.empty() || rest.back() != '\n') {
    return absl::InvalidArgumentError("truncated: the file does not end in '\\n'");
  }
  // The last line, and the one before it; each must be complete in the tail.
  auto take_last_line = [&](absl::string_view& line) {
    rest.remove_suffix(1);  // its '\n'
    const size_t nl = rest.rfind('\n');
    if (nl == absl::string_view::npos && offset > 0) return false;
    const size_t start = nl == absl::string_view::npos ? 0 : nl + 1;
    line = rest.substr(start);
    rest = rest.substr(0, start);
    return true;
  };
  absl::string_view line;
  if (!take_last_line(line)) {
    return absl::InvalidArgumentError("checkpoint: trailer lines longer than 1 MiB");
  }
  if (absl::StartsWith(line, kConsistencyPrefix)) {
    if (rest.empty() || !take_last_line(line)) {
      return absl::InvalidArgumentError("truncated: no checkpoint line at the end of the file");
    }
  }
  if (!absl::StartsWith(line, kCheckpointPrefix)) {
    return absl::InvalidArgumentError("truncated: no checkpoint line at the end of the file");
  }
  LV_ASSIGN_OR_RETURN(ParsedTrailer parsed, ParseTrailerLine(line, "checkpoint line"));
  tail_trailer_ = std::move(parsed);
  return absl::OkStatus();
}

absl::Status ExportVerifier::OnCheckpointLine(absl::string_view line, uint64_t line_number) {
  const std::string label = LineLabel(line_number);
  if (tail_trailer_.has_value()) {
    if (line != tail_trailer_->line) {
      return absl::InvalidArgumentError(
          absl::StrCat(label, ": a checkpoint line that is not the file's trailer"));
    }
    trailer_ = tail_trailer_;  // the entries were checked against tail_trailer_
  } else {
    LV_ASSIGN_OR_RETURN(ParsedTrailer parsed, ParseTrailerLine(line, label));
    trailer_ = std::move(parsed);
  }
  const Checkpoint& cp = trailer_->checkpoint;
  if (header_.filtered) return CheckManifestAgainstEntries();

  const uint64_t expected_entries = header_.last_sequence - (header_.first_sequence - 1);
  if (entries_ != expected_entries) {
    return absl::InvalidArgumentError(
        absl::StrCat("truncated: entries after sequence ", header_.first_sequence - 1 + entries_,
                     " are missing (the header promises up to ", header_.last_sequence, ")"));
  }
  const std::vector<NodeId> ids = RangeNodes(header_.last_sequence, cp.size);
  const std::vector<Hash>& right = trailer_->trailer.right_nodes;
  if (right.size() != ids.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint: right_nodes has ", right.size(), " hashes, expected ", ids.size(),
                     " for leaves [", header_.last_sequence, ", ", cp.size, ")"));
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    LV_RETURN_IF_ERROR(
        WithPrefix("checkpoint: right_nodes: ", frontier_.AppendNode(ids[i], right[i])));
  }
  if (frontier_.Root() != cp.root) {
    return absl::InvalidArgumentError(
        absl::StrCat("root mismatch: the ", entries_,
                     " entries with the left frontier and "
                     "right nodes do not rebuild the checkpoint's root (tree size ",
                     cp.size, ")"));
  }
  return absl::OkStatus();
}

absl::Status ExportVerifier::OnConsistencyLine(absl::string_view line, uint64_t line_number) {
  const std::string label = LineLabel(line_number);
  auto json = FlatJson::Parse(line);
  if (!json.ok()) return WithPrefix(absl::StrCat(label, ": consistency line: "), json.status());
  auto from_size = json->GetUint("from_size");
  auto proof = json->GetHashes("proof");
  for (const absl::Status& s : {from_size.status(), proof.status()}) {
    if (!s.ok()) return WithPrefix(absl::StrCat(label, ": consistency line: "), s);
  }
  Consistency c{*from_size, *std::move(proof)};
  std::string rendered;
  AppendJsonlConsistency(c.from_size, c.proof, rendered);
  if (rendered.size() != line.size() + 1 ||
      absl::string_view(rendered).substr(0, line.size()) != line) {
    return absl::InvalidArgumentError(
        absl::StrCat(label, ": consistency line is not in canonical form"));
  }
  if (c.from_size > trailer_->checkpoint.size) {
    return absl::InvalidArgumentError(
        absl::StrCat(label, ": consistency from_size is beyond the checkpoint's tree size"));
  }
  consistency_ = std::move(c);
  return absl::OkStatus();
}

// The sequence an entry line displays, for naming it when its canonical
// bytes cannot be read; 0 if none.
uint64_t DisplayedSequence(absl::string_view line) {
  if (!absl::StartsWith(line, kSeqPrefix)) return 0;
  uint64_t v = 0;
  for (size_t i = kSeqPrefix.size(); i < line.size() && line[i] >= '0' && line[i] <= '9'; ++i) {
    if (v > UINT64_MAX / 10 - 1) return 0;
    v = v * 10 + static_cast<uint64_t>(line[i] - '0');
  }
  return v;
}

absl::Status EntryError(uint64_t sequence, uint64_t line_number, absl::string_view what) {
  if (sequence == 0) {
    return absl::InvalidArgumentError(absl::StrCat(LineLabel(line_number), ": ", what));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("sequence ", sequence, " (line ", line_number, "): ", what));
}

void ExportVerifier::CheckEntryLine(absl::string_view line, uint64_t line_number,
                                    EntryScratch& scratch, EntryResult& result) const {
  result.status = absl::OkStatus();
  // The "canonical" value: the last string preceded by "canonical": (base64
  // and the hashes after it hold no '"'). Where it really is does not matter:
  // the line must equal its re-rendering byte for byte.
  const char* begin = line.data();
  const char* quote = begin + line.size();
  const char* value = nullptr;
  const char* value_end = nullptr;  // the quote found before the current one
  while (quote > begin) {
    const void* q = memrchr(begin, '"', static_cast<size_t>(quote - begin));
    if (q == nullptr) break;
    const char* found = static_cast<const char*>(q);
    if (static_cast<size_t>(found - begin) >= kCanonicalKey.size() &&
        std::memcmp(found - kCanonicalKey.size(), kCanonicalKey.data(), kCanonicalKey.size()) ==
            0) {
      value = found + 1;
      break;
    }
    value_end = quote = found;
  }
  if (value == nullptr || value_end == nullptr || value_end < value) {
    result.status = EntryError(DisplayedSequence(line), line_number, "no \"canonical\" field");
    return;
  }
  absl::string_view after(value_end + 1, static_cast<size_t>(begin + line.size() - value_end - 1));
  bool has_inclusion = false;
  scratch.inclusion.clear();
  if (after != "}") {
    if (!absl::StartsWith(after, kInclusionOpen) || !absl::EndsWith(after, "]}")) {
      result.status = EntryError(DisplayedSequence(line), line_number,
                                 "unexpected text after the \"canonical\" field");
      return;
    }
    has_inclusion = true;
    absl::string_view list = after.substr(kInclusionOpen.size());
    list.remove_suffix(2);
    while (!list.empty()) {
      // "<44 base64 characters>", then ',' unless it is the last.
      absl::StatusOr<Hash> hash = absl::InvalidArgumentError("");
      if (list.size() >= 46 && list[0] == '"' && list[45] == '"') {
        hash = HashFromBase64(list.substr(1, 44));
        list.remove_prefix(46);
        if (!list.empty() && (list[0] != ',' || list.size() == 1)) {
          hash = absl::InvalidArgumentError("");
        }
        if (!list.empty()) list.remove_prefix(1);
      }
      if (!hash.ok()) {
        result.status =
            EntryError(DisplayedSequence(line), line_number, "malformed inclusion proof");
        return;
      }
      scratch.inclusion.push_back(*hash);
    }
  }
  if (!DecodeBase64(absl::string_view(value, static_cast<size_t>(value_end - value)),
                    scratch.canonical)) {
    result.status =
        EntryError(DisplayedSequence(line), line_number, "canonical bytes: invalid base64");
    return;
  }
  absl::StatusOr<AuditEntry> entry = DecodeCanonical(scratch.canonical);
  if (!entry.ok()) {
    result.status = EntryError(DisplayedSequence(line), line_number,
                               absl::StrCat("canonical bytes: ", entry.status().message()));
    return;
  }
  const uint64_t seq = entry->sequence;
  result.sequence = seq;
  // Decoding is not injective (a long varint, a code beyond int): the bytes
  // must be exactly what the log writes for this entry.
  if (EncodeCanonical(*entry) != scratch.canonical) {
    result.status = EntryError(seq, line_number, "canonical bytes are not in canonical form");
    return;
  }
  if (has_inclusion != header_.filtered) {
    result.status = EntryError(seq, line_number,
                               header_.filtered ? "no inclusion proof in a filtered export"
                                                : "an inclusion proof in an unfiltered export");
    return;
  }
  scratch.rendered.clear();
  AppendJsonlEntry(*entry, scratch.canonical, has_inclusion ? &scratch.inclusion : nullptr,
                   scratch.rendered);
  if (scratch.rendered.size() != line.size() + 1 ||
      std::memcmp(scratch.rendered.data(), line.data(), line.size()) != 0) {
    size_t diff = 0;
    const size_t n = std::min(scratch.rendered.size(), line.size());
    while (diff < n && scratch.rendered[diff] == line[diff]) ++diff;
    result.status =
        EntryError(seq, line_number,
                   absl::StrCat("the displayed fields differ from the canonical bytes (from byte ",
                                diff + 1, " of the line)"));
    return;
  }
  result.leaf = LeafHash(scratch.canonical);
  if (header_.filtered) {
    if (seq < header_.first_sequence || seq > header_.last_sequence) {
      result.status =
          EntryError(seq, line_number,
                     absl::StrCat("outside the export's range [", header_.first_sequence, ", ",
                                  header_.last_sequence, "]"));
      return;
    }
    if (!header_.filter.Matches(*entry)) {
      result.status = EntryError(seq, line_number, "does not match the export's filter");
      return;
    }
    const Checkpoint& cp = tail_trailer_->checkpoint;
    absl::Status included =
        VerifyInclusion(seq - 1, cp.size, result.leaf, scratch.inclusion, cp.root);
    if (!included.ok()) {
      result.status = EntryError(
          seq, line_number,
          absl::StrCat("inclusion proof against the checkpoint fails: ", included.message()));
    }
  }
}

void ExportVerifier::CheckChunk(const absl::string_view* lines, size_t count, uint64_t first_line,
                                uint64_t first_leaf, size_t chunk, size_t worker) {
  const size_t begin = chunk * kChunkLines;
  const size_t end = std::min(count, begin + kChunkLines);
  for (size_t i = begin; i < end; ++i) {
    CheckEntryLine(lines[i], first_line + i, scratch_[worker], results_[i]);
  }
  if (header_.filtered) return;
  // The compact range of leaves [first_leaf + begin, first_leaf + end), as if
  // every line holds the sequence expected there (the fold checks that first).
  std::vector<std::pair<NodeId, Hash>>& nodes = chunk_nodes_[chunk];
  nodes.clear();
  for (size_t i = begin; i < end; ++i) {
    if (!results_[i].status.ok()) return;  // the fold stops at this line
    NodeId id{0, first_leaf + i};
    Hash hash = results_[i].leaf;
    while (!nodes.empty() && nodes.back().first.level == id.level &&
           (nodes.back().first.index & 1) == 0 && nodes.back().first.index + 1 == id.index) {
      hash = NodeHash(nodes.back().second, hash);
      id = NodeId{id.level + 1, id.index >> 1};
      nodes.pop_back();
    }
    nodes.emplace_back(id, hash);
  }
}

absl::Status ExportVerifier::CheckEntries(const absl::string_view* lines, size_t count,
                                          uint64_t first_line, absl::FunctionRef<void()> prefetch) {
  const size_t chunks = (count + kChunkLines - 1) / kChunkLines;
  if (results_.size() < count) results_.resize(count);
  if (chunk_nodes_.size() < chunks) chunk_nodes_.resize(chunks);
  const uint64_t first_leaf = frontier_.size();
  auto check_chunk = [&](size_t chunk, size_t worker) {
    CheckChunk(lines, count, first_line, first_leaf, chunk, worker);
  };
  const WorkerPool::Work work = check_chunk;
  pool_->Start(chunks, &work);
  prefetch();
  pool_->Finish();

  const std::optional<uint64_t> trusted_size = options_.trusted.has_value() && !trusted_checked_
                                                   ? std::optional<uint64_t>(options_.trusted->size)
                                                   : std::nullopt;
  for (size_t chunk = 0; chunk < chunks; ++chunk) {
    const size_t begin = chunk * kChunkLines;
    const size_t end = std::min(count, begin + kChunkLines);
    for (size_t i = begin; i < end; ++i) {
      const uint64_t line_number = first_line + i;
      const EntryResult& r = results_[i];
      if (!r.status.ok()) return r.status;
      const uint64_t seq = r.sequence;
      if (header_.filtered) {
        if (entries_ > 0 && seq <= last_seen_) {
          return EntryError(
              seq, line_number,
              absl::StrCat("not after sequence ", last_seen_, " (duplicate or out of order)"));
        }
        chain_.Append(r.leaf);
      } else {
        if (entries_ == header_.last_sequence - (header_.first_sequence - 1)) {
          return EntryError(
              seq, line_number,
              absl::StrCat("beyond the export's last_sequence ", header_.last_sequence));
        }
        const uint64_t expected = header_.first_sequence + entries_;
        if (seq > expected) {
          return EntryError(expected, line_number,
                            absl::StrCat("missing: found sequence ", seq,
                                         " here (an entry is missing or out of order)"));
        }
        if (seq < expected) {
          return EntryError(seq, line_number,
                            absl::StrCat("already seen (duplicate or out of order); expected "
                                         "sequence ",
                                         expected));
        }
      }
      last_seen_ = seq;
      ++entries_;
    }
    if (header_.filtered) continue;
    if (trusted_size.has_value() && *trusted_size > frontier_.size() &&
        *trusted_size <= frontier_.size() + (end - begin)) {
      // The trusted size falls in this chunk: leaf by leaf, to see its root.
      for (size_t i = begin; i < end; ++i) {
        frontier_.Append(results_[i].leaf);
        LV_RETURN_IF_ERROR(CheckTrustedInStream(first_line + i));
      }
      continue;
    }
    for (const auto& [id, hash] : chunk_nodes_[chunk]) {
      LV_RETURN_IF_ERROR(frontier_.AppendNode(id, hash));
    }
  }
  return absl::OkStatus();
}

// Unfiltered: when the stream's tree reaches the trusted size, its root must
// be the trusted root.
absl::Status ExportVerifier::CheckTrustedInStream(uint64_t line_number) {
  if (!options_.trusted.has_value() || trusted_checked_ ||
      frontier_.size() != options_.trusted->size) {
    return absl::OkStatus();
  }
  if (frontier_.Root() != options_.trusted->root) {
    const std::string what =
        absl::StrCat("the tree of ", frontier_.size(),
                     " entries differs from the trusted checkpoint of that size (fork)");
    if (line_number <= 1) return absl::InvalidArgumentError(absl::StrCat("line 1: ", what));
    return EntryError(frontier_.size(), line_number, what);
  }
  trusted_checked_ = true;
  return absl::OkStatus();
}

absl::Status ExportVerifier::CheckTrustedAtEnd() {
  if (!options_.trusted.has_value()) return absl::OkStatus();
  const Checkpoint& trusted = *options_.trusted;
  const Checkpoint& cp = trailer_->checkpoint;
  if (trusted.size > cp.size) {
    return absl::InvalidArgumentError(
        absl::StrCat("rollback: the export's checkpoint (tree size ", cp.size,
                     ") is older than the trusted checkpoint (tree size ", trusted.size, ")"));
  }
  if (trusted.size == cp.size) {
    if (trusted.root != cp.root) {
      return absl::InvalidArgumentError(absl::StrCat(
          "checkpoint: root differs from the trusted checkpoint of the same tree size ", cp.size,
          " (fork)"));
    }
    trusted_checked_ = true;
    return absl::OkStatus();
  }
  if (trusted.size == 0 && !trusted_checked_) {  // every tree extends the empty tree
    if (trusted.root != EmptyTreeHash()) {
      return absl::InvalidArgumentError("checkpoint: the trusted empty tree has a wrong root");
    }
    trusted_checked_ = true;
  }
  if (consistency_.has_value() && consistency_->from_size == trusted.size && trusted.size != 0) {
    absl::Status consistent =
        VerifyConsistency(trusted.size, cp.size, trusted.root, cp.root, consistency_->proof);
    if (!consistent.ok()) {
      return WithPrefix(absl::StrCat("checkpoint: not consistent with the trusted checkpoint "
                                     "(tree size ",
                                     trusted.size, "): "),
                        consistent);
    }
    trusted_checked_ = true;
    return absl::OkStatus();
  }
  if (trusted_checked_) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("checkpoint: a consistency proof from the trusted tree size ", trusted.size,
                   " to ", cp.size, " is needed",
                   consistency_.has_value()
                       ? absl::StrCat(" (the export's is from size ", consistency_->from_size, ")")
                       : std::string(" (the export has none)")));
}

absl::StatusOr<VerifyReport> ExportVerifier::Run() {
  Batch batches[2];
  size_t current = 0;
  LV_RETURN_IF_ERROR(file_.ReadBatch(batches[0]));
  if (batches[0].lines.empty()) return absl::InvalidArgumentError("line 1: empty file, no header");
  LV_RETURN_IF_ERROR(ReadHeader(batches[0].lines[0]));
  if (header_.filtered) {
    LV_RETURN_IF_ERROR(ReadTrailerFromEnd());
  } else {
    LV_RETURN_IF_ERROR(CheckTrustedInStream(1));
  }

  const size_t threads = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, kMaxThreads);
  pool_ = std::make_unique<WorkerPool>(threads - 1);
  scratch_.resize(pool_->workers());

  enum class State { kEntries, kAfterCheckpoint, kAfterConsistency } state = State::kEntries;
  size_t start = 1;  // the header is done
  for (;;) {
    const Batch& batch = batches[current];
    Batch& next = batches[current ^ 1];
    const std::vector<absl::string_view>& lines = batch.lines;
    size_t i = start;
    if (state == State::kEntries) {
      while (i < lines.size() && absl::StartsWith(lines[i], kEntryPrefix)) ++i;
    }
    // Read the next batch while this one is checked; its error comes after
    // this batch's (file order).
    const bool more = !file_.at_end();
    absl::Status read_status;
    LV_RETURN_IF_ERROR(CheckEntries(lines.data() + start, i - start, batch.first_line + start, [&] {
      if (more) read_status = file_.ReadBatch(next);
    }));
    for (; i < lines.size(); ++i) {
      const uint64_t line_number = batch.first_line + i;
      const absl::string_view line = lines[i];
      switch (state) {
        case State::kEntries:
          if (!absl::StartsWith(line, kCheckpointPrefix)) {
            return absl::InvalidArgumentError(
                absl::StrCat(LineLabel(line_number), ": expected an entry or the checkpoint line"));
          }
          LV_RETURN_IF_ERROR(OnCheckpointLine(line, line_number));
          state = State::kAfterCheckpoint;
          break;
        case State::kAfterCheckpoint:
          if (!absl::StartsWith(line, kConsistencyPrefix)) {
            return absl::InvalidArgumentError(
                absl::StrCat(LineLabel(line_number), ": unexpected line after the checkpoint"));
          }
          LV_RETURN_IF_ERROR(OnConsistencyLine(line, line_number));
          state = State::kAfterConsistency;
          break;
        case State::kAfterConsistency:
          return absl::InvalidArgumentError(
              absl::StrCat(LineLabel(line_number), ": unexpected line after the trailer"));
      }
    }
    LV_RETURN_IF_ERROR(read_status);
    if (!more || next.lines.empty()) break;
    current ^= 1;
    start = 0;
  }
  pool_.reset();
  if (!trailer_.has_value()) {
    const uint64_t last_line = batches[current].first_line + batches[current].lines.size() - 1;
    return absl::InvalidArgumentError(
        absl::StrCat("truncated: no checkpoint line after line ", last_line,
                     entries_ > 0 ? absl::StrCat(" (sequence ", last_seen_, ")") : ""));
  }
  LV_RETURN_IF_ERROR(CheckTrustedAtEnd());

  VerifyReport report;
  report.entries = entries_;
  report.first_sequence = header_.first_sequence;
  report.last_sequence = header_.last_sequence;
  report.filtered = header_.filtered;
  report.checkpoint = trailer_->checkpoint;
  report.trusted_checked = trusted_checked_;
  report.manifest = trailer_->manifest;
  return report;
}

}  // namespace

absl::StatusOr<VerifyReport> VerifyExportFile(const std::string& path,
                                              const VerifyOptions& options) {
  if (options.verifier == nullptr) {
    return absl::InvalidArgumentError("verify: no verifier key given");
  }
  LV_ASSIGN_OR_RETURN(std::unique_ptr<LineFile> file, LineFile::Open(path));
  ExportVerifier verifier(options, *file);
  return verifier.Run();
}

}  // namespace leadvault::audit
