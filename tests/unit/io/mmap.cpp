// Unit tests: MappedFile (read-only, RAII, 64-bit sizes) and the bounds-checked ByteReader.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>

#include <fcntl.h>
#include <unistd.h>

#include <forma/io/common.hpp>
#include <forma/io/mmap.hpp>

#include "test_support.hpp"

namespace io = forma::io;

namespace {
std::string scratch_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("forma-mmap-" + std::to_string(::getpid()) + "-" + name)).string();
}
}  // namespace

TEST_CASE("a sparse file of 5 GiB maps whole: bytes past 2^31 and 2^32 read back") {
  // ftruncate makes a sparse file: no disk is used for the holes, which read as zeros.
  const std::string path = scratch_path("sparse.bin");
  constexpr std::uint64_t size = (std::uint64_t{5} << 30) + 7;
  constexpr std::uint64_t offsets[] = {0, (std::uint64_t{1} << 31) - 1, std::uint64_t{1} << 31, (std::uint64_t{1} << 32) + 3,
                                       size - 1};
  {
    const int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(::ftruncate(fd, static_cast<off_t>(size)) == 0);
    unsigned char marker = 0x41;
    for (const std::uint64_t at : offsets) {
      REQUIRE(::pwrite(fd, &marker, 1, static_cast<off_t>(at)) == 1);
      ++marker;
    }
    REQUIRE(::close(fd) == 0);
  }
  auto file = io::MappedFile::open(path);
  REQUIRE_MESSAGE(file, forma::testing::error_text(file));
  CHECK(file->size() == size);
  const auto bytes = file->bytes();
  REQUIRE(bytes.size() == size);
  unsigned char marker = 0x41;
  for (const std::uint64_t at : offsets) {
    INFO("offset " << at);
    CHECK(static_cast<unsigned char>(bytes[at]) == marker++);
  }
  CHECK(bytes[(std::uint64_t{1} << 32) + 2] == std::byte{0});  // a hole
  // Moving keeps the mapping; the moved-from object is empty.
  io::MappedFile moved = std::move(*file);
  CHECK(moved.bytes().data() == bytes.data());
  CHECK(file->size() == 0);
  CHECK(file->bytes().empty());
  std::filesystem::remove(path);
}

TEST_CASE("opening: an empty file maps to an empty span, missing files and directories are Errors") {
  const std::string path = scratch_path("empty.bin");
  REQUIRE(io::write_file(path, ""));
  auto empty = io::MappedFile::open(path);
  REQUIRE(empty);
  CHECK(empty->bytes().empty());
  CHECK(empty->path() == path);
  std::filesystem::remove(path);
  CHECK(io::MappedFile::open(path).error().to_string() == path + ": cannot open: No such file or directory");
  CHECK(io::MappedFile::open("/").error().to_string() == "/: not a regular file");
}

TEST_CASE("ByteReader never reads past the end and leaves its position on a failed read") {
  const unsigned char raw[] = {1, 0, 0, 0, 2, 3};
  io::ByteReader reader(std::as_bytes(std::span(raw)));
  std::uint32_t word = 0;
  REQUIRE(reader.read(word));
  CHECK(word == 1);
  CHECK(reader.remaining() == 2);
  CHECK_FALSE(reader.read(word));
  CHECK(reader.position() == 4);
  std::span<const std::byte> out;
  CHECK_FALSE(reader.read_bytes(3, out));
  REQUIRE(reader.read_bytes(2, out));
  CHECK(out[1] == std::byte{3});
  CHECK_FALSE(reader.skip(1));
  CHECK(reader.rest().empty());
}
