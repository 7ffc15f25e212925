// The crash model (see cairn/testing/mem_file_system.h for the semantics).
// Everything here runs under one mutex in MemState; nothing is asynchronous,
// so a test that drives it from one thread is fully deterministic.
#include <cairn/assert.h>
#include <cairn/testing/mem_file_system.h>

#include <algorithm>
#include <bitset>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <utility>
#include <vector>

#include "io/testing/prng.h"

namespace cairn::testing {
namespace {

// The unit of tearing: the smallest write a disk makes atomically (or not).
constexpr std::uint64_t kSectorBytes = 512;
// The unit of storage; bigger than a sector so a 64 MiB segment is 16 Ki pages.
constexpr std::uint64_t kPageBytes = 4096;

using detail::Prng;

std::span<const std::byte> as_bytes(std::string_view s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

// A sparse file image: 4 KiB pages, absent pages read as zeros, pages shared
// (copy on write) between images so that making an image durable, or
// rebuilding one after a crash, copies pointers rather than bytes.
// Invariant: every byte at or beyond size() reads as zero, and no page lies
// wholly beyond size(); so growing the image exposes zeros, as ftruncate does.
class Image {
 public:
  std::uint64_t size() const { return size_; }

  void resize(std::uint64_t bytes) {
    if (bytes < size_) {
      pages_.erase(pages_.lower_bound(pages_covering(bytes)), pages_.end());
      const std::uint64_t tail = bytes % kPageBytes;
      if (tail != 0 && pages_.contains(bytes / kPageBytes)) {
        Page& page = mutable_page(bytes / kPageBytes);
        std::memset(page.data() + tail, 0, kPageBytes - tail);
      }
    }
    size_ = bytes;
  }

  void write(std::uint64_t position, std::span<const std::byte> bytes) {
    for_each_chunk(
        position, bytes.size(),
        [&](std::uint64_t index, std::uint64_t offset, std::uint64_t done, std::uint64_t length) {
          const auto chunk = bytes.subspan(done, length);
          // Zeros into an absent page change nothing, which keeps zero-filled
          // preallocated segments free.
          if (!pages_.contains(index) && is_all_zero(chunk)) {
            return;
          }
          std::memcpy(mutable_page(index).data() + offset, chunk.data(), length);
        });
    size_ = std::max(size_, position + bytes.size());
  }

  void write_zeros(std::uint64_t position, std::uint64_t bytes) {
    for_each_chunk(
        position, bytes,
        [&](std::uint64_t index, std::uint64_t offset, std::uint64_t, std::uint64_t length) {
          if (pages_.contains(index)) {
            std::memset(mutable_page(index).data() + offset, 0, length);
          }
        });
    size_ = std::max(size_, position + bytes);
  }

  std::size_t read(std::uint64_t position, std::span<std::byte> out) const {
    if (position >= size_) {
      return 0;
    }
    const std::uint64_t n = std::min<std::uint64_t>(out.size(), size_ - position);
    for_each_chunk(
        position, n,
        [&](std::uint64_t index, std::uint64_t offset, std::uint64_t done, std::uint64_t length) {
          std::memcpy(out.data() + done, page_bytes(index) + offset, length);
        });
    return static_cast<std::size_t>(n);
  }

  // REQUIRES: both images are at least position + bytes long.
  bool range_equals(const Image& other, std::uint64_t position, std::uint64_t bytes) const {
    bool equal = true;
    for_each_chunk(
        position, bytes,
        [&](std::uint64_t index, std::uint64_t offset, std::uint64_t, std::uint64_t length) {
          const std::byte* mine = page_bytes(index);
          const std::byte* theirs = other.page_bytes(index);
          if (equal && mine != theirs) {
            equal = std::memcmp(mine + offset, theirs + offset, length) == 0;
          }
        });
    return equal;
  }

  // Takes `from`'s pages covering [position, position + bytes), so that those
  // bytes (and the rest of their pages) equal `from`'s.
  void adopt_range(const Image& from, std::uint64_t position, std::uint64_t bytes) {
    if (bytes == 0) {
      return;
    }
    for (std::uint64_t i = position / kPageBytes; i <= (position + bytes - 1) / kPageBytes; ++i) {
      auto it = from.pages_.find(i);
      if (it != from.pages_.end()) {
        pages_[i] = it->second;
      } else {
        pages_.erase(i);
      }
    }
  }
  void adopt_size(const Image& from) { size_ = from.size_; }

 private:
  using Page = std::array<std::byte, kPageBytes>;

  static std::uint64_t pages_covering(std::uint64_t bytes) {
    return (bytes + kPageBytes - 1) / kPageBytes;
  }
  static bool is_all_zero(std::span<const std::byte> bytes) {
    return std::all_of(bytes.begin(), bytes.end(), [](std::byte b) { return b == std::byte{0}; });
  }
  // Calls fn(page index, offset in page, bytes done so far, chunk length) for
  // each page-sized piece of [position, position + bytes).
  template <class Fn>
  static void for_each_chunk(std::uint64_t position, std::uint64_t bytes, Fn&& fn) {
    std::uint64_t done = 0;
    while (done < bytes) {
      const std::uint64_t at = position + done;
      const std::uint64_t offset = at % kPageBytes;
      const std::uint64_t length = std::min(bytes - done, kPageBytes - offset);
      fn(at / kPageBytes, offset, done, length);
      done += length;
    }
  }
  const std::byte* page_bytes(std::uint64_t index) const {
    static const Page kZeroPage{};
    auto it = pages_.find(index);
    return it == pages_.end() ? kZeroPage.data() : it->second->data();
  }
  Page& mutable_page(std::uint64_t index) {
    auto& slot = pages_[index];
    if (!slot) {
      slot = std::make_shared<Page>();  // value-initialised: zeros
    } else if (slot.use_count() > 1) {
      slot = std::make_shared<Page>(*slot);  // shared with another image: copy on write
    }
    return *slot;
  }

  std::map<std::uint64_t, std::shared_ptr<Page>> pages_;
  std::uint64_t size_ = 0;
};

// One unsynced change to a file, in the order it was made.
struct FileChange {
  enum class Kind : std::uint8_t { write, resize };
  Kind kind;
  std::uint64_t position;  // write: where it starts; resize: the new size
  std::uint64_t bytes;     // write: its length
  bool zeros;              // write: all zeros (then `data` is empty, to save memory)
  std::string data;
};

struct Node;
using NodePtr = std::shared_ptr<Node>;

// One change to a directory's entries. Its assignments apply together, which
// makes a rename within one directory atomic. A null node removes the name.
struct EntryChange {
  std::vector<std::pair<std::string, NodePtr>> assignments;
};

// An inode: a file or a directory. Directories own their children, children
// never point up, and directories cannot be renamed, so there are no cycles.
struct Node {
  explicit Node(bool dir) : is_dir(dir) {}
  const bool is_dir;
  // Files. Invariant: current == durable + unsynced applied in order, except
  // after corrupt()/set_size(), which set copy_whole_on_sync.
  Image current;
  Image durable;
  std::vector<FileChange> unsynced;
  bool copy_whole_on_sync = false;
  // Directories. Invariant: entries == durable_entries + entry_changes applied.
  std::map<std::string, NodePtr> entries;
  std::map<std::string, NodePtr> durable_entries;
  std::vector<EntryChange> entry_changes;
};

void apply_entry_change(std::map<std::string, NodePtr>& entries, const EntryChange& change) {
  for (const auto& [name, node] : change.assignments) {
    if (node) {
      entries[name] = node;
    } else {
      entries.erase(name);
    }
  }
}

void change_entries(Node& dir, EntryChange change) {
  apply_entry_change(dir.entries, change);
  dir.entry_changes.push_back(std::move(change));
}

void apply_write_part(Image& image, const FileChange& change, std::uint64_t position,
                      std::uint64_t bytes) {
  if (change.zeros) {
    image.write_zeros(position, bytes);
  } else {
    image.write(position, as_bytes(change.data).subspan(position - change.position, bytes));
  }
}

std::uint64_t sectors_touched(std::uint64_t position, std::uint64_t bytes) {
  return bytes == 0 ? 0 : (position + bytes - 1) / kSectorBytes - position / kSectorBytes + 1;
}

// Makes a file's current image durable without copying bytes: the durable
// image takes the current image's pages that unsynced writes touched.
void make_durable(Node& file) {
  bool whole = file.copy_whole_on_sync;
  for (const FileChange& c : file.unsynced) {
    whole = whole || c.kind == FileChange::Kind::resize;
  }
  if (whole) {
    file.durable = file.current;
  } else {
    for (const FileChange& c : file.unsynced) {
      file.durable.adopt_range(file.current, c.position, c.bytes);
    }
    file.durable.adopt_size(file.current);
  }
  file.unsynced.clear();
  file.copy_whole_on_sync = false;
}

// --- crash: files ------------------------------------------------------

// keep_prefix: replays a random prefix of the units (one per sector a write
// touches, one per size change) on the durable image.
Image keep_prefix_image(const Node& file, Prng& prng) {
  std::uint64_t units = 0;
  for (const FileChange& c : file.unsynced) {
    units += c.kind == FileChange::Kind::resize ? 1 : sectors_touched(c.position, c.bytes);
  }
  std::uint64_t keep = prng.below(units + 1);
  Image image = file.durable;
  for (const FileChange& c : file.unsynced) {
    if (keep == 0) {
      break;
    }
    if (c.kind == FileChange::Kind::resize) {
      image.resize(c.position);
      --keep;
      continue;
    }
    std::uint64_t at = c.position;
    const std::uint64_t end = c.position + c.bytes;
    while (at < end && keep > 0) {
      const std::uint64_t piece_end = std::min(end, (at / kSectorBytes + 1) * kSectorBytes);
      apply_write_part(image, c, at, piece_end - at);
      at = piece_end;
      --keep;
    }
  }
  return image;
}

using SectorMask = std::bitset<kSectorBytes>;

// Bits [first, end) set.
SectorMask range_mask(std::uint64_t first, std::uint64_t end) {
  SectorMask mask;
  mask.set();
  mask >>= kSectorBytes - (end - first);
  mask <<= first;
  return mask;
}

// Which bytes of which sectors unsynced writes changed and the current image
// still holds: writes mark bytes, shrinking size changes unmark them.
std::map<std::uint64_t, SectorMask> dirty_sectors(const Node& file) {
  std::map<std::uint64_t, SectorMask> dirty;
  auto clip = [&dirty](std::uint64_t size) {
    dirty.erase(dirty.lower_bound((size + kSectorBytes - 1) / kSectorBytes), dirty.end());
    auto it = dirty.find(size / kSectorBytes);
    if (it != dirty.end()) {
      it->second &= range_mask(0, size % kSectorBytes);
      if (it->second.none()) {
        dirty.erase(it);
      }
    }
  };
  for (const FileChange& c : file.unsynced) {
    if (c.kind == FileChange::Kind::resize) {
      clip(c.position);
      continue;
    }
    std::uint64_t at = c.position;
    const std::uint64_t end = c.position + c.bytes;
    while (at < end) {
      const std::uint64_t sector = at / kSectorBytes;
      const std::uint64_t piece_end = std::min(end, (sector + 1) * kSectorBytes);
      dirty[sector] |= range_mask(at % kSectorBytes, at % kSectorBytes + (piece_end - at));
      at = piece_end;
    }
  }
  clip(file.current.size());  // set_size() may have cut the current image under them
  return dirty;
}

// Calls fn(first, end) for each run of set bits.
template <class Fn>
void for_each_run(const SectorMask& mask, Fn&& fn) {
  std::uint64_t i = 0;
  while (i < kSectorBytes) {
    if (!mask.test(i)) {
      ++i;
      continue;
    }
    std::uint64_t end = i;
    while (end < kSectorBytes && mask.test(end)) {
      ++end;
    }
    fn(i, end);
    i = end;
  }
}

void copy_changed_bytes(Image& image, const Image& current, std::uint64_t sector_start,
                        const SectorMask& mask) {
  for_each_run(mask, [&](std::uint64_t first, std::uint64_t end) {
    std::array<std::byte, kSectorBytes> buffer;
    const auto piece = std::span(buffer).first(end - first);
    const std::size_t n = current.read(sector_start + first, piece);
    CAIRN_ASSERT_MSG(n == piece.size(), "dirty bytes lie within the current image");
    image.write(sector_start + first, piece);
  });
}

void zero_changed_bytes(Image& image, std::uint64_t sector_start, const SectorMask& mask) {
  for_each_run(mask, [&](std::uint64_t first, std::uint64_t end) {
    image.write_zeros(sector_start + first, end - first);
  });
}

void zero_whole_sector(Image& image, std::uint64_t sector_start, const SectorMask& mask) {
  std::uint64_t last = kSectorBytes - 1;
  while (!mask.test(last)) {
    --last;
  }
  image.resize(std::max(image.size(), sector_start + last + 1));
  image.write_zeros(sector_start, std::min(kSectorBytes, image.size() - sector_start));
}

// tear_sectors, zero_sectors, zero_whole_sectors: a prefix of the size
// changes, then an independent choice per changed sector.
Image torn_image(const Node& file, CrashPolicy policy, Prng& prng) {
  std::uint64_t resizes = 0;
  for (const FileChange& c : file.unsynced) {
    resizes += c.kind == FileChange::Kind::resize ? 1 : 0;
  }
  std::uint64_t keep = prng.below(resizes + 1);
  Image image = file.durable;
  for (const FileChange& c : file.unsynced) {
    if (keep > 0 && c.kind == FileChange::Kind::resize) {
      image.resize(c.position);
      --keep;
    }
  }
  const std::uint64_t outcomes = policy == CrashPolicy::tear_sectors ? 2 : 3;
  for (const auto& [sector, mask] : dirty_sectors(file)) {
    const std::uint64_t start = sector * kSectorBytes;
    switch (prng.below(outcomes)) {
      case 0:  // lost: the older contents stay
        break;
      case 1:
        copy_changed_bytes(image, file.current, start, mask);
        break;
      default:
        if (policy == CrashPolicy::zero_whole_sectors) {
          zero_whole_sector(image, start, mask);
        } else {
          zero_changed_bytes(image, start, mask);
        }
        break;
    }
  }
  return image;
}

Image crashed_image(const Node& file, CrashPolicy policy, Prng& prng) {
  switch (policy) {
    case CrashPolicy::drop_unsynced:
      return file.durable;
    case CrashPolicy::keep_prefix:
      return keep_prefix_image(file, prng);
    case CrashPolicy::tear_sectors:
    case CrashPolicy::zero_sectors:
    case CrashPolicy::zero_whole_sectors:
      return torn_image(file, policy, prng);
  }
  CAIRN_ASSERT_MSG(false, "every CrashPolicy is handled above");
  return file.durable;
}

// --- paths -------------------------------------------------------------

// Collapses repeated slashes and drops a trailing one; "" means ".".
std::string normalize(std::string_view path) {
  std::string out;
  for (char c : path) {
    if (c == '/' && !out.empty() && out.back() == '/') {
      continue;
    }
    out += c;
  }
  while (out.size() > 1 && out.back() == '/') {
    out.pop_back();
  }
  return out.empty() ? "." : out;
}

// Parent directory and entry name of a normalised path that is not a root.
std::pair<std::string, std::string> split(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) {
    return {".", path};
  }
  if (slash == 0) {
    return {"/", path.substr(1)};
  }
  return {path.substr(0, slash), path.substr(slash + 1)};
}

Status power_cut(const std::string& path) {
  return Status::in_file(Errc::io_error, path, "simulated power cut", EIO);
}

Status sys_error(const std::string& path, const char* what, int sys_errno) {
  return Status::in_file(Errc::io_error, path, what, sys_errno);
}

}  // namespace

namespace detail {

struct MemState {
  mutable std::mutex mu;
  // "/" and "." and directories created without a parent; always durable.
  std::map<std::string, NodePtr> roots;
  std::uint64_t epoch = 0;  // bumped by crash(); File objects remember theirs
  std::uint64_t op_count = 0;
  std::uint64_t sync_count = 0;
  std::optional<std::uint64_t> freeze_limit;
  bool frozen = false;
  std::map<std::string, std::uint64_t> locks;  // normalised path -> lock id
  std::uint64_t next_lock_id = 1;

