#pragma once
// `kansoku projects ...` (projects, DSNs, keys, limits, client reports) and
// `kansoku issues ...` (list, show, set status) against a running server's API.
namespace CLI {
class App;
}
namespace kansoku::cli {
// Adds the "projects" and "issues" subcommands; callbacks set *exit_code.
void AddErrorsCommands(CLI::App* app, int* exit_code);
}  // namespace kansoku::cli
