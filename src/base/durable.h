#pragma once
// Durability helpers for segmented append-only logs (the errors event log, the logs WAL): the
// fsync half of "write(2) before the answer, fsync in the background", done outside the
// writers' lock by the caller.
// Thread safety: free functions; the caller owns the descriptors it passes (all are closed).
#include <string>
#include <vector>

namespace kansoku {

// fsync(2) of a directory, so entries created in it survive power loss. Best effort: a failure
// leaves nothing a caller could retry.
void FsyncDirBestEffort(const std::string& dir);

// Makes a segmented log durable in order: fdatasync(2) and close every fd of `retired`
// (segments given up since the last sync, oldest first), then fsync `dir` when dir_dirty (new
// segments' entries), then fdatasync and close `live` (-1: none). Every fd is closed whatever
// fails. Returns the errno of the first failed fdatasync, 0 when all succeeded.
int SyncSegmentsInOrder(const std::vector<int>& retired, const std::string& dir, bool dir_dirty,
                        int live);

}  // namespace kansoku
