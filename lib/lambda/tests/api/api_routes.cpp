// Prints the API function's route keys ("GET /rules/{rule_id}"), one a line, from the route table the
// bootstrap builds (the handlers are never called here, so the fakes only satisfy the constructors).
#include <iostream>

#include "fake_cursor_keys.hpp"
#include "fake_idempotency.hpp"
#include "fake_rules_store.hpp"
#include "tap/api/alert_routes.hpp"
#include "tap/api/rule_routes.hpp"
#include "tap/api/symbol_routes.hpp"

namespace {

class NoMarkers final : public tap::OnceMarkerReader {
 public:
  tap::Result<bool, tap::AwsError> marker_exists(std::string_view, std::uint32_t, tap::Deadline) override {
    return false;  // LCOV_EXCL_LINE: never called (no request is dispatched)
  }
};

class NoAlerts final : public tap::AlertLog {
 public:
  tap::Result<tap::AlertPage, tap::AwsError> list(const tap::AlertQuery&, tap::Deadline) override {
    return tap::AlertPage{};  // LCOV_EXCL_LINE: never called (no request is dispatched)
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
  tap::api::FakeKeyStore key_store;
  tap::api::FakeDataKeys data_keys;
  tap::api::CursorKeySource keys(key_store, data_keys);
  tap::api::RuleRoutes rules(store, changes, markers, idempotency, keys, clock);
  tap::api::Router router;
  rules.add_to(router);
  NoAlerts alerts;
  tap::api::AlertRoutesContext alert_context{alerts, store, keys, clock, 75, 60};
  tap::api::add_alert_routes(router, alert_context);
  tap::api::SymbolRoutesContext symbol_context{store, changes};
  tap::api::add_symbol_routes(router, symbol_context);
  for (const std::string& key : router.route_keys()) std::cout << key << "\n";
  return 0;
}
