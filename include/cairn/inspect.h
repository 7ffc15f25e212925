// cairn::inspect: read-only inspection of a log directory, for operators and
// for the `cairn` tool (dump, verify, stat, read without opening the log).
//
// Everything here is built on the same decoder as the log's reader and
// recovery (format::RecordScanner, via recovery::scan_segment and
// recovery::recover), so a dump, a verify and an open can never disagree
// about what the bytes mean (BRIEF rule 11).
//
// Read-only means read-only: every function except recover(dir, false)
// opens files for reading only and runs recovery as a dry run, so it never
// changes a byte, takes no lock and may run while another process has the log
// open. (Reading a log that is being written shows records as soon as their
// bytes are complete in the file, which can be before they are durable.)
#pragma once

#include <cairn/event.h>
#include <cairn/log.h>
#include <cairn/status.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::inspect {

// What recovery would conclude about a directory or a segment (SPEC.md 10.4).
enum class Verdict : std::uint8_t {
  clean,       // nothing to repair
  torn_tail,   // only a torn tail (or an empty last segment with a bad header), which
               // recovery repairs: nothing acknowledged is lost
  corruption,  // damage to acknowledged data (or to a structure the log needs)
};
const char* verdict_name(Verdict verdict);

struct MetaInfo {
  std::uint32_t format_version = 0;
  std::uint64_t log_id = 0;
  std::int64_t created_time_ns = 0;
};

struct SegmentHeaderInfo {
  std::uint32_t format_version = 0;
  std::uint32_t write_window_bytes = 0;
  std::uint64_t log_id = 0;
  std::uint64_t base_lsn = 0;
  std::uint64_t segment_bytes = 0;
  std::int64_t created_time_ns = 0;
  std::uint32_t index_interval_bytes = 0;
};

// One record that verified. Views and spans point into the dump's buffer and
// are valid only during the visitor call.
struct RecordInfo {
  std::string_view segment;    // file name
  std::uint64_t position = 0;  // of the record header in the segment
  std::uint64_t size = 0;      // header + body + padding
  std::uint64_t lsn = 0;       // batch: first LSN; seal: the segment's end LSN
  std::uint32_t count = 0;     // events (0 for a seal)
  std::string_view kind;       // "batch" or "seal"
  std::uint64_t prior_durable_lsn = 0;
  bool checksum_ok = true;  // header and body checksums verify
  std::uint64_t header_checksum = 0;
  std::uint64_t body_checksum = 0;
  std::uint32_t body_bytes = 0;
  // Batch: its stream, the version of its first event, its events.
  std::string_view stream;
  std::uint64_t first_version = 0;
  std::vector<EventView> events;
  // Seal: what it records, and whether it was checked against the records
  // before it (not possible after a damaged region, see continue_on_error).
  std::uint64_t seal_record_count = 0;
  std::uint64_t seal_event_count = 0;
  std::uint64_t seal_chain = 0;
  std::int64_t sealed_time_ns = 0;
  bool seal_checked = false;
  std::span<const std::byte> bytes;  // the whole record, for --hex
};

// Bytes of a segment that do not decode: from `position` (the first byte the
// scanner could not accept) to `end` (where a later record verifies and
// decoding resumed, or the end of the non-zero bytes).
struct BadRegion {
  std::string segment;
  std::uint64_t position = 0;
  std::uint64_t end = 0;
  std::string reason;  // the scan stop: "bad body checksum", "zero header", ...
  std::string detail;
  // When the header at `position` verifies, its fields (else zero / false).
  bool header_ok = false;
  bool body_ok = false;
  std::uint64_t lsn = 0;
  std::uint32_t count = 0;
  std::uint64_t size = 0;
};

