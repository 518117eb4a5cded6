#pragma once
// `kansoku targets [--state S]` and `kansoku targets approve JOB [TARGET]`: the server's scrape
// targets (health, last scrape, errors; held and not-selected ones with the reason) and the
// approval of targets held by the growth hold (docs/design/scrape.md). Read token to list, admin
// to approve.
namespace CLI {
class App;
}
namespace kansoku::cli {
void AddTargetsCommand(CLI::App* app, int* exit_code);
}  // namespace kansoku::cli
