// The common interface every system in the comparison harness implements:
// Cairn, the raw physical reference, SQLite, RocksDB and LMDB each do the same
// event-store job (append events to named streams, make them durable, read
// the whole log back in order) through their own real library.
//
// bench/ may include only the public <cairn/...> headers and the peers' own
// libraries (BRIEF.md section 4); this header includes neither.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace cairn_bench {

// Empty means success; otherwise a one-line description of the failure.
using Error = std::string;

// The event type every system stores with each event (SQLite and Cairn keep
// it in a column / field, RocksDB and LMDB in the value).
inline constexpr std::string_view kEventType = "Deposited";

struct PeerOptions {
  // A fresh, empty directory that belongs to this peer alone.
  std::string directory;
  // Threads that will call append(); thread indexes are 0..threads-1.
  int threads = 1;
  // Upper bound on the events this instance will be given (sizes LMDB's map
  // and the raw reference's pre-written file).
  std::uint64_t capacity_events = 0;
  // The raw reference writes (and fsyncs) every block of its file before the
  // measurement, so appends overwrite written blocks (BRIEF.md section 4).
  bool prewrite = false;
  // Bytes of event data of the workload (200 unless stated).
  std::size_t event_bytes = 200;
  // Longest stream name the workload uses (sizes raw records).
  std::size_t stream_bytes_max = 16;
  // Cairn only: LogOptions::segment_bytes (0 = Cairn's default, 64 MiB).
  // The open-time workload uses small segments in quick mode.
  std::uint64_t segment_bytes = 0;
  // The workload will call read_stream(): the raw reference then keeps its
  // in-memory stream -> records table (built while loading, or by one scan
  // of the file when it opens an existing one).
  bool stream_reads = false;
};

// One event, as the harness hands it over. The views stay valid for the call.
struct EventRef {
  std::string_view stream;
  std::uint64_t version = 0;  // dense per stream, from 0
  std::string_view data;
};

// Receives every event of a replay. Inline so that each peer's read loop pays
// no indirect call per event; it checks that LSNs come back dense and in
// order and touches the data, so no system can skip the bytes.
struct ReplaySink {
  std::uint64_t events = 0;
  std::uint64_t data_bytes = 0;
  std::uint64_t fold = 0;  // a fold of the first and last byte of each event's data
  bool out_of_order = false;

  void on(std::uint64_t lsn, std::string_view data) {
    if (lsn != events) {
      out_of_order = true;
    }
    ++events;
    data_bytes += data.size();
    if (!data.empty()) {
      fold = fold * 31 + static_cast<unsigned char>(data.front()) +
             static_cast<unsigned char>(data.back());
    }
  }
};

// Receives the events of one stream read. Checks that versions come back
// dense from 0 and in order, and touches the data.
struct StreamSink {
  std::uint64_t events = 0;
  std::uint64_t data_bytes = 0;
  std::uint64_t fold = 0;
  bool out_of_order = false;

  void reset() { *this = StreamSink{}; }
  void on(std::uint64_t version, std::string_view data) {
    if (version != events) {
      out_of_order = true;
    }
    ++events;
    data_bytes += data.size();
    if (!data.empty()) {
      fold = fold * 31 + static_cast<unsigned char>(data.front()) +
             static_cast<unsigned char>(data.back());
    }
  }
};

class Peer {
 public:
  virtual ~Peer() = default;

  // Short name used in tables, CSV and --systems: "cairn", "raw", "sqlite", ...
  virtual std::string name() const = 0;
  // Library version and the settings that matter for durability, one line.
  virtual std::string describe() const = 0;
  // True when replay() verifies a checksum of every event's bytes.
  virtual bool replay_verifies_checksums() const = 0;

  virtual Error open(const PeerOptions& options) = 0;

  // Appends one event and returns once it is durable (fdatasync'd), the way
  // each system's users make one append durable. Called from `thread` only,
  // concurrently with other threads' calls.
  virtual Error append(int thread, const EventRef& event) = 0;

  // Appends several events of one stream (dense versions, in order) as one
  // atomic unit, durable on return: one Cairn record, one SQLite
  // transaction, one RocksDB WriteBatch, one LMDB transaction, one raw pwrite.
  virtual Error append_many(int thread, std::span<const EventRef> events) = 0;

  // Open-loop pipelined appends from one thread: returns as soon as the event
  // is accepted; wait_durable() returns once every accepted event is durable.
  virtual bool supports_pipelined() const { return false; }
  virtual Error append_async(const EventRef& /*event*/) { return "not supported"; }
  virtual Error wait_durable() { return "not supported"; }

  // Bulk load for the replay data set: not durable per event (one transaction
  // / write batch per call where the system has them); flush() makes
  // everything loaded durable.
  virtual Error load(std::span<const EventRef> events) = 0;
  virtual Error flush() = 0;
  // Brings the store to its steady on-disk state before space is measured
  // (SQLite: checkpoint the WAL; RocksDB: flush the memtable). Default: none.
  virtual Error settle() { return {}; }

  // Reads every event in LSN order, verifying what the system verifies.
  virtual Error replay(ReplaySink& sink) = 0;

  // Reads one stream from version 0 to its end, in version order, the way
  // the system's users read an entity's events (through its stream index).
  virtual Error read_stream(std::string_view stream, StreamSink& sink) = 0;

  // Cairn only: segment files of the log (0 = not a segmented log). The
  // open-time workload grows Cairn's log to a segment count and gives the
  // peers the same number of events.
  virtual std::uint64_t segment_count() const { return 0; }
  // Streams the system holds in memory after open (Cairn's stream heads);
  // nullopt where the system has no such notion.
  virtual std::optional<std::uint64_t> stream_count() const { return std::nullopt; }

  // fdatasync/fsync calls made since open(), when known. The default counts
  // the fsync()/fdatasync() calls of the whole process (see fsync_counter.h);
  // the harness runs one system at a time so the count is this system's.
  virtual std::optional<std::uint64_t> fsyncs() const;

  virtual Error close() = 0;
};

std::unique_ptr<Peer> make_raw_peer();
#if CAIRN_BENCH_HAVE_CAIRN
std::unique_ptr<Peer> make_cairn_peer();
std::unique_ptr<Peer> make_cairn_single_flight_peer();  // "cairn-1": batches_in_flight = 1
std::unique_ptr<Peer> make_cairn_uring_peer();          // "cairn-uring": the io_uring backend
#endif
#if CAIRN_BENCH_HAVE_SQLITE
std::unique_ptr<Peer> make_sqlite_peer();
#endif
#if CAIRN_BENCH_HAVE_ROCKSDB
std::unique_ptr<Peer> make_rocksdb_peer();
#endif
#if CAIRN_BENCH_HAVE_LMDB
std::unique_ptr<Peer> make_lmdb_peer();
#endif

// Big-endian encoding, so that byte-wise key order is numeric order.
inline void put_be64(char* out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xFF);
    v >>= 8;
  }
}
inline std::uint64_t get_be64(const char* in) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    v = (v << 8) | static_cast<unsigned char>(in[i]);
  }
  return v;
}

// The value RocksDB and LMDB store under the global key "g|lsn":
// [u16 stream length][stream][u64 version][u16 type length][type][data].
std::string encode_event_value(const EventRef& event);
// Returns the data part of such a value (empty view when malformed).
std::string_view event_value_data(std::string_view value);

}  // namespace cairn_bench
