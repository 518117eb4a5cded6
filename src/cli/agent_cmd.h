#pragma once
// `kansoku agent [flags]`: runs the host agent until SIGTERM/SIGINT (src/agent/agent.h).
// `kansoku agent retire`: retires the host of this state directory on the server.
namespace CLI {
class App;
}
namespace kansoku::cli {
void AddAgentCommand(CLI::App* app, int* exit_code, const char* version);
}  // namespace kansoku::cli
