// Goal: the `cairn` command line keeps the contract of BRIEF section 6: the
// output of append/read (golden text and jsonl), dump's jsonl keys, every
// exit code that can be provoked, --help everywhere, read-only commands that
// change no byte, and LSNs printed by `cairn append` that survive a SIGKILL.
// Method: run the built binary (CAIRN_BIN) as a user would, with pipes;
// damage logs by flipping bytes at positions that `cairn dump` reports.
#include <cairn/log.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "format/codec.h"
#include "tests/tool/tool_support.h"

using namespace cairn::tooltest;
using Json = nlohmann::json;

namespace {

// A child that exits (or is killed) before reading all its stdin must not
// kill the test with SIGPIPE: the write fails with EPIPE instead.
const bool kIgnoreSigpipe = [] {
  ::signal(SIGPIPE, SIG_IGN);
  return true;
}();

constexpr const char* kSmallSegment = "65536";
constexpr std::uint64_t kRecordHeaderBytes = 48;

// "3 of 3" for n = 3.
std::string fmt_count(std::size_t n) { return std::to_string(n) + " of " + std::to_string(n); }

// A log of `n` events "event-<i>" in 64 KiB segments (a few hundred each).
void make_log(const std::string& dir, int n, const std::vector<std::string>& extra = {}) {
  std::string input;
  for (int i = 0; i < n; ++i) input += "event-" + std::to_string(i) + "\n";
  std::vector<std::string> args{"append", dir, "--create", "--segment-bytes", kSmallSegment};
  args.insert(args.end(), extra.begin(), extra.end());
  const RunResult r = run(args, input);
  REQUIRE(r.code == 0);
  REQUIRE(lines_of(r.out).size() == static_cast<std::size_t>(n));
}

std::vector<Json> jsonl(const std::string& text) {
  std::vector<Json> out;
  for (const auto& line : lines_of(text)) out.push_back(Json::parse(line));
  return out;
}

// The dump's record objects (kind batch or seal).
std::vector<Json> dumped_records(const std::string& path) {
  const RunResult r = run({"dump", path, "--records", "--format", "jsonl"});
  std::vector<Json> records;
  for (auto& j : jsonl(r.out)) {
    if (j["kind"] == "batch" || j["kind"] == "seal") records.push_back(j);
  }
  return records;
}

Json record_with_lsn(const std::string& dir, std::uint64_t lsn) {
  for (auto& j : dumped_records(dir)) {
    if (j["kind"] == "batch" && j["lsn"] == lsn) return j;
  }
  FAIL("no record with LSN " << lsn);
  return {};
}

// Flips a byte in the body of the record holding `lsn` (its checksum fails).
Json damage_record(const std::string& dir, std::uint64_t lsn) {
  const Json record = record_with_lsn(dir, lsn);
  flip_byte(dir + "/" + record["segment"].get<std::string>(),
            record["position"].get<std::uint64_t>() + kRecordHeaderBytes + 20);
  return record;
}

// LSNs and data of `cairn read --format jsonl` output.
std::vector<std::pair<std::uint64_t, std::string>> read_events(const std::string& text) {
  std::vector<std::pair<std::uint64_t, std::string>> events;
  for (auto& j : jsonl(text)) events.emplace_back(j["lsn"].get<std::uint64_t>(), j["data"]);
  return events;
}

// `read` is the real tool's `read --format jsonl` of `dir` after a writer
// stopped: the log must hold every LSN it printed as durable, each event
// "event-<LSN>", and verify with at most a torn tail.
void check_holds_printed(const std::string& dir, const RunResult& read, std::size_t printed) {
  REQUIRE(read.code == 0);
  const auto events = read_events(read.out);
  REQUIRE(events.size() >= printed);
  for (std::size_t i = 0; i < events.size(); ++i) {
    CHECK(events[i].first == i);
    CHECK(events[i].second == "event-" + std::to_string(i));
  }
  CHECK(run({"verify", dir}).code <= 1);
}

void check_prefix(const std::string& read_output, std::uint64_t count) {
  const auto events = read_events(read_output);
  REQUIRE(events.size() == count);
  for (std::uint64_t i = 0; i < count; ++i) {
    CHECK(events[i].first == i);
    CHECK(events[i].second == "event-" + std::to_string(i));
  }
}

const char* const kGoldenInput =
    R"({"stream":"acct-1","type":"Deposited","id":"00112233-4455-6677-8899-aabbccddeeff","data":{"amount":100},"time":"2025-01-02T03:04:05.000000001Z"})"
    "\n"
    R"({"stream":"acct-2","type":"Opened","data":"hi there","metadata":"m","time":1735787045000000002})"
    "\n\n"
    R"({"stream":"acct-1","type":"Withdrawn","data":"\u00e9t\u00e9","time":"2025-01-02T04:04:06+01:00"})"
    "\n";

const char* const kGoldenText =
    "0 acct-1@0 Deposited 2025-01-02T03:04:05.000000001Z id=00112233445566778899aabbccddeeff "
    "{\"amount\":100}\n"
    "1 acct-2@0 Opened 2025-01-02T03:04:05.000000002Z metadata=m hi there\n"
    "2 acct-1@1 Withdrawn 2025-01-02T03:04:06.000000000Z \xc3\xa9t\xc3\xa9\n";

const char* const kGoldenJsonl =
    R"({"lsn":0,"stream":"acct-1","version":0,"type":"Deposited","id":"00112233445566778899aabbccddeeff","time":"2025-01-02T03:04:05.000000001Z","data":"{\"amount\":100}","metadata":""})"
    "\n"
    R"({"lsn":1,"stream":"acct-2","version":0,"type":"Opened","id":"00000000000000000000000000000000","time":"2025-01-02T03:04:05.000000002Z","data":"hi there","metadata":"m"})"
    "\n"
    "{\"lsn\":2,\"stream\":\"acct-1\",\"version\":1,\"type\":\"Withdrawn\",\"id\":"
    "\"00000000000000000000000000000000\",\"time\":\"2025-01-02T03:04:06.000000000Z\","
    "\"data\":\"\xc3\xa9t\xc3\xa9\",\"metadata\":\"\"}\n";

