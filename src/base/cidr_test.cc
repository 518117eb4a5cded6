#include "base/cidr.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

namespace kansoku {
namespace {

TEST(CidrTest, Contains) {
  auto v4 = ParseCidr("127.0.0.0/8");
  ASSERT_TRUE(v4.ok());
  unsigned char ip[16];
  inet_pton(AF_INET, "127.1.2.3", ip);
  EXPECT_TRUE(v4->Contains(ip, false));
  inet_pton(AF_INET, "10.1.2.3", ip);
  EXPECT_FALSE(v4->Contains(ip, false));
  inet_pton(AF_INET6, "::ffff:127.0.0.9", ip);
  EXPECT_TRUE(v4->Contains(ip, true));
  auto v6 = ParseCidr("::1");
  inet_pton(AF_INET6, "::1", ip);
  EXPECT_TRUE(v6->Contains(ip, true));
  EXPECT_FALSE(ParseCidr("not-an-ip").ok());
}

}  // namespace
}  // namespace kansoku
