// Recovery: brings a log directory to a state the writer can continue from,
// and says what it found and did. Runs on every open (cheap when the last
// shutdown was clean) and behind `cairn recover` / `cairn verify`.
//
// It follows the decision table of SPEC.md section 10: a torn tail of the
// last segment that no surviving record proves acknowledged is zero-filled
// (after a copy to <segment>.<position>.broken); anything else that is not
// clean is refused as corruption naming the file and position. Recovery is
// idempotent: a crash at any step of it, then recovery again, gives the same
// log.
#pragma once

#include <cairn/file_system.h>
#include <cairn/status.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "format/codec.h"
#include "format/scanner.h"

namespace cairn::recovery {

struct RecoveryOptions {
  std::string directory;
  bool strict = false;      // refuse on any anomaly, torn tail included
  bool dry_run = false;     // decide and report, change nothing
  bool verify_all = false;  // scan every segment, not just the tail (verify)
  bool use_recovery_point = true;
  // Called for every record the scan of the last segment accepts, in order
  // (when that segment is scanned): lets the engine build the tail's index
  // from the same read instead of scanning the tail twice.
  std::function<void(const format::SegmentHeader&, const format::RecordView&)> tail_visitor;
};

struct SegmentInfo {
  std::string name;
  std::uint64_t base_lsn = 0;
  std::uint64_t end_lsn = 0;  // one past its last event
  bool sealed = false;
  format::SegmentHeader header;
  // For the tail (the last segment, unsealed): where the next record goes.
  format::ScanState end;
};

struct RecoveredLog {
  bool empty_directory = false;  // no meta file and nothing else: a new log
  format::MetaRecord meta;
  std::vector<SegmentInfo> segments;  // base-LSN order
  std::uint64_t next_lsn = 0;
  bool clean_shutdown = false;   // a matching recovery point was used
  bool torn_tail_found = false;  // a zero-fill was decided (and done unless dry run)
  // Repairs decided (and done unless dry run): removals, zero-fills,
  // extensions, set-asides. 0: recovery changes no byte of the log.
  std::uint64_t repairs = 0;
  std::vector<std::string> report;  // one line per finding or action
};

Result<RecoveredLog> recover(io::FileSystem& fs, const RecoveryOptions& options);

// A call on a log directory `dir` that failed with ENOTDIR (a file given
// where a log is expected) becomes invalid_argument, a usage error, instead
// of an I/O error; any other error is returned as it is.
Status refuse_non_directory(const Status& error, const std::string& dir);

// The names in a log directory, with refuse_non_directory applied.
Result<std::vector<std::string>> list_log_directory(io::FileSystem& fs, const std::string& dir);

}  // namespace cairn::recovery