struct SegmentSummary {
  std::string segment;  // file name
  std::string path;
  std::uint64_t file_bytes = 0;
  bool header_ok = false;
  Status header_error;  // why the header did not decode
  SegmentHeaderInfo header;
  std::uint64_t records = 0;  // batch records that verified
  std::uint64_t events = 0;
  std::uint64_t first_lsn = 0;
  std::uint64_t end_lsn = 0;  // one past the last event that verified
  bool sealed = false;
  // How the first scan from the start of the records ended.
  std::string stop;
  std::uint64_t stop_position = 0;
  std::string stop_detail;
  // After the stop: non-zero bytes outside the seal slot end here (= the
  // stop position if none), and this many later records verify.
  std::uint64_t nonzero_end = 0;
  std::uint64_t later_records = 0;
  std::vector<BadRegion> bad_regions;
  // Whether no segment with a higher base LSN sits beside it. Damage in a
  // segment that is not the last is always corruption (SPEC.md 10.3); in
  // the last it may be a torn tail.
  bool last_segment = true;
  // What recovery would decide about this segment.
  Verdict verdict = Verdict::clean;
  std::string verdict_reason;
};

// What recovery would do, from a dry run.
struct RecoveryPreview {
  Verdict verdict = Verdict::clean;
  Status error;  // the refusal (corruption) or failure, naming file and position
  std::vector<std::string> report;
  std::uint64_t next_lsn = 0;
  bool clean_shutdown = false;  // a valid recovery point was found
};

// An index file (<base LSN>.idx, SPEC.md section 13): derived data, rebuilt
// from its segment whenever it is missing or does not match.
enum class IndexState : std::uint8_t {
  not_checked,  // decoded, not compared with its segment
  missing,
  undecodable,
  matches,  // equal, entry for entry, to an index rebuilt from the segment's records
  stale,    // decodes, but differs from the rebuilt index (the log rebuilds it on use)
};
const char* index_state_name(IndexState state);

struct IndexInfo {
  std::string file;     // name of the index file
  std::string segment;  // name of the segment it indexes
  IndexState state = IndexState::not_checked;
  Status error;  // why it does not decode
  std::uint32_t index_interval_bytes = 0;
  std::uint64_t log_id = 0;
  std::uint64_t base_lsn = 0;
  std::uint64_t end_lsn = 0;
  std::uint64_t end_position = 0;
  std::uint64_t chain = 0;
  std::int64_t last_time_ns = 0;
  std::uint64_t sparse_count = 0;
  std::uint64_t stream_count = 0;
  std::uint64_t id_count = 0;
  std::uint64_t bloom_words = 0;
  // The entries, when asked for (dump --index).
  struct Sparse {
    std::uint64_t lsn = 0;
    std::uint64_t position = 0;
    std::int64_t time_ns = 0;
  };
  struct StreamRecord {
    std::uint64_t stream_hash = 0;
    std::uint64_t first_version = 0;
    std::uint64_t lsn = 0;
    std::uint32_t count = 0;
    std::uint64_t position = 0;
  };
  struct Id {
    EventId id;
    std::uint64_t lsn = 0;
  };
  std::vector<Sparse> sparse;
  std::vector<StreamRecord> streams;
  std::vector<Id> ids;
};

struct OtherFile {
  std::string name;
  std::string
      role;  // "lock", "recovery point", "quarantine copy", "leftover tmp", "index", "unknown"
};

class DumpVisitor {
 public:
  virtual ~DumpVisitor() = default;
  virtual void on_meta(const MetaInfo& /*meta*/) {}
  virtual void on_other_file(const OtherFile& /*file*/) {}
  // The header has been read (or failed: see header_ok); records follow.
  virtual void on_segment_start(const SegmentSummary& /*segment*/) {}
  virtual void on_record(const RecordInfo& /*record*/) {}
  virtual void on_bad_region(const BadRegion& /*region*/) {}
  virtual void on_segment_end(const SegmentSummary& /*segment*/) {}
  // With DumpOptions::index: the segment's index file, after the segment.
  virtual void on_index(const IndexInfo& /*index*/) {}
  // Directory dumps end with what recovery would do.
  virtual void on_recovery_preview(const RecoveryPreview& /*preview*/) {}
};

