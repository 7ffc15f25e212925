#include "engine/segment_store.h"

#include <cairn/assert.h>

#include <vector>

#include "format/checksum.h"
#include "format/layout.h"
#include "format/names.h"

namespace cairn::engine {

std::shared_ptr<const io::MappedBytes> Segment::sealed_bytes() {
  if (!sealed.load(std::memory_order_acquire)) {
    return nullptr;
  }
  std::lock_guard lock(map_mu_);
  if (!map_tried_) {
    map_tried_ = true;
    auto mapped = file->map(header.segment_bytes);
    if (mapped) {
      mapped_ = std::move(*mapped);
    } else {
      mapped.error().ignore();  // read_at() reports what is wrong, if anything
    }
  }
  return mapped_;
}

std::uint64_t Segment::seal_position() const {
  return header.segment_bytes - format::kSealRecordBytes;
}

SegmentStore::SegmentStore(std::shared_ptr<io::FileSystem> fs, std::string directory)
    : fs_(std::move(fs)), directory_(std::move(directory)) {}

std::string SegmentStore::path(const std::string& name) const {
  return format::join_path(directory_, name);
}

Status SegmentStore::write_file_durably(const std::string& name, std::span<const std::byte> bytes) {
  const std::string tmp = path(name + format::kTmpSuffix);
  CAIRN_ASSIGN_OR_RETURN(auto file, fs_->open(tmp, io::OpenMode::create));
  CAIRN_TRY(file->truncate(0));
  CAIRN_TRY(file->write_at(0, bytes));
  CAIRN_TRY(file->sync_data());
  CAIRN_TRY(fs_->rename(tmp, path(name)));
  return fs_->sync_dir(directory_);
}

Status SegmentStore::create_meta(const format::MetaRecord& meta) {
  std::array<std::byte, format::kMetaBytes> bytes;
  format::encode_meta(meta, bytes);
  return write_file_durably(format::kMetaFileName, bytes);
}

Status SegmentStore::write_recovery_point(const format::RecoveryPoint& point) {
  std::array<std::byte, format::kRecoveryPointBytes> bytes;
  format::encode_recovery_point(point, bytes);
  return write_file_durably(format::kRecoveryPointFileName, bytes);
}

Status SegmentStore::remove_recovery_point() {
  const std::string p = path(format::kRecoveryPointFileName);
  CAIRN_ASSIGN_OR_RETURN(bool exists, fs_->exists(p));
  if (!exists) {
    return Status();
  }
  CAIRN_TRY(fs_->remove(p));
  return fs_->sync_dir(directory_);
}

Result<std::unique_ptr<io::File>> SegmentStore::prepare_file(const std::string& tmp_name,
                                                             std::uint64_t segment_bytes) {
  CAIRN_ASSIGN_OR_RETURN(auto file, fs_->open(path(tmp_name), io::OpenMode::create));
  CAIRN_TRY(file->truncate(0));
  // allocate() first so that a full disk fails here, before any event, with
  // a clean no_space, rather than in the middle of a batch.
  CAIRN_TRY(file->allocate(0, segment_bytes));
  std::vector<std::byte> zeros(std::min<std::uint64_t>(segment_bytes, 1u << 20));
  for (std::uint64_t at = 0; at < segment_bytes; at += zeros.size()) {
    const auto n =
        static_cast<std::size_t>(std::min<std::uint64_t>(zeros.size(), segment_bytes - at));
    CAIRN_TRY(file->write_at(at, std::span(zeros).first(n)));
  }
  CAIRN_TRY(file->sync_data());
  return file;
}

Result<std::shared_ptr<Segment>> SegmentStore::create_segment(const format::SegmentHeader& header,
                                                              std::unique_ptr<io::File> prepared) {
  const std::string name = format::segment_file_name(header.base_lsn);
  if (!prepared) {
    CAIRN_ASSIGN_OR_RETURN(prepared, prepare_file(name + format::kTmpSuffix, header.segment_bytes));
  }
  std::array<std::byte, format::kSegmentHeaderBytes> bytes;
  format::encode_segment_header(header, bytes);
  CAIRN_TRY(prepared->write_at(0, bytes));
  CAIRN_TRY(prepared->sync_data());
  const std::string tmp_path = prepared->path();
  CAIRN_TRY(fs_->rename(tmp_path, path(name)));
  // Until the directory is synced the name may vanish in a power loss, so no
  // event may be acknowledged in this segment before this returns.
  CAIRN_TRY(fs_->sync_dir(directory_));
  // Reopen under its final name: File::path() names the file in errors.
  return open_segment(name, header);
}

Result<std::shared_ptr<Segment>> SegmentStore::open_segment(const std::string& name,
                                                            const format::SegmentHeader& header,
                                                            io::OpenMode mode) {
  CAIRN_ASSIGN_OR_RETURN(auto file, fs_->open(path(name), mode));
  auto segment = std::make_shared<Segment>();
  segment->name = name;
  segment->path = path(name);
  segment->header = header;
  segment->seed = format::record_seed(header.log_id, header.base_lsn);
  segment->file = std::move(file);
  segment->readable_end = format::kSegmentHeaderBlockBytes;
  segment->end_lsn = header.base_lsn;
  return segment;
}

SegmentPreparer::SegmentPreparer(SegmentStore& store, std::uint64_t segment_bytes, bool background)
    : store_(store), segment_bytes_(segment_bytes), background_(background) {
  if (background_) {
    thread_ = std::thread([this] { run(); });
  }
}

SegmentPreparer::~SegmentPreparer() { stop(); }

void SegmentPreparer::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
  std::lock_guard lock(mu_);
  if (ready_) {
    // Only a spare: recovery would remove the tmp file anyway.
    const std::string path = ready_->path();
    ready_.reset();
    store_.fs().remove(path).ignore();
  }
}

std::string SegmentPreparer::next_tmp_name() {
  return "prepared." + std::to_string(counter_++) + format::kTmpSuffix;
}

void SegmentPreparer::request() {
  if (!background_) {
    return;
  }
  std::lock_guard lock(mu_);
  if (ready_ == nullptr && !busy_ && ready_status_.ok()) {
    want_ = true;
    cv_.notify_all();
  }
}

Result<std::unique_ptr<io::File>> SegmentPreparer::take() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return !busy_ && !want_; });
  if (!ready_status_.ok()) {
    // The log is poisoned by the caller; a reopen starts afresh.
    return ready_status_;
  }
  if (ready_) {
    return std::move(ready_);
  }
  const std::string name = next_tmp_name();
  lock.unlock();
  return store_.prepare_file(name, segment_bytes_);
}

void SegmentPreparer::run() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return want_ || stopping_; });
    if (stopping_) {
      return;
    }
    want_ = false;
    busy_ = true;
    const std::string name = next_tmp_name();
    lock.unlock();
    auto file = store_.prepare_file(name, segment_bytes_);
    lock.lock();
    busy_ = false;
    if (file) {
      ready_ = std::move(*file);
    } else {
      ready_status_ = file.error();
    }
    cv_.notify_all();
  }
}

}  // namespace cairn::engine
