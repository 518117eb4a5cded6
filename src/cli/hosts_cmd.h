#pragma once
// `kansoku hosts [list]|show|status|retire`: the hosts registry of a running server (read token
// to list, ingest or admin to change).
namespace CLI {
class App;
}
namespace kansoku::cli {
void AddHostsCommand(CLI::App* app, int* exit_code);
}  // namespace kansoku::cli
