// Where the cursor MAC keys come from and how they rotate (docs/design.md, section 13). Time is cut into
// periods of kCursorKeyPeriodSeconds; period p has its own key, id "p<p>": a 256-bit KMS data key, kept
// encrypted in the rules table (CursorKeyStore) and decrypted with KMS at load. New cursors take the key of
// the current period; a key is accepted while a cursor it made can still be valid: until (p + 1) * period +
// the cursor lifetime. Loading creates the current and the next period's key when absent (put if absent:
// racing instances agree on the winner's), so that every instance knows a key before any instance, whose
// clock runs ahead, mints with it. An instance reloads when its clock enters the next period.
// KMS calls: one Decrypt per accepted key at each load (two or three), one GenerateDataKey per period.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "tap/api/cursor.hpp"
#include "tap/app/cursor_key_ports.hpp"

namespace tap::api {

inline constexpr std::int64_t kCursorKeyPeriodSeconds = 30 * 86400;

std::int64_t key_period(std::int64_t now_seconds);
std::string key_id_for(std::int64_t period);
std::optional<std::int64_t> period_of(std::string_view key_id);  // nothing unless exactly "p<digits>"
// Until when cursors made with period p's key can be valid (and the key with them).
std::int64_t key_valid_until(std::int64_t period);
// The encryption context that binds a data key to its use and its id.
kms::EncryptionContext key_context(std::string_view key_id);

class CursorKeySource {
 public:
  CursorKeySource(CursorKeyStore& store, DataKeys& data_keys);

  // The keyring for `now_seconds`: loaded on first use and again when now enters another period.
  Result<CursorKeys, AwsError> keys(std::int64_t now_seconds, Deadline deadline);

 private:
  Result<CursorKeys, AwsError> load(std::int64_t now_seconds, Deadline deadline);

  CursorKeyStore& store_;
  DataKeys& data_keys_;
  std::optional<CursorKeys> keys_;
  std::int64_t loaded_period_ = -1;
};

}  // namespace tap::api
