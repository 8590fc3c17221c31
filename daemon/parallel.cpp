#include "daemon/parallel.hpp"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>

namespace almanac {

unsigned render_threads() {
    if (const char* s = std::getenv("ALMANAC_THREADS"); s && *s) {
        const long n = std::strtol(s, nullptr, 10);
        if (n >= 1) return static_cast<unsigned>(std::min(n, 64L));
    }
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) return static_cast<unsigned>(std::clamp(CPU_COUNT(&set), 1, 8));
    return std::clamp(std::thread::hardware_concurrency(), 1U, 8U);
}

void run_parallel(std::vector<std::function<void()>>& tasks, unsigned threads) {
    std::atomic<std::size_t> next{0};
    std::exception_ptr failure;
    std::mutex failure_mutex;
    const auto work = [&] {
        for (std::size_t i; (i = next.fetch_add(1)) < tasks.size();) {
            try {
                tasks[i]();
            } catch (...) {
                const std::lock_guard lock(failure_mutex);
                if (!failure) failure = std::current_exception();
            }
        }
    };
    const std::size_t helpers = tasks.empty() ? 0 : std::min<std::size_t>(std::max(threads, 1U), tasks.size()) - 1;
    std::vector<std::jthread> pool;
    pool.reserve(helpers);
    for (std::size_t i = 0; i < helpers; ++i) pool.emplace_back(work);
    work();
    pool.clear();  // joins
    if (failure) std::rethrow_exception(failure);
}

}  // namespace almanac
