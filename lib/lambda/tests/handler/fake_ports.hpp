// In-memory ports with DynamoDB's conditional-write semantics, for the handler tests. They hold domain
// values (states by (symbol, rule id), alerts by AlertId): no storage format of the real adapter.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tap/app/ports.hpp"
#include "tap/core/rules.hpp"

namespace tap::test_support {

inline AwsError throttled() { return make_aws_error("ThrottlingException", "Rate exceeded", 400, true); }

struct StoredAlert {
  std::string message_id;  // the SQS message whose tick fired it
  std::int64_t created_at_micros = 0;
  bool pending = true;
  std::string sns_message_id;
};

// Tables shared by the fakes, like the real tables are shared by concurrent invocations.
struct FakeTables {
  std::map<std::pair<std::string, std::string>, RuleState> state;  // (symbol, rule id)
  std::map<AlertId, StoredAlert> alerts;
};

class FakeStateStore final : public StateStore {
 public:
  FakeStateStore(FakeTables& tables, const RuleSet& rules) : tables_(tables), rules_(rules) {}

  Result<StateMap, AwsError> load(const std::vector<StateKey>& keys, Deadline) override {
    ++loads;
    if (fail_loads > 0) {
      --fail_loads;
      return throttled();
    }
    StateMap out;
    for (const StateKey& k : keys) {
      const auto it = tables_.state.find({k.symbol, rules_.rule(k.rule_index).id});
      if (it != tables_.state.end()) out[k] = it->second;
    }
    return out;
  }

  Result<WriteResult, AwsError> apply(const StateKey& key, const Step& step, const AlertRecord* alert,
                                      Deadline) override {
    ++applies;
    if (before_apply) before_apply(key, step);
    if (fail_applies > 0) {
      --fail_applies;
      return throttled();
    }
    const Rule& rule = rules_.rule(key.rule_index);
    RuleState& stored = tables_.state[{key.symbol, rule.id}];
    bool allowed = false;
    if (is_crossing(rule.condition)) {
      allowed = stored.side_ts == step.expected.side_ts;
    } else {
      allowed = !stored.last_fire_ts || *stored.last_fire_ts <= step.cooldown_cutoff;
    }
    if (!allowed) {
      if (!stored.exists) tables_.state.erase({key.symbol, rule.id});
      return WriteResult{false, stored};
    }
    if (alert != nullptr) {
      const AlertId id = alert_id(*alert->alert.rule, *alert->alert.tick);
      if (tables_.alerts.contains(id)) return make_aws_error("AlertExists", "exists");
      tables_.alerts[id] = {std::string(alert->alert.message_id), alert->created_at_micros, true, ""};
    }
    stored.exists = true;
    if (is_crossing(rule.condition)) {
      stored.side = step.next.side;
      stored.side_ts = step.next.side_ts;
    }
    if (step.kind == Step::Kind::fire) stored.last_fire_ts = step.next.last_fire_ts;
    return WriteResult{true, stored};
  }

  std::function<void(const StateKey&, const Step&)> before_apply;  // e.g. a concurrent writer
  int fail_loads = 0;
  int fail_applies = 0;
  int loads = 0;
  int applies = 0;

 private:
  FakeTables& tables_;
  const RuleSet& rules_;
};

class FakeLedger final : public AlertLedger {
 public:
  explicit FakeLedger(FakeTables& tables) : tables_(tables) {}
  Result<bool, AwsError> pending(const AlertId& id, Deadline) override {
    ++pending_checks;
    if (fail_pending > 0) {
      --fail_pending;
      return throttled();
    }
    const auto it = tables_.alerts.find(id);
    return it != tables_.alerts.end() && it->second.pending;
  }
  Result<bool, AwsError> mark_sent(const AlertId& id, const std::string& sns_message_id, std::int64_t,
                                   Deadline) override {
    if (fail_marks > 0) {
      --fail_marks;
      return throttled();
    }
    StoredAlert& a = tables_.alerts.at(id);
    a.pending = false;
    a.sns_message_id = sns_message_id;
    return true;
  }
  int fail_pending = 0;
  int fail_marks = 0;
  int pending_checks = 0;

 private:
  FakeTables& tables_;
};

class FakeNotifier final : public Notifier {
 public:
  Result<std::string, AwsError> publish(const SnsNotification& n, Deadline) override {
    if (fail_publishes > 0) {
      --fail_publishes;
      return throttled();
    }
    published.push_back(n);
    return "sns-" + std::to_string(published.size());
  }
  std::vector<SnsNotification> published;
  int fail_publishes = 0;
};

class FakeDeadLetters final : public DeadLetters {
 public:
  struct Sent {
    std::string body, reason, source;
  };
  Result<std::string, AwsError> send(const std::string& body, const std::string& reason,
                                     const std::string& source, Deadline) override {
    if (fail_sends > 0) {
      --fail_sends;
      return throttled();
    }
    sent.push_back({body, reason, source});
    return "dlq-" + std::to_string(sent.size());
  }
  std::vector<Sent> sent;
  int fail_sends = 0;
};

}  // namespace tap::test_support
