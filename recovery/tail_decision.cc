#include "recovery/tail_decision.h"

namespace cairn::recovery {
namespace {

using format::ScanStop;

TailDecision refuse(std::string reason) { return {TailAction::refuse, std::move(reason)}; }

bool ends_in_zeros(const TailFacts& f) {
  return (f.stop == ScanStop::zero_header || f.stop == ScanStop::end_of_input) &&
         f.nonzero_end <= f.valid_end && !f.seal_slot_nonzero;
}

}  // namespace

const char* tail_action_name(TailAction action) {
  switch (action) {
    case TailAction::clean:
      return "clean";
    case TailAction::zero_fill:
      return "zero-fill";
    case TailAction::refuse:
      return "refuse";
  }
  return "unknown";
}

TailDecision decide_tail(const TailFacts& f) {
  // Row 1: a seal that matches every record before it.
  if (f.stop == ScanStop::sealed) {
    return {TailAction::clean, "sealed"};
  }
  // Row 2: a segment before the last must be sealed; it was fdatasynced
  // before its successor was created, so no crash can explain anything else.
  if (!f.is_last_segment) {
    return refuse(std::string("segment is not the last, but does not end in a valid seal (") +
                  format::scan_stop_name(f.stop) + ")");
  }
  // Row 3: the records end and only zeros follow: the preallocated tail.
  if (ends_in_zeros(f)) {
    return {TailAction::clean, "ends in zeros"};
  }
  const std::string what =
      std::string(format::scan_stop_name(f.stop)) + " at LSN " + std::to_string(f.next_lsn);
  // Row 4: a record whose checksums verify but which is wrong (impossible
  // fields, malformed body, wrong LSN, a seal that disagrees) was written
  // that way: a torn write cannot produce it. Refuse rather than guess.
  if (f.stop == ScanStop::bad_header || f.stop == ScanStop::bad_body ||
      f.stop == ScanStop::lsn_gap || f.stop == ScanStop::bad_seal) {
    return refuse(what + ": a record that verifies is malformed, which no torn write explains");
  }
  // Row 5: a record that survived intact proves the damaged LSN was durable,
  // so acknowledged data is damaged. A single copy must never hide that.
  if (f.later_records > 0 && f.later_max_prior_durable_lsn > f.next_lsn) {
    return refuse(what + "; a later record shows LSNs below " +
                  std::to_string(f.later_max_prior_durable_lsn) + " were durable");
  }
  // Row 6: the writer never has more than the write window unsynced, so more
  // damaged bytes than that cannot be a torn write.
  if (f.nonzero_end > f.valid_end && f.nonzero_end - f.valid_end > f.write_window_bytes) {
    return refuse(what + "; " + std::to_string(f.nonzero_end - f.valid_end) +
                  " damaged bytes exceed the write window of " +
                  std::to_string(f.write_window_bytes));
  }
  // Row 7: strict mode repairs nothing.
  if (f.strict) {
    return refuse(what + "; strict mode refuses to zero-fill a torn tail");
  }
  // Row 8: a torn tail. Nothing in it was acknowledged.
  return {TailAction::zero_fill, "torn tail: " + what};
}

}  // namespace cairn::recovery
