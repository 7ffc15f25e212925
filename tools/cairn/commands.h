// The subcommands of `cairn`. main.cc parses the command line into these
// option structs (CLI11) and calls run_*, which returns the exit code.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace cairn::tool {

enum class OutputFormat { text, jsonl };

struct AppendOptions {
  std::string directory;
  std::string stream = "default";
  std::string type = "event";
  std::string expected_version = "any";  // any | no-stream | exists | N
  bool create = false;
  std::optional<std::uint64_t> segment_bytes;
  std::string sync = "async";  // sync | async | none
  bool jsonl = false;
  bool verbose = false;
};
int run_append(const AppendOptions& options);

struct ReadOptions {
  std::string directory;
  std::optional<std::uint64_t> from;
  std::optional<std::string> stream;
  std::optional<std::uint64_t> from_version;
  bool backward = false;
  std::optional<std::uint64_t> limit;
  std::optional<std::string> as_of;
  std::optional<std::uint64_t> until_lsn;
  bool follow = false;
  OutputFormat format = OutputFormat::text;
};
int run_read(const ReadOptions& options);

struct DumpOptions {
  std::string path;
  bool records = false;
  bool index = false;
  bool hex = false;
  bool continue_on_error = false;
  OutputFormat format = OutputFormat::text;
};
int run_dump(const DumpOptions& options);

struct VerifyOptions {
  std::string directory;
  OutputFormat format = OutputFormat::text;
};
int run_verify(const VerifyOptions& options);

struct RecoverOptions {
  std::string directory;
  bool dry_run = false;
};
int run_recover(const RecoverOptions& options);

struct StatOptions {
  std::string directory;
  OutputFormat format = OutputFormat::text;
};
int run_stat(const StatOptions& options);

}  // namespace cairn::tool