  // Resolves through current entries, or durable ones with `durable`.
  NodePtr lookup(const std::string& path, bool durable = false) const {
    if (auto it = roots.find(path); it != roots.end()) {
      return it->second;
    }
    if (path == "/" || path == ".") {
      return nullptr;
    }
    const auto [parent_path, name] = split(path);
    const NodePtr parent = lookup(parent_path, durable);
    if (!parent || !parent->is_dir) {
      return nullptr;
    }
    const auto& entries = durable ? parent->durable_entries : parent->entries;
    auto it = entries.find(name);
    return it == entries.end() ? nullptr : it->second;
  }

  // Every operation starts here: once the power is cut, nothing works.
  Status check_live(const std::string& path) const { return frozen ? power_cut(path) : Status(); }

  // Counts a mutating operation that is about to take effect, or cuts the
  // power instead when the freeze limit is reached.
  Status tick(const std::string& path) {
    if (frozen || (freeze_limit && op_count >= *freeze_limit)) {
      frozen = true;
      return power_cut(path);
    }
    ++op_count;
    return Status();
  }

  // REQUIRES: the parent exists and `path` does not. Counts as an op.
  Result<NodePtr> create_file(const std::string& path) {
    const auto [parent_path, name] = split(path);
    const NodePtr parent = lookup(parent_path);
    if (!parent) {
      return Status::in_file(Errc::not_found, path, "parent directory does not exist", ENOENT);
    }
    if (!parent->is_dir) {
      return sys_error(path, "parent is not a directory", ENOTDIR);
    }
    CAIRN_TRY(tick(path));
    auto node = std::make_shared<Node>(false);
    change_entries(*parent, EntryChange{{{name, node}}});
    return node;
  }

