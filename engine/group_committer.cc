#include "engine/group_committer.h"

#include <cairn/assert.h>

#include <algorithm>
#include <chrono>

#include "format/checksum.h"
#include "format/layout.h"
#include "format/record.h"

namespace cairn::engine {
namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void GroupCommitter::Batch::clear() {
  bytes.clear();
  items.clear();
  lsn_end = 0;
  needs_sync = false;
  ids.clear();
}

GroupCommitter::GroupCommitter(SegmentStore& store, SegmentSet& segments, IndexStore& indexes,
                               const CommitterConfig& config, TailState tail,
                               HeadResolver resolve_head, IdHooks id_hooks)
    : store_(store),
      segments_(segments),
      indexes_(indexes),
      resolve_head_(std::move(resolve_head)),
      id_hooks_(std::move(id_hooks)),
      config_(config),
      preparer_(store, config.segment_bytes, config.prepare_in_background),
      next_lsn_(tail.end.next_lsn),
      readable_lsn_(tail.end.next_lsn),
      durable_lsn_(tail.end.next_lsn),
      place_base_(tail.tail->base_lsn()),
      place_position_(tail.end.position),
      place_seal_position_(tail.tail->seal_position()),
      last_time_ns_(tail.last_time_ns),
      tail_(std::move(tail.tail)),
      chain_(tail.end.chain),
      record_count_(tail.end.record_count),
      prepared_end_(tail.end.position) {
  CAIRN_ASSERT(config_.batches_in_flight >= 1);
  CAIRN_ASSERT(!tail_->sealed);
  CAIRN_ASSERT(place_position_ <= tail_->seal_position());
  // One background committer per batch in flight: when nobody waits (async
  // appends from one thread), each keeps a batch going.
  running_committers_ = config_.batches_in_flight;
  for (std::size_t i = 0; i < config_.batches_in_flight; ++i) {
    threads_.emplace_back([this] { run(); });
  }
}

GroupCommitter::~GroupCommitter() {
  if (!threads_.empty()) {
    shut_down().status().ignore();
  }
}

// --- appenders -------------------------------------------------------------

Status GroupCommitter::validate(std::string_view stream, std::span<const NewEvent> events,
                                std::size_t* record_bytes) const {
  if (stream.empty() || stream.size() > format::kStreamNameBytesMax) {
    return Status::error(Errc::invalid_argument,
                         "stream name must be 1.." + std::to_string(format::kStreamNameBytesMax) +
                             " bytes, got " + std::to_string(stream.size()));
  }
  if (events.empty() || events.size() > format::kBatchEventsMax) {
    return Status::error(Errc::invalid_argument,
                         "an append needs 1.." + std::to_string(format::kBatchEventsMax) +
                             " events, got " + std::to_string(events.size()));
  }
  for (std::size_t i = 0; i < events.size(); ++i) {
    const NewEvent& e = events[i];
    const std::size_t bytes = e.type.size() + e.metadata.size() + e.data.size();
    if (e.type.size() > format::kEventTypeBytesMax) {
      return Status::error(Errc::invalid_argument, "event " + std::to_string(i) +
                                                       ": type longer than " +
                                                       std::to_string(format::kEventTypeBytesMax));
    }
    if (bytes > config_.event_bytes_max) {
      return Status::error(Errc::invalid_argument, "event " + std::to_string(i) + " is " +
                                                       std::to_string(bytes) +
                                                       " bytes; the limit (event_bytes_max) is " +
                                                       std::to_string(config_.event_bytes_max));
    }
  }
  *record_bytes = format::record_bytes(format::batch_body_bytes(stream, events));
  if (*record_bytes > config_.batch_bytes_max) {
    return Status::error(Errc::invalid_argument, "append of " + std::to_string(*record_bytes) +
                                                     " bytes exceeds batch_bytes_max " +
                                                     std::to_string(config_.batch_bytes_max));
  }
  return Status();
}

Status GroupCommitter::check_expected(std::string_view stream, ExpectedVersion expected,
                                      std::uint64_t* next_version) const {
  auto it = stream_heads_.find(stream);
  CAIRN_ASSERT_MSG(it != stream_heads_.end(), "ensure_head() ran first");
  const bool exists = it->second > 0;
  *next_version = it->second;
  bool ok = expected.is_any() || (expected.is_no_stream() && !exists) ||
            (expected.is_stream_exists() && exists) ||
            (expected.is_exact() && exists && it->second == expected.exact_version() + 1);
  if (ok) {
    return Status();
  }
  return Status::error(Errc::wrong_expected_version,
                       "stream '" + std::string(stream) + "': expected " + expected.to_string() +
                           ", actual " +
                           (exists ? "version " + std::to_string(it->second - 1) : "no stream"));
}

// Decides where the next record goes. When it does not fit before the seal
// slot, a roll item ends the current segment; the record starts the next,
// whose base LSN is the next LSN. Runs under mu_.
void GroupCommitter::place(std::size_t record_bytes) {
  if (place_position_ + record_bytes <= place_seal_position_) {
    return;
  }
  fill_.items.push_back(Item{0, 0, 0, next_lsn_, true});
  place_base_ = next_lsn_;
  place_position_ = format::kSegmentHeaderBlockBytes;
  place_seal_position_ = config_.segment_bytes - format::kSealRecordBytes;
  CAIRN_ASSERT_MSG(place_position_ + record_bytes <= place_seal_position_,
                   "segment_bytes was validated to hold one largest record");
}

// Events without a time get the append time. Recorded times never go
// backwards in LSN order, so that "as of time T" has one answer and the time
// index can be searched; an explicit earlier time is refused.
Status GroupCommitter::stamp_times(std::span<const NewEvent> events,
                                   std::vector<NewEvent>& stamped) {
  stamped.assign(events.begin(), events.end());
  std::int64_t last = last_time_ns_;
  const std::int64_t now = std::max(now_ns(), last);
  for (auto& e : stamped) {
    if (e.time_ns == 0) {
      e.time_ns = std::max(now, last);
    } else if (e.time_ns < last) {
      return Status::error(Errc::invalid_argument,
                           "event time " + std::to_string(e.time_ns) +
                               " ns is before the log's last recorded time " +
                               std::to_string(last) + " ns; recorded times never go backwards");
    }
    last = e.time_ns;
  }
  last_time_ns_ = last;
  return Status();
}

// Under mu_: an id appended since the caller's look at the sealed segments:
// not yet indexed, or in the index of a later segment. A segment sealed
// since that look may have had its index dropped by the cache already: it
// is loaded again (rare: the look was moments ago).
Result<std::optional<std::uint64_t>> GroupCommitter::find_id_locked(const EventId& id,
                                                                    std::size_t checked) {
  if (auto it = unindexed_ids_.find(id); it != unindexed_ids_.end()) {
    return std::optional<std::uint64_t>(it->second);
  }
  const auto view = segments_.view();
  const SegmentSet::Segments& segments = *view;
  for (std::size_t i = checked; i < segments.size(); ++i) {
    std::shared_ptr<SegmentIndex> index;
    {
      std::lock_guard index_lock(segments[i]->index_mu);
      index = segments[i]->index;
    }
    if (!index && segments[i]->sealed.load()) {
      CAIRN_ASSIGN_OR_RETURN(index, indexes_.get(*segments[i]));
    }
    if (index) {
      if (auto lsn = index->find_id(id)) {
        return std::optional<std::uint64_t>(lsn);
      }
    }
  }
  return std::optional<std::uint64_t>();
}

// A retried append: its first event id is already in the log at `lsn`. If
// the earlier append wrote the same events, the retry gets its result and
// writes nothing; anything else is refused.
Result<AppendResult> GroupCommitter::retry_result(std::uint64_t lsn, std::string_view stream,
                                                  std::span<const NewEvent> events,
                                                  Durability durability) {
  CAIRN_TRY(wait_durable(lsn + 1));  // the earlier append may still be in flight
  CAIRN_ASSIGN_OR_RETURN(auto original, id_hooks_.read_events(lsn, events.size()));
  bool same = original.size() == events.size();
  for (std::size_t i = 0; same && i < events.size(); ++i) {
    const Event& o = original[i];
    const NewEvent& e = events[i];
    same = o.stream == stream && o.id == e.id && o.type == e.type && o.metadata == e.metadata &&
           o.data == e.data && o.version == original[0].version + i;
  }
  if (!same) {
    return Status::error(Errc::invalid_argument,
                         "event id " + events[0].id.to_hex() + " was already appended at LSN " +
                             std::to_string(lsn) + " with different content");
  }
  AppendResult result{lsn, original[0].version, static_cast<std::uint32_t>(events.size())};
  if (durability == Durability::sync) {
    CAIRN_TRY(wait_durable(result.end_lsn()));
  }
  return result;
}

Result<AppendResult> GroupCommitter::append(std::string_view stream, ExpectedVersion expected,
                                            std::span<const NewEvent> events,
                                            Durability durability) {
  std::size_t record_bytes = 0;
  CAIRN_TRY(validate(stream, events, &record_bytes));
  // Idempotency: an append whose first event id is already in the log is a
  // retry. Sealed segments are searched first, without the lock.
  const EventId* key = events[0].id.is_zero() ? nullptr : &events[0].id;
  std::size_t checked = 0;
  if (key != nullptr) {
    CAIRN_ASSIGN_OR_RETURN(auto found, id_hooks_.find_sealed(*key, &checked));
    if (found) {
      return retry_result(*found, stream, events, durability);
    }
  }
  std::unique_lock lock(mu_);
  // Backpressure: the fill buffer never exceeds the write window.
  space_cv_.wait(lock, [&] {
    return !poison_.ok() || stopping_ || fill_.bytes.empty() ||
           fill_.bytes.size() + record_bytes <= config_.write_window_bytes;
  });
  if (!poison_.ok()) {
    return Status::error(Errc::poisoned,
                         "log is poisoned by an earlier failure: " + poison_.to_string());
  }
  if (stopping_) {
    return Status::error(Errc::closed, "log is closed");
  }
  CAIRN_TRY(ensure_head(lock, stream));
  if (!poison_.ok() || stopping_) {
    return Status::error(stopping_ ? Errc::closed : Errc::poisoned, "log closed or poisoned");
  }
  if (key != nullptr) {
    CAIRN_ASSIGN_OR_RETURN(auto found, find_id_locked(*key, checked));
    if (found) {
      lock.unlock();
      return retry_result(*found, stream, events, durability);
    }
  }
  std::uint64_t first_version = 0;
  CAIRN_TRY(check_expected(stream, expected, &first_version));
  CAIRN_TRY(prepare_first_write());
  CAIRN_TRY(stamp_times(events, stamped_));
  place(record_bytes);
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (!events[i].id.is_zero()) {
      unindexed_ids_.emplace(events[i].id, next_lsn_ + i);
      fill_.ids.push_back(events[i].id);
    }
  }
  const std::size_t offset = fill_.bytes.size();
  fill_.bytes.resize(offset + record_bytes);
  const format::BatchFields fields{format::record_seed(config_.log_id, place_base_), next_lsn_, 0,
                                   stream, first_version};
  format::encode_batch(std::span(fill_.bytes).subspan(offset, record_bytes), fields, stamped_);
  AppendResult result{next_lsn_, first_version, static_cast<std::uint32_t>(events.size())};
  next_lsn_ += events.size();
  fill_.items.push_back(Item{offset, record_bytes, place_position_, next_lsn_, false});
  fill_.lsn_end = next_lsn_;
  fill_.needs_sync = fill_.needs_sync || durability != Durability::none;
  place_position_ += record_bytes;
  stream_heads_.find(stream)->second = first_version + events.size();
  if (durability != Durability::sync) {
    work_cv_.notify_one();  // a sync appender leads its own batch if it can
  }
  if (durability == Durability::sync) {
    CAIRN_TRY(wait_locked(lock, result.end_lsn()));
  }
  return result;
}

