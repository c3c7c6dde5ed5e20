// The API's pagination cursors (A2): a page position -- the store's LastEvaluatedKey as opaque attribute
// name/value strings, typed again by the adapter that made it -- bound to the list it belongs to (owner,
// route, filters) and MAC'd, so that a client can neither forge a position, read another owner's list with
// its own cursor, nor replay a cursor on another route or other filters. Pure: the time is passed in.
//
// Text: base64url (RFC 4648 section 5, unpadded) of
//   u8 format (1) | u8 key id length, key id | u64 issued_at (Unix seconds, big-endian)
//   | 16 bytes scope tag = HMAC-SHA256(secret, "tap-cursor-scope" 0 canonical scope), first 16 bytes
//   | u8 field count | per field: u8 name length, name, u16 value length (big-endian), value
//   | 32 bytes MAC = HMAC-SHA256(secret, "tap-cursor" 0 everything before it)
// The canonical scope is owner, route and the filters sorted, each length-prefixed (no two scopes share
// one). The key id names the secret, so keys rotate: new cursors take the current key, and the others
// still verify while a cursor they made can be valid (tap/api/cursor_keys.hpp, docs/design.md section 13).
//
// decode refuses, with a reason (the API's 400): text that is not a cursor or is truncated (malformed), a
// key id the keyring does not hold (unknown_key), a MAC that does not verify (tampered), a valid cursor of
// another owner, route or filters (foreign), one older than the lifetime (expired). The MAC is checked
// before the scope and the age, so only cursors this service made can be called foreign or expired.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tap/core/result.hpp"

namespace tap::api {

// The store's page position (LastEvaluatedKey): attribute names and their values as text, in the store's
// order. At most kMaxPositionFields fields, names 1..64 bytes and unique, values up to 1024 bytes.
using PagePosition = std::vector<std::pair<std::string, std::string>>;

struct CursorScope {
  std::string owner;  // whose list: the caller, or the owner an operator named
  std::string route;  // the route key, e.g. "GET /alerts"
  // The list's filters in their normalised text; absent filters are left out. Order does not matter.
  std::vector<std::pair<std::string, std::string>> filters;
};

struct CursorKey {
  std::string id;      // 1..32 characters of [A-Za-z0-9_-]
  std::string secret;  // at least kMinCursorSecretBytes random bytes
};

struct CursorKeys {
  CursorKey current;                   // mints every new cursor
  std::vector<CursorKey> verify_only;  // accepted, never minting: the previous period's and the next one's
};

inline constexpr std::int64_t kCursorLifetimeSeconds = 7 * 86400;
inline constexpr std::size_t kMinCursorSecretBytes = 32;
inline constexpr std::size_t kMaxPositionFields = 8;
inline constexpr std::size_t kMaxPositionNameBytes = 64;
inline constexpr std::size_t kMaxPositionValueBytes = 1024;
inline constexpr std::size_t kMaxCursorLength = 4096;  // characters; longer input is refused unread

bool valid_cursor_key(const CursorKey& key);

// The cursor of `position` in `scope`, under keys.current (which must be valid_cursor_key). An error
// (code "cursor_position") when the position breaks the limits above: the adapter's bug, never the
// client's.
Result<std::string> encode_cursor(const PagePosition& position, const CursorScope& scope,
                                  const CursorKeys& keys, std::int64_t now_seconds);

struct CursorRefusal {
  enum class Reason { malformed, unknown_key, tampered, foreign, expired };
  Reason reason = Reason::malformed;
  std::string detail;  // for the problem document; never echoes the cursor or a secret
};

Result<PagePosition, CursorRefusal> decode_cursor(std::string_view text, const CursorScope& scope,
                                                  const CursorKeys& keys, std::int64_t now_seconds);

std::string_view reason_name(CursorRefusal::Reason reason);  // "malformed", "unknown_key", ...

}  // namespace tap::api
