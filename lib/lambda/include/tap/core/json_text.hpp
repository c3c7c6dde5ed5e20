// Writing JSON text: string escaping that always yields valid JSON (invalid UTF-8 becomes U+FFFD) and
// numbers in their shortest round-trip form. The one JSON writer of the function:
// alert records, AWS request bodies, the runtime client, logs and EMF metrics.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tap::json {

// Appends `text` as a quoted JSON string.
void append_string(std::string& out, std::string_view text);
// Appends a finite double in shortest form; a non-finite value (not representable in JSON) as null.
void append_number(std::string& out, double value);
void append_number(std::string& out, std::int64_t value);
void append_number(std::string& out, std::uint64_t value);

}  // namespace tap::json
