// Unit tests: the KV cache — run-time length, capacity errors (returned or thrown), layer views.
#include <doctest/doctest.h>

#include <forma/forma.hpp>

using forma::dyn;
using forma::KVCache;

TEST_CASE_TEMPLATE("appending fills the cache and then fails with errc::capacity", Cache,
                   KVCache<2, 4, 2, 8>, KVCache<dyn, dyn, dyn, dyn>) {
  Cache cache = [] {
    if constexpr (Cache::extents_type::is_static()) {
      return Cache();
    } else {
      return Cache(2, 4, 2, 8);
    }
  }();
  CHECK(cache.capacity() == 4);
  CHECK(cache.append().value() == 0);
  CHECK(cache.append(2).value() == 1);
  CHECK(cache.length() == 3);
  const auto two_more = cache.append(2);
  REQUIRE_FALSE(two_more);
  CHECK(two_more.error().code == forma::errc::capacity);
  CHECK(two_more.error().message == "kv cache: appending position 4 past the capacity of 4");
  CHECK(cache.length() == 3);  // a failed append reserves nothing
  CHECK(cache.append_or_throw() == 3);
  CHECK(cache.full());
  try {
    (void)cache.append_or_throw();
    FAIL("append_or_throw on a full cache must throw");
  } catch (const forma::error_exception& e) {
    CHECK(e.error().code == forma::errc::capacity);
  }
  CHECK(cache.truncate(1));
  CHECK(cache.length() == 1);
  CHECK_FALSE(cache.truncate(2));
  cache.clear();
  CHECK(cache.length() == 0);
  // One layer is (capacity, kv_heads, head_dim), and layers do not overlap.
  auto keys0 = cache.keys(0), keys1 = cache.keys(1);
  CHECK(keys0.extent(0) == 4);
  CHECK(keys0.extent(1) == 2);
  CHECK(keys0.extent(2) == 8);
  CHECK(keys1.data() == keys0.data() + 4 * 2 * 8);
  CHECK(cache.values(1).data() != keys1.data());
}