  void crash_node(Node& node, CrashPolicy policy, Prng& prng, std::set<const Node*>& visited) {
    if (!visited.insert(&node).second) {
      return;  // a cross-directory rename can leave one file under two names
    }
    if (!node.is_dir) {
      node.durable = crashed_image(node, policy, prng);
      node.current = node.durable;
      node.unsynced.clear();
      node.copy_whole_on_sync = false;
      return;
    }
    const std::uint64_t keep =
        policy == CrashPolicy::drop_unsynced ? 0 : prng.below(node.entry_changes.size() + 1);
    for (std::uint64_t i = 0; i < keep; ++i) {
      apply_entry_change(node.durable_entries, node.entry_changes[i]);
    }
    node.entries = node.durable_entries;
    node.entry_changes.clear();
    for (const auto& [name, child] : node.entries) {
      crash_node(*child, policy, prng, visited);
    }
  }
};

}  // namespace detail

namespace {

using detail::MemState;

class MemFile final : public io::File {
 public:
  MemFile(std::shared_ptr<MemState> state, NodePtr node, std::string path, bool writable)
      : state_(std::move(state)),
        node_(std::move(node)),
        path_(std::move(path)),
        writable_(writable),
        epoch_(state_->epoch) {}

  Status write_at(std::uint64_t position, std::span<const std::byte> bytes) override {
    std::lock_guard lock(state_->mu);
    CAIRN_TRY(check_writable());
    CAIRN_TRY(state_->tick(path_));
    node_->current.write(position, bytes);
    FileChange change{FileChange::Kind::write, position, bytes.size(), true, {}};
    if (!std::all_of(bytes.begin(), bytes.end(), [](std::byte b) { return b == std::byte{0}; })) {
      change.zeros = false;
      change.data.assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    }
    node_->unsynced.push_back(std::move(change));
    return Status();
  }

