// Planning an operator's control change (contract in tap/core/control_change.hpp).
#include "tap/core/control_change.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace tap {
namespace {

// Closes every window still open at `at`; returns how many were open.
template <typename T, typename WindowOf>
std::size_t close_at(std::vector<T>& items, std::int64_t at, WindowOf window_of) {
  std::size_t open = 0;
  for (T& item : items) {
    EffectiveWindow& w = window_of(item);
    if (w.until_micros <= at) continue;
    ++open;
    w.until_micros = std::max(at, w.from_micros);
  }
  std::erase_if(items, [&](T& item) { return window_of(item).empty(); });
  return open;
}

ChangeError conflict(std::string message) { return {ChangeError::Kind::conflict, std::move(message), {}}; }

}  // namespace

Result<SymbolControls, ChangeError> plan_controls(const SymbolControls& current, const ControlChange& change,
                                                  std::int64_t effective_from) {
  SymbolControls next = current;
  const auto suspension = [](EffectiveWindow& w) -> EffectiveWindow& { return w; };
  const auto band = [](PriceBand& b) -> EffectiveWindow& { return b.window; };
  switch (change.kind) {
    case ControlChange::Kind::suspend: {
      const EffectiveWindow window{std::max(effective_from, change.from_micros.value_or(effective_from)),
                                   change.until_micros.value_or(EffectiveWindow::kOpenEnd)};
      if (window.empty()) {
        return ChangeError{ChangeError::Kind::invalid,
                           "a suspension must end after it starts (and after effective_from)",
                           {{"until", "must be after the suspension's start"}}};
      }
      const bool overlaps =
          std::any_of(next.suspensions.begin(), next.suspensions.end(), [&](const EffectiveWindow& w) {
            return w.until_micros > window.from_micros && w.from_micros < window.until_micros;
          });
      if (overlaps) return conflict(change.symbol + " is suspended already");
      next.suspensions.push_back(window);
      return next;
    }
    case ControlChange::Kind::resume:
      if (close_at(next.suspensions, effective_from, suspension) == 0) {
        return conflict(change.symbol + " is not suspended");
      }
      return next;
    case ControlChange::Kind::set_band:
      if (!std::isfinite(change.low) || !std::isfinite(change.high) || change.low > change.high) {
        return ChangeError{ChangeError::Kind::invalid,
                           "a price band needs finite low <= high",
                           {{"low", "must be finite and <= high"}}};
      }
      close_at(next.bands, effective_from, band);
      next.bands.push_back({{effective_from, EffectiveWindow::kOpenEnd}, change.low, change.high});
      return next;
    case ControlChange::Kind::clear_band:
      break;
  }
  if (close_at(next.bands, effective_from, band) == 0) return conflict(change.symbol + " has no price band");
  return next;
}

bool same_controls(const SymbolControls& a, const SymbolControls& b) {
  return a.suspensions == b.suspensions &&
         std::equal(a.bands.begin(), a.bands.end(), b.bands.begin(), b.bands.end(),
                    [](const PriceBand& x, const PriceBand& y) {
                      return x.window == y.window && x.low == y.low && x.high == y.high;
                    });
}

}  // namespace tap
