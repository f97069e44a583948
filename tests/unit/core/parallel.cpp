// parallel_for and its pool: every index exactly once at every thread count, thread indices below
// parallel_threads(), nested and concurrent loops, small loops on the caller, a body that stalls.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <cstddef>
#include <cstdint>
#include <set>
#include <thread>
#include <vector>

#include <forma/core/parallel.hpp>

#include "allocation_counter.hpp"

namespace {

struct ThreadsGuard {
  int saved = forma::parallel_threads();
  ~ThreadsGuard() { forma::set_parallel_threads(saved); }
};

}  // namespace

TEST_CASE("parallel_for: every index exactly once, at 1 to 4 threads, for sizes around the chunking") {
  const ThreadsGuard guard;
  for (int threads = 1; threads <= 4; ++threads) {
    forma::set_parallel_threads(threads);
    CHECK(forma::parallel_threads() == threads);
    for (const std::size_t count : {0u, 1u, 2u, 3u, 7u, 8u, 9u, 31u, 64u, 1000u, 4097u}) {
      CAPTURE(threads);
      CAPTURE(count);
      std::vector<std::atomic<int>> hits(count);
      std::atomic<bool> index_in_range{true};
      forma::parallel_for(count, forma::parallel_min_work, [&](std::size_t i) {
        hits[i].fetch_add(1);
        if (forma::parallel_thread_index() >= static_cast<std::size_t>(forma::parallel_threads())) {
          index_in_range = false;
        }
      });
      std::size_t once = 0;
      for (const auto& h : hits) once += h.load() == 1 ? 1 : 0;
      CHECK(once == count);
      CHECK(index_in_range.load());
    }
  }
}