  Result<std::size_t> read_at(std::uint64_t position, std::span<std::byte> out) const override {
    std::lock_guard lock(state_->mu);
    CAIRN_TRY(check_usable());
    return node_->current.read(position, out);
  }

  Status sync_data() override {
    std::lock_guard lock(state_->mu);
    CAIRN_TRY(check_usable());
    CAIRN_TRY(state_->tick(path_));
    make_durable(*node_);
    ++state_->sync_count;
    return Status();
  }

  // write_and_sync() is the default File one: a loop of write_at() then
  // sync_data(), so each write and the sync are separate counted ops, and a
  // freeze in the middle leaves the earlier writes done and the rest undone.

  Status allocate(std::uint64_t position, std::uint64_t bytes) override {
    std::lock_guard lock(state_->mu);
    CAIRN_TRY(check_writable());
    CAIRN_TRY(state_->tick(path_));
    // Like fallocate(2) without FALLOC_FL_KEEP_SIZE: grows the file with zeros.
    if (position + bytes > node_->current.size()) {
      resize(position + bytes);
    }
    return Status();
  }

  Result<std::uint64_t> size() const override {
    std::lock_guard lock(state_->mu);
    CAIRN_TRY(check_usable());
    return node_->current.size();
  }

  Status truncate(std::uint64_t bytes) override {
    std::lock_guard lock(state_->mu);
    CAIRN_TRY(check_writable());
    CAIRN_TRY(state_->tick(path_));
    if (bytes != node_->current.size()) {
      resize(bytes);
    }
    return Status();
  }

