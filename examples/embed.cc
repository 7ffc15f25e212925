// The README's embedding example: open a log, append to a stream, read back.
#include <cairn/log.h>

#include <cstdio>

int main(int argc, char** argv) {
  const char* dir = argc > 1 ? argv[1] : "/tmp/cairn-example";
  auto log = cairn::Log::open({.directory = dir});
  if (!log) {
    std::fprintf(stderr, "open: %s\n", log.error().to_string().c_str());
    return 1;
  }
  cairn::NewEvent deposit{.type = "Deposited", .data = R"({"amount":100})"};
  auto appended = (*log)->append("account-42", cairn::ExpectedVersion::any(), {&deposit, 1});
  if (!appended) {
    std::fprintf(stderr, "append: %s\n", appended.error().to_string().c_str());
    return 1;
  }
  std::printf("appended at LSN %llu (durable)\n", (unsigned long long)appended->first_lsn);
  auto reader = (*log)->read_from(0);
  cairn::EventView e;
  while (reader && (*reader)->next(e).value_or(false)) {
    std::printf("%llu %.*s v%llu %.*s\n", (unsigned long long)e.lsn, (int)e.stream.size(),
                e.stream.data(), (unsigned long long)e.version, (int)e.data.size(), e.data.data());
  }
  return (*log)->close().ok() ? 0 : 1;
}
