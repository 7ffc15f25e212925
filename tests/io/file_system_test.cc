// The real I/O backends (posix and io_uring) against the FileSystem/File
// contract, on a real file system under /tmp. Every contract test runs on
// both backends; tests that only make sense for one are named after it.
#include <cairn/file_system.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/posix_file_system.h"
#include "io/uring_file_system.h"

namespace {

using cairn::Errc;
using cairn::Status;
using cairn::io::Backend;
using cairn::io::File;
using cairn::io::FileSystem;
using cairn::io::OpenMode;
using cairn::io::WriteOp;

std::shared_ptr<FileSystem> make(Backend backend) {
  auto fs = cairn::io::make_file_system(backend);
  REQUIRE_MESSAGE(fs.has_value(), fs.status().to_string());
  return *fs;
}

// The backends the contract tests run over.
struct PosixBackend {
  static std::shared_ptr<FileSystem> make() { return ::make(Backend::posix); }
};
struct UringBackend {
  static std::shared_ptr<FileSystem> make() { return ::make(Backend::io_uring); }
};

// A fresh directory under /tmp, removed with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/cairn-io-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    dir_ = tmpl;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& dir() const { return dir_; }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

 private:
  std::string dir_;
};

// Deterministic, position-dependent bytes, so a misplaced write shows.
std::vector<std::byte> pattern(std::size_t n, std::uint32_t seed) {
  std::vector<std::byte> out(n);
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& b : out) {
    x = x * 1103515245u + 12345u;
    b = static_cast<std::byte>(x >> 24);
  }
  return out;
}

std::vector<std::byte> read_all(const File& file) {
  auto size = file.size();
  REQUIRE(size.has_value());
  std::vector<std::byte> out(*size);
  auto n = file.read_at(0, out);
  REQUIRE(n.has_value());
  REQUIRE(*n == out.size());
  return out;
}

std::unique_ptr<File> open(FileSystem& fs, const std::string& path, OpenMode mode) {
  auto file = fs.open(path, mode);
  REQUIRE_MESSAGE(file.has_value(), file.status().to_string());
  return std::move(file).value();
}

