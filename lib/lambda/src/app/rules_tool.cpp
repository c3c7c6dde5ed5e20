// The operators' rules command (contract in tap/app/rules_tool.hpp).
#include "tap/app/rules_tool.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <map>
#include <optional>
#include <ostream>
#include <string_view>
#include <utility>

#include "tap/app/function_config.hpp"
#include "tap/core/json_text.hpp"
#include "tap/core/rule_import.hpp"
#include "tap/core/timestamp.hpp"

namespace tap {
namespace {

using Kind = RulesToolCommand::Kind;

Error usage(std::string message) { return {"usage", std::move(message)}; }

// "--name VALUE" pairs and positional words, in order; a flag without its value is a usage error.
struct Words {
  std::vector<std::string> positional;
  std::map<std::string, std::string> flags;
};

Result<Words> split(const std::vector<std::string>& args, const std::vector<std::string>& allowed) {
  Words words;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (!a.starts_with("--")) {
      words.positional.push_back(a);
      continue;
    }
    if (std::find(allowed.begin(), allowed.end(), a) == allowed.end()) {
      return usage(args[0] + " does not take " + a);
    }
    if (i + 1 == args.size()) return usage(a + " needs a value");
    if (!words.flags.emplace(a, args[++i]).second) return usage(a + " is given twice");
  }
  return words;
}

Result<double> price(const std::string& flag, const std::string& text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value)) {
    return usage(flag + " must be a number, not " + text);
  }
  return value;
}

Result<std::int64_t> instant(const std::string& flag, const std::string& text) {
  auto ts = parse_timestamp(text);
  if (!ts) return usage(flag + " " + text + ": " + ts.error().message);
  return ts->micros;
}

// The one positional word a subcommand takes (OWNER's FILE, a SYMBOL).
Result<std::string> one(const Words& words, const std::string& command, const std::string& what) {
  if (words.positional.size() != 1) return usage(command + " takes one " + what);
  return words.positional[0];
}

Result<std::string> required(const Words& words, const std::string& command, const std::string& flag) {
  const auto it = words.flags.find(flag);
  if (it == words.flags.end()) return usage(command + " needs " + flag);
  return it->second;
}

std::string when(std::int64_t micros) {
  if (micros == EffectiveWindow::kOpenEnd) return "open";
  return format_timestamp(micros);
}

std::string window_text(const EffectiveWindow& w) {
  return "[" + when(w.from_micros) + ", " + when(w.until_micros) + ")";
}

std::string number(double value) {
  std::string out;
  json::append_number(out, value);
  return out;
}

// Why a change did not happen, for a person.
std::string failure_text(const ChangeFailure& failure) {
  switch (failure.kind) {
    case ChangeFailure::Kind::rejected: {
      std::string text =
          failure.error.kind == ChangeError::Kind::quota_exceeded ? "quota exceeded: " : "refused: ";
      text += failure.error.message;
      for (const FieldError& f : failure.error.fields) text += "\n  " + f.field + ": " + f.message;
      return text;
    }
    case ChangeFailure::Kind::retry_later:
      return "not committed: " + failure.error.message;
    case ChangeFailure::Kind::failed:
      break;
  }
  return "the rules table refused a request: " + failure.aws.code + ": " + failure.aws.message;
}

