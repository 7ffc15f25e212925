// cairn::Log: an append-only, segmented, checksummed event log in one
// directory. This is the public API an application embeds.
//
//   auto log = cairn::Log::open({.directory = "/var/lib/app/events"});
//   cairn::NewEvent e{.type = "Deposited", .data = R"({"amount":100})"};
//   auto r = (*log)->append("account-42", cairn::ExpectedVersion::any(), {&e, 1});
//   // r->first_lsn is durable now (Durability::sync is the default).
//
// Thread safety: every member function may be called from any thread at once.
// Appends from many threads are batched into few writes and fdatasyncs (group
// commit); each is acknowledged only when the batch holding it is durable.
#pragma once

#include <cairn/event.h>
#include <cairn/file_system.h>
#include <cairn/status.h>

#include <climits>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace cairn {

// When an append is acknowledged.
enum class Durability : std::uint8_t {
  sync,   // append() returns after the events are fdatasynced
  async,  // append() returns once the events have LSNs; durable later (wait_durable, callback)
  none,   // never waits for an fdatasync; for tests and caches
};

// How open() treats damage it finds (SPEC.md section 10).
enum class RecoveryMode : std::uint8_t {
  repair_torn_tail,  // zero-fill a provably unacknowledged torn tail; refuse anything else
  strict,            // refuse to open on any anomaly, torn tail included
};

struct LogOptions {
  std::string directory;
  // Create the directory and a new log when it holds no log. Default: true.
  bool create_if_missing = true;
  // Size of each new segment file. Default: 64 MiB. Recorded in each segment
  // header; existing segments keep their size.
  std::uint64_t segment_bytes = 64u << 20;
  // Largest event (type + metadata + data). Default: 1 MiB.
  std::size_t event_bytes_max = 1u << 20;
  // Largest atomic append (one record). Default: 4 MiB.
  std::size_t batch_bytes_max = 4u << 20;
  // Most bytes that may be written but not yet fdatasynced. Default: 16 MiB.
  // Recovery never discards more than this many non-zero bytes as a torn tail.
  std::uint32_t write_window_bytes = 16u << 20;
  // Most batches being written and fdatasynced at once (1..16), by different
  // leaders, so a device that can overlaps their syncs; acknowledged strictly
  // in LSN order, and together within write_window_bytes. Default: 1, the
  // next batch filling meanwhile: on ext4 over virtio, buffered fdatasyncs of
  // one file do not overlap and 2 was slower (decision 0009).
  std::uint32_t batches_in_flight = 1;
  // One offset-index entry per this many bytes of records. Default: 4 KiB.
  std::uint32_t index_interval_bytes = 4096;
  // Memory for sealed segments' indexes (~60 bytes per event with an id,
  // ~25 without, at 200-byte events; LogStats::index_cache_bytes). A sealed
  // index is loaded on first use and kept; beyond this budget the least
  // recently used are dropped and loaded again from their files when next
  // needed. Not counted, and always kept: the tail's index and each sealed
  // segment's id filter (~1.25 bytes per id). A budget below what the reads
  // use costs a file read per dropped index touched: a stream spread over
  // every segment then reads every index file (decision 0015 measures it).
  // 0 (the default): no limit.
  std::size_t index_cache_bytes = 0;
  // Durability of append() calls that do not name one. Default: sync.
  Durability durability = Durability::sync;
  RecoveryMode recovery_mode = RecoveryMode::repair_torn_tail;
  // Backend for the real file system; ignored when file_system is set.
  // Default: posix. Measured on ext4 over virtio with buffered writes +
  // fdatasync, posix was faster than io_uring for every append workload
  // (one writer: p50 68 against 83 us) and for stream reads; io_uring
  // completes each fdatasync on a kernel worker thread (decision 0011).
  // Backend::automatic picks io_uring when it works here.
  io::Backend backend = io::Backend::posix;
  // Forward reads of sealed segments (replays, catch-up subscriptions) go
  // through a read-only mmap of each segment, shared by all readers, instead
  // of copying it with pread: replay 1.3x faster (decision 0013). The cost:
  // an I/O error while reading a mapped page kills the process with SIGBUS
  // instead of returning an io_error. Turn off to get errors as Status.
  // File systems that do not map (the crash model, the fault injector)
  // always read with read_at. Default: true.
  bool map_sealed_segments = true;
  // The file system to use instead of the real one (e.g. the crash model).
  std::shared_ptr<io::FileSystem> file_system;
  // Prepare the next segment file on a background thread once the tail is
  // half full. Default: true. Crash tests turn it off so that the sequence
  // of file operations depends only on the workload (replayable by seed).
  bool prepare_segments_in_background = true;
  // Receives one-line notices (backend fallback, recovery actions). Default: none.
  std::function<void(std::string_view)> on_notice;
};

