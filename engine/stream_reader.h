// Reads one stream through the segment indexes: the stream table of each
// segment (skipped by its Bloom filter) names every record of the stream
// with its position, so a read costs one index probe per segment and one
// read per record (submitted in groups), not a scan of the log. Every record
// read is verified by the shared scanner and its stream name compared (index
// entries carry a hash, which may collide).
#pragma once

#include <cairn/file_system.h>
#include <cairn/log.h>

#include <memory>
#include <vector>

#include "engine/index_store.h"
#include "engine/segment_set.h"

namespace cairn::engine {

// Events of `stream` with version >= from_version (forward) or <=
// from_version (backward), among the events below `readable_lsn`.
// Records are read in growing groups with `fs`'s read_many (the file
// system the segments were opened with).
Result<std::unique_ptr<LogReader>> make_indexed_stream_reader(
    io::FileSystem& fs, const SegmentSet& segments, IndexStore& indexes, std::string stream,
    std::uint64_t from_version, Direction direction, std::uint64_t readable_lsn);

}  // namespace cairn::engine