// Runs `body` in a forked child (for things that must not touch this
// process: rlimits, seccomp filters) and returns what it wrote to stderr
// followed by the text it returned.
std::string run_in_child(const std::function<std::string()>& body) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    ::dup2(fds[1], STDERR_FILENO);  // what the code under test logs is part of the text
    const std::string out = body();
    const ssize_t n = ::write(fds[1], out.data(), out.size());
    ::_exit(n == static_cast<ssize_t>(out.size()) ? 0 : 1);
  }
  ::close(fds[1]);
  std::string out;
  char buf[512];
  ssize_t n = 0;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) {
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int wstatus = 0;
  REQUIRE(::waitpid(pid, &wstatus, 0) == pid);
  CHECK(WIFEXITED(wstatus));
  return out;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TYPE_TO_STRING_AS("posix", PosixBackend);
TYPE_TO_STRING_AS("io_uring", UringBackend);

#define BACKENDS PosixBackend, UringBackend

TEST_CASE_TEMPLATE("the factory hands out the backend it was asked for", B, BACKENDS) {
  auto fs = B::make();
  if (std::is_same_v<B, UringBackend>) {
    CHECK(fs->name() == "io_uring");
  } else {
    CHECK(fs->name() == "posix");
  }
}

TEST_CASE_TEMPLATE("written bytes read back identically", B, BACKENDS) {
  TempDir tmp;
  auto fs = B::make();
  auto file = open(*fs, tmp.path("a"), OpenMode::create);
  const auto head = pattern(100, 1);
  const auto tail = pattern(5000, 2);
  REQUIRE(file->write_at(0, head).ok());
  REQUIRE(file->write_at(4096, tail).ok());
  REQUIRE(file->sync_data().ok());

  auto again = open(*fs, tmp.path("a"), OpenMode::read_only);
  std::vector<std::byte> got(5000);
  auto n = again->read_at(4096, got);
  REQUIRE(n.has_value());
  CHECK(*n == 5000);
  CHECK(got == tail);
  got.resize(100);
  REQUIRE(again->read_at(0, got).has_value());
  CHECK(got == head);
  // The gap between the two writes reads as zeros.
  std::vector<std::byte> gap(4096 - 100);
  REQUIRE(again->read_at(100, gap).has_value());
  CHECK(std::all_of(gap.begin(), gap.end(), [](std::byte b) { return b == std::byte{0}; }));
}

TEST_CASE_TEMPLATE("a read that reaches the end of the file returns only the bytes there", B,
                   BACKENDS) {
  TempDir tmp;
  auto fs = B::make();
  auto file = open(*fs, tmp.path("a"), OpenMode::create);
  REQUIRE(file->write_at(0, pattern(1000, 3)).ok());
  std::vector<std::byte> buf(4096);
  auto n = file->read_at(900, buf);
  REQUIRE(n.has_value());
  CHECK(*n == 100);
  n = file->read_at(1000, buf);
  REQUIRE(n.has_value());
  CHECK(*n == 0);
  n = file->read_at(50000, buf);
  REQUIRE(n.has_value());
  CHECK(*n == 0);
}

TEST_CASE_TEMPLATE("write_and_sync with more ops than the ring holds lands every byte", B,
                   BACKENDS) {
  TempDir tmp;
  auto fs = B::make();
  auto file = open(*fs, tmp.path("a"), OpenMode::create_new);
  // Mixed sizes; every third op leaves a gap so that both contiguous runs
  // (one pwritev for posix) and separate writes are exercised.
  const std::size_t count = 3 * cairn::io::UringFileSystem::kDefaultRingEntries + 5;
  std::vector<std::vector<std::byte>> data;
  std::vector<WriteOp> ops;
  std::vector<std::byte> expected;
  for (std::size_t i = 0; i < count; ++i) {
    if (i % 3 == 0) {
      expected.resize(expected.size() + 7);  // a gap of zeros
    }
    data.push_back(pattern(1 + (i * 37) % 700, static_cast<std::uint32_t>(i)));
    ops.push_back(WriteOp{expected.size(), data.back()});
    expected.insert(expected.end(), data.back().begin(), data.back().end());
  }
  const Status s = file->write_and_sync(ops);
  REQUIRE_MESSAGE(s.ok(), s.to_string());
  file.reset();
  CHECK(read_all(*open(*fs, tmp.path("a"), OpenMode::read_only)) == expected);
}

TEST_CASE_TEMPLATE("read_many reads many ops of several files, in rounds, like read_at", B,
                   BACKENDS) {
  TempDir tmp;
  auto fs = B::make();
  std::vector<std::unique_ptr<File>> files;
  std::vector<std::vector<std::byte>> contents;
  for (int f = 0; f < 3; ++f) {
    files.push_back(open(*fs, tmp.path("f" + std::to_string(f)), OpenMode::create));
    contents.push_back(pattern(20000 + 1000 * f, static_cast<std::uint32_t>(f + 10)));
    REQUIRE(files.back()->write_at(0, contents.back()).ok());
  }
  // More ops than a read ring holds, across the files, some reaching past
  // the end of a file (short) or starting beyond it (0 bytes).
  const std::size_t count = 2 * cairn::io::UringFileSystem::kReadRingEntries + 9;
  std::vector<std::vector<std::byte>> buffers(count);
  std::vector<cairn::io::ReadOp> ops(count);
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t f = i % files.size();
    const std::uint64_t position = (i * 997) % (contents[f].size() + 3000);
    buffers[i].assign(1 + (i * 131) % 2000, std::byte{0xEE});
    ops[i] = cairn::io::ReadOp{files[f].get(), position, buffers[i]};
  }
  const Status s = fs->read_many(ops);
  REQUIRE_MESSAGE(s.ok(), s.to_string());
  for (std::size_t i = 0; i < count; ++i) {
    CAPTURE(i);
    const std::size_t f = i % files.size();
    const std::size_t size = contents[f].size();
    const std::size_t want = ops[i].position >= size
                                 ? 0
                                 : std::min<std::size_t>(buffers[i].size(), size - ops[i].position);
    REQUIRE(ops[i].got == want);
    CHECK(std::equal(buffers[i].begin(), buffers[i].begin() + static_cast<std::ptrdiff_t>(want),
                     contents[f].begin() + static_cast<std::ptrdiff_t>(
                                               std::min(ops[i].position, std::uint64_t{size}))));
  }
}

