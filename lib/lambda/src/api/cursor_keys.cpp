#include "tap/api/cursor_keys.hpp"

#include <algorithm>
#include <charconv>

namespace tap::api {

std::int64_t key_period(std::int64_t now_seconds) {
  return std::max<std::int64_t>(now_seconds, 0) / kCursorKeyPeriodSeconds;
}

std::string key_id_for(std::int64_t period) { return "p" + std::to_string(period); }

std::optional<std::int64_t> period_of(std::string_view key_id) {
  if (key_id.size() < 2 || key_id.size() > 12 || key_id[0] != 'p') return std::nullopt;
  const std::string_view digits = key_id.substr(1);
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  if (digits.size() > 1 && digits[0] == '0') return std::nullopt;  // one text per period
  std::int64_t period = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), period);
  return period;
}

std::int64_t key_valid_until(std::int64_t period) {
  return (period + 1) * kCursorKeyPeriodSeconds + kCursorLifetimeSeconds;
}

kms::EncryptionContext key_context(std::string_view key_id) {
  return {{"purpose", "api-cursor"}, {"key_id", std::string(key_id)}};
}

CursorKeySource::CursorKeySource(CursorKeyStore& store, DataKeys& data_keys)
    : store_(store), data_keys_(data_keys) {}

Result<CursorKeys, AwsError> CursorKeySource::keys(std::int64_t now_seconds, Deadline deadline) {
  if (!keys_ || key_period(now_seconds) != loaded_period_) {
    auto loaded = load(now_seconds, deadline);
    if (!loaded) return loaded.error();
    keys_ = std::move(loaded).value();
    loaded_period_ = key_period(now_seconds);
  }
  return *keys_;
}

Result<CursorKeys, AwsError> CursorKeySource::load(std::int64_t now_seconds, Deadline deadline) {
  const std::int64_t current = key_period(now_seconds);
  auto stored = store_.list(deadline);
  if (!stored) return stored.error();
  bool added = false;
  for (const std::int64_t period : {current, current + 1}) {
    const std::string id = key_id_for(period);
    const bool present =
        std::any_of(stored->begin(), stored->end(), [&](const auto& k) { return k.id == id; });
    if (present) continue;
    auto made = data_keys_.generate(key_context(id), deadline);
    if (!made) return made.error();
    auto put = store_.add(StoredCursorKey{id, made->ciphertext, key_valid_until(period)}, deadline);
    if (!put) return put.error();
    added = true;
  }
  if (added) {  // read back: where another instance won the race, its key is the one
    stored = store_.list(deadline);
    if (!stored) return stored.error();
  }
  CursorKeys keys;
  bool have_current = false;
  for (const StoredCursorKey& k : stored.value()) {
    const auto period = period_of(k.id);
    if (!period || *period > current + 1 || key_valid_until(*period) < now_seconds) continue;
    auto secret = data_keys_.decrypt(k.ciphertext, key_context(k.id), deadline);
    if (!secret) return secret.error();
    CursorKey key{k.id, std::move(secret).value()};
    if (!valid_cursor_key(key)) {
      return make_aws_error("InvalidCursorKey", "cursor key " + k.id + " is not a 32-byte key");
    }
    if (*period == current) {
      keys.current = std::move(key);
      have_current = true;
    } else {
      keys.verify_only.push_back(std::move(key));
    }
  }
  if (!have_current) {
    return make_aws_error("MissingCursorKey", "no cursor key for period " + std::to_string(current));
  }
  return keys;
}

}  // namespace tap::api
