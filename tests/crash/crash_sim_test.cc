// Goal: prove the invariants of SPEC.md section 11 under simulated power loss.
// Method: a seeded workload (appends of random sizes and event counts to a
// few streams, segment rolls, clean reopens) runs on the in-memory crash
// model, which is frozen at a chosen file operation (the power cut); then
// crash(policy, seed) rebuilds the disk as power loss may leave it, the log
// is recovered (sometimes with a second power cut during recovery), and the
// result is checked against a model of what was acknowledged:
//   I1 every acknowledged event is present, byte-identical, at its LSN;
//   I2 the log is a prefix of what was appended, ends on an append boundary
//      (multi-event appends are atomic), LSNs and versions dense;
//   I3 recovering again gives the same log, and appending afterwards works;
//   I4 a crash alone never makes open() refuse (no false corruption);
//   I5 nothing is acknowledged after the first failed operation;
//   I6 every sealed segment verifies against its seal (verify_all).
// The workload is an event store's: every event has an id, some appends
// guard an exact expected version (which must hold), some use a wrong one
// (refused, nothing written), some retry an acknowledged append (the
// original result, nothing written). After recovery, stream reads and stream
// heads must agree with the recovered log, and retries must be recognised
// for every append that survived and written anew for one that did not.
// Modes: exhaustive (every operation of a small workload, every policy),
// random (many seeds, random cut and policy), concurrent (threads, not
// replayable op by op, still seeded). A failure prints the seed, policy and
// operation that replay it: CAIRN_SEED=... CAIRN_POLICY=... CAIRN_OP=...
// The soak mode runs more seeds: CAIRN_CRASH_SEEDS=N.
#include <cairn/log.h>
#include <cairn/testing/mem_file_system.h>
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "recovery/recover.h"
#include "tests/support/test_log.h"

using namespace cairn;
using namespace cairn::test;
using testing::CrashPolicy;
using testing::MemFileSystem;