int import(const RulesToolCommand& command, const RulesToolContext& c) {
  auto document = c.read_file(command.file);
  if (!document) {
    c.err << "cannot read " << command.file << ": " << document.error().message << "\n";
    return kToolFailed;
  }
  auto existing = c.store.list(command.owner, false, c.deadline());
  if (!existing) {
    c.err << "cannot read the rules of " << command.owner << ": " << existing.error().code << ": "
          << existing.error().message << "\n";
    return kToolFailed;
  }
  auto plan = plan_import(document.value(), command.owner, existing.value());
  if (!plan) {
    c.err << command.file << " is not a valid rules document; nothing was changed:\n"
          << plan.error().message << "\n";
    return kToolFailed;
  }
  // What happened to each document rule, by name: the changes made and the last effective_from.
  struct Done {
    std::string changes;
    std::int64_t effective_from = 0;
  };
  std::map<std::string, Done> done;
  std::map<std::string, std::string> names;  // rule id -> name
  for (const RuleRecord& r : existing.value()) names[r.id] = r.spec.name;
  static constexpr std::array<std::string_view, 6> kPast{"created", "edited",   "paused",
                                                         "resumed", "re-armed", "deleted"};
  const auto& requests = plan.value();
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const ChangeRequest& request = requests[i];
    const std::string name = request.spec ? request.spec->name : names[request.rule_id];
    auto outcome = c.changes.apply(request, c.deadline());
    if (!outcome) {
      c.err << name << ": " << failure_text(outcome.error()) << "\n"
            << requests.size() - i << " of " << requests.size()
            << " changes not made; run the import again (it changes only what still differs)\n";
      return kToolFailed;
    }
    Done& d = done[name];
    d.changes += (d.changes.empty() ? "" : ",") + std::string(kPast[static_cast<std::size_t>(request.kind)]);
    d.effective_from = outcome->effective_from_micros;
  }
  // The document's rules in order (plan_import accepted it, so it loads).
  const auto loaded = load_rules(document.value());
  for (const Rule& rule : loaded->rules()) {
    const auto it = done.find(rule.id);
    if (it == done.end()) {
      c.out << rule.id << " unchanged\n";
    } else {
      c.out << rule.id << " " << it->second.changes << " effective_from " << when(it->second.effective_from)
            << "\n";
    }
  }
  return kToolOk;
}

int list(const RulesToolCommand& command, const RulesToolContext& c) {
  auto records = c.store.list(command.owner, true, c.deadline());
  if (!records) {
    c.err << "cannot read the rules of " << command.owner << ": " << records.error().code << ": "
          << records.error().message << "\n";
    return kToolFailed;
  }
  for (const RuleRecord& r : records.value()) {
    c.out << r.spec.name << " id " << r.id << " state " << to_string(r.state) << " revision " << r.revision
          << " arming " << r.arming << " versions " << r.versions.size() << "\n";
    for (const Rule& v : r.versions) {
      c.out << "  v" << v.version << " " << window_text(v.window) << " " << v.symbol << " "
            << to_string(v.condition) << " " << number(v.threshold) << " " << to_string(v.mode) << "\n";
    }
  }
  return kToolOk;
}

int controls(const RulesToolContext& c) {
  auto all = c.store.controls(c.deadline());
  if (!all) {
    c.err << "cannot read the symbol controls: " << all.error().code << ": " << all.error().message << "\n";
    return kToolFailed;
  }
  for (const SymbolControlRecord& s : all.value()) {
    for (const EffectiveWindow& w : s.controls.suspensions)
      c.out << s.symbol << " suspended " << window_text(w) << "\n";
    for (const PriceBand& b : s.controls.bands) {
      c.out << s.symbol << " band " << number(b.low) << " " << number(b.high) << " " << window_text(b.window)
            << "\n";
    }
  }
  return kToolOk;
}

int control(const RulesToolCommand& command, const RulesToolContext& c) {
  auto outcome = c.changes.set_controls(command.control, c.deadline());
  if (!outcome) {
    c.err << command.control.symbol << ": " << failure_text(outcome.error()) << "\n";
    return kToolFailed;
  }
  c.out << command.control.symbol << " effective_from " << when(outcome->effective_from_micros) << "\n";
  return kToolOk;
}

