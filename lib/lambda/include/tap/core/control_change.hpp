// An operator's change of one symbol's controls (F3 suspensions and price bands), planned like a rule
// change (R3): it takes effect at `effective_from` and never touches a window before it. Pure.
//  - suspend: opens a suspension [effective_from, +inf); conflict when one is open already.
//  - resume: closes the open suspension at effective_from; conflict when none is open.
//  - set_band: closes the open band at effective_from and opens [low, high] there; low <= high, finite.
//  - clear_band: closes the open band at effective_from; conflict when none is open.
// "Open" means: its window has not ended at effective_from (until > effective_from). A window that would
// start at or after effective_from and is closed there becomes empty and is dropped.
#pragma once

#include <cstdint>
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
};

Result<SymbolControls, ChangeError> plan_controls(const SymbolControls& current, const ControlChange& change,
                                                  std::int64_t effective_from_micros);

bool same_controls(const SymbolControls& a, const SymbolControls& b);

}  // namespace tap
