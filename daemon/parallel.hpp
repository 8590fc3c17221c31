// Runs independent tasks on a few threads: the shell's TaskRunner for feeds/publisher.hpp, so the
// pure library stays free of threads. Tasks are taken in order by whichever thread is free.
#pragma once

#include <functional>
#include <vector>

namespace almanac {

// The threads almanac renders with: ALMANAC_THREADS if set (1 disables parallel work), else the
// number of CPUs this process may use, at most 8.
unsigned render_threads();

// Runs every task, using up to `threads` threads (this one included), and returns when all are
// done. The first exception a task throws is rethrown here, after the others finished.
void run_parallel(std::vector<std::function<void()>>& tasks, unsigned threads);

}  // namespace almanac
