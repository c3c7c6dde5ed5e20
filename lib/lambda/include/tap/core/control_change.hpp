// An operator's change of one symbol's controls (F3 suspensions and price bands), planned like a rule
// change (R3): it takes effect at `effective_from` and never touches a window before it. Pure.
//  - suspend: opens a suspension [max(effective_from, from), until) (from and until optional: open ends by
//    default); invalid when until is not after its start; conflict when it overlaps one already stored.
//  - resume: closes the open suspension at effective_from; conflict when none is open.
//  - set_band: closes the open band at effective_from and opens [low, high] there; low <= high, finite.
//  - clear_band: closes the open band at effective_from; conflict when none is open.
// "Open" means: its window has not ended at effective_from (until > effective_from). A window that would
// start at or after effective_from and is closed there becomes empty and is dropped.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "tap/core/result.hpp"
#include "tap/core/rule_change.hpp"
#include "tap/core/symbol_engine.hpp"

namespace tap {

struct ControlChange {
  enum class Kind { suspend, resume, set_band, clear_band };
  Kind kind = Kind::suspend;
  std::string symbol;
  double low = 0;  // set_band
  double high = 0;
  std::optional<std::int64_t> from_micros;   // suspend: not before effective_from (a later start is kept)
  std::optional<std::int64_t> until_micros;  // suspend: its end (absent: until a resume)
};

Result<SymbolControls, ChangeError> plan_controls(const SymbolControls& current, const ControlChange& change,
                                                  std::int64_t effective_from_micros);

bool same_controls(const SymbolControls& a, const SymbolControls& b);

}  // namespace tap