// One engine version as a JSON line (absent bounds and expiry as null).
std::string version_json(const Rule& v) {
  std::string out = R"({"id":)";
  json::append_string(out, v.id);
  const auto text = [&out](std::string_view name, std::string_view value) {
    out += ",\"";
    out += name;
    out += "\":";
    json::append_string(out, value);
  };
  const auto integer = [&out](std::string_view name, std::optional<std::int64_t> value) {
    out += ",\"";
    out += name;
    out += "\":";
    if (value) {
      json::append_number(out, *value);
    } else {
      out += "null";
    }
  };
  integer("version", v.version);
  text("owner", v.owner);
  text("symbol", v.symbol);
  text("condition", to_string(v.condition));
  out += R"(,"threshold":)";
  json::append_number(out, v.threshold);
  text("severity", to_string(v.severity));
  text("mode", to_string(v.mode));
  integer("cooldown_seconds", v.cooldown_seconds);
  integer("bar_seconds", v.bar_seconds);
  integer("arming", v.arming);
  integer("from", v.window.from_micros);
  integer("until", v.window.until_micros == EffectiveWindow::kOpenEnd
                       ? std::nullopt
                       : std::optional<std::int64_t>(v.window.until_micros));
  integer("expires_at", v.expires_at_micros);
  out += v.enabled ? R"(,"enabled":true)" : R"(,"enabled":false)";
  text("description", v.description);
  text("message_template", v.message_template);
  return out + "}";
}

int loaded(const RulesToolContext& c) {
  if (c.cache == nullptr) {
    c.err << "loaded: no rules cache in this context\n";
    return kToolFailed;
  }
  auto report = c.cache->load(c.deadline());
  if (!report) {
    c.err << "the cold load failed: " << report.error().code << ": " << report.error().message << "\n";
    return kToolFailed;
  }
  for (const Rule& v : c.cache->versions()) c.out << version_json(v) << "\n";
  for (const std::string& item : report->invalid_items) {
    std::string line = R"({"invalid":)";
    json::append_string(line, item);
    c.out << line << "}\n";
  }
  c.out << R"({"versions":)" << c.cache->versions().size() << R"(,"invalid":)" << report->invalid
        << R"(,"fence":)" << c.cache->covered_until() << "}\n";
  return kToolOk;
}

}  // namespace

std::string rules_tool_help() {
  return R"(tap_rules: operators' rules and symbol controls, through the change protocol (docs/design.md 11-12).

usage:
  tap_rules import --owner OWNER FILE   make OWNER's rules equal to the rules document FILE (the format of
                                        config/alert-rules.json): new ids are created, changed ones edited,
                                        `enabled` flips pause or resume; rules missing from FILE are kept.
                                        Prints each rule: created / edited / paused / resumed / unchanged
                                        and the effective_from of its change. Running it twice changes nothing.
  tap_rules list --owner OWNER          OWNER's rules: state, revision, arming and every version's window
  tap_rules controls                    every symbol's suspensions and price bands with their windows
  tap_rules suspend SYMBOL [--from T] [--until T]
                                        suspend SYMBOL (ticks in the window fire nothing) from
                                        effective_from, or from T when later, until T or a resume-symbol
  tap_rules resume-symbol SYMBOL        end SYMBOL's suspension at effective_from
  tap_rules band SYMBOL --low X --high Y
                                        ticks of SYMBOL priced outside [X, Y] are rejected from effective_from
  tap_rules clear-band SYMBOL           end SYMBOL's price band at effective_from
  tap_rules loaded                      the function's cold load of the table (fences, segmented scans,
                                        retention horizon) and what it decoded, as JSON lines: each
                                        version, each skipped item ({"invalid": why}), a summary last
  tap_rules --help                      this text

Times T are UTC as ticks carry them, e.g. 2026-03-02T14:30:00Z. A change takes effect at its effective_from,
at least P (5 s) after it is committed; every tick at or after it sees the change.

environment:
  RULES_TABLE     the rules table (the stack's rules_table_name output), required
  RULES_SHARDS    the change heads' shard count (default 1): the function's RULES_SHARDS, the same number
  AWS_REGION, AWS credentials (AWS_ACCESS_KEY_ID, ... or AWS_PROFILE's role), AWS_ENDPOINT_URL_DYNAMODB /
  AWS_ENDPOINT_URL (moto): as the function reads them. The role needs the stack's rules-writer-policy.

exit codes: 0 done; 1 failed (invalid document: every problem with its path, nothing changed; a change
refused, the quota exceeded, or not committed within P: retry later); 2 usage.
)";
}