void make_golden_log(const std::string& dir) {
  const RunResult r = run({"append", dir, "--create", "--jsonl"}, kGoldenInput);
  REQUIRE(r.err == "");
  REQUIRE(r.code == 0);
  CHECK(r.out == "0\n1\n2\n");
}

std::vector<std::uint64_t> lsns_of(const RunResult& r) {
  std::vector<std::uint64_t> lsns;
  for (auto& [lsn, data] : read_events(r.out)) lsns.push_back(lsn);
  return lsns;
}

}  // namespace

TEST_CASE("--help of the tool and of every subcommand exits 0 and lists the exit codes") {
  for (const std::string sub : {"", "append", "read", "dump", "verify", "recover", "stat"}) {
    CAPTURE(sub);
    const RunResult r = sub.empty() ? run({"--help"}) : run({sub, "--help"});
    CHECK(r.code == 0);
    CHECK(r.out.find("Exit codes") != std::string::npos);
    CHECK(r.out.find("6  log is locked by another process") != std::string::npos);
    CHECK(r.out.find("7  wrong expected version") != std::string::npos);
  }
}

TEST_CASE("append --jsonl then read: golden text and jsonl output") {
  TempDir tmp;
  const std::string dir = tmp / "log";
  make_golden_log(dir);
  const RunResult text = run({"read", dir});
  CHECK(text.code == 0);
  CHECK(text.out == kGoldenText);
  const RunResult json = run({"read", dir, "--format", "jsonl"});
  CHECK(json.code == 0);
  CHECK(json.out == kGoldenJsonl);
}

// `read --format jsonl` output appended with `append --jsonl` copies a log:
// the same events (bytes that are not UTF-8 through data_base64), ids and
// times, at the same LSNs and versions in a new log. A misspelt key is
// refused with its line, not appended as an empty event.
TEST_CASE("read --format jsonl | append --jsonl copies a log; an unknown key is refused") {
  TempDir tmp;
  const std::string dir = tmp / "log";
  make_golden_log(dir);
  REQUIRE(run({"append", dir, "--stream", "bin"}, "\xff\xfe\x01raw\n").code == 0);
  const RunResult original = run({"read", dir, "--format", "jsonl"});
  REQUIRE(original.code == 0);
  REQUIRE(original.out.find("\"data_base64\"") != std::string::npos);
  const std::string copy = tmp / "copy";
  const RunResult appended = run({"append", copy, "--create", "--jsonl"}, original.out);
  REQUIRE(appended.code == 0);
  CHECK(lines_of(appended.out).size() == lines_of(original.out).size());
  CHECK(run({"read", copy, "--format", "jsonl"}).out == original.out);
  const RunResult typo =
      run({"append", copy, "--jsonl"}, "{\"data\":\"ok\"}\n{\"dat\":\"typo\"}\n");
  CHECK(typo.code == 2);
  CHECK(typo.err.find("stdin line 2: unknown key \"dat\"") != std::string::npos);
  CHECK(lines_of(typo.out).size() == 1);  // line 1 was appended and acknowledged
  for (const std::string bad : {"{\"data\":\"a\",\"data_base64\":\"YQ==\"}",
                                "{\"data_base64\":\"not base64\"}", "{\"data_base64\":7}"}) {
    CAPTURE(bad);
    CHECK(run({"append", copy, "--jsonl"}, bad + "\n").code == 2);
  }
}

TEST_CASE("append plain lines: one event per line, LSNs printed in order, data round-trips") {
  TempDir tmp;
  const std::string dir = tmp / "log";
  const std::string input =
      std::string("alpha\n\nwith space\tand tab\n") + "\xff\xfe" + "bin\nlast";
  const RunResult a = run({"append", dir, "--create", "--stream", "s", "--type", "T"}, input);
  REQUIRE(a.code == 0);
  CHECK(a.out == "0\n1\n2\n3\n4\n");
  const RunResult r = run({"read", dir, "--format", "jsonl"});
  REQUIRE(r.code == 0);
  const auto events = jsonl(r.out);
  REQUIRE(events.size() == 5);
  const std::vector<std::string> data{"alpha", "", "with space\tand tab", "", "last"};
  for (std::size_t i = 0; i < events.size(); ++i) {
    CAPTURE(i);
    const Json& e = events[i];
    CHECK(e["lsn"] == i);
    CHECK(e["stream"] == "s");
    CHECK(e["version"] == i);
    CHECK(e["type"] == "T");
    CHECK(e["id"] == std::string(32, '0'));
    const std::string time = e["time"];
    CHECK(time.size() == 30);  // 2025-01-02T03:04:05.123456789Z
    CHECK(time.back() == 'Z');
    if (i == 3) {
      CHECK(e["data_base64"] == "//5iaW4=");
      CHECK(!e.contains("data"));
    } else {
      CHECK(e["data"] == data[i]);
    }
  }
  // The text format keeps one event per line: a tab and invalid bytes are escaped.
  const auto text = lines_of(run({"read", dir}).out);
  REQUIRE(text.size() == 5);
  CHECK(text[2].ends_with(" with space\\tand tab"));
  CHECK(text[3].ends_with(" \\xff\\xfebin"));
}