namespace {

std::uint64_t env_u64(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v ? std::strtoull(v, nullptr, 10) : fallback;
}

struct Attempt {
  std::string stream;
  std::string data;
};

// One append call as made, so that it can be retried.
struct Append {
  std::string stream;
  std::vector<std::string> data;
  std::vector<EventId> ids;
  std::uint64_t first_lsn;
};

// What the workload did: every event that may have been assigned an LSN, in
// LSN order, and how many of them were acknowledged durable.
struct Model {
  std::vector<Attempt> attempted;
  std::vector<std::size_t> boundaries{0};  // attempted.size() after each append
  std::size_t acknowledged = 0;
  // Every append that got LSNs; all acknowledged but perhaps the last.
  std::vector<Append> appends;
  std::map<std::string, std::uint64_t> next_version;  // over `attempted`
};

EventId random_id(std::mt19937_64& rng) {
  EventId id;
  for (std::size_t i = 0; i < id.bytes.size(); i += 8) {
    const std::uint64_t x = rng();
    for (std::size_t b = 0; b < 8; ++b) {
      id.bytes[i + b] = static_cast<std::uint8_t>(x >> (8 * b));
    }
  }
  return id;
}

// The events of an append, viewing its strings.
std::vector<NewEvent> events_of(const Append& a) {
  std::vector<NewEvent> events;
  for (std::size_t i = 0; i < a.data.size(); ++i) {
    events.push_back(event(a.data[i]));
    events.back().id = a.ids[i];
  }
  return events;
}

// A retry of an acknowledged append: the original result, nothing written.
// Returns false once the file system is frozen.
bool retry_acknowledged(Log& log, const MemFileSystem& fs, std::mt19937_64& rng,
                        const Model& model) {
  const Append& a = model.appends[rng() % model.appends.size()];
  const auto events = events_of(a);
  auto r = log.append(a.stream, ExpectedVersion::any(), events, Durability::sync);
  if (!r) {
    REQUIRE_MESSAGE(fs.frozen(), r.error().to_string());
    return false;  // a lookup hit the frozen disk; no LSN was assigned
  }
  REQUIRE(r->first_lsn == a.first_lsn);
  REQUIRE(log.next_lsn() == model.attempted.size());
  return true;
}

// An append guarded by a version the stream does not have: refused, nothing
// written.
bool refuse_wrong_version(Log& log, const MemFileSystem& fs, std::mt19937_64& rng, Model& model) {
  const std::string stream = "s" + std::to_string(rng() % 4);
  // exact(v) expects v to be the stream's last version: next_version - 1.
  const std::uint64_t wrong = model.next_version[stream] + rng() % 3;
  NewEvent e = event("never written");
  e.id = random_id(rng);
  auto r = log.append(stream, ExpectedVersion::exact(wrong), {&e, 1}, Durability::sync);
  REQUIRE_FALSE(r.has_value());
  if (r.error().code() != Errc::wrong_expected_version) {
    REQUIRE_MESSAGE(fs.frozen(), r.error().to_string());
    return false;  // the head lookup hit the frozen disk
  }
  REQUIRE(log.next_lsn() == model.attempted.size());
  return true;
}

struct Workload {
  std::uint64_t seed;
  int appends;
};

// One step of the workload: mostly an append of 1..3 events with random
// sizes and ids (a quarter of them guarded by the exact expected version),
// sometimes a retry or a wrong expected version. Returns false once the file
// system is frozen (or anything else failed): the process is "dead".
bool do_append(Log& log, const MemFileSystem& fs, std::mt19937_64& rng, Model& model) {
  const std::uint64_t dice = rng() % 20;
  if (dice == 0 && !model.appends.empty()) {
    return retry_acknowledged(log, fs, rng, model);
  }
  if (dice == 1) {
    return refuse_wrong_version(log, fs, rng, model);
  }
  Append a;
  a.stream = "s" + std::to_string(rng() % 4);
  const int count = 1 + static_cast<int>(rng() % 3);
  for (int i = 0; i < count; ++i) {
    a.data.push_back(payload(rng(), static_cast<std::size_t>(rng() % 900)));
    a.ids.push_back(random_id(rng));
  }
  const std::uint64_t version = model.next_version[a.stream];
  const ExpectedVersion expected = dice >= 7      ? ExpectedVersion::any()
                                   : version == 0 ? ExpectedVersion::no_stream()
                                                  : ExpectedVersion::exact(version - 1);
  auto r = log.append(a.stream, expected, events_of(a), Durability::sync);
  if (!r.has_value()) {
    REQUIRE_MESSAGE(fs.frozen(), r.error().to_string());  // only a power cut stops it
  }
  if (!r.has_value() && r.error().code() == Errc::poisoned) {
    return false;  // refused before an LSN was assigned
  }
  // Assigned an LSN (acknowledged or in flight): it may survive.
  a.first_lsn = model.attempted.size();
  for (const auto& d : a.data) {
    model.attempted.push_back({a.stream, d});
  }
  model.boundaries.push_back(model.attempted.size());
  model.next_version[a.stream] += a.data.size();
  model.appends.push_back(std::move(a));
  if (!r.has_value()) {
    return false;
  }
  REQUIRE(r->first_lsn + count == model.attempted.size());
  REQUIRE(r->first_version == version);
  model.acknowledged = model.attempted.size();
  return true;
}

// Runs the workload until it ends or the power is cut.
void run_workload(MemFileSystem& fs, const Workload& w, Model& model) {
  auto fs_ptr = std::shared_ptr<MemFileSystem>(&fs, [](MemFileSystem*) {});
  std::mt19937_64 rng(w.seed);
  auto opened = Log::open(small_options(fs_ptr));
  if (!opened) {
    return;
  }
  std::unique_ptr<Log> log = std::move(*opened);
  for (int i = 0; i < w.appends; ++i) {
    if (!do_append(*log, fs, rng, model)) {
      return;
    }
    if (rng() % 40 == 0) {  // a clean restart now and then
      if (!log->close().ok()) {
        return;
      }
      log.reset();
      auto again = Log::open(small_options(fs_ptr));
      if (!again) {
        return;
      }
      log = std::move(*again);
    }
  }
}

std::string replay_hint(const Workload& w, CrashPolicy policy, std::uint64_t op,
                        std::uint64_t recovery_cut) {
  return std::string("replay: CAIRN_SEED=") + std::to_string(w.seed) +
         " CAIRN_APPENDS=" + std::to_string(w.appends) +
         " CAIRN_POLICY=" + testing::crash_policy_name(policy) + " CAIRN_OP=" + std::to_string(op) +
         " CAIRN_RECOVERY_CUT=" + std::to_string(recovery_cut);
}

std::vector<Event> recover_and_read(MemFileSystem& fs, const std::string& hint) {
  auto fs_ptr = std::shared_ptr<MemFileSystem>(&fs, [](MemFileSystem*) {});
  auto log = Log::open(small_options(fs_ptr));
  REQUIRE_MESSAGE(log.has_value(), hint << ": open after crash: " << log.status().to_string());
  auto events = read_all(**log);
  REQUIRE_MESSAGE((*log)->close().ok(), hint);
  return events;
}

void check_against_model(const std::vector<Event>& events, const Model& model,
                         const std::string& hint) {
  INFO(hint);
  // I1 and I2: a prefix of the attempts that covers every acknowledgement
  // and ends where an append ended.
  REQUIRE(events.size() >= model.acknowledged);
  REQUIRE(events.size() <= model.attempted.size());
  REQUIRE(std::find(model.boundaries.begin(), model.boundaries.end(), events.size()) !=
          model.boundaries.end());
  std::map<std::string, std::uint64_t> versions;
  for (std::size_t i = 0; i < events.size(); ++i) {
    REQUIRE(events[i].lsn == i);
    REQUIRE(events[i].stream == model.attempted[i].stream);
    REQUIRE(events[i].data == model.attempted[i].data);
    REQUIRE(events[i].version == versions[events[i].stream]++);
  }
}

// I6: every sealed segment matches its seal; nothing left to repair.
void check_sealed_segments(MemFileSystem& fs, const std::string& hint) {
  recovery::RecoveryOptions o;
  o.directory = kDir;
  o.verify_all = true;
  o.dry_run = true;
  auto r = recovery::recover(fs, o);
  REQUIRE_MESSAGE(r.has_value(), hint << ": verify: " << r.status().to_string());
  CHECK_MESSAGE(!r->torn_tail_found, hint);
}

// I3: a second recovery (after another power cut, with nothing unsynced)
// gives the same log, and the log takes appends again.
void check_recover_again(MemFileSystem& fs, const std::vector<Event>& first,
                         const std::string& hint) {
  fs.crash(CrashPolicy::drop_unsynced, 0);
  auto again = recover_and_read(fs, hint);
  REQUIRE_MESSAGE(again == first, hint << ": second recovery differs");
  auto fs_ptr = std::shared_ptr<MemFileSystem>(&fs, [](MemFileSystem*) {});
  auto log = open_log(small_options(fs_ptr));
  auto r = append_one(*log, "after", "recovery");
  CHECK_MESSAGE(r.first_lsn == first.size(), hint);
  REQUIRE(log->close().ok());
}

// After recovery the log is an event store again: every stream read and
// stream head agrees with the recovered events, and retrying an append is
// recognised if it survived the crash, written anew if it did not.
void check_event_store(MemFileSystem& fs, const std::vector<Event>& events, const Model& model,
                       const std::string& hint) {
  INFO(hint);
  auto fs_ptr = std::shared_ptr<MemFileSystem>(&fs, [](MemFileSystem*) {});
  auto log = open_log(small_options(fs_ptr));
  const std::vector<Event> all = read_all(*log);  // `events` plus what came after
  std::map<std::string, std::vector<std::uint64_t>> streams;
  for (const Event& e : all) {
    streams[e.stream].push_back(e.lsn);
  }
  for (const auto& [stream, lsns] : streams) {
    REQUIRE(log->next_version(stream).value() == lsns.size());
    ReadOptions o;
    o.stream = stream;
    auto reader = log->read(o);
    REQUIRE(reader.has_value());
    std::vector<std::uint64_t> read;
    EventView v;
    while ((*reader)->next(v).value()) {
      read.push_back(v.lsn);
    }
    REQUIRE(read == lsns);
  }
  if (model.appends.empty()) {
    return;
  }
  // The last append may or may not have survived; an acknowledged one did.
  const Append& last = model.appends.back();
  const bool survived = last.first_lsn < events.size();
  const std::uint64_t end = log->next_lsn();
  auto r = log->append(last.stream, ExpectedVersion::any(), events_of(last), Durability::sync);
  REQUIRE_MESSAGE(r.has_value(), r.status().to_string());
  CHECK(r->first_lsn == (survived ? last.first_lsn : end));
  CHECK(log->next_lsn() == (survived ? end : end + last.data.size()));
  const Append& early = model.appends.front();
  if (early.first_lsn + early.data.size() <= model.acknowledged) {
    auto again = log->append(early.stream, ExpectedVersion::any(), events_of(early));
    REQUIRE(again.has_value());
    CHECK(again->first_lsn == early.first_lsn);
  }
  REQUIRE(log->close().ok());
}

// One crash case: cut the power after `op` operations, crash with `policy`,
// optionally cut the power again during recovery, then check everything.
void run_case(const Workload& w, CrashPolicy policy, std::uint64_t op,
              std::uint64_t recovery_cut = 0) {
  const std::string hint = replay_hint(w, policy, op, recovery_cut);
  MemFileSystem fs;
  fs.freeze_after_ops(op);
  Model model;
  run_workload(fs, w, model);
  fs.crash(policy, w.seed ^ op);
  if (recovery_cut > 0) {
    // A power cut during recovery itself (zero-fill, segment creation...).
    fs.freeze_after_ops(fs.op_count() + recovery_cut);
    auto fs_ptr = std::shared_ptr<MemFileSystem>(&fs, [](MemFileSystem*) {});
    { auto interrupted = Log::open(small_options(fs_ptr)); }
    fs.crash(policy, w.seed ^ op ^ recovery_cut);
  }
  auto events = recover_and_read(fs, hint);
  check_against_model(events, model, hint);
  check_sealed_segments(fs, hint);
  check_recover_again(fs, events, hint);
  check_event_store(fs, events, model, hint);
}

std::uint64_t count_ops(const Workload& w) {
  MemFileSystem fs;
  Model model;
  run_workload(fs, w, model);
  return fs.op_count();
}

}  // namespace

