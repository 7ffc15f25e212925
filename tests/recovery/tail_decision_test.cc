// Goal: the decision table of SPEC.md section 10.4, row by row, through the
// pure function decide_tail(TailFacts), plus the boundaries the rows name:
// P == n is not proof (row 5 needs P > n), Z - V == W is still a torn tail
// (row 6 needs Z - V > W), and garbage in the seal slot alone is a torn tail.
// Method: facts built by hand around one "torn tail" baseline; each case
// changes the one fact its row is about. Rows are tried in order, so a few
// cases also pin the order (an earlier row wins over a later one).
#include "recovery/tail_decision.h"

#include <doctest/doctest.h>

#include <string>

#include "format/layout.h"
#include "format/scanner.h"

using cairn::format::ScanStop;
using cairn::recovery::decide_tail;
using cairn::recovery::TailAction;
using cairn::recovery::TailDecision;
using cairn::recovery::TailFacts;

namespace {

constexpr std::uint64_t kV = 8192;   // valid end
constexpr std::uint64_t kN = 40;     // first LSN not recovered
constexpr std::uint64_t kW = 16384;  // write window

// The last segment, repair mode: a header-checksum failure at V followed by
// 300 non-zero bytes, no later record, well inside the write window. Row 8.
TailFacts torn() {
  TailFacts f;
  f.is_last_segment = true;
  f.strict = false;
  f.stop = ScanStop::bad_header_checksum;
  f.valid_end = kV;
  f.next_lsn = kN;
  f.nonzero_end = kV + 300;
  f.seal_slot_nonzero = false;
  f.later_records = 0;
  f.later_max_prior_durable_lsn = 0;
  f.write_window_bytes = kW;
  return f;
}

// A clean end: the records stop at V and only zeros follow. Row 3.
TailFacts zeros_after(ScanStop stop) {
  TailFacts f = torn();
  f.stop = stop;
  f.nonzero_end = kV;
  return f;
}

bool mentions(const TailDecision& d, const std::string& words) {
  return d.reason.find(words) != std::string::npos;
}

// The stops rows 5-8 are about: torn or unreadable bytes, and zeros with
// non-zero bytes after them.
constexpr ScanStop kTornStops[] = {ScanStop::bad_header_checksum, ScanStop::bad_body_checksum,
                                   ScanStop::short_data, ScanStop::zero_header,
                                   ScanStop::end_of_input};

// The stops row 4 refuses: a record whose checksums verify but is wrong.
constexpr ScanStop kMalformedStops[] = {ScanStop::bad_header, ScanStop::bad_body, ScanStop::lsn_gap,
                                        ScanStop::bad_seal};

}  // namespace

TEST_CASE("decide_tail row 1: a matching seal is clean, whatever else is true") {
  TailFacts f = torn();
  f.stop = ScanStop::sealed;
  f.valid_end = 65536;
  CHECK(decide_tail(f).action == TailAction::clean);
  // Sealed beats every later row: not last, strict, proof, window.
  f.is_last_segment = false;
  f.strict = true;
  f.later_records = 1;
  f.later_max_prior_durable_lsn = kN + 100;
  CHECK(decide_tail(f).action == TailAction::clean);
}

TEST_CASE("decide_tail row 2: a segment that is not the last and not sealed refuses") {
  // Even a segment that merely ends in zeros: a seal was fdatasynced before
  // the next segment existed, so no crash explains its absence.
  for (ScanStop stop :
       {ScanStop::zero_header, ScanStop::end_of_input, ScanStop::bad_header_checksum,
        ScanStop::bad_body_checksum, ScanStop::short_data, ScanStop::bad_seal, ScanStop::lsn_gap}) {
    CAPTURE(cairn::format::scan_stop_name(stop));
    TailFacts f = zeros_after(stop);
    f.is_last_segment = false;
    const TailDecision d = decide_tail(f);
    CHECK(d.action == TailAction::refuse);
    CHECK(mentions(d, "not the last"));
  }
}

TEST_CASE("decide_tail row 3: records then only zeros is clean, also in strict mode") {
  for (ScanStop stop : {ScanStop::zero_header, ScanStop::end_of_input}) {
    CAPTURE(cairn::format::scan_stop_name(stop));
    TailFacts f = zeros_after(stop);
    CHECK(decide_tail(f).action == TailAction::clean);
    f.strict = true;  // nothing to repair, so nothing for strict mode to refuse
    CHECK(decide_tail(f).action == TailAction::clean);
  }
  // A segment with no record: V is the first record position, n the base LSN.
  TailFacts empty = zeros_after(ScanStop::zero_header);
  empty.valid_end = cairn::format::kSegmentHeaderBlockBytes;
  empty.nonzero_end = empty.valid_end;
  empty.next_lsn = 0;
  CHECK(decide_tail(empty).action == TailAction::clean);
  // A stop that is damage is never row 3, even with nothing after it.
  TailFacts damaged = zeros_after(ScanStop::bad_header_checksum);
  CHECK(decide_tail(damaged).action == TailAction::zero_fill);
}

TEST_CASE("decide_tail row 4: a record that verifies but is malformed refuses") {
  for (ScanStop stop : kMalformedStops) {
    CAPTURE(cairn::format::scan_stop_name(stop));
    // The most forgiving facts otherwise: no proof, tiny damage, not strict.
    TailFacts f = torn();
    f.stop = stop;
    const TailDecision d = decide_tail(f);
    CHECK(d.action == TailAction::refuse);
    CHECK(mentions(d, "malformed"));
  }
}

