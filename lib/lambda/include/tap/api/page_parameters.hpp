// The paged lists' shared parameters (A2): `limit` (an integer from 1 to kMaxPage, default kDefaultPage;
// anything else is 422 naming it) and `cursor` (tap/api/cursor.hpp; one that does not decode for this list
// is 400 `invalid-cursor`, its reason in the field's message). Pure.
#pragma once

#include <cstdint>
#include <string_view>

#include "tap/api/api_response.hpp"
#include "tap/api/cursor.hpp"

namespace tap::api {

inline constexpr std::uint32_t kDefaultPage = 50;
inline constexpr std::uint32_t kMaxPage = 100;

Result<std::uint32_t, Problem> parse_page_limit(std::string_view name, std::string_view value);
Result<PagePosition, Problem> read_cursor(std::string_view text, const CursorScope& scope,
                                          const CursorKeys& keys, std::int64_t now_seconds);

}  // namespace tap::api
