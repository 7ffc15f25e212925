// Reads beyond the plain forward scan: stream reads, backward reads, "as of"
// reads, category and type filters, the time -> LSN lookup, and live
// subscriptions. Built on SegmentReader (the shared scanner) and, where they
// exist, the segment indexes.
#pragma once

#include <cairn/log.h>

#include <memory>
#include <string>

#include "engine/group_committer.h"
#include "engine/index_store.h"
#include "engine/segment_set.h"

namespace cairn::engine {

class SubscriptionRegistry;  // engine/subscription.h

// What a read needs from the open log. Must outlive every reader and
// subscription made from it (the Log stops subscriptions before closing).
struct ReadContext {
  const SegmentSet* segments = nullptr;
  GroupCommitter* committer = nullptr;
  // Segment indexes (engine/index_store.h): seeks by LSN and time, stream
  // records by hash. SegmentReader takes it as its last argument.
  IndexStore* indexes = nullptr;
  // The log's live subscriptions, which it stops before it closes. Shared:
  // a Subscription object may outlive the Log.
  std::shared_ptr<SubscriptionRegistry> subscriptions;
  // The file system the segments were opened with (batched reads).
  io::FileSystem* fs = nullptr;
};

// The filters of ReadOptions and SubscribeOptions: exact stream, stream-name
// prefix (a category), exact event type, and (subscriptions from a stream
// version) the lowest stream version. An empty field matches every event.
struct EventFilter {
  std::string stream;
  std::string stream_prefix;
  std::string event_type;
  std::uint64_t min_version = 0;
  bool matches(const EventView& event) const;
};

Result<std::unique_ptr<LogReader>> make_reader(const ReadContext& context,
                                               const ReadOptions& options);
Result<std::uint64_t> find_lsn_after_time(const ReadContext& context, std::int64_t time_ns);
Result<std::unique_ptr<Subscription>> make_subscription(const ReadContext& context,
                                                        const SubscribeOptions& options,
                                                        EventHandler handler);

}  // namespace cairn::engine
