// The processor's rules cache (contract in tap/app/rules_cache.hpp; the protocol in rules_store.hpp).
#include "tap/app/rules_cache.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iterator>
#include <limits>
#include <optional>
#include <thread>
#include <tuple>
#include <utility>

namespace tap {

namespace {

// R4: a version that ended at or before the horizon applies to no tick evaluated any more.
bool ended_by(const Rule& version, std::int64_t horizon) { return version.window.until_micros <= horizon; }

std::vector<Rule> kept_versions(const RuleRecord& record, std::int64_t horizon) {
  std::vector<Rule> out = engine_versions(record);
  std::erase_if(out, [horizon](const Rule& v) { return ended_by(v, horizon); });
  return out;
}

template <typename Ends>
void push_ends(Ends& ends, const RuleRecord& record) {
  for (const Rule& v : record.versions) {
    if (v.window.until_micros != EffectiveWindow::kOpenEnd) ends.emplace(v.window.until_micros, record.id);
  }
}

Result<RulesRead, AwsError> scan_all(RulesStore& store, const std::vector<RulesStore*>& scan_stores,
                                     std::uint32_t scan_segments, std::int64_t horizon, Deadline deadline) {
  const std::uint32_t segments = std::max<std::uint32_t>(1, scan_segments);
  std::vector<std::optional<Result<RulesRead, AwsError>>> results(segments);
  std::atomic<std::uint32_t> next{0};
  std::atomic<bool> failed{false};
  // Each worker takes the next unscanned segment until none is left or one failed (the load fails then).
  const auto work = [&](RulesStore& s) {
    for (std::uint32_t i = next++; i < segments && !failed; i = next++) {
      results[i].emplace(s.scan(i, segments, horizon, deadline));
      if (!results[i]->ok()) failed = true;
    }
  };
  if (scan_stores.empty()) {
    work(store);
  } else {
    std::vector<std::jthread> workers;
    for (RulesStore* s : scan_stores) workers.emplace_back([&work, s] { work(*s); });
  }  // the workers join here
  RulesRead all;
  for (auto& r : results) {
    if (!r) continue;  // not scanned: another segment failed
    if (!r->ok()) return r->error();
    RulesRead& part = r->value();
    std::move(part.records.begin(), part.records.end(), std::back_inserter(all.records));
    std::move(part.invalid.begin(), part.invalid.end(), std::back_inserter(all.invalid));
  }
  return all;
}

constexpr int kLoadNice = 19;

RefreshReport not_yet() {
  RefreshReport report;
  report.covered = false;
  return report;
}

}  // namespace

RulesCache::RulesCache(RulesStore& store, Clock clock, RulesCacheSettings settings,
                       std::vector<RulesStore*> scan_stores)
    : store_(store), clock_(std::move(clock)), settings_(settings), scan_stores_(std::move(scan_stores)) {}

Result<RulesCache::View, AwsError> RulesCache::read_view(RulesStore& store,
                                                         const std::vector<RulesStore*>& scan_stores,
                                                         const RulesCacheSettings& settings, std::int64_t now,
                                                         Deadline deadline) {
  View view;
  view.now = now;
  // Fences first: every change committed before them is then visible to the scan, every later one takes
  // effect after them and is read by the next refresh (its log entry has effective_from > the fence).
  for (std::uint32_t s = 0; s < store.shards(); ++s) {
    auto head = store.advance_fence(s, now + settings.fence_lead_micros, deadline);
    if (!head) return head.error();
    view.heads.push_back(head.value());
  }
  const std::int64_t horizon = now - settings.horizon_micros;
  auto read = scan_all(store, scan_stores, settings.scan_segments, horizon, deadline);
  if (!read) return read.error();
  auto controls = store.controls(deadline);
  if (!controls) return controls.error();

  view.report.requested = true;
  view.report.records_changed = read->records.size();
  view.report.invalid = read->invalid.size();
  view.report.invalid_items = std::move(read->invalid);
  for (RuleRecord& r : read->records) {
    // Counted in place: the engine's copies of the versions are made once, by the rebuild that adopts them.
    const auto versions = static_cast<std::size_t>(std::count_if(
        r.versions.begin(), r.versions.end(), [horizon](const Rule& v) { return !ended_by(v, horizon); }));
    if (versions == 0) continue;  // wholly before the horizon
    view.versions += versions;
    push_ends(view.ends, r);
    view.records[r.id] = std::move(r);
  }
  view.controls = std::move(controls.value());
  return view;
}

RefreshReport RulesCache::adopt(View view) {
  records_ = std::move(view.records);
  pending_.clear();
  ends_ = std::move(view.ends);
  controls_ = std::move(view.controls);
  heads_ = std::move(view.heads);
  rebuild(view.now, true);
  refreshed_at_micros_ = view.now;
  return std::move(view.report);
}

Result<RefreshReport, AwsError> RulesCache::load(Deadline deadline) {
  auto view = read_view(store_, scan_stores_, settings_, clock_(), deadline);
  if (!view) return view.error();
  return adopt(std::move(view.value()));
}

void RulesCache::start_load(RulesStore& store, Deadline deadline, LoadDone done) {
  std::promise<Result<View, AwsError>> result;
  loading_ = result.get_future();
  // The thread is handed copies (the settings, the time, the scan stores' list) and the stores only it uses
  // until cover() joins it; the promise is its one way out.
  loader_ = std::jthread([&store, scan_stores = scan_stores_, settings = settings_, now = clock_(), deadline,
                          done = std::move(done), result = std::move(result)]() mutable {
    // The lowest priority (Linux: per thread, inherited by its scan workers): on a busy CPU the thread
    // that goes on to /next, and later the handler, run first; a handler waiting for the load leaves it
    // the CPU. Best effort: a refusal changes nothing else.
    (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kLoadNice);
    const auto started = SteadyClock::now();
    auto view = read_view(store, scan_stores, settings, now, deadline);
    const auto took = std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - started);
    Result<LoadSummary, AwsError> summary = AwsError{};
    if (view) {
      summary = LoadSummary{
          .versions = view->versions, .invalid = view->report.invalid, .took_micros = took.count()};
    } else {
      summary = view.error();
    }
    result.set_value(std::move(view));  // cover() may take it from here on
    if (done) done(summary);
  });
}