TEST_CASE("decide_tail row 5: a later record proving the damaged LSN durable refuses") {
  for (ScanStop stop : kTornStops) {
    CAPTURE(cairn::format::scan_stop_name(stop));
    TailFacts f = torn();
    f.stop = stop;
    f.later_records = 1;
    f.later_max_prior_durable_lsn = kN + 1;
    const TailDecision d = decide_tail(f);
    CHECK(d.action == TailAction::refuse);
    CHECK(mentions(d, "durable"));
    CHECK(mentions(d, std::to_string(kN + 1)));
  }
  // Row 5 comes before row 6: the reason is the proof, not the window.
  TailFacts both = torn();
  both.later_records = 3;
  both.later_max_prior_durable_lsn = kN + 7;
  both.nonzero_end = kV + kW + 1;
  const TailDecision d = decide_tail(both);
  CHECK(d.action == TailAction::refuse);
  CHECK(mentions(d, "durable"));
  CHECK_FALSE(mentions(d, "write window"));
}

TEST_CASE("decide_tail row 5 boundary: P == n is not proof, P == n + 1 is") {
  // prior_durable_lsn is an exclusive bound: P == n says LSNs below n were
  // durable, which the recovered log already holds.
  TailFacts f = torn();
  f.later_records = 2;
  f.later_max_prior_durable_lsn = kN;
  CHECK(decide_tail(f).action == TailAction::zero_fill);
  f.later_max_prior_durable_lsn = kN - 1;
  CHECK(decide_tail(f).action == TailAction::zero_fill);
  f.later_max_prior_durable_lsn = kN + 1;
  CHECK(decide_tail(f).action == TailAction::refuse);
}

TEST_CASE("decide_tail row 6: more damaged bytes than the write window refuses") {
  for (ScanStop stop : kTornStops) {
    CAPTURE(cairn::format::scan_stop_name(stop));
    TailFacts f = torn();
    f.stop = stop;
    f.nonzero_end = kV + kW + 1;
    const TailDecision d = decide_tail(f);
    CHECK(d.action == TailAction::refuse);
    CHECK(mentions(d, "write window"));
  }
}

TEST_CASE("decide_tail row 6 boundary: Z - V == W is allowed, W + 1 refuses") {
  TailFacts f = torn();
  f.nonzero_end = kV + kW;
  CHECK(decide_tail(f).action == TailAction::zero_fill);
  f.nonzero_end = kV + kW + 1;
  CHECK(decide_tail(f).action == TailAction::refuse);
  // The window is the segment's own (from its header): W = 1 allows one byte.
  f.write_window_bytes = 1;
  f.nonzero_end = kV + 1;
  CHECK(decide_tail(f).action == TailAction::zero_fill);
  f.nonzero_end = kV + 2;
  CHECK(decide_tail(f).action == TailAction::refuse);
}

TEST_CASE("decide_tail row 7: strict mode refuses a torn tail") {
  for (ScanStop stop : kTornStops) {
    CAPTURE(cairn::format::scan_stop_name(stop));
    TailFacts f = torn();
    f.stop = stop;
    f.strict = true;
    const TailDecision d = decide_tail(f);
    CHECK(d.action == TailAction::refuse);
    CHECK(mentions(d, "strict"));
  }
  // Seal slot garbage alone is a torn tail too, so strict refuses it.
  TailFacts slot = zeros_after(ScanStop::zero_header);
  slot.seal_slot_nonzero = true;
  slot.strict = true;
  CHECK(decide_tail(slot).action == TailAction::refuse);
  // Rows 5 and 6 come before row 7: their reasons win.
  TailFacts window = torn();
  window.strict = true;
  window.nonzero_end = kV + kW + 1;
  CHECK(mentions(decide_tail(window), "write window"));
}

TEST_CASE("decide_tail row 8: an unproven torn tail inside the window is zero-filled") {
  for (ScanStop stop : kTornStops) {
    CAPTURE(cairn::format::scan_stop_name(stop));
    TailFacts f = torn();
    f.stop = stop;
    const TailDecision d = decide_tail(f);
    CHECK(d.action == TailAction::zero_fill);
    CHECK(mentions(d, "torn tail"));
  }
  // Verifying records after the damage that prove nothing (P <= n): the
  // unsynced batch landed out of order; they go with the torn tail.
  TailFacts out_of_order = torn();
  out_of_order.later_records = 4;
  out_of_order.later_max_prior_durable_lsn = kN;
  CHECK(decide_tail(out_of_order).action == TailAction::zero_fill);
}

TEST_CASE("decide_tail row 8 boundary: seal slot garbage alone is a torn tail") {
  // Zeros after the records, nothing non-zero before the slot (Z == V), and
  // bytes in the slot that did not verify: not row 3, so a torn seal write.
  for (ScanStop stop : {ScanStop::zero_header, ScanStop::end_of_input}) {
    CAPTURE(cairn::format::scan_stop_name(stop));
    TailFacts f = zeros_after(stop);
    f.seal_slot_nonzero = true;
    const TailDecision d = decide_tail(f);
    CHECK(d.action == TailAction::zero_fill);
  }
}

TEST_CASE("decide_tail: action names for reports") {
  CHECK(std::string(cairn::recovery::tail_action_name(TailAction::clean)) == "clean");
  CHECK(std::string(cairn::recovery::tail_action_name(TailAction::zero_fill)) == "zero-fill");
  CHECK(std::string(cairn::recovery::tail_action_name(TailAction::refuse)) == "refuse");
}