TEST_CASE("read options: stream, from-version, backward, limit, from, until-lsn, as-of") {
  TempDir tmp;
  const std::string dir = tmp / "log";
  make_golden_log(dir);
  using V = std::vector<std::uint64_t>;
  const auto lsns = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"read", dir, "--format", "jsonl"});
    const RunResult r = run(args);
    CHECK(r.code == 0);
    return lsns_of(r);
  };
  CHECK(lsns({"--stream", "acct-1"}) == V{0, 2});
  CHECK(lsns({"--stream", "acct-1", "--from-version", "1"}) == V{2});
  CHECK(lsns({"--stream", "acct-1", "--backward", "--from-version", "0"}) == V{0});
  CHECK(lsns({"--backward"}) == V{2, 1, 0});
  CHECK(lsns({"--backward", "--limit", "2"}) == V{2, 1});
  CHECK(lsns({"--backward", "--from", "1"}) == V{1, 0});
  CHECK(lsns({"--from", "1"}) == V{1, 2});
  CHECK(lsns({"--limit", "1"}) == V{0});
  CHECK(lsns({"--until-lsn", "2"}) == V{0, 1});
  CHECK(lsns({"--as-of", "2025-01-02T03:04:05.000000002Z"}) == V{0, 1});
  CHECK(lsns({"--as-of", "1735787045000000001"}) == V{0});
  CHECK(lsns({"--as-of", "2025-01-02T04:04:05.000000002+01:00"}) == V{0, 1});
  CHECK(lsns({"--as-of", "2025-01-02T04:04:05+01:00"}).empty());
}

TEST_CASE("usage errors exit 2 with one line on stderr") {
  TempDir tmp;
  const std::string dir = tmp / "log";
  make_golden_log(dir);
  std::filesystem::create_directory(tmp / "other");
  std::ofstream(tmp / "other/notes.txt") << "not a log";
  const std::vector<std::vector<std::string>> cases{
      {},
      {"read"},
      {"no-such-subcommand"},
      {"read", dir, "--format", "yaml"},
      {"read", dir, "--from-version", "1"},
      {"read", dir, "--as-of", "yesterday"},
      {"read", dir, "--as-of", "1", "--until-lsn", "1"},
      {"read", dir, "--backward", "--follow"},
      {"read", dir, "--from", "-1"},
      {"read", dir, "--from", "0x10"},  // not read as hex, nor "010" as octal (below)
      {"read", dir, "--limit", "18446744073709551616"},  // 2^64: not clamped to 2^64 - 1
      {"read", dir, "--from", "1e3"},
      {"read", dir, "--as-of", "2025-02-31T00:00:00Z"},  // no such day (not March 3)
      {"read", dir, "--as-of", "2023-02-29T00:00:00Z"},
      {"read", dir, "--stream", ""},
      {"append", dir, "--sync", "sometimes"},
      {"append", dir, "--expected-version", "maybe"},
      {"append", dir, "--segment-bytes", "1000"},
      {"append", tmp / "missing"},  // no log and no --create
      {"read", tmp / "missing"},
      {"read", tmp / "other"},            // not a Cairn log
      {"read", tmp / "other/notes.txt"},  // a file, not a directory
      {"append", tmp / "other/notes.txt", "--create"},
      {"verify", tmp / "other/notes.txt"},
      {"stat", tmp / "other/notes.txt"},
      {"verify", tmp / "other"},
      {"dump", tmp / "other"},
      {"dump", tmp / "x.idx"},            // no such file
      {"dump", tmp / "other/notes.txt"},  // not a segment file, by name or header
  };
  for (const auto& args : cases) {
    CAPTURE(args);
    const RunResult r = run(args, "data\n");
    CHECK(r.code == 2);
    CHECK(lines_of(r.err).size() == 1);
    CHECK(r.out == "");
  }
  CHECK(!std::filesystem::exists(tmp / "missing"));
  CHECK(!std::filesystem::exists(tmp / "other/LOCK"));  // a refused directory is left as it was
  // A value outside a fixed list is refused with the list.
  CHECK(run({"read", dir, "--format", "xml"}).err.find("'xml' is not one of: text, jsonl") !=
        std::string::npos);
  CHECK(run({"append", dir, "--sync", "sometimes"}, "x\n")
            .err.find("'sometimes' is not one of: sync, async, none") != std::string::npos);
  // Leading zeros are decimal: a segment file's name is its base LSN.
  const RunResult padded = run({"read", dir, "--from", "00000000000000000001", "--limit", "1"});
  CHECK(padded.code == 0);
  CHECK(padded.out.starts_with("1 "));
}

// Output that cannot be written (here a full device) is an I/O error, not a
// success: for append, the lost lines are the acknowledgements.
TEST_CASE("stdout that cannot be written exits 4") {
  TempDir tmp;
  const std::string dir = tmp / "log";
  make_log(dir, 3);
  const auto to_full = [&](const std::string& args, const std::string& input) {
    return run({"-c", std::string(CAIRN_BIN) + " " + args + " >/dev/full"}, input, "/bin/sh");
  };
  for (const std::string& args : {"read " + dir, "verify " + dir, "stat " + dir}) {
    CAPTURE(args);
    const RunResult r = to_full(args, "");
    CHECK(r.code == 4);
    CHECK(r.err.find("stdout: write failed") != std::string::npos);
  }
  const RunResult appended = to_full("append " + dir, "a\nb\n");
  CHECK(appended.code == 4);
  CHECK(lines_of(appended.err).size() == 1);
  CHECK(lines_of(run({"read", dir}).out).size() == 5);  // written, though not acknowledged
}

// stat of a damaged log shows what it can and names the damage: the counts
// up to a damaged record (exit 3), or only the files when recovery refuses
// the log (a damaged meta file).
TEST_CASE("stat of a damaged log: counts up to the damage, or the files, and exit 3") {
  TempDir tmp;
  const std::string dir = tmp / "log";
  make_log(dir, 10);
  const Json damaged = damage_record(dir, 4);
  RunResult r = run({"stat", dir});
  CHECK(r.code == 3);
  CHECK(r.out.find("events: 4 (up to the first damage)") != std::string::npos);
  CHECK(r.out.find("damage: corruption: " + dir + "/" + damaged["segment"].get<std::string>()) !=
        std::string::npos);
  CHECK(lines_of(r.err).size() == 1);
  const Json j = jsonl(run({"stat", dir, "--format", "jsonl"}).out).at(0);
  CHECK(j["events"] == 4);
  CHECK(j["damage"].get<std::string>().starts_with("corruption: "));

  flip_byte(dir + "/cairn.meta", 20);
  r = run({"stat", dir});
  CHECK(r.code == 3);
  CHECK(r.out.find("log id: unknown") != std::string::npos);
  CHECK(r.out.find("segments: 1 (") != std::string::npos);
  CHECK(r.out.find("damage: corruption: " + dir + "/cairn.meta") != std::string::npos);
  CHECK(r.out.find("events:") == std::string::npos);  // nothing counted
  CHECK(r.err.find("cairn.meta") != std::string::npos);
}