TEST_CASE("parallel_for: the pool's workers take part in big loops, small loops stay on the caller") {
  const ThreadsGuard guard;
  forma::set_parallel_threads(2);
  const auto caller = std::this_thread::get_id();
  // Small: 10 × 10 units of work, far below parallel_min_work.
  std::atomic<int> elsewhere{0};
  forma::parallel_for(10, 10, [&](std::size_t) {
    if (std::this_thread::get_id() != caller) ++elsewhere;
  });
  CHECK(elsewhere.load() == 0);
  // Big: each index waits until the other thread has run one (bounded: 10 s), which only two
  // threads taking part can satisfy.
  std::atomic<int> started{0};
  std::atomic<bool> met{false};
  std::set<std::thread::id> ids;
  std::mutex ids_mutex;
  forma::parallel_for(2, forma::parallel_min_work, [&](std::size_t) {
    {
      const std::lock_guard lock(ids_mutex);
      ids.insert(std::this_thread::get_id());
    }
    ++started;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (started.load() < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    if (started.load() == 2) met = true;
  });
  CHECK(met.load());
  CHECK(ids.size() == 2);
}

TEST_CASE("parallel_for: the caller does a late worker's share (no barrier waits for it)") {
  const ThreadsGuard guard;
  forma::set_parallel_threads(4);  // more workers than this machine may have cores
  std::vector<int> out(64, 0);
  forma::parallel_for(out.size(), forma::parallel_min_work, [&](std::size_t i) { out[i] = static_cast<int>(i) * 3; });
  for (std::size_t i = 0; i < out.size(); ++i) CHECK(out[i] == static_cast<int>(i) * 3);
}

TEST_CASE("parallel_for: a loop inside a body runs serially on that thread, and concurrent callers both finish") {
  const ThreadsGuard guard;
  forma::set_parallel_threads(2);
  std::vector<std::atomic<int>> hits(16 * 16);
  std::atomic<bool> same_thread{true};
  forma::parallel_for(16, forma::parallel_min_work, [&](std::size_t i) {
    const auto outer = std::this_thread::get_id();
    forma::parallel_for(16, forma::parallel_min_work, [&](std::size_t j) {
      if (std::this_thread::get_id() != outer) same_thread = false;
      hits[i * 16 + j].fetch_add(1);
    });
  });
  std::size_t once = 0;
  for (const auto& h : hits) once += h.load() == 1 ? 1 : 0;
  CHECK(once == hits.size());
  CHECK(same_thread.load());

  // Two user threads calling at once: one gets the pool, the other runs serially; both complete.
  std::vector<std::atomic<long>> sums(2);
  std::vector<std::thread> users;
  for (std::size_t u = 0; u < 2; ++u) {
    users.emplace_back([&, u] {
      for (int round = 0; round < 200; ++round) {
        forma::parallel_for(100, forma::parallel_min_work, [&](std::size_t i) { sums[u] += static_cast<long>(i); });
      }
    });
  }
  for (auto& t : users) t.join();
  CHECK(sums[0].load() == 200L * 4950);
  CHECK(sums[1].load() == 200L * 4950);
}

namespace {
struct scratch_test_tag {};
struct scratch_user_tag {};
}  // namespace

TEST_CASE("parallel_for_scratch: each running body owns its 64-byte-aligned buffer, and none allocates once a size was seen") {
  const ThreadsGuard guard;
  forma::set_parallel_threads(4);  // more threads than cores: which workers join varies per call
  constexpr std::size_t bytes = 4096;
  std::atomic<int> misaligned{0}, clobbered{0};
  const auto loop = [&](std::size_t size) {
    forma::parallel_for_scratch<scratch_test_tag>(64, forma::parallel_min_work, size, [&](std::size_t i, void* scratch) {
      if (reinterpret_cast<std::uintptr_t>(scratch) % 64 != 0) ++misaligned;
      auto* words = static_cast<std::size_t*>(scratch);
      const std::size_t n = size / sizeof(std::size_t);
      for (std::size_t w = 0; w < n; ++w) words[w] = i;
      std::this_thread::yield();  // let another body run meanwhile: it must not share this buffer
      for (std::size_t w = 0; w < n; ++w) clobbered += words[w] != i ? 1 : 0;
    });
  };
  loop(bytes);  // the first call with this size grows every thread's buffer
  const auto before = forma::testing::allocations_now();
  for (int round = 0; round < 100; ++round) loop(round % 2 == 0 ? bytes : bytes / 2);
  const auto after = forma::testing::allocations_now();
  CHECK(after.count == before.count);
  CHECK(misaligned.load() == 0);
  CHECK(clobbered.load() == 0);
  // A larger size grows the buffers again, once.
  loop(2 * bytes);
  const auto grown = forma::testing::allocations_now();
  CHECK(grown.count > after.count);
  for (int round = 0; round < 20; ++round) loop(2 * bytes);
  CHECK(forma::testing::allocations_now().count == grown.count);
}

TEST_CASE("parallel_for_scratch: two user threads at once each get their own buffers, and thread_scratch is the caller's") {
  const ThreadsGuard guard;
  forma::set_parallel_threads(2);
  std::atomic<int> clobbered{0};
  std::vector<std::thread> users;
  for (std::size_t u = 0; u < 2; ++u) {
    users.emplace_back([&, u] {
      for (int round = 0; round < 100; ++round) {
        forma::parallel_for_scratch<scratch_user_tag>(32, forma::parallel_min_work, 1024, [&](std::size_t i, void* scratch) {
          auto* words = static_cast<std::size_t*>(scratch);
          const std::size_t mark = u * 1000 + i;
          for (std::size_t w = 0; w < 128; ++w) words[w] = mark;
          std::this_thread::yield();
          for (std::size_t w = 0; w < 128; ++w) clobbered += words[w] != mark ? 1 : 0;
        });
      }
    });
  }
  for (auto& t : users) t.join();
  CHECK(clobbered.load() == 0);
  // On a thread the user made, outside any loop: the serial path's buffer, grown and kept.
  void* first = forma::thread_scratch<scratch_user_tag>(100);
  CHECK(forma::thread_scratch<scratch_user_tag>(50) == first);
  CHECK(reinterpret_cast<std::uintptr_t>(first) % 64 == 0);
}
