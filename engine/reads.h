// Reads beyond the plain forward scan: stream reads, backward reads, "as of"
// reads, category and type filters, the time -> LSN lookup, and live
// subscriptions. Built on SegmentReader (the shared scanner) and, where they
// exist, the segment indexes.
#pragma once

#include <cairn/log.h>

#include <memory>

#include "engine/group_committer.h"
#include "engine/segment_set.h"

namespace cairn::engine {

// What a read needs from the open log. Must outlive every reader and
// subscription made from it (the Log stops subscriptions before closing).
struct ReadContext {
  const SegmentSet* segments = nullptr;
  GroupCommitter* committer = nullptr;
};

Result<std::unique_ptr<LogReader>> make_reader(const ReadContext& context,
                                               const ReadOptions& options);
Result<std::uint64_t> find_lsn_after_time(const ReadContext& context, std::int64_t time_ns);
Result<std::unique_ptr<Subscription>> make_subscription(const ReadContext& context,
                                                        const SubscribeOptions& options,
                                                        EventHandler handler);

}  // namespace cairn::engine
