// The write path: appenders encode their records into the fill buffer under a
// short lock and get their LSNs at once; a leader (a waiting appender, or the
// background committer thread when nobody waits) takes the buffer as a batch,
// stamps each record with the durable LSN, writes the batch and makes it
// durable with one write_and_sync (linked writes + fdatasync on io_uring),
// then publishes the new durable LSN and wakes the waiters. Appenders fill
// the next buffer while earlier batches are being synced, and up to
// batches_in_flight batches are written and synced at once, by different
// leaders, so that the device overlaps their fdatasyncs; they are published
// strictly in LSN order, whatever order they complete in. Together they
// never exceed the write window. A batch that rolls the segment or skips the
// fdatasync (Durability::none) is alone in flight: a seal must not become
// durable before the records it covers, and an unsynced batch relies on the
// next batch's fdatasync, which must start after its writes ended.
//
// Invariants, asserted on every update:
//   durable_lsn <= readable_lsn <= next_lsn (LSNs), and the fill buffer never
//   holds more than write_window_bytes (a batch never exceeds the window).
// Acknowledgement order equals LSN order: a batch is published only after
// every batch before it.
//
// A failed write, fdatasync or segment roll poisons the committer: nothing in
// that batch or after it is acknowledged, every waiter gets the original
// cause, and every later append fails with Errc::poisoned until the log is
// reopened. An fdatasync is never retried (BRIEF rule 2).
#pragma once

#include <cairn/log.h>
#include <cairn/status.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/index_store.h"
#include "engine/segment.h"
#include "engine/segment_index.h"
#include "engine/segment_set.h"
#include "engine/segment_store.h"
#include "format/scanner.h"

namespace cairn::engine {

struct CommitterConfig {
  std::uint64_t log_id = 0;
  std::uint64_t segment_bytes = 0;
  std::uint32_t write_window_bytes = 0;
  std::uint32_t index_interval_bytes = 0;
  std::size_t event_bytes_max = 0;
  std::size_t batch_bytes_max = 0;
  bool prepare_in_background = true;
  std::size_t batches_in_flight = 1;
};

// Where the log ends when the committer starts.
struct TailState {
  std::shared_ptr<Segment> tail;  // unsealed, durable, registered in the set
  format::ScanState end;          // next record position, next LSN, chain, records
  std::int64_t last_time_ns = 0;
};

struct CommitterStats {
  std::uint64_t fsync_count = 0;
  std::uint64_t batch_count = 0;
  std::uint64_t bytes_written = 0;
};

class GroupCommitter {
 public:
  // Finds the next version of a stream that no append since open has
  // touched, from the segment indexes (I/O; called without the lock).
  using HeadResolver = std::function<Result<std::uint64_t>(std::string_view stream)>;
  // Idempotent appends (see append()): where an event id already is in the
  // segments sealed before this call (I/O; without the lock), and the events
  // an earlier append wrote from an LSN, to compare a retry with.
  struct IdHooks {
    std::function<Result<std::optional<std::uint64_t>>(const EventId&, std::size_t* checked)>
        find_sealed;
    std::function<Result<std::vector<Event>>(std::uint64_t lsn, std::size_t count)> read_events;
  };

  GroupCommitter(SegmentStore& store, SegmentSet& segments, IndexStore& indexes,
                 const CommitterConfig& config, TailState tail, HeadResolver resolve_head,
                 IdHooks id_hooks);
  ~GroupCommitter();
  GroupCommitter(const GroupCommitter&) = delete;
  GroupCommitter& operator=(const GroupCommitter&) = delete;

  // Runs once, under the committer's lock, before the first append that
  // will write anything (after its checks; never after shut_down()). A
  // failure poisons the log: the log uses it to remove the recovery point,
  // and a removal that may have half happened is not retried (SPEC.md 8).
  // Set before the first append.
  void set_before_first_write(std::function<Status()> hook) {
    before_first_write_ = std::move(hook);
  }
  // True once that hook has succeeded: an append of this session may have
  // written.
  bool first_write_prepared() const;

  Result<AppendResult> append(std::string_view stream, ExpectedVersion expected,
                              std::span<const NewEvent> events, Durability durability);
  Status wait_durable(std::uint64_t lsn_end);
  // Blocks until the durable LSN exceeds `lsn`, the log stops or `timeout`
  // passes; returns the durable LSN then. For subscriptions: they wake only
  // after events are durable.
  std::uint64_t wait_durable_beyond(std::uint64_t lsn, std::chrono::milliseconds timeout);
  std::uint64_t durable_lsn() const;
  std::uint64_t readable_lsn() const;
  std::uint64_t next_lsn() const;
  Result<std::uint64_t> next_version(std::string_view stream);
  std::size_t stream_count() const;
  CommitterStats stats() const;
  // OK, or the failure that poisoned the log.
  Status poison_cause() const;

  // Drains, stops the committer and, if nothing failed, makes the tail
  // durable and returns where it ends (for the recovery point).
  Result<format::ScanState> shut_down();
  std::shared_ptr<Segment> tail() const;

 private:
  // One record in a batch, or (roll = true) the point where the segment
  // before it is sealed and the next one begins.
  struct Item {
    std::size_t offset = 0;  // in Batch::bytes
    std::size_t bytes = 0;
    std::uint64_t position = 0;  // in its segment
    std::uint64_t lsn_end = 0;   // one past its last LSN (roll: the new base)
    bool roll = false;
  };
  struct Batch {
    std::vector<std::byte> bytes;
    std::vector<Item> items;
    std::uint64_t lsn_end = 0;
    bool needs_sync = false;
    std::vector<EventId> ids;  // non-zero event ids in the batch
    void clear();
  };