TEST_CASE("crash: replay one case from CAIRN_SEED / CAIRN_POLICY / CAIRN_OP" *
          doctest::skip(std::getenv("CAIRN_OP") == nullptr)) {
  CrashPolicy policy = CrashPolicy::drop_unsynced;
  if (const char* p = std::getenv("CAIRN_POLICY")) {
    REQUIRE(testing::parse_crash_policy(p, &policy));
  }
  const Workload w{env_u64("CAIRN_SEED", 1), static_cast<int>(env_u64("CAIRN_APPENDS", 120))};
  run_case(w, policy, env_u64("CAIRN_OP", 0), env_u64("CAIRN_RECOVERY_CUT", 0));
}

TEST_CASE("crash: every operation of a small workload, every policy, keeps I1-I6") {
  const std::uint64_t workloads = env_u64("CAIRN_EXHAUSTIVE_SEEDS", 2);
  std::uint64_t cases = 0;
  for (std::uint64_t seed = 42; seed < 42 + workloads; ++seed) {
    const Workload w{seed, 120};
    const std::uint64_t ops = count_ops(w);
    REQUIRE(ops > 200);
    for (std::uint64_t op = 0; op <= ops; ++op) {
      for (CrashPolicy policy : testing::kContractCrashPolicies) {
        run_case(w, policy, op);
        ++cases;
      }
    }
  }
  MESSAGE("exhaustive crash cases: " << cases << " (" << workloads << " workloads)");
}

