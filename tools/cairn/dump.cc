// `cairn dump`: what the bytes of a log directory or file say, decoded by the
// log's own scanner (cairn::inspect). Read-only; never repairs.
#include <cairn/inspect.h>
#include <fmt/core.h>

#include <cstdio>
#include <nlohmann/json.hpp>

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

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// A string field, or its base64 under "<key>_base64" when it is not UTF-8.
void put_bytes(Json& j, const char* key, std::string_view bytes) {
  if (is_valid_utf8(bytes)) {
    j[key] = std::string(bytes);
  } else {
    j[std::string(key) + "_base64"] = base64(bytes);
  }
}

Json event_json(const EventView& e) {
  Json j;
  j["lsn"] = e.lsn;
  j["stream"] = std::string(e.stream);
  j["version"] = e.version;
  j["type"] = std::string(e.type);
  j["id"] = e.id.to_hex();
  j["time"] = format_time(e.time_ns);
  j["time_ns"] = e.time_ns;
  put_bytes(j, "metadata", e.metadata);
  put_bytes(j, "data", e.data);
  return j;
}

std::string header_text(const inspect::SegmentHeaderInfo& h) {
  return fmt::format(
      "format version {}, log id {}, base LSN {}, segment bytes {}, write window {}, "
      "index interval {}, created {}",
      h.format_version, hex_u64(h.log_id), h.base_lsn, h.segment_bytes, h.write_window_bytes,
      h.index_interval_bytes, format_time(h.created_time_ns));
}

Json header_json(const inspect::SegmentHeaderInfo& h) {
  return Json{{"format_version", h.format_version},
              {"log_id", hex_u64(h.log_id)},
              {"base_lsn", h.base_lsn},
              {"segment_bytes", h.segment_bytes},
              {"write_window_bytes", h.write_window_bytes},
              {"index_interval_bytes", h.index_interval_bytes},
              {"created", format_time(h.created_time_ns)}};
}

// Classic hex dump lines, positions in the segment.
void hex_lines(std::span<const std::byte> bytes, std::uint64_t position) {
  for (std::size_t at = 0; at < bytes.size(); at += 16) {
    std::string hex;
    std::string chars;
    for (std::size_t i = at; i < at + 16 && i < bytes.size(); ++i) {
      const auto c = static_cast<unsigned char>(bytes[i]);
      hex += fmt::format("{:02x} ", c);
      chars += (c >= 0x20 && c < 0x7F) ? static_cast<char>(c) : '.';
    }
    emit(fmt::format("      {:08x}  {:<48} |{}|", position + at, hex, chars));
  }
}

class TextDump final : public inspect::DumpVisitor {
 public:
  explicit TextDump(const DumpOptions& o) : o_(o) {}

  void on_meta(const inspect::MetaInfo& m) override {
    emit(fmt::format("meta: format version {}, log id {}, created {}", m.format_version,
                     hex_u64(m.log_id), format_time(m.created_time_ns)));
  }
  void on_other_file(const inspect::OtherFile& f) override {
    emit(fmt::format("file {}: {}", f.name, f.role));
  }
  void on_segment_start(const inspect::SegmentSummary& s) override {
    emit(fmt::format("segment {}: {} bytes", s.segment, s.file_bytes));
    emit(s.header_ok ? "  header: " + header_text(s.header)
                     : "  header: UNREADABLE: " + s.header_error.to_string());
  }
  void on_record(const inspect::RecordInfo& r) override;
  void on_bad_region(const inspect::BadRegion& b) override;
  void on_segment_end(const inspect::SegmentSummary& s) override;
  void on_index(const inspect::IndexInfo& i) override;
  void on_recovery_preview(const inspect::RecoveryPreview& p) override {
    emit(fmt::format("recovery (dry run, every segment checked): {}",
                     inspect::verdict_name(p.verdict)));
    for (const auto& line : p.report) {
      emit("  " + line);
    }
    if (!p.error.ok()) {
      emit("  refused: " + p.error.to_string());
    }
  }

