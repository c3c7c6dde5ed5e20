// The invocation deadline: an instant on the steady clock (immune to wall-clock adjustments) by which all of
// one invocation's work must be done. The runtime takes it from Lambda-Runtime-Deadline-Ms; the handler
// passes it to every port call and the AWS layer bounds its retries and timeouts by it.
#pragma once

#include <chrono>

namespace tap {

using SteadyClock = std::chrono::steady_clock;
using Deadline = SteadyClock::time_point;

}  // namespace tap