TEST_CASE_TEMPLATE("write_and_sync with no ops only syncs", B, BACKENDS) {
  TempDir tmp;
  auto fs = B::make();
  auto file = open(*fs, tmp.path("a"), OpenMode::create);
  CHECK(file->write_and_sync({}).ok());
  const std::vector<std::byte> empty;
  const WriteOp nothing{10, empty};
  CHECK(file->write_and_sync(std::span<const WriteOp>(&nothing, 1)).ok());
  CHECK(*file->size() == 0);
}

TEST_CASE_TEMPLATE("later writes in one batch win over earlier ones at the same position", B,
                   BACKENDS) {
  TempDir tmp;
  auto fs = B::make();
  auto file = open(*fs, tmp.path("a"), OpenMode::create);
  const auto first = pattern(512, 1);
  const auto second = pattern(512, 2);
  const WriteOp ops[] = {{0, first}, {0, second}};
  REQUIRE(file->write_and_sync(ops).ok());
  CHECK(read_all(*file) == second);
}

TEST_CASE_TEMPLATE("allocate sets the size and keeps the bytes already written", B, BACKENDS) {
  TempDir tmp;
  auto fs = B::make();
  auto file = open(*fs, tmp.path("a"), OpenMode::create);
  const auto head = pattern(300, 4);
  REQUIRE(file->write_at(0, head).ok());
  REQUIRE(file->allocate(0, 1 << 20).ok());
  CHECK(*file->size() == (1u << 20));
  REQUIRE(file->allocate(1 << 20, 4096).ok());
  CHECK(*file->size() == (1u << 20) + 4096);
  CHECK(file->allocate(0, 0).ok());  // nothing to reserve
  const auto all = read_all(*file);
  CHECK(std::equal(head.begin(), head.end(), all.begin()));
  CHECK(std::all_of(all.begin() + 300, all.end(), [](std::byte b) { return b == std::byte{0}; }));
}

TEST_CASE_TEMPLATE("map shows the file's bytes without a read, and refuses more than the file", B,
                   BACKENDS) {
  TempDir tmp;
  auto fs = B::make();
  auto file = open(*fs, tmp.path("a"), OpenMode::create);
  const auto bytes = pattern(3 * 4096 + 100, 9);
  REQUIRE(file->write_at(0, bytes).ok());
  REQUIRE(file->sync_data().ok());
  std::shared_ptr<const cairn::io::MappedBytes> mapped;
  {
    auto reader = open(*fs, tmp.path("a"), OpenMode::read_only);
    auto m = reader->map(bytes.size());
    REQUIRE_MESSAGE(m.has_value(), m.status().to_string());
    REQUIRE(*m != nullptr);
    mapped = *m;
  }  // the mapping outlives the File it came from
  REQUIRE(mapped->bytes().size() == bytes.size());
  CHECK(std::equal(bytes.begin(), bytes.end(), mapped->bytes().begin()));
  // Pages past the end would raise SIGBUS when touched: refused instead.
  auto too_long = file->map(bytes.size() + 1);
  REQUIRE_FALSE(too_long.has_value());
  CHECK(too_long.error().code() == cairn::Errc::invalid_argument);
  CHECK(too_long.error().path() == tmp.path("a"));
  CHECK_FALSE(file->map(0).has_value());
}

