// `cairn verify`, `cairn recover` and `cairn stat`: thin mains over
// cairn::inspect, which does the work with the log's own decoder.
#include <cairn/inspect.h>
#include <fmt/core.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>
#include <vector>

#include "commands.h"
#include "common.h"

namespace cairn::tool {
namespace {

using Json = nlohmann::ordered_json;

void emit(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
}

void emit_json(const Json& j) {
  emit(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::string time_or_none(const std::optional<std::int64_t>& t) { return t ? format_time(*t) : "-"; }

// A progress line on stderr, only on a terminal and only once the run has
// taken more than a second (short runs stay quiet; pipes stay clean).
class Progress {
 public:
  Progress() : tty_(::isatty(STDERR_FILENO) == 1), start_(std::chrono::steady_clock::now()) {}
  // Erases the progress line, so the summary starts on a clean line.
  void finish() {
    if (shown_) {
      fmt::print(stderr, "\r\033[K");
      std::fflush(stderr);
      shown_ = false;
    }
  }
  void operator()(const inspect::VerifyProgress& p) {
    if (!tty_ || std::chrono::steady_clock::now() - start_ < std::chrono::seconds(1)) {
      return;
    }
    shown_ = true;
    fmt::print(stderr, "\rverify: segment {}/{}", p.segments_done, p.segments_total);
    std::fflush(stderr);
  }

 private:
  bool tty_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_;
};

// Indexes are derived data: their state is reported, and does not change
// the exit code (the log rebuilds a missing or stale index on first use).
void print_index_states(const std::vector<inspect::IndexInfo>& indexes) {
  std::size_t matching = 0;
  for (const auto& i : indexes) {
    matching += i.state == inspect::IndexState::matches;
  }
  emit(fmt::format("indexes: {} of {} match the log", matching, indexes.size()));
  for (const auto& i : indexes) {
    if (i.state != inspect::IndexState::matches) {
      emit(fmt::format("  index {}: {}{}", i.file, inspect::index_state_name(i.state),
                       i.error.ok() ? "" : ": " + i.error.to_string()));
    }
  }
}

void print_verify_text(const std::string& dir, const inspect::VerifySummary& s) {
  emit(fmt::format("verify {}: {}", dir, inspect::verdict_name(s.verdict)));
  emit(fmt::format("segments: {}", s.segments));
  emit(fmt::format("events: {}{}", s.events,
                   s.verdict == inspect::Verdict::corruption ? " (up to the first damage)" : ""));
  if (s.verdict != inspect::Verdict::corruption) {
    emit(fmt::format("next LSN: {}", s.next_lsn));  // recovery refuses a corrupt log: no next LSN
  }
  emit(fmt::format("bytes: {} in segment files, {} in records", s.file_bytes, s.record_bytes));
  emit(fmt::format("streams: {}", s.streams));
  emit(fmt::format("time: {} to {}", time_or_none(s.first_time_ns), time_or_none(s.last_time_ns)));
  print_index_states(s.indexes);
  for (const auto& line : s.damaged_segments) {
    emit("damaged segment: " + line);
  }
  for (const auto& line : s.derived_problems) {
    emit("derived file (what does not verify is ignored and rebuilt from the indexes): " + line);
  }
  for (const auto& line : s.report) {
    emit("recovery (dry run): " + line);
  }
}

void print_verify_json(const std::string& dir, const inspect::VerifySummary& s) {
  Json j{{"directory", dir},
         {"verdict", inspect::verdict_name(s.verdict)},
         {"segments", s.segments},
         {"events", s.events},
         {"next_lsn", s.next_lsn},
         {"file_bytes", s.file_bytes},
         {"record_bytes", s.record_bytes},
         {"streams", s.streams},
         {"first_time", s.first_time_ns ? Json(format_time(*s.first_time_ns)) : Json(nullptr)},
         {"last_time", s.last_time_ns ? Json(format_time(*s.last_time_ns)) : Json(nullptr)},
         {"report", s.report},
         {"damaged_segments", s.damaged_segments},
         {"derived_problems", s.derived_problems}};
  Json indexes = Json::array();
  for (const auto& i : s.indexes) {
    indexes.push_back(Json{{"file", i.file}, {"state", inspect::index_state_name(i.state)}});
  }
  j["indexes"] = std::move(indexes);
  if (!s.problem.ok()) {
    j["problem"] = s.problem.to_string();
  }
  emit_json(j);
}

// A log recovery refuses: its files, then the damage (also on stderr, with
// exit 3, by run_stat).
void print_layout_text(const std::string& dir, const inspect::StatInfo& s) {
  emit("log: " + dir);
  // A log id is never 0 (SPEC.md section 3): 0 is a meta file not read.
  emit(s.meta.log_id != 0 ? "log id: " + hex_u64(s.meta.log_id)
                          : std::string("log id: unknown (the meta file does not decode)"));
  emit(fmt::format("segments: {} ({} bytes)", s.segments.size(), s.file_bytes));
  for (const auto& seg : s.segments) {
    emit(fmt::format("  {}  {} bytes", seg.name, seg.file_bytes));
  }
  for (const auto& f : s.other_files) {
    emit(fmt::format("file {}: {}", f.name, f.role));
  }
  emit("damage: " + s.damage->to_string());
  emit("(recovery refuses this log: no event is counted; cairn verify " + dir +
       " shows every damaged file)");
}

void print_stat_text(const std::string& dir, const inspect::StatInfo& s) {
  if (s.layout_only) {
    print_layout_text(dir, s);
    return;
  }
  emit("log: " + dir);
  emit(fmt::format("log id: {}", hex_u64(s.meta.log_id)));
  emit(fmt::format("format version: {}", s.meta.format_version));
  emit("created: " + format_time(s.meta.created_time_ns));
  emit(fmt::format("segments: {} ({} bytes)", s.segments.size(), s.file_bytes));
  for (const auto& seg : s.segments) {
    emit(fmt::format("  {}  {} bytes  LSN {} to {}  {}  index: {}", seg.name, seg.file_bytes,
                     seg.base_lsn, seg.end_lsn, seg.sealed ? "sealed" : "tail",
                     seg.index == inspect::IndexState::not_checked
                         ? "present"
                         : inspect::index_state_name(seg.index)));
  }
  emit(fmt::format("events: {}{}", s.event_count, s.damage ? " (up to the first damage)" : ""));
  emit(fmt::format("streams: {}{}", s.stream_count, s.damage ? " (up to the first damage)" : ""));
  emit(fmt::format("durable LSN: {} (every LSN below it is durable)", s.durable_lsn));
  emit(s.recovery_point_present
           ? "last shutdown: clean (recovery.point present)"
           : "last shutdown: not clean, or the log is open now (no recovery.point)");
  emit(s.torn_tail ? "tail: torn (recovery would zero-fill it; nothing acknowledged lost)"
                   : "tail: intact");
  emit("index: " + s.index_state);
  for (const auto& f : s.other_files) {
    if (f.role != "index") {  // shown with their segments above
      emit(fmt::format("file {}: {}", f.name, f.role));
    }
  }
  if (s.damage) {
    emit("damage: " + s.damage->to_string());
  }
}

void print_stat_json(const std::string& dir, const inspect::StatInfo& s) {
  if (s.layout_only) {
    Json segments = Json::array();
    for (const auto& seg : s.segments) {
      segments.push_back(Json{{"name", seg.name}, {"file_bytes", seg.file_bytes}});
    }
    emit_json(Json{{"directory", dir},
                   {"log_id", hex_u64(s.meta.log_id)},
                   {"segments", std::move(segments)},
                   {"file_bytes", s.file_bytes},
                   {"damage", s.damage->to_string()}});
    return;
  }
  Json segments = Json::array();
  for (const auto& seg : s.segments) {
    segments.push_back(Json{{"name", seg.name},
                            {"file_bytes", seg.file_bytes},
                            {"base_lsn", seg.base_lsn},
                            {"end_lsn", seg.end_lsn},
                            {"sealed", seg.sealed},
                            {"index", seg.index == inspect::IndexState::not_checked
                                          ? "present"
                                          : inspect::index_state_name(seg.index)}});
  }
  emit_json(Json{{"directory", dir},
                 {"log_id", hex_u64(s.meta.log_id)},
                 {"format_version", s.meta.format_version},
                 {"created", format_time(s.meta.created_time_ns)},
                 {"segments", std::move(segments)},
                 {"file_bytes", s.file_bytes},
                 {"events", s.event_count},
                 {"streams", s.stream_count},
                 {"durable_lsn", s.durable_lsn},
                 {"clean_shutdown", s.recovery_point_present},
                 {"torn_tail", s.torn_tail},
                 {"index", s.index_state},
                 {"damage", s.damage ? s.damage->to_string() : ""}});
}

}  // namespace

int run_verify(const VerifyOptions& o) {
  Progress progress;
  auto summary = inspect::verify(o.directory, std::ref(progress));
  progress.finish();
  if (!summary) {
    return report_error(summary.error());
  }
  if (o.format == OutputFormat::jsonl) {
    print_verify_json(o.directory, *summary);
  } else {
    print_verify_text(o.directory, *summary);
  }
  std::fflush(stdout);
  switch (summary->verdict) {
    case inspect::Verdict::clean:
      return kExitOk;
    case inspect::Verdict::torn_tail:
      return kExitTornTail;
    case inspect::Verdict::corruption:
      return report_error(summary->problem);
  }
  return kExitCorruption;
}

int run_recover(const RecoverOptions& o) {
  auto report = inspect::recover(o.directory, o.dry_run);
  if (!report) {
    return report_error(report.error());
  }
  for (const auto& line : *report) {
    emit(line);
  }
  std::fflush(stdout);
  return kExitOk;
}

int run_stat(const StatOptions& o) {
  auto info = inspect::stat(o.directory);
  if (!info) {
    return report_error(info.error());
  }
  if (o.format == OutputFormat::jsonl) {
    print_stat_json(o.directory, *info);
  } else {
    print_stat_text(o.directory, *info);
  }
  std::fflush(stdout);
  return info->damage ? report_error(*info->damage) : kExitOk;
}

}  // namespace cairn::tool
