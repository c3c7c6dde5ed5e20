// The writer's loop of the change protocol (contract in tap/app/change_service.hpp).
#include "tap/app/change_service.hpp"

#include <algorithm>
#include <functional>
#include <utility>
#include <vector>

namespace tap {
namespace {

// What one attempt came to.
struct Step {
  enum class Kind { done, again, wait, stop };
  Kind kind = Kind::again;
  ChangeOutcome outcome;  // done
  ChangeFailure failure;  // stop
};

Step done(std::int64_t effective_from, std::optional<RuleRecord> record) {
  return {Step::Kind::done, {effective_from, std::move(record), 0}, {}};
}
Step stop(ChangeFailure failure) { return {Step::Kind::stop, {}, std::move(failure)}; }
Step rejected(ChangeError error) { return stop({ChangeFailure::Kind::rejected, std::move(error), {}}); }
// A failed request: retried after the backoff while P lasts, unless it cannot succeed.
Step request_failed(const AwsError& error) {
  if (error.retryable) return {Step::Kind::wait, {}, {}};
  return stop({ChangeFailure::Kind::failed, {}, error});
}

// A commit whose outcome the caller did not learn: what it would have stored.
template <typename Stored>
struct Ambiguous {
  Stored stored;
  std::int64_t effective_from = 0;
};

// Runs attempts on the shard's head until one is done or stops, or P has passed.
// `attempt(head, now, commits)` makes one attempt on the head read (counting the commits it sends).
using Attempt = std::function<Step(const RulesHead&, std::int64_t, int&)>;
Result<ChangeOutcome, ChangeFailure> run(RulesStore& store, const ChangeService::Clock& clock,
                                         const ChangeService::Sleep& sleep,
                                         const ChangeServiceSettings& settings, std::uint32_t shard,
                                         Deadline deadline, const Attempt& attempt) {
  const std::int64_t start = clock();
  int commits = 0;
  while (clock() - start < settings.p_micros) {
    Step step;
    auto head = store.head(shard, deadline);
    step = head ? attempt(head.value(), clock(), commits) : request_failed(head.error());
    switch (step.kind) {
      case Step::Kind::done:
        step.outcome.attempts = commits;
        return step.outcome;
      case Step::Kind::stop:
        return step.failure;
      case Step::Kind::wait:
        sleep(settings.backoff_micros);
        break;
      case Step::Kind::again:
        break;
    }
  }
  ChangeFailure late;
  late.kind = ChangeFailure::Kind::retry_later;
  late.error.message = "the change could not be committed within P; retry later";
  return late;
}

}  // namespace

ChangeService::ChangeService(RulesStore& store, Clock clock, Sleep sleep, NewId new_id,
                             ChangeServiceSettings settings)
    : store_(store),
      clock_(std::move(clock)),
      sleep_(std::move(sleep)),
      new_id_(std::move(new_id)),
      settings_(settings) {}

Result<ChangeOutcome, ChangeFailure> ChangeService::apply(const ChangeRequest& request, Deadline deadline) {
  const bool create = request.kind == ChangeKind::create;
  const std::string id = create ? new_id_() : request.rule_id;
  std::vector<Ambiguous<RuleRecord>> ambiguous;
  const auto attempt = [&](const RulesHead& head, std::int64_t now, int& commits) -> Step {
    std::optional<RuleRecord> current;
    if (!create || !ambiguous.empty()) {  // a create's fresh id names nothing until one of its commits lands
      auto read = store_.get(request.owner, id, deadline);
      if (!read) return request_failed(read.error());
      current = std::move(read.value());
    }
    // Read back exactly as an ambiguous attempt planned it (every field: revision, times, versions)?
    for (const auto& a : ambiguous) {
      if (current == a.stored) return done(a.effective_from, current);
    }
    // After the fence, now + P, and every window boundary of the record (so that windows never overlap).
    const std::int64_t effective_from =
        current ? effective_from_for(now, head.fence_micros, settings_.p_micros, *current)
                : effective_from_for(now, head.fence_micros, settings_.p_micros);
    auto plan = plan_change(current, request, effective_from, id, now);
    if (!plan) return rejected(plan.error());
    ++commits;
    auto result = store_.commit(head, current, plan.value(), effective_from, settings_.quota, deadline);
    if (!result) {
      ambiguous.push_back({plan->next, effective_from});
      return request_failed(result.error());
    }
    switch (result->status) {
      case CommitResult::Status::committed:
        return done(effective_from, std::move(plan->next));
      case CommitResult::Status::name_taken:
        return rejected({ChangeError::Kind::conflict,
                         "another rule of the owner is named " + plan->next.spec.name,
                         {{"name", "is taken by another rule"}}});
      case CommitResult::Status::quota_exceeded:
        return rejected({ChangeError::Kind::quota_exceeded, "the owner's rules are at the quota", {}});
      case CommitResult::Status::fence_passed:
      case CommitResult::Status::stale:
        break;
    }
    return {};  // again: a later effective_from, or a re-read and re-plan
  };
  return run(store_, clock_, sleep_, settings_, store_.shard_of(request.owner), deadline, attempt);
}

Result<ChangeOutcome, ChangeFailure> ChangeService::set_controls(const ControlChange& change,
                                                                 Deadline deadline) {
  std::vector<Ambiguous<SymbolControls>> ambiguous;
  const auto attempt = [&](const RulesHead& head, std::int64_t now, int& commits) -> Step {
    auto all = store_.controls(deadline);
    if (!all) return request_failed(all.error());
    SymbolControlRecord current{change.symbol, {}};
    const auto it = std::find_if(all->begin(), all->end(),
                                 [&](const SymbolControlRecord& c) { return c.symbol == change.symbol; });
    if (it != all->end()) current = *it;
    for (const auto& a : ambiguous) {
      if (same_controls(current.controls, a.stored)) return done(a.effective_from, std::nullopt);
    }
    const std::int64_t effective_from = effective_from_for(now, head.fence_micros, settings_.p_micros);
    auto next = plan_controls(current.controls, change, effective_from);
    if (!next) return rejected(next.error());
    ++commits;
    auto result = store_.commit_controls(head, {change.symbol, next.value()}, effective_from, deadline);
    if (!result) {
      ambiguous.push_back({next.value(), effective_from});
      return request_failed(result.error());
    }
    // The store's only refusal of a control change is fence_passed: try again with a later effective_from.
    if (result->status == CommitResult::Status::committed) return done(effective_from, std::nullopt);
    return {};
  };
  return run(store_, clock_, sleep_, settings_, store_.shard_of(change.symbol), deadline, attempt);
}

}  // namespace tap
