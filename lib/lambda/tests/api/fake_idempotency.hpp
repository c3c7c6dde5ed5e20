// An in-memory IdempotencyStore with the contract of include/tap/app/rules_store.hpp: take is one atomic
// check-and-set (free = absent, expired, or in flight past its lease), complete and release act on the
// record as stored. Hooks: fail_next fails the next request of that name; before_take runs inside take
// (a concurrent request arriving in between).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>

#include "fake_rules_store.hpp"
#include "tap/app/rules_store.hpp"

namespace tap::test_support {

class FakeIdempotency final : public IdempotencyStore {
 public:
  Result<std::optional<IdempotencyRecord>, AwsError> take(std::string_view owner, std::string_view key,
                                                          const IdempotencyRecord& taken, std::int64_t now,
                                                          Deadline) override {
    if (fail_next == "take") return failed();
    auto& slot = records[{std::string(owner), std::string(key)}];
    if (!slot || slot->expires_at_micros <= now || (!slot->complete && slot->lease_until_micros <= now)) {
      slot = taken;
      return std::optional<IdempotencyRecord>();
    }
    return slot;
  }
  Result<bool, AwsError> complete(std::string_view owner, std::string_view key, const IdempotencyRecord& done,
                                  Deadline) override {
    if (fail_next == "complete") return failed();
    records[{std::string(owner), std::string(key)}] = done;
    return true;
  }
  Result<bool, AwsError> release(std::string_view owner, std::string_view key, Deadline) override {
    ++releases;
    auto& slot = records[{std::string(owner), std::string(key)}];
    if (slot) slot->lease_until_micros = 0;
    return true;
  }

  std::map<std::pair<std::string, std::string>, std::optional<IdempotencyRecord>> records;
  std::string fail_next;
  int releases = 0;

 private:
  AwsError failed() {
    fail_next.clear();
    return make_aws_error("AccessDeniedException", "no", 400, false);
  }
};

}  // namespace tap::test_support
