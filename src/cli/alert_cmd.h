#pragma once
// `kansoku silences list|add|expire` (the alerting API's silences) and
// `kansoku rules check FILE...` (offline rule-file validation, like `promtool check rules`).
namespace CLI {
class App;
}

namespace kansoku::cli {

void AddAlertCommands(CLI::App* app, int* exit_code);

}  // namespace kansoku::cli
