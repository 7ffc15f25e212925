// Embedding Cairn: open a log, append to a stream, read everything back.
#include <cairn/log.h>

#include <cstdio>

int main(int argc, char** argv) {
  auto log = cairn::Log::open({.directory = argc > 1 ? argv[1] : "/tmp/cairn-example"});
  if (!log) return std::fprintf(stderr, "%s\n", log.error().to_string().c_str()), 1;
  cairn::NewEvent deposit{.type = "Deposited", .data = R"({"amount":100})"};
  auto r = (*log)->append("account-42", cairn::ExpectedVersion::any(), {&deposit, 1});
  if (!r) return std::fprintf(stderr, "%s\n", r.error().to_string().c_str()), 1;
  std::printf("durable at LSN %llu, version %llu\n", (unsigned long long)r->first_lsn,
              (unsigned long long)r->first_version);
  auto reader = (*log)->read_from(0);
  cairn::EventView e;
  while (reader && (*reader)->next(e).value_or(false))
    std::printf("%llu %.*s %.*s\n", (unsigned long long)e.lsn, (int)e.stream.size(),
                e.stream.data(), (int)e.data.size(), e.data.data());
  return (*log)->close().ok() ? 0 : 1;
}
