// The raw physical reference: what the disk gives with no engine at all.
//
// One file of fixed-size records, each [u64 XXH3 of bytes 16.. XOR a mix of
// the LSN][u64 lsn][u32 data length][u16 stream length][u16 zero][stream][type][data]
// zero-padded to the size Cairn's framing gives a single-event append
// (record header 48 + batch prefix 16 + event header 40 + event id 16 bytes,
// rounded to 8; bench/ may not include format/layout.h, so the sum is
// repeated here). A record whose data length is zero ends the file.
//
//   1 writer:   pwrite(one record) + fdatasync per append, into a file whose
//               blocks were written with zeros and fsynced beforehand.
//   N writers:  the minimal leader-gathers-batch group commit: appenders
//               queue their record under a mutex; whoever finds no leader
//               becomes it, takes the gathered batch, pwrite's it and
//               fdatasyncs outside the lock, publishes the durable sequence
//               and wakes the rest (condition variable).
//   pipelined:  records are copied into a 1 MiB buffer, written when it is
//               full, and fdatasynced every kPipelinedSyncBytes.
//   replay:     sequential pread in ~1 MiB chunks, XXH3 verified per record.
//   multi-event append: the events' records in one pwrite (1 writer) or one
//               group-commit entry (N writers), then fdatasync.
//   stream read: the physical limit of an indexed read: a perfect index in
//               memory (stream -> its records' positions, built while loading
//               or by one scan at open; persisted nowhere), then one pread of
//               each record and its XXH3 check. No engine can look up less.
#include "peer.h"

#define XXH_INLINE_ALL
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "record_hash.h"

namespace cairn_bench {
namespace {

// Framing bytes Cairn adds to a one-event append (see the file comment).
constexpr std::size_t kCairnFramingBytes = 48 + 16 + 40 + 16;
constexpr std::size_t kRawHeaderBytes = 24;
constexpr std::size_t kChunkBytes = 1u << 20;
// The pipelined reference fdatasyncs every this many bytes (the async writer
// of a log would sync about this often to bound its unsynced bytes).
constexpr std::uint64_t kPipelinedSyncBytes = 4u << 20;

Error errno_error(const char* what, const std::string& path) {
  return std::string(what) + " " + path + ": " + std::strerror(errno);
}

Error write_all(int fd, const char* bytes, std::size_t n, std::uint64_t position,
                const std::string& path) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, bytes, n, static_cast<off_t>(position));
    if (w < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno_error("pwrite", path);
    }
    bytes += w;
    n -= static_cast<std::size_t>(w);
    position += static_cast<std::uint64_t>(w);
  }
  return {};
}

class RawPeer final : public Peer {
 public:
  ~RawPeer() override { close(); }

  std::string name() const override { return "raw"; }
  std::string describe() const override {
    return "pwrite+fdatasync on a pre-written file (" + std::to_string(record_bytes_) +
           " B records; N writers: minimal leader/follower group commit); replay: pread + "
           "XXH3 (xxHash " +
           std::to_string(XXH_VERSION_MAJOR) + "." + std::to_string(XXH_VERSION_MINOR) + "." +
           std::to_string(XXH_VERSION_RELEASE) + ") per record";
  }
  bool replay_verifies_checksums() const override { return true; }

