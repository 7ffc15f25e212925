// Placeholder until the reads are written (issue 5): every entry point
// reports that it is not built yet, so nothing pretends to work.
#include "engine/reads.h"

namespace cairn::engine {
namespace {
Status not_built() { return Status::error(Errc::invalid_argument, "not implemented yet"); }
}  // namespace

Result<std::unique_ptr<LogReader>> make_reader(const ReadContext&, const ReadOptions&) {
  return not_built();
}
Result<std::uint64_t> find_lsn_after_time(const ReadContext&, std::int64_t) { return not_built(); }
Result<std::unique_ptr<Subscription>> make_subscription(const ReadContext&,
                                                        const SubscribeOptions&, EventHandler) {
  return not_built();
}

}  // namespace cairn::engine
