// cairn::inspect (include/cairn/inspect.h): dump, verify, recover, stat and
// read a log directory without opening it for writing. Every byte is decoded
// by the shared scanner: recovery::scan_segment / recovery::recover for whole
// segments, format::RecordScanner to resume after damage, and the engine's
// SegmentReader (the reader Log::read_from hands out) for events.
#include <cairn/assert.h>
#include <cairn/inspect.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <limits>
#include <unordered_set>
#include <vector>

#include "engine/index_store.h"
#include "engine/options.h"
#include "engine/reader.h"
#include "engine/segment.h"
#include "engine/segment_index.h"
#include "engine/segment_set.h"
#include "engine/segment_store.h"
#include "engine/stream_reader.h"
#include "format/checksum.h"
#include "format/codec.h"
#include "format/id_filter_file.h"
#include "format/index_file.h"
#include "format/layout.h"
#include "format/names.h"
#include "format/record.h"
#include "format/scanner.h"
#include "format/stream_filter_file.h"
#include "recovery/recover.h"
#include "recovery/segment_scan.h"
#include "recovery/tail_decision.h"

namespace cairn::inspect {
namespace {

using format::kRecordAlignment;
using format::kRecordHeaderBytes;
using format::kSealRecordBytes;
using format::kSegmentHeaderBlockBytes;

constexpr std::uint16_t kSealKind = static_cast<std::uint16_t>(format::RecordKind::seal);
// Bytes a --follow poll reads after the tail's end; more are read next poll.
constexpr std::uint64_t kFollowReadBytes = 1u << 20;

// Read-only work needs no io_uring ring; posix avoids its set-up and its
// fallback notice.
Result<std::shared_ptr<io::FileSystem>> read_only_fs() {
  return io::make_file_system(io::Backend::posix);
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string base_name(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

MetaInfo to_info(const format::MetaRecord& m) {
  return {m.format_version, m.log_id, m.created_time_ns};
}

SegmentHeaderInfo to_info(const format::SegmentHeader& h) {
  return {h.format_version,  h.write_window_bytes,  h.log_id, h.base_lsn, h.segment_bytes,
          h.created_time_ns, h.index_interval_bytes};
}

// --- the directory ---------------------------------------------------------------

struct Listing {
  bool has_meta = false;
  bool has_recovery_point = false;
  std::vector<std::pair<std::uint64_t, std::string>> segments;  // by base LSN
  std::vector<OtherFile> others;  // everything but the meta file and segments
};

std::string role_of(const std::string& name) {
  if (name == format::kLockFileName) return "lock";
  if (name == format::kRecoveryPointFileName) return "recovery point";
  if (ends_with(name, format::kBrokenSuffix)) return "quarantine copy";
  if (ends_with(name, format::kTmpSuffix)) return "leftover tmp";
  if (ends_with(name, ".idx")) return "index";
  if (name == format::kIdFilterFileName) return "id filter";
  if (name == format::kStreamFilterFileName) return "stream filters";
  return "unknown";
}

Result<Listing> list_directory(io::FileSystem& fs, const std::string& dir) {
  CAIRN_ASSIGN_OR_RETURN(auto names, recovery::list_log_directory(fs, dir));
  Listing out;
  for (const auto& name : names) {
    if (name == format::kMetaFileName) {
      out.has_meta = true;
    } else if (auto base = format::parse_segment_file_name(name)) {
      out.segments.emplace_back(*base, name);
    } else {
      out.has_recovery_point |= name == format::kRecoveryPointFileName;
      out.others.push_back({name, role_of(name)});
    }
  }
  std::sort(out.segments.begin(), out.segments.end());
  return out;
}

Result<std::vector<std::byte>> read_whole(const io::File& file, std::uint64_t max_bytes) {
  CAIRN_ASSIGN_OR_RETURN(std::uint64_t size, file.size());
  std::vector<std::byte> bytes(std::min(size, max_bytes));
  CAIRN_ASSIGN_OR_RETURN(std::size_t got, file.read_at(0, bytes));
  bytes.resize(got);
  return bytes;
}

Result<MetaInfo> read_meta(io::FileSystem& fs, const std::string& path) {
  CAIRN_ASSIGN_OR_RETURN(auto file, fs.open(path, io::OpenMode::read_only));
  CAIRN_ASSIGN_OR_RETURN(auto bytes, read_whole(*file, format::kMetaBytes));
  auto meta = format::decode_meta(bytes);
  if (!meta) {
    return Status::at(meta.error().code(), path, 0, meta.error().message());
  }
  return to_info(*meta);
}

// What recovery would do: a dry run. Corruption is a verdict; other failures
// (I/O, not a log) are errors.
Result<recovery::RecoveredLog> dry_run(io::FileSystem& fs, const std::string& dir,
                                       bool verify_all) {
  recovery::RecoveryOptions options;
  options.directory = dir;
  options.dry_run = true;
  options.verify_all = verify_all;
  return recovery::recover(fs, options);
}

Result<RecoveryPreview> preview(io::FileSystem& fs, const std::string& dir, bool verify_all) {
  RecoveryPreview out;
  auto recovered = dry_run(fs, dir, verify_all);
  if (!recovered) {
    if (recovered.error().code() != Errc::corruption) {
      return recovered.error();
    }
    out.verdict = Verdict::corruption;
    out.error = recovered.error();
    return out;
  }
  if (recovered->empty_directory) {
    return Status::in_file(Errc::not_found, dir, "directory holds no log");
  }
  // A last segment set aside (header unreadable, no record) is, like a torn
  // tail, a repair that loses nothing acknowledged.
  CAIRN_ASSIGN_OR_RETURN(Listing listing, list_directory(fs, dir));
  const bool set_aside = recovered->segments.size() < listing.segments.size();
  out.verdict = recovered->torn_tail_found || set_aside ? Verdict::torn_tail : Verdict::clean;
  out.report = recovered->report;
  out.next_lsn = recovered->next_lsn;
  out.clean_shutdown = recovered->clean_shutdown;
  return out;
}

// --- one segment ------------------------------------------------------------------

RecordInfo record_info(std::string_view segment, const format::RecordView& v, bool seal_checked) {
  RecordInfo r;
  r.segment = segment;
  r.position = v.position;
  r.size = v.record_bytes;
  r.lsn = v.header.lsn;
  r.count = v.header.event_count;
  r.prior_durable_lsn = v.header.prior_durable_lsn;
  r.header_checksum = v.header.header_checksum;
  r.body_checksum = v.header.body_checksum;
  r.body_bytes = v.header.body_bytes;
  // The scanner hands out the body; the header precedes it in the same buffer.
  r.bytes = {v.body.data() - kRecordHeaderBytes, v.record_bytes};
  if (v.header.kind == kSealKind) {
    const format::Seal seal = format::decode_seal_body(v.body);
    r.kind = "seal";
    r.seal_record_count = seal.record_count;
    r.seal_event_count = seal.event_count;
    r.seal_chain = seal.chain;
    r.sealed_time_ns = seal.sealed_time_ns;
    r.seal_checked = seal_checked;
    return r;
  }
  r.kind = "batch";
  format::BatchReader batch(v.body, v.header.lsn, v.header.event_count);
  r.stream = batch.stream();
  r.first_version = batch.first_version();
  EventView e;
  while (batch.next(e)) {
    r.events.push_back(e);
  }
  return r;
}

// Describes the bytes at `position` that the scanner refused: when the
// header verifies, what it says.
BadRegion describe_region(std::string_view segment, std::span<const std::byte> bytes,
                          std::uint64_t position, std::uint64_t seed) {
  BadRegion region;
  region.segment = std::string(segment);
  region.position = position;
  region.end = position;
  if (position + kRecordHeaderBytes > bytes.size()) {
    return region;
  }
  const std::byte* p = bytes.data() + position;
  const format::RecordHeader h = format::load_record_header(p);
  region.header_ok = h.header_checksum == format::compute_header_checksum(p, seed) &&
                     format::record_header_problem(h, format::kRecordBytesMax)[0] == '\0';
  if (!region.header_ok) {
    return region;
  }
  region.lsn = h.lsn;
  region.count = h.event_count;
  region.size = format::record_bytes(h.body_bytes);
  region.body_ok = position + region.size <= bytes.size() &&
                   h.body_checksum == format::xxh3({p + kRecordHeaderBytes, h.body_bytes}, seed);
  return region;
}

// --- index files ------------------------------------------------------------------

// "<base LSN>.idx" beside "<base LSN>.seg".
std::string index_path_for(const std::string& segment_path) {
  const std::string_view suffix = format::kSegmentSuffix;
  const std::string stem = ends_with(segment_path, suffix)
                               ? segment_path.substr(0, segment_path.size() - suffix.size())
                               : segment_path;
  return stem + format::kIndexSuffix;
}

void fill_header(const format::IndexFile& f, IndexInfo& info) {
  info.index_interval_bytes = f.index_interval_bytes;
  info.log_id = f.log_id;
  info.base_lsn = f.base_lsn;
  info.end_lsn = f.end_lsn;
  info.end_position = f.end_position;
  info.chain = f.chain;
  info.last_time_ns = f.last_time_ns;
  info.sparse_count = f.sparse.size();
  info.stream_count = f.streams.size();
  info.id_count = f.ids.size();
  info.bloom_words = f.bloom.size();
}

void fill_entries(const format::IndexFile& f, IndexInfo& info) {
  for (const auto& e : f.sparse) {
    info.sparse.push_back({f.base_lsn + e.relative_lsn, e.position, e.time_ns});
  }
  for (const auto& e : f.streams) {
    info.streams.push_back(
        {e.stream_hash, e.first_version, f.base_lsn + e.relative_lsn, e.count, e.position});
  }
  for (const auto& e : f.ids) {
    info.ids.push_back({e.id, e.lsn});
  }
}

// Reads and decodes an index file into `info` (state missing or undecodable
// when it cannot); returns the decoded file.
Result<std::optional<format::IndexFile>> read_index(io::FileSystem& fs, const std::string& path,
                                                    IndexInfo& info) {
  info.file = base_name(path);
  CAIRN_ASSIGN_OR_RETURN(bool exists, fs.exists(path));
  if (!exists) {
    info.state = IndexState::missing;
    return std::optional<format::IndexFile>();
  }
  CAIRN_ASSIGN_OR_RETURN(auto file, fs.open(path, io::OpenMode::read_only));
  CAIRN_ASSIGN_OR_RETURN(auto bytes, read_whole(*file, std::numeric_limits<std::uint64_t>::max()));
  auto decoded = format::decode_index(bytes);
  if (!decoded) {
    info.state = IndexState::undecodable;
    info.error = Status::in_file(decoded.error().code(), path, decoded.error().message());
    return std::optional<format::IndexFile>();
  }
  info.state = IndexState::not_checked;
  fill_header(*decoded, info);
  return std::optional(std::move(*decoded));
}

// Checks an index file against its segment the way the log would rebuild
// it: the engine's own SegmentIndex, fed the records the shared scanner
// yields, up to where the file says it ends. Equal, entry for entry, or stale.
class IndexChecker {
 public:
  IndexChecker(const format::IndexFile& file, const format::SegmentHeader& header)
      : file_(file),
        rebuilt_(file.log_id, header.base_lsn, file.index_interval_bytes),
        chain_(format::record_seed(header.log_id, header.base_lsn)),
        next_lsn_(header.base_lsn) {}

  // Every record of the first scan, in order.
  void add(const format::RecordView& view) {
    if (view.header.kind == kSealKind || view.position >= file_.end_position ||
        view.header.lsn != next_lsn_) {
      return;
    }
    chain_ = format::chain_step(chain_, view.header.header_checksum);
    rebuilt_.add_record(view, chain_);
    next_lsn_ = view.header.lsn + view.header.event_count;
  }
  IndexState finish() const {
    return rebuilt_.to_file() == file_ ? IndexState::matches : IndexState::stale;
  }

 private:
  const format::IndexFile& file_;
  engine::SegmentIndex rebuilt_;
  std::uint64_t chain_;
  std::uint64_t next_lsn_;
};

// Checks an index file against the segment beside it, if there is one
// whose header decodes (else the index stays not_checked).
Status check_beside(io::FileSystem& fs, const std::string& index_path,
                    const format::IndexFile& index, IndexInfo& info) {
  const std::string_view suffix = format::kIndexSuffix;
  if (!ends_with(index_path, suffix)) {
    return Status();
  }
  const std::string segment_path =
      index_path.substr(0, index_path.size() - suffix.size()) + format::kSegmentSuffix;
  CAIRN_ASSIGN_OR_RETURN(bool exists, fs.exists(segment_path));
  if (!exists) {
    return Status();
  }
  info.segment = base_name(segment_path);
  CAIRN_ASSIGN_OR_RETURN(auto file, fs.open(segment_path, io::OpenMode::read_only));
  auto header = recovery::read_segment_header(*file);
  if (!header) {
    return Status();
  }
  IndexChecker checker(index, *header);
  CAIRN_TRY(recovery::scan_segment(*file, *header, [&checker](const format::RecordView& view) {
              checker.add(view);
            }).status());
  info.state = checker.finish();
  return Status();
}

class SegmentDumper {
 public:
  SegmentDumper(io::FileSystem& fs, std::string path, const DumpOptions& options,
                DumpVisitor& visitor, std::optional<std::uint64_t> log_id, bool is_last)
      : fs_(fs), path_(std::move(path)), options_(options), visitor_(visitor), log_id_(log_id) {
    s_.last_segment = is_last;
  }

  Result<SegmentSummary> run();

 private:
  Result<std::optional<format::SegmentHeader>> read_header(const io::File& file);
  void take_scan(const recovery::SegmentScan& scan);
  void visit(const format::RecordView& view, bool seal_checked);
  // Where a scan after damage stopped, and why.
  struct Resumed {
    std::uint64_t position = 0;
    std::string reason;
    std::string detail;
    bool done = false;  // nothing but zeros (or the seal, or the end) follows
  };
  Status find_bad_regions(const io::File& file);
  Resumed resume(std::span<const std::byte> bytes, std::uint64_t from);
  void emit(BadRegion region);

  Status visit_index();

  io::FileSystem& fs_;
  std::string path_;
  const DumpOptions& options_;
  DumpVisitor& visitor_;
  std::optional<std::uint64_t> log_id_;  // from the meta file, for a segment whose header is bad
  SegmentSummary s_;
  format::SegmentHeader header_;
  std::uint64_t seed_ = 0;
};

Result<SegmentSummary> SegmentDumper::run() {
  s_.segment = base_name(path_);
  s_.path = path_;
  CAIRN_ASSIGN_OR_RETURN(auto file, fs_.open(path_, io::OpenMode::read_only));
  CAIRN_ASSIGN_OR_RETURN(s_.file_bytes, file->size());
  CAIRN_ASSIGN_OR_RETURN(auto header, read_header(*file));
  visitor_.on_segment_start(s_);
  if (!header) {
    s_.verdict = Verdict::corruption;
    s_.verdict_reason = s_.header_error.to_string();
    visitor_.on_segment_end(s_);
    return s_;
  }
  header_ = *header;
  seed_ = format::record_seed(header_.log_id, header_.base_lsn);
  CAIRN_ASSIGN_OR_RETURN(
      recovery::SegmentScan scan,
      recovery::scan_segment(*file, header_,
                             [this](const format::RecordView& view) { visit(view, true); }));
  take_scan(scan);
  if (!s_.sealed && s_.verdict != Verdict::clean) {
    CAIRN_TRY(find_bad_regions(*file));
  }
  visitor_.on_segment_end(s_);
  if (options_.index) {
    CAIRN_TRY(visit_index());
  }
  return s_;
}

// The segment's index file, with its entries, checked against a rebuild
// from a second scan (only with --index, so plain dumps scan once).
Status SegmentDumper::visit_index() {
  IndexInfo info;
  info.segment = s_.segment;
  const std::string path = index_path_for(path_);
  CAIRN_ASSIGN_OR_RETURN(auto index, read_index(fs_, path, info));
  if (index) {
    CAIRN_TRY(check_beside(fs_, path, *index, info));
    fill_entries(*index, info);
  }
  visitor_.on_index(info);
  return Status();
}

// The header, or nullopt (with s_.header_error) when it does not decode. With
// continue_on_error, a bad header of a segment whose log id is known (from
// the meta file) and whose base LSN is its name is replaced by a stand-in,
// so its records can still be decoded.
Result<std::optional<format::SegmentHeader>> SegmentDumper::read_header(const io::File& file) {
  auto header = recovery::read_segment_header(file);
  if (header) {
    s_.header_ok = true;
    s_.header = to_info(*header);
    return std::optional(*header);
  }
  if (header.error().code() == Errc::io_error || header.error().code() == Errc::no_space) {
    return header.error();
  }
  s_.header_error = header.error();
  const auto base = format::parse_segment_file_name(s_.segment);
  if (!base) {
    // Neither named nor shaped like a segment (a LOCK file, some other
    // file): a wrong argument, not damage to a log.
    return Status::at(Errc::invalid_argument, path_, 0,
                      "not a segment file (" + header.error().message() + ")");
  }
  const std::uint64_t usable = s_.file_bytes / kRecordAlignment * kRecordAlignment;
  if (!options_.continue_on_error || !log_id_ || !base || usable < format::kSegmentBytesMin) {
    return std::optional<format::SegmentHeader>();
  }
  format::SegmentHeader stand_in;
  stand_in.write_window_bytes = format::kWriteWindowBytesDefault;
  stand_in.log_id = *log_id_;
  stand_in.base_lsn = *base;
  stand_in.segment_bytes = std::min(usable, format::kSegmentBytesMax);
  stand_in.index_interval_bytes = format::kIndexIntervalBytesDefault;
  s_.header = to_info(stand_in);
  return std::optional(stand_in);
}

void SegmentDumper::visit(const format::RecordView& view, bool seal_checked) {
  if (!options_.records) {
    return;
  }
  visitor_.on_record(record_info(s_.segment, view, seal_checked));
}

void SegmentDumper::take_scan(const recovery::SegmentScan& scan) {
  s_.records = scan.end.record_count;
  s_.first_lsn = header_.base_lsn;
  s_.end_lsn = scan.end.next_lsn;
  s_.events = s_.end_lsn - s_.first_lsn;
  s_.sealed = scan.sealed;
  s_.stop = format::scan_stop_name(scan.stop);
  s_.stop_position = scan.sealed ? header_.segment_bytes : scan.end.position;
  s_.stop_detail = scan.detail;
  s_.nonzero_end = std::max(scan.facts.nonzero_end, scan.facts.valid_end);
  s_.later_records = scan.facts.later_records;
  recovery::TailFacts facts = scan.facts;
  facts.is_last_segment = s_.last_segment;
  facts.strict = false;
  const recovery::TailDecision d = recovery::decide_tail(facts);
  s_.verdict = d.action == recovery::TailAction::clean       ? Verdict::clean
               : d.action == recovery::TailAction::zero_fill ? Verdict::torn_tail
                                                             : Verdict::corruption;
  s_.verdict_reason = d.reason;
}

void SegmentDumper::emit(BadRegion region) {
  visitor_.on_bad_region(region);
  s_.bad_regions.push_back(std::move(region));
}

// Marks where decoding failed and, with continue_on_error, resumes at each
// later record that verifies.
Status SegmentDumper::find_bad_regions(const io::File& file) {
  CAIRN_ASSIGN_OR_RETURN(auto bytes, read_whole(file, header_.segment_bytes));
  Resumed stop{s_.stop_position, s_.stop, s_.stop_detail, false};
  // Each round moves at least one alignment unit forward, so this ends.
  while (!stop.done) {
    BadRegion region = describe_region(s_.segment, bytes, stop.position, seed_);
    region.reason = stop.reason;
    region.detail = stop.detail;
    const std::uint64_t probe_from =
        std::min<std::uint64_t>(stop.position + kRecordAlignment, bytes.size());
    const auto later = format::probe_later_records(bytes, 0, probe_from, seed_);
    if (!options_.continue_on_error || later.count == 0) {
      region.end = later.count > 0 ? later.first_position
                                   : std::max(stop.position, later.last_nonzero_position);
      emit(std::move(region));
      return Status();
    }
    region.end = later.first_position;
    emit(std::move(region));
    stop = resume(bytes, later.first_position);
  }
  return Status();
}

// Scans from a record found after damage. The record chain and counts of the
// records before it are unknown, so a seal there cannot be checked against
// them: it is shown with seal_checked = false. Says where and why the scan
// stopped, and whether anything but zeros (or the end) follows.
SegmentDumper::Resumed SegmentDumper::resume(std::span<const std::byte> bytes, std::uint64_t from) {
  const format::RecordHeader first = format::load_record_header(bytes.data() + from);
  const format::ScanState state{from, first.lsn, seed_, 0};
  format::RecordScanner scanner(bytes, 0, seed_, header_.base_lsn, state, format::kRecordBytesMax,
                                header_.segment_bytes);
  format::RecordView view;
  while (scanner.next(view)) {
    visit(view, true);
  }
  Resumed out{scanner.state().position, format::scan_stop_name(scanner.stop()), scanner.detail(),
              false};
  if (scanner.stop() == format::ScanStop::bad_seal) {
    const std::byte* p = bytes.data() + out.position;
    const format::RecordHeader h = format::load_record_header(p);
    visit({out.position, h, {p + kRecordHeaderBytes, h.body_bytes}, kSealRecordBytes}, false);
    out.done = true;
    return out;
  }
  const auto rest = format::probe_later_records(
      bytes, 0, std::min<std::uint64_t>(out.position, bytes.size()), seed_);
  out.done =
      scanner.stop() == format::ScanStop::sealed ||
      (!format::scan_stop_is_damage(scanner.stop()) && rest.last_nonzero_position <= out.position);
  return out;
}

Result<SegmentSummary> dump_segment_with(io::FileSystem& fs, const std::string& path,
                                         const DumpOptions& options, DumpVisitor& visitor,
                                         std::optional<std::uint64_t> log_id, bool is_last) {
  SegmentDumper dumper(fs, path, options, visitor, log_id, is_last);
  return dumper.run();
}

std::string parent_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) {
    return ".";
  }
  return slash == 0 ? "/" : path.substr(0, slash);
}

// A segment file dumped on its own is the last unless a segment with a
// higher base LSN sits beside it; when that cannot be told, it is judged as
// the last (the lenient reading, and said so in the summary).
bool is_last_beside(io::FileSystem& fs, const std::string& path) {
  const auto base = format::parse_segment_file_name(base_name(path));
  auto listing = list_directory(fs, parent_of(path));
  if (!base || !listing) {
    return true;
  }
  return listing->segments.empty() || listing->segments.back().first <= *base;
}

// --- reading: a read-only segment set over what recovery would keep ---------------

std::shared_ptr<engine::Segment> make_segment(const std::string& dir,
                                              const recovery::SegmentInfo& info,
                                              std::unique_ptr<io::File> file) {
  auto segment = std::make_shared<engine::Segment>();
  segment->name = info.name;
  segment->path = format::join_path(dir, info.name);
  segment->header = info.header;
  segment->seed = format::record_seed(info.header.log_id, info.header.base_lsn);
  segment->file = std::move(file);
  return segment;
}

// Sets where reading stops in `segment`, as recovery decided. Only ever
// moves forward: a refresh while a writer appends sees more, never less.
void set_extent(engine::Segment& segment, const recovery::SegmentInfo& info) {
  const std::uint64_t end = info.sealed ? info.header.segment_bytes : info.end.position;
  segment.readable_end = std::max(segment.readable_end.load(), end);
  segment.end_lsn = std::max(segment.end_lsn.load(), info.end_lsn);
  if (info.sealed) {
    segment.end_chain = info.end.chain;  // what its index file must match
    segment.sealed = true;
  }
}

class SnapshotImpl;

// A LogReader over a snapshot. The engine's reader finds its first segment
// when it is made, so it is made once the snapshot has a segment (a log
// being created may have none yet).
class SnapshotReader final : public LogReader {
 public:
  SnapshotReader(SnapshotImpl& snapshot, std::uint64_t from) : snapshot_(snapshot), from_(from) {}
  Result<bool> next(EventView& out) override;

