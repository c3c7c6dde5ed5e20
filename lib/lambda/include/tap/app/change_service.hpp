// The writer's side of the change protocol (R3, rules_store.hpp), used by the import command and the API:
// one call makes one change and answers its effective_from.
//
// Loop (every attempt within P of the first, measured on the caller's clock):
//  1. read the shard's head and the rule's record (strongly consistent);
//  2. effective_from = effective_from_for(now, head.fence, P, record): after the fence, now + P and the
//     record's last window boundary; plan the change (plan_change, plan_controls): a plan error is the
//     caller's (4xx) and ends the loop;
//  3. commit: committed -> done; fence_passed (a reader's fence overtook effective_from) -> next attempt
//     with a later one; stale (the record changed) -> re-read and re-plan; name_taken / quota_exceeded ->
//     the caller's 409.
//  A failed request is retried after `backoff` while P lasts. A commit that failed may still have been
//  applied (a timed-out write can commit, even after the caller retried): such attempts are remembered,
//  and when a later read finds the record exactly as one of them planned it (every version, the revision,
//  the times), that attempt is the change and its effective_from is answered: a change is never applied
//  twice, and an edit is not refused as stale by its own commit. After P the answer is `retry_later` (the
//  API's 503 with Retry-After). An ambiguous attempt may still land after that answer (until its
//  conditions fail): the change is then in force, and the caller sees it when it reads the rule again.
// Operators' symbol controls follow the same loop through commit_controls. The store's contract puts no
// revision condition on a symbol's controls, so two operators changing one symbol at the same instant can
// lose one of the two changes (each is planned on what it read); the fence protects readers all the same.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "tap/app/rules_store.hpp"
#include "tap/core/control_change.hpp"

namespace tap {

struct ChangeServiceSettings {
  std::int64_t p_micros = 5 * kMicrosPerSecond;  // R3: effective_from >= commit time + P
  std::uint32_t quota = 1000;                    // R1: rules not deleted per owner
  std::int64_t backoff_micros = 100'000;         // pause after a failed request
};

struct ChangeOutcome {
  std::int64_t effective_from_micros = 0;
  std::optional<RuleRecord> record;  // a rule change: the record as committed
  int attempts = 0;                  // commits sent
};

struct ChangeFailure {
  enum class Kind {
    rejected,     // the change is refused: `error` says why (4xx)
    retry_later,  // P passed without a commit (503 Retry-After)
    failed,       // the store refused a request for good (not retryable): `aws` says why
  };
  Kind kind = Kind::rejected;
  ChangeError error;
  AwsError aws;
};

class ChangeService {
 public:
  using Clock = std::function<std::int64_t()>;             // wall clock, micros since the epoch
  using Sleep = std::function<void(std::int64_t micros)>;  // waits (a test's advances its simulated time)
  using NewId = std::function<std::string()>;              // a fresh, globally unique rule id
  ChangeService(RulesStore& store, Clock clock, Sleep sleep, NewId new_id, ChangeServiceSettings settings);

  Result<ChangeOutcome, ChangeFailure> apply(const ChangeRequest& request, Deadline deadline);
  Result<ChangeOutcome, ChangeFailure> set_controls(const ControlChange& change, Deadline deadline);

 private:
  RulesStore& store_;
  Clock clock_;
  Sleep sleep_;
  NewId new_id_;
  ChangeServiceSettings settings_;
};

}  // namespace tap