// Under mu_: the hook before the first write of this session, once. Its
// failure poisons the log like a failed write (SPEC.md 9.5).
Status GroupCommitter::prepare_first_write() {
  if (first_write_prepared_ || !before_first_write_) {
    return Status();
  }
  Status s = before_first_write_();
  if (!s.ok()) {
    poison_ = s;
    durable_cv_.notify_all();
    space_cv_.notify_all();
    work_cv_.notify_all();
    return s;
  }
  first_write_prepared_ = true;
  return Status();
}

bool GroupCommitter::first_write_prepared() const {
  std::lock_guard lock(mu_);
  return first_write_prepared_;
}

// Waits until `lsn_end` is durable. A waiter does not just sleep: when no
// batch is being committed and there is work, it commits the next batch
// itself (it becomes the leader, as in LevelDB), so a lone sync writer pays
// no thread hand-off on top of its write and fdatasync.
Status GroupCommitter::wait_locked(std::unique_lock<std::mutex>& lock, std::uint64_t lsn_end) {
  while (durable_lsn_ < lsn_end && poison_.ok()) {
    if (can_lead()) {
      lead(lock);
      continue;
    }
    if (committer_exited_ && flights_.empty()) {
      break;
    }
    durable_cv_.wait(lock);
  }
  if (durable_lsn_ >= lsn_end) {
    return Status();
  }
  if (!poison_.ok()) {
    return poison_;
  }
  return Status::error(Errc::closed,
                       "log closed before LSN " + std::to_string(lsn_end - 1) + " became durable");
}

