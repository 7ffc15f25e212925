// Cairn through its public API only (<cairn/log.h>): one Log, each append a
// one-event record with the stream's exact expected version (what an event
// store's users do), Durability::sync for the durable workloads and
// Durability::async + wait_durable() for the pipelined one; replay is
// Log::read_from(0), which verifies every record's checksums. A multi-event
// append is one Log::append of all its events (one record). A stream read is
// Log::read(ReadOptions{.stream = ...}), which finds the stream's records
// through the segment indexes. Bulk loads append consecutive events of one
// stream together (as one record), asynchronously.
#include <cairn/event.h>
#include <cairn/log.h>
#include <cairn/status.h>

#include <vector>

#include "peer.h"

namespace cairn_bench {
namespace {

cairn::ExpectedVersion expected_for(std::uint64_t version) {
  return version == 0 ? cairn::ExpectedVersion::no_stream()
                      : cairn::ExpectedVersion::exact(version - 1);
}

// Variants of Cairn, each only a LogOptions change: in_flight 0 keeps the
// default batches_in_flight ("cairn"), else that many ("cairn-1"); backend
// io_uring ("cairn-uring") measures what io_uring gains or costs against
// the default posix backend.
class CairnPeer final : public Peer {
 public:
  CairnPeer(std::string name, std::uint32_t in_flight,
            cairn::io::Backend backend = cairn::LogOptions{}.backend)
      : name_(std::move(name)), in_flight_(in_flight), backend_choice_(backend) {}
  ~CairnPeer() override { close(); }

  std::string name() const override { return name_; }
  std::string describe() const override {
    std::string backend = log_ ? log_->stats().backend : backend_;
    std::string options = in_flight_ == 0
                              ? "default LogOptions"
                              : "LogOptions with batches_in_flight = " + std::to_string(in_flight_);
    if (backend_choice_ == cairn::io::Backend::io_uring) {
      options += ", backend = io_uring";
    }
    return "Cairn (backend " + (backend.empty() ? std::string("?") : backend) + "), " + options +
           ", Durability::sync per append (async + wait_durable "
           "for pipelined); replay: read_from(0) and next_many() (256 views per call), "
           "checksums verified";
  }
  bool replay_verifies_checksums() const override { return true; }

  Error open(const PeerOptions& options) override {
    cairn::LogOptions o;
    o.directory = options.directory + "/log";
    o.create_if_missing = true;
    o.durability = cairn::Durability::sync;
    if (in_flight_ != 0) {
      o.batches_in_flight = in_flight_;
    }
    o.backend = backend_choice_;
    if (options.segment_bytes != 0) {
      o.segment_bytes = options.segment_bytes;
      // A segment must hold one largest record: small segments (opentime in
      // quick mode) get smaller limits, still far above the events used.
      if (o.segment_bytes < (16u << 20)) {
        o.event_bytes_max = 64u << 10;
        o.batch_bytes_max = 256u << 10;
      }
    }
    auto r = cairn::Log::open(o);
    if (!r) {
      return "cairn open " + o.directory + ": " + r.error().to_string();
    }
    log_ = std::move(*r);
    backend_ = log_->stats().backend;
    return {};
  }

  Error append(int /*thread*/, const EventRef& event) override {
    return append_with(event, cairn::Durability::sync);
  }

  Error append_many(int /*thread*/, std::span<const EventRef> events) override {
    return append_run(events, cairn::Durability::sync);
  }

  bool supports_pipelined() const override { return true; }

  Error append_async(const EventRef& event) override {
    return append_with(event, cairn::Durability::async);
  }

  Error wait_durable() override {
    return status(log_->wait_durable(log_->next_lsn()), "wait_durable");
  }

  // Runs of consecutive versions of one stream go in as one record (at most
  // kLoadRun events), the rest one event per append; all asynchronous.
  Error load(std::span<const EventRef> events) override {
    constexpr std::size_t kLoadRun = 64;
    std::size_t i = 0;
    while (i < events.size()) {
      std::size_t j = i + 1;
      while (j < events.size() && j - i < kLoadRun && events[j].stream == events[i].stream &&
             events[j].version == events[j - 1].version + 1) {
        ++j;
      }
      if (Error e = append_run(events.subspan(i, j - i), cairn::Durability::async); !e.empty()) {
        return e;
      }
      i = j;
    }
    return {};
  }

