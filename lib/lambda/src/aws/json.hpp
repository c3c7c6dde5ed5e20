// Internal JSON helpers of the AWS layer: string escaping for the request bodies we render, and a parser
// instance for the responses (simdjson On-Demand).
#pragma once

#include <simdjson.h>

#include <string>
#include <string_view>

namespace tap::aws_json {

std::string quote(std::string_view s);

simdjson::ondemand::parser& parser();

}  // namespace tap::aws_json
