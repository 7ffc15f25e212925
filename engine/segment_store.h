// The files of a log directory as the engine creates them (SPEC.md section
// 2): the meta file, new segments, the recovery point. Every new file is made
// durable before anything depends on it: tmp file -> preallocate -> bytes ->
// fdatasync -> rename -> fsync of the directory (BRIEF rule 4).
#pragma once

#include <cairn/file_system.h>
#include <cairn/status.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "engine/segment.h"
#include "format/codec.h"

namespace cairn::engine {

class SegmentStore {
 public:
  SegmentStore(std::shared_ptr<io::FileSystem> fs, std::string directory);

  io::FileSystem& fs() { return *fs_; }
  const std::string& directory() const { return directory_; }
  std::string path(const std::string& name) const;

  // Writes `bytes` as file `name` the durable way (tmp, fdatasync, rename,
  // fsync of the directory).
  Status write_file_durably(const std::string& name, std::span<const std::byte> bytes);
  Status create_meta(const format::MetaRecord& meta);
  Status write_recovery_point(const format::RecoveryPoint& point);
  // Removes the recovery point, durably: after this, a crash means a scan.
  Status remove_recovery_point();

  // Makes a new, empty, durable segment for `header`. With a prepared file
  // (see SegmentPreparer) only the header, one fdatasync, the rename and the
  // directory fsync remain to be done.
  Result<std::shared_ptr<Segment>> create_segment(const format::SegmentHeader& header,
                                                  std::unique_ptr<io::File> prepared);
  // Opens an existing segment that recovery accepted.
  Result<std::shared_ptr<Segment>> open_segment(const std::string& name,
                                                const format::SegmentHeader& header,
                                                io::OpenMode mode = io::OpenMode::read_write);

  // A tmp file of `segment_bytes` whose blocks are written with zeros and
  // fdatasynced: writes into it later need no extent conversion, so their
  // fdatasync is cheaper (measured in BRIEF section 4).
  Result<std::unique_ptr<io::File>> prepare_file(const std::string& tmp_name,
                                                 std::uint64_t segment_bytes);

 private:
  std::shared_ptr<io::FileSystem> fs_;
  std::string directory_;
};

// Prepares the next segment file on a background thread so that a roll does
// not wait for 64 MiB of zeros. At most one file is prepared ahead, and only
// once asked (when the tail is half full), so a short-lived process that
// appends a few events writes no spare segment.
class SegmentPreparer {
 public:
  SegmentPreparer(SegmentStore& store, std::uint64_t segment_bytes, bool background);
  ~SegmentPreparer();
  SegmentPreparer(const SegmentPreparer&) = delete;
  SegmentPreparer& operator=(const SegmentPreparer&) = delete;

  // Starts preparing a file in the background if none is ready or underway
  // (no-op in foreground mode).
  void request();
  // A prepared file: the one prepared ahead, or one prepared now.
  Result<std::unique_ptr<io::File>> take();
  // Stops the thread and removes a prepared file nobody took.
  void stop();

 private:
  void run();
  std::string next_tmp_name();

  SegmentStore& store_;
  std::uint64_t segment_bytes_;
  bool background_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool want_ = false;
  bool busy_ = false;
  bool stopping_ = false;
  std::unique_ptr<io::File> ready_;
  Status ready_status_;
  std::uint64_t counter_ = 0;
  std::thread thread_;
};

}  // namespace cairn::engine
