#include "recovery/recover.h"

#include <cairn/assert.h>

#include <algorithm>
#include <cerrno>
#include <optional>

#include "format/layout.h"
#include "format/names.h"
#include "format/record.h"
#include "recovery/segment_scan.h"
#include "recovery/tail_decision.h"

namespace cairn::recovery {
namespace {

using format::join_path;

struct DirectoryListing {
  bool has_meta = false;
  bool has_recovery_point = false;
  std::vector<std::pair<std::uint64_t, std::string>> segments;  // sorted by base LSN
  std::vector<std::string> tmp_files;
  std::vector<std::string> other;  // names that are not ours
};

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

DirectoryListing classify(const std::vector<std::string>& names) {
  DirectoryListing out;
  for (const auto& name : names) {
    if (name == format::kMetaFileName) {
      out.has_meta = true;
    } else if (name == format::kRecoveryPointFileName) {
      out.has_recovery_point = true;
    } else if (auto base = format::parse_segment_file_name(name)) {
      out.segments.emplace_back(*base, name);
    } else if (ends_with(name, format::kTmpSuffix)) {
      out.tmp_files.push_back(name);
    } else if (name != format::kLockFileName && name != format::kIdFilterFileName &&
               name != format::kStreamFilterFileName && !ends_with(name, format::kBrokenSuffix) &&
               !ends_with(name, ".idx")) {
      out.other.push_back(name);
    }
  }
  std::sort(out.segments.begin(), out.segments.end());
  return out;
}

Result<std::string> read_small_file(io::FileSystem& fs, const std::string& path, std::size_t max) {
  CAIRN_ASSIGN_OR_RETURN(auto file, fs.open(path, io::OpenMode::read_only));
  std::string bytes(max, '\0');
  CAIRN_ASSIGN_OR_RETURN(std::size_t got,
                         file->read_at(0, std::as_writable_bytes(std::span(bytes))));
  bytes.resize(got);
  return bytes;
}

// True when every byte of `file` from `position` to its end is zero.
Result<bool> all_zero_from(const io::File& file, std::uint64_t position) {
  CAIRN_ASSIGN_OR_RETURN(std::uint64_t bytes, file.size());
  std::vector<std::byte> buf(1u << 20);
  for (std::uint64_t at = position; at < bytes; at += buf.size()) {
    CAIRN_ASSIGN_OR_RETURN(std::size_t got, file.read_at(at, buf));
    if (!format::is_all_zero(std::span(buf).first(got))) {
      return false;
    }
    if (got < buf.size()) {
      break;
    }
  }
  return true;
}

class Recovery {
 public:
  Recovery(io::FileSystem& fs, const RecoveryOptions& options) : fs_(fs), opt_(options) {}
  Result<RecoveredLog> run();

 private:
  std::string path(const std::string& name) const { return join_path(opt_.directory, name); }
  void note(std::string line) { log_.report.push_back(std::move(line)); }
  // A finding that changes the log (or would, in a dry run).
  void repair(std::string line) {
    note(std::move(line));
    ++log_.repairs;
  }
  Status read_meta();
  Status remove_tmp_files(const DirectoryListing& listing);
  std::optional<format::RecoveryPoint> read_recovery_point();
  Status recover_segment(std::size_t index, std::uint64_t base, const std::string& name,
                         bool is_last);
  Status recover_sealed(SegmentInfo& info, const io::File& file);
  Status recover_tail(SegmentInfo& info, io::File& file);
  Status handle_unreadable_last(const std::string& name, const Status& why);
  Status zero_fill(const SegmentInfo& info, io::File& file, const SegmentScan& scan);
  Status copy_to_broken(const SegmentInfo& info, const io::File& file, std::uint64_t from,
                        std::uint64_t to);

