#include "base/status.h"

#include <gtest/gtest.h>

namespace kansoku {
namespace {

Result<int> Half(int x) {
  if (x % 2) return Status::InvalidArgument("cannot halve " + std::to_string(x) + ": odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  KANSOKU_ASSIGN_OR_RETURN(int h, Half(x));
  return Half(h);
}

TEST(StatusTest, OkAndErrors) {
  EXPECT_TRUE(Status::Ok().ok());
  Status st = Status::NotFound("token 42");
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Status::Code::kNotFound);
  EXPECT_EQ(st.ToString(), "not found: token 42");
  EXPECT_EQ(st.WithContext("revoke").message(), "revoke: token 42");
}

TEST(StatusTest, ResultPropagates) {
  EXPECT_EQ(*Quarter(8), 2);
  auto r = Quarter(6);  // 6 -> 3 -> odd
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "cannot halve 3: odd");
}

TEST(StatusTest, FromErrno) {
  Status st = Status::FromErrno("open /nope", ENOENT);
  EXPECT_EQ(st.code(), Status::Code::kIOError);
  EXPECT_NE(st.message().find("No such file"), std::string::npos);
}

}  // namespace
}  // namespace kansoku
