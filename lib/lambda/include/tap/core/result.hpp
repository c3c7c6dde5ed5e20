// A value or an error, without exceptions: what every fallible function of the function returns.
// (std::expected is C++23; this is the small subset we need.) [[nodiscard]]: an ignored Result is an ignored
// error, so the compiler refuses it; a call site that may ignore one casts to void and says why.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace tap {

struct Error {
  std::string code;     // stable, machine-readable (e.g. "invalid_json", "ThrottlingException")
  std::string message;  // precise, human-readable reason
};

template <typename T, typename E = Error>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(E error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit by design

  [[nodiscard]] bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  [[nodiscard]] T& value() & { return std::get<0>(v_); }
  [[nodiscard]] const T& value() const& { return std::get<0>(v_); }
  [[nodiscard]] T&& value() && { return std::get<0>(std::move(v_)); }
  [[nodiscard]] const E& error() const { return std::get<1>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, E> v_;
};

}  // namespace tap