 private:
  const DumpOptions& o_;
};

void TextDump::on_record(const inspect::RecordInfo& r) {
  std::string line = fmt::format(
      "  record {}:{} size={} kind={} lsn={} count={} prior_durable_lsn={} checksum_ok={}",
      r.segment, r.position, r.size, r.kind, r.lsn, r.count, r.prior_durable_lsn,
      r.checksum_ok ? "true" : "false");
  if (r.kind == "seal") {
    line += fmt::format(" records={} events={} chain={} sealed={}{}", r.seal_record_count,
                        r.seal_event_count, hex_u64(r.seal_chain), format_time(r.sealed_time_ns),
                        r.seal_checked ? "" : " (not checked: damage before it)");
  } else {
    line += fmt::format(" stream={} first_version={}", escape_text(r.stream), r.first_version);
  }
  emit(line);
  for (const auto& e : r.events) {
    emit(
        fmt::format("    event lsn={} version={} type={} id={} time={} metadata=\"{}\" data=\"{}\"",
                    e.lsn, e.version, escape_text(e.type), e.id.to_hex(), format_time(e.time_ns),
                    escape_text(e.metadata), escape_text(e.data)));
  }
  if (o_.hex) {
    hex_lines(r.bytes, r.position);
  }
}

void TextDump::on_bad_region(const inspect::BadRegion& b) {
  std::string line =
      fmt::format("  BAD {}:{} to {} ({} bytes): {}{}", b.segment, b.position, b.end,
                  b.end - b.position, b.reason, b.detail.empty() ? "" : ": " + b.detail);
  if (b.header_ok) {
    line += fmt::format(" [header verifies: lsn={} count={} size={}, body {}]", b.lsn, b.count,
                        b.size, b.body_ok ? "verifies" : "does not verify");
  }
  emit(line);
}

void TextDump::on_index(const inspect::IndexInfo& i) {
  if (i.state == inspect::IndexState::missing) {
    emit(fmt::format("  index {}: missing (the log rebuilds it on first use)", i.file));
    return;
  }
  if (i.state == inspect::IndexState::undecodable) {
    emit(fmt::format("  index {}: undecodable: {}", i.file, i.error.to_string()));
    return;
  }
  emit(
      fmt::format("  index {}: {}; LSN {} to {}, end position {}, chain {}, interval {}, "
                  "last time {}; {} sparse, {} stream records, {} ids, {} bloom words",
                  i.file, inspect::index_state_name(i.state), i.base_lsn, i.end_lsn, i.end_position,
                  hex_u64(i.chain), i.index_interval_bytes, format_time(i.last_time_ns),
                  i.sparse_count, i.stream_count, i.id_count, i.bloom_words));
  for (const auto& e : i.sparse) {
    emit(fmt::format("    sparse lsn={} position={} time={}", e.lsn, e.position,
                     format_time(e.time_ns)));
  }
  for (const auto& e : i.streams) {
    emit(fmt::format("    stream hash={} first_version={} lsn={} count={} position={}",
                     hex_u64(e.stream_hash), e.first_version, e.lsn, e.count, e.position));
  }
  for (const auto& e : i.ids) {
    emit(fmt::format("    id {} lsn={}", e.id.to_hex(), e.lsn));
  }
}

void TextDump::on_segment_end(const inspect::SegmentSummary& s) {
  if (!s.header_ok && s.stop.empty()) {
    emit("  not decoded: " + s.verdict_reason);
    return;
  }
  emit(fmt::format("  {} records, {} events (LSN {} to {}), {}", s.records, s.events, s.first_lsn,
                   s.end_lsn, s.sealed ? "sealed" : "not sealed"));
  emit(fmt::format("  scan stopped at {}: {}{}", s.stop_position, s.stop,
                   s.stop_detail.empty() ? "" : ": " + s.stop_detail));
  if (s.nonzero_end > s.stop_position || s.later_records > 0) {
    emit(fmt::format("  after it: non-zero bytes up to {}, {} later record(s) verify",
                     s.nonzero_end, s.later_records));
  }
  emit(fmt::format("  verdict ({}): {} ({})",
                   s.last_segment ? "as the last segment" : "not the last segment",
                   inspect::verdict_name(s.verdict), s.verdict_reason));
}