  Status validate(std::string_view stream, std::span<const NewEvent> events,
                  std::size_t* record_bytes) const;
  Status prepare_first_write();
  Status check_expected(std::string_view stream, ExpectedVersion expected,
                        std::uint64_t* next_version) const;
  // Makes sure stream_heads_ holds `stream`, resolving it from the indexes
  // if needed. Called with `lock` held; may release it meanwhile.
  Status ensure_head(std::unique_lock<std::mutex>& lock, std::string_view stream);
  void index_record(std::span<const std::byte> record, std::uint64_t position);
  void flush_index();
  void place(std::size_t record_bytes);
  Status stamp_times(std::span<const NewEvent> events, std::vector<NewEvent>& stamped);
  Result<std::optional<std::uint64_t>> find_id_locked(const EventId& id, std::size_t checked);
  Result<AppendResult> retry_result(std::uint64_t lsn, std::string_view stream,
                                    std::span<const NewEvent> events, Durability durability);
  Status wait_locked(std::unique_lock<std::mutex>& lock, std::uint64_t lsn_end);

  // A batch from its leader taking it to its publication.
  struct Flight {
    Batch batch;
    // Alone in flight: it rolls the segment or is not synced. Its leader
    // runs commit_alone(); the others are prepared under mu_ (prepare())
    // and only written outside it.
    bool alone = false;
    std::vector<io::WriteOp> ops;
    std::shared_ptr<Segment> segment;  // where `ops` go
    std::uint64_t end_position = 0;    // the segment's readable end after it
    bool done = false;
    Status status;
  };

  bool has_work() const;
  bool syncs(const Batch& batch) const;
  bool needs_alone(const Batch& batch) const;
  bool can_lead() const;
  void lead(std::unique_lock<std::mutex>& lock);
  std::unique_ptr<Flight> take_spare_flight();
  void recycle(std::unique_ptr<Flight> flight);
  void run();
  void prepare(Flight& flight);
  void take_record(Batch& batch, const Item& item, std::uint64_t stamp,
                   std::vector<io::WriteOp>& ops);
  void request_next_segment();
  Status commit_alone(Batch& batch);
  Status roll(std::vector<io::WriteOp>& ops, const Item& item, std::uint64_t stamp);
  void publish_done();
  void publish(Flight& flight);

  SegmentStore& store_;
  SegmentSet& segments_;
  IndexStore& indexes_;
  HeadResolver resolve_head_;
  IdHooks id_hooks_;
  std::function<Status()> before_first_write_;
  bool first_write_prepared_ = false;  // under mu_
  const CommitterConfig config_;
  SegmentPreparer preparer_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;     // committer waits for work
  std::condition_variable space_cv_;    // appenders wait for room in the window
  std::condition_variable durable_cv_;  // appenders wait for durability
  // Guarded by mu_:
  Batch fill_;
  // Published flights kept for reuse, so that the fill buffer starts each
  // batch with the capacity of an earlier one: no page faults and no
  // reallocation copies on the append path. At most batches_in_flight are
  // kept, so buffers never outnumber what a full pipeline holds anyway.
  std::vector<std::unique_ptr<Flight>> spare_flights_;
  std::uint64_t next_lsn_;
  std::uint64_t readable_lsn_;
  std::uint64_t durable_lsn_;
  std::uint64_t sync_wanted_ = 0;  // wait_durable() asked for LSNs below this
  std::uint64_t place_base_;       // base LSN of the segment the next record goes to
  std::uint64_t place_position_;   // position of the next record in it
  // Its seal slot: from its own header (a log reopened with another
  // segment_bytes keeps the tail's size), then from the options after a roll.
  std::uint64_t place_seal_position_;
  std::int64_t last_time_ns_;
  // stream -> next version, for every stream appended to or resolved since
  // open (0: resolved, has no events).
  // Looked up by string_view (no std::string per lookup: an append looks
  // its stream up three times under the lock).
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::uint64_t, NameHash, std::equal_to<>> stream_heads_;
  // stamp_times() output, reused under mu_ so an append does not allocate.
  std::vector<NewEvent> stamped_;
  // Event ids appended but not yet in the tail's index (the leader indexes
  // them at commit, then publish() drops them here).
  std::unordered_map<EventId, std::uint64_t, EventIdHash> unindexed_ids_;
  Status poison_;
  bool stopping_ = false;
  bool committer_exited_ = false;  // every background committer has stopped
  std::size_t running_committers_ = 0;
  CommitterStats stats_;
  // Batches taken by leaders and not yet published, in LSN order, and the
  // bytes they hold (with the fill buffer's, within the write window).
  std::deque<std::unique_ptr<Flight>> flights_;
  std::uint64_t flight_bytes_ = 0;
  std::uint64_t unsynced_bytes_ = 0;  // written without fdatasync (Durability::none)

  // The tail and its record chain as of the batches taken so far. Guarded by
  // mu_, except that the leader of a flight that is alone uses them without
  // it (nobody else may take a batch meanwhile: see can_lead()).
  std::shared_ptr<Segment> tail_;
  std::uint64_t chain_;
  std::uint64_t record_count_;
  std::uint64_t prepared_end_;  // position after the last record taken in tail_
  std::vector<format::RecordView> unindexed_records_;  // taken, not yet in tail_'s index

  std::vector<std::thread> threads_;  // the background committers
};

}  // namespace cairn::engine
