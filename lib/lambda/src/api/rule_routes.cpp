#include "tap/api/rule_routes.hpp"

#include <algorithm>
#include <charconv>

#include "tap/api/api_auth.hpp"
#include "tap/api/page_parameters.hpp"
#include "tap/core/json_text.hpp"
#include "tap/core/rule_import.hpp"
#include "tap/core/tick.hpp"

namespace tap::api {
namespace {

std::string etag(std::uint32_t revision) { return "\"" + std::to_string(revision) + "\""; }

std::string header(const ApiRequest& request, const std::string& name) {
  const auto it = request.headers.find(name);
  return it == request.headers.end() ? std::string() : it->second;
}

// If-Match: "<revision>" (an ETag this API gave) or the bare number; W/ weak tags compare the same.
std::optional<std::uint32_t> parse_if_match(std::string_view text) {
  if (text.starts_with("W/")) text.remove_prefix(2);
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') text = text.substr(1, text.size() - 2);
  std::uint32_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

ApiResponse problem(const Problem& p) { return problem_response(p); }

}  // namespace

void RuleRoutes::add_to(Router& router) {
  const auto post = [this](ApiResponse (RuleRoutes::*handler)(const RouteCall&)) {
    return [this, handler](const RouteCall& c) {
      return idempotency_.run(c, [&] { return (this->*handler)(c); });
    };
  };
  const auto post_change = [this](ChangeKind kind) {
    return [this, kind](const RouteCall& c) { return idempotency_.run(c, [&] { return change(c, kind); }); };
  };
  router.add("GET", "/rules", [this](const RouteCall& c) { return list(c); });
  router.add("POST", "/rules", post(&RuleRoutes::create));
  router.add("POST", "/rules/import", post(&RuleRoutes::import));
  router.add("GET", "/rules/{rule_id}", rule_id_route([this](const RouteCall& c) { return get(c); }));
  router.add("PATCH", "/rules/{rule_id}", rule_id_route([this](const RouteCall& c) { return update(c); }));
  router.add("DELETE", "/rules/{rule_id}",
             rule_id_route([this](const RouteCall& c) { return change(c, ChangeKind::remove); }));
  router.add("POST", "/rules/{rule_id}/pause", rule_id_route(post_change(ChangeKind::pause)));
  router.add("POST", "/rules/{rule_id}/resume", rule_id_route(post_change(ChangeKind::resume)));
  router.add("POST", "/rules/{rule_id}/rearm", rule_id_route(post_change(ChangeKind::rearm)));
  router.add("GET", "/rules/{rule_id}/versions",
             rule_id_route([this](const RouteCall& c) { return versions(c); }));
}

Result<RuleRecord, Problem> RuleRoutes::read(const RouteCall& call, const std::string& owner) {
  const std::string& id = call.params.at("rule_id");
  auto found = store_.get(owner, id, call.deadline);
  if (!found) return upstream_failure(found.error());
  if (!found.value()) return not_found("no rule " + id);
  return std::move(*found.value());
}

Result<ApiRuleState, Problem> RuleRoutes::state_of(const RuleRecord& record, Deadline deadline) {
  bool triggered = false;
  if (record.spec.mode == TriggerMode::once && record.state != RuleState::deleted) {
    auto marker = markers_.marker_exists(record.id, record.arming, deadline);
    if (!marker) return upstream_failure(marker.error());
    triggered = marker.value();
  }
  return api_state(record, triggered, clock_());
}

ApiResponse RuleRoutes::answer_change(int status, const ChangeOutcome& outcome, Deadline deadline) {
  const RuleRecord& record = *outcome.record;
  auto state = state_of(record, deadline);
  // The change is committed: a marker that cannot be read now shows the stored state.
  const ApiRuleState shown = state ? state.value() : api_state(record, false, clock_());
  std::string body = "{\"rule\":" + rule_json(record, shown) + ",\"revision\":";
  json::append_number(body, static_cast<std::int64_t>(record.revision));
  body += ",\"effective_from\":" + time_json(outcome.effective_from_micros) + "}";
  ApiResponse out = json_response(status, std::move(body));
  out.headers.emplace_back("ETag", etag(record.revision));
  if (status == 201) out.headers.emplace_back("Location", "/rules/" + record.id);
  return out;
}

ApiResponse RuleRoutes::get(const RouteCall& call) {
  auto owner = owner_to_read(call);
  if (!owner) return problem(owner.error());
  auto record = read(call, owner.value());
  if (!record) return problem(record.error());
  auto state = state_of(record.value(), call.deadline);
  if (!state) return problem(state.error());
  ApiResponse out = json_response(200, rule_json(record.value(), state.value()));
  out.headers.emplace_back("ETag", etag(record->revision));
  return out;
}

ApiResponse RuleRoutes::versions(const RouteCall& call) {
  auto owner = owner_to_read(call);
  if (!owner) return problem(owner.error());
  auto record = read(call, owner.value());
  if (!record) return problem(record.error());
  std::string body = "{\"rule_id\":";
  json::append_string(body, record->id);
  body += ",\"versions\":[";
  for (std::size_t i = 0; i < record->versions.size(); ++i) {
    if (i > 0) body += ",";
    body += version_json(record->versions[i]);
  }
  return json_response(200, body + "]}");
}

ApiResponse RuleRoutes::list(const RouteCall& call) {
  auto owner = owner_to_read(call);
  if (!owner) return problem(owner.error());
  std::optional<ApiRuleState> wanted;
  std::optional<std::string> symbol;
  std::uint32_t limit = kDefaultPage;
  std::optional<std::string> cursor;  // present but empty is a cursor too, and no cursor of this list
  for (const auto& [name, value] : call.request.query) {
    if (name == "state") {
      ApiRuleState parsed{};
      if (!parse_state(value, parsed)) {
        return problem(invalid_input({{"state", "must be active, paused, triggered, expired or deleted"}}));
      }
      wanted = parsed;
    } else if (name == "symbol") {
      // A rule's symbol or `*` (its rules of every symbol): anything else matches no rule, and says so.
      if (value != "*" && !is_valid_symbol(value)) {
        return problem(invalid_input({{"symbol", "must be \"*\" or a symbol"}}));
      }
      symbol = value;
    } else if (name == "limit") {
      auto n = parse_page_limit(name, value);
      if (!n) return problem(n.error());
      limit = n.value();
    } else if (name == "cursor") {
      cursor = value;
    } else if (name != "owner") {  // owner: owner_to_read's
      return problem(invalid_input({{name, "unknown parameter"}}));
    }
  }
  const std::int64_t now_seconds = clock_() / kMicrosPerSecond;
  auto keys = cursor_keys_.keys(now_seconds, call.deadline);
  if (!keys) return problem(upstream_failure(keys.error()));
  CursorScope scope{owner.value(), "GET /rules", {}};
  if (symbol) scope.filters.emplace_back("symbol", *symbol);
  if (wanted) scope.filters.emplace_back("state", std::string(to_string(*wanted)));
  std::string after;
  if (cursor) {
    auto position = read_cursor(*cursor, scope, keys.value(), now_seconds);
    if (!position) return problem(position.error());
    if (position->size() != 1 || position->front().first != "after") {
      return problem(make_problem(400, "invalid-cursor", "Invalid cursor", "not a cursor of this list",
                                  {{"cursor", "foreign"}}));
    }
    after = position->front().second;
  }
  auto page = store_.list_page(owner.value(), wanted == ApiRuleState::deleted, limit, after, call.deadline);
  if (!page) return problem(upstream_failure(page.error()));
  std::string body = "{\"rules\":[";
  bool first = true;
  for (const RuleRecord& r : page->records) {
    if (symbol && r.spec.symbol != *symbol) continue;
    auto state = state_of(r, call.deadline);
    if (!state) return problem(state.error());
    if (wanted && state.value() != *wanted) continue;
    body += first ? "" : ",";
    body += rule_json(r, state.value());
    first = false;
  }
  body += "]";
  if (!page->next.empty()) {
    auto next = encode_cursor({{"after", page->next}}, scope, keys.value(), now_seconds);
    if (!next) return problem(upstream_failure(make_aws_error(next.error().code, next.error().message)));
    body += ",\"next_cursor\":";
    json::append_string(body, next.value());
  }
  return json_response(200, body + "}");
}

ApiResponse RuleRoutes::create(const RouteCall& call) {
  auto spec = parse_rule_spec(call.request.body);
  if (!spec) return problem(invalid_input(spec.error()));
  ChangeRequest request;
  request.owner = call.caller.owner;
  request.spec = std::move(spec).value();
  auto outcome = changes_.apply(request, call.deadline);
  if (!outcome) return problem(problem_for(outcome.error()));
  return answer_change(201, outcome.value(), call.deadline);
}

ApiResponse RuleRoutes::update(const RouteCall& call) {
  const std::string if_match = header(call.request, "if-match");
  if (if_match.empty()) {
    return problem(make_problem(428, "precondition-required", "If-Match is required",
                                "send If-Match with the rule's revision (its ETag)",
                                {{"If-Match", "required"}}));
  }
  const auto revision = parse_if_match(if_match);
  if (!revision) return problem(invalid_input({{"If-Match", "must be the rule's revision, as its ETag"}}));
  auto record = read(call, call.caller.owner);
  if (!record) return problem(record.error());
  auto spec = patch_spec(record->spec, call.request.body);
  if (!spec) return problem(invalid_input(spec.error()));
  ChangeRequest request;
  request.kind = ChangeKind::edit;
  request.owner = call.caller.owner;
  request.rule_id = record->id;
  request.spec = std::move(spec).value();
  request.if_match = revision;
  auto outcome = changes_.apply(request, call.deadline);
  if (!outcome) return problem(problem_for(outcome.error()));
  return answer_change(200, outcome.value(), call.deadline);
}

ApiResponse RuleRoutes::change(const RouteCall& call, ChangeKind kind) {
  ChangeRequest request;
  request.kind = kind;
  request.owner = call.caller.owner;
  request.rule_id = call.params.at("rule_id");
  if (kind == ChangeKind::rearm) {
    // The re-arm needs whether the current arming fired (R2): read the record, then its marker.
    auto record = read(call, call.caller.owner);
    if (!record) return problem(record.error());
    auto marker = markers_.marker_exists(record->id, record->arming, call.deadline);
    if (!marker) return problem(upstream_failure(marker.error()));
    request.triggered = marker.value();
  }
  auto outcome = changes_.apply(request, call.deadline);
  if (!outcome) return problem(problem_for(outcome.error()));
  return answer_change(200, outcome.value(), call.deadline);
}

ApiResponse RuleRoutes::import(const RouteCall& call) {
  auto existing = store_.list(call.caller.owner, false, call.deadline);
  if (!existing) return problem(upstream_failure(existing.error()));
  auto plan = plan_import(call.request.body, call.caller.owner, existing.value());
  if (!plan) return problem(invalid_input({{"(document)", plan.error().message}}));
  std::string body = "{\"changes\":[";
  for (std::size_t i = 0; i < plan.value().size(); ++i) {
    const ChangeRequest& request = plan.value()[i];
    auto outcome = changes_.apply(request, call.deadline);
    if (i > 0) body += ",";
    body += "{\"change\":";
    json::append_string(body, to_string(request.kind));
    if (!outcome) {
      const Problem p = problem_for(outcome.error());
      body += ",\"status\":" + std::to_string(p.status) + ",\"detail\":";
      json::append_string(body, p.detail);
      body += request.spec ? ",\"name\":" : "";
      if (request.spec) json::append_string(body, request.spec->name);
      body += "}";
      continue;
    }
    const RuleRecord& r = *outcome->record;
    body += ",\"status\":200,\"name\":";
    json::append_string(body, r.spec.name);
    body += ",\"rule_id\":";
    json::append_string(body, r.id);
    body += ",\"revision\":" + std::to_string(r.revision) +
            ",\"effective_from\":" + time_json(outcome->effective_from_micros) + "}";
  }
  return json_response(200, body + "]}");
}

}  // namespace tap::api
