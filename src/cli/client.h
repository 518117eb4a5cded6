#pragma once
// What every client verb (`kansoku token`, later query/issues/logs/hosts/usage) shares: the
// server URL and token (flags, else KANSOKU_SERVER / KANSOKU_TOKEN), a JSON API call that turns
// kansoku's {"status":"error","error":...} answers into a Status, and a table printer.
#include <string>
#include <vector>

#include "base/status.h"

namespace CLI {
class App;
}

namespace kansoku::cli {

struct ClientFlags {
  std::string server;  // --server, else $KANSOKU_SERVER, else http://127.0.0.1:9400
  std::string token;   // --token, else $KANSOKU_TOKEN
  bool json = false;   // --json: print the API's JSON instead of a table
  bool insecure = false;
  void AddTo(CLI::App* app);
  void ResolveDefaults();
};

// Calls the API; returns the body of a 2xx answer, else an error with the server's message.
Result<std::string> CallApi(const ClientFlags& f, const std::string& method,
                            const std::string& path, const std::string& body = "");

// Prints rows under a header, columns padded to the widest cell.
void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows);

}  // namespace kansoku::cli
