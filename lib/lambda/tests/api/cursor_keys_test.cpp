#include "tap/api/cursor_keys.hpp"

#include <gtest/gtest.h>

#include "fake_cursor_keys.hpp"

namespace tap::api {
namespace {

constexpr std::int64_t kPeriod = kCursorKeyPeriodSeconds;
constexpr std::int64_t kStart = 700 * kPeriod + 1234;  // inside period 700

Deadline deadline() { return SteadyClock::now() + std::chrono::seconds(5); }

TEST(CursorKeyPolicy, PeriodsAndIds) {
  EXPECT_EQ(key_period(kStart), 700);
  EXPECT_EQ(key_period(-5), 0);
  EXPECT_EQ(key_id_for(700), "p700");
  EXPECT_EQ(period_of("p700"), 700);
  EXPECT_EQ(period_of("p0"), 0);
  for (const std::string_view bad : {"", "p", "q700", "p07", "p7a", "p-1", "p12345678901234", "P700"}) {
    EXPECT_EQ(period_of(bad), std::nullopt) << bad;
  }
  // Every key id is a valid cursor key id.
  EXPECT_TRUE(valid_cursor_key({key_id_for(99'999'999'999), std::string(32, 's')}));
  // A key is good for its period, and its last cursors for their lifetime after it.
  EXPECT_EQ(key_valid_until(700), 701 * kPeriod + kCursorLifetimeSeconds);
  EXPECT_EQ(key_context("p700"), (kms::EncryptionContext{{"purpose", "api-cursor"}, {"key_id", "p700"}}));
}

TEST(CursorKeySource, FirstLoadCreatesThisPeriodsAndTheNextKey) {
  FakeKeyStore store;
  FakeDataKeys data_keys;
  CursorKeySource source(store, data_keys);
  const auto keys = source.keys(kStart, deadline());
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->current.id, "p700");
  ASSERT_EQ(keys->verify_only.size(), 1U);
  EXPECT_EQ(keys->verify_only[0].id, "p701");
  EXPECT_EQ(data_keys.generated, 2);
  EXPECT_EQ(store.items.at("p700").expires_at_seconds, key_valid_until(700));
  EXPECT_EQ(store.items.at("p701").expires_at_seconds, key_valid_until(701));
  // The stored blob is the encrypted key, never the plain one.
  EXPECT_NE(store.items.at("p700").ciphertext, keys->current.secret);
  EXPECT_EQ(keys->current.secret.size(), 32U);
}

TEST(CursorKeySource, ALostRaceTakesTheWinnersKey) {
  FakeKeyStore store;
  FakeDataKeys data_keys;
  store.rival.emplace("p700",
                      StoredCursorKey{"p700", "enc:p700:" + std::string(32, 'W'), key_valid_until(700)});
  CursorKeySource source(store, data_keys);
  const auto keys = source.keys(kStart, deadline());
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->current.secret, std::string(32, 'W'));  // every instance MACs with the same key
}

TEST(CursorKeySource, CachesWithinAPeriodAndRotatesAtItsEnd) {
  FakeKeyStore store;
  FakeDataKeys data_keys;
  CursorKeySource source(store, data_keys);
  const auto first = source.keys(kStart, deadline());
  ASSERT_TRUE(first.ok());
  // A cursor made in period 700's last minute, read in period 701's first.
  const std::string cursor =
      encode_cursor({{"k", "v"}}, {"o", "r", {}}, first.value(), 701 * kPeriod - 60).value();
  const int lists = store.lists;
  ASSERT_TRUE(source.keys(kStart + 3600, deadline()).ok());
  EXPECT_EQ(store.lists, lists);  // no request within the period
  EXPECT_EQ(data_keys.decrypted, 2);
  // Next period: p701 mints (made last period, so instances whose clock lags already accept it), p702 is
  // created, and p700's cursors still decode.
  const auto next = source.keys(701 * kPeriod, deadline());
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->current.id, "p701");
  EXPECT_EQ(next->current.secret, first->verify_only[0].secret);
  EXPECT_TRUE(decode_cursor(cursor, {"o", "r", {}}, next.value(), 701 * kPeriod).ok());
  EXPECT_EQ(data_keys.generated, 3);
  // Once the lifetime after its period has passed, p700's cursors have all expired, and a load from then
  // on no longer opens p700.
  const std::int64_t later = key_valid_until(700) + 1;
  const auto cached = source.keys(later, deadline());
  ASSERT_TRUE(cached.ok());
  EXPECT_EQ(decode_cursor(cursor, {"o", "r", {}}, cached.value(), later).error().reason,
            CursorRefusal::Reason::expired);
  CursorKeySource fresh(store, data_keys);
  const auto after = fresh.keys(later, deadline());
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->current.id, "p701");
  ASSERT_EQ(after->verify_only.size(), 1U);
  EXPECT_EQ(after->verify_only[0].id, "p702");
}

TEST(CursorKeySource, SkipsKeysItCannotUse) {
  FakeKeyStore store;
  FakeDataKeys data_keys;
  CursorKeySource source(store, data_keys);
  ASSERT_TRUE(source.keys(kStart, deadline()).ok());
  // Ids of no period, and periods beyond the next, are not ours to accept.
  store.items.emplace("manual", StoredCursorKey{"manual", "enc:manual:" + std::string(32, 'm'), kStart * 2});
  store.items.emplace("p900", StoredCursorKey{"p900", "enc:p900:" + std::string(32, 'f'), kStart * 2});
  CursorKeySource fresh(store, data_keys);
  const auto keys = fresh.keys(kStart, deadline());
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->verify_only.size(), 1U);
}

TEST(CursorKeySource, FailuresAreErrorsAndNothingIsCached) {
  FakeKeyStore store;
  FakeDataKeys data_keys;
  CursorKeySource source(store, data_keys);
  store.fail_list = true;
  EXPECT_EQ(source.keys(kStart, deadline()).error().code, "ProvisionedThroughputExceededException");
  store.fail_list = false;
  data_keys.fail_generate = true;
  EXPECT_EQ(source.keys(kStart, deadline()).error().code, "NotFoundException");
  data_keys.fail_generate = false;
  store.fail_add = true;
  EXPECT_EQ(source.keys(kStart, deadline()).error().code, "InternalServerError");
  store.fail_add = false;
  // A blob that does not open under its context (moved to another id), or a key of the wrong size.
  store.items.emplace("p700",
                      StoredCursorKey{"p700", "enc:p699:" + std::string(32, 'x'), key_valid_until(700)});
  store.items.emplace("p701",
                      StoredCursorKey{"p701", "enc:p701:" + std::string(32, 'y'), key_valid_until(701)});
  EXPECT_EQ(source.keys(kStart, deadline()).error().code, "InvalidCiphertextException");
  store.items.at("p700").ciphertext = "enc:p700:short";
  EXPECT_EQ(source.keys(kStart, deadline()).error().code, "InvalidCursorKey");
  // The current period's key gone (say, deleted by hand) while the store refuses new ones: no keyring.
  store.items.erase("p700");
  store.rival.emplace("p700", StoredCursorKey{"p7000", "enc:p7000:" + std::string(32, 'z'), 0});
  store.items.erase("p701");
  store.items.emplace("p701",
                      StoredCursorKey{"p701", "enc:p701:" + std::string(32, 'y'), key_valid_until(701)});
  EXPECT_EQ(source.keys(kStart, deadline()).error().code, "MissingCursorKey");
  // Once the store is whole, the next call loads.
  store.items.erase("p700");
  store.rival.clear();
  EXPECT_TRUE(source.keys(kStart, deadline()).ok());
}

}  // namespace
}  // namespace tap::api
