// MemFileSystem: Cairn's crash model, an in-memory io::FileSystem that can
// simulate power loss. Part of the public testing API (libcairn_testing): an
// application hands it to LogOptions::file_system, runs its own workload, cuts
// the power at a chosen operation and checks what survives. It depends on the
// standard library and cairn/file_system.h only.
//
// The model (what crash() may produce is exactly what the durability contract
// in cairn/file_system.h allows, and nothing more, except for the extra
// policy zero_whole_sectors, which is documented below as harsher):
//
// Files are inodes. A directory maps names to inodes, so a File opened before
// a rename or remove keeps working on the same inode (as on POSIX). Per inode
// the model keeps
//   * the current image (what read_at() returns),
//   * the durable image (what survives any crash), and
//   * the unsynced changes since the last successful sync_data(), in order:
//     writes (position, bytes) and size changes (truncate(), and allocate()
//     beyond the end, which extends the file with zeros like fallocate(2)
//     without KEEP_SIZE).
// sync_data() makes the current image durable and clears the list.
//
// crash(policy, seed) rebuilds each inode from its durable image and its
// unsynced changes. Writes are split into 512-byte sectors aligned on file
// positions that are multiples of 512; a write covering part of a sector
// changes only that part of it. Each inode is decided independently:
//   drop_unsynced  only the durable image survives (size included).
//   keep_prefix    a uniformly random prefix of the sequence of units survives,
//                  replayed in order on the durable image. Each write is one
//                  unit per sector it touches (in increasing position, so the
//                  write at the cut survives as a prefix of its sectors); each
//                  size change is one unit. The result is exactly a state the
//                  file passed through, up to a sector-granular tear of one
//                  write.
//   tear_sectors   first a random prefix of the size changes is applied to the
//                  durable image (file metadata is ordered); then every sector
//                  holding bytes changed by unsynced writes independently keeps
//                  its newest contents (the current bytes of those changed
//                  positions) or its older contents, in any combination: a
//                  later sector may survive while an earlier one is lost.
//   zero_sectors   like tear_sectors, but each such sector independently
//                  survives, is lost, or has its changed bytes read as zeros
//                  (like an unwritten extent). Bytes of the sector that were
//                  durable and not rewritten keep their durable value, so the
//                  contract holds.
//   zero_whole_sectors (extra, NOT within the contract) like zero_sectors, but
//                  a zeroed sector is zero over all 512 bytes, including
//                  durable bytes that share the sector with an unsynced write.
//                  This models devices whose sector writes are not atomic
//                  (TigerBeetle's fault model): an engine that rewrites a sector
//                  holding acknowledged bytes can lose them.
// The size after a crash is the size the chosen size changes give (the durable
// size for drop_unsynced), extended to cover the last surviving (or zeroed)
// changed byte of any sector beyond it; a gap reads as zeros.
//
// Directories keep durable entries, current entries and the entry changes
// (create, create_dir, rename, remove) since their last successful sync_dir(),
// in order. crash() keeps a uniformly random prefix of each directory's changes
// (drop_unsynced keeps none). A rename within one directory is one atomic
// change; a rename across directories is a removal in one and an addition in
// the other, decided independently (the file may end up in both or neither).
// A file whose creation is dropped is gone, even if its data was synced; a
// directory whose entry is dropped is gone with everything in it.
//
// Paths are plain strings ("/logs/a/00000000000000000000.seg"); repeated and
// trailing slashes are ignored. The parent of a path is everything before the
// last '/' ("/" for "/x", "." for a name without '/'). "/" and "." always exist
// and are durable. create_dir() of a directory whose parent does not exist
// creates it anyway, as a durable root (like a mount point); every other entry
// change must be made durable with sync_dir() of its parent, "/" included.
// Renaming directories is not supported (invalid_argument): Cairn renames only
// files, and it keeps the tree free of cycles after a crash. remove() removes a
// file or an empty directory.
//
// Determinism: crash() draws from one PRNG seeded with `seed` and visits the
// tree in name order, so a given (policy, seed) and operation history always
// give the same result. Nothing reads a clock or std::random_device.
//
// Thread safety: every member function, and every File it returns, may be
// called from any thread; one mutex serialises them.
//
// Lifetime: File and FileLock objects share the model's state, so they may
// outlive the MemFileSystem (their operations then keep working or failing as
// the model says).
//
// Memory: images are sparse 4 KiB pages shared between the durable and the
// current image, and all-zero pages are not stored, so preallocated segments
// cost little.
#pragma once

#include <cairn/file_system.h>
#include <cairn/status.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace cairn::testing {

namespace detail {
struct MemState;
}  // namespace detail

enum class CrashPolicy : std::uint8_t {
  drop_unsynced,
  keep_prefix,
  tear_sectors,
  zero_sectors,
  zero_whole_sectors,  // harsher than the durability contract; see above
};