TEST_CASE_TEMPLATE("truncate shrinks and grows the file", B, BACKENDS) {
  TempDir tmp;
  auto fs = B::make();
  auto file = open(*fs, tmp.path("a"), OpenMode::create);
  const auto data = pattern(8192, 5);
  REQUIRE(file->write_at(0, data).ok());
  REQUIRE(file->truncate(1000).ok());
  CHECK(*file->size() == 1000);
  CHECK(read_all(*file) == std::vector<std::byte>(data.begin(), data.begin() + 1000));
  REQUIRE(file->truncate(3000).ok());
  CHECK(*file->size() == 3000);
  const auto all = read_all(*file);
  CHECK(std::all_of(all.begin() + 1000, all.end(), [](std::byte b) { return b == std::byte{0}; }));
}

TEST_CASE_TEMPLATE("rename then sync_dir: list shows the new name, sorted, and not the old", B,
                   BACKENDS) {
  TempDir tmp;
  auto fs = B::make();
  for (const char* name : {"c", "a.tmp", "b"}) {
    open(*fs, tmp.path(name), OpenMode::create_new);
  }
  REQUIRE(fs->rename(tmp.path("a.tmp"), tmp.path("a")).ok());
  REQUIRE(fs->sync_dir(tmp.dir()).ok());
  auto names = fs->list(tmp.dir());
  REQUIRE(names.has_value());
  CHECK(*names == std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE_TEMPLATE("rename replaces an existing target", B, BACKENDS) {
  TempDir tmp;
  auto fs = B::make();
  REQUIRE(open(*fs, tmp.path("new"), OpenMode::create)->write_at(0, pattern(10, 1)).ok());
  REQUIRE(open(*fs, tmp.path("old"), OpenMode::create)->write_at(0, pattern(20, 2)).ok());
  REQUIRE(fs->rename(tmp.path("new"), tmp.path("old")).ok());
  CHECK(read_all(*open(*fs, tmp.path("old"), OpenMode::read_only)) == pattern(10, 1));
  CHECK(*fs->list(tmp.dir()) == std::vector<std::string>{"old"});
}

TEST_CASE_TEMPLATE("remove deletes a file, and removing it again is not_found", B, BACKENDS) {
  TempDir tmp;
  auto fs = B::make();
  open(*fs, tmp.path("a"), OpenMode::create);
  REQUIRE(fs->remove(tmp.path("a")).ok());
  CHECK(*fs->exists(tmp.path("a")) == false);
  const Status again = fs->remove(tmp.path("a"));
  CHECK(again.code() == Errc::not_found);
  CHECK(again.path() == tmp.path("a"));
}

TEST_CASE_TEMPLATE("opening a missing file read_only or read_write is not_found naming the path", B,
                   BACKENDS) {
  TempDir tmp;
  auto fs = B::make();
  for (OpenMode mode : {OpenMode::read_only, OpenMode::read_write}) {
    auto file = fs->open(tmp.path("missing"), mode);
    REQUIRE_FALSE(file.has_value());
    CHECK(file.error().code() == Errc::not_found);
    CHECK(file.error().sys_errno() == ENOENT);
    CHECK(file.error().path() == tmp.path("missing"));
    CHECK(contains(file.error().to_string(), tmp.path("missing")));
  }
  CHECK(*fs->exists(tmp.path("missing")) == false);  // and nothing was created
}

TEST_CASE_TEMPLATE("create_new on an existing file is an io_error with EEXIST", B, BACKENDS) {
  TempDir tmp;
  auto fs = B::make();
  open(*fs, tmp.path("a"), OpenMode::create_new);
  auto again = fs->open(tmp.path("a"), OpenMode::create_new);
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error().code() == Errc::io_error);
  CHECK(again.error().sys_errno() == EEXIST);
  CHECK(again.error().path() == tmp.path("a"));
  // create opens the existing file without truncating it.
  REQUIRE(open(*fs, tmp.path("b"), OpenMode::create)->write_at(0, pattern(10, 1)).ok());
  CHECK(*open(*fs, tmp.path("b"), OpenMode::create)->size() == 10);
}

TEST_CASE_TEMPLATE("a second lock on the same file in this process fails with busy", B, BACKENDS) {
  TempDir tmp;
  auto fs = B::make();
  auto first = fs->lock(tmp.path("LOCK"));
  REQUIRE(first.has_value());
  // Also through another spelling of the same path and another FileSystem.
  for (const std::string& path : {tmp.path("LOCK"), tmp.dir() + "/./LOCK"}) {
    auto second = B::make()->lock(path);
    REQUIRE_FALSE(second.has_value());
    CHECK(second.error().code() == Errc::busy);
    CHECK(second.error().path() == path);
    CHECK(contains(second.error().message(), "this process"));
  }
  first->reset();  // released on destruction
  auto third = fs->lock(tmp.path("LOCK"));
  CHECK(third.has_value());
}

TEST_CASE_TEMPLATE("a lock held by another process makes lock fail with busy", B, BACKENDS) {
  TempDir tmp;
  auto fs = B::make();
  const std::string path = tmp.path("LOCK");
  int ready[2];
  int release[2];
  REQUIRE(::pipe(ready) == 0);
  REQUIRE(::pipe(release) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // The other process: plain open + flock, as another Cairn would. Its
    // copy of the write end must go, or the read below never sees EOF.
    ::close(release[1]);
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    const bool locked = fd >= 0 && ::flock(fd, LOCK_EX) == 0;
    const char byte = locked ? 'y' : 'n';
    (void)!::write(ready[1], &byte, 1);
    char ignored = 0;
    (void)!::read(release[0], &ignored, 1);  // returns when the parent closes it
    ::_exit(0);
  }
  ::close(ready[1]);
  ::close(release[0]);
  char byte = 0;
  REQUIRE(::read(ready[0], &byte, 1) == 1);
  REQUIRE(byte == 'y');
  auto held = fs->lock(path);
  REQUIRE_FALSE(held.has_value());
  CHECK(held.error().code() == Errc::busy);
  CHECK(held.error().path() == path);
  CHECK(contains(held.error().message(), "another process"));

  ::close(release[1]);
  ::close(ready[0]);
  int wstatus = 0;
  REQUIRE(::waitpid(pid, &wstatus, 0) == pid);
  CHECK(fs->lock(path).has_value());  // free once the other process is gone
}

TEST_CASE_TEMPLATE("create_dir is idempotent; list of a missing directory is not_found", B,
                   BACKENDS) {
  TempDir tmp;
  auto fs = B::make();
  const std::string dir = tmp.path("sub");
  REQUIRE(fs->create_dir(dir).ok());
  CHECK(fs->create_dir(dir).ok());
  CHECK(fs->list(dir)->empty());
  CHECK(fs->sync_dir(dir).ok());

  auto missing = fs->list(tmp.path("nope"));
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().code() == Errc::not_found);
  CHECK(fs->create_dir(tmp.path("nope/deeper")).code() == Errc::not_found);  // not its parents
  CHECK(fs->sync_dir(tmp.path("nope")).code() == Errc::not_found);

  open(*fs, tmp.path("file"), OpenMode::create);
  const Status over_file = fs->create_dir(tmp.path("file"));
  CHECK(over_file.code() == Errc::io_error);
  CHECK(over_file.path() == tmp.path("file"));
}