struct DumpOptions {
  // Decode past damage: after a damaged region, find the next aligned record
  // whose header and body verify and continue there, reporting each region.
  bool continue_on_error = false;
  // Visit every record (off: headers and summaries only).
  bool records = true;
  // Visit each segment's index file with its entries, checked against the
  // segment.
  bool index = false;
};

// Dumps one segment file. Returns the summary, or an error when the file
// cannot be read. Damage is not an error here: it is in the summary.
Result<SegmentSummary> dump_segment(const std::string& path, const DumpOptions& options,
                                    DumpVisitor& visitor);

// Dumps a log directory: the meta file, every segment, the other files, and
// what recovery would do. Returns that preview.
Result<RecoveryPreview> dump_directory(const std::string& directory, const DumpOptions& options,
                                       DumpVisitor& visitor);

// Dumps one index file (with its entries), checked against the segment
// beside it when there is one. Returns what was found; an index file that
// does not decode is in the result (state undecodable), not an error.
Result<IndexInfo> dump_index_file(const std::string& path, DumpVisitor& visitor);

// Decodes a meta file on its own.
Result<MetaInfo> read_meta_file(const std::string& path);

// A saved log-wide filter file (derived data): ids.filter (SPEC.md 13.1:
// one entry per level) or streams.filter (13.2: one entry per segment).
struct FilterFileInfo {
  std::string kind;  // "id filter" or "stream filters"
  std::uint64_t log_id = 0;
  std::uint64_t covered_segments = 0;
  std::uint64_t covered_end_lsn = 0;
  std::uint64_t file_bytes = 0;
  struct Level {
    std::uint64_t capacity = 0, keys = 0, words = 0;
  };
  std::vector<Level> levels;  // ids.filter
  struct SegmentFilter {
    std::uint64_t base_lsn = 0, end_lsn = 0, chain = 0, words = 0;
  };
  std::vector<SegmentFilter> segments;  // streams.filter
  // streams.filter: why its frames end before the file does ("" if they
  // do not), and the byte where they do. The engine uses the frames before.
  std::string stopped;
  std::uint64_t stopped_at = 0;
};
// Decodes one, chosen by its name; a file that does not decode is an error
// naming the file (corruption, or invalid_argument for another version).
Result<FilterFileInfo> read_filter_file(const std::string& path);

// Whether `path` names a directory (true) or some other file (false), through
// the I/O seam; not_found when it does not exist.
Result<bool> is_directory(const std::string& path);

// --- verify -------------------------------------------------------------------

struct VerifyProgress {
  std::uint64_t segments_done = 0;
  std::uint64_t segments_total = 0;
};

struct VerifySummary {
  Verdict verdict = Verdict::clean;
  Status problem;                   // for corruption: the refusal, naming file and position
  std::vector<std::string> report;  // the recovery dry run's report
  std::uint64_t segments = 0;
  std::uint64_t events = 0;  // events recovery keeps (up to the damage, for corruption)
  std::uint64_t streams = 0;
  std::uint64_t file_bytes = 0;    // sum of segment file sizes
  std::uint64_t record_bytes = 0;  // bytes of records that verified, framing included
  std::optional<std::int64_t> first_time_ns;
  std::optional<std::int64_t> last_time_ns;
  std::uint64_t next_lsn = 0;
  // One per segment whose header decodes, without entries. Indexes are
  // derived data: their state does not change the verdict.
  std::vector<IndexInfo> indexes;
  // With corruption, every segment before the last that does not verify up
  // to its seal, "path:position: why" (recovery stops at the first; these
  // say whether there is more), in order.
  std::vector<std::string> damaged_segments;
  // ids.filter / streams.filter that do not decode, or whose frames stop
  // early: "name: why". Derived data (the engine ignores them and rebuilds
  // from the indexes): no change to the verdict.
  std::vector<std::string> derived_problems;
};

