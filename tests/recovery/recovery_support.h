// Helpers shared by the recovery tests: snapshots of a log directory on the
// crash model and fresh copies of them, the record layout of a segment (from
// the shared scanner), a FileSystem wrapper that counts bytes read per file,
// and reading a log back without stopping the test at the first error.
#pragma once

#include <cairn/log.h>
#include <cairn/testing/mem_file_system.h>
#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "format/checksum.h"
#include "format/codec.h"
#include "format/layout.h"
#include "format/names.h"
#include "format/record.h"
#include "format/scanner.h"
#include "tests/support/test_log.h"

namespace cairn::recovery_test {

using testing::MemFileSystem;

// Every file of a log directory, by name (not path), with its current bytes.
// LOCK is left out: it holds nothing, and Log::open creates it.
using Snapshot = std::map<std::string, std::string>;

inline std::string dir_path(const std::string& name, const std::string& dir = test::kDir) {
  return format::join_path(dir, name);
}

inline std::string seg_name(std::uint64_t base) { return format::segment_file_name(base); }

inline Snapshot take_snapshot(MemFileSystem& fs, const std::string& dir = test::kDir) {
  Snapshot out;
  auto names = fs.list(dir);
  REQUIRE_MESSAGE(names.has_value(), names.status().to_string());
  for (const auto& name : *names) {
    if (name == format::kLockFileName) {
      continue;
    }
    auto bytes = fs.read_file(dir_path(name, dir));
    REQUIRE_MESSAGE(bytes.has_value(), bytes.status().to_string());
    out.emplace(name, std::move(*bytes));
  }
  return out;
}

// A fresh crash model holding exactly `snapshot` in `dir`, all of it durable
// (create + write + sync_data for each file, then sync_dir).
inline std::shared_ptr<MemFileSystem> rebuild(const Snapshot& snapshot,
                                              const std::string& dir = test::kDir) {
  auto fs = std::make_shared<MemFileSystem>();
  REQUIRE(fs->create_dir(dir).ok());
  REQUIRE(fs->sync_dir(format::parent_path(dir)).ok());
  for (const auto& [name, bytes] : snapshot) {
    auto file = fs->open(dir_path(name, dir), io::OpenMode::create);
    REQUIRE_MESSAGE(file.has_value(), file.status().to_string());
    if (!bytes.empty()) {
      REQUIRE((*file)->write_at(0, std::as_bytes(std::span(bytes))).ok());
    }
    REQUIRE((*file)->sync_data().ok());
  }
  REQUIRE(fs->sync_dir(dir).ok());
  return fs;
}

// One record of a segment, as the shared scanner found it.
struct RecordLayout {
  std::uint64_t position = 0;
  std::size_t record_bytes = 0;
  std::size_t body_bytes = 0;
  std::uint64_t lsn = 0;
  std::uint32_t event_count = 0;
  std::uint64_t prior_durable_lsn = 0;
  bool seal = false;
  std::uint64_t end() const { return position + record_bytes; }
  // [padding_begin(), end()) is the zero padding after the body.
  std::uint64_t padding_begin() const { return position + format::kRecordHeaderBytes + body_bytes; }
};

struct SegmentLayout {
  std::string name;
  format::SegmentHeader header;
  std::vector<RecordLayout> batches;  // in order
  std::optional<RecordLayout> seal;
  std::uint64_t records_end = format::kSegmentHeaderBlockBytes;  // after the last batch
  std::uint64_t end_lsn = 0;
  format::ScanStop stop = format::ScanStop::none;
  std::uint64_t seal_slot() const { return header.segment_bytes - format::kSealRecordBytes; }
};

// Scans an intact segment and REQUIREs that it scans to its seal or to zeros.
inline SegmentLayout layout_of(const std::string& name, const std::string& bytes) {
  SegmentLayout out;
  out.name = name;
  const auto span = std::as_bytes(std::span(bytes));
  auto header = format::decode_segment_header(span);
  REQUIRE_MESSAGE(header.has_value(), header.status().to_string());
  out.header = *header;
  const std::uint64_t seed = format::record_seed(header->log_id, header->base_lsn);
  format::RecordScanner scanner(span, 0, seed, header->base_lsn,
                                format::ScanState::segment_start(header->base_lsn, seed),
                                format::kRecordBytesMax, header->segment_bytes);
  format::RecordView view;
  out.end_lsn = header->base_lsn;
  while (scanner.next(view)) {
    RecordLayout r;
    r.position = view.position;
    r.record_bytes = view.record_bytes;
    r.body_bytes = view.header.body_bytes;
    r.lsn = view.header.lsn;
    r.event_count = view.header.event_count;
    r.prior_durable_lsn = view.header.prior_durable_lsn;
    r.seal = view.header.kind == static_cast<std::uint16_t>(format::RecordKind::seal);
    if (r.seal) {
      out.seal = r;
    } else {
      out.batches.push_back(r);
      out.records_end = r.end();
      out.end_lsn = r.lsn + r.event_count;
    }
  }
  out.stop = scanner.stop();
  REQUIRE((out.stop == format::ScanStop::sealed || out.stop == format::ScanStop::zero_header));
  return out;
}

// Layouts of every segment of a snapshot, in base-LSN order.
inline std::vector<SegmentLayout> layouts_of(const Snapshot& snapshot) {
  std::vector<SegmentLayout> out;
  for (const auto& [name, bytes] : snapshot) {
    if (format::parse_segment_file_name(name)) {
      out.push_back(layout_of(name, bytes));
    }
  }
  return out;
}

// Reads the whole log; stops at the first error and returns it with what
// was read before it.
struct ReadBack {
  std::vector<Event> events;
  Status error;
};

inline ReadBack read_back(Log& log) {
  ReadBack out;
  auto reader = log.read_from(0);
  if (!reader) {
    out.error = reader.error();
    return out;
  }
  EventView v;
  while (true) {
    auto more = (*reader)->next(v);
    if (!more) {
      out.error = more.error();
      return out;
    }
    if (!*more) {
      return out;
    }
    out.events.push_back(Event::from_view(v));
  }
}

// What a test appended: event i has LSN i (one event per record).
struct AppendedEvent {
  std::string stream;
  std::string data;
};

// True when `events` are exactly the first events.size() of `model`, at
// their LSNs, byte-identical. Reports the first difference.
inline bool is_prefix_of_model(const std::vector<Event>& events,
                               const std::vector<AppendedEvent>& model, std::string* why) {
  if (events.size() > model.size()) {
    *why = "read " + std::to_string(events.size()) + " events, only " +
           std::to_string(model.size()) + " were appended";
    return false;
  }
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (events[i].lsn != i || events[i].stream != model[i].stream ||
        events[i].data != model[i].data || events[i].type != "t") {
      *why = "event " + std::to_string(i) + " differs from what was appended";
      return false;
    }
  }
  return true;
}

