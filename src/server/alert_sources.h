#pragma once
// Built-in monitors over the hosts registry (alerting.md §3.5), as alert::Sources:
//   HostDown     one alert per host whose heartbeats stopped (HostStore::Unreachable: working or
//                standby hosts only; maintenance, poweroff and retired hosts never alert)
//   CheckFailed  one alert per check plugin whose last status is WARNING, CRITICAL or UNKNOWN,
//                on hosts that are working or standby and not retired
// Labels: host, host_id, service, roles, host_status (standby hosts can be routed to a
// receiver-less route: monitored, not notified, as in Mackerel). Thread safety: HostStore is
// thread-safe; the sources hold no other state.
#include <memory>

#include "alert/source.h"

namespace kansoku::meta {
class HostStore;
}

namespace kansoku::server {

std::unique_ptr<alert::Source> MakeHostConnectivitySource(meta::HostStore* hosts,
                                                          int64_t interval_ms);
std::unique_ptr<alert::Source> MakeHostChecksSource(meta::HostStore* hosts, int64_t interval_ms);

}  // namespace kansoku::server