TEST_CASE(
    "crash: random seeds, cut points and policies keep I1-I6, also with a cut during recovery") {
  const std::uint64_t seeds = env_u64("CAIRN_CRASH_SEEDS", 400);
  const std::uint64_t first = env_u64("CAIRN_CRASH_FIRST_SEED", 1000);
  for (std::uint64_t seed = first; seed < first + seeds; ++seed) {
    std::mt19937_64 rng(seed);
    const Workload w{seed, 40 + static_cast<int>(rng() % 160)};
    const std::uint64_t ops = count_ops(w);
    const CrashPolicy policy = testing::kContractCrashPolicies[rng() % 4];
    const std::uint64_t op = rng() % (ops + 1);
    const std::uint64_t recovery_cut = rng() % 2 ? 1 + rng() % 12 : 0;
    run_case(w, policy, op, recovery_cut);
  }
  MESSAGE("random crash cases: " << seeds);
}

TEST_CASE("crash: concurrent appenders lose nothing acknowledged and invent nothing") {
  const std::uint64_t seeds = env_u64("CAIRN_CRASH_CONCURRENT_SEEDS", 30);
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
    MemFileSystem fs;
    auto fs_ptr = std::shared_ptr<MemFileSystem>(&fs, [](MemFileSystem*) {});
    std::mt19937_64 rng(seed);
    const std::uint64_t cut = 50 + rng() % 400;
    const CrashPolicy policy = testing::kContractCrashPolicies[rng() % 4];
    const std::string hint = "concurrent: CAIRN_SEED=" + std::to_string(seed) +
                             " policy=" + testing::crash_policy_name(policy) +
                             " cut=" + std::to_string(cut);
    INFO(hint);
    fs.freeze_after_ops(cut);
    // Each data string names its thread and sequence number, so every
    // recovered event can be traced to exactly one attempt.
    std::mutex mu;
    std::map<std::string, std::string> attempted;  // data -> stream
    std::vector<std::string> acked;
    {
      auto log = Log::open(small_options(fs_ptr));
      if (log) {
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t) {
          threads.emplace_back([&, t] {
            std::mt19937_64 trng(seed * 31 + t);
            for (int i = 0; i < 200; ++i) {
              const std::string stream = "t" + std::to_string(t) + "-" + std::to_string(i % 3);
              const std::string data = "t" + std::to_string(t) + "#" + std::to_string(i) + ":" +
                                       payload(trng(), trng() % 600);
              {
                std::lock_guard lock(mu);
                attempted[data] = stream;
              }
              NewEvent e = event(data);
              auto r = (*log)->append(stream, ExpectedVersion::any(), {&e, 1},
                                      i % 5 == 0 ? Durability::async : Durability::sync);
              if (!r) {
                return;
              }
              if (i % 5 != 0) {
                std::lock_guard lock(mu);
                acked.push_back(data);
              }
            }
          });
        }
        for (auto& th : threads) {
          th.join();
        }
      }
    }
    fs.crash(policy, seed);
    auto events = recover_and_read(fs, hint);
    std::set<std::string> seen;
    std::map<std::string, std::uint64_t> versions;
    for (std::size_t i = 0; i < events.size(); ++i) {
      REQUIRE(events[i].lsn == i);
      auto it = attempted.find(events[i].data);
      REQUIRE_MESSAGE(it != attempted.end(), "phantom event at LSN " << i);
      REQUIRE(it->second == events[i].stream);
      REQUIRE_MESSAGE(seen.insert(events[i].data).second, "duplicate at LSN " << i);
      REQUIRE(events[i].version == versions[events[i].stream]++);
    }
    for (const auto& d : acked) {
      REQUIRE_MESSAGE(seen.count(d) == 1, "acknowledged event lost: " << d.substr(0, 12));
    }
    check_sealed_segments(fs, hint);
    check_recover_again(fs, events, hint);
  }
}
