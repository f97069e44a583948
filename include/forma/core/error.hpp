// forma/core/error.hpp — one structured error type and a std::expected-like Result.
//
// Expected failures (files, user input, token ids) come back as Result<T>; the Error inside names
// the file, the tensor, and what was expected and found, and prints itself on one line:
//   "weights.npy: expected shape (3, 4), file has (4, 3)"
//   "model.safetensors: tensor 'wq': expected dtype f32, file has bf16"
#pragma once

#include <concepts>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <memory>
#include <functional>

#include "forma/core/config.hpp"

namespace forma {

enum class errc : std::uint8_t {
  io,                 // the file could not be opened, read, mapped or written
  bad_format,         // not the format it claims to be (magic, header syntax, version)
  unsupported,        // a valid file using a feature forma does not read
  truncated,          // the file ends before the data it declares
  shape_mismatch,     // the shape differs from the one the type asks for
  dtype_mismatch,     // the element type differs from the one the type asks for
  out_of_range,       // an index, token id or position outside its range
  invalid_argument,   // a bad value from the caller (sizes, options, text)
  not_found,          // a named tensor or entry is not there
  capacity,           // a fixed-capacity buffer (KV cache, context) is full
  device,             // a device (CUDA, cuBLAS) call failed, or there is no usable device
};

constexpr std::string_view name_of(errc code) noexcept {
  switch (code) {
    case errc::io: return "io";
    case errc::bad_format: return "bad_format";
    case errc::unsupported: return "unsupported";
    case errc::truncated: return "truncated";
    case errc::shape_mismatch: return "shape_mismatch";
    case errc::dtype_mismatch: return "dtype_mismatch";
    case errc::out_of_range: return "out_of_range";
    case errc::invalid_argument: return "invalid_argument";
    case errc::not_found: return "not_found";
    case errc::capacity: return "capacity";
    case errc::device: return "device";
  }
  return "?";
}

struct Error {
  errc code = errc::invalid_argument;
  std::string message;   // what went wrong, in words, including expected/found where they exist
  std::string path;      // the file concerned, if any
  std::string tensor;    // the tensor (or header field) concerned, if any
  std::string expected;  // the expected value as text ("(3, 4)", "f32"), if it applies
  std::string found;     // the value found, if it applies

  // "path: tensor 'name': message" — the parts that are present.
  std::string to_string() const {
    std::string line;
    if (!path.empty()) line += path + ": ";
    if (!tensor.empty()) line += "tensor '" + tensor + "': ";
    return line + message;
  }

  // Builders that return a new Error (by value, so `e = std::move(e).with_path(p)` is safe).
  Error with_path(std::string file) && {
    path = std::move(file);
    return std::move(*this);
  }
  Error with_tensor(std::string name) && {
    tensor = std::move(name);
    return std::move(*this);
  }
};

// "expected shape (3, 4), file has (4, 3)": a mismatch whose words name both values.
inline Error mismatch(errc code, std::string_view what, std::string expected, std::string found,
                      std::string_view found_label = "found") {
  Error error;
  error.code = code;
  error.message = "expected " + std::string(what) + ' ' + expected + ", " +
                  std::string(found_label) + ' ' + found;
  error.expected = std::move(expected);
  error.found = std::move(found);
  return error;
}

inline Error make_error(errc code, std::string message) {
  Error error;
  error.code = code;
  error.message = std::move(message);
  return error;
}

// Thrown by Result::value() on an error (and by APIs that chose exceptions).
class error_exception : public std::runtime_error {
 public:
  explicit error_exception(Error error)
      : std::runtime_error(error.to_string()), error_(std::move(error)) {}
  const Error& error() const noexcept { return error_; }

 private:
  Error error_;
};

template <class T>
class Result;

namespace detail {
template <class T>
inline constexpr bool is_result_v = false;
template <class T>
inline constexpr bool is_result_v<Result<T>> = true;

[[noreturn]] inline void throw_error(const Error& error) {
#if FORMA_HAS_EXCEPTIONS
  throw error_exception(error);
#else
  std::fputs(("forma: " + error.to_string() + "\n").c_str(), stderr);
  std::abort();
#endif
}
}  // namespace detail

// A value or an Error. Like std::expected<T, Error> (C++23), which C++20 lacks. (A tagged union
// rather than std::variant, whose destructor trips GCC 12's -Wmaybe-uninitialized at -O3.)
template <class T>
class [[nodiscard]] Result {
  static_assert(!std::is_reference_v<T> && !std::is_same_v<std::remove_cv_t<T>, Error>,
                "Result<T>: T must be an object type other than Error");