  const std::string& path() const override { return path_; }

 private:
  Status check_usable() const {
    if (epoch_ != state_->epoch) {
      return Status::in_file(Errc::io_error, path_, "file handle from before the crash", EIO);
    }
    return state_->check_live(path_);
  }
  Status check_writable() const {
    CAIRN_TRY(check_usable());
    return writable_ ? Status() : sys_error(path_, "file is open read-only", EBADF);
  }
  void resize(std::uint64_t bytes) {
    node_->current.resize(bytes);
    node_->unsynced.push_back(FileChange{FileChange::Kind::resize, bytes, 0, false, {}});
  }

  std::shared_ptr<MemState> state_;
  NodePtr node_;
  std::string path_;
  bool writable_;
  std::uint64_t epoch_;
};

class MemFileLock final : public io::FileLock {
 public:
  MemFileLock(std::shared_ptr<MemState> state, std::string path, std::uint64_t id)
      : state_(std::move(state)), path_(std::move(path)), id_(id) {}
  ~MemFileLock() override {
    std::lock_guard lock(state_->mu);
    // After a crash the lock was released and may be held by someone else now.
    auto it = state_->locks.find(path_);
    if (it != state_->locks.end() && it->second == id_) {
      state_->locks.erase(it);
    }
  }
  MemFileLock(const MemFileLock&) = delete;
  MemFileLock& operator=(const MemFileLock&) = delete;