// The four policies the durability contract of cairn/file_system.h allows,
// for crash tests that loop over them.
inline constexpr std::array<CrashPolicy, 4> kContractCrashPolicies = {
    CrashPolicy::drop_unsynced, CrashPolicy::keep_prefix, CrashPolicy::tear_sectors,
    CrashPolicy::zero_sectors};

// "drop_unsynced", "keep_prefix", "tear_sectors", "zero_sectors",
// "zero_whole_sectors".
const char* crash_policy_name(CrashPolicy policy);
// The inverse, for replaying a failure from CAIRN_POLICY=...; false if unknown.
bool parse_crash_policy(std::string_view name, CrashPolicy* policy);

class MemFileSystem : public io::FileSystem {
 public:
  MemFileSystem();
  ~MemFileSystem() override;
  MemFileSystem(const MemFileSystem&) = delete;
  MemFileSystem& operator=(const MemFileSystem&) = delete;

  // --- io::FileSystem ---------------------------------------------------
  Result<std::unique_ptr<io::File>> open(const std::string& path, io::OpenMode mode) override;
  Status rename(const std::string& from, const std::string& to) override;
  Status remove(const std::string& path) override;
  Status sync_dir(const std::string& dir) override;
  Result<std::vector<std::string>> list(const std::string& dir) override;
  Status create_dir(const std::string& dir) override;
  Result<bool> exists(const std::string& path) override;
  // Locks are per normalised path within this object: a second lock while the
  // first FileLock is alive fails with Errc::busy. The file is created if
  // missing (a counted op). crash() releases every lock, as power loss kills
  // every process; destroying a FileLock from before the crash then does
  // nothing.
  Result<std::unique_ptr<io::FileLock>> lock(const std::string& path) override;
  std::string name() const override { return "mem"; }

  // --- power loss -------------------------------------------------------
  // Rebuilds every file and directory as described at the top of this file,
  // invalidates every File opened before (their operations then fail with
  // Errc::io_error "file handle from before the crash"), releases every lock
  // and clears the freeze. Leaves op_count() and sync_count() as they are.
  void crash(CrashPolicy policy, std::uint64_t seed);

  // --- counting and freezing, to crash at a chosen operation --------------
  // Mutating operations are counted when they take effect: write_at, sync_data
  // (write_and_sync counts one write per op, then one sync), allocate,
  // truncate, open with create/create_new that creates a file, lock that
  // creates its file, rename, remove, sync_dir, and create_dir that creates a
  // directory. An operation that fails for an ordinary reason (not_found, ...)
  // is not counted. The count starts at 0 and never resets.
  std::uint64_t op_count() const;
  // After this call, the mutating operation that would make op_count() exceed
  // n (op n+1, or the next one if op_count() >= n already) fails with
  // Errc::io_error "simulated power cut" and has no effect, and so does every
  // later operation of the file system or its Files, reads included, until
  // crash(). Typical use:
  //   fs.freeze_after_ops(k); run_workload(); fs.crash(policy, seed);
  void freeze_after_ops(std::uint64_t n);
  // Cuts the power now: from this call every operation fails as above until
  // crash(). Use it to stop the application at a point of your choosing, then
  // destroy its objects (whose shutdown then has no effect), then crash().
  void cut_power();
  // True once the power is cut (by the freeze or cut_power(); not merely armed).
  bool frozen() const;

  // --- introspection for tests (not counted, work even when frozen) --------
  // The current contents (not necessarily durable) of a file.
  Result<std::string> read_file(const std::string& path) const;
  // Overwrites bytes of a file, durably and in the current image (extending it
  // with zeros if needed), to simulate corruption. Bytes also covered by a
  // still-unsynced write may revert to that write's contents after a crash.
  Status corrupt(const std::string& path, std::uint64_t position, std::string_view bytes);
  // Durably truncates or extends (with zeros) a file.
  Status set_size(const std::string& path, std::uint64_t bytes);
  // True when no crash policy in kContractCrashPolicies can change bytes
  // [position, position + bytes) of `path` or unlink it: the name resolves to
  // the same file through durable directory entries, the bytes are in the
  // durable image with exactly their current contents, and no unsynced change
  // overlaps them. Used to prove that nothing is acknowledged before it is
  // durable.
  bool is_durable(const std::string& path, std::uint64_t position, std::uint64_t bytes) const;
  // True when `path` resolves to the same file or directory through durable
  // entries as through current ones.
  bool is_name_durable(const std::string& path) const;
  // Successful sync_data() calls so far (write_and_sync's sync included).
  std::uint64_t sync_count() const;

 private:
  std::shared_ptr<detail::MemState> state_;
};

}  // namespace cairn::testing