Status GroupCommitter::wait_durable(std::uint64_t lsn_end) {
  std::unique_lock lock(mu_);
  if (lsn_end > next_lsn_) {
    return Status::error(Errc::invalid_argument,
                         "LSN " + std::to_string(lsn_end - 1) + " has not been appended");
  }
  // Events appended with Durability::none are written without an fdatasync.
  // Ask for one: now, if they are written or in the fill buffer; after the
  // batch in flight, if they are in it (see publish()).
  sync_wanted_ = std::max(sync_wanted_, lsn_end);
  if (durable_lsn_ < lsn_end && (lsn_end <= readable_lsn_ || !fill_.items.empty())) {
    fill_.needs_sync = true;
  }
  return wait_locked(lock, lsn_end);
}

std::uint64_t GroupCommitter::wait_durable_beyond(std::uint64_t lsn,
                                                  std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  durable_cv_.wait_for(lock, timeout,
                       [&] { return durable_lsn_ > lsn || stopping_ || !poison_.ok(); });
  return durable_lsn_;
}

std::uint64_t GroupCommitter::durable_lsn() const {
  std::lock_guard lock(mu_);
  return durable_lsn_;
}

std::uint64_t GroupCommitter::readable_lsn() const {
  std::lock_guard lock(mu_);
  return readable_lsn_;
}

