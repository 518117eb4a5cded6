#pragma once
// HTTP API of the hosts registry (docs/design/agent.md §4), over meta::HostStore:
//   POST /api/v1/hosts                  register / update (ingest scope)
//   POST /api/v1/hosts/<id>/heartbeat   heartbeat with key metrics (ingest)
//   POST /api/v1/hosts/<id>/status      {"status":"working|standby|maintenance|poweroff"} (ingest)
//   POST /api/v1/hosts/<id>/checks      {"checks":[{name,status,message,occurred_at_ms}]} (ingest)
//   POST /api/v1/hosts/<id>/retire      retire for good (ingest)
//   GET  /api/v1/hosts                  ?service=&role=&status=&all=1: list (read)
//   GET  /api/v1/hosts/<id>             one host (read)
// Answers use kansoku's {"status":"success","data":...} / {"status":"error","error":...} shape;
// unknown id 404, retired host 410, bad body 400 naming the field.
//
// Thread safety: handlers run concurrently; HostStore is thread-safe.
// Ownership: the HostStore must outlive the HTTP server.
#include <string>

namespace kansoku::net {
class HttpServer;
}
namespace kansoku::meta {
class HostStore;
struct HostInfo;
}  // namespace kansoku::meta

namespace kansoku::api {

void RegisterHostsApi(net::HttpServer& http, meta::HostStore* hosts);

// The JSON object of one host, as the API answers it.
std::string HostJson(const meta::HostInfo& h);

}  // namespace kansoku::api