  Error flush() override { return wait_durable(); }

  Error replay(ReplaySink& sink) override {
    auto reader = log_->read_from(0);
    if (!reader) {
      return "cairn read_from(0): " + reader.error().to_string();
    }
    std::vector<cairn::EventView> views(256);
    while (true) {
      auto got = (*reader)->next_many(views);
      if (!got) {
        return "cairn read: " + got.error().to_string();
      }
      if (*got == 0) {
        return {};
      }
      for (std::size_t i = 0; i < *got; ++i) {
        sink.on(views[i].lsn, views[i].data);
      }
    }
  }

  Error read_stream(std::string_view stream, StreamSink& sink) override {
    cairn::ReadOptions o;
    o.stream = std::string(stream);
    auto reader = log_->read(o);
    if (!reader) {
      return "cairn read(stream " + o.stream + "): " + reader.error().to_string();
    }
    cairn::EventView view;
    while (true) {
      auto more = (*reader)->next(view);
      if (!more) {
        return "cairn read(stream " + o.stream + "): " + more.error().to_string();
      }
      if (!*more) {
        return {};
      }
      sink.on(view.version, view.data);
    }
  }

  std::uint64_t segment_count() const override { return log_ ? log_->stats().segment_count : 0; }
  std::optional<std::uint64_t> stream_count() const override {
    if (!log_) {
      return std::nullopt;
    }
    return log_->stats().stream_count;
  }

  std::optional<std::uint64_t> fsyncs() const override {
    if (!log_) {
      return std::nullopt;
    }
    return log_->stats().fsync_count;
  }

  Error close() override {
    Error e;
    if (log_) {
      e = status(log_->close(), "close");
      log_.reset();
    }
    return e;
  }

 private:
  static Error status(const cairn::Status& s, const char* what) {
    if (s.ok()) {
      return {};
    }
    return std::string("cairn ") + what + ": " + s.to_string();
  }

  Error append_with(const EventRef& event, cairn::Durability durability) {
    cairn::NewEvent e;
    e.type = kEventType;
    e.data = event.data;
    auto r = log_->append(event.stream, expected_for(event.version), {&e, 1}, durability);
    if (!r) {
      return "cairn append: " + r.error().to_string();
    }
    return {};
  }

  // One append of events[0..n) (one stream, consecutive versions).
  Error append_run(std::span<const EventRef> events, cairn::Durability durability) {
    if (events.empty()) {
      return {};
    }
    run_.resize(events.size());
    for (std::size_t i = 0; i < events.size(); ++i) {
      run_[i] = cairn::NewEvent{};
      run_[i].type = kEventType;
      run_[i].data = events[i].data;
    }
    auto r =
        log_->append(events.front().stream, expected_for(events.front().version), run_, durability);
    if (!r) {
      return "cairn append of " + std::to_string(events.size()) +
             " events: " + r.error().to_string();
    }
    return {};
  }

  std::unique_ptr<cairn::Log> log_;
  std::string backend_;
  const std::string name_;
  const std::uint32_t in_flight_;
  const cairn::io::Backend backend_choice_;
  // Scratch for append_run(), per thread (append_many() runs on many).
  static thread_local std::vector<cairn::NewEvent> run_;
};

thread_local std::vector<cairn::NewEvent> CairnPeer::run_;

}  // namespace

std::unique_ptr<Peer> make_cairn_peer() { return std::make_unique<CairnPeer>("cairn", 0); }
std::unique_ptr<Peer> make_cairn_single_flight_peer() {
  return std::make_unique<CairnPeer>("cairn-1", 1);
}
std::unique_ptr<Peer> make_cairn_uring_peer() {
  return std::make_unique<CairnPeer>("cairn-uring", 0, cairn::io::Backend::io_uring);
}

}  // namespace cairn_bench