// A retried event id is answered with the LSN it was first written at,
// older than the events around it; every input line still gets its line.
TEST_CASE("append --jsonl: a retried id prints its original LSN, and the lines after it theirs") {
  TempDir tmp;
  const std::string dir = tmp / "log";
  const std::string id = "0123456789abcdef0123456789abcdef";
  const std::string retried = "{\"data\":\"x\",\"id\":\"" + id + "\"}\n";
  const RunResult first = run({"append", dir, "--create", "--jsonl"}, retried);
  REQUIRE(first.code == 0);
  REQUIRE(first.out == "0\n");
  for (const std::string sync : {"async", "sync", "none"}) {
    CAPTURE(sync);
    const RunResult again = run({"append", dir, "--jsonl", "--sync", sync},
                                "{\"data\":\"a\"}\n" + retried + "{\"data\":\"b\"}\n");
    CHECK(again.code == 0);
    const std::vector<std::string> lsns = lines_of(again.out);
    REQUIRE(lsns.size() == 3);
    CHECK(lsns[1] == "0");
    CHECK(std::stoull(lsns[2]) == std::stoull(lsns[0]) + 1);
  }
  CHECK(lines_of(run({"read", dir}).out).size() == 7);
}

TEST_CASE("a wrong expected version exits 7 and writes nothing") {
  TempDir tmp;
  const std::string dir = tmp / "log";
  CHECK(run({"append", dir, "--create", "--stream", "s", "--expected-version", "no-stream"}, "a\n")
            .code == 0);
  const RunResult again =
      run({"append", dir, "--stream", "s", "--expected-version", "no-stream"}, "b\n");
  CHECK(again.code == 7);
  CHECK(again.out == "");
  CHECK(again.err.find("wrong_expected_version") != std::string::npos);
  CHECK(run({"append", dir, "--stream", "s", "--expected-version", "5"}, "c\n").code == 7);
  CHECK(run({"append", dir, "--stream", "t", "--expected-version", "exists"}, "d\n").code == 7);
  const RunResult ok = run({"append", dir, "--stream", "s", "--expected-version", "0"}, "e\nf\n");
  CHECK(ok.code == 0);
  CHECK(ok.out == "1\n2\n");
  const RunResult r = run({"read", dir, "--format", "jsonl"});
  CHECK(lsns_of(r) == std::vector<std::uint64_t>{0, 1, 2});
}

TEST_CASE("a log held open by another process: append and recover exit 6, reads still work") {
  TempDir tmp;
  const std::string dir = tmp / "log";
  make_log(dir, 10);
  auto held = cairn::Log::open({.directory = dir, .create_if_missing = false});
  REQUIRE(held.has_value());
  const RunResult append = run({"append", dir}, "x\n");
  CHECK(append.code == 6);
  CHECK(append.out == "");
  CHECK(append.err.find("LOCK") != std::string::npos);
  CHECK(run({"recover", dir}).code == 6);
  const RunResult read = run({"read", dir, "--format", "jsonl"});
  CHECK(read.code == 0);
  check_prefix(read.out, 10);
  CHECK(run({"verify", dir}).code == 0);
  CHECK((*held)->close().ok());
  CHECK(run({"append", dir}, "x\n").code == 0);
}

TEST_CASE("damage in a sealed segment: verify, read, dump and stat exit 3, no damaged event") {
  TempDir tmp;
  const std::string dir = tmp / "log";
  make_log(dir, 1500);
  REQUIRE(segment_names(dir).size() >= 2);
  const Json damaged = damage_record(dir, 100);
  const std::string where =
      damaged["segment"].get<std::string>() + ":" + std::to_string(damaged["position"].get<int>());

  const RunResult verify = run({"verify", dir});
  CHECK(verify.code == 3);
  CHECK(verify.err.find(where) != std::string::npos);
  CHECK(lines_of(verify.err).size() == 1);

  const RunResult read = run({"read", dir, "--format", "jsonl"});
  CHECK(read.code == 3);
  CHECK(read.err.find(where) != std::string::npos);
  check_prefix(read.out, 100);  // every event before the damage, none after

  const RunResult backward = run({"read", dir, "--backward"});
  CHECK(backward.code == 3);
  CHECK(backward.out == "");

  CHECK(run({"dump", dir}).code == 3);
  CHECK(run({"dump", dir + "/" + damaged["segment"].get<std::string>()}).code == 3);
  CHECK(run({"stat", dir}).code == 3);
}

// verify names every damaged sealed segment, not only the first (where
// recovery stops), and a saved filter file that does not verify, which
// changes no verdict (derived data).
TEST_CASE("verify lists every damaged sealed segment and every filter file that does not verify") {
  TempDir tmp;
  const std::string dir = tmp / "log";
  make_log(dir, 3000);
  const std::vector<std::string> segments = segment_names(dir);
  REQUIRE(segments.size() >= 4);
  // A torn streams.filter: its last frame cut short.
  const std::string filters = dir + "/streams.filter";
  REQUIRE(std::filesystem::exists(filters));
  std::filesystem::resize_file(filters, std::filesystem::file_size(filters) - 3);
  const RunResult clean = run({"verify", dir, "--format", "jsonl"});
  CHECK(clean.code == 0);
  const Json c = Json::parse(clean.out);
  CHECK(c["damaged_segments"].empty());
  REQUIRE(c["derived_problems"].size() == 1);
  CHECK(c["derived_problems"][0].get<std::string>().starts_with("streams.filter: frame "));

  const Json first = damage_record(dir, 100);
  const Json second = damage_record(dir, 1500);
  REQUIRE(first["segment"] != second["segment"]);
  REQUIRE(second["segment"] != segments.back());
  const RunResult text = run({"verify", dir});
  CHECK(text.code == 3);
  CHECK(text.out.find("(up to the first damage)") != std::string::npos);
  for (const Json* d : {&first, &second}) {
    CHECK(text.out.find("damaged segment: " + dir + "/" + (*d)["segment"].get<std::string>()) !=
          std::string::npos);
  }
  const Json j = Json::parse(run({"verify", dir, "--format", "jsonl"}).out);
  CHECK(j["damaged_segments"].size() == 2);
  CHECK(j["derived_problems"].size() == 1);
}