class JsonDump final : public inspect::DumpVisitor {
 public:
  explicit JsonDump(const DumpOptions& o) : o_(o) {}

  void on_meta(const inspect::MetaInfo& m) override {
    emit_json(Json{{"kind", "meta"},
                   {"format_version", m.format_version},
                   {"log_id", hex_u64(m.log_id)},
                   {"created", format_time(m.created_time_ns)}});
  }
  void on_other_file(const inspect::OtherFile& f) override {
    emit_json(Json{{"kind", "file"}, {"name", f.name}, {"role", f.role}});
  }
  void on_segment_start(const inspect::SegmentSummary& s) override {
    Json j{{"kind", "segment"},
           {"segment", s.segment},
           {"file_bytes", s.file_bytes},
           {"header_ok", s.header_ok}};
    if (s.header_ok) {
      j["header"] = header_json(s.header);
    } else {
      j["header_error"] = s.header_error.to_string();
    }
    emit_json(j);
  }
  void on_record(const inspect::RecordInfo& r) override;
  void on_bad_region(const inspect::BadRegion& b) override;
  void on_segment_end(const inspect::SegmentSummary& s) override;
  void on_index(const inspect::IndexInfo& i) override;
  void on_recovery_preview(const inspect::RecoveryPreview& p) override {
    Json j{{"kind", "recovery"},
           {"verdict", inspect::verdict_name(p.verdict)},
           {"report", p.report},
           {"next_lsn", p.next_lsn}};
    if (!p.error.ok()) {
      j["error"] = p.error.to_string();
    }
    emit_json(j);
  }

 private:
  const DumpOptions& o_;
};

void JsonDump::on_record(const inspect::RecordInfo& r) {
  Json j{{"kind", std::string(r.kind)},
         {"segment", std::string(r.segment)},
         {"position", r.position},
         {"size", r.size},
         {"lsn", r.lsn},
         {"count", r.count},
         {"checksum_ok", r.checksum_ok},
         {"prior_durable_lsn", r.prior_durable_lsn},
         {"header_checksum", hex_u64(r.header_checksum)},
         {"body_checksum", hex_u64(r.body_checksum)},
         {"body_bytes", r.body_bytes}};
  if (r.kind == "seal") {
    j["seal"] = Json{{"record_count", r.seal_record_count},
                     {"event_count", r.seal_event_count},
                     {"chain", hex_u64(r.seal_chain)},
                     {"sealed", format_time(r.sealed_time_ns)},
                     {"checked", r.seal_checked}};
  } else {
    put_bytes(j, "stream", r.stream);
    j["first_version"] = r.first_version;
    Json events = Json::array();
    for (const auto& e : r.events) {
      events.push_back(event_json(e));
    }
    j["events"] = std::move(events);
  }
  if (o_.hex) {
    j["hex"] = to_hex(r.bytes);
  }
  emit_json(j);
}

void JsonDump::on_bad_region(const inspect::BadRegion& b) {
  Json j{{"kind", "bad_region"},
         {"segment", b.segment},
         {"position", b.position},
         {"size", b.end - b.position},
         {"end", b.end},
         {"lsn", nullptr},
         {"count", nullptr},
         {"checksum_ok", false},
         {"reason", b.reason},
         {"detail", b.detail},
         {"header_ok", b.header_ok}};
  if (b.header_ok) {
    j["lsn"] = b.lsn;
    j["count"] = b.count;
    j["record_size"] = b.size;
    j["body_ok"] = b.body_ok;
  }
  emit_json(j);
}