// Optimistic concurrency for appends to a stream.
class ExpectedVersion {
 public:
  static ExpectedVersion any() { return ExpectedVersion(kAny); }
  static ExpectedVersion no_stream() { return ExpectedVersion(kNoStream); }
  static ExpectedVersion stream_exists() { return ExpectedVersion(kExists); }
  // The stream's last version must be exactly `version`.
  static ExpectedVersion exact(std::uint64_t version) { return ExpectedVersion(version); }

  bool is_any() const { return value_ == kAny; }
  bool is_no_stream() const { return value_ == kNoStream; }
  bool is_stream_exists() const { return value_ == kExists; }
  bool is_exact() const { return value_ < kExists; }
  std::uint64_t exact_version() const { return value_; }
  std::string to_string() const;

 private:
  static constexpr std::uint64_t kAny = ~0ull;
  static constexpr std::uint64_t kNoStream = ~0ull - 1;
  static constexpr std::uint64_t kExists = ~0ull - 2;
  explicit ExpectedVersion(std::uint64_t v) : value_(v) {}
  std::uint64_t value_;
};

struct AppendResult {
  std::uint64_t first_lsn = 0;
  std::uint64_t first_version = 0;  // stream version of the first event
  std::uint32_t count = 0;
  std::uint64_t end_lsn() const { return first_lsn + count; }
};

// Forward reader over the global log, in LSN order. It sees durable events,
// and events appended with Durability::none once they are written (those may
// vanish in a crash: that is what none means).
class LogReader {
 public:
  virtual ~LogReader() = default;
  // Fills `out` with the next event and returns true; false at the end of the
  // durable log; an error on damage (never a damaged event).
  virtual Result<bool> next(EventView& out) = 0;

  // Fills the front of `out` (not empty) with the next events and returns
  // how many: at least one while events remain, 0 at the end of the durable log, an error
  // on damage (the events before the damage come first, in an earlier call).
  // All the views stay valid until the next call of next() or next_many():
  // the same contract as next(), for up to out.size() events at a time. A
  // replay that hands out events in bulk skips the per-event call and the
  // reader's per-call checks (bench/RESULTS.md, session 9). The global
  // forward reader (read_from) fills up to out.size() events, stopping early
  // only where it must move to other bytes (a new segment, a new buffer);
  // the other readers return one event per call.
  virtual Result<std::size_t> next_many(std::span<EventView> out);
};

enum class Direction : std::uint8_t { forward, backward };

// ReadOptions::from_lsn / from_version for backward reads: start at the end
// (the last readable event, or the stream's head).
inline constexpr std::uint64_t kFromEnd = ~0ull;

// What to read. Global reads walk the log by LSN; stream reads (stream set)
// walk one stream by version. Every read sees only durable events (plus
// events appended with Durability::none once written).
struct ReadOptions {
  // Global reads: the first LSN (forward) or the last LSN (backward; set
  // kFromEnd to start from the last readable event).
  std::uint64_t from_lsn = 0;
  // Stream reads: the stream, and the first version (forward) or the last
  // version (backward; kFromEnd = from the stream's head).
  std::string stream;
  std::uint64_t from_version = 0;
  Direction direction = Direction::forward;
  std::uint64_t limit = ~0ull;  // at most this many events
  // "As of" reads: only events with LSN < until_lsn, and recorded at or
  // before until_time_ns.
  std::uint64_t until_lsn = ~0ull;
  std::int64_t until_time_ns = INT64_MAX;
  // Filters on global reads: stream-name prefix (a category such as
  // "account-") and exact event type. Empty = no filter.
  std::string stream_prefix;
  std::string event_type;
};

// A live subscription: the handler is called for every matching event in
// LSN order, first the history from the start point (catch-up), then new
// events as they become durable, with no gap and no duplicate at the switch.
// The handler runs on the subscription's own thread; a slow handler delays
// only its own subscription. Destroying the object (or stop()) ends it.
class Subscription {
 public:
  virtual ~Subscription() = default;
  // Stops and joins the subscription thread; the handler is not called after.
  virtual void stop() = 0;
  // The LSN after the last event the subscription has passed (handed to the
  // handler, or skipped by its filters). To checkpoint, store it together
  // with the projection's state, in the same transaction of the
  // application's store; resume with SubscribeOptions::from_lsn = it (and
  // the same filters; from_version is only for the first start).
  virtual std::uint64_t position() const = 0;
  // OK while running; the error that ended it otherwise (e.g. corruption).
  virtual Status status() const = 0;
};

