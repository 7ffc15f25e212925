// SQLite as applications use it for an event store: WAL journal,
// synchronous=FULL (the WAL is fsynced at every commit), one table with the
// global position as the rowid and a unique (stream, version) index, one
// transaction per append (a multi-event append is one transaction of its
// inserts), one connection per thread, busy_timeout for the writers that
// queue on the database's write lock. A stream read is the indexed query
// SELECT version, data FROM events WHERE stream=? ORDER BY version.
#include <sqlite3.h>

#include <algorithm>
#include <vector>

#include "peer.h"

namespace cairn_bench {
namespace {

constexpr int kBusyTimeoutMs = 10000;

class SqlitePeer final : public Peer {
 public:
  ~SqlitePeer() override { close(); }

  std::string name() const override { return "sqlite"; }
  std::string describe() const override {
    return std::string("SQLite ") + sqlite3_libversion() +
           ", journal_mode=WAL, synchronous=FULL, one BEGIN IMMEDIATE..COMMIT per append, "
           "a connection per thread, busy_timeout=" +
           std::to_string(kBusyTimeoutMs) + " ms";
  }
  bool replay_verifies_checksums() const override { return false; }

  Error open(const PeerOptions& options) override {
    path_ = options.directory + "/events.db";
    conns_.resize(static_cast<std::size_t>(std::max(1, options.threads)));
    for (std::size_t i = 0; i < conns_.size(); ++i) {
      if (Error e = open_connection(conns_[i], i == 0); !e.empty()) {
        return e;
      }
    }
    return {};
  }

  Error append(int thread, const EventRef& event) override {
    return transaction(conns_[static_cast<std::size_t>(thread)], {&event, 1});
  }

  Error append_many(int thread, std::span<const EventRef> events) override {
    return transaction(conns_[static_cast<std::size_t>(thread)], events);
  }

  Error load(std::span<const EventRef> events) override { return transaction(conns_[0], events); }

  // Every COMMIT above was already durable (synchronous=FULL).
  Error flush() override { return {}; }

  Error settle() override { return exec(conns_[0].db, "PRAGMA wal_checkpoint(TRUNCATE)"); }

  Error replay(ReplaySink& sink) override {
    Conn& c = conns_[0];
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(c.db, "SELECT lsn, data FROM events ORDER BY lsn", -1, &st, nullptr) !=
        SQLITE_OK) {
      return error(c.db, "prepare SELECT");
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      auto lsn = static_cast<std::uint64_t>(sqlite3_column_int64(st, 0));
      const void* blob = sqlite3_column_blob(st, 1);
      int n = sqlite3_column_bytes(st, 1);
      // The rowid counts from 1; the log's LSNs from 0.
      sink.on(lsn - 1,
              std::string_view(static_cast<const char*>(blob), static_cast<std::size_t>(n)));
    }
    Error e = rc == SQLITE_DONE ? Error() : error(c.db, "SELECT");
    sqlite3_finalize(st);
    return e;
  }

  Error read_stream(std::string_view stream, StreamSink& sink) override {
    Conn& c = conns_[0];
    if (c.select_stream == nullptr &&
        sqlite3_prepare_v2(c.db,
                           "SELECT version, data FROM events WHERE stream = ?1 ORDER BY version",
                           -1, &c.select_stream, nullptr) != SQLITE_OK) {
      return error(c.db, "prepare SELECT stream");
    }
    sqlite3_stmt* st = c.select_stream;
    sqlite3_bind_text(st, 1, stream.data(), static_cast<int>(stream.size()), SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      auto version = static_cast<std::uint64_t>(sqlite3_column_int64(st, 0));
      const void* blob = sqlite3_column_blob(st, 1);
      int n = sqlite3_column_bytes(st, 1);
      sink.on(version,
              std::string_view(static_cast<const char*>(blob), static_cast<std::size_t>(n)));
    }
    Error e = rc == SQLITE_DONE ? Error() : error(c.db, "SELECT stream");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return e;
  }

  Error close() override {
    Error first;
    for (Conn& c : conns_) {
      for (sqlite3_stmt* st : {c.begin, c.insert, c.commit, c.rollback, c.select_stream}) {
        sqlite3_finalize(st);
      }
      if (c.db != nullptr && sqlite3_close(c.db) != SQLITE_OK && first.empty()) {
        first = error(c.db, "close");
      }
      c = Conn{};
    }
    conns_.clear();
    return first;
  }

