// Goal: show that MemFileSystem, the crash model, produces after crash() only
// states the durability contract allows, and every kind of state it allows:
// synced bytes always survive; keep_prefix yields prefixes of the write
// sequence; tear_sectors and zero_sectors reorder and zero sectors; directory
// entries revert until sync_dir; freezing stops at an exact op.
// Method: small hand-made histories with expected results, plus a seeded
// property test that checks every byte after random histories and crashes.
// Where a test needs a particular random outcome it searches seeds 0..N for
// it, which is deterministic because crash() is.
#include <cairn/testing/mem_file_system.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace cairn::testing {
namespace {

using io::OpenMode;

std::span<const std::byte> as_span(std::string_view s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

std::unique_ptr<io::File> open_file(MemFileSystem& fs, const std::string& path,
                                    OpenMode mode = OpenMode::create) {
  auto file = fs.open(path, mode);
  REQUIRE_MESSAGE(file.has_value(), file.status().to_string());
  return std::move(file).value();
}

void write(io::File& file, std::uint64_t position, std::string_view bytes) {
  const Status s = file.write_at(position, as_span(bytes));
  REQUIRE_MESSAGE(s.ok(), s.to_string());
}

void sync(io::File& file) {
  const Status s = file.sync_data();
  REQUIRE_MESSAGE(s.ok(), s.to_string());
}

std::string contents(const MemFileSystem& fs, const std::string& path) {
  auto r = fs.read_file(path);
  REQUIRE_MESSAGE(r.has_value(), r.status().to_string());
  return *r;
}

std::string repeat(char c, std::size_t n) { return std::string(n, c); }

// A durable directory /d holding a durable, synced file /d/f with `initial`.
std::unique_ptr<io::File> durable_file(MemFileSystem& fs, std::string_view initial) {
  REQUIRE(fs.create_dir("/d").ok());
  REQUIRE(fs.sync_dir("/").ok());
  auto file = open_file(fs, "/d/f");
  REQUIRE(fs.sync_dir("/d").ok());
  if (!initial.empty()) {
    write(*file, 0, initial);
    sync(*file);
  }
  return file;
}

TEST_CASE("mem: after drop_unsynced only synced bytes remain") {
  MemFileSystem fs;
  auto file = durable_file(fs, "aaaa");
  write(*file, 4, "bbbb");
  write(*file, 0, "cc");
  CHECK(contents(fs, "/d/f") == "ccaabbbb");
  fs.crash(CrashPolicy::drop_unsynced, 1);
  CHECK(contents(fs, "/d/f") == "aaaa");
}

TEST_CASE("mem: map returns no mapping, so every read goes through the crash model") {
  MemFileSystem fs;
  auto file = durable_file(fs, "aaaa");
  auto mapped = file->map(4);
  REQUIRE_MESSAGE(mapped.has_value(), mapped.status().to_string());
  CHECK(*mapped == nullptr);
}

TEST_CASE("mem: keep_prefix leaves a prefix of the write sequence, cut at a sector") {
  // Writes: sector 0 'a', then sectors 1-3 'b' in one write, then sector 4 'c'.
  // Every prefix, cutting the three-sector write sector by sector:
  const std::vector<std::string> prefixes = {
      "",
      repeat('a', 512),
      repeat('a', 512) + repeat('b', 512),
      repeat('a', 512) + repeat('b', 1024),
      repeat('a', 512) + repeat('b', 1536),
      repeat('a', 512) + repeat('b', 1536) + repeat('c', 512),
  };
  std::set<std::string> seen;
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    MemFileSystem fs;
    auto file = durable_file(fs, "");
    write(*file, 0, repeat('a', 512));
    write(*file, 512, repeat('b', 1536));
    write(*file, 2048, repeat('c', 512));
    fs.crash(CrashPolicy::keep_prefix, seed);
    const std::string after = contents(fs, "/d/f");
    CHECK_MESSAGE(std::find(prefixes.begin(), prefixes.end(), after) != prefixes.end(),
                  "seed " << seed << " size " << after.size());
    seen.insert(after);
  }
  CHECK(seen.size() == prefixes.size());  // every cut point happens
}

TEST_CASE("mem: tear_sectors can keep a later sector while dropping an earlier one") {
  const std::string old_image = repeat('o', 1024);
  auto run = [&](std::uint64_t seed) {
    MemFileSystem fs;
    auto file = durable_file(fs, old_image);
    write(*file, 0, repeat('n', 1024));  // one write over both sectors
    fs.crash(CrashPolicy::tear_sectors, seed);
    return contents(fs, "/d/f");
  };
  std::optional<std::uint64_t> found;
  for (std::uint64_t seed = 0; seed < 64 && !found; ++seed) {
    const std::string after = run(seed);
    REQUIRE(after.size() == 1024);
    // Each sector is wholly old or wholly new.
    for (std::size_t s = 0; s < 2; ++s) {
      const std::string sector = after.substr(s * 512, 512);
      CHECK((sector == repeat('o', 512) || sector == repeat('n', 512)));
    }
    if (after == repeat('o', 512) + repeat('n', 512)) {
      found = seed;
    }
  }
  REQUIRE(found.has_value());
  CHECK(run(*found) == repeat('o', 512) + repeat('n', 512));  // and it replays
}

TEST_CASE("mem: zero_sectors can zero the changed bytes but keeps the durable ones") {
  // The write changes bytes [600, 700) of sector 1 only.
  std::set<std::string> outcomes;
  for (std::uint64_t seed = 0; seed < 64; ++seed) {
    MemFileSystem fs;
    auto file = durable_file(fs, repeat('x', 1024));
    write(*file, 600, repeat('y', 100));
    fs.crash(CrashPolicy::zero_sectors, seed);
    outcomes.insert(contents(fs, "/d/f"));
  }
  const std::string prefix = repeat('x', 600);
  const std::string suffix = repeat('x', 324);
  CHECK(outcomes == std::set<std::string>{prefix + repeat('x', 100) + suffix,
                                          prefix + repeat('y', 100) + suffix,
                                          prefix + std::string(100, '\0') + suffix});
}

TEST_CASE("mem: zero_whole_sectors can zero durable bytes that share a sector with a write") {
  bool zeroed = false;
  for (std::uint64_t seed = 0; seed < 64 && !zeroed; ++seed) {
    MemFileSystem fs;
    auto file = durable_file(fs, repeat('x', 1024));
    write(*file, 600, repeat('y', 100));
    fs.crash(CrashPolicy::zero_whole_sectors, seed);
    zeroed = contents(fs, "/d/f") == repeat('x', 512) + std::string(512, '\0');
  }
  CHECK(zeroed);
}

TEST_CASE("mem: a surviving sector beyond the durable size extends the file, gap as zeros") {
  std::set<std::uint64_t> sizes;
  for (std::uint64_t seed = 0; seed < 64; ++seed) {
    MemFileSystem fs;
    auto file = durable_file(fs, "abc");
    write(*file, 1000, "zz");  // sector 1; bytes 3..999 become a gap
    fs.crash(CrashPolicy::tear_sectors, seed);
    const std::string after = contents(fs, "/d/f");
    sizes.insert(after.size());
    if (after.size() == 1002) {
      CHECK(after == "abc" + std::string(997, '\0') + "zz");
    } else {
      CHECK(after == "abc");
    }
  }
  CHECK(sizes == std::set<std::uint64_t>{3, 1002});
}

TEST_CASE("mem: an unsynced allocate may be dropped; a synced one keeps the size") {
  MemFileSystem fs;
  auto file = durable_file(fs, "");
  REQUIRE(file->allocate(0, 8192).ok());
  CHECK(*file->size() == 8192);
  fs.crash(CrashPolicy::drop_unsynced, 0);
  file = open_file(fs, "/d/f", OpenMode::read_write);
  CHECK(*file->size() == 0);
  REQUIRE(file->allocate(0, 8192).ok());
  sync(*file);
  fs.crash(CrashPolicy::drop_unsynced, 0);
  CHECK(contents(fs, "/d/f") == std::string(8192, '\0'));
}

TEST_CASE("mem: an unsynced rename reverts under drop_unsynced and survives after sync_dir") {
  MemFileSystem fs;
  auto file = durable_file(fs, "data");
  REQUIRE(fs.rename("/d/f", "/d/g").ok());
  CHECK(*fs.list("/d") == std::vector<std::string>{"g"});
  fs.crash(CrashPolicy::drop_unsynced, 7);
  CHECK(*fs.list("/d") == std::vector<std::string>{"f"});

  REQUIRE(fs.rename("/d/f", "/d/g").ok());
  REQUIRE(fs.sync_dir("/d").ok());
  fs.crash(CrashPolicy::drop_unsynced, 7);
  CHECK(*fs.list("/d") == std::vector<std::string>{"g"});
  CHECK(contents(fs, "/d/g") == "data");
}

TEST_CASE("mem: a rename within a directory is atomic under every policy") {
  for (CrashPolicy policy : kContractCrashPolicies) {
    for (std::uint64_t seed = 0; seed < 16; ++seed) {
      MemFileSystem fs;
      auto file = durable_file(fs, "data");
      REQUIRE(fs.rename("/d/f", "/d/g").ok());
      fs.crash(policy, seed);
      const auto names = *fs.list("/d");
      CHECK((names == std::vector<std::string>{"f"} || names == std::vector<std::string>{"g"}));
    }
  }
}

TEST_CASE("mem: a synced file whose directory entry was never synced is lost") {
  MemFileSystem fs;
  REQUIRE(fs.create_dir("/d").ok());
  REQUIRE(fs.sync_dir("/").ok());
  auto file = open_file(fs, "/d/new");
  write(*file, 0, "synced");
  sync(*file);
  CHECK_FALSE(fs.is_durable("/d/new", 0, 6));  // the name is not durable
  fs.crash(CrashPolicy::drop_unsynced, 0);
  CHECK_FALSE(*fs.exists("/d/new"));
}

TEST_CASE("mem: an unsynced directory vanishes with its contents") {
  MemFileSystem fs;
  REQUIRE(fs.create_dir("/logs").ok());
  auto file = open_file(fs, "/logs/f");
  sync(*file);
  REQUIRE(fs.sync_dir("/logs").ok());
  fs.crash(CrashPolicy::drop_unsynced, 0);  // "/" was never synced
  CHECK_FALSE(*fs.exists("/logs"));
  CHECK(fs.list("/logs").error().code() == Errc::not_found);
}

TEST_CASE("mem: create_dir without a parent makes a durable root; list of a missing dir fails") {
  MemFileSystem fs;
  CHECK(fs.list("/nope").error().code() == Errc::not_found);
  REQUIRE(fs.create_dir("/a/b/c").ok());
  CHECK(fs.list("/a/b/c")->empty());
  CHECK(fs.list("/a").error().code() == Errc::not_found);
  fs.crash(CrashPolicy::drop_unsynced, 0);
  CHECK(*fs.exists("/a/b/c"));
  CHECK(fs.open("/a/b/c", OpenMode::read_only).error().code() == Errc::io_error);  // EISDIR
}

TEST_CASE("mem: freeze_after_ops stops exactly at op n+1 with no effect") {
  MemFileSystem fs;
  auto file = durable_file(fs, "");
  const std::uint64_t base = fs.op_count();
  fs.freeze_after_ops(base + 2);
  write(*file, 0, "one");  // op base+1
  write(*file, 3, "two");  // op base+2
  CHECK_FALSE(fs.frozen());
  const Status third = file->write_at(6, as_span("three"));
  CHECK(third.code() == Errc::io_error);
  CHECK(third.message() == "simulated power cut");
  CHECK(fs.frozen());
  CHECK(fs.op_count() == base + 2);
  CHECK(contents(fs, "/d/f") == "onetwo");  // the third write had no effect
  // Everything fails now, reads included.
  std::vector<std::byte> buffer(3);
  CHECK(file->read_at(0, buffer).error().message() == "simulated power cut");
  CHECK(fs.list("/d").error().message() == "simulated power cut");
  CHECK_FALSE(file->sync_data().ok());
  CHECK(fs.sync_count() == 0);
  fs.crash(CrashPolicy::drop_unsynced, 0);
  CHECK_FALSE(fs.frozen());
  CHECK(contents(fs, "/d/f").empty());
}

TEST_CASE("mem: cut_power fails everything at once until the crash") {
  MemFileSystem fs;
  auto file = durable_file(fs, "abc");
  fs.cut_power();
  CHECK(fs.frozen());
  CHECK(file->size().error().message() == "simulated power cut");
  CHECK(fs.open("/d/new", OpenMode::create).error().message() == "simulated power cut");
  CHECK(fs.exists("/d/f").error().message() == "simulated power cut");
  CHECK(contents(fs, "/d/f") == "abc");  // introspection still works
  fs.crash(CrashPolicy::keep_prefix, 0);
  CHECK(*fs.exists("/d/f"));
  CHECK_FALSE(*fs.exists("/d/new"));
}

TEST_CASE("mem: ops that count are exactly the mutating ones that take effect") {
  MemFileSystem fs;
  CHECK(fs.op_count() == 0);
  REQUIRE(fs.create_dir("/d").ok());   // 1
  REQUIRE(fs.create_dir("/d").ok());   // exists: not counted
  auto file = open_file(fs, "/d/f");   // 2: creates
  auto again = open_file(fs, "/d/f");  // exists: not counted
  write(*file, 0, "x");                // 3
  std::vector<std::byte> buffer(1);
  REQUIRE(file->read_at(0, buffer).has_value());       // reads: not counted
  REQUIRE(file->allocate(0, 10).ok());                 // 4
  REQUIRE(file->truncate(5).ok());                     // 5
  sync(*file);                                         // 6
  REQUIRE(fs.rename("/d/f", "/d/g").ok());             // 7
  REQUIRE(fs.sync_dir("/d").ok());                     // 8
  REQUIRE(fs.remove("/d/g").ok());                     // 9
  CHECK(fs.remove("/d/g").code() == Errc::not_found);  // failed: not counted
  CHECK(fs.op_count() == 9);
  CHECK(fs.sync_count() == 1);
}

TEST_CASE("mem: a freeze inside write_and_sync keeps the earlier writes and skips the sync") {
  MemFileSystem fs;
  auto file = durable_file(fs, "");
  const std::string a = "aaaa", b = "bbbb", c = "cccc";
  const io::WriteOp ops[] = {{0, as_span(a)}, {4, as_span(b)}, {8, as_span(c)}};
  fs.freeze_after_ops(fs.op_count() + 2);
  const Status s = file->write_and_sync(ops);
  CHECK(s.message() == "simulated power cut");
  CHECK(contents(fs, "/d/f") == "aaaabbbb");
  CHECK(fs.sync_count() == 0);
  CHECK_FALSE(fs.is_durable("/d/f", 0, 4));
}

TEST_CASE("mem: write_and_sync counts one op per write plus one sync") {
  MemFileSystem fs;
  auto file = durable_file(fs, "");
  const std::uint64_t before = fs.op_count();
  const std::string a = "aaaa";
  const io::WriteOp ops[] = {{0, as_span(a)}, {4, as_span(a)}};
  REQUIRE(file->write_and_sync(ops).ok());
  CHECK(fs.op_count() == before + 3);
  CHECK(fs.is_durable("/d/f", 0, 8));
}

TEST_CASE("mem: is_durable holds only for synced bytes, under a durable name, not rewritten") {
  MemFileSystem fs;
  auto file = durable_file(fs, "");
  write(*file, 0, "0123456789");
  CHECK_FALSE(fs.is_durable("/d/f", 0, 10));
  sync(*file);
  CHECK(fs.is_durable("/d/f", 0, 10));
  write(*file, 10, "abc");
  CHECK(fs.is_durable("/d/f", 0, 10));
  CHECK_FALSE(fs.is_durable("/d/f", 8, 4));  // reaches into unsynced bytes
  write(*file, 2, "23");                     // same bytes, but rewritten: a crash could tear them
  CHECK_FALSE(fs.is_durable("/d/f", 0, 10));
  CHECK(fs.is_durable("/d/f", 4, 6));
  CHECK_FALSE(fs.is_durable("/d/missing", 0, 1));
  REQUIRE(fs.rename("/d/f", "/d/g").ok());
  CHECK_FALSE(fs.is_durable("/d/g", 4, 6));  // the new name is not durable yet
  CHECK_FALSE(fs.is_name_durable("/d/g"));
  REQUIRE(fs.sync_dir("/d").ok());
  CHECK(fs.is_durable("/d/g", 4, 6));
}

TEST_CASE("mem: File handles from before the crash fail; new ones work") {
  MemFileSystem fs;
  auto file = durable_file(fs, "abc");
  fs.crash(CrashPolicy::keep_prefix, 3);
  const Status s = file->write_at(0, as_span("x"));
  CHECK(s.code() == Errc::io_error);
  CHECK(s.message() == "file handle from before the crash");
  CHECK(file->size().error().message() == "file handle from before the crash");
  CHECK_FALSE(file->sync_data().ok());
  auto fresh = open_file(fs, "/d/f", OpenMode::read_write);
  CHECK(*fresh->size() == 3);
}

TEST_CASE("mem: an open file keeps working after its name is removed or renamed") {
  MemFileSystem fs;
  auto file = durable_file(fs, "abc");
  REQUIRE(fs.rename("/d/f", "/d/g").ok());
  write(*file, 3, "d");
  CHECK(contents(fs, "/d/g") == "abcd");
  REQUIRE(fs.remove("/d/g").ok());
  write(*file, 4, "e");
  std::vector<std::byte> out(5);
  CHECK(*file->read_at(0, out) == 5);
  CHECK(std::memcmp(out.data(), "abcde", 5) == 0);
  CHECK_FALSE(*fs.exists("/d/g"));
  // The removal was never made durable: the durable name and bytes come back.
  fs.crash(CrashPolicy::drop_unsynced, 0);
  CHECK(contents(fs, "/d/f") == "abc");
}

TEST_CASE("mem: a lock is exclusive per path until released, and power loss releases it") {
  MemFileSystem fs;
  REQUIRE(fs.create_dir("/d").ok());
  auto first = fs.lock("/d/LOCK");
  REQUIRE(first.has_value());
  CHECK(*fs.exists("/d/LOCK"));
  CHECK(fs.lock("/d/LOCK").error().code() == Errc::busy);
  CHECK(fs.lock("/d/OTHER").has_value());
  first->reset();
  auto second = fs.lock("/d/LOCK");
  REQUIRE(second.has_value());
  fs.crash(CrashPolicy::drop_unsynced, 0);  // the /d entry was not durable: all gone
  REQUIRE(fs.create_dir("/d").ok());
  auto third = fs.lock("/d/LOCK");
  REQUIRE(third.has_value());
  second->reset();  // a lock from before the crash releases nothing
  CHECK(fs.lock("/d/LOCK").error().code() == Errc::busy);
}

TEST_CASE("mem: open modes follow POSIX") {
  MemFileSystem fs;
  CHECK(fs.open("/f", OpenMode::read_only).error().code() == Errc::not_found);
  CHECK(fs.open("/f", OpenMode::read_write).error().code() == Errc::not_found);
  CHECK(fs.open("/none/f", OpenMode::create).error().code() == Errc::not_found);
  auto file = open_file(fs, "/f", OpenMode::create_new);
  const auto again = fs.open("/f", OpenMode::create_new);
  CHECK(again.error().code() == Errc::io_error);
  CHECK(again.error().sys_errno() == EEXIST);
  auto reader = open_file(fs, "/f", OpenMode::read_only);
  CHECK(reader->write_at(0, as_span("x")).sys_errno() == EBADF);
  CHECK(reader->path() == "/f");
  CHECK(fs.name() == "mem");
}

TEST_CASE("mem: remove refuses a non-empty directory and removes an empty one") {
  MemFileSystem fs;
  REQUIRE(fs.create_dir("/d").ok());
  auto file = open_file(fs, "/d/f");
  CHECK(fs.remove("/d").sys_errno() == ENOTEMPTY);
  REQUIRE(fs.remove("/d/f").ok());
  REQUIRE(fs.remove("/d").ok());
  CHECK_FALSE(*fs.exists("/d"));
  CHECK(fs.rename("/x", "/y").code() == Errc::not_found);
}

TEST_CASE("mem: corrupt and set_size are immediately durable and not counted") {
  MemFileSystem fs;
  auto file = durable_file(fs, "hello world");
  const std::uint64_t ops = fs.op_count();
  REQUIRE(fs.corrupt("/d/f", 0, "J").ok());
  REQUIRE(fs.set_size("/d/f", 5).ok());
  CHECK(fs.op_count() == ops);
  fs.crash(CrashPolicy::drop_unsynced, 0);
  CHECK(contents(fs, "/d/f") == "Jello");
  REQUIRE(fs.set_size("/d/f", 7).ok());
  CHECK(contents(fs, "/d/f") == std::string("Jello\0\0", 7));
  CHECK(fs.corrupt("/d/missing", 0, "x").code() == Errc::not_found);
}

TEST_CASE("mem: crash is deterministic for a given policy, seed and history") {
  auto run = [](CrashPolicy policy, std::uint64_t seed) {
    MemFileSystem fs;
    auto file = durable_file(fs, repeat('o', 4096));
    for (int i = 0; i < 8; ++i) {
      write(*file, static_cast<std::uint64_t>(i) * 700, repeat(static_cast<char>('a' + i), 900));
    }
    auto other = open_file(fs, "/d/other");
    write(*other, 0, "x");
    fs.crash(policy, seed);
    std::string state = contents(fs, "/d/f");
    const auto names = fs.list("/d");
    REQUIRE(names.has_value());
    for (const auto& name : *names) {
      state += "|" + name;
    }
    return state;
  };
  for (CrashPolicy policy : kContractCrashPolicies) {
    CHECK(run(policy, 42) == run(policy, 42));
  }
  CHECK(run(CrashPolicy::tear_sectors, 1) != run(CrashPolicy::tear_sectors, 2));
}

TEST_CASE("mem: crash policy names round-trip") {
  for (CrashPolicy policy :
       {CrashPolicy::drop_unsynced, CrashPolicy::keep_prefix, CrashPolicy::tear_sectors,
        CrashPolicy::zero_sectors, CrashPolicy::zero_whole_sectors}) {
    CrashPolicy parsed = CrashPolicy::drop_unsynced;
    REQUIRE(parse_crash_policy(crash_policy_name(policy), &parsed));
    CHECK(parsed == policy);
  }
  CrashPolicy unused;
  CHECK_FALSE(parse_crash_policy("tear", &unused));
}

TEST_CASE("mem: a writer, readers and a crash may run on different threads") {
  MemFileSystem fs;
  auto file = durable_file(fs, "");
  std::thread writer([&] {
    for (std::uint64_t i = 0; i < 2000; ++i) {
      if (!file->write_at(i * 8, as_span("abcdefgh")).ok() || !file->sync_data().ok()) {
        return;  // the crash below invalidated the handle
      }
    }
  });
  std::thread reader([&] {
    auto mine = fs.open("/d/f", OpenMode::read_only);
    std::vector<std::byte> out(8);
    for (int i = 0; i < 2000 && mine.has_value(); ++i) {
      (*mine)->read_at(static_cast<std::uint64_t>(i) * 8, out).status().ignore();
      fs.list("/d").status().ignore();
    }
  });
  std::thread crasher([&] { fs.crash(CrashPolicy::tear_sectors, 9); });
  writer.join();
  reader.join();
  crasher.join();
  const std::string after = contents(fs, "/d/f");
  CHECK(after.size() % 8 == 0);
}

// Property: after random writes, size changes and syncs, every contract
// policy keeps every byte synced before the crash, and every other byte holds
// its durable value, the value of some write since the last sync, or (for
// zero_sectors) zero.
TEST_CASE("mem: every contract policy keeps the synced bytes (seeded property)") {
  struct Write {
    std::uint64_t position;
    std::uint64_t bytes;
    char value;
  };
  for (std::uint64_t seed = 0; seed < 400; ++seed) {
    std::uint64_t rng = seed * 0x9E3779B97F4A7C15ull + 1;
    auto next = [&rng](std::uint64_t n) {
      rng ^= rng << 13;
      rng ^= rng >> 7;
      rng ^= rng << 17;
      return rng % n;
    };
    const CrashPolicy policy = kContractCrashPolicies[seed % kContractCrashPolicies.size()];
    MemFileSystem fs;
    auto file = durable_file(fs, "");
    std::string durable;       // our own record of the last synced image
    std::vector<Write> since;  // writes since that sync
    bool resized = false;
    for (int op = 0; op < 12; ++op) {
      const std::uint64_t kind = next(10);
      if (kind < 7) {
        const Write w{next(3000), 1 + next(1200), static_cast<char>('A' + op)};
        write(*file, w.position, std::string(w.bytes, w.value));
        since.push_back(w);
      } else if (kind < 8) {
        REQUIRE(file->truncate(next(3000)).ok());
        resized = true;
      } else {
        sync(*file);
        durable = contents(fs, "/d/f");
        since.clear();
        resized = false;
      }
    }
    const std::string newest = contents(fs, "/d/f");
    fs.crash(policy, seed);
    const std::string after = contents(fs, "/d/f");
    INFO("seed " << seed << " policy " << crash_policy_name(policy));
    if (policy == CrashPolicy::drop_unsynced) {
      CHECK(after == durable);
      continue;
    }
    if (resized) {
      continue;  // unsynced size changes: covered by the cases above
    }
    // Only writes since the last sync, so the size can only have grown.
    REQUIRE(after.size() >= durable.size());
    REQUIRE(after.size() <= newest.size());
    for (std::size_t i = 0; i < after.size(); ++i) {
      const char old_value = i < durable.size() ? durable[i] : '\0';
      bool ok = after[i] == old_value || (policy == CrashPolicy::zero_sectors && after[i] == '\0');
      for (const Write& w : since) {
        ok = ok || (w.position <= i && i < w.position + w.bytes && after[i] == w.value);
      }
      if (!ok) {
        FAIL_CHECK("byte " << i << " holds a value nobody wrote there");
        break;
      }
      if (policy == CrashPolicy::tear_sectors && after[i] != old_value) {
        CHECK(after[i] == newest[i]);  // tear_sectors keeps only the newest contents
      }
    }
  }
}

}  // namespace
}  // namespace cairn::testing