std::uint64_t GroupCommitter::next_lsn() const {
  std::lock_guard lock(mu_);
  return next_lsn_;
}

Status GroupCommitter::ensure_head(std::unique_lock<std::mutex>& lock, std::string_view stream) {
  if (stream_heads_.contains(stream)) {
    return Status();
  }
  // Streams appended to since open are in the map, so a miss means the
  // stream's events (if any) are in segments as they were at open: stable,
  // and safe to read without the lock.
  lock.unlock();
  auto next = resolve_head_(stream);
  lock.lock();
  if (!next) {
    return next.error();
  }
  stream_heads_.try_emplace(std::string(stream), *next);  // a racing append wins
  return Status();
}

Result<std::uint64_t> GroupCommitter::next_version(std::string_view stream) {
  std::unique_lock lock(mu_);
  CAIRN_TRY(ensure_head(lock, stream));
  return stream_heads_.find(stream)->second;
}

std::size_t GroupCommitter::stream_count() const {
  std::lock_guard lock(mu_);
  return stream_heads_.size();
}

Status GroupCommitter::poison_cause() const {
  std::lock_guard lock(mu_);
  return poison_;
}

CommitterStats GroupCommitter::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

std::shared_ptr<Segment> GroupCommitter::tail() const {
  std::lock_guard lock(mu_);
  return tail_;
}

// --- the committer thread ----------------------------------------------------

bool GroupCommitter::has_work() const {
  return poison_.ok() && (!fill_.items.empty() || fill_.needs_sync);
}