 private:
  struct Conn {
    sqlite3* db = nullptr;
    sqlite3_stmt* begin = nullptr;
    sqlite3_stmt* insert = nullptr;
    sqlite3_stmt* commit = nullptr;
    sqlite3_stmt* rollback = nullptr;
    sqlite3_stmt* select_stream = nullptr;  // prepared on first use
  };

  // One BEGIN IMMEDIATE; INSERT...; COMMIT.
  Error transaction(Conn& c, std::span<const EventRef> events) {
    if (Error e = step_done(c, c.begin, "BEGIN IMMEDIATE"); !e.empty()) {
      return e;
    }
    for (const EventRef& event : events) {
      if (Error e = insert(c, event); !e.empty()) {
        rollback(c);
        return e;
      }
    }
    if (Error e = step_done(c, c.commit, "COMMIT"); !e.empty()) {
      rollback(c);
      return e;
    }
    return {};
  }

  Error error(sqlite3* db, const std::string& what) const {
    return "sqlite " + what + " (" + path_ + "): " + (db ? sqlite3_errmsg(db) : "no handle");
  }

  Error exec(sqlite3* db, const char* sql) const {
    char* msg = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
      std::string text = msg ? msg : "?";
      sqlite3_free(msg);
      return "sqlite " + std::string(sql) + " (" + path_ + "): " + text;
    }
    return {};
  }

  Error open_connection(Conn& c, bool first) {
    if (sqlite3_open_v2(path_.c_str(), &c.db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
      return error(c.db, "open");
    }
    sqlite3_busy_timeout(c.db, kBusyTimeoutMs);
    if (first) {
      for (const char* sql :
           {"PRAGMA journal_mode=WAL",
            "CREATE TABLE IF NOT EXISTS events(lsn INTEGER PRIMARY KEY, stream TEXT NOT NULL, "
            "version INTEGER NOT NULL, type TEXT NOT NULL, data BLOB NOT NULL, "
            "UNIQUE(stream, version))"}) {
        if (Error e = exec(c.db, sql); !e.empty()) {
          return e;
        }
      }
    }
    // synchronous is a per-connection setting.
    if (Error e = exec(c.db, "PRAGMA synchronous=FULL"); !e.empty()) {
      return e;
    }
    struct {
      const char* sql;
      sqlite3_stmt** out;
    } statements[] = {
        {"BEGIN IMMEDIATE", &c.begin},
        {"INSERT INTO events(stream, version, type, data) VALUES(?1, ?2, ?3, ?4)", &c.insert},
        {"COMMIT", &c.commit},
        {"ROLLBACK", &c.rollback},
    };
    for (auto& s : statements) {
      if (sqlite3_prepare_v2(c.db, s.sql, -1, s.out, nullptr) != SQLITE_OK) {
        return error(c.db, std::string("prepare ") + s.sql);
      }
    }
    return {};
  }

  Error step_done(Conn& c, sqlite3_stmt* st, const char* what) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
      return error(c.db, what);
    }
    return {};
  }

  Error insert(Conn& c, const EventRef& event) {
    sqlite3_bind_text(c.insert, 1, event.stream.data(), static_cast<int>(event.stream.size()),
                      SQLITE_STATIC);
    sqlite3_bind_int64(c.insert, 2, static_cast<sqlite3_int64>(event.version));
    sqlite3_bind_text(c.insert, 3, kEventType.data(), static_cast<int>(kEventType.size()),
                      SQLITE_STATIC);
    sqlite3_bind_blob(c.insert, 4, event.data.data(), static_cast<int>(event.data.size()),
                      SQLITE_STATIC);
    return step_done(c, c.insert, "INSERT");
  }

  void rollback(Conn& c) {
    if (!sqlite3_get_autocommit(c.db)) {
      sqlite3_step(c.rollback);
      sqlite3_reset(c.rollback);
    }
  }

  std::string path_;
  std::vector<Conn> conns_;
};

}  // namespace

std::unique_ptr<Peer> make_sqlite_peer() { return std::make_unique<SqlitePeer>(); }

}  // namespace cairn_bench
