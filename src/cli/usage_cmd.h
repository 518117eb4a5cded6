#pragma once
// `kansoku usage [--tenant NAME] [--top N]`: what is monitored and who is the biggest — tokens
// with their active series, new series per hour, samples/s, limits and refusals; the top metrics
// and label names by cardinality; the biggest sources (hosts, services, targets). --json prints
// the API's answers.
namespace CLI {
class App;
}
namespace kansoku::cli {
void AddUsageCommand(CLI::App* app, int* exit_code);
}  // namespace kansoku::cli