Result<RefreshReport, AwsError> RulesCache::cover(std::int64_t tick_micros, Deadline deadline) {
  if (!loading_) return warm(tick_micros, deadline);
  // Beyond any fence this reader may set: no load covers it yet, so nothing to wait for.
  if (tick_micros >= clock_() + settings_.fence_lead_micros) return not_yet();
  // The load in flight, adopted whole once done: until then (or when it failed) nothing is covered.
  if (loading_->wait_until(deadline) != std::future_status::ready) {
    return make_aws_error("RulesLoadInProgress", "the cold load of the rules has not finished", 0, true);
  }
  auto view = loading_->get();
  loading_.reset();
  loader_.join();
  if (!view) return view.error();  // the next cover() loads (heads_ is still empty)
  RefreshReport loaded = adopt(std::move(view.value()));
  auto report = warm(tick_micros, deadline);  // a tick beyond the load's fences: refreshed now
  if (!report) return report.error();
  report->requested = true;
  report->records_changed += loaded.records_changed;
  report->invalid += loaded.invalid;
  report->invalid_items.insert(report->invalid_items.begin(), loaded.invalid_items.begin(),
                               loaded.invalid_items.end());
  return report;
}

Result<RefreshReport, AwsError> RulesCache::warm(std::int64_t tick_micros, Deadline deadline) {
  const std::int64_t now = clock_();
  // Cold (the first invocation loads), or a view older than the horizon: the log entries since its fences
  // may have expired (they are kept longer than H), so it loads again.
  if (heads_.empty() || now - refreshed_at_micros_ >= settings_.horizon_micros) return load(deadline);
  const bool in_view = tick_micros < covered_until();
  if (in_view && now - refreshed_at_micros_ < settings_.refresh_interval_micros) return RefreshReport{};
  // Beyond the view and beyond any fence this reader may set: no request.
  if (!in_view && tick_micros >= now + settings_.fence_lead_micros) return not_yet();
  return refresh(deadline);  // the fences only grow: a tick in the view stays in it
}

