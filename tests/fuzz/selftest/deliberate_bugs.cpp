// A libFuzzer harness with deliberate bugs, one per kind of finding, picked by the input's first
// byte; tests/fuzz's self-tests seed it with one byte each and check that the fuzz run fails with
// the right report. Never part of the real fuzzing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace {
volatile std::size_t sink = 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  switch (data[0]) {
    case 'A':  // a crash
      std::abort();
    case 'O': {  // a read past the end of a heap block (AddressSanitizer)
      char* block = new char[4];
      std::memset(block, 0, 4);
      sink = static_cast<std::size_t>(block[4 + size % 2]);
      delete[] block;
      break;
    }
    case 'U': {  // signed overflow (UndefinedBehaviorSanitizer)
      int value = std::numeric_limits<int>::max() - static_cast<int>(size % 2);
      value += 2;
      sink = static_cast<std::size_t>(value);
      break;
    }
    case 'M': {  // a 3 GiB allocation (over -rss_limit_mb, so over libFuzzer's malloc limit)
      void* block = std::malloc((std::size_t{3} << 30) + size);
      sink = reinterpret_cast<std::uintptr_t>(block);
      std::free(block);
      break;
    }
    case 'L': {  // a leak (LeakSanitizer): only a bit of the pointer is kept, so nothing reaches it
      const char* lost = new char[64 + size];
      sink = reinterpret_cast<std::uintptr_t>(lost) & 1;
      break;
    }
    case 'H':  // a hang
      for (;;) sink = sink + 1;
    default: break;
  }
  return 0;
}