// A FileSystem that forwards to another and counts, per path, the bytes read
// through its Files: proof of which files (and how much of them) recovery
// reads.
class CountingFileSystem : public io::FileSystem {
 public:
  explicit CountingFileSystem(std::shared_ptr<io::FileSystem> inner)
      : inner_(std::move(inner)), counts_(std::make_shared<Counts>()) {}

  Result<std::unique_ptr<io::File>> open(const std::string& path, io::OpenMode mode) override {
    CAIRN_ASSIGN_OR_RETURN(auto file, inner_->open(path, mode));
    return std::unique_ptr<io::File>(std::make_unique<CountingFile>(std::move(file), counts_));
  }
  Status rename(const std::string& from, const std::string& to) override {
    return inner_->rename(from, to);
  }
  Status remove(const std::string& path) override { return inner_->remove(path); }
  Status sync_dir(const std::string& dir) override { return inner_->sync_dir(dir); }
  Result<std::vector<std::string>> list(const std::string& dir) override {
    return inner_->list(dir);
  }
  Status create_dir(const std::string& dir) override { return inner_->create_dir(dir); }
  Result<bool> exists(const std::string& path) override { return inner_->exists(path); }
  Result<std::unique_ptr<io::FileLock>> lock(const std::string& path) override {
    return inner_->lock(path);
  }
  std::string name() const override { return "counting(" + inner_->name() + ")"; }

  // Bytes read from `path` so far.
  std::uint64_t bytes_read(const std::string& path) const {
    std::lock_guard guard(counts_->mu);
    auto it = counts_->read.find(path);
    return it == counts_->read.end() ? 0 : it->second;
  }
  void reset() {
    std::lock_guard guard(counts_->mu);
    counts_->read.clear();
  }

 private:
  struct Counts {
    mutable std::mutex mu;
    std::map<std::string, std::uint64_t> read;
  };
  class CountingFile : public io::File {
   public:
    CountingFile(std::unique_ptr<io::File> inner, std::shared_ptr<Counts> counts)
        : inner_(std::move(inner)), counts_(std::move(counts)) {}
    Status write_at(std::uint64_t position, std::span<const std::byte> bytes) override {
      return inner_->write_at(position, bytes);
    }
    Result<std::size_t> read_at(std::uint64_t position, std::span<std::byte> out) const override {
      auto got = inner_->read_at(position, out);
      if (got) {
        std::lock_guard guard(counts_->mu);
        counts_->read[inner_->path()] += *got;
      }
      return got;
    }
    Status sync_data() override { return inner_->sync_data(); }
    Status write_and_sync(std::span<const io::WriteOp> ops) override {
      return inner_->write_and_sync(ops);
    }
    Status allocate(std::uint64_t position, std::uint64_t bytes) override {
      return inner_->allocate(position, bytes);
    }
    Result<std::uint64_t> size() const override { return inner_->size(); }
    Status truncate(std::uint64_t bytes) override { return inner_->truncate(bytes); }
    const std::string& path() const override { return inner_->path(); }

   private:
    std::unique_ptr<io::File> inner_;
    std::shared_ptr<Counts> counts_;
  };

  std::shared_ptr<io::FileSystem> inner_;
  std::shared_ptr<Counts> counts_;
};

}  // namespace cairn::recovery_test
