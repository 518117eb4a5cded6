#pragma once
// The usage guard's read API (docs/design/usage.md), read scope:
//   GET /api/v1/usage                                   tenants, limits, refusals, source counts
//   GET /api/v1/usage/cardinality?tenant=NAME&top=N     top metrics, labels, values of the biggest
//   GET /api/v1/usage/sources?kind=KIND&limit=N         sources with first/last seen, volumes
// JSON in the Prometheus API's envelope ({"status":"success","data":...}).
namespace kansoku::net {
class HttpServer;
}
namespace kansoku::usage {
class Guard;
}

namespace kansoku::api {

// `guard` must outlive the server.
void RegisterUsageApi(net::HttpServer& http, usage::Guard* guard);

}  // namespace kansoku::api
