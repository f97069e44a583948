// forma/io/mmap.hpp — read-only memory maps and the bounds-checked byte reader every parser uses.
//
// MappedFile maps a whole file read-only (RAII; 64-bit offsets, so files > 2 GiB work; an empty
// file maps to an empty span). Parsers take a std::span<const std::byte> and read it through
// ByteReader, which never reads past the end: every read says whether it fit.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "forma/core/error.hpp"

namespace forma::io {

class MappedFile {
 public:
  MappedFile() noexcept = default;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& other) noexcept
      : path_(std::move(other.path_)),
        data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)) {}
  MappedFile& operator=(MappedFile&& other) noexcept {
    if (this != &other) {
      unmap();
      path_ = std::move(other.path_);
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  ~MappedFile() { unmap(); }

  static Result<MappedFile> open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return failure(path, "cannot open");
    struct stat info {};
    if (::fstat(fd, &info) != 0) {
      Error error = failure(path, "cannot stat");
      ::close(fd);
      return error;
    }
    if (!S_ISREG(info.st_mode)) {
      ::close(fd);
      return make_error(errc::io, "not a regular file").with_path(path);
    }
    MappedFile file;
    file.path_ = path;
    file.size_ = static_cast<std::size_t>(info.st_size);
    if (file.size_ > 0) {
      void* address = ::mmap(nullptr, file.size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (address == MAP_FAILED) {
        Error error = failure(path, "cannot map");
        ::close(fd);
        return error;
      }
      file.data_ = address;
    }
    ::close(fd);  // the mapping stays valid without the descriptor
    return file;
  }

  std::span<const std::byte> bytes() const noexcept {
    return {static_cast<const std::byte*>(data_), size_};
  }
  std::size_t size() const noexcept { return size_; }
  const std::string& path() const noexcept { return path_; }

 private:
  static Error failure(const std::string& path, const char* what) {
    return make_error(errc::io, std::string(what) + ": " + std::strerror(errno)).with_path(path);
  }
  void unmap() noexcept {
    if (data_ != nullptr) ::munmap(data_, size_);
    data_ = nullptr;
    size_ = 0;
  }

  std::string path_;
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

// Sequential little-endian reads from a byte span; a read that does not fit returns false and
// leaves the position unchanged.
class ByteReader {
 public:
  explicit ByteReader(std::span<const std::byte> bytes) noexcept : bytes_(bytes) {}

  std::size_t position() const noexcept { return position_; }
  std::size_t remaining() const noexcept { return bytes_.size() - position_; }
  std::span<const std::byte> rest() const noexcept { return bytes_.subspan(position_); }

  template <class T>
  bool read(T& value) noexcept {
    static_assert(std::is_trivially_copyable_v<T>);
    if (remaining() < sizeof(T)) return false;
    std::memcpy(&value, bytes_.data() + position_, sizeof(T));
    position_ += sizeof(T);
    return true;
  }
  bool read_bytes(std::size_t count, std::span<const std::byte>& out) noexcept {
    if (remaining() < count) return false;
    out = bytes_.subspan(position_, count);
    position_ += count;
    return true;
  }
  bool skip(std::size_t count) noexcept {
    if (remaining() < count) return false;
    position_ += count;
    return true;
  }

 private:
  std::span<const std::byte> bytes_;
  std::size_t position_ = 0;
};

}  // namespace forma::io
