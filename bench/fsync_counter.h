// Counts the fsync() and fdatasync() calls of the whole process.
//
// common.cc defines fsync() and fdatasync() in the executable; the dynamic
// linker binds the peers' shared libraries (libsqlite3, librocksdb, liblmdb)
// to those definitions, which count the call and make the real system call.
// That gives every peer an fsync count measured the same way, without
// trusting each library's own statistics. Cairn reports its own count
// (LogStats::fsync_count), because its io_uring backend submits fdatasync
// without a system call of that name.
#pragma once

#include <cstdint>

namespace cairn_bench {

// fsync() + fdatasync() calls made so far by any thread of this process.
std::uint64_t process_fsyncs();

// True once the interposer has seen at least one call made through the
// dynamic linker from a shared library (proof that the counting works for
// the peers, not only for calls from the executable itself).
bool fsync_counter_works();

}  // namespace cairn_bench
