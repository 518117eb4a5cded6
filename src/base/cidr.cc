#include "base/cidr.h"

#include <arpa/inet.h>

#include <cstring>

namespace kansoku {

Result<Cidr> ParseCidr(const std::string& s) {
  Cidr c;
  std::string addr = s;
  int prefix = -1;
  size_t slash = s.find('/');
  if (slash != std::string::npos) {
    addr = s.substr(0, slash);
    std::string p = s.substr(slash + 1);
    if (p.empty() || p.find_first_not_of("0123456789") != std::string::npos) {
      return Status::InvalidArgument("cannot parse CIDR \"" + s + "\": bad prefix length");
    }
    prefix = std::stoi(p);
  }
  if (inet_pton(AF_INET, addr.c_str(), c.addr) == 1) {
    c.v6 = false;
    if (prefix < 0) prefix = 32;
    if (prefix > 32) return Status::InvalidArgument("cannot parse CIDR \"" + s + "\": prefix > 32");
  } else if (inet_pton(AF_INET6, addr.c_str(), c.addr) == 1) {
    c.v6 = true;
    if (prefix < 0) prefix = 128;
    if (prefix > 128)
      return Status::InvalidArgument("cannot parse CIDR \"" + s + "\": prefix > 128");
  } else {
    return Status::InvalidArgument("cannot parse CIDR \"" + s + "\": not an IPv4 or IPv6 address");
  }
  c.prefix = prefix;
  return c;
}

bool Cidr::Contains(const unsigned char* ip, bool is_v6) const {
  unsigned char mapped[16];
  if (v6 != is_v6) {
    // An IPv4 network matches v4-mapped v6 addresses (::ffff:a.b.c.d).
    if (!v6 && is_v6) {
      static const unsigned char kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
      if (std::memcmp(ip, kPrefix, 12) != 0) return false;
      std::memcpy(mapped, ip + 12, 4);
      ip = mapped;
    } else {
      return false;
    }
  }
  int full = prefix / 8, rem = prefix % 8;
  if (std::memcmp(ip, addr, static_cast<size_t>(full)) != 0) return false;
  if (rem == 0) return true;
  unsigned char mask = static_cast<unsigned char>(0xff << (8 - rem));
  return (ip[full] & mask) == (addr[full] & mask);
}

}  // namespace kansoku