 private:
  SnapshotImpl& snapshot_;
  std::uint64_t from_;
  std::unique_ptr<engine::SegmentReader> inner_;
};

class SnapshotImpl final : public Snapshot {
 public:
  SnapshotImpl(std::shared_ptr<io::FileSystem> fs, std::string dir)
      : fs_(std::move(fs)), dir_(std::move(dir)) {}

  Status load();
  std::uint64_t next_lsn() const override { return next_lsn_; }
  bool torn_tail() const override { return torn_tail_; }
  const std::vector<std::string>& report() const override { return report_; }
  std::unique_ptr<LogReader> read_from(std::uint64_t lsn) override {
    return std::make_unique<SnapshotReader>(*this, lsn);
  }
  Result<std::unique_ptr<LogReader>> read_stream(const std::string& stream,
                                                 std::uint64_t from_version,
                                                 Direction direction) override;
  // Following a log being written, most polls find a few new records at
  // the tail's end: scan just those. Anything else (a roll, bytes that do
  // not parse yet, a new segment) takes the full dry run.
  Status refresh() override {
    CAIRN_ASSIGN_OR_RETURN(bool advanced, advance_tail());
    return advanced ? Status() : load();
  }

  const engine::SegmentSet& segments() const { return segments_; }
  const MetaInfo& meta() const { return meta_; }

