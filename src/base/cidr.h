#pragma once
// CIDR allow-lists for the UDP/TCP listeners: "10.0.0.0/8", "::1/128", or a bare address.
// An IPv4 network also matches IPv4-mapped IPv6 peers (::ffff:a.b.c.d). Immutable values.
#include <string>

#include "base/status.h"

namespace kansoku {

struct Cidr {
  bool v6 = false;
  unsigned char addr[16] = {};
  int prefix = 0;
  // ip: 4 bytes (is_v6 false) or 16 bytes (is_v6 true), network order.
  bool Contains(const unsigned char* ip, bool is_v6) const;
};
Result<Cidr> ParseCidr(const std::string& s);

}  // namespace kansoku
