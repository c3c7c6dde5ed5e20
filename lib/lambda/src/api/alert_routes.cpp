#include "tap/api/alert_routes.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <set>

#include "tap/api/api_auth.hpp"
#include "tap/api/page_parameters.hpp"
#include "tap/core/alert.hpp"
#include "tap/core/json_text.hpp"
#include "tap/core/timestamp.hpp"

namespace tap::api {
namespace {

constexpr std::string_view kListRoute = "GET /alerts";
constexpr std::string_view kRuleRoute = "GET /rules/{rule_id}/alerts";

struct ListParameters {
  std::uint32_t limit = kDefaultPage;
  std::optional<std::string> cursor;  // present but empty is a cursor too, and no cursor of this list
  std::optional<std::string> symbol;
  std::optional<std::string> rule_id;
  std::optional<std::int64_t> from_micros;
  std::optional<std::int64_t> to_micros;
};

// A readable request with a wrong parameter: 422 invalid-input naming it (api_response.hpp's rule).
Problem bad_parameter(const std::string& name, const std::string& message) {
  return invalid_input({FieldError{name, message}});
}

Result<std::int64_t, Problem> tick_time(const std::string& name, const std::string& text) {
  auto ts = parse_timestamp(text);
  if (!ts) return bad_parameter(name, ts.error().message);
  return ts->micros;
}

Result<ListParameters, Problem> read_parameters(const ApiRequest& request, bool rule_route) {
  ListParameters p;
  for (const auto& [name, value] : request.query) {
    if (name == "limit") {
      auto n = parse_page_limit(name, value);
      if (!n) return n.error();
      p.limit = n.value();
    } else if (name == "cursor") {
      p.cursor = value;
    } else if (name == "symbol") {
      if (!is_valid_symbol(value)) return bad_parameter(name, "not a symbol");
      p.symbol = value;
    } else if (name == "rule_id" && !rule_route) {
      if (value.empty() || value.size() > kMaxRuleIdBytes) {
        return bad_parameter(name, "1 to " + std::to_string(kMaxRuleIdBytes) + " characters");
      }
      p.rule_id = value;
    } else if (name == "from" || name == "to") {
      auto micros = tick_time(name, value);
      if (!micros) return micros.error();
      (name == "from" ? p.from_micros : p.to_micros) = micros.value();
    } else if (name != "owner") {  // owner: owner_to_read's
      return bad_parameter(name, "unknown parameter");
    }
  }
  if (p.from_micros && p.to_micros && *p.from_micros >= *p.to_micros) {
    return bad_parameter("to", "must be later than from");
  }
  return p;
}

// The list a cursor is bound to: the owner read, the route (with the rule for a rule's alerts) and the
// filters in their normalised text.
CursorScope scope_of(std::string_view route, const std::string& owner, const ListParameters& p) {
  CursorScope scope{owner, std::string(route), {}};
  if (p.symbol) scope.filters.emplace_back("symbol", *p.symbol);
  if (p.rule_id) scope.filters.emplace_back("rule_id", *p.rule_id);
  if (p.from_micros) scope.filters.emplace_back("from", format_timestamp(*p.from_micros));
  if (p.to_micros) scope.filters.emplace_back("to", format_timestamp(*p.to_micros));
  return scope;
}

const Rule* version_of(const std::map<std::string, RuleRecord>& records, const FiredAlert& alert) {
  const auto it = records.find(alert.rule_id);
  if (it == records.end()) return nullptr;
  for (const Rule& v : it->second.versions) {
    if (v.version == alert.rule_version) return &v;
  }
  return nullptr;
}

void append_field(std::string& out, std::string_view name) {
  if (out.back() != '{') out += ',';
  json::append_string(out, name);
  out += ':';
}

std::string alert_json(const FiredAlert& a, const Rule* version, std::int64_t max_notify_age_seconds) {
  std::string out = "{";
  const auto text = [&out](std::string_view name, std::string_view value) {
    append_field(out, name);
    json::append_string(out, value);
  };
  const auto number = [&out](std::string_view name, auto value) {
    append_field(out, name);
    json::append_number(out, value);
  };
  const auto flag = [&out](std::string_view name, bool value) {
    append_field(out, name);
    out += value ? "true" : "false";
  };
  text("stored_id", a.stored_id);
  text("owner", a.owner);
  text("rule_id", a.rule_id);
  number("rule_version", static_cast<std::uint64_t>(a.rule_version));
  text("symbol", a.tick.symbol);
  text("tick_time", format_timestamp(a.tick.ts.micros));
  number("price", a.tick.price);
  if (a.tick.bid) number("bid", *a.tick.bid);
  if (a.tick.ask) number("ask", *a.tick.ask);
  if (a.tick.volume) number("volume", *a.tick.volume);
  text("severity", a.severity);
  // The version is in the record unless the rule was purged after the retention horizon (R4).
  if (version != nullptr) text("message", alert_text(*version, a.tick));
  flag("notified", a.notified);
  if (a.notified_at_micros) text("notified_at", format_timestamp(*a.notified_at_micros));
  flag("delayed", a.notified_at_micros &&
                      *a.notified_at_micros - a.tick.ts.micros > max_notify_age_seconds * kMicrosPerSecond);
  flag("unvouched", a.unvouched);
  return out + '}';
}

ApiResponse list(AlertRoutesContext& c, const RouteCall& call, std::string_view route,
                 std::optional<RuleRecord> rule) {
  const bool rule_route = rule.has_value();
  auto owner = owner_to_read(call);
  if (!owner) return problem_response(owner.error());
  auto p = read_parameters(call.request, rule_route);
  if (!p) return problem_response(p.error());
  if (rule_route) {
    auto found = c.rules.get(owner.value(), call.params.at("rule_id"), call.deadline);
    if (!found) return problem_response(upstream_failure(found.error()));
    if (!found.value()) return problem_response(not_found("no rule " + call.params.at("rule_id")));
    rule = std::move(*found.value());
    p->rule_id = rule->id;
  }
  const std::int64_t now = c.now_micros();
  const std::int64_t now_seconds = now / kMicrosPerSecond;
  auto keys = c.cursor_keys.keys(now_seconds, call.deadline);
  if (!keys) return problem_response(upstream_failure(keys.error()));
  const CursorScope scope = scope_of(route, owner.value(), p.value());

  AlertQuery query;
  query.owner = owner.value();
  query.stored_before_micros = now - c.visible_after_seconds * kMicrosPerSecond;
  query.symbol = p->symbol;
  query.rule_id = p->rule_id;
  query.tick_from_micros = p->from_micros;
  query.tick_until_micros = p->to_micros;
  query.limit = p->limit;
  if (p->cursor) {
    auto position = read_cursor(*p->cursor, scope, keys.value(), now_seconds);
    if (!position) return problem_response(position.error());
    query.after = std::move(position).value();
  }
  auto page = c.alerts.list(query, call.deadline);
  if (!page) return problem_response(upstream_failure(page.error()));

  // The versions that fired, for the message text: the rule read above, or one batch read of the rules.
  std::map<std::string, RuleRecord> records;
  if (rule) {
    records.emplace(rule->id, std::move(*rule));
  } else if (!page->alerts.empty()) {
    std::vector<ChangeEntry> wanted;
    std::set<std::string> seen;
    for (const FiredAlert& a : page->alerts) {
      if (seen.insert(a.rule_id).second) wanted.push_back(ChangeEntry{a.owner, a.rule_id, "", 0, 0});
    }
    auto read = c.rules.records(wanted, call.deadline);
    if (!read) return problem_response(upstream_failure(read.error()));
    for (RuleRecord& r : read->records) records.emplace(r.id, std::move(r));
  }
  auto next = encode_cursor(page->position, scope, keys.value(), now_seconds);
  if (!next)
    return problem_response(upstream_failure(make_aws_error(next.error().code, next.error().message)));

  std::string body = R"({"alerts":[)";
  for (std::size_t i = 0; i < page->alerts.size(); ++i) {
    if (i > 0) body += ',';
    body += alert_json(page->alerts[i], version_of(records, page->alerts[i]), c.max_notify_age_seconds);
  }
  body += R"(],"next_cursor":)";
  json::append_string(body, next.value());
  body += R"(,"more":)";
  body += page->more ? "true" : "false";
  body += R"(,"listed_before":)";
  json::append_string(body, format_timestamp(std::max<std::int64_t>(query.stored_before_micros, 0)));
  return json_response(200, body + "}");
}

}  // namespace

void add_alert_routes(Router& router, AlertRoutesContext& context) {
  router.add("GET", "/alerts",
             [&context](const RouteCall& call) { return list(context, call, kListRoute, std::nullopt); });
  router.add("GET", "/rules/{rule_id}/alerts", rule_id_route([&context](const RouteCall& call) {
               return list(context, call, kRuleRoute, RuleRecord{});
             }));
}

}  // namespace tap::api
