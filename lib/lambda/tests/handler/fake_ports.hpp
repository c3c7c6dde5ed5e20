// In-memory ports with DynamoDB's conditional-write semantics, for the handler tests.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tap/app/ports.hpp"
#include "tap/core/rules.hpp"

namespace tap::testing {

inline AwsError throttled() { return make_aws_error("ThrottlingException", "Rate exceeded", 400, true); }

struct StoredAlert {
  std::string item;
  bool pending = true;
  std::string sns_message_id;
};

// Tables shared by the fakes, like the real tables are shared by concurrent invocations.
struct FakeTables {
  std::map<std::pair<std::string, std::string>, RuleState> state;     // (symbol, rule id)
  std::map<std::pair<std::string, std::string>, StoredAlert> alerts;  // (symbol, sort key)
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

  Result<WriteResult, AwsError> apply(const StateKey& key, const Step& step, const std::string* alert_item,
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
    if (alert_item != nullptr) {
      const std::string sort_key = format_timestamp(*step.next.last_fire_ts) + "#" + rule.id;
      if (tables_.alerts.contains({key.symbol, sort_key})) return make_aws_error("AlertExists", "exists");
      tables_.alerts[{key.symbol, sort_key}] = {*alert_item, true, ""};
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
  Result<bool, AwsError> pending(const AlertKey& key, Deadline) override {
    ++pending_checks;
    if (fail_pending > 0) {
      --fail_pending;
      return throttled();
    }
    const auto it = tables_.alerts.find({key.symbol, key.sort_key});
    return it != tables_.alerts.end() && it->second.pending;
  }
  Result<bool, AwsError> mark_sent(const AlertKey& key, const std::string& id, std::int64_t,
                                   Deadline) override {
    if (fail_marks > 0) {
      --fail_marks;
      return throttled();
    }
    StoredAlert& a = tables_.alerts.at({key.symbol, key.sort_key});
    a.pending = false;
    a.sns_message_id = id;
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

}  // namespace tap::testing