Result<RefreshReport, AwsError> RulesCache::refresh(Deadline deadline) {
  const std::int64_t now = clock_();
  const std::int64_t target = now + settings_.fence_lead_micros;
  RefreshReport report;
  report.requested = true;
  // Shard by shard: a shard's records and head are applied together, so a failure leaves every shard
  // either refreshed or as it was (its old fence, from which the next refresh reads again).
  for (std::uint32_t s = 0; s < heads_.size(); ++s) {
    auto head = store_.advance_fence(s, target, deadline);
    if (!head) return head.error();
    if (head->seq != heads_[s].seq) {
      auto entries = store_.changes_from(s, heads_[s].fence_micros, deadline);
      if (!entries) return entries.error();
      auto read = store_.records(entries.value(), deadline);
      if (!read) return read.error();
      const bool control_changed = std::any_of(entries->begin(), entries->end(),
                                               [](const ChangeEntry& e) { return e.rule_id.empty(); });
      if (control_changed) {
        auto controls = store_.controls(deadline);
        if (!controls) return controls.error();
        controls_ = std::move(controls.value());
      }
      report.records_changed += read->records.size();
      report.invalid += read->invalid.size();
      std::move(read->invalid.begin(), read->invalid.end(), std::back_inserter(report.invalid_items));
      for (RuleRecord& r : read->records) apply(std::move(r));
      // Applied records wait for the rebuild; a failure on a later shard leaves it pending, for the next
      // successful refresh (this shard's head, updated below, will not show them as new again).
      rebuild_pending_ = rebuild_pending_ || control_changed || !read->records.empty();
    }
    heads_[s] = head.value();
  }
  if (rebuild_pending_) rebuild(now, false);
  refreshed_at_micros_ = now;
  return report;
}

void RulesCache::apply(RuleRecord record) {
  // The view's versions of the rule as of the last rebuild, kept once however often it changes before the
  // next one (a refresh that failed on a later shard applied it already).
  if (!pending_.contains(record.id)) {
    const auto old = records_.find(record.id);
    pending_[record.id] = old == records_.end() ? std::vector<Rule>{} : kept_versions(old->second, horizon_);
  }
  push_ends(ends_, record);  // its versions' ends, for the horizon
  records_[record.id] = std::move(record);
}

void RulesCache::rebuild(std::int64_t now, bool cold) {
  const std::int64_t horizon = now - settings_.horizon_micros;
  changes_ = {};
  if (cold) {
    changes_from_.reset();  // read_view kept only the records with a version after the horizon
  } else {
    // The records whose versions the horizon passed since the last rebuild join the applied ones.
    while (!ends_.empty() && ends_.top().first <= horizon) {
      const std::string id = ends_.top().second;
      ends_.pop();
      const auto r = records_.find(id);
      if (r != records_.end() && !pending_.contains(id)) pending_[id] = kept_versions(r->second, horizon_);
    }
    for (auto& [id, before] : pending_) {
      const auto r = records_.find(id);
      std::vector<Rule> after = kept_versions(r->second, horizon);
      for (const Rule& v : before) {
        if (std::find(after.begin(), after.end(), v) == after.end())
          changes_.removed.emplace_back(v.id, v.version);
      }
      for (Rule& v : after) {
        if (std::find(before.begin(), before.end(), v) == before.end())
          changes_.added.push_back(std::move(v));
      }
      if (after.empty()) records_.erase(r);
    }
    changes_from_ = generation_;
  }
  pending_.clear();
  horizon_ = horizon;
  std::vector<Rule>().swap(versions_);  // assembled again when asked for (a consumer of changes never asks)
  versions_current_ = false;
  std::sort(controls_.begin(), controls_.end(),
            [](const SymbolControlRecord& a, const SymbolControlRecord& b) { return a.symbol < b.symbol; });
  ++generation_;
  rebuild_pending_ = false;
}

const std::vector<Rule>& RulesCache::versions() const {
  if (!versions_current_) {
    versions_.clear();
    for (const auto& [id, record] : records_) {
      // A record applied since the last rebuild shows the versions it had then.
      const auto before = pending_.find(id);
      std::vector<Rule> view = before == pending_.end() ? kept_versions(record, horizon_) : before->second;
      std::move(view.begin(), view.end(), std::back_inserter(versions_));
    }
    std::sort(versions_.begin(), versions_.end(), [](const Rule& a, const Rule& b) {
      return std::tie(a.id, a.version) < std::tie(b.id, b.version);
    });
    versions_current_ = true;
  }
  return versions_;
}

const VersionChanges* RulesCache::changes_since(std::uint64_t from) const {
  return changes_from_ == from ? &changes_ : nullptr;
}

std::int64_t RulesCache::covered_until() const {
  if (heads_.empty()) return std::numeric_limits<std::int64_t>::min();  // not loaded: nothing is covered
  return std::min_element(
             heads_.begin(), heads_.end(),
             [](const RulesHead& a, const RulesHead& b) { return a.fence_micros < b.fence_micros; })
      ->fence_micros;
}

const std::vector<SymbolControlRecord>& RulesCache::controls() const { return controls_; }
std::uint64_t RulesCache::generation() const { return generation_; }
std::int64_t RulesCache::age_micros() const { return clock_() - refreshed_at_micros_; }

}  // namespace tap