TEST_CASE_TEMPLATE("exists tells files and directories from missing names", B, BACKENDS) {
  TempDir tmp;
  auto fs = B::make();
  CHECK(*fs->exists(tmp.dir()) == true);
  CHECK(*fs->exists(tmp.path("a")) == false);
  open(*fs, tmp.path("a"), OpenMode::create);
  CHECK(*fs->exists(tmp.path("a")) == true);
  CHECK(*fs->exists(tmp.path("a/under-a-file")) == false);
}

TEST_CASE_TEMPLATE("writing to a read-only file fails with an error that names the path", B,
                   BACKENDS) {
  TempDir tmp;
  auto fs = B::make();
  open(*fs, tmp.path("a"), OpenMode::create);
  auto file = open(*fs, tmp.path("a"), OpenMode::read_only);
  const auto data = pattern(100, 1);

  const Status single = file->write_at(0, data);
  CHECK(single.code() == Errc::io_error);
  CHECK(single.sys_errno() == EBADF);
  CHECK(single.path() == tmp.path("a"));

  // In a batch the first failing write is reported, not the cancelled rest.
  const WriteOp ops[] = {{4096, data}, {0, data}, {8192, data}};
  const Status batch = file->write_and_sync(ops);
  CHECK(batch.code() == Errc::io_error);
  CHECK(batch.sys_errno() == EBADF);
  CHECK(batch.path() == tmp.path("a"));
  CHECK(contains(batch.message(), "4096"));
  CHECK(contains(batch.to_string(), tmp.path("a")));
}

