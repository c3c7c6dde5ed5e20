// The checks API Gateway's JWT authorizer does not make, made by the function on the event's claims (A1):
//  - a token without `sub` is 401 (no owner: API Gateway should not have let it through);
//  - `token_use` must be "access": an ID token (or any other) is 403 `id-token-refused` -- the token is
//    valid (API Gateway checked it), it is the wrong kind for this API, so re-authenticating with the same
//    token cannot help, which is what 403 says;
//  - an operator is a caller whose `cognito:groups` contains the configured group.
// Pure.
#pragma once

#include <string_view>

#include "tap/api/api_event.hpp"
#include "tap/api/router.hpp"

namespace tap::api {

Result<Caller, Problem> authenticate(const Claims& claims, std::string_view operator_group);

// Whose rules a read names: the caller's own, unless an operator passes `owner`. A trader passing an
// `owner` other than their own `sub` is 403 (refusing says what the parameter is for; ignoring it would
// answer their own rules under another's name).
Result<std::string, Problem> owner_to_read(const RouteCall& call);

}  // namespace tap::api