// Durability::none batches skip the fdatasync, but unsynced bytes must stay
// within the write window, or recovery could not tell a torn tail from
// damage (SPEC.md section 10).
bool GroupCommitter::syncs(const Batch& batch) const {
  return batch.needs_sync || unsynced_bytes_ + batch.bytes.size() > config_.write_window_bytes;
}

bool GroupCommitter::needs_alone(const Batch& batch) const {
  return !syncs(batch) ||
         std::any_of(batch.items.begin(), batch.items.end(), [](const Item& i) { return i.roll; });
}

// Whether a thread may take the fill buffer as a new batch now (under mu_).
bool GroupCommitter::can_lead() const {
  if (!has_work()) {
    return false;
  }
  if (flights_.empty()) {
    return true;
  }
  return flights_.size() < config_.batches_in_flight && !flights_.front()->alone &&
         !needs_alone(fill_) && flight_bytes_ + fill_.bytes.size() <= config_.write_window_bytes;
}

// Takes the fill buffer as one batch and commits it. Called under mu_ by a
// thread for which can_lead() holds (the background committer or a waiting
// appender); returns with mu_ held, after publishing every batch that is
// complete and next in LSN order.
void GroupCommitter::lead(std::unique_lock<std::mutex>& lock) {
  CAIRN_ASSERT(can_lead());
  std::unique_ptr<Flight> owned = take_spare_flight();
  Flight& flight = *owned;
  flight.alone = needs_alone(fill_);
  std::swap(fill_, flight.batch);  // fill_ gets the spare's empty buffers
  fill_.clear();
  flight.batch.needs_sync = syncs(flight.batch);
  flight_bytes_ += flight.batch.bytes.size();
  CAIRN_ASSERT(flight_bytes_ <= config_.write_window_bytes || flights_.empty());
  flights_.push_back(std::move(owned));
  space_cv_.notify_all();
  if (!flight.alone) {
    prepare(flight);
  }
  lock.unlock();
  Status status;
  if (flight.alone) {
    status = commit_alone(flight.batch);
  } else {
    status = flight.segment->file->write_and_sync(flight.ops);
  }
  lock.lock();
  flight.status = std::move(status);
  flight.done = true;
  publish_done();
}

// A flight in its initial state, reusing a published one's buffers when
// there is one. Under mu_.
std::unique_ptr<GroupCommitter::Flight> GroupCommitter::take_spare_flight() {
  if (spare_flights_.empty()) {
    return std::make_unique<Flight>();
  }
  std::unique_ptr<Flight> flight = std::move(spare_flights_.back());
  spare_flights_.pop_back();
  return flight;
}

// Keeps a published flight's buffers (their capacity) for a later batch;
// drops its segment reference. Under mu_.
void GroupCommitter::recycle(std::unique_ptr<Flight> flight) {
  if (spare_flights_.size() >= config_.batches_in_flight) {
    return;
  }
  flight->batch.clear();
  flight->alone = false;
  flight->ops.clear();
  flight->segment.reset();
  flight->end_position = 0;
  flight->done = false;
  flight->status = Status();
  spare_flights_.push_back(std::move(flight));
}

// The background committer: leads batches nobody waits on (async and none
// appends), and drains the buffer at shut-down.
void GroupCommitter::run() {
  std::unique_lock lock(mu_);
  const auto finished = [&] { return stopping_ && flights_.empty() && !has_work(); };
  while (true) {
    work_cv_.wait(lock, [&] { return can_lead() || finished(); });
    if (can_lead()) {
      lead(lock);
      continue;
    }
    if (--running_committers_ == 0) {
      committer_exited_ = true;
    }
    durable_cv_.notify_all();
    return;
  }
}

// Publishes the completed batches at the front of flights_, in LSN order.
void GroupCommitter::publish_done() {
  while (!flights_.empty() && flights_.front()->done) {
    std::unique_ptr<Flight> flight = std::move(flights_.front());
    flights_.pop_front();
    flight_bytes_ -= flight->batch.bytes.size();
    publish(*flight);
    recycle(std::move(flight));
  }
  durable_cv_.notify_all();
  space_cv_.notify_all();
  work_cv_.notify_all();
}