  io::FileSystem& fs_;
  const RecoveryOptions& opt_;
  RecoveredLog log_;
  std::optional<format::RecoveryPoint> point_;
};

Result<RecoveredLog> Recovery::run() {
  CAIRN_ASSIGN_OR_RETURN(auto names, list_log_directory(fs_, opt_.directory));
  const DirectoryListing listing = classify(names);
  if (!listing.has_meta) {
    if (listing.segments.empty() && listing.other.empty()) {
      log_.empty_directory = true;
      note("no log in " + opt_.directory + ": empty directory");
      return std::move(log_);
    }
    if (!listing.segments.empty()) {
      return Status::in_file(Errc::corruption, path(format::kMetaFileName),
                             "segments exist but the meta file is missing");
    }
    return Status::in_file(Errc::invalid_argument, opt_.directory,
                           "not a Cairn log: no " + std::string(format::kMetaFileName) +
                               " and other files present (e.g. " + listing.other.front() + ")");
  }
  if (Status meta = read_meta(); !meta.ok()) {
    // Another format version is a clear refusal; anything else wrong with the
    // meta file of a directory that holds segments is damage.
    const bool other_version = meta.message().find("format version") != std::string::npos;
    if (meta.code() == Errc::invalid_argument && !other_version && !listing.segments.empty()) {
      return Status::at(Errc::corruption, meta.path(), 0, meta.message());
    }
    return meta;
  }
  CAIRN_TRY(remove_tmp_files(listing));
  if (listing.has_recovery_point && opt_.use_recovery_point) {
    point_ = read_recovery_point();
  }
  for (std::size_t i = 0; i < listing.segments.size(); ++i) {
    const auto& [base, name] = listing.segments[i];
    CAIRN_TRY(recover_segment(i, base, name, i + 1 == listing.segments.size()));
  }
  log_.next_lsn = log_.segments.empty() ? 0 : log_.segments.back().end_lsn;
  note("recovered: " + std::to_string(log_.segments.size()) + " segment(s), next LSN " +
       std::to_string(log_.next_lsn) +
       (log_.clean_shutdown ? ", clean shutdown" : ", tail scanned"));
  return std::move(log_);
}

Status Recovery::read_meta() {
  const std::string meta_path = path(format::kMetaFileName);
  CAIRN_ASSIGN_OR_RETURN(std::string bytes, read_small_file(fs_, meta_path, format::kMetaBytes));
  auto meta = format::decode_meta(std::as_bytes(std::span(bytes)));
  if (!meta) {
    return Status::at(meta.error().code(), meta_path, 0, meta.error().message());
  }
  log_.meta = *meta;
  return Status();
}

Status Recovery::remove_tmp_files(const DirectoryListing& listing) {
  for (const auto& name : listing.tmp_files) {
    // A tmp file is a segment (or quarantine copy) whose creation did not
    // finish; nothing in it was ever acknowledged.
    repair("leftover " + name + ": " + (opt_.dry_run ? "would remove" : "removed"));
    if (!opt_.dry_run) {
      CAIRN_TRY(fs_.remove(path(name)));
    }
  }
  if (!listing.tmp_files.empty() && !opt_.dry_run) {
    CAIRN_TRY(fs_.sync_dir(opt_.directory));
  }
  return Status();
}

std::optional<format::RecoveryPoint> Recovery::read_recovery_point() {
  auto bytes =
      read_small_file(fs_, path(format::kRecoveryPointFileName), format::kRecoveryPointBytes);
  if (!bytes) {
    note("recovery point unreadable (" + bytes.error().to_string() + "): tail will be scanned");
    return std::nullopt;
  }
  auto point = format::decode_recovery_point(std::as_bytes(std::span(*bytes)));
  if (!point || point->log_id != log_.meta.log_id) {
    // Derived data: never trusted over the log, so a bad one only costs a scan.
    note("recovery point invalid: tail will be scanned");
    return std::nullopt;
  }
  return *point;
}

Status Recovery::recover_segment(std::size_t index, std::uint64_t base, const std::string& name,
                                 bool is_last) {
  const bool writable = is_last && !opt_.dry_run;
  CAIRN_ASSIGN_OR_RETURN(auto file, fs_.open(path(name), writable ? io::OpenMode::read_write
                                                                  : io::OpenMode::read_only));
  auto header = read_segment_header(*file);
  if (!header && header.error().code() == Errc::invalid_argument &&
      header.error().message().find("format version") == std::string::npos) {
    // A file named as a segment in a log directory whose header is not one:
    // damage, not a foreign file (SPEC.md section 10.3).
    header = Status::at(Errc::corruption, file->path(), 0, header.error().message());
  }
  if (!header) {
    if (is_last && header.error().code() == Errc::corruption) {
      return handle_unreadable_last(name, header.error());
    }
    return header.error();
  }
  if (header->log_id != log_.meta.log_id) {
    return Status::at(Errc::corruption, file->path(), 16,
                      "segment belongs to another log (log id differs from the meta file)");
  }
  if (header->base_lsn != base) {
    return Status::at(Errc::corruption, file->path(), 24, "base LSN differs from the file name");
  }
  // Format version 1 has no retention, so the log always starts at LSN 0.
  const std::uint64_t expected = index == 0 ? 0 : log_.segments.back().end_lsn;
  if (base != expected) {
    return Status::at(Errc::corruption, file->path(), 0,
                      "missing segment: expected base LSN " + std::to_string(expected) +
                          ", found " + std::to_string(base));
  }
  SegmentInfo info{name, base, base, false, *header, {}};
  if (is_last) {
    CAIRN_TRY(recover_tail(info, *file));
  } else {
    CAIRN_TRY(recover_sealed(info, *file));
  }
  log_.segments.push_back(std::move(info));
  return Status();
}

Status Recovery::recover_sealed(SegmentInfo& info, const io::File& file) {
  std::uint64_t end_lsn = 0;
  CAIRN_ASSIGN_OR_RETURN(auto seal, read_seal(file, info.header, &end_lsn));
  if (seal && !opt_.verify_all && !opt_.strict) {
    // Sealed segments were fdatasynced before their successor existed; the
    // seal is enough to know their extent. verify_all checks the contents.
    info.sealed = true;
    info.end_lsn = end_lsn;
    info.end.next_lsn = end_lsn;
    info.end.chain = seal->chain;
    info.end.record_count = seal->record_count;
    return Status();
  }
  CAIRN_ASSIGN_OR_RETURN(SegmentScan scan, scan_segment(file, info.header));
  scan.facts.is_last_segment = false;
  const TailDecision d = decide_tail(scan.facts);
  if (d.action != TailAction::clean) {
    return Status::at(Errc::corruption, file.path(), scan.end.position, d.reason);
  }
  info.sealed = true;
  info.end_lsn = scan.end.next_lsn;
  info.end = scan.end;
  return Status();
}

Status Recovery::recover_tail(SegmentInfo& info, io::File& file) {
  const auto& p = point_;
  if (p && p->tail_base_lsn == info.base_lsn && !opt_.verify_all && !opt_.strict &&
      p->tail_end_position >= format::kSegmentHeaderBlockBytes &&
      p->tail_end_position % format::kRecordAlignment == 0 &&
      p->tail_end_position <= info.header.segment_bytes - format::kSealRecordBytes) {
    info.end = {p->tail_end_position, p->next_lsn, p->tail_chain, p->tail_record_count};
    info.end_lsn = p->next_lsn;
    log_.clean_shutdown = true;
    return Status();
  }
  RecordVisitor visit;
  if (opt_.tail_visitor) {
    visit = [&](const format::RecordView& view) { opt_.tail_visitor(info.header, view); };
  }
  CAIRN_ASSIGN_OR_RETURN(SegmentScan scan, scan_segment(file, info.header, visit));
  scan.facts.is_last_segment = true;
  scan.facts.strict = opt_.strict;
  if (p && p->tail_base_lsn == info.base_lsn) {
    // A clean close made everything below the point's next LSN durable:
    // the point is proof like a later record (verify and strict get here).
    scan.facts.later_records += 1;
    scan.facts.later_max_prior_durable_lsn =
        std::max(scan.facts.later_max_prior_durable_lsn, p->next_lsn);
  }
  const TailDecision d = decide_tail(scan.facts);
  info.sealed = scan.sealed;
  info.end = scan.end;
  info.end_lsn = scan.end.next_lsn;
  // V: where the records end and the writer continues (see fill_facts).
  const std::uint64_t v = scan.sealed ? scan.end.position : scan.facts.valid_end;
  info.end.position = v;
  if (d.action == TailAction::refuse) {
    return Status::at(Errc::corruption, file.path(), v, d.reason);
  }
  if (d.action == TailAction::zero_fill) {
    log_.torn_tail_found = true;
    repair(info.name + ":" + std::to_string(v) + ": " + d.reason + "; " +
           (opt_.dry_run ? "would zero-fill" : "zero-filled") + " from position " +
           std::to_string(v));
    if (!opt_.dry_run) {
      CAIRN_TRY(zero_fill(info, file, scan));
    }
  }
  // SPEC.md 10.4: after a clean or zero-fill decision a short file is
  // extended, and this is reported (zero_fill() above already extended it).
  if (scan.file_bytes < info.header.segment_bytes) {
    if (opt_.strict) {
      return Status::at(Errc::corruption, file.path(), scan.file_bytes,
                        "file is shorter than its segment size; strict mode refuses to extend it");
    }
    repair(info.name + ": file shorter than its segment size; " +
           (opt_.dry_run ? "would extend" : "extended") + " with zeros");
    if (!opt_.dry_run && d.action == TailAction::clean) {
      CAIRN_TRY(file.truncate(info.header.segment_bytes));
      CAIRN_TRY(file.sync_data());
    }
  }
  return Status();
}

Status Recovery::handle_unreadable_last(const std::string& name, const Status& why) {
  // A last segment whose header never became durable: creation writes the
  // header and fdatasyncs before the rename, so this takes damage outside
  // our crash model. Only safe to set aside when nothing else is in it.
  CAIRN_ASSIGN_OR_RETURN(auto file, fs_.open(path(name), io::OpenMode::read_only));
  CAIRN_ASSIGN_OR_RETURN(bool records_empty,
                         all_zero_from(*file, format::kSegmentHeaderBlockBytes));
  if (!records_empty || opt_.strict) {
    return why;
  }
  repair(name + ": header unreadable (" + why.message() + ") and no records; " +
         (opt_.dry_run ? "would set aside" : "set aside") + " as " + name + format::kBrokenSuffix);
  if (!opt_.dry_run) {
    CAIRN_TRY(fs_.rename(path(name), path(name + format::kBrokenSuffix)));
    CAIRN_TRY(fs_.sync_dir(opt_.directory));
  }
  return Status();
}

Status Recovery::zero_fill(const SegmentInfo& info, io::File& file, const SegmentScan& scan) {
  const std::uint64_t from = scan.facts.valid_end;
  const std::uint64_t to = std::min<std::uint64_t>(scan.file_bytes, scan.facts.seal_slot_nonzero
                                                                        ? info.header.segment_bytes
                                                                        : scan.facts.nonzero_end);
  if (to > from) {
    CAIRN_TRY(copy_to_broken(info, file, from, to));
    // Zeros make the end marker (SPEC.md section 5.4): nothing stale after
    // the valid end can ever parse again.
    std::vector<std::byte> zeros(std::min<std::uint64_t>(to - from, 1u << 20));
    for (std::uint64_t at = from; at < to; at += zeros.size()) {
      const std::size_t n =
          static_cast<std::size_t>(std::min<std::uint64_t>(zeros.size(), to - at));
      CAIRN_TRY(file.write_at(at, std::span(zeros).first(n)));
    }
  }
  if (scan.file_bytes < info.header.segment_bytes) {
    CAIRN_TRY(file.truncate(info.header.segment_bytes));
  }
  return file.sync_data();
}

Status Recovery::copy_to_broken(const SegmentInfo& info, const io::File& file, std::uint64_t from,
                                std::uint64_t to) {
  const std::string broken = info.name + "." + std::to_string(from) + format::kBrokenSuffix;
  CAIRN_ASSIGN_OR_RETURN(bool exists, fs_.exists(path(broken)));
  if (exists) {
    // An earlier recovery crashed after quarantining; its copy is the fuller one.
    return Status();
  }
  std::vector<std::byte> bytes(to - from);
  CAIRN_ASSIGN_OR_RETURN(std::size_t got, file.read_at(from, bytes));
  bytes.resize(got);
  const std::string tmp = path(broken + format::kTmpSuffix);
  CAIRN_ASSIGN_OR_RETURN(auto out, fs_.open(tmp, io::OpenMode::create));
  CAIRN_TRY(out->truncate(0));
  CAIRN_TRY(out->write_at(0, bytes));
  CAIRN_TRY(out->sync_data());
  CAIRN_TRY(fs_.rename(tmp, path(broken)));
  CAIRN_TRY(fs_.sync_dir(opt_.directory));
  note("copied damaged bytes [" + std::to_string(from) + ", " + std::to_string(to) + ") to " +
       broken);
  return Status();
}

}  // namespace

Result<RecoveredLog> recover(io::FileSystem& fs, const RecoveryOptions& options) {
  Recovery recovery(fs, options);
  return recovery.run();
}

Status refuse_non_directory(const Status& error, const std::string& dir) {
  if (error.sys_errno() == ENOTDIR) {
    return Status::in_file(Errc::invalid_argument, dir, "not a directory (a log is a directory)");
  }
  return error;
}

Result<std::vector<std::string>> list_log_directory(io::FileSystem& fs, const std::string& dir) {
  auto names = fs.list(dir);
  if (!names) {
    return refuse_non_directory(names.error(), dir);
  }
  return names;
}

}  // namespace cairn::recovery
