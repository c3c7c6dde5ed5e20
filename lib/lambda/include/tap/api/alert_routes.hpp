// The fired-alerts routes (A2, A4; docs/openapi.yaml, docs/design.md section 13):
//   GET /alerts                      the caller's alerts (an operator may name `owner`)
//   GET /rules/{rule_id}/alerts      one rule's alerts; 404 when the rule is not the owner's
// Both list in store order (stored_id), oldest first, and only alerts stored more than D
// (ALERTS_VISIBLE_AFTER_SECONDS) ago, so that a client polling with the returned cursor never misses an
// alert stored late (a commit that took its time, a lagging index). Query parameters: cursor, limit
// (1..100, default 50), symbol, from and to (tick time: from <= t < to), rule_id (GET /alerts), owner.
// Anything else, or a value out of its range, is 422 `invalid-input` naming the parameter; a cursor that
// does not decode for this list (tap/api/cursor.hpp) is 400 `invalid-cursor` (A2). The answer always carries
// `next_cursor`: the position after the last alert listed, to poll from; `more` says whether more alerts are
// listable now. Each alert: stored_id, owner, rule_id, rule_version, symbol, tick_time, price (bid, ask,
// volume when the tick had them), severity, message (the text people read, rendered from the version that
// fired), notified (its notification is confirmed sent), notified_at, delayed (confirmed more than
// MAX_NOTIFY_AGE_SECONDS after its tick), unvouched (the engine could not vouch that an in-order replay
// stores it: docs/design.md section 5.3).
#pragma once

#include <cstdint>
#include <functional>

#include "tap/api/cursor_keys.hpp"
#include "tap/api/page_parameters.hpp"
#include "tap/api/router.hpp"
#include "tap/app/alert_log.hpp"
#include "tap/app/rules_store.hpp"

namespace tap::api {

struct AlertRoutesContext {
  AlertLog& alerts;
  RulesStore& rules;
  CursorKeySource& cursor_keys;
  std::function<std::int64_t()> now_micros;  // the API's clock (R7)
  std::int64_t visible_after_seconds = 0;    // D
  std::int64_t max_notify_age_seconds = 0;   // F5's bound, for `delayed`
};

// Adds both routes; `context` must outlive the router.
void add_alert_routes(Router& router, AlertRoutesContext& context);

}  // namespace tap::api
