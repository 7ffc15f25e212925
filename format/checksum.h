// Checksums of the format (SPEC.md section 5.3): XXH3-64, seeded so that a
// record is bound to its log and segment (BRIEF rule 6).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace cairn::format {

std::uint64_t xxh3(std::span<const std::byte> bytes, std::uint64_t seed);

// xxh3(bytes, seed) for many inputs under one seed (the records of a
// segment). XXH3 derives a 192-byte secret from the seed for inputs over 240
// bytes; this derives it once, where xxh3() looks up a per-thread copy on
// every call (measured: ~3% of a replay). One thread at a time: the first
// long input writes the secret.
class SeededXxh3 {
 public:
  explicit SeededXxh3(std::uint64_t seed) : seed_(seed) {}
  std::uint64_t seed() const { return seed_; }
  std::uint64_t operator()(std::span<const std::byte> bytes) const;

 private:
  std::uint64_t seed_;
  // Derived on the first input over 240 bytes: scanners built for one short
  // record (stream reads build one per record) never pay for it.
  mutable bool derived_ = false;
  alignas(64) mutable unsigned char secret_[192];
};

// The seed of every record checksum in a segment: XXH3-64 of
// le64(log_id) || le64(base_lsn) with seed 0. A record copied from another
// log or segment fails verification even if its bytes are intact.
std::uint64_t record_seed(std::uint64_t log_id, std::uint64_t base_lsn);

// One step of a segment's record chain (SPEC.md section 6): the chain starts
// at the record seed and folds in each batch record's header checksum.
std::uint64_t chain_step(std::uint64_t chain, std::uint64_t header_checksum);

}  // namespace cairn::format
