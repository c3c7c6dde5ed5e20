// Prints the API function's route keys ("GET /rules/{rule_id}"), one a line, from the route table the
// bootstrap builds (the handlers are never called here, so the fakes only satisfy the constructors).
#include <iostream>

#include "fake_idempotency.hpp"
#include "fake_rules_store.hpp"
#include "tap/api/rule_routes.hpp"

namespace {

class NoMarkers final : public tap::OnceMarkerReader {
 public:
  tap::Result<bool, tap::AwsError> marker_exists(std::string_view, std::uint32_t, tap::Deadline) override {
    return false;  // LCOV_EXCL_LINE: never called (no request is dispatched)
  }
};

}  // namespace

int main() {
  tap::test_support::FakeRulesTables tables{1};
  tap::test_support::FakeRulesStore store{tables};
  NoMarkers markers;
  tap::test_support::FakeIdempotency idempotency;
  const auto clock = [] { return std::int64_t{0}; };
  tap::ChangeService changes(
      store, clock, [](std::int64_t) {}, [] { return std::string(); }, {});
  tap::api::RuleRoutes rules(store, changes, markers, idempotency, clock);
  tap::api::Router router;
  rules.add_to(router);
  for (const std::string& key : router.route_keys()) std::cout << key << "\n";
  return 0;
}
