#include "tap/core/rule_change.hpp"

#include <simdjson.h>

#include <algorithm>
#include <limits>

#include "json_support.hpp"
#include "rule_fields.hpp"
#include "tap/core/message_template.hpp"
#include "tap/core/timestamp.hpp"

namespace tap {
namespace {

namespace fields = rule_fields;

constexpr std::size_t kMaxSpecBytes = 16 * 1024;  // a rule body is a few hundred bytes
constexpr std::size_t kMaxTemplateChars = 512;
constexpr std::string_view kBody = "(body)";

bool has_problem(const std::vector<FieldError>& problems, std::string_view field) {
  return std::any_of(problems.begin(), problems.end(), [&](const FieldError& e) { return e.field == field; });
}

std::optional<std::string> bar_problem(std::int64_t seconds) {
  for (const std::int64_t bar : {60, 300, 900, 3600, 86400}) {
    if (seconds == bar) return std::nullopt;
  }
  return "must be one of 60, 300, 900, 3600, 86400";
}

std::optional<std::string> expires_problem(std::int64_t micros) {
  if (micros >= kMinTimestampMicros && micros < kEndTimestampMicros) return std::nullopt;
  return "must lie in [2000-01-01T00:00:00Z, 2101-01-01T00:00:00Z)";
}

// The value checks of a spec, skipping the fields that already have a problem (a field that could not be
// read holds a default, which would only add a misleading second message).
std::vector<FieldError> check_spec(const RuleSpec& spec, const std::vector<FieldError>& already) {
  std::vector<FieldError> out;
  auto add = [&](std::string_view field, std::optional<std::string> problem) {
    if (problem && !has_problem(already, field)) out.push_back({std::string(field), std::move(*problem)});
  };
  add("name", fields::name_problem(spec.name));
  add("symbol", fields::symbol_problem(spec.symbol));
  add("threshold", fields::threshold_problem(spec.threshold));
  if (!has_problem(already, "condition")) {
    add("threshold", fields::threshold_for_condition_problem(spec.condition, spec.threshold));
  }
  add("description", fields::text_problem(spec.description, fields::kMaxDescriptionChars));
  if (!has_problem(already, "mode")) {  // R2: each mode's parameter, and only its own
    const bool every = spec.mode == TriggerMode::every;
    const bool bar = spec.mode == TriggerMode::once_per_bar;
    add("cooldown_seconds", every                        ? fields::cooldown_problem(spec.cooldown_seconds, 1)
                            : spec.cooldown_seconds != 0 ? std::optional<std::string>("only for mode every")
                                                         : std::nullopt);
    add("bar_seconds", bar                     ? bar_problem(spec.bar_seconds)
                       : spec.bar_seconds != 0 ? std::optional<std::string>("only for mode once_per_bar")
                                               : std::nullopt);
  }
  if (spec.expires_at_micros) add("expires_at", expires_problem(*spec.expires_at_micros));
  // F5: a template's text, then its placeholders (one problem per field).
  auto template_text = fields::text_problem(spec.message_template, kMaxTemplateChars);
  add("message_template", template_text ? std::move(template_text) : template_problem(spec.message_template));
  return out;
}

// Which properties a body carried (a missing one is "required"; a mode's parameter is required with it).
struct Present {
  bool name = false, symbol = false, condition = false, threshold = false, severity = false;
  bool cooldown = false, bar = false;
};

// Reads the body's fields into `spec`; problems and fatal JSON errors go to the reader.
void read_body(std::string_view text, fields::Reader& reader, RuleSpec& spec, Present& present) {
  simdjson::ondemand::parser parser;
  const simdjson::padded_string padded(text);
  simdjson::ondemand::document doc;
  if (auto e = parser.iterate(padded).get(doc)) return (void)reader.fail(e);
  simdjson::ondemand::object root;
  if (auto e = doc.get_object().get(root)) {
    if (e == simdjson::INCORRECT_TYPE) return reader.problem(std::string(kBody), "must be an object");
    return (void)reader.fail(e);
  }
  json::KeySet keys;
  for (auto field : root) {
    std::string_view key;
    simdjson::ondemand::value v;
    if (auto e = field.unescaped_key().get(key)) return (void)reader.fail(e);
    if (auto e = field.value().get(v)) return (void)reader.fail(e);
    const std::string path = key.empty() ? "\"\"" : std::string(key);  // a field is never unnamed
    if (!keys.insert(key)) reader.problem(path, "duplicate key");
    // An enumerated field: its text must name one of the choices.
    auto choice = [&](auto parse, std::string_view choices, auto& out) {
      if (auto s = reader.string(v, path, 1)) {
        if (auto parsed = parse(*s)) {
          out = *parsed;
        } else {
          reader.problem(path, choices);
        }
      }
    };
    if (key == "name") {
      present.name = true;
      if (auto s = reader.string(v, path, 1)) spec.name.assign(*s);
    } else if (key == "symbol") {
      present.symbol = true;
      if (auto s = reader.string(v, path, 1)) spec.symbol.assign(*s);
    } else if (key == "condition") {
      present.condition = true;
      choice(fields::parse_condition, fields::kConditionChoices, spec.condition);
    } else if (key == "threshold") {
      present.threshold = true;
      if (auto d = reader.number(v, path, 1)) spec.threshold = *d;
    } else if (key == "severity") {
      present.severity = true;
      choice(fields::parse_severity, fields::kSeverityChoices, spec.severity);
    } else if (key == "description") {
      if (auto s = reader.string(v, path, 1)) spec.description.assign(*s);
    } else if (key == "mode") {
      choice(fields::parse_mode, fields::kModeChoices, spec.mode);
    } else if (key == "cooldown_seconds") {
      present.cooldown = true;
      if (auto i = reader.integer(v, path, 1)) spec.cooldown_seconds = *i;
    } else if (key == "bar_seconds") {
      present.bar = true;
      if (auto i = reader.integer(v, path, 1)) spec.bar_seconds = *i;
    } else if (key == "expires_at") {
      if (auto s = reader.string(v, path, 1)) {
        if (auto ts = parse_timestamp(*s)) {
          spec.expires_at_micros = ts->micros;
        } else {
          reader.problem(path, ts.error().message);
        }
      }
    } else if (key == "message_template") {
      if (auto s = reader.string(v, path, 1)) spec.message_template.assign(*s);
    } else {
      reader.problem(path, "unknown property");
      reader.consume(v, 1, path);
    }
    if (reader.fatal) return;
  }
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) reader.fatal = simdjson::TRAILING_CONTENT;
}

// ---- planning ----

using Window = EffectiveWindow;

// The latest instant any window of the record starts or ends at (kOpenStart when it has none).
std::int64_t last_boundary(const RuleRecord& r) {
  std::int64_t last = Window::kOpenStart;
  for (const Rule& v : r.versions) {
    last = std::max(last, v.window.from_micros);
    if (v.window.until_micros != Window::kOpenEnd) last = std::max(last, v.window.until_micros);
  }
  return last;
}

// The version that applies from some instant on, if any (at most one: windows never overlap).
Rule* open_version(RuleRecord& r) {
  for (Rule& v : r.versions) {
    if (v.window.until_micros == Window::kOpenEnd) return &v;
  }
  return nullptr;
}

// Version `versions.size() + 1` of the record as it now is, applying from `from` on.
Rule new_version(const RuleRecord& r, std::int64_t from) {
  Rule v;
  v.id = r.id;
  v.version = static_cast<std::uint32_t>(r.versions.size() + 1);
  v.owner = r.owner;
  v.symbol = r.spec.symbol;
  v.condition = r.spec.condition;
  v.threshold = r.spec.threshold;
  v.severity = r.spec.severity;
  v.mode = r.spec.mode;
  v.cooldown_seconds = r.spec.cooldown_seconds;
  v.bar_seconds = r.spec.bar_seconds;
  v.arming = r.arming;
  v.window = Window{from, Window::kOpenEnd};
  v.expires_at_micros = r.spec.expires_at_micros;
  v.description = r.spec.description;
  return v;
}

ChangeError error(ChangeError::Kind kind, std::string message, std::vector<FieldError> fields = {}) {
  return ChangeError{kind, std::move(message), std::move(fields)};
}

std::int64_t saturating_add(std::int64_t a, std::int64_t b) {  // b >= 0
  return a > std::numeric_limits<std::int64_t>::max() - b ? std::numeric_limits<std::int64_t>::max() : a + b;
}

}  // namespace

