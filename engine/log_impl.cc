// cairn::Log: opens a directory (recovering it), owns the segment set, the
// committer and the lock, and hands out readers.
#include <cairn/assert.h>
#include <cairn/log.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>
#include <unordered_map>

#include "engine/group_committer.h"
#include "engine/index_store.h"
#include "engine/options.h"
#include "engine/reader.h"
#include "engine/reads.h"
#include "engine/segment_index.h"
#include "engine/segment_set.h"
#include "engine/segment_store.h"
#include "engine/subscription.h"
#include "format/checksum.h"
#include "format/index_file.h"
#include "format/layout.h"
#include "format/names.h"
#include "format/record.h"
#include "recovery/recover.h"

namespace cairn {
namespace engine {
namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::uint64_t new_log_id() {
  std::random_device device;
  std::uint64_t id =
      (std::uint64_t{device()} << 32) ^ device() ^ static_cast<std::uint64_t>(now_ns());
  return id == 0 ? 1 : id;
}

class LogImpl final : public Log {
 public:
  explicit LogImpl(const LogOptions& options) : options_(options) {}
  ~LogImpl() override { close().ignore(); }

  Status open();
  Status open_locked();

  Result<AppendResult> append(std::string_view stream, ExpectedVersion expected,
                              std::span<const NewEvent> events, Durability durability) override {
    return committer_->append(stream, expected, events, durability);
  }
  Status wait_durable(std::uint64_t lsn_end) override { return committer_->wait_durable(lsn_end); }
  std::uint64_t durable_lsn() const override { return committer_->durable_lsn(); }
  std::uint64_t next_lsn() const override { return committer_->next_lsn(); }
  Result<std::uint64_t> next_version(std::string_view stream) override {
    return committer_->next_version(stream);
  }
  Result<std::unique_ptr<LogReader>> read_from(std::uint64_t lsn) override {
    GroupCommitter* committer = committer_.get();
    return std::unique_ptr<LogReader>(std::make_unique<SegmentReader>(
        segments_, lsn, [committer] { return committer->readable_lsn(); }, indexes_.get()));
  }
  Result<std::unique_ptr<LogReader>> read(const ReadOptions& options) override {
    return make_reader(read_context(), options);
  }
  Result<std::uint64_t> lsn_after_time(std::int64_t time_ns) override {
    return find_lsn_after_time(read_context(), time_ns);
  }
  Result<std::unique_ptr<Subscription>> subscribe(const SubscribeOptions& options,
                                                  EventHandler handler) override {
    return make_subscription(read_context(), options, std::move(handler));
  }
  Status poison_cause() const override { return committer_->poison_cause(); }
  const std::string& recovery_report() const override { return report_; }
  Durability default_durability() const override { return options_.durability; }
  LogStats stats() const override;
  Status close() override;

 private:
  Status create_new_log();
  Status open_segments(const recovery::RecoveredLog& recovered, TailState& tail);
  Result<std::shared_ptr<Segment>> start_segment(std::uint64_t base_lsn);
  Status open_indexes(const recovery::RecoveredLog& recovered, TailState& tail);
  Result<std::uint64_t> resolve_head(std::string_view stream);
  Result<std::uint64_t> find_head(std::string_view stream);
  void save_stream_filters(std::size_t min_new);
  std::size_t sealed_count() const { return SegmentSet::sealed_prefix(*segments_.view()); }
  Status remove_recovery_point();
  bool unchanged_since_open(const format::ScanState& end, const Segment& tail) const;
  Result<std::string> stream_at(std::uint64_t lsn);
  Result<std::optional<std::uint64_t>> find_sealed_id(const EventId& id, std::size_t* checked);
  Result<std::vector<Event>> read_events(std::uint64_t lsn, std::size_t count);
  void notice(const std::string& line);
  ReadContext read_context() {
    return ReadContext{&segments_, committer_.get(), indexes_.get(), subscriptions_, fs_.get()};
  }

