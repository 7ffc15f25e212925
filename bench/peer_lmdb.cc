// LMDB as an event store: two databases in one environment, "g" (global log:
// LSN, big-endian -> event) and "s" (stream index: stream|version -> LSN,
// MDB_NOOVERWRITE so a version can be written once), one write transaction
// per append, committed durably (no MDB_NOSYNC / MDB_NOMETASYNC: LMDB
// fdatasyncs the data pages, then the meta page). Writers serialize on
// LMDB's single write transaction. A multi-event append is one transaction
// of all its events. A stream read is a read transaction (kept and renewed,
// as LMDB recommends for frequent readers) with a cursor range over
// "<stream>|" in "s" and one lookup in "g" per event.
#include <lmdb.h>

#include <algorithm>
#include <atomic>

#include "peer.h"

namespace cairn_bench {
namespace {

// Bytes LMDB needs per event, generously (two B-tree entries and page slack).
constexpr std::uint64_t kMapBytesPerEvent = 1024;
constexpr std::uint64_t kMapBytesMin = 1ull << 30;

class LmdbPeer final : public Peer {
 public:
  ~LmdbPeer() override { close(); }

  std::string name() const override { return "lmdb"; }
  std::string describe() const override {
    return std::string(mdb_version(nullptr, nullptr, nullptr)) +
           ", durable commit per append (no MDB_NOSYNC/NOMETASYNC), global + stream "
           "databases; replay: cursor over the global database (LMDB keeps no checksums)";
  }
  bool replay_verifies_checksums() const override { return false; }

  Error open(const PeerOptions& options) override {
    dir_ = options.directory;
    if (int rc = mdb_env_create(&env_); rc != 0) {
      return fail("mdb_env_create", rc);
    }
    std::uint64_t map = std::max(kMapBytesMin, options.capacity_events * kMapBytesPerEvent);
    if (int rc = mdb_env_set_mapsize(env_, map); rc != 0) {
      return fail("mdb_env_set_mapsize", rc);
    }
    if (int rc = mdb_env_set_maxdbs(env_, 2); rc != 0) {
      return fail("mdb_env_set_maxdbs", rc);
    }
    if (int rc = mdb_env_open(env_, dir_.c_str(), 0, 0644); rc != 0) {
      return fail("mdb_env_open", rc);
    }
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(env_, nullptr, 0, &txn); rc != 0) {
      return fail("mdb_txn_begin", rc);
    }
    int rc = mdb_dbi_open(txn, "g", MDB_CREATE, &global_);
    if (rc == 0) {
      rc = mdb_dbi_open(txn, "s", MDB_CREATE, &streams_);
    }
    if (rc == 0) {
      // Continue the LSN sequence of an existing environment.
      MDB_cursor* cur = nullptr;
      rc = mdb_cursor_open(txn, global_, &cur);
      if (rc == 0) {
        MDB_val k, v;
        if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0 && k.mv_size == 8) {
          next_lsn_ = get_be64(static_cast<const char*>(k.mv_data)) + 1;
        }
        mdb_cursor_close(cur);
      }
    }
    if (rc != 0) {
      mdb_txn_abort(txn);
      return fail("open databases", rc);
    }
    if (rc = mdb_txn_commit(txn); rc != 0) {
      return fail("mdb_txn_commit", rc);
    }
    return {};
  }

  Error append(int /*thread*/, const EventRef& event) override { return write({&event, 1}); }

  Error append_many(int /*thread*/, std::span<const EventRef> events) override {
    return write(events);
  }

  Error load(std::span<const EventRef> events) override { return write(events); }

  // Every commit above was already durable.
  Error flush() override { return {}; }

