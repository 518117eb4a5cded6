#pragma once
// Internal to kansoku_config: YAML of `monitors:` and `budgets:` (config/monitors.h).
// Errors are "line L: key.path: why" (the caller prefixes the file name).
#include <yaml-cpp/yaml.h>

#include <vector>

#include "base/status.h"
#include "config/monitors.h"

namespace kansoku::config {

Status ParseMonitorsYaml(const YAML::Node& node, MonitorsConfig* out);
Status ParseBudgetsYaml(const YAML::Node& node, std::vector<BudgetConfig>* out);

}  // namespace kansoku::config