 private:
  Status add_or_update(const recovery::SegmentInfo& info);
  Result<bool> advance_tail();
  Result<bool> newer_segment_exists(std::uint64_t base_lsn);

  std::shared_ptr<io::FileSystem> fs_;
  std::string dir_;
  engine::SegmentSet segments_;
  std::uint64_t next_lsn_ = 0;
  bool torn_tail_ = false;
  bool loaded_ = false;
  MetaInfo meta_;
  std::vector<std::string> report_;
  // Where the unsealed last segment ends, as recovery found it (or as
  // advance_tail moved it); meaningful when tail_known_.
  format::ScanState tail_end_;
  bool tail_known_ = false;
  // For read_stream, made on its first call; they never write.
  std::unique_ptr<engine::SegmentStore> store_;
  std::unique_ptr<engine::IndexStore> indexes_;
};

Result<std::unique_ptr<LogReader>> SnapshotImpl::read_stream(const std::string& stream,
                                                             std::uint64_t from_version,
                                                             Direction direction) {
  auto tail = segments_.last();
  if (!indexes_) {
    const std::uint32_t interval =
        tail ? tail->header.index_interval_bytes : format::kIndexIntervalBytesDefault;
    store_ = std::make_unique<engine::SegmentStore>(fs_, dir_);
    indexes_ = std::make_unique<engine::IndexStore>(
        *store_, meta_.log_id, interval, SIZE_MAX,
        [this](const std::string& line) { report_.push_back(line); });
    indexes_->never_write();
  }
  // The tail's index as of the snapshot's end (its file if a clean close
  // wrote it for that end, else built by scanning the tail).
  if (tail && !tail->sealed && tail_known_) {
    CAIRN_TRY(indexes_->open_tail(*tail, tail_end_, nullptr).status());
  }
  return engine::make_indexed_stream_reader(*fs_, segments_, *indexes_, stream, from_version,
                                            direction, next_lsn_);
}

Status SnapshotImpl::load() {
  CAIRN_ASSIGN_OR_RETURN(recovery::RecoveredLog recovered, dry_run(*fs_, dir_, false));
  if (recovered.empty_directory) {
    return Status::in_file(Errc::not_found, dir_, "directory holds no log");
  }
  if (loaded_ && recovered.meta.log_id != meta_.log_id) {
    return Status::in_file(Errc::corruption, format::join_path(dir_, format::kMetaFileName),
                           "the log was replaced by another while being read");
  }
  meta_ = to_info(recovered.meta);
  for (const auto& info : recovered.segments) {
    CAIRN_TRY(add_or_update(info));
  }
  // Segments first, then the limit: a reader never sees an LSN before the
  // segment holding it.
  next_lsn_ = std::max(next_lsn_, recovered.next_lsn);
  tail_known_ = !recovered.segments.empty() && !recovered.segments.back().sealed;
  if (tail_known_) {
    tail_end_ = recovered.segments.back().end;
  }
  torn_tail_ = recovered.torn_tail_found;
  report_ = std::move(recovered.report);
  loaded_ = true;
  return Status();
}

Status SnapshotImpl::add_or_update(const recovery::SegmentInfo& info) {
  auto last = segments_.last();
  if (last && last->base_lsn() >= info.base_lsn) {
    auto known = segments_.find(info.base_lsn);
    CAIRN_ASSERT(known != nullptr);
    if (known->base_lsn() == info.base_lsn) {
      set_extent(*known, info);
      return Status();
    }
  }
  CAIRN_ASSIGN_OR_RETURN(auto file,
                         fs_->open(format::join_path(dir_, info.name), io::OpenMode::read_only));
  auto segment = make_segment(dir_, info, std::move(file));
  set_extent(*segment, info);
  segments_.add(std::move(segment));
  return Status();
}

Result<bool> SnapshotImpl::newer_segment_exists(std::uint64_t base_lsn) {
  CAIRN_ASSIGN_OR_RETURN(Listing listing, list_directory(*fs_, dir_));
  return !listing.segments.empty() && listing.segments.back().first > base_lsn;
}

// Scans the bytes after the tail's known end with the shared scanner and
// publishes the records that verify. Returns false when a full dry run must
// decide instead.
Result<bool> SnapshotImpl::advance_tail() {
  auto tail = segments_.last();
  if (!tail_known_ || !tail || tail->sealed) {
    return false;
  }
  const std::uint64_t from = tail_end_.position;
  std::vector<std::byte> bytes(
      std::min<std::uint64_t>(tail->header.segment_bytes - from, kFollowReadBytes));
  CAIRN_ASSIGN_OR_RETURN(std::size_t got, tail->file->read_at(from, bytes));
  bytes.resize(got);
  format::RecordScanner scanner(bytes, from, tail->seed, tail->base_lsn(), tail_end_,
                                format::kRecordBytesMax, tail->header.segment_bytes);
  format::RecordView view;
  while (scanner.next(view) && view.header.kind != kSealKind) {
    tail_end_ = scanner.state();
  }
  tail->readable_end = std::max(tail->readable_end.load(), tail_end_.position);
  tail->end_lsn = std::max(tail->end_lsn.load(), tail_end_.next_lsn);
  next_lsn_ = std::max(next_lsn_, tail_end_.next_lsn);
  const format::ScanStop stop = scanner.stop();
  if (stop == format::ScanStop::short_data && tail_end_.position > from) {
    return true;  // a record straddles what was read: the next poll starts at it
  }
  if (stop != format::ScanStop::zero_header && stop != format::ScanStop::end_of_input) {
    return false;
  }
  // Zeros after the end: quiet, unless the writer has moved on to a new
  // segment (this one then ends in zeros and its seal).
  CAIRN_ASSIGN_OR_RETURN(bool moved_on, newer_segment_exists(tail->base_lsn()));
  return !moved_on;
}

Result<bool> SnapshotReader::next(EventView& out) {
  if (!inner_) {
    if (snapshot_.segments().size() == 0) {
      return false;
    }
    SnapshotImpl* snapshot = &snapshot_;
    inner_ = std::make_unique<engine::SegmentReader>(snapshot_.segments(), from_,
                                                     [snapshot] { return snapshot->next_lsn(); });
  }
  return inner_->next(out);
}

Result<std::unique_ptr<SnapshotImpl>> open_snapshot(const std::string& dir) {
  CAIRN_ASSIGN_OR_RETURN(auto fs, read_only_fs());
  auto snapshot = std::make_unique<SnapshotImpl>(std::move(fs), dir);
  CAIRN_TRY(snapshot->load());
  return snapshot;
}

// Options under which the log can be opened to recover it: its own segment
// size (for a segment recovery may have to create) and event limits small
// enough that one largest batch fits such a segment (nothing is appended).
void fit_to_segment(LogOptions& options, const format::SegmentHeader& header) {
  options.segment_bytes = header.segment_bytes;
  const std::uint64_t room = header.segment_bytes - kSegmentHeaderBlockBytes - kSealRecordBytes;
  if (options.batch_bytes_max > room) {
    options.batch_bytes_max = room / kRecordAlignment * kRecordAlignment;
    const std::size_t overhead = engine::batch_bytes_needed(0) + kRecordAlignment;
    options.event_bytes_max = options.batch_bytes_max > overhead
                                  ? options.batch_bytes_max - overhead
                                  : options.event_bytes_max;
  }
}

// --- verify ---------------------------------------------------------------------

// Adds what one segment holds to the summary, up to `limit` (the LSN
// recovery would keep up to).
class VerifyCounter {
 public:
  VerifyCounter(VerifySummary& summary, std::uint64_t limit) : s_(summary), limit_(limit) {}
  void operator()(const format::RecordView& view);
  std::uint64_t stream_count() const { return streams_.size(); }