void GroupCommitter::publish(Flight& flight) {
  const Batch& batch = flight.batch;
  if (!flight.status.ok() && poison_.ok()) {
    poison_ = flight.status;
  }
  if (!poison_.ok()) {
    return;  // nothing in or after a failed batch is acknowledged
  }
  if (flight.segment) {  // prepared: its segment's extent moves only now
    if (!batch.items.empty()) {
      flight.segment->end_lsn.store(batch.lsn_end);
    }
    flight.segment->readable_end.store(flight.end_position);
    stats_.fsync_count += 1;
  }
  unsynced_bytes_ = batch.needs_sync ? 0 : unsynced_bytes_ + batch.bytes.size();
  const std::uint64_t end = batch.items.empty() ? readable_lsn_ : batch.lsn_end;
  CAIRN_ASSERT(end >= readable_lsn_);
  readable_lsn_ = end;
  if (batch.needs_sync) {
    durable_lsn_ = readable_lsn_;
  }
  CAIRN_ASSERT(durable_lsn_ <= readable_lsn_ && readable_lsn_ <= next_lsn_);
  for (const EventId& id : batch.ids) {
    unindexed_ids_.erase(id);  // indexed when the batch was taken
  }
  if (durable_lsn_ < sync_wanted_) {
    fill_.needs_sync = true;  // a waiter wants LSNs this batch did not sync
  }
  stats_.batch_count += 1;
  stats_.bytes_written += batch.bytes.size();
}

// Stamps, chains and indexes the records of a batch that shares the flight
// with others, and plans its writes. Under mu_, so batches are prepared in
// LSN order; it only touches memory.
void GroupCommitter::prepare(Flight& flight) {
  Batch& batch = flight.batch;
  // Never overclaims: these LSNs were durable before any byte of the batch
  // was written.
  const std::uint64_t stamp = durable_lsn_;
  for (const Item& item : batch.items) {
    CAIRN_ASSERT(!item.roll);
    take_record(batch, item, stamp, flight.ops);
  }
  flush_index();
  flight.segment = tail_;
  flight.end_position = prepared_end_;
  request_next_segment();
}

// Stamps one record with the durable LSN, extends the chain and the tail's
// index with it, and adds it to the writes. Records are contiguous in the
// buffer and in the file: one write each run.
void GroupCommitter::take_record(Batch& batch, const Item& item, std::uint64_t stamp,
                                 std::vector<io::WriteOp>& ops) {
  CAIRN_ASSERT(item.position == prepared_end_);
  CAIRN_ASSERT(item.position + item.bytes <= tail_->seal_position());
  auto record = std::span(batch.bytes).subspan(item.offset, item.bytes);
  const std::uint64_t checksum = format::restamp_prior_durable(record, tail_->seed, stamp);
  chain_ = format::chain_step(chain_, checksum);
  record_count_ += 1;
  index_record(record, item.position);
  if (!ops.empty() && ops.back().position + ops.back().bytes.size() == item.position &&
      ops.back().bytes.data() + ops.back().bytes.size() == record.data()) {
    ops.back().bytes = {ops.back().bytes.data(), ops.back().bytes.size() + item.bytes};
  } else {
    ops.push_back(io::WriteOp{item.position, record});
  }
  prepared_end_ = item.position + item.bytes;
}

// Once the tail is half full, the next segment is prepared in the
// background. Asked once per batch (it takes the preparer's lock).
void GroupCommitter::request_next_segment() {
  if (prepared_end_ > tail_->header.segment_bytes / 2) {
    preparer_.request();
  }
}