std::string_view to_string(RuleState s) {
  switch (s) {
    case RuleState::active:
      return "active";
    case RuleState::paused:
      return "paused";
    case RuleState::deleted:
      break;
  }
  return "deleted";
}

std::string_view to_string(ChangeKind k) {
  switch (k) {
    case ChangeKind::create:
      return "create";
    case ChangeKind::edit:
      return "edit";
    case ChangeKind::pause:
      return "pause";
    case ChangeKind::resume:
      return "resume";
    case ChangeKind::rearm:
      return "rearm";
    case ChangeKind::remove:
      break;
  }
  return "remove";
}

Result<RuleSpec, std::vector<FieldError>> parse_rule_spec(std::string_view json_object) {
  if (json_object.size() > kMaxSpecBytes) {
    return std::vector<FieldError>{{std::string(kBody), "must be at most 16384 bytes"}};
  }
  fields::Reader reader(/*locate_nested=*/true);
  RuleSpec spec;
  Present present;
  read_body(json_object, reader, spec, present);
  if (reader.fatal) {
    return std::vector<FieldError>{
        {std::string(kBody), std::string("invalid JSON: ") + simdjson::error_message(*reader.fatal)}};
  }
  std::vector<FieldError> problems = std::move(reader.problems);
  if (problems.size() == 1 && problems[0].field == kBody) return problems;  // not an object: nothing else
  for (const auto& [field, seen] : {std::pair<std::string_view, bool>{"name", present.name},
                                    {"symbol", present.symbol},
                                    {"condition", present.condition},
                                    {"threshold", present.threshold},
                                    {"severity", present.severity}}) {
    if (!seen) problems.push_back({std::string(field), "required"});
  }
  if (!has_problem(problems, "mode")) {
    if (spec.mode == TriggerMode::every && !present.cooldown) {
      problems.push_back({"cooldown_seconds", "required for mode every"});
    }
    if (spec.mode == TriggerMode::once_per_bar && !present.bar) {
      problems.push_back({"bar_seconds", "required for mode once_per_bar"});
    }
  }
  std::vector<FieldError> values = check_spec(spec, problems);
  problems.insert(problems.end(), values.begin(), values.end());
  if (!problems.empty()) return problems;
  return spec;
}

