// The recovery decision table of SPEC.md section 10, as one pure function.
// Every row has its own test (tests/recovery/tail_decision_test.cc).
#pragma once

#include <cstdint>
#include <string>

#include "format/scanner.h"

namespace cairn::recovery {

// What a scan of one segment found, reduced to what the decision needs.
struct TailFacts {
  bool is_last_segment = true;
  bool strict = false;
  format::ScanStop stop = format::ScanStop::none;
  std::uint64_t valid_end = 0;  // position after the last record that verified
  std::uint64_t next_lsn = 0;   // the first LSN that did not verify
  // Non-zero bytes after valid_end, outside the seal slot: [valid_end, nonzero_end).
  std::uint64_t nonzero_end = 0;
  bool seal_slot_nonzero = false;  // the seal slot holds bytes that did not verify
  // Records after the stop whose checksums verify, and the most any of them
  // claims was durable when it was written.
  std::uint64_t later_records = 0;
  std::uint64_t later_max_prior_durable_lsn = 0;
  std::uint64_t write_window_bytes = 0;
};

enum class TailAction : std::uint8_t {
  clean,      // nothing to do: the segment ends in its seal, or in zeros
  zero_fill,  // torn tail: nothing lost was acknowledged; zero from valid_end
  refuse,     // corruption of acknowledged data, or an anomaly strict mode refuses
};

struct TailDecision {
  TailAction action = TailAction::clean;
  std::string reason;  // one sentence, for the recovery report and errors
};

TailDecision decide_tail(const TailFacts& facts);
const char* tail_action_name(TailAction action);

}  // namespace cairn::recovery
