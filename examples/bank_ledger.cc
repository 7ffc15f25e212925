// An event-sourced bank ledger on Cairn. Each account is a stream
// "account-<id>" of Opened / Deposited / Withdrawn / TransferredOut /
// TransferredIn events; a balance is never stored, only rebuilt from them.
//
// What it shows:
//   - optimistic concurrency: a withdrawal or transfer decides on the
//     balance it just read and appends with ExpectedVersion::exact(that
//     version); when another thread got there first the append is refused
//     (wrong_expected_version), and it re-reads the stream and tries again;
//   - state rebuilt from a stream read, and "as of" an earlier time
//     (ReadOptions::until_time_ns);
//   - a live projection of every balance, fed by a subscription to the
//     "account-" category.
//
//   bank_ledger DIR    runs against the log in DIR (created if missing; a
//                      second run continues the same accounts), prints a
//                      report; exit 0 if every check holds, 1 if one fails,
//                      2 on bad usage or an engine error.
#include <cairn/log.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kAccounts = 8;
constexpr int kThreads = 4;
constexpr int kOpsPerThread = 120;  // per phase
constexpr std::int64_t kDeposit = 1000;

using Balances = std::map<std::string, std::int64_t>;

std::string account(int id) { return "account-" + std::to_string(id); }

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The JSON-ish event data is written by this program only, so a field is
// found by its key: "amount":42 or "transfer":"t-1-7".
std::int64_t int_field(std::string_view data, std::string_view key) {
  const std::string pattern = "\"" + std::string(key) + "\":";
  const auto at = data.find(pattern);
  return at == data.npos ? 0 : std::strtoll(data.data() + at + pattern.size(), nullptr, 10);
}
std::string string_field(std::string_view data, std::string_view key) {
  const std::string pattern = "\"" + std::string(key) + "\":\"";
  const auto at = data.find(pattern);
  if (at == data.npos) {
    return "";
  }
  const auto begin = at + pattern.size();
  return std::string(data.substr(begin, data.find('"', begin) - begin));
}

struct Account {
  std::int64_t balance = 0;
  std::uint64_t next_version = 0;  // 0: the account was never opened
};

// What each event means for its account: the one place that knows it.
void apply(Account& account, const cairn::EventView& e) {
  const std::int64_t amount = int_field(e.data, "amount");
  if (e.type == "Deposited" || e.type == "TransferredIn") {
    account.balance += amount;
  } else if (e.type == "Withdrawn" || e.type == "TransferredOut") {
    account.balance -= amount;
  }
  account.next_version = e.version + 1;
}

class Ledger {
 public:
  explicit Ledger(cairn::Log& log) : log_(log) {}

  // An account rebuilt from its stream, with every event recorded at or
  // before `until_time_ns`.
  cairn::Result<Account> load(const std::string& stream, std::int64_t until_time_ns = INT64_MAX) {
    cairn::ReadOptions options;
    options.stream = stream;
    options.until_time_ns = until_time_ns;
    CAIRN_ASSIGN_OR_RETURN(auto reader, log_.read(options));
    Account account;
    cairn::EventView e;
    while (true) {
      CAIRN_ASSIGN_OR_RETURN(bool more, reader->next(e));
      if (!more) {
        return account;
      }
      apply(account, e);
    }
  }

  cairn::Result<Balances> balances(std::int64_t until_time_ns = INT64_MAX) {
    Balances out;
    for (int id = 1; id <= kAccounts; ++id) {
      CAIRN_ASSIGN_OR_RETURN(Account a, load(account(id), until_time_ns));
      out[account(id)] = a.balance;
    }
    return out;
  }

  // Opens the account unless a previous run did (no_stream guards that).
  cairn::Status open(int id) {
    const std::string data = R"({"owner":"customer )" + std::to_string(id) + R"("})";
    cairn::NewEvent e{.type = "Opened", .data = data};
    auto r = log_.append(account(id), cairn::ExpectedVersion::no_stream(), {&e, 1});
    if (!r && r.error().code() != cairn::Errc::wrong_expected_version) {
      return r.error();
    }
    return cairn::Status();
  }

  // Money coming in needs no check, so no expected version.
  cairn::Status credit(const std::string& stream, std::string_view type, const std::string& data) {
    cairn::NewEvent e{.type = type, .data = data};
    return log_.append(stream, cairn::ExpectedVersion::any(), {&e, 1}).status();
  }