 public:
  using value_type = T;

  template <class U = T>
    requires(std::constructible_from<T, U &&> &&
             !std::is_same_v<std::remove_cvref_t<U>, Result> &&
             !std::is_same_v<std::remove_cvref_t<U>, Error>)
  Result(U&& value) : has_value_(true) {  // NOLINT: implicit, like std::expected
    std::construct_at(&value_, std::forward<U>(value));
  }

  Result(Error error) : has_value_(false) {  // NOLINT
    std::construct_at(&error_, std::move(error));
  }

  Result(const Result& other) : has_value_(other.has_value_) {
    if (has_value_) {
      std::construct_at(&value_, other.value_);
    } else {
      std::construct_at(&error_, other.error_);
    }
  }
  Result(Result&& other) noexcept(std::is_nothrow_move_constructible_v<T>)
      : has_value_(other.has_value_) {
    if (has_value_) {
      std::construct_at(&value_, std::move(other.value_));
    } else {
      std::construct_at(&error_, std::move(other.error_));
    }
  }
  Result& operator=(const Result& other) {
    if (this != &other) {
      destroy();
      has_value_ = other.has_value_;
      if (has_value_) {
        std::construct_at(&value_, other.value_);
      } else {
        std::construct_at(&error_, other.error_);
      }
    }
    return *this;
  }
  Result& operator=(Result&& other) noexcept(std::is_nothrow_move_constructible_v<T>) {
    if (this != &other) {
      destroy();
      has_value_ = other.has_value_;
      if (has_value_) {
        std::construct_at(&value_, std::move(other.value_));
      } else {
        std::construct_at(&error_, std::move(other.error_));
      }
    }
    return *this;
  }
  ~Result() { destroy(); }

  bool has_value() const noexcept { return has_value_; }
  explicit operator bool() const noexcept { return has_value_; }

  T& value() & {
    if (!has_value_) detail::throw_error(error_);
    return value_;
  }
  const T& value() const& {
    if (!has_value_) detail::throw_error(error_);
    return value_;
  }
  T&& value() && {
    if (!has_value_) detail::throw_error(error_);
    return std::move(value_);
  }

  // Unchecked access; the caller has tested has_value().
  T& operator*() & noexcept { return value_; }
  const T& operator*() const& noexcept { return value_; }
  T&& operator*() && noexcept { return std::move(value_); }
  T* operator->() noexcept { return &value_; }
  const T* operator->() const noexcept { return &value_; }

  // The error; only valid when !has_value().
  const Error& error() const& noexcept { return error_; }
  Error&& error() && noexcept { return std::move(error_); }

  template <class U>
  T value_or(U&& fallback) const& {
    return has_value_ ? value_ : static_cast<T>(std::forward<U>(fallback));
  }

  // f(T) → Result<U>: chains another fallible step.
  template <class F>
  auto and_then(F&& f) && {
    using R = std::remove_cvref_t<std::invoke_result_t<F, T&&>>;
    static_assert(detail::is_result_v<R>, "and_then: the function must return a Result");
    if (!has_value_) return R(std::move(error_));
    return std::forward<F>(f)(std::move(value_));
  }

  // f(T) → U: maps the value, keeps the error.
  template <class F>
  auto transform(F&& f) && {
    using U = std::remove_cvref_t<std::invoke_result_t<F, T&&>>;
    if (!has_value_) return Result<U>(std::move(error_));
    return Result<U>(std::forward<F>(f)(std::move(value_)));
  }

 private:
  void destroy() noexcept {
    if (has_value_) {
      std::destroy_at(&value_);
    } else {
      std::destroy_at(&error_);
    }
  }

  union {
    T value_;
    Error error_;
  };
  bool has_value_;
};

// Result<void>: success or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  using value_type = void;

  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT

  bool has_value() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return has_value(); }
  void value() const {
    if (failed_) detail::throw_error(error_);
  }
  const Error& error() const& noexcept { return error_; }
  Error&& error() && noexcept { return std::move(error_); }

 private:
  Error error_{};
  bool failed_ = false;
};

}  // namespace forma
