// forma/io/atomic_file.hpp — writing a file so that a crash or an error leaves the old file or the
// new one, never a part: the bytes go to PATH.tmp, which is fsynced and renamed over PATH, then the
// directory is fsynced. Every error is one line naming PATH.
//
//   AtomicFile out;
//   if (auto ok = out.open("model.gguf"); !ok) ...   // creates model.gguf.tmp
//   out.write(bytes);                                // as many times as needed
//   if (auto ok = out.commit(); !ok) ...             // fsync, rename, fsync the directory
//   // destroyed without commit (an error on the way): model.gguf.tmp is removed, model.gguf untouched
//
//   write_file_atomically(path, bytes)               // the same for bytes held in memory
#pragma once

#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

#include "forma/core/error.hpp"

namespace forma::io {

class AtomicFile {
 public:
  AtomicFile() = default;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile() { abandon(); }

  // Creates PATH.tmp (replacing a stale one).
  Result<void> open(const std::string& path) {
    abandon();
    path_ = path;
    temporary_ = path + ".tmp";
    fd_ = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) return failed("cannot create " + temporary_);
    return {};
  }

  Result<void> write(const void* data, std::size_t size) {
    if (fd_ < 0) return make_error(errc::io, "cannot write the file (not open)").with_path(path_);
    const auto* bytes = static_cast<const char*>(data);
    std::size_t done = 0;
    while (done < size) {
      const ssize_t n = ::write(fd_, bytes + done, size - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        Error e = failed("cannot write");
        abandon();
        return e;
      }
      done += static_cast<std::size_t>(n);
    }
    written_ += size;
    return {};
  }
  Result<void> write(std::string_view bytes) { return write(bytes.data(), bytes.size()); }

  // Bytes written so far.
  std::size_t size() const noexcept { return written_; }

  // Makes the file PATH: fsync, close, rename, fsync of the directory.
  Result<void> commit() {
    if (fd_ < 0) return make_error(errc::io, "cannot write the file (not open)").with_path(path_);
    if (::fsync(fd_) != 0) {
      Error e = failed("fsync failed");
      abandon();
      return e;
    }
    const int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0) {
      Error e = failed("close failed");
      std::remove(temporary_.c_str());
      return e;
    }
    if (std::rename(temporary_.c_str(), path_.c_str()) != 0) {
      Error e = failed("cannot rename " + temporary_ + " to it");
      std::remove(temporary_.c_str());
      return e;
    }
    const std::string dir = std::filesystem::path(path_).parent_path().string();
    const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
    return {};
  }

 private:
  Error failed(const std::string& what) const {
    return make_error(errc::io, what + ": " + std::strerror(errno)).with_path(path_);
  }
  // Closes and removes the temporary file, if one is open.
  void abandon() noexcept {
    if (fd_ < 0) return;
    ::close(fd_);
    fd_ = -1;
    std::remove(temporary_.c_str());
  }

  std::string path_, temporary_;
  int fd_ = -1;
  std::size_t written_ = 0;
};

// Writes `bytes` to `path` through path.tmp (see above).
inline Result<void> write_file_atomically(const std::string& path, std::string_view bytes) {
  AtomicFile file;
  if (auto ok = file.open(path); !ok) return ok;
  if (auto ok = file.write(bytes); !ok) return ok;
  return file.commit();
}

}  // namespace forma::io