  // Appends a debit of `amount` only if the balance covers it. False:
  // declined (insufficient funds).
  cairn::Result<bool> debit(const std::string& stream, std::int64_t amount, std::string_view type,
                            const std::string& data) {
    while (true) {
      CAIRN_ASSIGN_OR_RETURN(Account a, load(stream));
      if (a.next_version == 0 || a.balance < amount) {
        declined += 1;
        return false;
      }
      cairn::NewEvent e{.type = type, .data = data};
      auto r = log_.append(stream, cairn::ExpectedVersion::exact(a.next_version - 1), {&e, 1});
      if (r) {
        return true;
      }
      if (r.error().code() != cairn::Errc::wrong_expected_version) {
        return r.error();
      }
      // Someone appended since our read: decide again. Their event may not
      // be readable yet (its batch is still being made durable), so wait
      // for what is appended now instead of re-reading in a spin.
      conflicts += 1;
      CAIRN_TRY(log_.wait_durable(log_.next_lsn()));
    }
  }

  // The debit is the guarded step; the credit follows it. (A crash between
  // the two leaves a TransferredOut without its TransferredIn; a real
  // ledger completes those at start-up, e.g. from the projection below.)
  cairn::Result<bool> transfer(int from, int to, std::int64_t amount, const std::string& id) {
    const std::string amount_field = R"(,"amount":)" + std::to_string(amount) + "}";
    CAIRN_ASSIGN_OR_RETURN(bool done, debit(account(from), amount, "TransferredOut",
                                            R"({"transfer":")" + id + R"(","to":")" + account(to) +
                                                "\"" + amount_field));
    if (done) {
      CAIRN_TRY(
          credit(account(to), "TransferredIn",
                 R"({"transfer":")" + id + R"(","from":")" + account(from) + "\"" + amount_field));
    }
    return done;
  }

  std::atomic<int> conflicts{0};
  std::atomic<int> declined{0};

 private:
  cairn::Log& log_;
};

