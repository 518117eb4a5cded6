#pragma once
// `kansoku logs '<query>' [--since 1h] [--start T] [--end T] [--limit N] [--follow]`: runs a log
// query (docs/logs-query.md) against the server's /api/v1/logs/query and prints one line per
// record, newest first: `<time> <stream labels> <message>  key=value...` (a table for
// `| stats`). --follow prints the matching history oldest-first and then follows new records
// through /api/v1/logs/tail until interrupted. --json prints the API's JSON.
namespace CLI {
class App;
}
namespace kansoku::cli {
void AddLogsCommand(CLI::App* app, int* exit_code);
}  // namespace kansoku::cli
