// RocksDB as an event store: each append is one WriteBatch with
// "s|<stream>|<version, big-endian>" -> LSN (the stream index) and
// "g|<LSN, big-endian>" -> the event (the global log), written with
// WriteOptions::sync = true. RocksDB group-commits concurrent writers itself.
// Options are the defaults an application starts from (plus
// create_if_missing). The global LSN comes from an atomic counter; RocksDB
// has no notion of one. A multi-event append is one WriteBatch of all its
// events. A stream read iterates the prefix "s|<stream>|" (with an upper
// bound, so the iterator stops at the prefix's end) and fetches the events
// with one batched MultiGet of their "g|" keys.
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/version.h>
#include <rocksdb/write_batch.h>

#include <array>
#include <atomic>
#include <cstring>
#include <vector>

#include "peer.h"

namespace cairn_bench {
namespace {

class RocksdbPeer final : public Peer {
 public:
  ~RocksdbPeer() override { close(); }

  std::string name() const override { return "rocksdb"; }
  std::string describe() const override {
    return "RocksDB " + std::to_string(ROCKSDB_MAJOR) + "." + std::to_string(ROCKSDB_MINOR) + "." +
           std::to_string(ROCKSDB_PATCH) +
           ", default options, WriteOptions::sync=true, one WriteBatch (stream key + global "
           "key) per append; replay: iterator over g| with verify_checksums, fill_cache=false, "
           "readahead 4 MiB";
  }
  bool replay_verifies_checksums() const override { return true; }

  Error open(const PeerOptions& options) override {
    rocksdb::Options o;
    o.create_if_missing = true;
    path_ = options.directory + "/rocksdb";
    rocksdb::DB* db = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(o, path_, &db);
    if (!s.ok()) {
      return "rocksdb open " + path_ + ": " + s.ToString();
    }
    db_.reset(db);
    // Continue the LSN sequence of an existing database (reopen for replay).
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    it->SeekForPrev("g|\xff");
    if (it->Valid() && it->key().starts_with("g|") && it->key().size() == 10) {
      next_lsn_ = get_be64(it->key().data() + 2) + 1;
    }
    return {};
  }

  Error append(int /*thread*/, const EventRef& event) override {
    rocksdb::WriteBatch batch;
    add(batch, next_lsn_.fetch_add(1, std::memory_order_relaxed), event);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    return check(db_->Write(wo, &batch), "write");
  }

  Error append_many(int /*thread*/, std::span<const EventRef> events) override {
    rocksdb::WriteBatch batch;
    std::uint64_t lsn = next_lsn_.fetch_add(events.size(), std::memory_order_relaxed);
    for (const EventRef& event : events) {
      add(batch, lsn++, event);
    }
    rocksdb::WriteOptions wo;
    wo.sync = true;
    return check(db_->Write(wo, &batch), "write");
  }

  Error load(std::span<const EventRef> events) override {
    rocksdb::WriteBatch batch;
    for (const EventRef& event : events) {
      add(batch, next_lsn_.fetch_add(1, std::memory_order_relaxed), event);
    }
    return check(db_->Write(rocksdb::WriteOptions(), &batch), "write");
  }

  Error flush() override { return check(db_->FlushWAL(true), "FlushWAL(sync)"); }

  Error settle() override { return check(db_->Flush(rocksdb::FlushOptions()), "Flush"); }

  Error replay(ReplaySink& sink) override {
    rocksdb::ReadOptions ro;
    ro.verify_checksums = true;
    // What the RocksDB wiki recommends for a bulk scan: do not churn the
    // block cache, read ahead in large chunks.
    ro.fill_cache = false;
    ro.readahead_size = 4u << 20;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
    for (it->Seek("g|"); it->Valid(); it->Next()) {
      rocksdb::Slice key = it->key();
      if (!key.starts_with("g|")) {
        break;
      }
      if (key.size() != 10) {
        return "rocksdb: bad global key of " + std::to_string(key.size()) + " bytes";
      }
      rocksdb::Slice value = it->value();
      sink.on(get_be64(key.data() + 2),
              event_value_data(std::string_view(value.data(), value.size())));
    }
    return check(it->status(), "iterate");
  }

  Error read_stream(std::string_view stream, StreamSink& sink) override {
    std::string prefix;
    prefix.reserve(2 + stream.size() + 1);
    prefix.append("s|").append(stream).push_back('|');
    std::string upper = prefix;
    upper.back() = static_cast<char>('|' + 1);
    rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions ro;  // verify_checksums is on by default
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
    global_keys_.clear();
    versions_.clear();
    for (it->Seek(prefix); it->Valid(); it->Next()) {
      rocksdb::Slice key = it->key();
      rocksdb::Slice value = it->value();
      if (key.size() != prefix.size() + 8 || value.size() != 8) {
        return "rocksdb: bad stream index entry for " + std::string(stream);
      }
      versions_.push_back(get_be64(key.data() + prefix.size()));
      std::array<char, 10> g{'g', '|'};
      std::memcpy(g.data() + 2, value.data(), 8);
      global_keys_.push_back(g);
    }
    if (Error e = check(it->status(), "iterate stream"); !e.empty()) {
      return e;
    }
    const std::size_t n = global_keys_.size();
    std::vector<rocksdb::Slice> keys(n);
    for (std::size_t i = 0; i < n; ++i) {
      keys[i] = rocksdb::Slice(global_keys_[i].data(), global_keys_[i].size());
    }
    std::vector<rocksdb::PinnableSlice> values(n);
    std::vector<rocksdb::Status> statuses(n);
    // LSNs of one stream ascend with its versions, so the keys are sorted.
    db_->MultiGet(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), n, keys.data(), values.data(),
                  statuses.data(), /*sorted_input=*/true);
    for (std::size_t i = 0; i < n; ++i) {
      if (Error e = check(statuses[i], "MultiGet"); !e.empty()) {
        return e;
      }
      sink.on(versions_[i], event_value_data(std::string_view(values[i].data(), values[i].size())));
    }
    return {};
  }

  Error close() override {
    Error e;
    if (db_) {
      e = check(db_->Close(), "close");
      db_.reset();
    }
    return e;
  }

 private:
  static void add(rocksdb::WriteBatch& batch, std::uint64_t lsn, const EventRef& event) {
    std::string stream_key;
    stream_key.reserve(2 + event.stream.size() + 1 + 8);
    stream_key.append("s|").append(event.stream).push_back('|');
    char be[8];
    put_be64(be, event.version);
    stream_key.append(be, 8);
    char lsn_be[8];
    put_be64(lsn_be, lsn);
    char global_key[10] = {'g', '|'};
    put_be64(global_key + 2, lsn);
    batch.Put(stream_key, rocksdb::Slice(lsn_be, 8));
    batch.Put(rocksdb::Slice(global_key, 10), encode_event_value(event));
  }

  Error check(const rocksdb::Status& s, const char* what) const {
    if (s.ok()) {
      return {};
    }
    return std::string("rocksdb ") + what + " " + path_ + ": " + s.ToString();
  }

  std::string path_;
  std::unique_ptr<rocksdb::DB> db_;
  std::atomic<std::uint64_t> next_lsn_{0};
  // Scratch of read_stream() (one reading thread).
  std::vector<std::array<char, 10>> global_keys_;
  std::vector<std::uint64_t> versions_;
};

}  // namespace

std::unique_ptr<Peer> make_rocksdb_peer() { return std::make_unique<RocksdbPeer>(); }

}  // namespace cairn_bench