// A read model kept up to date by a subscription: every balance, plus the
// transfers whose debit it has seen but not yet their credit. Transfers
// move money, so balances + money in transit change only with deposits and
// withdrawals.
class Projection {
 public:
  bool on_event(const cairn::EventView& e) {
    std::lock_guard lock(mu_);
    apply(accounts_[std::string(e.stream)], e);
    const std::string transfer = string_field(e.data, "transfer");
    const std::int64_t amount = int_field(e.data, "amount");
    if (e.type == "TransferredOut") {
      in_transit_[transfer] = amount;
    } else if (e.type == "TransferredIn") {
      auto it = in_transit_.find(transfer);
      // A credit must follow its debit, with the same amount.
      mismatches_ += (it == in_transit_.end() || it->second != amount) ? 1 : 0;
      if (it != in_transit_.end()) {
        in_transit_.erase(it);
      }
    }
    return true;
  }
  Balances balances() {
    std::lock_guard lock(mu_);
    Balances out;
    for (const auto& [stream, a] : accounts_) {
      out[stream] = a.balance;
    }
    return out;
  }
  std::size_t in_transit() {
    std::lock_guard lock(mu_);
    return in_transit_.size();
  }
  int mismatches() {
    std::lock_guard lock(mu_);
    return mismatches_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, Account> accounts_;
  std::map<std::string, std::int64_t> in_transit_;
  int mismatches_ = 0;
};

std::int64_t total(const Balances& balances) {
  std::int64_t sum = 0;
  for (const auto& [stream, balance] : balances) {
    sum += balance;
  }
  return sum;
}

// kThreads threads, each doing random transfers (and a few withdrawals)
// between the accounts. Returns the money withdrawn, or an error.
cairn::Result<std::int64_t> run_traffic(Ledger& ledger, int phase) {
  std::atomic<std::int64_t> withdrawn{0};
  std::mutex error_mu;
  cairn::Status error;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 random(static_cast<unsigned>(phase * 100 + t));
      for (int i = 0; i < kOpsPerThread; ++i) {
        const int from = 1 + static_cast<int>(random() % kAccounts);
        const int to = 1 + static_cast<int>((from + random() % (kAccounts - 1)) % kAccounts);
        const bool withdrawal = i % 20 == 19;
        const std::int64_t amount =
            1 + static_cast<std::int64_t>(random() % (withdrawal ? 40 : 250));
        const std::string id =
            std::to_string(now_ns()) + "-" + std::to_string(t) + "-" + std::to_string(i);
        cairn::Result<bool> done =
            withdrawal ? ledger.debit(account(from), amount, "Withdrawn",
                                      R"({"amount":)" + std::to_string(amount) + "}")
                       : ledger.transfer(from, to, amount, "t-" + id);
        if (!done) {
          std::lock_guard lock(error_mu);
          error = done.error();
          return;
        }
        if (*done && withdrawal) {
          withdrawn += amount;
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  if (!error.ok()) {
    return error;
  }
  return withdrawn.load();
}

int fail(const char* what, const cairn::Status& status) {
  std::fprintf(stderr, "bank_ledger: %s: %s\n", what, status.to_string().c_str());
  return 2;
}

bool check(bool ok, const char* what) {
  std::printf("  %-58s %s\n", what, ok ? "ok" : "FAILED");
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: bank_ledger DIR\n");
    return 2;
  }
  auto opened = cairn::Log::open({.directory = argv[1]});
  if (!opened) {
    return fail("open", opened.error());
  }
  cairn::Log& log = **opened;
  Ledger ledger(log);

  // The projection follows the whole account category from the start.
  Projection projection;
  auto subscription = log.subscribe({.stream_prefix = "account-"}, [&](const cairn::EventView& e) {
    return projection.on_event(e);
  });
  if (!subscription) {
    return fail("subscribe", subscription.error());
  }

  auto before = ledger.balances();
  if (!before) {
    return fail("read", before.error());
  }
  std::int64_t deposited = 0;
  for (int id = 1; id <= kAccounts; ++id) {
    cairn::Status s = ledger.open(id);
    if (s.ok()) {
      s = ledger.credit(account(id), "Deposited", R"({"amount":)" + std::to_string(kDeposit) + "}");
    }
    if (!s.ok()) {
      return fail("deposit", s);
    }
    deposited += kDeposit;
  }

  auto withdrawn_a = run_traffic(ledger, 0);
  if (!withdrawn_a) {
    return fail("traffic", withdrawn_a.error());
  }
  // Mid-run: the balances observed now, and a time they are true at. Every
  // event so far was recorded at or before `as_of`; the pause makes every
  // later one recorded after it.
  auto observed = ledger.balances();
  if (!observed) {
    return fail("read", observed.error());
  }
  const std::uint64_t events_then = log.next_lsn();
  const std::int64_t as_of = now_ns();
  std::this_thread::sleep_for(std::chrono::milliseconds(2));

  auto withdrawn_b = run_traffic(ledger, 1);
  if (!withdrawn_b) {
    return fail("traffic", withdrawn_b.error());
  }
  auto rebuilt = ledger.balances();
  auto then = ledger.balances(as_of);
  auto lsn_then = log.lsn_after_time(as_of);
  if (!rebuilt || !then || !lsn_then) {
    return fail("read", !rebuilt ? rebuilt.error() : !then ? then.error() : lsn_then.error());
  }
  // Appends were acknowledged durable, so the projection gets all of them.
  for (int i = 0; i < 10000 && subscription.value()->position() < log.next_lsn(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  (*subscription)->stop();
  const Balances projected = projection.balances();

  std::printf(
      "bank ledger in %s: %d accounts, %d threads, %llu events, %d retries after "
      "wrong_expected_version, %d debits declined\n",
      argv[1], kAccounts, kThreads, static_cast<unsigned long long>(log.next_lsn()),
      ledger.conflicts.load(), ledger.declined.load());
  std::printf("  %-12s %10s %12s %14s\n", "account", "balance", "projection", "as of mid-run");
  for (const auto& [stream, balance] : *rebuilt) {
    std::printf("  %-12s %10lld %12lld %14lld\n", stream.c_str(), static_cast<long long>(balance),
                static_cast<long long>(projected.count(stream) ? projected.at(stream) : -1),
                static_cast<long long>(then->at(stream)));
  }
  std::printf("  %-12s %10lld %12lld %14lld\n", "total", static_cast<long long>(total(*rebuilt)),
              static_cast<long long>(total(projected)), static_cast<long long>(total(*then)));

  const std::int64_t expected = total(*before) + deposited - *withdrawn_a - *withdrawn_b;
  bool no_overdraft = true;
  for (const auto& [stream, balance] : *rebuilt) {
    no_overdraft = no_overdraft && balance >= 0;
  }
  bool ok = true;
  std::printf("checks:\n");
  ok &= check(total(*rebuilt) == expected, "total money conserved (deposits - withdrawals)");
  ok &= check(no_overdraft, "no account overdrawn (expected versions held)");
  ok &= check(projected == *rebuilt, "projection equals balances rebuilt from the streams");
  ok &= check(projection.in_transit() == 0 && projection.mismatches() == 0,
              "projection: every transfer credited once, same amount");
  ok &= check((*subscription)->status().ok(), "subscription ended without error");
  ok &= check(*then == *observed, "balances as of mid-run equal those observed then");
  ok &= check(*lsn_then == events_then, "lsn_after_time(mid-run) is the log length then");
  const cairn::Status closed = log.close();
  ok &= check(closed.ok(), "log closed cleanly");
  return ok ? 0 : 1;
}