  LogOptions options_;
  std::shared_ptr<io::FileSystem> fs_;
  std::unique_ptr<io::FileLock> lock_;
  std::unique_ptr<SegmentStore> store_;
  std::unique_ptr<IndexStore> indexes_;
  std::shared_ptr<SegmentIndex> scanned_tail_;  // built by recovery's scan of the tail, at open
  // The log's end at open (its tail's base LSN beside it). Stream heads not
  // yet in the committer's map are resolved from the events below
  // open_end_.next_lsn only: later index entries belong to appends since
  // open, which may still be in flight (not readable yet).
  format::ScanState open_end_;
  std::uint64_t open_tail_base_lsn_ = 0;
  // The recovery point is removed before the first append writes, not by
  // open (SPEC.md section 8): a log opened and closed with nothing appended
  // writes nothing. recovery_point_valid_: open used a matching point, which
  // stays true of the log until the committer's first write.
  // tail_index_saved_: the tail's index file on disk is the index open took.
  bool recovery_point_valid_ = false;
  bool tail_index_saved_ = false;
  std::size_t sealed_at_open_ = 0;
  SegmentSet segments_;
  format::MetaRecord meta_;
  std::unique_ptr<GroupCommitter> committer_;
  std::string report_;
  // Live subscriptions, stopped first by close(). Shared with them: a
  // Subscription object may outlive the Log.
  std::shared_ptr<SubscriptionRegistry> subscriptions_ = std::make_shared<SubscriptionRegistry>();
  std::mutex close_mu_;
  bool closed_ = false;
};

void LogImpl::notice(const std::string& line) {
  report_ += line;
  report_ += '\n';
  if (options_.on_notice) {
    options_.on_notice(line);
  }
}

Status LogImpl::open() {
  CAIRN_TRY(validate_options(options_));
  segments_.set_map_sealed(options_.map_sealed_segments);
  if (options_.file_system) {
    fs_ = options_.file_system;
  } else {
    CAIRN_ASSIGN_OR_RETURN(fs_, io::make_file_system(options_.backend));
    if (options_.backend == io::Backend::automatic && fs_->name() != "io_uring") {
      notice(io::backend_choice_reason());
    }
  }
  const std::string& dir = options_.directory;
  CAIRN_ASSIGN_OR_RETURN(bool exists, fs_->exists(dir));
  if (!exists && !options_.create_if_missing) {
    return Status::in_file(Errc::not_found, dir, "no such log directory");
  }
  if (!exists) {
    CAIRN_TRY(fs_->create_dir(dir));
    // The new directory's own name must survive a power loss too.
    CAIRN_TRY(fs_->sync_dir(format::parent_path(dir)));
  }
  const std::string lock_path = format::join_path(dir, format::kLockFileName);
  CAIRN_ASSIGN_OR_RETURN(bool had_lock_file, fs_->exists(lock_path));
  auto lock = fs_->lock(lock_path);
  if (!lock) {
    // ENOTDIR: a file was given as the directory, a usage error.
    return recovery::refuse_non_directory(lock.error(), dir);
  }
  lock_ = std::move(*lock);
  Status opened = open_locked();
  if (!opened.ok() && !had_lock_file) {
    // Leave a directory this open refused (not a log, no log, damage) as
    // it was: without the lock file it created. Removed while still held.
    fs_->remove(lock_path).ignore();
  }
  return opened;
}

// The rest of open(), under the directory's lock.
Status LogImpl::open_locked() {
  const std::string& dir = options_.directory;
  store_ = std::make_unique<SegmentStore>(fs_, dir);
  recovery::RecoveryOptions ropt;
  ropt.directory = dir;
  ropt.strict = options_.recovery_mode == RecoveryMode::strict;
  // Build the tail's index from recovery's own scan of the tail.
  std::uint64_t scanned_chain = 0;
  ropt.tail_visitor = [&](const format::SegmentHeader& h, const format::RecordView& view) {
    if (view.header.kind != static_cast<std::uint16_t>(format::RecordKind::batch)) {
      return;
    }
    if (!scanned_tail_ || scanned_tail_->base_lsn() != h.base_lsn) {
      scanned_tail_ =
          std::make_shared<SegmentIndex>(h.log_id, h.base_lsn, options_.index_interval_bytes);
      scanned_chain = format::record_seed(h.log_id, h.base_lsn);
    }
    scanned_chain = format::chain_step(scanned_chain, view.header.header_checksum);
    scanned_tail_->add_record(view, scanned_chain);
  };
  CAIRN_ASSIGN_OR_RETURN(recovery::RecoveredLog recovered, recovery::recover(*fs_, ropt));
  for (const auto& line : recovered.report) {
    notice(line);
  }
  if (recovered.empty_directory) {
    if (!options_.create_if_missing) {
      return Status::in_file(Errc::not_found, dir, "directory holds no log");
    }
    CAIRN_TRY(create_new_log());
  } else {
    meta_ = recovered.meta;
  }
  TailState tail;
  CAIRN_TRY(open_segments(recovered, tail));
  if (!recovered.clean_shutdown) {
    // After a process kill the scanned tail may be in the page cache only.
    // Make it durable before the log reports it durable and stamps new
    // records with it as prior_durable_lsn.
    CAIRN_TRY(tail.tail->file->sync_data());
    CAIRN_TRY(fs_->sync_dir(dir));
  }
  CAIRN_TRY(open_indexes(recovered, tail));
  // The recovery point stays until the first append (remove_recovery_point).
  recovery_point_valid_ = recovered.clean_shutdown;
  open_end_ = tail.end;
  sealed_at_open_ = sealed_count();
  open_tail_base_lsn_ = tail.tail->base_lsn();
  CommitterConfig config{meta_.log_id,
                         options_.segment_bytes,
                         options_.write_window_bytes,
                         options_.index_interval_bytes,
                         options_.event_bytes_max,
                         options_.batch_bytes_max,
                         options_.prepare_segments_in_background,
                         options_.batches_in_flight};
  committer_ = std::make_unique<GroupCommitter>(
      *store_, segments_, *indexes_, config, std::move(tail),
      [this](std::string_view stream) { return resolve_head(stream); },
      GroupCommitter::IdHooks{
          [this](const EventId& id, std::size_t* checked) { return find_sealed_id(id, checked); },
          [this](std::uint64_t lsn, std::size_t count) { return read_events(lsn, count); }});
  committer_->set_before_first_write([this] { return remove_recovery_point(); });
  return Status();
}

Status LogImpl::create_new_log() {
  meta_.format_version = format::kFormatVersion;
  meta_.log_id = new_log_id();
  meta_.created_time_ns = now_ns();
  notice("created a new log in " + options_.directory);
  return store_->create_meta(meta_);
}

Result<std::shared_ptr<Segment>> LogImpl::start_segment(std::uint64_t base_lsn) {
  format::SegmentHeader header;
  header.write_window_bytes = options_.write_window_bytes;
  header.log_id = meta_.log_id;
  header.base_lsn = base_lsn;
  header.segment_bytes = options_.segment_bytes;
  header.created_time_ns = now_ns();
  header.index_interval_bytes = options_.index_interval_bytes;
  return store_->create_segment(header, nullptr);
}

Status LogImpl::open_segments(const recovery::RecoveredLog& recovered, TailState& tail) {
  for (const auto& info : recovered.segments) {
    const bool last = &info == &recovered.segments.back();
    CAIRN_ASSIGN_OR_RETURN(auto segment, store_->open_segment(info.name, info.header,
                                                              last ? io::OpenMode::read_write
                                                                   : io::OpenMode::read_only));
    segment->end_lsn = info.end_lsn;
    if (info.sealed) {
      segment->sealed = true;
      segment->readable_end = info.header.segment_bytes;
    } else {
      segment->readable_end = info.end.position;
      tail.tail = segment;
      tail.end = info.end;
    }
    segments_.add(segment);
  }
  if (tail.tail == nullptr) {
    // A new log, or the last segment is sealed (a crash between the seal and
    // the creation of its successor): the tail starts here.
    CAIRN_ASSIGN_OR_RETURN(tail.tail, start_segment(recovered.next_lsn));
    segments_.add(tail.tail);
    tail.end = format::ScanState::segment_start(recovered.next_lsn, tail.tail->seed);
  }
  CAIRN_ASSERT(tail.end.next_lsn == recovered.next_lsn);
  return Status();
}

// Loads (or rebuilds) the tail's index; sealed segments load theirs on
// first use, so open reads no index but the tail's.
Status LogImpl::open_indexes(const recovery::RecoveredLog& recovered, TailState& tail) {
  const std::size_t cache_bytes =
      options_.index_cache_bytes == 0 ? SIZE_MAX : options_.index_cache_bytes;  // 0: no limit
  indexes_ =
      std::make_unique<IndexStore>(*store_, meta_.log_id, options_.index_interval_bytes,
                                   cache_bytes, [this](const std::string& line) { notice(line); });
  for (const auto& segment : segments_.snapshot()) {
    for (const auto& info : recovered.segments) {
      if (info.name == segment->name && info.sealed) {
        segment->end_chain = info.end.chain;
      }
    }
  }
  CAIRN_ASSIGN_OR_RETURN(
      tail.tail->index,
      indexes_->open_tail(*tail.tail, tail.end, std::move(scanned_tail_), &tail_index_saved_));
  tail.last_time_ns = tail.tail->index->last_time_ns();
  auto before = segments_.find(tail.tail->base_lsn() == 0 ? 0 : tail.tail->base_lsn() - 1);
  if (before && before != tail.tail && tail.end.next_lsn == tail.tail->base_lsn()) {
    // An empty tail: times must not run backwards across the roll. (A tail
    // with records has the log's last time itself; loading the previous
    // segment's index for it cost every open an index read.)
    CAIRN_ASSIGN_OR_RETURN(auto index, indexes_->get(*before));
    tail.last_time_ns = std::max(tail.last_time_ns, index->last_time_ns());
  }
  return Status();
}

// The stream name of the event at `lsn` (index entries carry only a hash).
Result<std::string> LogImpl::stream_at(std::uint64_t lsn) {
  SegmentReader reader(
      segments_, lsn, [lsn] { return lsn + 1; }, indexes_.get());
  EventView event;
  CAIRN_ASSIGN_OR_RETURN(bool found, reader.next(event));
  if (!found) {
    return Status::error(Errc::corruption, "index names LSN " + std::to_string(lsn) +
                                               ", which the log does not hold");
  }
  return std::string(event.stream);
}

// Sealed indexes read by one id check or stream-head lookup after which
// the log-wide filters are saved (decisions 0016, 0017): a fill this long
// costs far more than the write.
constexpr std::size_t kSaveFiltersAfter = 8;

// Where an event id is in the segments sealed now, newest first; *checked
// is how many leading segments were searched (the caller searches the rest
// under its lock).

Result<std::optional<std::uint64_t>> LogImpl::find_sealed_id(const EventId& id,
                                                             std::size_t* checked) {
  const auto view = segments_.view();
  const SegmentSet::Segments& segments = *view;
  const std::size_t sealed = SegmentSet::sealed_prefix(segments);
  *checked = sealed;
  const std::uint64_t hash = format::id_hash(id);
  // The filter over the sealed segments' ids: brought up to date first (on
  // the first check after open from the saved filter, then from the index
  // of every sealed segment it does not cover, read once and not kept;
  // rolls extend it after that), then asked once.
  SealedIdFilter& filter = indexes_->id_filter();
  if (filter.covered() < sealed) {
    indexes_->load_id_filter(segments, sealed);  // the saved filter, once
    const std::size_t from = filter.covered();
    for (std::size_t next = from; next < sealed; next = filter.covered()) {
      CAIRN_ASSIGN_OR_RETURN(auto index, indexes_->peek(*segments[next]));
      filter.add(next, *index);
    }
    // A long fill is saved at once, so that a crash before the next clean
    // close does not make the next open read all those indexes again.
    if (filter.covered() >= from + kSaveFiltersAfter) {
      if (Status s = indexes_->save_id_filter(segments_); !s.ok()) {
        notice("could not save the id filter (filled again at next open): " + s.to_string());
      }
      // The fill gave every sealed segment its stream filter too. The file
      // is read first (cheap next to the fill), so that the save appends
      // to it instead of writing it whole.
      indexes_->load_stream_filters(segments_);
      save_stream_filters(kSaveFiltersAfter);
    }
  }
  if (!filter.may_contain(hash)) {
    return std::optional<std::uint64_t>();
  }
  // A positive (a retry, or ~1% false positives): the segments whose own id
  // filter may hold it, newest first. Their filters outlive the index cache
  // (every sealed segment has one once the log-wide filter covers it), so
  // a false positive loads no index.
  for (std::size_t i = sealed; i-- > 0;) {
    if (auto bloom = IndexStore::id_bloom(*segments[i]);
        bloom && !format::bloom_may_contain(*bloom, hash)) {
      continue;
    }
    CAIRN_ASSIGN_OR_RETURN(auto index, indexes_->get(*segments[i]));
    if (auto lsn = index->find_id(id, hash)) {
      return std::optional<std::uint64_t>(*lsn);
    }
  }
  return std::optional<std::uint64_t>();
}

Result<std::vector<Event>> LogImpl::read_events(std::uint64_t lsn, std::size_t count) {
  GroupCommitter* committer = committer_.get();
  SegmentReader reader(
      segments_, lsn, [committer] { return committer->readable_lsn(); }, indexes_.get());
  std::vector<Event> out;
  EventView event;
  while (out.size() < count) {
    CAIRN_ASSIGN_OR_RETURN(bool more, reader.next(event));
    if (!more) {
      break;
    }
    out.push_back(Event::from_view(event));
  }
  return out;
}

// The next version of a stream as it was at open, newest segment first:
// the last record of the stream (by hash, its name checked against the log)
// gives its head. The committer calls this only for streams no append since
// open has touched, without its lock; records at or after open_end_.next_lsn are
// skipped because they may not be readable yet (a racing append to the
// stream wins in the committer anyway).
Result<std::uint64_t> LogImpl::resolve_head(std::string_view stream) {
  indexes_->load_stream_filters(segments_);  // the saved filters, once
  const std::uint64_t loads_before = indexes_->loads();
  auto head = find_head(stream);
  // A lookup that had to read many indexes (no saved filters, or segments
  // sealed since) saves their filters at once, as the id filter is saved
  // after a long fill: a crash before the next clean close then does not
  // make the next open read them all again.
  if (head && indexes_->loads() >= loads_before + kSaveFiltersAfter) {
    save_stream_filters(kSaveFiltersAfter);
  }
  return head;
}

// From the first append that writes on, the tail may change, so a crash
// must lead to a scan: the point goes (durably) before anything is written.
// Appends are the only writes to the tail; a roll happens only in one. The
// committer runs this once, under its lock; a failure poisons the log (the
// removal may have half happened, and a directory fsync is not retried).
Status LogImpl::remove_recovery_point() { return store_->remove_recovery_point(); }

// True when the log is exactly as open found it, with a recovery point on
// disk that says so: no append has run, so nothing was written.
bool LogImpl::unchanged_since_open(const format::ScanState& end, const Segment& tail) const {
  if (committer_->first_write_prepared() || !recovery_point_valid_) {
    return false;
  }
  // Appends are the only writers, and the first that writes removes it.
  CAIRN_ASSERT(tail.base_lsn() == open_tail_base_lsn_ && end.position == open_end_.position &&
               end.next_lsn == open_end_.next_lsn && end.chain == open_end_.chain &&
               end.record_count == open_end_.record_count);
  return true;
}

void LogImpl::save_stream_filters(std::size_t min_new) {
  if (Status s = indexes_->save_stream_filters(segments_, min_new); !s.ok()) {
    notice("could not save the stream filters (read from the indexes at next open): " +
           s.to_string());
  }
}

Result<std::uint64_t> LogImpl::find_head(std::string_view stream) {
  const std::uint64_t hash = format::stream_hash(stream);
  auto segments = segments_.snapshot();
  for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
    Segment& segment = **it;
    if (segment.base_lsn() >= open_end_.next_lsn || !IndexStore::may_hold_stream(segment, hash)) {
      continue;
    }
    std::shared_ptr<SegmentIndex> index;
    if (segment.sealed) {
      CAIRN_ASSIGN_OR_RETURN(index, indexes_->get(segment));
    } else {
      std::lock_guard lock(segment.index_mu);
      index = segment.index;
    }
    auto records = index->stream_records(hash);
    for (auto r = records.rbegin(); r != records.rend(); ++r) {
      const std::uint64_t lsn = segment.base_lsn() + r->relative_lsn;
      if (lsn >= open_end_.next_lsn) {
        continue;
      }
      CAIRN_ASSIGN_OR_RETURN(std::string name, stream_at(lsn));
      if (name == stream) {
        return r->first_version + r->count;
      }
    }
  }
  return std::uint64_t{0};
}

LogStats LogImpl::stats() const {
  LogStats s;
  s.next_lsn = committer_->next_lsn();
  s.durable_lsn = committer_->durable_lsn();
  s.segment_count = segments_.size();
  s.stream_count = committer_->stream_count();
  const CommitterStats c = committer_->stats();
  s.fsync_count = c.fsync_count;
  s.batch_count = c.batch_count;
  s.bytes_written = c.bytes_written;
  s.backend = fs_->name();
  const IndexStore::CacheStats cache = indexes_->cache_stats();
  s.index_cache_bytes = cache.bytes;
  s.index_loads = cache.loads;
  s.index_evictions = cache.evictions;
  return s;
}

Status LogImpl::close() {
  std::lock_guard guard(close_mu_);
  if (closed_) {
    return Status();
  }
  closed_ = true;
  // Subscription threads read the segments and wait on the committer.
  subscriptions_->close();
  Status status;
  if (committer_) {
    auto end = committer_->shut_down();
    if (end) {
      const auto tail = committer_->tail();
      const bool unchanged = unchanged_since_open(*end, *tail);
      if (!(unchanged && tail_index_saved_)) {
        if (Status s = indexes_->write(*tail, *tail->index); !s.ok()) {
          notice("could not write the tail's index (rebuilt at next open): " + s.to_string());
        }
      }
      if (Status s = indexes_->save_id_filter(segments_); !s.ok()) {
        notice("could not save the id filter (filled again at next open): " + s.to_string());
      }
      // A session that never read streams.filter saves it only if it sealed
      // segments (then it reads the file to append to it): the filters some
      // reads left in memory are no reason to write the file whole again.
      if (sealed_count() > sealed_at_open_) {
        indexes_->load_stream_filters(segments_);
      }
      if (indexes_->stream_filters_loaded()) {
        save_stream_filters(1);
      }
      if (unchanged) {
        // The recovery point open found still describes the log.
        lock_.reset();
        return Status();
      }
      format::RecoveryPoint point;
      point.log_id = meta_.log_id;
      point.tail_base_lsn = tail->base_lsn();
      point.tail_end_position = end->position;
      point.next_lsn = end->next_lsn;
      point.tail_chain = end->chain;
      point.tail_record_count = end->record_count;
      status = store_->write_recovery_point(point);
    } else {
      status = end.error();
    }
  }
  lock_.reset();
  return status;
}

}  // namespace
}  // namespace engine

Result<std::unique_ptr<Log>> Log::open(const LogOptions& options) {
  auto log = std::make_unique<engine::LogImpl>(options);
  CAIRN_TRY(log->open());
  return std::unique_ptr<Log>(std::move(log));
}

Result<AppendResult> Log::append(std::string_view stream, ExpectedVersion expected,
                                 std::span<const NewEvent> events) {
  return append(stream, expected, events, default_durability());
}

}  // namespace cairn
