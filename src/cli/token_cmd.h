#pragma once
// `kansoku token create|list|revoke`: manage API tokens on a running server (admin token).
namespace CLI {
class App;
}
namespace kansoku::cli {
// Adds the "token" subcommand; the callback sets *exit_code.
void AddTokenCommand(CLI::App* app, int* exit_code);
}  // namespace kansoku::cli