struct SubscribeOptions {
  std::uint64_t from_lsn = 0;
  std::string stream;  // only this stream (empty = all)
  // With `stream` set: start at this version of the stream instead of an
  // LSN (from_lsn must then be 0), delivering the stream's events with
  // version >= from_version. A version not written yet is waited for. The
  // start is found through the stream index; the catch-up then reads the
  // global log from there (events of other streams are skipped, not handed
  // over).
  std::optional<std::uint64_t> from_version;
  std::string stream_prefix;  // only streams with this prefix
  std::string event_type;     // only this type
};

// Called with each event; return false to end the subscription.
using EventHandler = std::function<bool(const EventView&)>;

struct LogStats {
  std::uint64_t next_lsn = 0;
  std::uint64_t durable_lsn = 0;
  std::uint64_t segment_count = 0;
  std::uint64_t stream_count = 0;
  std::uint64_t fsync_count = 0;        // fdatasyncs issued by the committer
  std::uint64_t batch_count = 0;        // write batches made durable
  std::uint64_t bytes_written = 0;      // record bytes written since open
  std::uint64_t index_cache_bytes = 0;  // sealed segments' indexes in memory
  std::uint64_t index_loads = 0;        // sealed indexes loaded (or rebuilt) since open
  std::uint64_t index_evictions = 0;    // dropped by the index cache since open
  std::string backend;
};

class Log {
 public:
  virtual ~Log() = default;

  // Opens (and recovers) or creates the log in options.directory. Fails with
  // busy if another process has it open, corruption if acknowledged data is
  // damaged, invalid_argument for bad options or a directory that is not a
  // Cairn log.
  static Result<std::unique_ptr<Log>> open(const LogOptions& options);

  // Appends `events` to `stream` as one atomic record: after a crash all of
  // them are there or none. Returns wrong_expected_version (writing nothing)
  // when `expected` does not hold; poisoned after a failed write or fsync.
  virtual Result<AppendResult> append(std::string_view stream, ExpectedVersion expected,
                                      std::span<const NewEvent> events, Durability durability) = 0;
  Result<AppendResult> append(std::string_view stream, ExpectedVersion expected,
                              std::span<const NewEvent> events);

  // Waits until every LSN below `lsn_end` is durable, or the log is poisoned.
  virtual Status wait_durable(std::uint64_t lsn_end) = 0;
  // Every LSN below this value is durable.
  virtual std::uint64_t durable_lsn() const = 0;
  // The LSN the next appended event will get.
  virtual std::uint64_t next_lsn() const = 0;
  // The version the next event of `stream` will get (0 for a new stream).
  // Found in memory, or for a stream untouched since open in the segment
  // indexes (which may read an index file, hence a Result).
  virtual Result<std::uint64_t> next_version(std::string_view stream) = 0;

  virtual Result<std::unique_ptr<LogReader>> read_from(std::uint64_t lsn) = 0;
  // General reads: streams forward or backward, "as of" an LSN or a time,
  // filters by category and type (see ReadOptions).
  virtual Result<std::unique_ptr<LogReader>> read(const ReadOptions& options) = 0;
  // The first LSN whose event was recorded after `time_ns` (the readable end
  // if none): "the log as of time T" is every LSN below it.
  virtual Result<std::uint64_t> lsn_after_time(std::int64_t time_ns) = 0;
  virtual Result<std::unique_ptr<Subscription>> subscribe(const SubscribeOptions& options,
                                                          EventHandler handler) = 0;

  // OK while the log accepts appends; after a failed write, fdatasync or
  // roll, the cause that poisoned it (io_error, no_space, ...). Appends then
  // fail until the log is closed and opened again (SPEC.md 9.5).
  virtual Status poison_cause() const = 0;

  // What open() found and did, one line per action.
  virtual const std::string& recovery_report() const = 0;
  // LogOptions::durability, used by the append() overload without one.
  virtual Durability default_durability() const = 0;
  virtual LogStats stats() const = 0;

  // Makes everything durable, records a clean shutdown and releases the
  // directory. Further calls fail with `closed`. The destructor calls it.
  // A log nothing was appended to since open writes nothing at close: the
  // clean shutdown open found still stands (SPEC.md section 8).
  virtual Status close() = 0;
};

}  // namespace cairn
