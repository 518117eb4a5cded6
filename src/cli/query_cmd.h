#pragma once
// `kansoku query '<promql>' [--time T | --start S --end E --step D]`: runs a PromQL query on a
// server through the Prometheus HTTP API and prints a table (or the API's JSON with --json).
// Times: RFC 3339, Unix seconds, "now", or "now-1h" / "-1h" relative to now.
namespace CLI {
class App;
}
namespace kansoku::cli {
void AddQueryCommand(CLI::App* app, int* exit_code);
}  // namespace kansoku::cli
