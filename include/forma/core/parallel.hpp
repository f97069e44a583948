// forma/core/parallel.hpp — the one parallel loop every CPU kernel uses, on one thread pool.
//
// parallel_for(count, work, body) calls body(i) for every i in [0, count). Large loops are split
// into chunks that the calling thread and the pool's persistent workers claim from a shared
// counter; small ones (count × work below parallel_min_work) stay on the calling thread. Each
// index's work is done by one thread, whole, so results never depend on the number of threads or
// on which thread ran what.
//
// The pool (one per process, started on first use):
// - workers persist between loops: a loop costs an atomic counter and a cache line, no thread
//   creation, no fork/join barrier. Idle workers spin briefly (a decode step's ops follow each
//   other within microseconds), then sleep on a condition variable.
// - the caller never waits for a worker that has not started: chunks are claimed, not assigned,
//   so on a machine where another process holds a core the caller does the late worker's share
//   itself and returns as soon as every claimed chunk is done. (An OpenMP team barrier waits for
//   every thread of the team, which is what made a tiny model run 5× slower on 2 threads than on
//   1 on a shared 2-core VM.)
// - a parallel_for inside a body, or from a second thread while the pool is busy, runs serially.
//
// Threads: FORMA_NUM_THREADS, else OMP_NUM_THREADS, else std::thread::hardware_concurrency();
// set_parallel_threads(n) changes it at run time (n = 1: everything on the calling thread).
//
// Scratch memory: because chunks are claimed, which workers take part in a loop changes from run
// to run, so a buffer that each thread allocated on its first chunk (thread_local) could still be
// allocated on the hundredth call. parallel_for_scratch<Tag>(count, work, bytes, body) grows every
// thread's buffer for Tag on the calling thread before the loop is published and passes each body
// its thread's buffer: once a size has been seen, no call allocates, whichever threads run it.
// thread_scratch<Tag>(bytes) is the calling thread's own buffer, for the serial path.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <new>
#include <thread>
#include <type_traits>
#include <vector>