void JsonDump::on_index(const inspect::IndexInfo& i) {
  Json j{{"kind", "index"},
         {"file", i.file},
         {"segment", i.segment},
         {"state", inspect::index_state_name(i.state)}};
  if (i.state == inspect::IndexState::undecodable) {
    j["error"] = i.error.to_string();
  }
  if (i.state == inspect::IndexState::missing || i.state == inspect::IndexState::undecodable) {
    emit_json(j);
    return;
  }
  j.update(Json{{"log_id", hex_u64(i.log_id)},
                {"base_lsn", i.base_lsn},
                {"end_lsn", i.end_lsn},
                {"end_position", i.end_position},
                {"chain", hex_u64(i.chain)},
                {"index_interval_bytes", i.index_interval_bytes},
                {"last_time", format_time(i.last_time_ns)},
                {"bloom_words", i.bloom_words}});
  Json sparse = Json::array();
  for (const auto& e : i.sparse) {
    sparse.push_back(
        Json{{"lsn", e.lsn}, {"position", e.position}, {"time", format_time(e.time_ns)}});
  }
  Json streams = Json::array();
  for (const auto& e : i.streams) {
    streams.push_back(Json{{"stream_hash", hex_u64(e.stream_hash)},
                           {"first_version", e.first_version},
                           {"lsn", e.lsn},
                           {"count", e.count},
                           {"position", e.position}});
  }
  Json ids = Json::array();
  for (const auto& e : i.ids) {
    ids.push_back(Json{{"id", e.id.to_hex()}, {"lsn", e.lsn}});
  }
  j["sparse"] = std::move(sparse);
  j["streams"] = std::move(streams);
  j["ids"] = std::move(ids);
  emit_json(j);
}

void JsonDump::on_segment_end(const inspect::SegmentSummary& s) {
  Json j{{"kind", "segment_end"},
         {"segment", s.segment},
         {"records", s.records},
         {"events", s.events},
         {"first_lsn", s.first_lsn},
         {"end_lsn", s.end_lsn},
         {"sealed", s.sealed},
         {"stop", s.stop},
         {"stop_position", s.stop_position},
         {"stop_detail", s.stop_detail},
         {"nonzero_end", s.nonzero_end},
         {"later_records", s.later_records},
         {"bad_regions", s.bad_regions.size()},
         {"last_segment", s.last_segment},
         {"verdict", inspect::verdict_name(s.verdict)},
         {"verdict_reason", s.verdict_reason}};
  emit_json(j);
}

int exit_for(inspect::Verdict verdict) {
  switch (verdict) {
    case inspect::Verdict::clean:
      return kExitOk;
    case inspect::Verdict::torn_tail:
      return kExitTornTail;
    case inspect::Verdict::corruption:
      return kExitCorruption;
  }
  return kExitCorruption;
}

int dump_index(const DumpOptions& o, inspect::DumpVisitor& visitor) {
  auto index = inspect::dump_index_file(o.path, visitor);
  std::fflush(stdout);
  if (!index) {
    return report_error(index.error());
  }
  // An index is derived data, but dumping one that does not decode is
  // dumping damaged bytes.
  return index->state == inspect::IndexState::undecodable ? report_error(index->error) : kExitOk;
}

int dump_meta(const DumpOptions& o, inspect::DumpVisitor& visitor) {
  auto meta = inspect::read_meta_file(o.path);
  if (!meta) {
    return report_error(meta.error());
  }
  visitor.on_meta(*meta);
  return kExitOk;
}

