// Goal: show that FaultFileSystem fails exactly the operations it is told to,
// with the promised codes and partial effects, and otherwise passes
// everything through to the file system it wraps.
// Method: wrap the crash model (MemFileSystem), so the effect of every
// injected fault on the underlying bytes, and on what a crash keeps, can be
// checked directly. Random faults use fixed seeds.
#include <cairn/testing/fault_file_system.h>
#include <cairn/testing/mem_file_system.h>
#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

namespace cairn::testing {
namespace {

using io::OpenMode;
using Op = FaultFileSystem::Op;

std::span<const std::byte> as_span(std::string_view s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

struct Fixture {
  std::shared_ptr<MemFileSystem> mem = std::make_shared<MemFileSystem>();
  FaultFileSystem fs{mem, 1234};

  std::unique_ptr<io::File> open(const std::string& path) {
    auto file = fs.open(path, OpenMode::create);
    REQUIRE_MESSAGE(file.has_value(), file.status().to_string());
    return std::move(file).value();
  }
  std::string contents(const std::string& path) {
    auto r = mem->read_file(path);
    REQUIRE(r.has_value());
    return *r;
  }
};

bool is_injected(const Status& s) { return s.message().find("injected") != std::string::npos; }

TEST_CASE("fault: fail_nth(sync, 2) fails exactly the second sync") {
  Fixture f;
  auto file = f.open("/f");
  f.fs.fail_nth(Op::sync, 2);
  CHECK(file->sync_data().ok());
  const Status second = file->sync_data();
  CHECK(second.code() == Errc::io_error);
  CHECK(second.sys_errno() == EIO);
  CHECK(is_injected(second));
  CHECK(second.path() == "/f");
  CHECK(file->sync_data().ok());
  CHECK(f.fs.count(Op::sync) == 3);
  CHECK(f.fs.injected_count() == 1);
  CHECK(f.mem->sync_count() == 2);  // the failed sync never reached the base
}

TEST_CASE("fault: fail_nth counts from the call and takes a code and errno") {
  Fixture f;
  auto file = f.open("/f");
  REQUIRE(file->write_at(0, as_span("a")).ok());
  f.fs.fail_nth(Op::write, 1, Errc::no_space, ENOSPC);
  const Status s = file->write_at(1, as_span("b"));
  CHECK(s.code() == Errc::no_space);
  CHECK(s.sys_errno() == ENOSPC);
  CHECK(f.contents("/f") == "a");  // no effect
  f.fs.fail_nth(Op::open, 1);
  CHECK(!f.fs.open("/g", OpenMode::create).has_value());
  CHECK_FALSE(*f.mem->exists("/g"));  // a failed open creates nothing
}

TEST_CASE("fault: an injected sync failure leaves the data unsynced, so a crash drops it") {
  Fixture f;
  auto file = f.open("/f");
  REQUIRE(f.fs.sync_dir("/").ok());
  f.fs.fail_nth(Op::sync, 1);
  const std::string data = "event";
  const io::WriteOp ops[] = {{0, as_span(data)}};
  CHECK(is_injected(file->write_and_sync(ops)));
  CHECK(f.contents("/f") == "event");          // written ...
  CHECK_FALSE(f.mem->is_durable("/f", 0, 5));  // ... but not durable
  f.mem->crash(CrashPolicy::drop_unsynced, 0);
  CHECK(f.contents("/f").empty());
}

TEST_CASE("fault: write_and_sync stops at a failing write and does not sync") {
  Fixture f;
  auto file = f.open("/f");
  f.fs.fail_nth(Op::write, 2);
  const std::string a = "aa", b = "bb", c = "cc";
  const io::WriteOp ops[] = {{0, as_span(a)}, {2, as_span(b)}, {4, as_span(c)}};
  CHECK(is_injected(file->write_and_sync(ops)));
  CHECK(f.contents("/f") == "aa");
  CHECK(f.fs.count(Op::write) == 2);
  CHECK(f.fs.count(Op::sync) == 0);
  CHECK(f.mem->sync_count() == 0);
  // Without faults the call reaches the base whole.
  REQUIRE(file->write_and_sync(ops).ok());
  CHECK(f.contents("/f") == "aabbcc");
  CHECK(f.fs.count(Op::write) == 5);
  CHECK(f.fs.count(Op::sync) == 1);
  CHECK(f.mem->sync_count() == 1);
}

TEST_CASE("fault: enospc_after_bytes writes the prefix that fits, then fails every write") {
  Fixture f;
  auto file = f.open("/f");
  f.fs.enospc_after_bytes(10);
  REQUIRE(file->write_at(0, as_span("0123456")).ok());  // 7 of 10
  const Status full = file->write_at(7, as_span("789abc"));
  CHECK(full.code() == Errc::no_space);
  CHECK(full.sys_errno() == ENOSPC);
  CHECK(is_injected(full));
  CHECK(f.contents("/f") == "0123456789");  // the 3 bytes that fit
  CHECK(file->write_at(10, as_span("x")).code() == Errc::no_space);
  CHECK(f.contents("/f") == "0123456789");
  CHECK(f.fs.bytes_written() == 10);
  CHECK(file->sync_data().ok());  // only writes are affected
}

TEST_CASE("fault: fail_writes_after_bytes fails with the code given, after the prefix") {
  Fixture f;
  auto file = f.open("/f");
  f.fs.fail_writes_after_bytes(4);
  const Status s = file->write_at(0, as_span("abcdef"));
  CHECK(s.code() == Errc::io_error);
  CHECK(s.sys_errno() == EIO);
  CHECK(is_injected(s));
  CHECK(f.contents("/f") == "abcd");
  f.fs.clear_faults();
  CHECK(file->write_at(4, as_span("ef")).ok());
}

TEST_CASE("fault: fail_syncs_after_bytes lets syncs through until the limit is passed") {
  Fixture f;
  auto file = f.open("/f");
  f.fs.fail_syncs_after_bytes(5);
  REQUIRE(file->write_at(0, as_span("12345")).ok());
  CHECK(file->sync_data().ok());  // 5 bytes: not more than the limit
  REQUIRE(file->write_at(5, as_span("6")).ok());
  const Status s = file->sync_data();
  CHECK(s.code() == Errc::io_error);
  CHECK(is_injected(s));
  CHECK(f.mem->sync_count() == 1);  // the failed sync never reached the base
  const std::vector<io::WriteOp> ops{{6, as_span("7")}};
  CHECK(file->write_and_sync(ops).code() == Errc::io_error);
  CHECK(f.contents("/f") == "1234567");  // written, not synced
  CHECK(f.mem->sync_count() == 1);
}

TEST_CASE("fault: short_writes persist a strict prefix and fail") {
  Fixture f;
  auto file = f.open("/f");
  f.fs.short_writes(1.0);
  const std::string data(100, 'x');
  const Status s = file->write_at(0, as_span(data));
  CHECK(s.code() == Errc::io_error);
  CHECK(s.message() == "injected short write");
  const std::string written = f.contents("/f");
  CHECK(written.size() < data.size());
  CHECK(written == data.substr(0, written.size()));
  f.fs.short_writes(0.0);
  CHECK(file->write_at(0, as_span(data)).ok());
}

TEST_CASE("fault: short_writes with a probability hit some writes, reproducibly for a seed") {
  auto run = [](std::uint64_t seed) {
    auto mem = std::make_shared<MemFileSystem>();
    FaultFileSystem fs(mem, seed);
    auto file = std::move(fs.open("/f", OpenMode::create)).value();
    fs.short_writes(0.3);
    std::string outcomes;
    for (int i = 0; i < 40; ++i) {
      outcomes += file->write_at(0, as_span("abcdefgh")).ok() ? '.' : 'S';
    }
    return outcomes;
  };
  const std::string a = run(5);
  CHECK(a == run(5));
  CHECK(a.find('S') != std::string::npos);
  CHECK(a.find('.') != std::string::npos);
}

TEST_CASE("fault: fail_randomly fails about the given share of ops") {
  Fixture f;
  auto file = f.open("/f");
  f.fs.fail_randomly(Op::read, 0.5);
  std::vector<std::byte> out(1);
  int failed = 0;
  for (int i = 0; i < 400; ++i) {
    failed += file->read_at(0, out).has_value() ? 0 : 1;
  }
  CHECK(failed > 140);
  CHECK(failed < 260);
  CHECK(f.fs.injected_count() == static_cast<std::uint64_t>(failed));
  f.fs.clear_faults();
  CHECK(file->read_at(0, out).has_value());
}

TEST_CASE("fault: set_active(false) fails every op without touching the base") {
  Fixture f;
  auto file = f.open("/f");
  f.fs.set_active(false);
  const Status s = file->write_at(0, as_span("x"));
  CHECK(s.message() == "injected: file system deactivated");
  CHECK_FALSE(file->sync_data().ok());
  CHECK_FALSE(f.fs.list("/").has_value());
  CHECK_FALSE(f.fs.create_dir("/d").ok());
  CHECK_FALSE(f.fs.lock("/LOCK").has_value());
  CHECK_FALSE(*f.mem->exists("/d"));
  CHECK(f.contents("/f").empty());
  f.fs.set_active(true);
  CHECK(file->write_at(0, as_span("x")).ok());
}

TEST_CASE("fault: wrapping a MemFileSystem passes every op through") {
  Fixture f;
  CHECK(f.fs.name() == "fault(mem)");
  REQUIRE(f.fs.create_dir("/d").ok());
  auto file = f.open("/d/f");
  REQUIRE(file->allocate(0, 16).ok());
  REQUIRE(file->write_at(0, as_span("hello")).ok());
  REQUIRE(file->truncate(5).ok());
  CHECK(*file->size() == 5);
  std::vector<std::byte> out(5);
  CHECK(*file->read_at(0, out) == 5);
  REQUIRE(file->sync_data().ok());
  REQUIRE(f.fs.rename("/d/f", "/d/g").ok());
  REQUIRE(f.fs.sync_dir("/d").ok());
  CHECK(*f.fs.list("/d") == std::vector<std::string>{"g"});
  CHECK(*f.fs.exists("/d/g"));
  auto held = f.fs.lock("/d/LOCK");
  REQUIRE(held.has_value());
  CHECK(f.fs.lock("/d/LOCK").error().code() == Errc::busy);
  REQUIRE(f.fs.remove("/d/g").ok());
  CHECK(f.fs.count(Op::write) == 1);
  CHECK(f.fs.count(Op::lock) == 2);
  CHECK(f.fs.injected_count() == 0);
  CHECK(file->path() == "/d/f");
}

}  // namespace
}  // namespace cairn::testing
