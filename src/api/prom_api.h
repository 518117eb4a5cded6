#pragma once
// The Prometheus HTTP API (read side): /api/v1/query, /query_range, /series, /labels,
// /label/<name>/values, /metadata, /query_exemplars, /format_query, GET and form-encoded POST,
// JSON of the same shape and the same errorType + status codes as Prometheus
// (bad_data 400, execution 422, timeout 503, unavailable 503, canceled 499, internal 500).
//
// Limits: the engine's timeout, max-samples and admission gate (query.max_concurrency running,
// query.max_queued waiting: beyond, 503 "unavailable"; a query that times out waiting, 503
// "timeout"); max_series_returned caps series in a result or a /series answer (422 naming the
// limit). Every handler is offloaded to the worker pool; beyond its queue the server answers 503.
// Thread safety: handlers are stateless apart from the shared, thread-safe Queryable and Engine.
// Ownership: storage and engine must outlive the HTTP server.
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace kansoku::net {
class HttpServer;
}
namespace kansoku::tsdb {
class Queryable;
}
namespace kansoku::query {
class Engine;
struct Series;
}  // namespace kansoku::query

namespace kansoku::api {

struct PromApiOptions {
  tsdb::Queryable* storage = nullptr;
  const query::Engine* engine = nullptr;
  size_t max_series_returned = 100000;
  std::string version = "0.0.0";
};

void RegisterPromApi(net::HttpServer& http, const PromApiOptions& opts);

// Prometheus' time parameter: RFC 3339 ("2026-11-26T07:00:00.5Z", offsets allowed) or Unix
// seconds with a fraction ("1700000000.123"). Returns ms. InvalidArgument names the input.
Result<int64_t> ParsePromTime(const std::string& s);
// Prometheus' duration parameter: float seconds ("15", "0.5") or a duration ("15s", "1m30s").
Result<int64_t> ParsePromDuration(const std::string& s);
// ms -> seconds as Prometheus prints sample times in JSON (1435781451.781).
std::string FormatPromTime(int64_t ms);

// The series of a range query's matrix as the elements of its JSON "result" array, appended to
// *j (the handler's path): points on the query's step grid (start, end, step in ms) take their
// time text from a table made once; a large matrix is formatted on two threads.
void AppendMatrixJson(std::string& j, const std::vector<query::Series>& m, int64_t start,
                      int64_t end, int64_t step);

}  // namespace kansoku::api
