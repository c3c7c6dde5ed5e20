// The rule routes of A2 over the change library (change_service.hpp): the API adds the caller, HTTP and
// idempotency, nothing of the protocol. Every change answers the rule, its `revision` (also the ETag,
// quoted) and the change's `effective_from`. The owner is always the caller's `sub` (api_auth.hpp); another
// owner's rule is 404 and nothing changes (A1). Operators may read any owner's rules with `?owner=`.
//   GET    /rules                      the owner's rules in id order, filters symbol and state; paged by
//                                      limit (one consistent Query of that many records: filters and deleted
//                                      rules may leave a page shorter, even empty) and the MAC'd cursor
//                                      (cursor.hpp), `next_cursor` present while records follow
//   POST   /rules                      create (body: a rule definition, parse_rule_spec)      201
//   POST   /rules/import               a rules document for the caller (R6, plan_import)
//   GET    /rules/{rule_id}            one rule (a deleted one too, state deleted)
//   PATCH  /rules/{rule_id}            merge patch of the definition; If-Match: <revision> required (428
//                                      absent, 412 stale)
//   DELETE /rules/{rule_id}            delete
//   POST   /rules/{rule_id}/pause|resume|rearm
// Every POST honours Idempotency-Key (idempotency.hpp).
//   GET    /rules/{rule_id}/versions   every version with its effective window
#pragma once

#include <cstdint>
#include <functional>

#include "tap/api/cursor_keys.hpp"
#include "tap/api/idempotency.hpp"
#include "tap/api/router.hpp"
#include "tap/api/rule_json.hpp"
#include "tap/app/change_service.hpp"
#include "tap/app/rules_store.hpp"

namespace tap::api {

class RuleRoutes {
 public:
  using Clock = std::function<std::int64_t()>;  // the API's clock (R7), micros since the epoch
  RuleRoutes(RulesStore& store, ChangeService& changes, OnceMarkerReader& markers,
             IdempotencyStore& idempotency, CursorKeySource& cursor_keys, Clock clock)
      : store_(store),
        changes_(changes),
        markers_(markers),
        idempotency_(idempotency, clock),
        cursor_keys_(cursor_keys),
        clock_(std::move(clock)) {}

  void add_to(Router& router);

 private:
  ApiResponse list(const RouteCall& call);
  ApiResponse create(const RouteCall& call);
  ApiResponse import(const RouteCall& call);
  ApiResponse get(const RouteCall& call);
  ApiResponse update(const RouteCall& call);
  ApiResponse change(const RouteCall& call, ChangeKind kind);
  ApiResponse versions(const RouteCall& call);

  // The record of the rule the call names, read for `owner` (404 when absent).
  Result<RuleRecord, Problem> read(const RouteCall& call, const std::string& owner);
  Result<ApiRuleState, Problem> state_of(const RuleRecord& record, Deadline deadline);
  ApiResponse answer_change(int status, const ChangeOutcome& outcome, Deadline deadline);

  RulesStore& store_;
  ChangeService& changes_;
  OnceMarkerReader& markers_;
  Idempotency idempotency_;
  CursorKeySource& cursor_keys_;
  Clock clock_;
};

}  // namespace tap::api
