#pragma once
// `kansoku import FILE` sends a Prometheus text / OpenMetrics or InfluxDB line-protocol file (or
// - for stdin) to a server in gzip-compressed chunks cut at line boundaries, with a progress bar
// on a terminal; it prints rows stored and rejected and the server's first error messages.
// `kansoku export SELECTOR [--start --end] [-o FILE]` writes every sample of the matching series
// as Prometheus text with ms timestamps (what import reads back).
namespace CLI {
class App;
}
namespace kansoku::cli {
void AddImportExportCommands(CLI::App* app, int* exit_code);
}  // namespace kansoku::cli