// read --stream finds the stream's records through the segment indexes
// (Snapshot::read_stream) instead of walking the log: the same events as
// the filtered walk (read --stream --follow still walks), also when index
// files are missing or damaged, which are then rebuilt in memory only.
TEST_CASE("read --stream: through the indexes, the same events as a walk, no index written") {
  TempDir tmp;
  const std::string dir = tmp / "log";
  std::string input;
  for (int i = 0; i < 1500; ++i) {
    input += R"({"stream":"s)" + std::to_string(i % 7) + R"(","data":"event-)" + std::to_string(i) +
             "\"}\n";
  }
  const RunResult made =
      run({"append", dir, "--create", "--jsonl", "--segment-bytes", kSmallSegment}, input);
  REQUIRE(made.code == 0);
  const std::vector<std::string> segments = segment_names(dir);
  REQUIRE(segments.size() >= 4);  // the third sealed, below
  // What a walk of the whole log gives for stream s3, oldest first.
  std::vector<std::uint64_t> walked;
  for (const Json& e : jsonl(run({"read", dir, "--format", "jsonl"}).out)) {
    if (e["stream"] == "s3") walked.push_back(e["lsn"].get<std::uint64_t>());
  }
  REQUIRE(walked.size() == 1500 / 7 + (1500 % 7 > 3 ? 1 : 0));
  const auto read_lsns = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{"read", dir, "--format", "jsonl", "--stream", "s3"};
    args.insert(args.end(), extra.begin(), extra.end());
    const RunResult r = run(args);
    CHECK(r.code == 0);
    return lsns_of(r);
  };
  const auto check_reads = [&] {
    CHECK(read_lsns({}) == walked);
    std::vector<std::uint64_t> newest(walked.rbegin(), walked.rbegin() + 5);
    CHECK(read_lsns({"--backward", "--limit", "5"}) == newest);
    CHECK(read_lsns({"--from-version", "100", "--limit", "2"}) ==
          std::vector<std::uint64_t>{walked[100], walked[101]});
    CHECK(read_lsns({"--from", std::to_string(walked[200]), "--until-lsn",
                     std::to_string(walked[203])}) ==
          std::vector<std::uint64_t>{walked[200], walked[201], walked[202]});
  };
  check_reads();
  // The append's close saved the sealed segments' stream filters; dump
  // decodes the file (and refuses it damaged, as an index).
  const std::size_t sealed = segments.size() - 1;
  const RunResult filters = run({"dump", dir + "/streams.filter", "--format", "jsonl"});
  CHECK(filters.code == 0);
  const std::vector<Json> parts = jsonl(filters.out);
  REQUIRE(parts.size() == sealed + 1);
  CHECK(parts[0]["kind"] == "stream filters");
  CHECK(parts[0]["covered_segments"] == sealed);
  CHECK(parts[1]["kind"] == "segment_filter");
  CHECK(parts[1]["base_lsn"] == 0);
  CHECK(run({"dump", dir + "/ids.filter"}).out.starts_with("id filter: "));
  CHECK(parts[1]["end_lsn"] == parts[2]["base_lsn"]);
  // A damaged frame: the header is shown, then the damage, named with the
  // file and the byte where its frames stop (the first frame's, here).
  flip_byte(dir + "/streams.filter", 70);
  const RunResult damaged_filters = run({"dump", dir + "/streams.filter"});
  CHECK(damaged_filters.code == 3);
  CHECK(damaged_filters.out.starts_with("stream filters: "));
  CHECK(damaged_filters.err.find(
            "streams.filter:64: frame 0 at byte 64: frame checksum mismatch") != std::string::npos);
  // One index file removed, one damaged: read the same, and neither is
  // written back (the read changes no byte).
  const std::string removed = dir + "/" + segments[0].substr(0, 20) + ".idx";
  const std::string damaged = dir + "/" + segments[1].substr(0, 20) + ".idx";
  REQUIRE(std::filesystem::remove(removed));
  flip_byte(damaged, 100);
  const auto before = snapshot(dir);
  check_reads();
  CHECK(snapshot(dir) == before);
  CHECK_FALSE(std::filesystem::exists(removed));
  // Damage to another stream's record in a sealed segment whose index is
  // intact: the walk stops there (exit 3); the indexed read never reads
  // that record, and gives all of s3's. (Where an index must be rebuilt,
  // the rebuild scans the segment and reports such damage.)
  std::uint64_t other = std::stoull(segments[2].substr(0, 20)) + 1;  // LSN = event number
  other += other % 7 == 3 ? 1 : 0;
  damage_record(dir, other);
  CHECK(run({"read", dir}).code == 3);
  check_reads();
}

