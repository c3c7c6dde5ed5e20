#include "tap/api/symbol_routes.hpp"

#include <simdjson.h>

#include <cmath>
#include <optional>
#include <set>

#include "tap/api/rule_json.hpp"
#include "tap/core/json_text.hpp"
#include "tap/core/tick.hpp"
#include "tap/core/timestamp.hpp"

namespace tap::api {
namespace {

Problem operators_only() { return forbidden("symbol controls are for operators"); }

// The body's members by name, each once; a body that is not one JSON object is a "(body)" problem (400).
struct Members {
  simdjson::dom::object object;
  std::vector<FieldError> problems;
};

simdjson::dom::parser& body_parser() {
  static thread_local simdjson::dom::parser parser;
  return parser;
}

Result<Members, Problem> read_members(const std::string& body, const std::set<std::string_view>& allowed) {
  Members m;
  if (body_parser().parse(body).get(m.object) != simdjson::SUCCESS) {
    return invalid_input({FieldError{"(body)", "not a JSON object"}});
  }
  std::set<std::string_view> seen;
  for (const auto field : m.object) {
    if (!allowed.contains(field.key)) {
      m.problems.push_back({std::string(field.key), "unknown member"});
    } else if (!seen.insert(field.key).second) {
      m.problems.push_back({std::string(field.key), "given twice"});
    }
  }
  return m;
}

std::optional<std::int64_t> time_member(Members& m, std::string_view name) {
  simdjson::dom::element value;
  if (m.object[name].get(value) != simdjson::SUCCESS) return std::nullopt;
  std::string_view text;
  if (value.get_string().get(text) != simdjson::SUCCESS) {
    m.problems.push_back({std::string(name), "must be a timestamp string"});
    return std::nullopt;
  }
  auto ts = parse_timestamp(text);
  if (!ts) {
    m.problems.push_back({std::string(name), ts.error().message});
    return std::nullopt;
  }
  return ts->micros;
}

double number_member(Members& m, std::string_view name) {
  simdjson::dom::element value;
  double out = 0;
  if (m.object[name].get(value) != simdjson::SUCCESS) {
    m.problems.push_back({std::string(name), "required"});
  } else if (value.get_double().get(out) != simdjson::SUCCESS || !std::isfinite(out)) {
    m.problems.push_back({std::string(name), "must be a finite number"});
  }
  return out;
}

void append_window(std::string& out, const EffectiveWindow& w) {
  out += R"("from":)" + time_json(w.from_micros) + R"(,"until":)" + time_json(w.until_micros);
}

std::string controls_json(const std::string& symbol, const SymbolControls& controls) {
  std::string out = R"({"symbol":)";
  json::append_string(out, symbol);
  out += R"(,"suspensions":[)";
  for (std::size_t i = 0; i < controls.suspensions.size(); ++i) {
    out += i > 0 ? ",{" : "{";
    append_window(out, controls.suspensions[i]);
    out += '}';
  }
  out += R"(],"bands":[)";
  for (std::size_t i = 0; i < controls.bands.size(); ++i) {
    out += i > 0 ? ",{" : "{";
    append_window(out, controls.bands[i].window);
    out += R"(,"low":)";
    json::append_number(out, controls.bands[i].low);
    out += R"(,"high":)";
    json::append_number(out, controls.bands[i].high);
    out += '}';
  }
  return out + "]}";
}

// The route's symbol, or the problem that ends the call (not an operator: 403; not a symbol: 400).
Result<std::string, Problem> symbol_of(const RouteCall& call) {
  if (!call.caller.is_operator) return operators_only();
  const std::string& symbol = call.params.at("symbol");
  if (!is_valid_symbol(symbol)) return invalid_input({FieldError{"symbol", "not a symbol"}});
  return symbol;
}

ApiResponse get_controls(SymbolRoutesContext& c, const RouteCall& call) {
  auto symbol = symbol_of(call);
  if (!symbol) return problem_response(symbol.error());
  auto all = c.rules.controls(call.deadline);
  if (!all) return problem_response(upstream_failure(all.error()));
  SymbolControls controls;
  for (const SymbolControlRecord& r : all.value()) {
    if (r.symbol == symbol.value()) controls = r.controls;
  }
  return json_response(200, controls_json(symbol.value(), controls));
}

ApiResponse change(SymbolRoutesContext& c, const RouteCall& call, ControlChange::Kind kind) {
  auto symbol = symbol_of(call);
  if (!symbol) return problem_response(symbol.error());
  ControlChange request;
  request.kind = kind;
  request.symbol = symbol.value();
  if (kind == ControlChange::Kind::suspend || kind == ControlChange::Kind::set_band) {
    const bool band = kind == ControlChange::Kind::set_band;
    const std::string body = call.request.body.empty() && !band ? "{}" : call.request.body;
    auto members = read_members(
        body, band ? std::set<std::string_view>{"low", "high"} : std::set<std::string_view>{"from", "until"});
    if (!members) return problem_response(members.error());
    if (band) {
      request.low = number_member(members.value(), "low");
      request.high = number_member(members.value(), "high");
    } else {
      request.from_micros = time_member(members.value(), "from");
      request.until_micros = time_member(members.value(), "until");
    }
    if (!members->problems.empty()) return problem_response(invalid_input(members->problems));
  }
  auto outcome = c.changes.set_controls(request, call.deadline);
  if (!outcome) return problem_response(problem_for(outcome.error()));
  std::string body = R"({"symbol":)";
  json::append_string(body, request.symbol);
  body += R"(,"effective_from":)";
  json::append_string(body, format_timestamp(outcome->effective_from_micros));
  return json_response(200, body + "}");
}

}  // namespace

void add_symbol_routes(Router& router, SymbolRoutesContext& context) {
  router.add("GET", "/symbols/{symbol}/controls",
             [&context](const RouteCall& call) { return get_controls(context, call); });
  router.add("PUT", "/symbols/{symbol}/suspension", [&context](const RouteCall& call) {
    return change(context, call, ControlChange::Kind::suspend);
  });
  router.add("DELETE", "/symbols/{symbol}/suspension", [&context](const RouteCall& call) {
    return change(context, call, ControlChange::Kind::resume);
  });
  router.add("PUT", "/symbols/{symbol}/band", [&context](const RouteCall& call) {
    return change(context, call, ControlChange::Kind::set_band);
  });
  router.add("DELETE", "/symbols/{symbol}/band", [&context](const RouteCall& call) {
    return change(context, call, ControlChange::Kind::clear_band);
  });
}

}  // namespace tap::api
