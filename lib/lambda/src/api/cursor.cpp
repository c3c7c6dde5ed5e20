#include "tap/api/cursor.hpp"

#include <algorithm>
#include <optional>

#include "tap/aws/sigv4.hpp"
#include "tap/core/base64.hpp"

namespace tap::api {
namespace {

constexpr std::uint8_t kFormat = 1;
constexpr std::size_t kScopeTagBytes = 16;
constexpr std::size_t kMacBytes = 32;
constexpr std::size_t kMaxKeyIdLength = 32;
// Labels keep the two HMAC uses of one secret apart.
constexpr std::string_view kScopeLabel{"tap-cursor-scope\0", 17};
constexpr std::string_view kMacLabel{"tap-cursor\0", 11};

void put_u8(std::string& out, std::size_t v) { out.push_back(static_cast<char>(v & 0xff)); }
void put_u16(std::string& out, std::size_t v) {
  put_u8(out, v >> 8);
  put_u8(out, v);
}
void put_u32(std::string& out, std::size_t v) {
  put_u16(out, v >> 16);
  put_u16(out, v);
}
void put_u64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) put_u8(out, static_cast<std::size_t>(v >> shift));
}

std::string canonical_scope(const CursorScope& scope) {
  auto filters = scope.filters;
  std::sort(filters.begin(), filters.end());
  std::string out;
  const auto field = [&out](std::string_view s) {
    put_u32(out, s.size());
    out += s;
  };
  field(scope.owner);
  field(scope.route);
  put_u32(out, filters.size());
  for (const auto& [name, value] : filters) {
    field(name);
    field(value);
  }
  return out;
}

std::string scope_tag(const CursorScope& scope, std::string_view secret) {
  std::string message(kScopeLabel);
  message += canonical_scope(scope);
  return sigv4::hmac_sha256(secret, message).substr(0, kScopeTagBytes);
}

std::string mac(std::string_view body, std::string_view secret) {
  std::string message(kMacLabel);
  message += body;
  return sigv4::hmac_sha256(secret, message);
}

bool key_id_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool valid_key_id(std::string_view id) {
  return !id.empty() && id.size() <= kMaxKeyIdLength && std::all_of(id.begin(), id.end(), key_id_char);
}

// Equal without an early exit, so that the time taken does not say how much of a MAC matched.
bool same_bytes(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

const CursorKey* find_key(const CursorKeys& keys, std::string_view id) {
  if (keys.current.id == id) return &keys.current;
  const auto it = std::find_if(keys.verify_only.begin(), keys.verify_only.end(),
                               [id](const CursorKey& k) { return k.id == id; });
  return it == keys.verify_only.end() ? nullptr : &*it;
}

// Reads the binary body front to back; every read fails (nullopt) past the end.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  std::optional<std::size_t> u8() {
    if (pos_ >= bytes_.size()) return std::nullopt;
    return static_cast<std::uint8_t>(bytes_[pos_++]);
  }
  std::optional<std::size_t> u16() {
    const auto hi = u8();
    const auto lo = u8();
    if (!hi || !lo) return std::nullopt;
    return (*hi << 8) | *lo;
  }
  std::optional<std::uint64_t> u64() {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) {
      const auto b = u8();
      if (!b) return std::nullopt;
      v = (v << 8) | *b;
    }
    return v;
  }
  std::optional<std::string_view> take(std::size_t n) {
    if (bytes_.size() - pos_ < n) return std::nullopt;
    const auto out = bytes_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  [[nodiscard]] std::size_t pos() const { return pos_; }
  [[nodiscard]] std::size_t left() const { return bytes_.size() - pos_; }

 private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
};

CursorRefusal refuse(CursorRefusal::Reason reason, std::string detail) { return {reason, std::move(detail)}; }

CursorRefusal malformed() {
  return refuse(CursorRefusal::Reason::malformed,
                "the cursor is not one this API issued (malformed or truncated)");
}

struct Parsed {
  std::string_view key_id;
  std::uint64_t issued_at = 0;
  std::string_view tag;
  PagePosition position;
  std::string_view body;  // everything the MAC covers
  std::string_view mac;
};