std::vector<FieldError> validate_rule_spec(const RuleSpec& spec) { return check_spec(spec, {}); }

Result<ChangePlan, ChangeError> plan_change(const std::optional<RuleRecord>& current,
                                            const ChangeRequest& request, std::int64_t effective_from_micros,
                                            std::string_view new_rule_id, std::int64_t now_micros) {
  using K = ChangeError::Kind;
  const std::int64_t ef = effective_from_micros;
  ChangePlan plan;
  if (request.kind == ChangeKind::create) {
    if (current) return error(K::conflict, "the rule already exists");
  } else {
    if (!current || current->owner != request.owner || current->id != request.rule_id ||
        current->state == RuleState::deleted) {
      return error(K::not_found, "no such rule");
    }
    if (request.if_match && *request.if_match != current->revision) {
      return error(K::precondition_failed, "the rule is at revision " + std::to_string(current->revision) +
                                               ", not " + std::to_string(*request.if_match));
    }
    if (request.kind == ChangeKind::edit && !request.if_match) {
      return error(K::invalid, "an edit names the revision it read", {{"If-Match", "required"}});
    }
    plan.next = *current;
  }
  if (request.kind == ChangeKind::create || request.kind == ChangeKind::edit) {
    if (!request.spec) return error(K::invalid, "the rule's definition is missing", {{"(body)", "required"}});
    if (auto problems = validate_rule_spec(*request.spec); !problems.empty()) {
      return error(K::invalid, "the rule's definition is invalid", std::move(problems));
    }
  }
  RuleRecord& next = plan.next;
  const bool active = current && current->state == RuleState::active;
  bool close = false, open = false;
  switch (request.kind) {
    case ChangeKind::create:
      if (request.owner.empty()) return error(K::invalid, "a rule has an owner", {{"owner", "required"}});
      next.id = std::string(new_rule_id);
      next.owner = request.owner;
      next.state = request.start_paused ? RuleState::paused : RuleState::active;
      next.arming = 1;
      next.created_at_micros = now_micros;
      open = !request.start_paused;
      plan.quota_delta = 1;
      break;
    case ChangeKind::edit:
      close = open = active;  // a paused rule's new definition opens on resume
      break;
    case ChangeKind::pause:
      if (!active) return error(K::conflict, "the rule is already paused");
      next.state = RuleState::paused;
      close = true;
      break;
    case ChangeKind::resume:
      if (active) return error(K::conflict, "the rule is not paused");
      next.state = RuleState::active;
      open = true;
      break;
    case ChangeKind::rearm:
      if (next.spec.mode != TriggerMode::once)
        return error(K::conflict, "only a rule in mode once is re-armed");
      if (!request.triggered) return error(K::conflict, "the rule has not triggered");
      ++next.arming;
      close = open = active;
      break;
    case ChangeKind::remove:
      next.state = RuleState::deleted;
      close = active;
      plan.quota_delta = -1;
      break;
  }
  if (ef < kMinTimestampMicros || ef >= kEndTimestampMicros) {
    return error(K::invalid, "effective_from is an event time",
                 {{"effective_from", "must lie in [2000-01-01T00:00:00Z, 2101-01-01T00:00:00Z)"}});
  }
  if (const std::int64_t last = current ? last_boundary(*current) : Window::kOpenStart; ef <= last) {
    return error(
        K::invalid, "effective_from must follow the rule's last change",
        {{"effective_from", "must be after " + std::to_string(last) + " (its last window boundary, us)"}});
  }
  if (request.kind == ChangeKind::create || request.kind == ChangeKind::edit) next.spec = *request.spec;
  ++next.revision;
  next.updated_at_micros = now_micros;
  if (Rule* v = close ? open_version(next) : nullptr) {  // none: a stored record that lost it (R4)
    v->window.until_micros = ef;
    plan.closed = *v;
  }
  if (open) {
    next.versions.push_back(new_version(next, ef));
    plan.opened = next.versions.back();
  }
  return plan;
}

std::int64_t effective_from_for(std::int64_t now_micros, std::int64_t fence_micros, std::int64_t p_micros) {
  return std::max(saturating_add(now_micros, p_micros), saturating_add(fence_micros, 1));
}

std::int64_t effective_from_for(std::int64_t now_micros, std::int64_t fence_micros, std::int64_t p_micros,
                                const RuleRecord& current) {
  return std::max(effective_from_for(now_micros, fence_micros, p_micros),
                  saturating_add(last_boundary(current), 1));
}

std::vector<Rule> engine_versions(const RuleRecord& record) {
  std::vector<Rule> out = record.versions;
  for (Rule& v : out) {  // the record is the source of the rule's identity
    v.id = record.id;
    v.owner = record.owner;
    // Presentation, not semantics (F5): every version speaks with the rule's current template.
    v.message_template = record.spec.message_template;
  }
  return out;
}

}  // namespace tap
