#include "tap/core/rule_import.hpp"

#include <optional>
#include <string>
#include <unordered_map>

namespace tap {
namespace {

// R6: a document entry as a trader's definition. load_rules has resolved the cooldown (the entry's, or the
// document default; 0 became 1), which is what mode `every` needs.
RuleSpec spec_of(const Rule& entry) {
  RuleSpec spec;
  spec.name = entry.id;
  spec.symbol = entry.symbol;
  spec.condition = entry.condition;
  spec.threshold = entry.threshold;
  spec.severity = entry.severity;
  spec.description = entry.description;
  spec.mode = TriggerMode::every;
  spec.cooldown_seconds = entry.cooldown_seconds;
  return spec;
}

}  // namespace

Result<std::vector<ChangeRequest>> plan_import(std::string_view document, std::string_view owner,
                                               std::span<const RuleRecord> existing) {
  auto loaded = load_rules(document);  // THE definition of a valid document
  if (!loaded) return loaded.error();
  std::unordered_map<std::string_view, const RuleRecord*> by_name;  // names are unique per owner (R1)
  for (const RuleRecord& r : existing) {
    if (r.owner == owner && r.state != RuleState::deleted) by_name.emplace(r.spec.name, &r);
  }
  std::vector<ChangeRequest> changes;
  for (const Rule& entry : loaded->rules()) {
    RuleSpec spec = spec_of(entry);
    const auto found = by_name.find(spec.name);
    if (found == by_name.end()) {
      ChangeRequest create;
      create.owner = owner;
      create.spec = std::move(spec);
      create.start_paused = !entry.enabled;
      changes.push_back(std::move(create));
      continue;
    }
    const RuleRecord* rule = found->second;
    // Each change names the revision the previous one leaves, so a concurrent change stops the rest (412).
    std::uint32_t revision = rule->revision;
    auto change = [&](ChangeKind kind, std::optional<RuleSpec> next) {
      ChangeRequest request;
      request.kind = kind;
      request.owner = owner;
      request.rule_id = rule->id;
      request.spec = std::move(next);
      request.if_match = revision++;
      changes.push_back(std::move(request));
    };
    // Pause before an edit and edit before a resume: an edit of a paused rule opens no version, so the
    // import opens at most one.
    const bool paused = rule->state == RuleState::paused;
    if (!entry.enabled && !paused) change(ChangeKind::pause, std::nullopt);
    if (rule->spec != spec) change(ChangeKind::edit, std::move(spec));
    if (entry.enabled && paused) change(ChangeKind::resume, std::nullopt);
  }
  return changes;
}

}  // namespace tap
