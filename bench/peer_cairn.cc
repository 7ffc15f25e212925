// Cairn through its public API only (<cairn/log.h>): one Log, each append a
// one-event record with the stream's exact expected version (what an event
// store's users do), Durability::sync for the durable workloads and
// Durability::async + wait_durable() for the pipelined one; replay is
// Log::read_from(0), which verifies every record's checksums.
#include "peer.h"

#include <cairn/event.h>
#include <cairn/log.h>
#include <cairn/status.h>

namespace cairn_bench {
namespace {

cairn::ExpectedVersion expected_for(std::uint64_t version) {
  return version == 0 ? cairn::ExpectedVersion::no_stream()
                      : cairn::ExpectedVersion::exact(version - 1);
}

class CairnPeer final : public Peer {
 public:
  ~CairnPeer() override { close(); }

  std::string name() const override { return "cairn"; }
  std::string describe() const override {
    std::string backend = log_ ? log_->stats().backend : backend_;
    return "Cairn (backend " + (backend.empty() ? std::string("?") : backend) +
           "), default LogOptions, Durability::sync per append (async + wait_durable "
           "for pipelined); replay: read_from(0), checksums verified";
  }
  bool replay_verifies_checksums() const override { return true; }

  Error open(const PeerOptions& options) override {
    cairn::LogOptions o;
    o.directory = options.directory + "/log";
    o.create_if_missing = true;
    o.durability = cairn::Durability::sync;
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

  bool supports_pipelined() const override { return true; }

  Error append_async(const EventRef& event) override {
    return append_with(event, cairn::Durability::async);
  }

  Error wait_durable() override { return status(log_->wait_durable(log_->next_lsn()), "wait_durable"); }

  Error load(std::span<const EventRef> events) override {
    for (const EventRef& event : events) {
      if (Error e = append_with(event, cairn::Durability::async); !e.empty()) {
        return e;
      }
    }
    return {};
  }

  Error flush() override { return wait_durable(); }

  Error replay(ReplaySink& sink) override {
    auto reader = log_->read_from(0);
    if (!reader) {
      return "cairn read_from(0): " + reader.error().to_string();
    }
    cairn::EventView view;
    while (true) {
      auto more = (*reader)->next(view);
      if (!more) {
        return "cairn read: " + more.error().to_string();
      }
      if (!*more) {
        return {};
      }
      sink.on(view.lsn, view.data);
    }
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

  std::unique_ptr<cairn::Log> log_;
  std::string backend_;
};

}  // namespace

std::unique_ptr<Peer> make_cairn_peer() { return std::make_unique<CairnPeer>(); }

}  // namespace cairn_bench