 private:
  std::shared_ptr<MemState> state_;
  std::string path_;
  std::uint64_t id_;
};

}  // namespace

const char* crash_policy_name(CrashPolicy policy) {
  switch (policy) {
    case CrashPolicy::drop_unsynced:
      return "drop_unsynced";
    case CrashPolicy::keep_prefix:
      return "keep_prefix";
    case CrashPolicy::tear_sectors:
      return "tear_sectors";
    case CrashPolicy::zero_sectors:
      return "zero_sectors";
    case CrashPolicy::zero_whole_sectors:
      return "zero_whole_sectors";
  }
  return "unknown";
}

bool parse_crash_policy(std::string_view name, CrashPolicy* policy) {
  for (CrashPolicy p :
       {CrashPolicy::drop_unsynced, CrashPolicy::keep_prefix, CrashPolicy::tear_sectors,
        CrashPolicy::zero_sectors, CrashPolicy::zero_whole_sectors}) {
    if (name == crash_policy_name(p)) {
      *policy = p;
      return true;
    }
  }
  return false;
}

MemFileSystem::MemFileSystem() : state_(std::make_shared<MemState>()) {
  state_->roots["/"] = std::make_shared<Node>(true);
  state_->roots["."] = std::make_shared<Node>(true);
}

MemFileSystem::~MemFileSystem() = default;

Result<std::unique_ptr<io::File>> MemFileSystem::open(const std::string& path, io::OpenMode mode) {
  const std::string p = normalize(path);
  std::lock_guard lock(state_->mu);
  CAIRN_TRY(state_->check_live(p));
  NodePtr node = state_->lookup(p);
  if (node && node->is_dir) {
    return sys_error(p, "is a directory", EISDIR);
  }
  if (node && mode == io::OpenMode::create_new) {
    return sys_error(p, "file exists", EEXIST);
  }
  if (!node) {
    if (mode == io::OpenMode::read_only || mode == io::OpenMode::read_write) {
      return Status::in_file(Errc::not_found, p, "no such file", ENOENT);
    }
    CAIRN_ASSIGN_OR_RETURN(node, state_->create_file(p));
  }
  return std::unique_ptr<io::File>(
      std::make_unique<MemFile>(state_, node, p, mode != io::OpenMode::read_only));
}

Status MemFileSystem::rename(const std::string& from, const std::string& to) {
  const std::string f = normalize(from);
  const std::string t = normalize(to);
  std::lock_guard lock(state_->mu);
  CAIRN_TRY(state_->check_live(f));
  const NodePtr source = state_->lookup(f);
  if (!source) {
    return Status::in_file(Errc::not_found, f, "no such file", ENOENT);
  }
  if (source->is_dir) {
    return Status::in_file(Errc::invalid_argument, f, "mem: renaming directories is not supported");
  }
  if (f == t) {
    return Status();
  }
  const auto [to_parent_path, to_name] = split(t);
  const NodePtr to_parent = state_->lookup(to_parent_path);
  if (!to_parent || !to_parent->is_dir) {
    return Status::in_file(Errc::not_found, t, "target directory does not exist", ENOENT);
  }
  if (const NodePtr target = state_->lookup(t); target && target->is_dir) {
    return sys_error(t, "target is a directory", EISDIR);
  }
  CAIRN_TRY(state_->tick(f));
  const auto [from_parent_path, from_name] = split(f);
  const NodePtr from_parent = state_->lookup(from_parent_path);
  if (from_parent == to_parent) {
    change_entries(*to_parent, EntryChange{{{to_name, source}, {from_name, nullptr}}});
  } else {
    change_entries(*from_parent, EntryChange{{{from_name, nullptr}}});
    change_entries(*to_parent, EntryChange{{{to_name, source}}});
  }
  return Status();
}

Status MemFileSystem::remove(const std::string& path) {
  const std::string p = normalize(path);
  std::lock_guard lock(state_->mu);
  CAIRN_TRY(state_->check_live(p));
  const NodePtr node = state_->lookup(p);
  if (!node) {
    return Status::in_file(Errc::not_found, p, "no such file", ENOENT);
  }
  if (state_->roots.contains(p)) {
    return Status::in_file(Errc::invalid_argument, p, "mem: cannot remove a root directory");
  }
  if (node->is_dir && !node->entries.empty()) {
    return sys_error(p, "directory not empty", ENOTEMPTY);
  }
  CAIRN_TRY(state_->tick(p));
  const auto [parent_path, name] = split(p);
  change_entries(*state_->lookup(parent_path), EntryChange{{{name, nullptr}}});
  return Status();
}

Status MemFileSystem::sync_dir(const std::string& dir) {
  const std::string p = normalize(dir);
  std::lock_guard lock(state_->mu);
  CAIRN_TRY(state_->check_live(p));
  const NodePtr node = state_->lookup(p);
  if (!node) {
    return Status::in_file(Errc::not_found, p, "no such directory", ENOENT);
  }
  if (!node->is_dir) {
    return sys_error(p, "not a directory", ENOTDIR);
  }
  CAIRN_TRY(state_->tick(p));
  node->durable_entries = node->entries;
  node->entry_changes.clear();
  return Status();
}

Result<std::vector<std::string>> MemFileSystem::list(const std::string& dir) {
  const std::string p = normalize(dir);
  std::lock_guard lock(state_->mu);
  CAIRN_TRY(state_->check_live(p));
  const NodePtr node = state_->lookup(p);
  if (!node) {
    return Status::in_file(Errc::not_found, p, "no such directory", ENOENT);
  }
  if (!node->is_dir) {
    return sys_error(p, "not a directory", ENOTDIR);
  }
  std::vector<std::string> names;
  for (const auto& entry : node->entries) {
    names.push_back(entry.first);  // std::map keeps them sorted
  }
  return names;
}

Status MemFileSystem::create_dir(const std::string& dir) {
  const std::string p = normalize(dir);
  std::lock_guard lock(state_->mu);
  CAIRN_TRY(state_->check_live(p));
  if (const NodePtr node = state_->lookup(p)) {
    return node->is_dir ? Status() : sys_error(p, "exists and is not a directory", EEXIST);
  }
  const auto [parent_path, name] = split(p);
  const NodePtr parent = state_->lookup(parent_path);
  if (parent && !parent->is_dir) {
    return sys_error(p, "parent is not a directory", ENOTDIR);
  }
  CAIRN_TRY(state_->tick(p));
  auto node = std::make_shared<Node>(true);
  if (!parent) {
    state_->roots[p] = node;  // no parent to record it in: a durable root
  } else {
    change_entries(*parent, EntryChange{{{name, node}}});
  }
  return Status();
}

Result<bool> MemFileSystem::exists(const std::string& path) {
  const std::string p = normalize(path);
  std::lock_guard lock(state_->mu);
  CAIRN_TRY(state_->check_live(p));
  return state_->lookup(p) != nullptr;
}

Result<std::unique_ptr<io::FileLock>> MemFileSystem::lock(const std::string& path) {
  const std::string p = normalize(path);
  std::lock_guard lock(state_->mu);
  CAIRN_TRY(state_->check_live(p));
  const NodePtr node = state_->lookup(p);
  if (node && node->is_dir) {
    return sys_error(p, "is a directory", EISDIR);
  }
  if (!node) {
    CAIRN_TRY(state_->create_file(p).status());
  }
  if (state_->locks.contains(p)) {
    return Status::in_file(Errc::busy, p, "locked by another open log");
  }
  const std::uint64_t id = state_->next_lock_id++;
  state_->locks[p] = id;
  return std::unique_ptr<io::FileLock>(std::make_unique<MemFileLock>(state_, p, id));
}

void MemFileSystem::crash(CrashPolicy policy, std::uint64_t seed) {
  std::lock_guard lock(state_->mu);
  Prng prng(seed);
  std::set<const Node*> visited;
  for (const auto& [path, root] : state_->roots) {
    state_->crash_node(*root, policy, prng, visited);
  }
  ++state_->epoch;
  state_->locks.clear();
  state_->frozen = false;
  state_->freeze_limit.reset();
}

std::uint64_t MemFileSystem::op_count() const {
  std::lock_guard lock(state_->mu);
  return state_->op_count;
}

void MemFileSystem::freeze_after_ops(std::uint64_t n) {
  std::lock_guard lock(state_->mu);
  state_->freeze_limit = n;
}

void MemFileSystem::cut_power() {
  std::lock_guard lock(state_->mu);
  state_->frozen = true;
}

bool MemFileSystem::frozen() const {
  std::lock_guard lock(state_->mu);
  return state_->frozen;
}

Result<std::string> MemFileSystem::read_file(const std::string& path) const {
  const std::string p = normalize(path);
  std::lock_guard lock(state_->mu);
  const NodePtr node = state_->lookup(p);
  if (!node || node->is_dir) {
    return Status::in_file(Errc::not_found, p, "no such file", ENOENT);
  }
  std::string out(node->current.size(), '\0');
  const std::size_t n =
      node->current.read(0, std::as_writable_bytes(std::span<char>(out.data(), out.size())));
  CAIRN_ASSERT(n == out.size());
  return out;
}

Status MemFileSystem::corrupt(const std::string& path, std::uint64_t position,
                              std::string_view bytes) {
  const std::string p = normalize(path);
  std::lock_guard lock(state_->mu);
  const NodePtr node = state_->lookup(p);
  if (!node || node->is_dir) {
    return Status::in_file(Errc::not_found, p, "no such file", ENOENT);
  }
  node->current.write(position, as_bytes(bytes));
  node->durable.write(position, as_bytes(bytes));
  // The images no longer differ by exactly the unsynced changes.
  node->copy_whole_on_sync = true;
  return Status();
}

Status MemFileSystem::set_size(const std::string& path, std::uint64_t bytes) {
  const std::string p = normalize(path);
  std::lock_guard lock(state_->mu);
  const NodePtr node = state_->lookup(p);
  if (!node || node->is_dir) {
    return Status::in_file(Errc::not_found, p, "no such file", ENOENT);
  }
  node->current.resize(bytes);
  node->durable.resize(bytes);
  node->copy_whole_on_sync = true;
  return Status();
}

bool MemFileSystem::is_durable(const std::string& path, std::uint64_t position,
                               std::uint64_t bytes) const {
  const std::string p = normalize(path);
  std::lock_guard lock(state_->mu);
  const NodePtr node = state_->lookup(p);
  if (!node || node->is_dir || node != state_->lookup(p, /*durable=*/true)) {
    return false;
  }
  const std::uint64_t end = position + bytes;
  if (end > node->current.size() || end > node->durable.size() ||
      !node->current.range_equals(node->durable, position, bytes)) {
    return false;
  }
  for (const FileChange& c : node->unsynced) {
    const bool overlaps = c.kind == FileChange::Kind::resize
                              ? c.position < end
                              : c.position < end && position < c.position + c.bytes;
    if (overlaps) {
      return false;
    }
  }
  return true;
}

bool MemFileSystem::is_name_durable(const std::string& path) const {
  const std::string p = normalize(path);
  std::lock_guard lock(state_->mu);
  const NodePtr node = state_->lookup(p);
  return node != nullptr && node == state_->lookup(p, /*durable=*/true);
}

std::uint64_t MemFileSystem::sync_count() const {
  std::lock_guard lock(state_->mu);
  return state_->sync_count;
}

}  // namespace cairn::testing
