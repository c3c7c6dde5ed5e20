#include "tap/api/api_auth.hpp"

#include <algorithm>

namespace tap::api {

Result<Caller, Problem> authenticate(const Claims& claims, std::string_view operator_group) {
  if (claims.sub.empty()) return unauthorized("the token has no subject (sub)");
  if (claims.token_use != "access") {
    Problem p = forbidden("an access token is required; this token's token_use is \"" + claims.token_use +
                          "\" (ID tokens are refused)");
    p.type = "id-token-refused";
    return p;
  }
  return Caller{.owner = claims.sub,
                .is_operator = !operator_group.empty() &&
                               std::ranges::find(claims.groups, operator_group) != claims.groups.end()};
}

Result<std::string, Problem> owner_to_read(const RouteCall& call) {
  const auto named = call.request.query.find("owner");
  if (named == call.request.query.end() || named->second == call.caller.owner) return call.caller.owner;
  if (!call.caller.is_operator) {
    Problem p = forbidden("only operators may read another owner's rules");
    p.fields = {{"owner", "operators only"}};
    return p;
  }
  if (named->second.empty()) {
    Problem p = invalid_input({{"owner", "must not be empty"}});
    return p;
  }
  return named->second;
}

}  // namespace tap::api
