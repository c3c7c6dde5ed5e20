#include "tap/api/page_parameters.hpp"

#include <algorithm>
#include <charconv>

namespace tap::api {

Result<std::uint32_t, Problem> parse_page_limit(std::string_view name, std::string_view value) {
  std::uint32_t n = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  const bool digits =
      !value.empty() && std::ranges::all_of(value, [](char c) { return c >= '0' && c <= '9'; });
  if (!digits || ec != std::errc{} || end != value.data() + value.size() || n < 1 || n > kMaxPage) {
    return invalid_input({FieldError{std::string(name), "an integer from 1 to " + std::to_string(kMaxPage)}});
  }
  return n;
}

Result<PagePosition, Problem> read_cursor(std::string_view text, const CursorScope& scope,
                                          const CursorKeys& keys, std::int64_t now_seconds) {
  auto position = decode_cursor(text, scope, keys, now_seconds);
  if (!position) {
    return make_problem(400, "invalid-cursor", "Invalid cursor", position.error().detail,
                        {FieldError{"cursor", std::string(reason_name(position.error().reason))}});
  }
  return std::move(position).value();
}

}  // namespace tap::api
