// tests/support/counting_new.cpp — the global operator new of the unit-test programs, counting.
//
// One definition per program: each unit suite and the sanitized all-suites program link this
// file once. Under AddressSanitizer the counting allocator sits on top of ASan's malloc, so heap
// errors are still found (ASan's new/delete mismatch check is what this gives up).
#include <atomic>
#include <cstdlib>
#include <new>

#include "allocation_counter.hpp"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"  // malloc/free behind new/delete is the point
#endif

namespace {

std::atomic<std::size_t> allocation_count{0};
std::atomic<std::size_t> allocated_bytes{0};

void* counted(std::size_t size, std::size_t alignment) noexcept {
  allocation_count.fetch_add(1, std::memory_order_relaxed);
  allocated_bytes.fetch_add(size, std::memory_order_relaxed);
  if (alignment <= alignof(std::max_align_t)) return std::malloc(size == 0 ? 1 : size);
  return std::aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
}

}  // namespace

forma::testing::Allocations forma::testing::allocations_now() noexcept {
  return {allocation_count.load(), allocated_bytes.load()};
}

void* operator new(std::size_t size) {
  if (void* p = counted(size, 0)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t size, std::align_val_t alignment) {
  if (void* p = counted(size, static_cast<std::size_t>(alignment))) return p;
  throw std::bad_alloc();
}
// The nothrow forms too: every allocation function is replaced, or a library's nothrow new would
// meet this delete.
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return counted(size, 0); }
void* operator new(std::size_t size, std::align_val_t alignment, const std::nothrow_t&) noexcept {
  return counted(size, static_cast<std::size_t>(alignment));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
