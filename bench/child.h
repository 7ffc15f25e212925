// Child processes of the harness. Open-time and memory measurements run in a
// fresh process each (cairn-compare re-executes itself with --child), so
// that nothing from earlier phases (page cache aside) is in the measured
// process: no allocator state, no open handles, an RSS that starts from the
// bare executable. A "crash" is a child that loads events, waits until they
// are durable, prints its result and kills itself with SIGKILL, leaving the
// store exactly as kill -9 of a writer would.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "peer.h"

namespace cairn_bench {

struct ChildRequest {
  // "load": open, load events [start, start + count), make them durable,
  //         then close (crash = false) or SIGKILL itself (crash = true).
  //         until_segments > 0 stops the load early once the log has that
  //         many segments (Cairn only; count is then an upper bound).
  // "open": time the open, measure RSS before and after it, then close.
  std::string mode;
  std::string system;
  std::string directory;
  std::uint64_t capacity_events = 0;  // PeerOptions::capacity_events
  std::uint64_t segment_bytes = 0;    // PeerOptions::segment_bytes
  std::size_t event_bytes = 200;
  std::uint64_t streams = 1000;  // Layout
  std::uint64_t run_length = 1;  // Layout
  std::uint64_t start = 0;
  std::uint64_t count = 0;
  std::uint64_t until_segments = 0;
  bool crash = false;
};

struct ChildResult {
  std::string error;  // empty on success
  // Numbers the child reported: open_ms, close_ms, rss_before_kb,
  // rss_after_kb, hwm_kb, loaded, load_s, segments, streams (-1 = unknown).
  std::map<std::string, double> values;

  double get(const std::string& key, double otherwise = -1) const {
    auto it = values.find(key);
    return it == values.end() ? otherwise : it->second;
  }
};

// Runs one child to its end and collects its result. A load with crash set
// must end by SIGKILL after reporting; anything else must exit with 0.
ChildResult run_child(const ChildRequest& request);

// Kills the running child, if any (used by the watchdog before it gives up).
void kill_running_child();

// The child's side: argv[1] is "--child". Returns the exit status (or does
// not return: crash).
int child_main(int argc, char** argv);

// A peer by its --systems name; nullptr if not built in.
std::unique_ptr<Peer> make_peer_by_name(const std::string& name);

// Resident set (VmRSS) and its high-water mark (VmHWM) of this process, KiB.
double self_status_kb(const char* key);

}  // namespace cairn_bench