// Checks every header, record and seal of the log in `directory` (recovery
// dry run with every segment scanned) and summarises it. Errors are only for
// logs that cannot be examined at all (I/O error, not a log); damage is in
// the summary.
Result<VerifySummary> verify(const std::string& directory,
                             const std::function<void(const VerifyProgress&)>& progress = {});

// --- recover ------------------------------------------------------------------

// Runs recovery and returns its report. With dry_run nothing is changed;
// without, the log is opened as Log::open would (taking its lock: busy if
// another process has it) and closed again.
Result<std::vector<std::string>> recover(const std::string& directory, bool dry_run);

// --- stat ---------------------------------------------------------------------

struct SegmentStat {
  std::string name;
  std::uint64_t file_bytes = 0;
  std::uint64_t base_lsn = 0;
  std::uint64_t end_lsn = 0;
  bool sealed = false;
  // Its index file: missing, undecodable, stale, or not_checked (it decodes
  // and covers the segment's recovered end; entries are checked by verify).
  IndexState index = IndexState::missing;
};

struct StatInfo {
  MetaInfo meta;
  std::vector<SegmentStat> segments;
  std::uint64_t file_bytes = 0;
  std::uint64_t event_count = 0;
  std::uint64_t stream_count = 0;
  std::uint64_t durable_lsn = 0;        // the next LSN after recovery: every LSN below is durable
  bool recovery_point_present = false;  // the last shutdown was clean
  bool torn_tail = false;               // recovery would zero-fill a torn tail
  std::string index_state;              // a one-line summary of the segments' index files
  std::vector<OtherFile> other_files;
  std::vector<std::string> report;
  // The first damage (corruption: file and position), if any. Found while
  // reading the events: the counts stop there. Found by recovery, which
  // refuses the log: layout_only is set, and only the meta file, the
  // segment files (name and size; base_lsn from the name, end_lsn 0, not
  // sealed, index not_checked) and the other files are filled in.
  std::optional<Status> damage;
  bool layout_only = false;
};

// Reads the whole log (to count streams). Damage is reported in `damage`,
// with what could be counted before it; other failures (I/O, not a log, no
// such directory) are errors.
Result<StatInfo> stat(const std::string& directory);

// --- reading without opening --------------------------------------------------

// A read-only view of a log directory as recovery would leave it: exactly the
// events recovery would keep (a torn tail is not shown), nothing written.
class Snapshot {
 public:
  virtual ~Snapshot() = default;

  // not_found when the directory holds no log; corruption when recovery would
  // refuse to open it.
  static Result<std::unique_ptr<Snapshot>> open(const std::string& directory);

  // One past the last event recovery would keep.
  virtual std::uint64_t next_lsn() const = 0;
  virtual bool torn_tail() const = 0;
  virtual const std::vector<std::string>& report() const = 0;
  // Events in LSN order from `lsn`; on damage an error (never a damaged
  // event). The reader must not outlive the snapshot.
  virtual std::unique_ptr<LogReader> read_from(std::uint64_t lsn) = 0;
  // The events of one stream, found through the segment indexes as the log
  // finds them (SPEC.md section 13): version >= from_version forward, or <=
  // from_version backward (kFromEnd: from the stream's head), below
  // next_lsn(). An index file that is missing, stale or damaged is rebuilt
  // in memory and named in report(); nothing is written. The reader sees
  // the snapshot as it is now (not events a later refresh() finds) and must
  // not outlive the snapshot.
  virtual Result<std::unique_ptr<LogReader>> read_stream(const std::string& stream,
                                                         std::uint64_t from_version,
                                                         Direction direction) = 0;
  // Looks at the directory again; readers then see events appended since.
  virtual Status refresh() = 0;
};

}  // namespace cairn::inspect
