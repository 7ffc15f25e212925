// `cairn`: the command-line tool over the public API (BRIEF section 6 is its
// contract: subcommands, output formats, exit codes). This file only parses
// the command line; each subcommand lives in its own file.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "commands.h"
#include "common.h"

namespace cairn::tool {
namespace {

const std::map<std::string, OutputFormat> kFormats{{"text", OutputFormat::text},
                                                   {"jsonl", OutputFormat::jsonl}};

// Numbers (LSNs, versions, limits, sizes) are unsigned decimal only.
// CLI11's own conversion reads "010" as octal 8, "0x10" as hex, and a
// number past 2^64-1 as its maximum: a segment file name given as an LSN
// (00000000000000000451) would have started at LSN 297. Normalised here
// to plain digits so that its conversion sees no leading zero.
const CLI::Validator kDecimal(
    [](std::string& text) -> std::string {
      std::uint64_t value = 0;
      const char* end = text.data() + text.size();
      const auto [at, ec] = std::from_chars(text.data(), end, value);
      if (text.empty() || ec != std::errc() || at != end) {
        return "'" + text + "' is not a decimal number from 0 to 18446744073709551615";
      }
      text = std::to_string(value);
      return "";
    },
    "");

// A value from a fixed list, refused with the list ("'sometimes' is not one
// of: sync, async, none") instead of CLI11's own message ("Check sometimes
// value in {sync,async,none} FAILED").
CLI::Validator one_of(std::vector<std::string> names) {
  std::string list;
  for (const auto& name : names) {
    list += (list.empty() ? "" : ", ") + name;
  }
  return CLI::Validator(
      [names = std::move(names), list](std::string& text) -> std::string {
        for (const auto& name : names) {
          if (text == name) {
            return "";
          }
        }
        return "'" + text + "' is not one of: " + list;
      },
      "");
}

CLI::App* subcommand(CLI::App& app, const std::string& name, const std::string& about) {
  CLI::App* sub = app.add_subcommand(name, about);
  sub->footer(kExitCodesHelp);
  return sub;
}

void add_format(CLI::App* sub, OutputFormat& format) {
  sub->add_option("--format", format, "Output format: text (default) or jsonl")
      ->transform(CLI::CheckedTransformer(kFormats).description(""))
      // transform() puts a validator first: the name is checked (with the
      // list in the refusal) before CheckedTransformer maps it (its own
      // description, the internal mapping, is kept out of --help).
      ->transform(one_of({"text", "jsonl"}));
}

CLI::App* add_append(CLI::App& app, AppendOptions& o) {
  CLI::App* sub = subcommand(
      app, "append",
      "Append events read from stdin, one per line (the line without its newline is the\n"
      "event data). Prints each event's LSN on its own line once the event is durable,\n"
      "in input order (LSN order, but that an event whose id the log already holds is\n"
      "not written again and prints the LSN it was first written at), flushing as it\n"
      "goes; output that cannot be written is exit 4. Appends are pipelined: the next line is "
      "read\n"
      "and appended while earlier ones are being made durable. Every printed LSN is\n"
      "durable, whatever --sync says.");
  sub->add_option("DIR", o.directory, "Log directory")->required();
  sub->add_option("--stream", o.stream, "Stream to append to (default: \"default\")");
  sub->add_option("--type", o.type, "Event type (default: \"event\")");
  sub->add_option("--expected-version", o.expected_version,
                  "any (default) | no-stream | exists | N: checked for the first event "
                  "appended to each stream; the rest of the input follows it");
  sub->add_flag("--create", o.create, "Create the log if the directory holds none");
  sub->add_option("--segment-bytes", o.segment_bytes,
                  "Size of new segment files (default 64 MiB; existing ones keep theirs)")
      ->transform(kDecimal);
  sub->add_option("--sync", o.sync,
                  "sync: one fdatasync per event before the next line is read (slow);\n"
                  "async (default): pipelined, an event is durable with its batch;\n"
                  "none: no fdatasync is requested per event; durability comes with the\n"
                  "next sync (forced every few thousand events, when stdin is idle, at EOF)")
      ->check(one_of({"sync", "async", "none"}));
  sub->add_flag("--jsonl", o.jsonl,
                "Each line is a JSON object: stream, type, id (32 hex digits or a UUID),\n"
                "data (a string, or any JSON value stored as its JSON text), optional\n"
                "metadata (same), optional time (RFC 3339 or ns since the epoch).\n"
                "Missing stream/type default to --stream/--type; blank lines are skipped.\n"
                "What `read --format jsonl` prints is accepted: data_base64 and\n"
                "metadata_base64 instead of data and metadata; lsn and version are ignored\n"
                "(the log assigns them). Any other key is refused (exit 2).");
  sub->add_flag("-v,--verbose", o.verbose, "Print the recovery report of the open on stderr");
  return sub;
}

CLI::App* add_read(CLI::App& app, ReadOptions& o) {
  CLI::App* sub =
      subcommand(app, "read",
                 "Print events without opening the log for writing: exactly the events recovery\n"
                 "would keep (a torn tail is not shown). Damage to acknowledged data: exit 3,\n"
                 "and no damaged event is printed (with --stream: damage in what is read). jsonl "
                 "fields: lsn, stream, version, type, id,\n"
                 "time (RFC 3339, ns, UTC), data (or data_base64 when not UTF-8), metadata (or\n"
                 "metadata_base64).");
  sub->add_option("DIR", o.directory, "Log directory")->required();
  sub->add_option("--from", o.from, "First LSN (with --backward: the last, default the end)")
      ->transform(kDecimal);
  sub->add_option("--stream", o.stream,
                  "Only this stream, found through the segment indexes (only its records are "
                  "read; a missing or damaged index file is rebuilt in memory, never written). "
                  "With --follow: a filter over the global log");
  sub->add_option("--from-version", o.from_version,
                  "With --stream: first stream version (with --backward: the last)")
      ->transform(kDecimal);
  sub->add_flag("--backward", o.backward, "Newest first (buffers the events; see --limit)");
  sub->add_option("--limit", o.limit, "At most this many events")->transform(kDecimal);
  auto* as_of = sub->add_option("--as-of", o.as_of,
                                "Only events with time <= TIME (RFC 3339 or ns since the epoch)");
  auto* until = sub->add_option("--until-lsn", o.until_lsn,
                                "Only events with LSN < this (the log as of position LSN)")
                    ->transform(kDecimal);
  as_of->excludes(until);
  sub->add_flag("--follow", o.follow,
                "After the last event, wait for new ones (poll) until interrupted (SIGINT)");
  add_format(sub, o.format);
  return sub;
}

CLI::App* add_dump(CLI::App& app, DumpOptions& o) {
  CLI::App* sub = subcommand(
      app, "dump",
      "Decode a log directory or one file of it (segment, index, cairn.meta, ids.filter,\n"
      "streams.filter), read-only. Shows headers and a summary per segment; with a\n"
      "directory, also what a recovery that checked every segment would decide (open and\n"
      "recover check a sealed segment only when it is read: SPEC.md 10.3; see verify).\n"
      "jsonl: one object per line, each with a \"kind\"; records (kind batch or seal)\n"
      "carry segment, position, size, lsn, count, checksum_ok, prior_durable_lsn and\n"
      "their events. Exits 1 on a torn tail only, 3 on corruption, like verify.");
  sub->add_option("PATH", o.path, "Log directory or file")->required();
  sub->add_flag("--records", o.records, "Every record and its events");
  sub->add_flag("--index", o.index,
                "Each segment's index file and its entries, checked against the segment");
  sub->add_flag("--hex", o.hex, "Record bytes in hex (implies --records)");
  sub->add_flag("--continue-on-error", o.continue_on_error,
                "After damage, resume at the next record that verifies; mark each bad region");
  add_format(sub, o.format);
  return sub;
}

CLI::App* add_verify(CLI::App& app, VerifyOptions& o) {
  CLI::App* sub =
      subcommand(app, "verify",
                 "Check every header, record and seal (read-only) and print a summary. Exits 0\n"
                 "clean, 1 torn tail only, 3 damage to acknowledged data, 4 I/O error.");
  sub->add_option("DIR", o.directory, "Log directory")->required();
  add_format(sub, o.format);
  return sub;
}

CLI::App* add_recover(CLI::App& app, RecoverOptions& o) {
  CLI::App* sub =
      subcommand(app, "recover",
                 "Recover the log as opening it would (zero-fill a torn tail after copying it to\n"
                 "a .broken file; refuse corruption) and print the recovery report. Takes the\n"
                 "log's lock: exit 6 if another process has it open.");
  sub->add_option("DIR", o.directory, "Log directory")->required();
  sub->add_flag("--dry-run", o.dry_run, "Say what would be done; change nothing");
  return sub;
}

CLI::App* add_stat(CLI::App& app, StatOptions& o) {
  CLI::App* sub =
      subcommand(app, "stat",
                 "Segments, sizes, event and stream counts, durable LSN, index state and whether\n"
                 "the last shutdown was clean (read-only). On damage it shows the counts up to\n"
                 "it (or only the files, if recovery refuses the log), names it, and exits 3.");
  sub->add_option("DIR", o.directory, "Log directory")->required();
  add_format(sub, o.format);
  return sub;
}

struct Parsed {
  AppendOptions append;
  ReadOptions read;
  DumpOptions dump;
  VerifyOptions verify;
  RecoverOptions recover;
  StatOptions stat;
};

int dispatch(const CLI::App& app, const Parsed& p) {
  if (app.got_subcommand("append")) return run_append(p.append);
  if (app.got_subcommand("read")) return run_read(p.read);
  if (app.got_subcommand("dump")) return run_dump(p.dump);
  if (app.got_subcommand("verify")) return run_verify(p.verify);
  if (app.got_subcommand("recover")) return run_recover(p.recover);
  if (app.got_subcommand("stat")) return run_stat(p.stat);
  return usage_error("no subcommand; see cairn --help");
}

}  // namespace
}  // namespace cairn::tool

int main(int argc, char** argv) {
  using namespace cairn::tool;
  CLI::App app("cairn: inspect and use a Cairn event log", "cairn");
  app.footer(kExitCodesHelp);
  app.require_subcommand(1);
  Parsed p;
  add_append(app, p.append);
  add_read(app, p.read);
  add_dump(app, p.dump);
  add_verify(app, p.verify);
  add_recover(app, p.recover);
  add_stat(app, p.stat);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      return app.exit(e);  // --help: printed on stdout, exit 0
    }
    return usage_error(std::string(e.what()) + " (see cairn --help)");
  }
  return check_stdout(dispatch(app, p));
}
