#pragma once
// A small blocking HTTP/1.1 client for the CLI verbs and the agent's shipper: one request per
// call on a fresh connection, http:// and https:// (verifying the server certificate against the
// system store unless insecure), with a total timeout.
// Thread safety: free function, no shared state.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace kansoku::net {

struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string Header(const std::string& lower_name) const;
};

struct ClientOptions {
  int64_t timeout_ms = 30000;
  bool insecure_tls = false;  // skip certificate verification (self-signed test servers)
};

// Unavailable when the server cannot be reached (so callers can retry), InvalidArgument for a
// bad URL, DeadlineExceeded on timeout. Any HTTP status is a successful call.
Result<ClientResponse> HttpCall(const std::string& method, const std::string& url,
                                const std::vector<std::pair<std::string, std::string>>& headers,
                                const std::string& body, const ClientOptions& opts = {});

}  // namespace kansoku::net
