// The operators' rules command (`tap_rules`, R6 import and F3 symbol controls): its arguments, and each
// subcommand run through the change library (ChangeService over a RulesStore). No process I/O here: the
// store, the file reader and the output streams are the caller's (src/tools/tap_rules.cpp wires DynamoDB),
// so tests drive it with the fake rules store.
//
// Subcommands (times as ticks carry them, include/tap/core/timestamp.hpp):
//   import --owner OWNER FILE          plan_import against the owner's rules, each change committed in
//                                      document order; one line per document rule: its name, what changed
//                                      (created, edited, paused, resumed, joined by ","; or unchanged) and
//                                      the effective_from of its last change
//   list --owner OWNER                 the owner's rules (deleted ones too): state, revision, arming, every
//                                      version with its window
//   controls                           every symbol's suspensions and price bands with their windows
//   suspend SYMBOL [--from T] [--until T]   a suspension from max(effective_from, T)
//   resume-symbol SYMBOL               closes the open suspension at effective_from
//   band SYMBOL --low X --high Y       a price band from effective_from (closes the open one)
//   clear-band SYMBOL                  closes the open band at effective_from
//   loaded                             the function's cold load (RulesCache::load: fences advanced, the
//                                      segmented consistent scans, the retention horizon) and what it
//                                      decoded as JSON lines: one per version, one per skipped item, a
//                                      summary last (the Python readers' differential tests compare them)
// Exit codes: 0 done; 2 usage (the message and the help on err); 1 failed (an invalid document lists every
// problem with its path and changes nothing; a change refused, or not committed within P: retry later).
#pragma once

#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "tap/app/change_service.hpp"
#include "tap/app/rules_cache.hpp"
#include "tap/app/rules_dynamodb.hpp"
#include "tap/aws/aws_config.hpp"
#include "tap/core/result.hpp"

namespace tap {

struct RulesToolCommand {
  enum class Kind { help, import, list, controls, suspend, resume_symbol, band, clear_band, loaded };
  Kind kind = Kind::help;
  std::string owner;  // import, list
  std::string file;   // import
  ControlChange control;
};

inline constexpr int kToolOk = 0;
inline constexpr int kToolFailed = 1;
inline constexpr int kToolUsage = 2;

// The help text a person follows (every subcommand, the environment, the exit codes).
std::string rules_tool_help();

// The arguments after the program name. `--help` / `-h` anywhere, or none at all, is Kind::help.
Result<RulesToolCommand> parse_rules_tool_args(const std::vector<std::string>& args);

struct RulesToolContext {
  RulesStore& store;
  ChangeService& changes;
  std::function<Result<std::string>(const std::string& path)> read_file;
  std::function<Deadline()> deadline;  // for each request (a change's whole loop has P on top)
  std::ostream& out;
  std::ostream& err;
  RulesCache* cache = nullptr;  // loaded: the function's rules cache over the same table (none: refused)
};

// The rules table from the environment: RULES_TABLE (required), RULES_SHARDS (read by rules_shards_from_env,
// as the function reads it). Every problem is named in the error (code "invalid_configuration").
Result<RulesTableSettings> rules_table_from_env(const EnvLookup& env);

// Runs a parsed command (not help); returns the exit code.
int run_rules_tool(const RulesToolCommand& command, const RulesToolContext& context);

}  // namespace tap