  Error replay(ReplaySink& sink) override {
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn); rc != 0) {
      return fail("mdb_txn_begin(read)", rc);
    }
    MDB_cursor* cur = nullptr;
    if (int rc = mdb_cursor_open(txn, global_, &cur); rc != 0) {
      mdb_txn_abort(txn);
      return fail("mdb_cursor_open", rc);
    }
    MDB_val k, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
      if (k.mv_size != 8) {
        rc = MDB_CORRUPTED;
        break;
      }
      sink.on(get_be64(static_cast<const char*>(k.mv_data)),
              event_value_data(std::string_view(static_cast<const char*>(v.mv_data), v.mv_size)));
      rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rc == MDB_NOTFOUND ? Error() : fail("cursor", rc);
  }

  Error read_stream(std::string_view stream, StreamSink& sink) override {
    int rc = read_txn_ == nullptr ? mdb_txn_begin(env_, nullptr, MDB_RDONLY, &read_txn_)
                                  : mdb_txn_renew(read_txn_);
    if (rc != 0) {
      return fail("read transaction", rc);
    }
    MDB_cursor* cur = nullptr;
    if (rc = mdb_cursor_open(read_txn_, streams_, &cur); rc != 0) {
      mdb_txn_reset(read_txn_);
      return fail("mdb_cursor_open", rc);
    }
    std::string prefix(stream);
    prefix.push_back('|');
    MDB_val k{prefix.size(), prefix.data()};
    MDB_val v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0) {
      std::string_view key(static_cast<const char*>(k.mv_data), k.mv_size);
      if (key.size() != prefix.size() + 8 || key.compare(0, prefix.size(), prefix) != 0) {
        break;  // past the stream's entries
      }
      if (v.mv_size != 8) {
        rc = MDB_CORRUPTED;
        break;
      }
      MDB_val gv;
      if (rc = mdb_get(read_txn_, global_, &v, &gv); rc != 0) {
        break;
      }
      sink.on(get_be64(key.data() + prefix.size()),
              event_value_data(std::string_view(static_cast<const char*>(gv.mv_data), gv.mv_size)));
      rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    mdb_txn_reset(read_txn_);
    return rc == 0 || rc == MDB_NOTFOUND ? Error() : fail("stream cursor", rc);
  }

  Error close() override {
    if (read_txn_ != nullptr) {
      mdb_txn_abort(read_txn_);
      read_txn_ = nullptr;
    }
    if (env_ != nullptr) {
      mdb_env_close(env_);
      env_ = nullptr;
    }
    return {};
  }

 private:
  Error fail(const char* what, int rc) const {
    return std::string("lmdb ") + what + " " + dir_ + ": " + mdb_strerror(rc);
  }

  // One write transaction holding `events`, committed durably.
  Error write(std::span<const EventRef> events) {
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(env_, nullptr, 0, &txn); rc != 0) {
      return fail("mdb_txn_begin", rc);
    }
    // Only one write transaction exists at a time, so next_lsn_ is only
    // touched by its holder; it is atomic for the sake of the memory model.
    std::uint64_t lsn = next_lsn_.load(std::memory_order_relaxed);
    std::string stream_key;
    for (const EventRef& event : events) {
      char global_key[8];
      put_be64(global_key, lsn);
      std::string value = encode_event_value(event);
      MDB_val k{8, global_key};
      MDB_val v{value.size(), value.data()};
      int rc = mdb_put(txn, global_, &k, &v, MDB_APPEND);
      if (rc == 0) {
        stream_key.assign(event.stream).push_back('|');
        char be[8];
        put_be64(be, event.version);
        stream_key.append(be, 8);
        MDB_val sk{stream_key.size(), stream_key.data()};
        MDB_val sv{8, global_key};
        rc = mdb_put(txn, streams_, &sk, &sv, MDB_NOOVERWRITE);
      }
      if (rc != 0) {
        mdb_txn_abort(txn);
        return fail("mdb_put", rc);
      }
      ++lsn;
    }
    // Published before the commit releases LMDB's writer lock, so the next
    // writer sees it; a failed commit leaves a gap, which is harmless here.
    next_lsn_.store(lsn, std::memory_order_relaxed);
    if (int rc = mdb_txn_commit(txn); rc != 0) {
      return fail("mdb_txn_commit", rc);
    }
    return {};
  }

  std::string dir_;
  MDB_env* env_ = nullptr;
  MDB_dbi global_ = 0;
  MDB_dbi streams_ = 0;
  MDB_txn* read_txn_ = nullptr;  // read_stream()'s, reset between reads
  std::atomic<std::uint64_t> next_lsn_{0};
};

}  // namespace

std::unique_ptr<Peer> make_lmdb_peer() { return std::make_unique<LmdbPeer>(); }

}  // namespace cairn_bench
