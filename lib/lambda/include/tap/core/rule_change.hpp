// The change protocol's pure part (R1-R3, R6): THE definition of a valid rule, a rule as the protocol
// stores it (its definition, state, arming and every version with its window), and planning one change on
// it. No I/O and no clock: the caller passes `effective_from` (chosen with effective_from_for against the
// rules head, rules_store.hpp) and the ids it allocated. Used by the import command and the API alike.
//
// Versions: a rule's versions are numbered 1, 2, ... and their windows never overlap. A change that alters
// what the engine applies (create, edit, pause, resume, re-arm, delete) closes the open version at
// `effective_from` (until = effective_from) and, unless the rule stops applying (pause, delete), opens a new
// version there (from = effective_from, until open). A change never touches a window before
// `effective_from`: what applied to a tick stays applied to it. An edit keeps the arming; a re-arm
// (accepted only when the current arming's `once` marker exists, i.e. state triggered) starts arming + 1.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tap/core/result.hpp"
#include "tap/core/rules.hpp"

namespace tap {

// What a trader defines (the API's body, one entry of an imported document). Owner and id never come from
// here: the owner is the caller's identity, the id is allocated by the protocol.
struct RuleSpec {
  std::string name;    // unique per owner; 1-64 chars [A-Za-z0-9_.-]
  std::string symbol;  // a symbol or "*"
  Condition condition = Condition::price_above;
  double threshold = 0;
  Severity severity = Severity::info;
  std::string description;
  TriggerMode mode = TriggerMode::once;  // R2: `once` is the default for new rules
  std::int64_t cooldown_seconds = 0;     // mode every: >= 1
  std::int64_t bar_seconds = 0;          // mode once_per_bar: 60, 300, 900, 3600, 86400
  std::optional<std::int64_t> expires_at_micros;
  std::string message_template;  // optional, for the human-readable notification text (F5)
  friend bool operator==(const RuleSpec&, const RuleSpec&) = default;
};

// One invalid input, naming its field as the client wrote it ("threshold", "rules[3].symbol").
struct FieldError {
  std::string field;
  std::string message;
  friend bool operator==(const FieldError&, const FieldError&) = default;
};

// Parses and validates one rule definition (a JSON object). Every problem is listed, one FieldError each;
// unknown properties are errors. On success the spec is valid by THE definition (validate_rules for a
// rules document applies the same per-field checks to each entry: src/core/rule_fields.hpp).
// Properties: name, symbol, condition, threshold, severity (required); description (<= 256 chars); mode
// (default once); cooldown_seconds (mode every: required, 1..86400), bar_seconds (mode once_per_bar:
// required, 60/300/900/3600/86400), each refused with another mode unless 0; expires_at (a timestamp as
// ticks carry, timestamp.hpp); message_template (<= 512 chars). A body over 16 KiB, invalid JSON or UTF-8,
// nesting deeper than 8 and a non-object are one problem of field "(body)"; an empty key is named `""`.
Result<RuleSpec, std::vector<FieldError>> parse_rule_spec(std::string_view json_object);
// The same checks on a spec built in code (field names without a prefix; NaN, infinities and invalid
// UTF-8, which JSON cannot carry, are refused too).
std::vector<FieldError> validate_rule_spec(const RuleSpec& spec);

enum class RuleState { active, paused, deleted };  // triggered and expired are derived (R1)
std::string_view to_string(RuleState s);

// A rule as the protocol stores it. `revision` is what `If-Match` names: it grows by one per change.
struct RuleRecord {
  std::string id;
  std::string owner;
  RuleSpec spec;
  RuleState state = RuleState::active;
  std::uint32_t arming = 0;    // the current `once` arming
  std::uint32_t revision = 0;  // 1 after create
  std::vector<Rule> versions;  // every version, by version number; windows never overlap
  std::int64_t created_at_micros = 0;
  std::int64_t updated_at_micros = 0;
  friend bool operator==(const RuleRecord&, const RuleRecord&) = default;
};

enum class ChangeKind { create, edit, pause, resume, rearm, remove };
std::string_view to_string(ChangeKind k);

struct ChangeRequest {
  ChangeKind kind = ChangeKind::create;
  std::string owner;                      // the caller (never from a body)
  std::string rule_id;                    // every kind but create
  std::optional<RuleSpec> spec;           // create and edit: the full new definition
  std::optional<std::uint32_t> if_match;  // edit: the revision the caller read (stale -> precondition_failed)
  bool triggered = false;     // rearm: the current arming's `once` marker exists (read by the caller)
  bool start_paused = false;  // create: the rule starts paused, with no version (R6: `enabled: false`)
};

struct ChangeError {
  enum class Kind {
    invalid,              // 422/400: `fields` says what
    not_found,            // 404 (another owner's rule is not found either)
    precondition_failed,  // 412: if_match is stale
    conflict,             // 409: the change does not apply in the rule's state (resume an active rule, ...)
    quota_exceeded,       // 409 quota-exceeded
  };
  Kind kind = Kind::invalid;
  std::string message;
  std::vector<FieldError> fields;
};

// The result of planning: the rule as it will be stored, and the versions the change writes (the closed
// one and the opened one, each as stored after the change).
struct ChangePlan {
  RuleRecord next;
  std::optional<Rule> closed;  // the version whose window now ends at effective_from
  std::optional<Rule> opened;  // the version that starts at effective_from
  int quota_delta = 0;         // +1 create, -1 delete, 0 otherwise
  friend bool operator==(const ChangePlan&, const ChangePlan&) = default;
};

// Plans `request` on `current` (nullopt: the rule does not exist, or belongs to another owner -- the caller
// passes nullopt then). `new_rule_id` is used by create only; `now_micros` stamps created/updated.
// Pure: the same inputs give the same plan. Quota is checked by the store's transaction, not here.
// Checked in this order: not_found (no record, another owner or id, deleted), precondition_failed (a stale
// if_match; an edit without one is invalid, field "If-Match"), invalid (the spec, field names as in the
// body), conflict (the change does not apply in the rule's state), and last `effective_from` itself: it
// must lie after every window boundary of `current` (invalid, field "effective_from"; effective_from_for
// with the record picks one), so that windows never overlap and a change never reaches back.
//
// Per kind and state (a closed version ends at effective_from, an opened one starts there):
//   create   (no record)           -> active, arming 1, opens version 1 (start_paused: paused, no version)
//   edit     active                -> closes the open version, opens one with the new spec, same arming
//            paused                -> the spec only (resume opens it)
//   pause    active                -> paused, closes           | paused: conflict
//   resume   paused                -> active, opens            | active: conflict
//   rearm    triggered, mode once  -> arming + 1; active: closes and opens (paused: resume opens it)
//            not triggered / not once: conflict
//   remove   active / paused       -> deleted (closes when active), quota_delta -1
Result<ChangePlan, ChangeError> plan_change(const std::optional<RuleRecord>& current,
                                            const ChangeRequest& request, std::int64_t effective_from_micros,
                                            std::string_view new_rule_id, std::int64_t now_micros);

// R3: the earliest effective_from a writer may use: >= now + P, and after the fence readers hold
// (fence_micros: every tick before it is being evaluated with the rules as read).
std::int64_t effective_from_for(std::int64_t now_micros, std::int64_t fence_micros, std::int64_t p_micros);
// The same, and after every window boundary of `current` (what plan_change requires of a change to it).
std::int64_t effective_from_for(std::int64_t now_micros, std::int64_t fence_micros, std::int64_t p_micros,
                                const RuleRecord& current);

// The engine's view of a record: its versions with owner, arming and mode filled in (what the loader feeds
// the rule index).
std::vector<Rule> engine_versions(const RuleRecord& record);

}  // namespace tap