// ids.filter / streams.filter: the header and one line (object) per level
// or segment. Derived data, but dumping one that does not decode is
// dumping damaged bytes, as for an index.
int dump_filter(const DumpOptions& o) {
  auto f = inspect::read_filter_file(o.path);
  if (!f) {
    return report_error(f.error());
  }
  const bool json = o.format == OutputFormat::jsonl;
  const auto out = [](const std::string& line) {
    std::fwrite(line.data(), 1, line.size(), stdout);
  };
  out(json ? Json{{"kind", f->kind},
                  {"log_id", hex_u64(f->log_id)},
                  {"covered_segments", f->covered_segments},
                  {"covered_end_lsn", f->covered_end_lsn},
                  {"file_bytes", f->file_bytes}}
                     .dump() +
                 "\n"
           : fmt::format("{}: log id {}, covers {} segment(s) ending at LSN {}, {} bytes\n",
                         f->kind, hex_u64(f->log_id), f->covered_segments, f->covered_end_lsn,
                         f->file_bytes));
  for (const auto& l : f->levels) {
    out(json ? Json{{"kind", "level"},
                    {"capacity", l.capacity},
                    {"keys", l.keys},
                    {"words", l.words}}
                       .dump() +
                   "\n"
             : fmt::format("  level: capacity {}, keys {}, {} words\n", l.capacity, l.keys,
                           l.words));
  }
  for (const auto& s : f->segments) {
    out(json ? Json{{"kind", "segment_filter"},
                    {"base_lsn", s.base_lsn},
                    {"end_lsn", s.end_lsn},
                    {"chain", hex_u64(s.chain)},
                    {"words", s.words}}
                       .dump() +
                   "\n"
             : fmt::format("  segment LSN {}..{}: chain {}, {} words\n", s.base_lsn, s.end_lsn,
                           hex_u64(s.chain), s.words));
  }
  std::fflush(stdout);
  if (!f->stopped.empty()) {
    // A torn or damaged frame: the engine uses the frames before it.
    return report_error(Status::at(Errc::corruption, o.path, f->stopped_at, f->stopped));
  }
  return kExitOk;
}

int dump_directory(const DumpOptions& o, inspect::DumpVisitor& visitor) {
  inspect::DumpOptions options;
  options.continue_on_error = o.continue_on_error;
  options.records = o.records;
  options.index = o.index;
  auto preview = inspect::dump_directory(o.path, options, visitor);
  std::fflush(stdout);
  if (!preview) {
    return report_error(preview.error());
  }
  if (!preview->error.ok()) {
    report_error(preview->error);
  }
  return exit_for(preview->verdict);
}

int dump_segment(const DumpOptions& o, inspect::DumpVisitor& visitor) {
  inspect::DumpOptions options;
  options.continue_on_error = o.continue_on_error;
  options.records = o.records;
  options.index = o.index;
  auto summary = inspect::dump_segment(o.path, options, visitor);
  std::fflush(stdout);
  if (!summary) {
    return report_error(summary.error());
  }
  if (!summary->header_ok) {
    return report_error(summary->header_error);
  }
  if (summary->verdict == inspect::Verdict::corruption) {
    return report_error(Status::at(Errc::corruption, summary->path, summary->stop_position,
                                   summary->verdict_reason));
  }
  if (summary->verdict == inspect::Verdict::torn_tail) {
    fmt::print(stderr, "cairn: {}:{}: {}\n", summary->path, summary->stop_position,
               summary->verdict_reason);
  }
  return exit_for(summary->verdict);
}

}  // namespace

int run_dump(const DumpOptions& given) {
  DumpOptions o = given;
  o.records = o.records || o.hex;
  TextDump text(o);
  JsonDump json(o);
  inspect::DumpVisitor& visitor = o.format == OutputFormat::jsonl
                                      ? static_cast<inspect::DumpVisitor&>(json)
                                      : static_cast<inspect::DumpVisitor&>(text);
  auto directory = inspect::is_directory(o.path);
  if (!directory) {
    return report_error(directory.error());
  }
  if (*directory) {
    return dump_directory(o, visitor);
  }
  if (ends_with(o.path, ".idx")) {
    return dump_index(o, visitor);
  }
  if (ends_with(o.path, "cairn.meta")) {
    return dump_meta(o, visitor);
  }
  if (ends_with(o.path, "ids.filter") || ends_with(o.path, "streams.filter")) {
    return dump_filter(o);
  }
  return dump_segment(o, visitor);
}

}  // namespace cairn::tool