TEST_CASE_TEMPLATE("a write to a full device fails with no_space", B, BACKENDS) {
  if (::access("/dev/full", W_OK) != 0) {
    MESSAGE("no writable /dev/full here; skipped");
    return;
  }
  auto fs = B::make();
  auto file = open(*fs, "/dev/full", OpenMode::read_write);
  const auto data = pattern(100, 1);
  const Status single = file->write_at(0, data);
  CHECK(single.code() == Errc::no_space);
  CHECK(single.sys_errno() == ENOSPC);
  CHECK(single.path() == "/dev/full");
  const WriteOp ops[] = {{0, data}, {100, data}};
  const Status batch = file->write_and_sync(ops);
  CHECK(batch.code() == Errc::no_space);
  CHECK(batch.path() == "/dev/full");
}

TEST_CASE_TEMPLATE("a write cut short by the file size limit fails instead of syncing", B,
                   BACKENDS) {
  TempDir tmp;
  auto fs = B::make();
  const std::string path = tmp.path("a");
  // In a child, because RLIMIT_FSIZE and SIGXFSZ are process-wide.
  const std::string result = run_in_child([&] {
    ::signal(SIGXFSZ, SIG_IGN);  // so the kernel returns a short write / EFBIG
    const rlimit limit{10000, 10000};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    auto file = fs->open(path, OpenMode::create);
    if (!file.has_value()) {
      return "open failed: " + file.error().to_string();
    }
    const auto data = pattern(4096, 1);
    const WriteOp ops[] = {{8000, data}, {0, data}};  // the first crosses the limit
    return (*file)->write_and_sync(ops).to_string();
  });
  INFO(result);
  CHECK(contains(result, "io_error"));
  CHECK(contains(result, path));
  if (std::is_same_v<B, UringBackend>) {
    CHECK(contains(result, "short write"));
  } else {
    CHECK(contains(result, "File too large"));  // the retry of the rest hits EFBIG
  }
}

// ---------------------------------------------------------------- io_uring only

TEST_CASE("io_uring: batches of every size around the ring capacity land every byte") {
  TempDir tmp;
  cairn::io::UringFileSystem fs(4);  // tiny ring: rounds of 4 writes, fsync in the last
  for (std::size_t count = 0; count <= 13; ++count) {
    CAPTURE(count);
    const std::string path = tmp.path("f" + std::to_string(count));
    auto file = open(fs, path, OpenMode::create);
    std::vector<std::vector<std::byte>> data;
    std::vector<WriteOp> ops;
    for (std::size_t i = 0; i < count; ++i) {
      data.push_back(pattern(100, static_cast<std::uint32_t>(100 * count + i)));
      ops.push_back(WriteOp{100 * i, data.back()});
    }
    const Status s = file->write_and_sync(ops);
    REQUIRE_MESSAGE(s.ok(), s.to_string());
    std::vector<std::byte> expected;
    for (const auto& d : data) {
      expected.insert(expected.end(), d.begin(), d.end());
    }
    CHECK(read_all(*file) == expected);
  }
}

