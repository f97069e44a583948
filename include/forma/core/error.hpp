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
#include <variant>

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

  Error&& with_path(std::string file) && {
    path = std::move(file);
    return std::move(*this);
  }
  Error&& with_tensor(std::string name) && {
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

// A value or an Error. Like std::expected<T, Error> (C++23), which C++20 lacks.
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
  Result(U&& value) : state_(std::in_place_index<0>, std::forward<U>(value)) {}  // NOLINT

  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool has_value() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & {
    if (!has_value()) detail::throw_error(error());
    return *std::get_if<0>(&state_);
  }
  const T& value() const& {
    if (!has_value()) detail::throw_error(error());
    return *std::get_if<0>(&state_);
  }
  T&& value() && {
    if (!has_value()) detail::throw_error(error());
    return std::move(*std::get_if<0>(&state_));
  }

  // Unchecked access; the caller has tested has_value().
  T& operator*() & noexcept { return *std::get_if<0>(&state_); }
  const T& operator*() const& noexcept { return *std::get_if<0>(&state_); }
  T&& operator*() && noexcept { return std::move(*std::get_if<0>(&state_)); }
  T* operator->() noexcept { return std::get_if<0>(&state_); }
  const T* operator->() const noexcept { return std::get_if<0>(&state_); }

  // The error; only valid when !has_value().
  const Error& error() const& noexcept { return *std::get_if<1>(&state_); }
  Error&& error() && noexcept { return std::move(*std::get_if<1>(&state_)); }

  template <class U>
  T value_or(U&& fallback) const& {
    return has_value() ? **this : static_cast<T>(std::forward<U>(fallback));
  }

  // f(T) → Result<U>: chains another fallible step.
  template <class F>
  auto and_then(F&& f) && {
    using R = std::remove_cvref_t<std::invoke_result_t<F, T&&>>;
    static_assert(detail::is_result_v<R>, "and_then: the function must return a Result");
    if (!has_value()) return R(std::move(*this).error());
    return std::forward<F>(f)(std::move(**this));
  }

  // f(T) → U: maps the value, keeps the error.
  template <class F>
  auto transform(F&& f) && {
    using U = std::remove_cvref_t<std::invoke_result_t<F, T&&>>;
    if (!has_value()) return Result<U>(std::move(*this).error());
    return Result<U>(std::forward<F>(f)(std::move(**this)));
  }

 private:
  std::variant<T, Error> state_;
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