// Writes a batch that is alone in flight: it may roll the segment, and it
// may skip the fdatasync. Runs without mu_; nobody takes another batch
// meanwhile, so it owns tail_, chain_, record_count_ and prepared_end_.
Status GroupCommitter::commit_alone(Batch& batch) {
  const std::uint64_t stamp = durable_lsn();
  std::vector<io::WriteOp> ops;
  for (const Item& item : batch.items) {
    if (item.roll) {
      flush_index();  // the sealed segment's index is complete
      CAIRN_TRY(roll(ops, item, stamp));
      prepared_end_ = format::kSegmentHeaderBlockBytes;
      continue;
    }
    take_record(batch, item, stamp, ops);
  }
  flush_index();
  request_next_segment();
  if (batch.needs_sync) {
    CAIRN_TRY(tail_->file->write_and_sync(ops));
    std::lock_guard lock(mu_);
    stats_.fsync_count += 1;
  } else {
    for (const auto& op : ops) {
      CAIRN_TRY(tail_->file->write_at(op.position, op.bytes));
    }
  }
  tail_->end_lsn.store(batch.items.empty() ? tail_->end_lsn.load() : batch.lsn_end);
  tail_->readable_end.store(prepared_end_);
  return Status();
}

// Records are indexed a batch at a time (one lock of the index per batch);
// take_record() collects them, flush_index() adds them to the tail's index.
void GroupCommitter::index_record(std::span<const std::byte> record, std::uint64_t position) {
  const format::RecordHeader header = format::load_record_header(record.data());
  unindexed_records_.push_back(format::RecordView{
      position, header, record.subspan(format::kRecordHeaderBytes, header.body_bytes),
      record.size()});
}

void GroupCommitter::flush_index() {
  tail_->index->add_records(unindexed_records_, chain_);
  unindexed_records_.clear();
}

// Seals the tail (its records and the seal durable together), then makes
// the next segment durable before any record is written into it.
Status GroupCommitter::roll(std::vector<io::WriteOp>& ops, const Item& item, std::uint64_t stamp) {
  std::array<std::byte, format::kSealRecordBytes> seal_bytes;
  const format::Seal seal{record_count_, item.lsn_end - tail_->base_lsn(), chain_, now_ns()};
  format::encode_seal(seal_bytes, tail_->seed, item.lsn_end, stamp, seal);
  ops.push_back(io::WriteOp{tail_->seal_position(), seal_bytes});
  CAIRN_TRY(tail_->file->write_and_sync(ops));
  ops.clear();
  {
    std::lock_guard lock(mu_);
    stats_.fsync_count += 1;
  }
  tail_->end_chain = chain_;
  tail_->end_lsn.store(item.lsn_end);
  tail_->sealed.store(true);
  tail_->readable_end.store(tail_->header.segment_bytes);
  CAIRN_ASSERT(segments_.last() == tail_);
  if (Status s = indexes_.seal(*tail_, segments_.size() - 1); !s.ok()) {
    // Derived data: the next open rebuilds a missing index.
    s.ignore();
  }
  CAIRN_ASSIGN_OR_RETURN(auto prepared, preparer_.take());
  format::SegmentHeader header = tail_->header;
  header.base_lsn = item.lsn_end;
  header.segment_bytes = config_.segment_bytes;
  header.write_window_bytes = config_.write_window_bytes;
  header.index_interval_bytes = config_.index_interval_bytes;
  header.created_time_ns = now_ns();
  CAIRN_ASSIGN_OR_RETURN(auto next, store_.create_segment(header, std::move(prepared)));
  next->index =
      std::make_shared<SegmentIndex>(config_.log_id, header.base_lsn, config_.index_interval_bytes);
  segments_.add(next);
  {
    std::lock_guard lock(mu_);
    tail_ = next;
  }
  chain_ = tail_->seed;
  record_count_ = 0;
  return Status();
}

Result<format::ScanState> GroupCommitter::shut_down() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& thread : threads_) {
    thread.join();
  }
  threads_.clear();
  preparer_.stop();
  // The committer drained the fill buffer before it stopped (it only stops
  // when nothing is left), unless it was poisoned.
  std::lock_guard lock(mu_);
  durable_cv_.notify_all();
  space_cv_.notify_all();
  if (!poison_.ok()) {
    return poison_;
  }
  if (unsynced_bytes_ > 0) {
    CAIRN_TRY(tail_->file->sync_data());
    unsynced_bytes_ = 0;
    durable_lsn_ = readable_lsn_;
  }
  return format::ScanState{tail_->readable_end.load(), next_lsn_, chain_, record_count_};
}

}  // namespace cairn::engine
