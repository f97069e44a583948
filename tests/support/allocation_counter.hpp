// tests/support/allocation_counter.hpp — how many allocations (and bytes) the program made.
//
// Every unit-test executable links tests/support/counting_new.cpp, which replaces the global
// operator new (all forms, aligned ones — forma's tensor storage — included) with one that counts.
// A test reads the counter before and after the code under test.
#pragma once

#include <cstddef>

namespace forma::testing {

struct Allocations {
  std::size_t count = 0;
  std::size_t bytes = 0;
};

// The allocations made so far by this program, on every thread.
Allocations allocations_now() noexcept;

}  // namespace forma::testing