TEST_CASE("dump --continue-on-error marks the bad region and decodes the records after it") {
  TempDir tmp;
  const std::string dir = tmp / "log";
  make_log(dir, 1500);
  const Json damaged2 = damage_record(dir, 200);  // the later first: dump stops at damage
  const Json damaged = damage_record(dir, 100);
  const RunResult r = run({"dump", dir, "--records", "--continue-on-error", "--format", "jsonl"});
  CHECK(r.code == 3);
  std::vector<Json> regions;
  std::set<std::uint64_t> lsns;
  for (auto& j : jsonl(r.out)) {
    if (j["kind"] == "bad_region") regions.push_back(j);
    if (j["kind"] == "batch") lsns.insert(j["lsn"].get<std::uint64_t>());
  }
  REQUIRE(regions.size() == 2);
  for (const auto& [region, record] : {std::pair{regions[0], damaged}, {regions[1], damaged2}}) {
    CHECK(region["segment"] == record["segment"]);
    CHECK(region["position"] == record["position"]);
    CHECK(region["size"] == record["size"]);
    CHECK(region["lsn"] == record["lsn"]);
    CHECK(region["checksum_ok"] == false);
    CHECK(region["reason"] == "bad body checksum");
  }
  CHECK(lsns.count(99) == 1);
  CHECK(lsns.count(100) == 0);
  CHECK(lsns.count(101) == 1);
  CHECK(lsns.count(200) == 0);
  CHECK(lsns.size() == 1498);
  // Without the flag, the dump stops at the damage.
  const RunResult stop = run({"dump", dir, "--records", "--format", "jsonl"});
  std::size_t batches = 0;
  for (auto& j : jsonl(stop.out)) batches += j["kind"] == "batch";
  CHECK(batches < 1499);
}

TEST_CASE("damage followed by a record that proves it was acknowledged is corruption") {
  TempDir tmp;
  const std::string dir = tmp / "log";
  // With --sync sync each record is written after the one before is
  // durable, so its prior_durable_lsn proves the earlier ones acknowledged.
  make_log(dir, 5, {"--sync", "sync"});
  std::filesystem::remove(tmp / "log/recovery.point");  // as after a crash
  damage_record(dir, 1);
  CHECK(run({"verify", dir}).code == 3);
  const RunResult read = run({"read", dir, "--format", "jsonl"});
  CHECK(read.code == 3);
  check_prefix(read.out, 0);
  CHECK(run({"recover", dir, "--dry-run"}).code == 3);
  CHECK(run({"recover", dir}).code == 3);
  CHECK(run({"append", dir}, "x\n").code == 3);
}

TEST_CASE("a torn tail: verify exits 1, read exits 0 with what recovery keeps, recover repairs") {
  TempDir tmp;
  const std::string dir = tmp / "log";
  make_log(dir, 5, {"--sync", "sync"});
  std::filesystem::remove(tmp / "log/recovery.point");
  damage_record(dir, 4);  // the last record, with nothing after it: unprovable
  const auto before = snapshot(dir);

  const RunResult verify = run({"verify", dir});
  CHECK(verify.code == 1);
  CHECK(verify.out.find("torn tail only") != std::string::npos);
  const RunResult read = run({"read", dir, "--format", "jsonl"});
  CHECK(read.code == 0);
  check_prefix(read.out, 4);
  CHECK(run({"dump", dir}).code == 1);
  const RunResult dry = run({"recover", dir, "--dry-run"});
  CHECK(dry.code == 0);
  CHECK(dry.out.find("would zero-fill") != std::string::npos);
  CHECK(dry.out.find("nothing to repair") == std::string::npos);
  CHECK(snapshot(dir) == before);

  const RunResult repaired = run({"recover", dir});
  CHECK(repaired.code == 0);
  CHECK(repaired.out.find("zero-filled") != std::string::npos);
  CHECK(repaired.out.find("nothing to repair") == std::string::npos);
  CHECK(run({"verify", dir}).code == 0);
  check_prefix(run({"read", dir, "--format", "jsonl"}).out, 4);
  // Repaired: recovery now has nothing to do, and says so, changing nothing.
  const auto after = snapshot(dir);
  for (const bool dry_run : {true, false}) {
    CAPTURE(dry_run);
    const RunResult again = dry_run ? run({"recover", dir, "--dry-run"}) : run({"recover", dir});
    CHECK(again.code == 0);
    CHECK(again.out.find("nothing to repair: no byte of the log changes") != std::string::npos);
    CHECK(snapshot(dir) == after);
  }
  CHECK(run({"append", dir}, "again\n").out == "4\n");
}

TEST_CASE("an I/O error exits 4") {
  TempDir tmp;
  const std::string dir = tmp / "log";
  make_log(dir, 3);
  // A segment name that is a directory: reading it fails with EISDIR.
  const std::string segment = dir + "/" + segment_names(dir).front();
  std::filesystem::remove(segment);
  std::filesystem::create_directory(segment);
  for (const std::string sub : {"read", "verify", "stat"}) {
    CAPTURE(sub);
    const RunResult r = run({sub, dir});
    CHECK(r.code == 4);
    CHECK(r.err.find(segment) != std::string::npos);
  }
}

// The tool's own code against a disk that fills up, a device that starts
// failing writes and an fdatasync that fails: `cairn-faulty` is the same tool
// with CAIRN_TOOL_FAULT arming the public FaultFileSystem once 4 MiB are
// written (tests/tool/fault_file_system_hook.cc). Segments are 1 MiB, so
// creating the log (which writes its first segment whole) stays below the
// limit and the fault hits a record write or the preparation of a later
// segment: both poison the log.
TEST_CASE("append: a full disk exits 5, a failed write or fdatasync 8; printed LSNs are durable") {
  struct Case {
    std::string fault;
    int code;
    std::string cause;
  };
  const Case cases[] = {{"enospc:4194304", 5, "no space left on device"},
                        {"write-eio:4194304", 8, "injected write failure"},
                        {"sync-eio:4194304", 8, "injected sync failure"}};
  constexpr int kLines = 50000;  // ~5 MiB of records in ~5 segments: the fault must fire
  std::string input;
  for (int i = 0; i < kLines; ++i) input += "event-" + std::to_string(i) + "\n";
  for (const Case& c : cases) {
    CAPTURE(c.fault);
    TempDir tmp;
    const std::string dir = tmp / "log";
    const RunResult r = run({"append", dir, "--create", "--segment-bytes", "1048576"}, input,
                            CAIRN_FAULTY_BIN, {"CAIRN_TOOL_FAULT=" + c.fault});
    CHECK(r.code == c.code);
    CHECK(r.err.find(c.cause) != std::string::npos);
    CHECK(r.err.find(dir) != std::string::npos);  // the error names the file
    const auto lsns = lines_of(r.out);
    CHECK(lsns.size() < static_cast<std::size_t>(kLines));
    for (std::size_t i = 0; i < lsns.size(); ++i) REQUIRE(lsns[i] == std::to_string(i));
    // The real tool reopens the log (recovery) and finds every printed LSN.
    check_holds_printed(dir, run({"read", dir, "--format", "jsonl"}), lsns.size());
  }
}