  Error open(const PeerOptions& options) override {
    threads_ = options.threads;
    stream_reads_ = options.stream_reads;
    record_bytes_ = (kCairnFramingBytes + options.stream_bytes_max + kEventType.size() +
                     options.event_bytes + 7) /
                    8 * 8;
    path_ = options.directory + "/raw.log";
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      return errno_error("open", path_);
    }
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
      return errno_error("fstat", path_);
    }
    end_ = static_cast<std::uint64_t>(st.st_size) / record_bytes_ * record_bytes_;
    if (end_ > 0) {
      // Reopened for replay: the records end at the first empty one. For
      // stream reads, rebuild the in-memory stream table with one scan.
      return stream_reads_ ? rebuild_stream_table() : Error();
    }
    if (options.prewrite && options.capacity_events > 0) {
      // Write every block once and make it durable, so that appends overwrite
      // already-allocated, already-written blocks (no extent conversion in
      // the file system journal on each fdatasync).
      capacity_ =
          (options.capacity_events * record_bytes_ + kChunkBytes - 1) / kChunkBytes * kChunkBytes;
      std::vector<char> zeros(kChunkBytes, 0);
      for (std::uint64_t at = 0; at < capacity_; at += kChunkBytes) {
        if (Error e = write_all(fd_, zeros.data(), zeros.size(), at, path_); !e.empty()) {
          return e;
        }
      }
      if (::fdatasync(fd_) != 0) {
        return errno_error("fdatasync", path_);
      }
    }
    int dir = ::open(options.directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) {
      return errno_error("open", options.directory);
    }
    int rc = ::fsync(dir);
    ::close(dir);
    if (rc != 0) {
      return errno_error("fsync", options.directory);
    }
    return {};
  }

  Error append(int /*thread*/, const EventRef& event) override {
    if (threads_ <= 1) {
      return append_alone({&event, 1});
    }
    return append_grouped({&event, 1});
  }

  Error append_many(int /*thread*/, std::span<const EventRef> events) override {
    if (threads_ <= 1) {
      return append_alone(events);
    }
    return append_grouped(events);
  }

  bool supports_pipelined() const override { return true; }

  Error append_async(const EventRef& event) override {
    if (pipe_.empty()) {
      pipe_.reserve(kChunkBytes);
    }
    std::size_t at = pipe_.size();
    pipe_.resize(at + record_bytes_);
    encode(pipe_.data() + at, next_lsn_++, event);
    if (pipe_.size() + record_bytes_ > kChunkBytes) {
      return drain_pipe(false);
    }
    return {};
  }

  Error wait_durable() override { return drain_pipe(true); }

  Error load(std::span<const EventRef> events) override {
    std::vector<char> buf(events.size() * record_bytes_);
    for (std::size_t i = 0; i < events.size(); ++i) {
      if (stream_reads_) {
        stream_table_[std::string(events[i].stream)].push_back(next_lsn_);
      }
      encode(buf.data() + i * record_bytes_, next_lsn_++, events[i]);
    }
    Error e = write_all(fd_, buf.data(), buf.size(), end_, path_);
    end_ += buf.size();
    return e;
  }

  Error flush() override {
    if (::fdatasync(fd_) != 0) {
      return errno_error("fdatasync", path_);
    }
    return {};
  }

  Error replay(ReplaySink& sink) override {
    const std::size_t per_chunk = std::max<std::size_t>(1, kChunkBytes / record_bytes_);
    std::vector<char> buf(per_chunk * record_bytes_);
    std::uint64_t position = 0;
    while (true) {
      ssize_t n = ::pread(fd_, buf.data(), buf.size(), static_cast<off_t>(position));
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        return errno_error("pread", path_);
      }
      std::size_t records = static_cast<std::size_t>(n) / record_bytes_;
      if (records == 0) {
        return {};
      }
      for (std::size_t i = 0; i < records; ++i) {
        const char* r = buf.data() + i * record_bytes_;
        std::uint32_t data_len;
        std::memcpy(&data_len, r + 16, 4);
        if (data_len == 0) {
          return {};
        }
        std::uint64_t lsn;
        std::memcpy(&lsn, r + 8, 8);
        std::string_view data;
        if (Error e = check_record(r, position + i * record_bytes_, lsn, data); !e.empty()) {
          return e;
        }
        sink.on(lsn, data);
      }
      position += records * record_bytes_;
    }
  }

  Error read_stream(std::string_view stream, StreamSink& sink) override {
    auto it = stream_table_.find(std::string(stream));
    if (it == stream_table_.end()) {
      return stream_reads_ ? Error() : "raw: opened without stream_reads";
    }
    if (one_.size() != record_bytes_) {
      one_.resize(record_bytes_);
    }
    std::uint64_t version = 0;
    for (std::uint64_t lsn : it->second) {
      const std::uint64_t position = lsn * record_bytes_;
      ssize_t n;
      do {
        n = ::pread(fd_, one_.data(), record_bytes_, static_cast<off_t>(position));
      } while (n < 0 && errno == EINTR);
      if (n != static_cast<ssize_t>(record_bytes_)) {
        return n < 0 ? errno_error("pread", path_) : path_ + ": short read";
      }
      std::string_view data;
      if (Error e = check_record(one_.data(), position, lsn, data); !e.empty()) {
        return e;
      }
      sink.on(version++, data);
    }
    return {};
  }

  std::optional<std::uint64_t> fsyncs() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return fsyncs_;
  }

  Error close() override {
    if (fd_ >= 0) {
      int rc = ::close(fd_);
      fd_ = -1;
      if (rc != 0) {
        return errno_error("close", path_);
      }
    }
    return {};
  }

 private:
  // Verifies the record at `r` (read from `position`) as LSN `lsn` and
  // returns its data.
  Error check_record(const char* r, std::uint64_t position, std::uint64_t lsn,
                     std::string_view& data) const {
    std::uint64_t stored;
    std::memcpy(&stored, r, 8);
    std::uint64_t stored_lsn;
    std::memcpy(&stored_lsn, r + 8, 8);
    if (stored_lsn != lsn || (record_hash(r + 16, record_bytes_ - 16) ^ lsn_mix(lsn)) != stored) {
      return path_ + ":" + std::to_string(position) + ": record checksum mismatch";
    }
    std::uint32_t data_len;
    std::memcpy(&data_len, r + 16, 4);
    std::uint16_t stream_len;
    std::memcpy(&stream_len, r + 20, 2);
    std::size_t data_at = kRawHeaderBytes + stream_len + kEventType.size();
    if (data_at + data_len > record_bytes_) {
      return path_ + ":" + std::to_string(position) + ": bad data length";
    }
    data = std::string_view(r + data_at, data_len);
    return {};
  }

  // The in-memory stream table of a reopened file: one sequential scan.
  Error rebuild_stream_table() {
    stream_table_.clear();
    const std::size_t per_chunk = std::max<std::size_t>(1, kChunkBytes / record_bytes_);
    std::vector<char> buf(per_chunk * record_bytes_);
    std::uint64_t position = 0;
    while (position < end_) {
      ssize_t n = ::pread(fd_, buf.data(), buf.size(), static_cast<off_t>(position));
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        return errno_error("pread", path_);
      }
      std::size_t records = static_cast<std::size_t>(n) / record_bytes_;
      if (records == 0) {
        break;
      }
      for (std::size_t i = 0; i < records; ++i) {
        const char* r = buf.data() + i * record_bytes_;
        std::uint32_t data_len;
        std::memcpy(&data_len, r + 16, 4);
        if (data_len == 0) {
          end_ = position + i * record_bytes_;
          next_lsn_ = end_ / record_bytes_;
          return {};
        }
        std::uint16_t stream_len;
        std::memcpy(&stream_len, r + 20, 2);
        stream_table_[std::string(r + kRawHeaderBytes, stream_len)].push_back(
            (position + i * record_bytes_) / record_bytes_);
      }
      position += records * record_bytes_;
    }
    next_lsn_ = end_ / record_bytes_;
    return {};
  }

  // The stored checksum is XXH3 of bytes [16, record end) XOR a mix of the
  // LSN, so a record is bound to its LSN and the LSN can be stamped after
  // the (expensive) hash.
  static std::uint64_t lsn_mix(std::uint64_t lsn) { return lsn * 0x9E3779B97F4A7C15ull; }

  static void stamp_lsn(char* record, std::uint64_t lsn) {
    std::uint64_t sum;
    std::memcpy(&sum, record, 8);
    sum ^= lsn_mix(lsn);
    std::memcpy(record, &sum, 8);
    std::memcpy(record + 8, &lsn, 8);
  }

  void encode(char* out, std::uint64_t lsn, const EventRef& event) const {
    std::memset(out, 0, record_bytes_);
    auto data_len = static_cast<std::uint32_t>(event.data.size());
    auto stream_len = static_cast<std::uint16_t>(event.stream.size());
    std::memcpy(out + 16, &data_len, 4);
    std::memcpy(out + 20, &stream_len, 2);
    char* p = out + kRawHeaderBytes;
    std::memcpy(p, event.stream.data(), event.stream.size());
    p += event.stream.size();
    std::memcpy(p, kEventType.data(), kEventType.size());
    p += kEventType.size();
    std::memcpy(p, event.data.data(), event.data.size());
    std::uint64_t sum = record_hash(out + 16, record_bytes_ - 16);
    std::memcpy(out, &sum, 8);
    stamp_lsn(out, lsn);
  }

  Error check_capacity(std::uint64_t bytes) const {
    if (capacity_ > 0 && bytes > capacity_) {
      return "raw: pre-written file full (" + std::to_string(capacity_) + " bytes)";
    }
    return {};
  }

  Error append_alone(std::span<const EventRef> events) {
    const std::size_t bytes = events.size() * record_bytes_;
    if (Error e = check_capacity(end_ + bytes); !e.empty()) {
      return e;
    }
    if (one_.size() != bytes) {
      one_.resize(bytes);
    }
    for (std::size_t i = 0; i < events.size(); ++i) {
      encode(one_.data() + i * record_bytes_, next_lsn_++, events[i]);
    }
    if (Error e = write_all(fd_, one_.data(), one_.size(), end_, path_); !e.empty()) {
      return e;
    }
    end_ += bytes;
    if (::fdatasync(fd_) != 0) {
      return errno_error("fdatasync", path_);
    }
    std::lock_guard<std::mutex> lock(mu_);
    ++fsyncs_;
    return {};
  }

  Error append_grouped(std::span<const EventRef> events) {
    // The records are encoded and checksummed outside the lock; under the
    // lock they are copied in and get their LSNs (stamp_lsn: a store and an
    // XOR).
    thread_local std::vector<char> mine_buf;
    const std::size_t bytes = events.size() * record_bytes_;
    mine_buf.resize(bytes);
    for (std::size_t i = 0; i < events.size(); ++i) {
      encode(mine_buf.data() + i * record_bytes_, 0, events[i]);
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (!failure_.empty()) {
      return failure_;
    }
    if (Error e = check_capacity(end_ + (pending_count_ + events.size()) * record_bytes_);
        !e.empty()) {
      return e;
    }
    std::size_t at = pending_.size();
    pending_.resize(at + bytes);
    std::memcpy(pending_.data() + at, mine_buf.data(), bytes);
    for (std::size_t i = 0; i < events.size(); ++i) {
      stamp_lsn(pending_.data() + at + i * record_bytes_, next_lsn_++);
    }
    pending_count_ += events.size();
    const std::uint64_t mine = next_lsn_;
    while (durable_lsn_ < mine) {
      if (!failure_.empty()) {
        return failure_;
      }
      if (leader_active_) {
        cv_.wait(lock);
        continue;
      }
      // Lead: take the whole gathered batch and make it durable.
      leader_active_ = true;
      batch_.swap(pending_);
      pending_.clear();
      const std::uint64_t batch_end = next_lsn_;
      const std::uint64_t position = end_;
      end_ += batch_.size();
      pending_count_ = 0;
      lock.unlock();
      Error e = write_all(fd_, batch_.data(), batch_.size(), position, path_);
      if (e.empty() && ::fdatasync(fd_) != 0) {
        e = errno_error("fdatasync", path_);
      }
      lock.lock();
      leader_active_ = false;
      ++fsyncs_;
      if (e.empty()) {
        durable_lsn_ = batch_end;
      } else {
        failure_ = e;  // poisoned: nothing more is acknowledged
      }
      cv_.notify_all();
    }
    return {};
  }

  Error drain_pipe(bool sync) {
    if (Error e = check_capacity(end_ + pipe_.size()); !e.empty()) {
      return e;
    }
    if (Error e = write_all(fd_, pipe_.data(), pipe_.size(), end_, path_); !e.empty()) {
      return e;
    }
    end_ += pipe_.size();
    unsynced_ += pipe_.size();
    pipe_.clear();
    if (sync || unsynced_ >= kPipelinedSyncBytes) {
      if (::fdatasync(fd_) != 0) {
        return errno_error("fdatasync", path_);
      }
      unsynced_ = 0;
      std::lock_guard<std::mutex> lock(mu_);
      ++fsyncs_;
    }
    return {};
  }

  int threads_ = 1;
  std::size_t record_bytes_ = 0;
  std::string path_;
  int fd_ = -1;
  std::uint64_t capacity_ = 0;  // bytes of the pre-written file; 0 = grows
  std::uint64_t end_ = 0;       // position of the next record
  std::uint64_t next_lsn_ = 0;
  std::vector<char> one_;
  bool stream_reads_ = false;
  // stream -> LSNs of its records, in version order (stream reads only).
  std::unordered_map<std::string, std::vector<std::uint64_t>> stream_table_;

  // Group commit state, guarded by mu_.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<char> pending_;
  std::vector<char> batch_;
  std::uint64_t pending_count_ = 0;
  std::uint64_t durable_lsn_ = 0;
  bool leader_active_ = false;
  Error failure_;
  std::uint64_t fsyncs_ = 0;

  // Pipelined state (one thread).
  std::vector<char> pipe_;
  std::uint64_t unsynced_ = 0;
};

}  // namespace

std::unique_ptr<Peer> make_raw_peer() { return std::make_unique<RawPeer>(); }

}  // namespace cairn_bench