 private:
  VerifySummary& s_;
  std::uint64_t limit_;
  std::unordered_set<std::string> streams_;
};

void VerifyCounter::operator()(const format::RecordView& view) {
  if (view.header.kind == kSealKind || view.header.lsn >= limit_) {
    return;
  }
  s_.record_bytes += view.record_bytes;
  format::BatchReader batch(view.body, view.header.lsn, view.header.event_count);
  streams_.emplace(batch.stream());
  EventView e;
  while (batch.next(e) && e.lsn < limit_) {
    ++s_.events;
    s_.first_time_ns = std::min(s_.first_time_ns.value_or(e.time_ns), e.time_ns);
    s_.last_time_ns = std::max(s_.last_time_ns.value_or(e.time_ns), e.time_ns);
  }
}

}  // namespace

const char* index_state_name(IndexState state) {
  switch (state) {
    case IndexState::not_checked:
      return "not checked";
    case IndexState::missing:
      return "missing";
    case IndexState::undecodable:
      return "undecodable";
    case IndexState::matches:
      return "matches the log";
    case IndexState::stale:
      return "stale";
  }
  return "unknown";
}

Result<IndexInfo> dump_index_file(const std::string& path, DumpVisitor& visitor) {
  CAIRN_ASSIGN_OR_RETURN(auto fs, read_only_fs());
  IndexInfo info;
  CAIRN_ASSIGN_OR_RETURN(auto index, read_index(*fs, path, info));
  if (info.state == IndexState::missing) {
    return Status::in_file(Errc::not_found, path, "no such file");
  }
  if (index) {
    CAIRN_TRY(check_beside(*fs, path, *index, info));
    fill_entries(*index, info);
  }
  visitor.on_index(info);
  return info;
}

const char* verdict_name(Verdict verdict) {
  switch (verdict) {
    case Verdict::clean:
      return "clean";
    case Verdict::torn_tail:
      return "torn tail only";
    case Verdict::corruption:
      return "corruption";
  }
  return "unknown";
}

Result<MetaInfo> read_meta_file(const std::string& path) {
  CAIRN_ASSIGN_OR_RETURN(auto fs, read_only_fs());
  return read_meta(*fs, path);
}

Result<FilterFileInfo> read_filter_file(const std::string& path) {
  CAIRN_ASSIGN_OR_RETURN(auto fs, read_only_fs());
  CAIRN_ASSIGN_OR_RETURN(auto file, fs->open(path, io::OpenMode::read_only));
  CAIRN_ASSIGN_OR_RETURN(auto bytes, read_whole(*file, UINT64_MAX));
  FilterFileInfo info;
  info.file_bytes = bytes.size();
  const auto refused = [&path](const Status& s) {
    return Status::at(s.code(), path, 0, s.message());
  };
  if (ends_with(path, format::kStreamFilterFileName)) {
    auto f = format::decode_stream_filters(bytes);
    if (!f) {
      return refused(f.error());
    }
    info.kind = "stream filters";
    info.log_id = f->log_id;
    info.covered_segments = f->segments.size();
    info.covered_end_lsn = f->segments.empty() ? 0 : f->segments.back().end_lsn;
    for (const auto& s : f->segments) {
      info.segments.push_back({s.base_lsn, s.end_lsn, s.chain, s.bits.size()});
    }
    info.stopped = f->stopped;
    info.stopped_at =
        f->frame_ends.empty() ? format::kStreamFilterHeaderBytes : f->frame_ends.back();
    return info;
  }
  auto f = format::decode_id_filter(bytes);
  if (!f) {
    return refused(f.error());
  }
  info.kind = "id filter";
  info.log_id = f->log_id;
  info.covered_segments = f->covered_segments;
  info.covered_end_lsn = f->covered_end_lsn;
  for (const auto& level : f->levels) {
    info.levels.push_back({level.capacity, level.keys, level.bits.size()});
  }
  return info;
}

Result<bool> is_directory(const std::string& path) {
  CAIRN_ASSIGN_OR_RETURN(auto fs, read_only_fs());
  auto names = fs->list(path);
  if (names) {
    return true;
  }
  if (names.error().sys_errno() == ENOTDIR) {
    return false;
  }
  if (names.error().code() == Errc::not_found) {
    return Status::in_file(Errc::not_found, path, "no such file or directory");
  }
  return names.error();
}

Result<SegmentSummary> dump_segment(const std::string& path, const DumpOptions& options,
                                    DumpVisitor& visitor) {
  CAIRN_ASSIGN_OR_RETURN(auto fs, read_only_fs());
  return dump_segment_with(*fs, path, options, visitor, std::nullopt, is_last_beside(*fs, path));
}

Result<RecoveryPreview> dump_directory(const std::string& directory, const DumpOptions& options,
                                       DumpVisitor& visitor) {
  CAIRN_ASSIGN_OR_RETURN(auto fs, read_only_fs());
  CAIRN_ASSIGN_OR_RETURN(Listing listing, list_directory(*fs, directory));
  if (!listing.has_meta && listing.segments.empty()) {
    // Decided exactly as open would: empty, or not a Cairn log.
    CAIRN_TRY(preview(*fs, directory, true).status());
  }
  std::optional<std::uint64_t> log_id;
  if (listing.has_meta) {
    auto meta = read_meta(*fs, format::join_path(directory, format::kMetaFileName));
    if (meta) {
      log_id = meta->log_id;
      visitor.on_meta(*meta);
    } else {
      visitor.on_other_file({format::kMetaFileName, "meta file: " + meta.error().to_string()});
    }
  }
  for (const auto& other : listing.others) {
    visitor.on_other_file(other);
  }
  for (std::size_t i = 0; i < listing.segments.size(); ++i) {
    const bool last = i + 1 == listing.segments.size();
    CAIRN_TRY(dump_segment_with(*fs, format::join_path(directory, listing.segments[i].second),
                                options, visitor, log_id, last)
                  .status());
  }
  CAIRN_ASSIGN_OR_RETURN(RecoveryPreview p, preview(*fs, directory, true));
  visitor.on_recovery_preview(p);
  return p;
}

namespace {

// Decodes ids.filter and streams.filter, when present, and names what is
// wrong with them (they are derived data: the engine would ignore them).
void check_derived_filters(io::FileSystem& fs, const std::string& directory,
                           std::vector<std::string>& problems) {
  for (const char* name : {format::kIdFilterFileName, format::kStreamFilterFileName}) {
    const std::string path = format::join_path(directory, name);
    auto file = fs.open(path, io::OpenMode::read_only);
    if (!file) {
      continue;  // none saved
    }
    auto bytes = read_whole(**file, UINT64_MAX);
    if (!bytes) {
      problems.push_back(std::string(name) + ": " + bytes.error().to_string());
      continue;
    }
    if (name == format::kIdFilterFileName) {
      if (auto f = format::decode_id_filter(*bytes); !f) {
        problems.push_back(std::string(name) + ": " + f.error().message());
      }
      continue;
    }
    auto f = format::decode_stream_filters(*bytes);
    if (!f || !f->stopped.empty()) {
      problems.push_back(std::string(name) + ": " + (f ? f->stopped : f.error().message()));
    }
  }
}

// Scans one segment for verify: counts its events (while `counting`) and
// checks its index file against the records; names a segment before the
// last that does not verify up to its seal.
Status verify_segment(io::FileSystem& fs, const std::string& path, bool last, VerifyCounter& count,
                      bool& counting, VerifySummary& s) {
  CAIRN_ASSIGN_OR_RETURN(auto file, fs.open(path, io::OpenMode::read_only));
  CAIRN_ASSIGN_OR_RETURN(std::uint64_t bytes, file->size());
  s.file_bytes += bytes;
  auto header = recovery::read_segment_header(*file);
  if (!header) {
    counting = false;  // recovery's verdict already names the damage
    if (!last) {
      s.damaged_segments.push_back(path + ":0: " + header.error().message());
    }
    return Status();
  }
  IndexInfo index;
  index.segment = base_name(path);
  CAIRN_ASSIGN_OR_RETURN(auto index_file, read_index(fs, index_path_for(path), index));
  std::optional<IndexChecker> checker;
  if (index_file) {
    checker.emplace(*index_file, *header);
  }
  const bool count_this = counting;
  CAIRN_ASSIGN_OR_RETURN(
      auto scan, recovery::scan_segment(*file, *header, [&](const format::RecordView& view) {
        if (count_this) count(view);
        if (checker) checker->add(view);
      }));
  // With corruption, only what verifies before the first segment that does
  // not end in its seal is counted.
  counting = counting && scan.sealed;
  if (!last && !scan.sealed) {
    s.damaged_segments.push_back(path + ":" + std::to_string(scan.end.position) + ": " +
                                 format::scan_stop_name(scan.stop) +
                                 (scan.detail.empty() ? "" : ": " + scan.detail));
  }
  if (checker) {
    index.state = checker->finish();
  }
  s.indexes.push_back(std::move(index));
  return Status();
}

}  // namespace

Result<VerifySummary> verify(const std::string& directory,
                             const std::function<void(const VerifyProgress&)>& progress) {
  CAIRN_ASSIGN_OR_RETURN(auto fs, read_only_fs());
  CAIRN_ASSIGN_OR_RETURN(RecoveryPreview p, preview(*fs, directory, true));
  CAIRN_ASSIGN_OR_RETURN(Listing listing, list_directory(*fs, directory));
  VerifySummary s;
  s.verdict = p.verdict;
  s.problem = p.error;
  s.report = p.report;
  s.next_lsn = p.next_lsn;
  s.segments = listing.segments.size();
  // Counts what recovery keeps (with corruption: see verify_segment).
  VerifyCounter count(
      s, p.verdict == Verdict::corruption ? std::numeric_limits<std::uint64_t>::max() : p.next_lsn);
  bool counting = true;
  VerifyProgress done{0, listing.segments.size()};
  for (const auto& [base, name] : listing.segments) {
    const bool last = name == listing.segments.back().second;
    CAIRN_TRY(verify_segment(*fs, format::join_path(directory, name), last, count, counting, s));
    ++done.segments_done;
    if (progress) {
      progress(done);
    }
  }
  s.streams = count.stream_count();
  check_derived_filters(*fs, directory, s.derived_problems);
  return s;
}

Result<std::vector<std::string>> recover(const std::string& directory, bool dry_run_only) {
  CAIRN_ASSIGN_OR_RETURN(auto fs, read_only_fs());
  CAIRN_ASSIGN_OR_RETURN(recovery::RecoveredLog looked, dry_run(*fs, directory, false));
  if (looked.empty_directory) {
    return Status::in_file(Errc::not_found, directory, "directory holds no log");
  }
  // Said outright, so that nobody has to infer it from the absence of
  // repair lines.
  const std::string unchanged = "nothing to repair: no byte of the log changes";
  if (dry_run_only) {
    if (looked.repairs == 0) {
      looked.report.push_back(unchanged);
    }
    return looked.report;
  }
  // The real thing is what open does, under the lock, with the log's own
  // segment size for a segment it may have to create.
  LogOptions options;
  options.directory = directory;
  options.create_if_missing = false;
  options.backend = io::Backend::posix;
  if (!looked.segments.empty()) {
    fit_to_segment(options, looked.segments.back().header);
  }
  CAIRN_ASSIGN_OR_RETURN(auto log, Log::open(options));
  std::vector<std::string> lines;
  std::string report = log->recovery_report();
  for (std::size_t at = 0, nl; at < report.size(); at = nl + 1) {
    nl = report.find('\n', at);
    nl = nl == std::string::npos ? report.size() : nl;
    lines.push_back(report.substr(at, nl - at));
  }
  CAIRN_TRY(log->close());
  if (looked.repairs == 0) {
    lines.push_back(unchanged);
  }
  return lines;
}

namespace {

// Whether a segment's index file decodes and covers the segment as recovery
// leaves it (log id, base and end LSN): not_checked then, as its entries are
// not compared (verify does that).
Result<IndexState> index_covers(io::FileSystem& fs, const engine::Segment& segment,
                                std::uint64_t log_id) {
  IndexInfo info;
  CAIRN_ASSIGN_OR_RETURN(auto file, read_index(fs, index_path_for(segment.path), info));
  if (!file) {
    return info.state;
  }
  const bool covers = file->log_id == log_id && file->base_lsn == segment.base_lsn() &&
                      file->end_lsn == segment.end_lsn.load();
  return covers ? IndexState::not_checked : IndexState::stale;
}

std::string index_summary(const std::vector<SegmentStat>& segments) {
  std::size_t counts[5] = {};
  for (const auto& s : segments) {
    ++counts[static_cast<std::size_t>(s.index)];
  }
  return std::to_string(counts[0]) + " of " + std::to_string(segments.size()) +
         " segments have an index file covering them (entries are checked by verify); " +
         std::to_string(counts[1]) + " missing, " + std::to_string(counts[4]) + " stale, " +
         std::to_string(counts[2]) + " undecodable (the log rebuilds these on first use)";
}

// stat() of a log recovery refuses: what the directory holds, and why.
Result<StatInfo> damaged_stat(const std::string& directory, const Status& damage) {
  CAIRN_ASSIGN_OR_RETURN(auto fs, read_only_fs());
  CAIRN_ASSIGN_OR_RETURN(Listing listing, list_directory(*fs, directory));
  StatInfo s;
  s.damage = damage;
  s.layout_only = true;
  if (listing.has_meta) {
    auto meta = read_meta(*fs, format::join_path(directory, format::kMetaFileName));
    if (meta) {
      s.meta = *meta;
    }
  }
  s.recovery_point_present = listing.has_recovery_point;
  s.other_files = listing.others;
  for (const auto& [base_lsn, name] : listing.segments) {
    CAIRN_ASSIGN_OR_RETURN(auto file,
                           fs->open(format::join_path(directory, name), io::OpenMode::read_only));
    CAIRN_ASSIGN_OR_RETURN(std::uint64_t bytes, file->size());
    s.segments.push_back({name, bytes, base_lsn, 0, false, IndexState::not_checked});
    s.file_bytes += bytes;
  }
  return s;
}

}  // namespace

Result<StatInfo> stat(const std::string& directory) {
  auto opened = open_snapshot(directory);
  if (!opened) {
    if (opened.error().code() == Errc::corruption) {
      return damaged_stat(directory, opened.error());
    }
    return opened.error();
  }
  const std::unique_ptr<SnapshotImpl> snapshot = std::move(*opened);
  CAIRN_ASSIGN_OR_RETURN(auto fs, read_only_fs());
  CAIRN_ASSIGN_OR_RETURN(Listing listing, list_directory(*fs, directory));
  StatInfo s;
  s.meta = snapshot->meta();
  s.durable_lsn = snapshot->next_lsn();
  s.torn_tail = snapshot->torn_tail();
  s.report = snapshot->report();
  s.recovery_point_present = listing.has_recovery_point;
  s.other_files = listing.others;
  for (const auto& segment : snapshot->segments().snapshot()) {
    CAIRN_ASSIGN_OR_RETURN(std::uint64_t bytes, segment->file->size());
    CAIRN_ASSIGN_OR_RETURN(IndexState index, index_covers(*fs, *segment, s.meta.log_id));
    s.segments.push_back({segment->name, bytes, segment->base_lsn(), segment->end_lsn.load(),
                          segment->sealed.load(), index});
    s.file_bytes += bytes;
  }
  s.index_state = index_summary(s.segments);
  std::unordered_set<std::string> streams;
  auto reader = snapshot->read_from(0);
  EventView e;
  while (true) {
    Result<bool> more = reader->next(e);
    if (!more && more.error().code() == Errc::corruption) {
      s.damage = more.error();
      break;
    }
    CAIRN_TRY(more.status());
    if (!*more) {
      break;
    }
    ++s.event_count;
    if (streams.find(std::string(e.stream)) == streams.end()) {
      streams.emplace(e.stream);
    }
  }
  s.stream_count = streams.size();
  return s;
}

Result<std::unique_ptr<Snapshot>> Snapshot::open(const std::string& directory) {
  CAIRN_ASSIGN_OR_RETURN(auto snapshot, open_snapshot(directory));
  return std::unique_ptr<Snapshot>(std::move(snapshot));
}

}  // namespace cairn::inspect
