// The one kansoku binary: `kansoku server`, `kansoku token ...`, and later `agent`, `query`,
// `import`, `issues`, `logs`, `hosts`, `usage`.
#include <CLI/CLI.hpp>

#include "cli/agent_cmd.h"
#include "cli/alert_cmd.h"
#include "cli/errors_cmd.h"
#include "cli/hosts_cmd.h"
#include "cli/import_cmd.h"
#include "cli/logs_cmd.h"
#include "cli/query_cmd.h"
#include "cli/targets_cmd.h"
#include "cli/token_cmd.h"
#include "cli/usage_cmd.h"
#include "server/server.h"

int main(int argc, char** argv) {
  CLI::App app{"kansoku: metrics, errors and logs in one self-hosted server"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("kansoku ") + KANSOKU_VERSION);
  int exit_code = 0;

  kansoku::server::ServerFlags sf;
  CLI::App* server = app.add_subcommand("server", "Run the kansoku server");
  server->add_option("--config", sf.config_file, "YAML config file (flags override it)");
  server->add_option("--data", sf.data_dir, "data directory (default ./data)");
  server->add_option("--listen", sf.listen,
                     "HTTP address HOST:PORT or [V6]:PORT; repeatable (default 127.0.0.1:9400)");
  server->add_option("--admin-token-file", sf.admin_token_file,
                     "file with the admin token to ensure at start");
  server->add_option("--tls-cert", sf.tls_cert_file, "PEM certificate chain: serve HTTPS");
  server->add_option("--tls-key", sf.tls_key_file, "PEM private key for --tls-cert");
  server->add_option("--log-level", sf.log_level, "debug, info, warn or error");
  server->add_option("--log-format", sf.log_format, "logfmt or json");
  server->add_option("--web-dir", sf.web_dir, "directory of the built web UI");
  server->add_option("--graphite-tcp", sf.graphite_tcp,
                     "Graphite plaintext TCP listener HOST:PORT (off by default)");
  server->add_option("--rules", sf.rule_files,
                     "Prometheus rule files (glob); repeatable, added to alerting.rule_files");
  server->add_option("--alertmanager-url", sf.alertmanager_urls,
                     "forward alerts to this Alertmanager (its /api/v2/alerts); repeatable");
  server->add_option("--notifications", sf.notifications_file,
                     "notification routes/receivers YAML (alerting.notifications_file)");
  server->add_flag("--check-config", sf.check_config, "validate the configuration and exit");
  server->callback([&] { exit_code = kansoku::server::RunServer(sf); });

  kansoku::cli::AddTokenCommand(&app, &exit_code);
  kansoku::cli::AddQueryCommand(&app, &exit_code);
  kansoku::cli::AddImportExportCommands(&app, &exit_code);
  kansoku::cli::AddHostsCommand(&app, &exit_code);
  kansoku::cli::AddAgentCommand(&app, &exit_code, KANSOKU_VERSION);
  kansoku::cli::AddLogsCommand(&app, &exit_code);
  kansoku::cli::AddErrorsCommands(&app, &exit_code);
  kansoku::cli::AddAlertCommands(&app, &exit_code);
  kansoku::cli::AddUsageCommand(&app, &exit_code);
  kansoku::cli::AddTargetsCommand(&app, &exit_code);

  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