TEST_CASE("io_uring: one file serves many batches through the same ring") {
  TempDir tmp;
  cairn::io::UringFileSystem fs(8);
  auto file = open(fs, tmp.path("a"), OpenMode::create);
  std::vector<std::byte> expected;
  for (std::uint32_t batch = 0; batch < 200; ++batch) {
    const auto data = pattern(64 + batch, batch);
    const WriteOp op{expected.size(), data};
    REQUIRE(file->write_and_sync(std::span<const WriteOp>(&op, 1)).ok());
    expected.insert(expected.end(), data.begin(), data.end());
  }
  CHECK(read_all(*file) == expected);
}

TEST_CASE("io_uring: a batch that fails in its first round reports the first failing write") {
  TempDir tmp;
  cairn::io::UringFileSystem fs(4);
  open(fs, tmp.path("a"), OpenMode::create);
  auto file = open(fs, tmp.path("a"), OpenMode::read_only);
  const auto data = pattern(10, 1);
  std::vector<WriteOp> ops;
  for (std::size_t i = 0; i < 10; ++i) {
    ops.push_back(WriteOp{1000 + 10 * i, data});
  }
  const Status s = file->write_and_sync(ops);
  CHECK(s.code() == Errc::io_error);
  CHECK(s.sys_errno() == EBADF);
  CHECK(contains(s.message(), "at 1000"));
  // The same ops, through a writable file of the same file system, succeed.
  auto writable = open(fs, tmp.path("a"), OpenMode::read_write);
  CHECK(writable->write_and_sync(ops).ok());
  CHECK(*writable->size() == 1100);
}

TEST_CASE("automatic backend choice picks io_uring where it works and says why") {
  auto fs = make(Backend::automatic);
  const std::string reason = cairn::io::backend_choice_reason();
  CAPTURE(reason);
  if (cairn::io::probe_io_uring().ok()) {
    CHECK(fs->name() == "io_uring");
    CHECK(contains(reason, "io_uring"));
  } else {
    CHECK(fs->name() == "posix");
    CHECK(contains(reason, "using posix"));
  }
}

// Makes io_uring_setup fail with EPERM in this process, as a container's
// seccomp profile does. Only for a forked child.
bool block_io_uring_setup() {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  const sock_fprog program{static_cast<unsigned short>(std::size(filter)), filter};
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) == 0;
}

TEST_CASE(
    "automatic backend choice falls back to posix when io_uring is blocked, with the reason") {
  const std::string out = run_in_child([] {
    if (!block_io_uring_setup()) {
      return std::string("seccomp unavailable");
    }
    std::string text;
    for (int i = 0; i < 2; ++i) {
      auto fs = cairn::io::make_file_system(Backend::automatic);
      text += "[name=" + (fs.has_value() ? (*fs)->name() : fs.error().to_string()) + "]";
    }
    text += "[reason=" + cairn::io::backend_choice_reason() + "]";
    auto uring = cairn::io::make_file_system(Backend::io_uring);
    text += "[explicit=" + (uring.has_value() ? (*uring)->name() : uring.error().to_string()) + "]";
    return text;
  });
  CAPTURE(out);
  if (contains(out, "seccomp unavailable")) {
    MESSAGE("cannot install a seccomp filter here; skipped");
    return;
  }
  CHECK(contains(out, "[name=posix][name=posix]"));
  CHECK(contains(out, "[reason=io_uring_queue_init failed: Operation not permitted; using posix]"));
  // Asked for explicitly, io_uring fails instead of falling back.
  CHECK(contains(out, "[explicit=io_error: io_uring_queue_init failed: Operation not permitted]"));
  // The fallback is logged once per process, not once per call.
  const auto first = out.find("cairn: io_uring_queue_init failed");
  REQUIRE(first != std::string::npos);
  CHECK(out.find("cairn: io_uring_queue_init failed", first + 1) == std::string::npos);
}