namespace forma {

// Below this many units of work a loop stays on the calling thread: waking threads costs more.
inline constexpr std::size_t parallel_min_work = 1u << 15;

namespace parallel_detail {

// The most threads a pool runs (the caller included).
inline constexpr std::size_t max_threads = 1024;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// The threads a process starts with: FORMA_NUM_THREADS, OMP_NUM_THREADS, or every hardware thread.
inline std::size_t threads_from_environment() noexcept {
  for (const char* name : {"FORMA_NUM_THREADS", "OMP_NUM_THREADS"}) {
    if (const char* value = std::getenv(name)) {
      char* end = nullptr;
      const unsigned long n = std::strtoul(value, &end, 10);
      if (end != value && n > 0) return std::min<std::size_t>(n, max_threads);
    }
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : hw;
}

// One loop being run: body(begin, end) over chunks [k·chunk, min((k+1)·chunk, count)).
struct Job {
  void (*run)(const void* body, std::size_t begin, std::size_t end) = nullptr;
  const void* body = nullptr;
  // Called by Pool::run on the calling thread, holding the pool (no worker is in a loop), before
  // the job is published, with the number of threads that may run it: grows per-thread scratch.
  void (*prepare)(const void* context, std::size_t threads) = nullptr;
  const void* prepare_context = nullptr;
  std::size_t count = 0;
  std::size_t chunk = 1;
  std::size_t chunks = 0;
  std::atomic<std::size_t> next{0};  // the next chunk to claim

  std::atomic<std::size_t> done{0};  // chunks finished

  // About four chunks per thread, each worth at least parallel_min_work / 4.
  void split(std::size_t n, std::size_t work_per_index, std::size_t threads) noexcept {
    count = n;
    const std::size_t min_chunk =
        std::max<std::size_t>(1, (parallel_min_work / 4) / std::max<std::size_t>(1, work_per_index));
    chunk = std::max(min_chunk, (n + 4 * threads - 1) / (4 * threads));
    chunks = (n + chunk - 1) / chunk;
  }

  // Claims and runs chunks until none is left.
  void work() noexcept {
    for (;;) {
      const std::size_t k = next.fetch_add(1, std::memory_order_relaxed);
      if (k >= chunks) return;
      const std::size_t begin = k * chunk;
      const std::size_t end = std::min(count, begin + chunk);
      run(body, begin, end);
      done.fetch_add(1, std::memory_order_release);
    }
  }
};

// 0 on the threads the user made; k + 1 on worker k. True while a thread runs a loop's body.
inline thread_local std::size_t thread_index = 0;
inline thread_local bool in_loop = false;

class Pool {
 public:
  static Pool& instance() {
    // Never destroyed: a static destructor elsewhere may still run a loop at exit, and workers
    // asleep on a futex cost nothing when the process ends.
    static Pool* pool = new Pool(threads_from_environment());
    return *pool;
  }

  std::size_t threads() const noexcept { return threads_.load(std::memory_order_relaxed); }

  void set_threads(std::size_t n) {
    n = std::clamp<std::size_t>(n, 1, max_threads);
    const std::lock_guard lock(run_mutex_);
    while (workers_.size() + 1 < n) start_worker();
    threads_.store(n, std::memory_order_relaxed);
  }

  // Calls f(threads()) holding the pool: no loop runs meanwhile (a running one is waited for).
  // Not from inside a loop's body.
  template <class F>
  void exclusive(F&& f) {
    const std::lock_guard lock(run_mutex_);
    f(threads());
  }

  // Runs `job` on the caller and on up to threads() − 1 workers; false (nothing run) when the
  // pool is busy with another caller's loop.
  bool run(Job& job) {
    std::unique_lock lock(run_mutex_, std::try_to_lock);
    if (!lock.owns_lock()) return false;
    if (job.prepare != nullptr) job.prepare(job.prepare_context, threads());
    job_.store(&job, std::memory_order_seq_cst);
    epoch_.fetch_add(1, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) != 0) {
      const std::lock_guard sleep_lock(sleep_mutex_);
      wake_.notify_all();
    }
    in_loop = true;
    job.work();
    // Every chunk is claimed; wait for the ones still running elsewhere.
    while (job.done.load(std::memory_order_acquire) != job.chunks) cpu_relax();
    in_loop = false;
    // Retire the job; a worker that saw it keeps it alive in users_ until it leaves.
    job_.store(nullptr, std::memory_order_seq_cst);
    while (users_.load(std::memory_order_seq_cst) != 0) cpu_relax();
    return true;
  }

 private:
  explicit Pool(std::size_t threads) {
    threads = std::clamp<std::size_t>(threads, 1, max_threads);
    while (workers_.size() + 1 < threads) start_worker();
    threads_.store(threads, std::memory_order_relaxed);
  }

  // Called with no loop running. The epoch the worker starts from is read here, not by the new
  // thread: a thread first scheduled after the next loop was published must still see that loop.
  void start_worker() {
    const std::size_t index = workers_.size() + 1;
    const std::uint32_t epoch = epoch_.load(std::memory_order_seq_cst);
    workers_.emplace_back([this, index, epoch] { worker(index, epoch); });
    workers_.back().detach();
  }

  void worker(std::size_t index, std::uint32_t seen) noexcept {
    thread_index = index;
    in_loop = true;  // a loop inside a worker's chunk runs serially
    for (;;) {
      // Spin a while (≈ 0.1–0.5 ms), then sleep until the next loop is published.
      std::uint32_t now = seen;
      for (int spin = 0; spin < (1 << 14) && (now = epoch_.load(std::memory_order_acquire)) == seen; ++spin) {
        cpu_relax();
      }
      if (now == seen) {
        std::unique_lock sleep_lock(sleep_mutex_);
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        wake_.wait(sleep_lock, [&] { return epoch_.load(std::memory_order_seq_cst) != seen; });
        sleepers_.fetch_sub(1, std::memory_order_seq_cst);
        now = epoch_.load(std::memory_order_acquire);
      }
      seen = now;
      if (index >= threads()) continue;  // set_parallel_threads lowered the count
      users_.fetch_add(1, std::memory_order_seq_cst);
      if (Job* job = job_.load(std::memory_order_seq_cst)) job->work();
      users_.fetch_sub(1, std::memory_order_seq_cst);
    }
  }

  std::mutex run_mutex_;
  std::mutex sleep_mutex_;
  std::condition_variable wake_;
  std::atomic<Job*> job_{nullptr};
  std::atomic<std::uint32_t> epoch_{0};
  std::atomic<std::uint32_t> sleepers_{0};
  std::atomic<std::uint32_t> users_{0};
  std::atomic<std::size_t> threads_{1};
  std::vector<std::thread> workers_;
};

// A growable, 64-byte-aligned buffer (contents not kept when it grows).
struct ScratchSlot {
  void* data = nullptr;
  std::size_t bytes = 0;
  ScratchSlot() = default;
  ScratchSlot(const ScratchSlot&) = delete;
  ScratchSlot& operator=(const ScratchSlot&) = delete;
  ~ScratchSlot() { ::operator delete(data, std::align_val_t{64}); }
  void* grow(std::size_t n) {
    if (n > bytes) {
      void* fresh = ::operator new(n, std::align_val_t{64});
      ::operator delete(data, std::align_val_t{64});
      data = fresh;
      bytes = n;
    }
    return data;
  }
};

// Per Tag: worker k's buffer is slot k (k ≥ 1), touched only by worker k and, while no worker is
// in a loop, by the caller preparing a loop under the pool's lock. Threads the user made (index
// 0, possibly several at once) each have their own thread_local buffer.
template <class Tag>
struct Scratch {
  static inline ScratchSlot workers[max_threads];
  static ScratchSlot& own() noexcept {
    if (thread_index != 0) return workers[thread_index];
    thread_local ScratchSlot slot;
    return slot;
  }
};

// Runs `job` (run and body set) over [0, count) on the pool when the loop is worth threads
// (count × work_per_index ≥ parallel_min_work), the pool has more than one thread and is free,
// and this is not a loop inside a body; false, with nothing run, otherwise.
inline bool fork(Job& job, std::size_t count, std::size_t work_per_index) {
  if (count <= 1 || count * work_per_index < parallel_min_work || in_loop) return false;
  auto& pool = Pool::instance();
  const std::size_t threads = pool.threads();
  if (threads <= 1) return false;
  job.split(count, work_per_index, threads);
  return job.chunks > 1 && pool.run(job);
}

}  // namespace parallel_detail

// The number of threads parallel_for may use (the caller included).
inline int parallel_threads() noexcept {
  return static_cast<int>(parallel_detail::Pool::instance().threads());
}

// Sets the number of threads parallel_for may use (≥ 1; the caller is one of them).
inline void set_parallel_threads(int threads) {
  parallel_detail::Pool::instance().set_threads(threads < 1 ? 1 : static_cast<std::size_t>(threads));
}

// A number below parallel_threads() naming the thread running the current body: 0 on the
// calling thread, 1.. on the pool's workers (for per-thread scratch).
inline std::size_t parallel_thread_index() noexcept { return parallel_detail::thread_index; }

// `work_per_index` estimates the cost of one body(i) in cheap operations (flops, bytes), so small
// loops do not pay for threads.
template <class Body>
void parallel_for(std::size_t count, std::size_t work_per_index, Body&& body) {
  using B = std::remove_reference_t<Body>;
  parallel_detail::Job job;
  job.run = [](const void* b, std::size_t begin, std::size_t end) {
    B& f = *const_cast<B*>(static_cast<const B*>(b));
    for (std::size_t i = begin; i < end; ++i) f(i);
  };
  job.body = &body;
  if (parallel_detail::fork(job, count, work_per_index)) return;
  for (std::size_t i = 0; i < count; ++i) body(i);
}

// The calling thread's scratch buffer for Tag, grown to at least `bytes` (64-byte aligned; its
// contents are not kept across calls). For a loop's serial path; bodies of parallel_for_scratch
// are handed theirs.
template <class Tag>
void* thread_scratch(std::size_t bytes) {
  return parallel_detail::Scratch<Tag>::own().grow(bytes);
}

// Grows the calling thread's and every pool worker's buffer for Tag to `bytes` now (waiting for a
// running loop to finish), so that even the first parallel_for_scratch<Tag> with at most that
// size allocates nothing — what a model's constructor calls for its kernels' scratch. Inside a
// loop's body only the running thread's buffer is grown.
template <class Tag>
void reserve_thread_scratch(std::size_t bytes) {
  using S = parallel_detail::Scratch<Tag>;
  S::own().grow(bytes);
  if (parallel_detail::in_loop) return;
  parallel_detail::Pool::instance().exclusive([bytes](std::size_t threads) {
    for (std::size_t k = 1; k < threads; ++k) S::workers[k].grow(bytes);
  });
}

// parallel_for, with body(i, scratch) given `scratch_bytes` of the running thread's buffer for Tag.
// Every thread that may run a chunk has its buffer grown before the loop starts, on the calling
// thread: after the first call with a size, none allocates. Two bodies never run at once on one
// buffer; a body must not keep the pointer.
template <class Tag, class Body>
void parallel_for_scratch(std::size_t count, std::size_t work_per_index, std::size_t scratch_bytes,
                          Body&& body) {
  using S = parallel_detail::Scratch<Tag>;
  using B = std::remove_reference_t<Body>;
  parallel_detail::Job job;
  job.run = [](const void* b, std::size_t begin, std::size_t end) {
    B& f = *const_cast<B*>(static_cast<const B*>(b));
    void* scratch = S::own().data;
    for (std::size_t i = begin; i < end; ++i) f(i, scratch);
  };
  job.body = &body;
  job.prepare = [](const void* context, std::size_t threads) {
    const std::size_t bytes = *static_cast<const std::size_t*>(context);
    S::own().grow(bytes);
    for (std::size_t k = 1; k < threads; ++k) S::workers[k].grow(bytes);
  };
  job.prepare_context = &scratch_bytes;
  if (parallel_detail::fork(job, count, work_per_index)) return;
  void* scratch = S::own().grow(scratch_bytes);
  for (std::size_t i = 0; i < count; ++i) body(i, scratch);
}

}  // namespace forma