TEST_CASE("bad files: another format version exits 2, a cut sealed segment 3, a cut tail 1") {
  TempDir tmp;
  SUBCASE("a meta file of another format version") {
    const std::string dir = tmp / "log";
    make_log(dir, 3);
    cairn::format::MetaRecord meta;
    meta.format_version = 2;
    meta.log_id = 7;
    std::array<std::byte, cairn::format::kMetaBytes> bytes;
    cairn::format::encode_meta(meta, bytes);
    std::ofstream(dir + "/cairn.meta", std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    for (const std::string sub : {"read", "verify", "stat", "dump"}) {
      CAPTURE(sub);
      const RunResult r = run({sub, dir});
      CHECK(r.code == 2);
      CHECK(r.err.find("format version 2") != std::string::npos);
    }
    CHECK(run({"dump", dir + "/cairn.meta"}).code == 2);
    CHECK(run({"append", dir}, "x\n").code == 2);
  }
  SUBCASE("a sealed segment cut short") {
    const std::string dir = tmp / "log";
    make_log(dir, 1200);
    std::filesystem::resize_file(dir + "/" + segment_names(dir).front(), 30000);
    for (const std::string sub : {"read", "verify", "stat", "dump"}) {
      CAPTURE(sub);
      const RunResult r = run({sub, dir});
      CHECK(r.code == 3);
      CHECK(lines_of(r.err).size() == 1);
    }
  }
  SUBCASE("the last segment cut inside a record: a torn tail, recoverable") {
    const std::string dir = tmp / "log";
    make_log(dir, 600);
    const auto names = segment_names(dir);
    REQUIRE(names.size() == 2);
    std::filesystem::remove(dir + "/recovery.point");
    const Json cut = record_with_lsn(dir, 590);
    std::filesystem::resize_file(dir + "/" + names.back(),
                                 cut["position"].get<std::uint64_t>() + 30);
    const RunResult read = run({"read", dir, "--format", "jsonl"});
    CHECK(read.code == 0);
    check_prefix(read.out, 590);
    CHECK(run({"verify", dir}).code == 1);
    CHECK(run({"dump", dir}).code == 1);
    CHECK(run({"recover", dir}).code == 0);
    CHECK(run({"verify", dir}).code == 0);
    CHECK(run({"read", dir, "--format", "jsonl"}).out == read.out);
  }
}

TEST_CASE("dump --records --format jsonl: every record has the contract's keys, consistently") {
  TempDir tmp;
  const std::string dir = tmp / "log";
  make_log(dir, 1200);
  const auto records = dumped_records(dir);
  REQUIRE(records.size() > 1200);  // the batches and at least one seal
  std::map<std::string, std::uint64_t> next_position;
  std::uint64_t next_lsn = 0;
  std::size_t seals = 0;
  for (const Json& j : records) {
    for (const char* key : {"segment", "position", "size", "lsn", "count", "checksum_ok"}) {
      CAPTURE(key);
      CHECK(j.contains(key));
    }
    CHECK(j["checksum_ok"] == true);
    const std::string segment = j["segment"];
    const std::uint64_t position = j["position"];
    if (j["kind"] == "seal") {
      CHECK(position + j["size"].get<std::uint64_t>() == 65536);
      CHECK(j["lsn"] == next_lsn);
      ++seals;
      continue;
    }
    CHECK(position == next_position.emplace(segment, 4096).first->second);
    next_position[segment] = position + j["size"].get<std::uint64_t>();
    CHECK(j["lsn"] == next_lsn);
    next_lsn += j["count"].get<std::uint64_t>();
    CHECK(j["events"].size() == j["count"]);
  }
  CHECK(next_lsn == 1200);
  CHECK(seals == segment_names(dir).size() - 1);
  // The same keys from one segment file, and hex bytes of the right length.
  const std::string first = dir + "/" + segment_names(dir).front();
  const RunResult hex = run({"dump", first, "--hex", "--format", "jsonl"});
  CHECK(hex.code == 0);
  for (auto& j : jsonl(hex.out)) {
    if (j["kind"] == "batch")
      CHECK(j["hex"].get<std::string>().size() == 2 * j["size"].get<std::size_t>());
  }
}

TEST_CASE("index files: dump --index shows them checked against the log; damage is reported") {
  TempDir tmp;
  const std::string dir = tmp / "log";
  make_log(dir, 1200);
  const auto segments = segment_names(dir);
  const RunResult r = run({"dump", dir, "--index", "--format", "jsonl"});
  CHECK(r.code == 0);
  std::size_t indexes = 0;
  for (auto& j : jsonl(r.out)) {
    if (j["kind"] != "index") continue;
    ++indexes;
    CHECK(j["state"] == "matches the log");
    CHECK(j["sparse"].size() > 0);
    CHECK(j["streams"].size() ==
          j["end_lsn"].get<std::uint64_t>() - j["base_lsn"].get<std::uint64_t>());
  }
  CHECK(indexes == segments.size());  // every segment, the tail too after a clean close
  CHECK(run({"verify", dir}).out.find(fmt_count(segments.size()) + " match the log") !=
        std::string::npos);

  // An index is derived data: a damaged one does not change verify's verdict,
  // but it is reported, and dumping it fails.
  const std::string index = dir + "/" + segments.front().substr(0, 20) + ".idx";
  flip_byte(index, 100);
  const RunResult verify = run({"verify", dir});
  CHECK(verify.code == 0);
  CHECK(verify.out.find(segments.front().substr(0, 20) + ".idx: undecodable") != std::string::npos);
  CHECK(run({"dump", index}).code == 3);
  const RunResult other = run({"dump", dir + "/" + segments.back().substr(0, 20) + ".idx"});
  CHECK(other.code == 0);
  CHECK(other.out.find("matches the log") != std::string::npos);
  CHECK(run({"stat", dir}).out.find("index: undecodable") != std::string::npos);
}

TEST_CASE("read-only commands change no byte, even of a log recovery would repair") {
  TempDir tmp;
  const std::string dir = tmp / "log";
  make_log(dir, 800, {"--sync", "none"});
  std::filesystem::remove(tmp / "log/recovery.point");
  std::filesystem::remove(tmp / "log/LOCK");  // nothing may create it either
  std::ofstream(tmp / "log/prepared.7.tmp") << "leftover";
  damage_record(dir, 799);  // a torn tail
  const auto before = snapshot(dir);
  const std::string segment = dir + "/" + segment_names(dir).back();
  const std::vector<std::vector<std::string>> commands{
      {"read", dir},
      {"read", dir, "--format", "jsonl", "--backward", "--limit", "5"},
      {"read", dir, "--stream", "default", "--from-version", "3"},
      {"dump", dir},
      {"dump", dir, "--records", "--hex", "--index", "--continue-on-error"},
      {"dump", dir, "--records", "--format", "jsonl"},
      {"dump", segment, "--records"},
      {"dump", dir + "/cairn.meta"},
      {"verify", dir},
      {"stat", dir},
      {"recover", dir, "--dry-run"},
  };
  for (const auto& args : commands) {
    CAPTURE(args);
    const RunResult r = run(args);
    CHECK((r.code == 0 || r.code == 1));
    CHECK(snapshot(dir) == before);
  }
}

TEST_CASE("kill during append: every LSN printed before SIGKILL is in the log with its data") {
  std::mt19937_64 rng(std::random_device{}());
  for (int round = 0; round < 6; ++round) {
    CAPTURE(round);
    TempDir tmp;
    const std::string dir = tmp / "log";
    Child child = spawn({"append", dir, "--create", "--segment-bytes", kSmallSegment});
    std::atomic<bool> stop{false};
    std::thread feeder([&] {
      for (int i = 0; i < 200000 && !stop; ++i) {
        write_all(child.in, "event-" + std::to_string(i) + "\n");
      }
      ::close(child.in);
    });
    // Even rounds kill after a random number of printed LSNs (appends, fsyncs
    // and segment rolls are in flight then); odd rounds after a random delay,
    // which may fall before anything was printed, even inside log creation.
    std::string printed;
    char buf[4096];
    if (round % 2 == 0) {
      const long kill_after = std::uniform_int_distribution<long>(1, 3000)(rng);
      while (std::count(printed.begin(), printed.end(), '\n') < kill_after) {
        const ssize_t n = ::read(child.out, buf, sizeof buf);
        if (n <= 0) break;
        printed.append(buf, static_cast<std::size_t>(n));
      }
    } else {
      const int delay_ms = std::uniform_int_distribution<int>(0, 150)(rng);
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    }
    ::kill(child.pid, SIGKILL);
    int status = 0;
    ::waitpid(child.pid, &status, 0);
    stop = true;
    feeder.join();
    for (ssize_t n; (n = ::read(child.out, buf, sizeof buf)) > 0;) {
      printed.append(buf, static_cast<std::size_t>(n));  // printed before the kill
    }
    ::close(child.out);
    ::close(child.err);
    // Only whole lines count: a line cut by the kill was never completed.
    const auto last_newline = printed.rfind('\n');
    printed.erase(last_newline == std::string::npos ? 0 : last_newline + 1);
    const auto lsns = lines_of(printed);
    for (std::size_t i = 0; i < lsns.size(); ++i) REQUIRE(lsns[i] == std::to_string(i));

    const RunResult read = run({"read", dir, "--format", "jsonl"});
    if (lsns.empty() && read.code == 2) {
      continue;  // killed while creating the log: no log yet, nothing acknowledged
    }
    check_holds_printed(dir, read, lsns.size());
  }
}

TEST_CASE("read --follow shows events appended later, across segment rolls, until SIGINT") {
  TempDir tmp;
  const std::string dir = tmp / "log";
  make_log(dir, 1);
  Child follower = spawn({"read", dir, "--follow", "--format", "jsonl"});
  ::close(follower.in);
  std::string got;
  // Reads the follower's output until it holds `lines` lines or 10 s pass.
  const auto wait_for_lines = [&](std::size_t lines) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    char buf[4096];
    while (lines_of(got).size() < lines && std::chrono::steady_clock::now() < deadline) {
      pollfd p{follower.out, POLLIN, 0};
      if (::poll(&p, 1, 100) > 0) {
        const ssize_t n = ::read(follower.out, buf, sizeof buf);
        if (n <= 0) break;
        got.append(buf, static_cast<std::size_t>(n));
      }
    }
  };
  wait_for_lines(1);
  CHECK(lines_of(got).size() == 1);
  // A writer that keeps the log open and appends in bursts, rolling segments.
  std::string input;
  for (int i = 1; i <= 1500; ++i) input += "event-" + std::to_string(i) + "\n";
  CHECK(run({"append", dir, "--segment-bytes", kSmallSegment}, input).code == 0);
  wait_for_lines(1501);
  ::kill(follower.pid, SIGINT);
  int status = 0;
  ::waitpid(follower.pid, &status, 0);
  CHECK(exit_code_of(status) == 0);
  ::close(follower.out);
  ::close(follower.err);
  CHECK(segment_names(dir).size() >= 3);
  check_prefix(got, 1501);
}
