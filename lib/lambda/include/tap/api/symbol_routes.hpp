// The operators' symbol routes (F3 controls through the change library; operators only, anyone else 403):
//   GET    /symbols/{symbol}/controls     the symbol's suspensions and price bands with their windows
//   PUT    /symbols/{symbol}/suspension   body {"from"?, "until"?} (tick-time text): a suspension from
//                                         max(effective_from, from) until `until` or a resume
//   DELETE /symbols/{symbol}/suspension   ends the open suspension at effective_from (409 when none)
//   PUT    /symbols/{symbol}/band         body {"low", "high"}: a price band from effective_from
//   DELETE /symbols/{symbol}/band         ends the open band at effective_from (409 when none)
// Every change goes through ChangeService::set_controls and answers 200 with the symbol, its
// `effective_from`. A path symbol that is not one (tick.hpp) is 422 naming `symbol`; a body that
// is not one JSON object is 400 `malformed-body`; a readable object with unknown, duplicate or mistyped
// members, or values the plan refuses, is 422 naming each (api_response.hpp's rule).
#pragma once

#include <functional>

#include "tap/api/router.hpp"
#include "tap/app/change_service.hpp"

namespace tap::api {

struct SymbolRoutesContext {
  RulesStore& rules;
  ChangeService& changes;
};

// Adds the five routes; `context` must outlive the router.
void add_symbol_routes(Router& router, SymbolRoutesContext& context);

}  // namespace tap::api