std::optional<Parsed> parse(std::string_view bytes) {
  Reader r(bytes);
  Parsed p;
  const auto format = r.u8();
  if (format != kFormat) return std::nullopt;
  const auto id_length = r.u8();
  if (!id_length) return std::nullopt;
  const auto id = r.take(*id_length);
  const auto issued = r.u64();
  const auto tag = r.take(kScopeTagBytes);
  const auto count = r.u8();
  if (!id || !issued || !tag || !count || *count > kMaxPositionFields) return std::nullopt;
  p.key_id = *id;
  p.issued_at = *issued;
  p.tag = *tag;
  for (std::size_t i = 0; i < *count; ++i) {
    const auto name_length = r.u8();
    if (!name_length || *name_length == 0 || *name_length > kMaxPositionNameBytes) return std::nullopt;
    const auto name = r.take(*name_length);
    const auto value_length = r.u16();
    if (!name || !value_length || *value_length > kMaxPositionValueBytes) return std::nullopt;
    const auto value = r.take(*value_length);
    if (!value) return std::nullopt;
    const bool repeated = std::any_of(p.position.begin(), p.position.end(),
                                      [&](const auto& field) { return field.first == *name; });
    if (repeated) return std::nullopt;
    p.position.emplace_back(*name, *value);
  }
  if (r.left() != kMacBytes) return std::nullopt;
  p.body = bytes.substr(0, r.pos());
  p.mac = bytes.substr(r.pos());
  return p;
}

std::optional<std::string> check_position(const PagePosition& position) {
  if (position.size() > kMaxPositionFields) return "more than 8 fields";
  for (std::size_t i = 0; i < position.size(); ++i) {
    const auto& [name, value] = position[i];
    if (name.empty() || name.size() > kMaxPositionNameBytes)
      return "a field name of " + std::to_string(name.size()) + " bytes";
    if (value.size() > kMaxPositionValueBytes)
      return "field " + name + " holds " + std::to_string(value.size()) + " bytes";
    for (std::size_t j = 0; j < i; ++j) {
      if (position[j].first == name) return "field " + name + " twice";
    }
  }
  return std::nullopt;
}

}  // namespace

bool valid_cursor_key(const CursorKey& key) {
  return valid_key_id(key.id) && key.secret.size() >= kMinCursorSecretBytes;
}

Result<std::string> encode_cursor(const PagePosition& position, const CursorScope& scope,
                                  const CursorKeys& keys, std::int64_t now_seconds) {
  if (const auto problem = check_position(position)) {
    return Error{"cursor_position", "page position not encodable: " + *problem};
  }
  const CursorKey& key = keys.current;
  std::string body;
  put_u8(body, kFormat);
  put_u8(body, key.id.size());
  body += key.id;
  put_u64(body, static_cast<std::uint64_t>(std::max<std::int64_t>(now_seconds, 0)));
  body += scope_tag(scope, key.secret);
  put_u8(body, position.size());
  for (const auto& [name, value] : position) {
    put_u8(body, name.size());
    body += name;
    put_u16(body, value.size());
    body += value;
  }
  body += mac(body, key.secret);
  std::string text = base64::encode_url(body);
  if (text.size() > kMaxCursorLength) {
    return Error{"cursor_position",
                 "page position not encodable: " + std::to_string(text.size()) + " characters"};
  }
  return text;
}

Result<PagePosition, CursorRefusal> decode_cursor(std::string_view text, const CursorScope& scope,
                                                  const CursorKeys& keys, std::int64_t now_seconds) {
  if (text.empty() || text.size() > kMaxCursorLength) return malformed();
  const auto bytes = base64::decode_url(text);
  if (!bytes) return malformed();
  auto parsed = parse(*bytes);
  if (!parsed) return malformed();
  const CursorKey* key = valid_key_id(parsed->key_id) ? find_key(keys, parsed->key_id) : nullptr;
  if (key == nullptr) {
    return refuse(CursorRefusal::Reason::unknown_key,
                  "the cursor was signed with a key this API no longer accepts; list again from the start");
  }
  if (!same_bytes(parsed->mac, mac(parsed->body, key->secret))) {
    return refuse(CursorRefusal::Reason::tampered, "the cursor's signature does not verify");
  }
  if (!same_bytes(parsed->tag, scope_tag(scope, key->secret))) {
    return refuse(CursorRefusal::Reason::foreign,
                  "the cursor belongs to another list (owner, route or filters differ)");
  }
  // Unsigned: the issue time is the encoder's non-negative clock; a cursor from ahead of ours is young.
  const auto now = static_cast<std::uint64_t>(std::max<std::int64_t>(now_seconds, 0));
  if (now > parsed->issued_at &&
      now - parsed->issued_at > static_cast<std::uint64_t>(kCursorLifetimeSeconds)) {
    return refuse(CursorRefusal::Reason::expired, "the cursor is older than " +
                                                      std::to_string(kCursorLifetimeSeconds / 86400) +
                                                      " days; list again from the start");
  }
  return std::move(parsed->position);
}

std::string_view reason_name(CursorRefusal::Reason reason) {
  static constexpr std::string_view kNames[] = {"malformed", "unknown_key", "tampered", "foreign", "expired"};
  return kNames[static_cast<std::size_t>(reason)];
}

}  // namespace tap::api