Result<RulesTableSettings> rules_table_from_env(const EnvLookup& env) {
  RulesTableSettings settings;
  std::string problems;
  if (auto table = env("RULES_TABLE")) {
    settings.table = *table;
  } else {
    problems = "RULES_TABLE is not set";
  }
  if (auto shards = rules_shards_from_env(env)) {
    settings.shards = shards.value();
  } else {
    problems += (problems.empty() ? "" : "; ") + shards.error().message;
  }
  if (!problems.empty()) return Error{"invalid_configuration", problems};
  return settings;
}

Result<RulesToolCommand> parse_rules_tool_args(const std::vector<std::string>& args) {
  RulesToolCommand command;
  if (args.empty() || std::find_if(args.begin(), args.end(), [](const std::string& a) {
                        return a == "--help" || a == "-h";
                      }) != args.end()) {
    return command;
  }
  const std::string& name = args[0];
  if (name == "import" || name == "list") {
    auto words = split(args, {"--owner"});
    if (!words) return words.error();
    auto owner = required(words.value(), name, "--owner");
    if (!owner) return owner.error();
    if (owner->empty()) return usage("--owner must not be empty");
    command.owner = owner.value();
    if (name == "list") {
      if (!words->positional.empty()) return usage("list takes no file");
      command.kind = Kind::list;
      return command;
    }
    auto file = one(words.value(), name, "FILE");
    if (!file) return file.error();
    command.kind = Kind::import;
    command.file = file.value();
    return command;
  }
  if (name == "controls" || name == "loaded") {
    if (args.size() != 1) return usage(name + " takes no arguments");
    command.kind = name == "controls" ? Kind::controls : Kind::loaded;
    return command;
  }
  static const std::map<std::string, std::pair<Kind, ControlChange::Kind>> kControls{
      {"suspend", {Kind::suspend, ControlChange::Kind::suspend}},
      {"resume-symbol", {Kind::resume_symbol, ControlChange::Kind::resume}},
      {"band", {Kind::band, ControlChange::Kind::set_band}},
      {"clear-band", {Kind::clear_band, ControlChange::Kind::clear_band}}};
  const auto it = kControls.find(name);
  if (it == kControls.end()) return usage("unknown command " + name);
  const std::vector<std::string> allowed = name == "suspend" ? std::vector<std::string>{"--from", "--until"}
                                           : name == "band"  ? std::vector<std::string>{"--low", "--high"}
                                                             : std::vector<std::string>{};
  auto words = split(args, allowed);
  if (!words) return words.error();
  auto symbol = one(words.value(), name, "SYMBOL");
  if (!symbol) return symbol.error();
  command.kind = it->second.first;
  command.control.kind = it->second.second;
  command.control.symbol = symbol.value();
  for (const auto& [flag, value] : words->flags) {
    if (flag == "--low" || flag == "--high") {
      auto p = price(flag, value);
      if (!p) return p.error();
      (flag == "--low" ? command.control.low : command.control.high) = p.value();
    } else {
      auto t = instant(flag, value);
      if (!t) return t.error();
      (flag == "--from" ? command.control.from_micros : command.control.until_micros) = t.value();
    }
  }
  if (name == "band" && words->flags.size() != 2) return usage("band needs --low and --high");
  return command;
}

int run_rules_tool(const RulesToolCommand& command, const RulesToolContext& context) {
  switch (command.kind) {
    case Kind::import:
      return import(command, context);
    case Kind::list:
      return list(command, context);
    case Kind::controls:
      return controls(context);
    case Kind::loaded:
      return loaded(context);
    case Kind::help:
      context.out << rules_tool_help();
      return kToolOk;
    case Kind::suspend:
    case Kind::resume_symbol:
    case Kind::band:
    case Kind::clear_band:
      break;
  }
  return control(command, context);
}

}  // namespace tap
