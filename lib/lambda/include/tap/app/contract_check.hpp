// tap_validate, the host tool that exposes the function's own validators: the rules document (validate_rules)
// and the settings table (load_function_config), and its reader of the state table's items. The package step
// checks the rules it ships with it, and the contract tests drive it in batch mode (JSON lines in, one
// verdict per line out) with generated inputs.
#pragma once

#include <iosfwd>
#include <span>
#include <string>
#include <string_view>

namespace tap::contract {

// {"valid":true} or {"valid":false,"reasons":["rules[3].symbol: ...", ...]}.
std::string rules_verdict(std::string_view document);
// `request` is {"name": "<variable>", "value": "<value>"}: the verdict of the function's start-up
// configuration with that variable set (the other required variables set to placeholders). A request that
// is not of that shape answers {"error": "..."}.
std::string setting_verdict(std::string_view request);
// {"LOG_LEVEL":"INFO","REORDER_WINDOW_SECONDS":"60"}: each table setting's value in the function's start-up
// configuration when its variable is unset, as the text that sets it (the contract test compares them with
// the defaults synthesis uses).
std::string setting_defaults();
// `request` is {"spec": string, "real": integer}: the function's reading of the clock spec (clock_spec.hpp)
// and its instant at that real instant, {"valid":true,"virtual":bool,"start":N,"anchor":N,"speed":N,
// "now":N}, or {"valid":false,"reasons":["..."]}; another shape answers {"error": "..."}.
std::string clock_verdict(std::string_view request);
// A symbol's state item (DynamoDB JSON, binary attributes base64 as DynamoDB sends them) decoded by the
// function's own adapter (dynamodb_store.hpp), for the black-box tests that read the state table:
// {"revision":N,"ticks":[[ts,seq,price],...],"fires":[{"rule_id","version","ts","seq","crossing","stored",
// "notified"},
// ...],"fires_complete_from":N|null}, or {"error": "..."} for an item the function would refuse.
std::string decoded_state_item(std::string_view item_json);

// The tool's command line (args without the program name); returns the exit status:
//   rules FILE          0 valid, 1 invalid (reasons on `err`), 2 unreadable
//   rules --batch       one rules document per input line -> one verdict per output line
//   settings --batch    one setting request per input line -> one verdict per output line
//   settings --table    the compiled-in settings table, byte for byte
//   settings --defaults setting_defaults(), one line
//   state-item --decode one state item per input line -> one decoded_state_item per output line
//   clock --batch       one clock request per input line -> one clock_verdict per output line
//   clock --variable    the clock's environment variable (TAP_CLOCK), one line
// Anything else: usage on `err`, 2.
int run(std::span<const std::string_view> args, std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace tap::contract
