// Helpers shared by the core's parsers (private to src/core): padded input buffers, full validation of
// values we do not otherwise read, duplicate-key detection.
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace tap::json {

// A reusable buffer with simdjson's required padding after the data (no allocation once warm). The padding
// is zeroed on every load, as in simdjson's padded_string: what simdjson reports for a truncated document
// can depend on the bytes after it, and must not depend on the previous document.
class PaddedBuffer {
 public:
  std::string_view load(std::string_view data) {
    if (buf_.size() < data.size() + simdjson::SIMDJSON_PADDING)
      buf_.resize(data.size() + simdjson::SIMDJSON_PADDING);
    data.copy(buf_.data(), data.size());
    std::memset(buf_.data() + data.size(), 0, simdjson::SIMDJSON_PADDING);
    size_ = data.size();
    return {buf_.data(), size_};
  }
  const char* data() const { return buf_.data(); }
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return buf_.size(); }

 private:
  std::string buf_;
  std::size_t size_ = 0;
};

// A field's key, unescaped. A key without a backslash (almost every key) is its own unescaped form: it is
// returned as a view into the document (valid as long as the document's buffer) instead of being copied
// into the parser's string buffer; any other key is unescaped (and validated) by simdjson. Stage 1 has
// checked that every string is closed, so the scan stops inside the document.
inline simdjson::simdjson_result<std::string_view> key_of(simdjson::ondemand::field& field) {
  const char* const raw = field.key().raw();
  const char* end = raw;
  while (*end != '"' && *end != '\\') ++end;
  if (*end == '"') return std::string_view(raw, static_cast<std::size_t>(end - raw));
  return field.unescaped_key();
}

// Keys of one object seen so far, to report duplicate keys.
class KeySet {
 public:
  // Returns false if `key` was already seen.
  bool insert(std::string_view key) {
    for (const auto& k : keys_) {
      if (k == key) return false;
    }
    keys_.push_back(key);
    return true;
  }
  void clear() { keys_.clear(); }

 private:
  std::vector<std::string_view> keys_;  // point into the document or the parser's string buffer
};

enum class WalkStatus { ok, invalid, too_deep, duplicate_key };

// Consumes a value completely, validating every token (On-Demand would otherwise skip unread values
// without validating them), rejecting duplicate keys in nested objects and nesting beyond max_depth
// (`depth` is the depth of the value itself). On failure `error` holds simdjson's error for `invalid` and
// `detail` the offending key for `duplicate_key`.
WalkStatus walk_value(simdjson::ondemand::value value, std::size_t depth, std::size_t max_depth,
                      simdjson::error_code& error, std::string& detail);

}  // namespace tap::json
