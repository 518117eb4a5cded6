#include "logs/query/engine.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "logs/query/parser.h"
#include "logs/v1_block_test_data.h"

namespace kansoku::logs::query {
namespace {

constexpr int64_t kSec = 1000000000LL;
constexpr int64_t kT0 = 1795672203LL * kSec;

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char t[] = "/tmp/logs_engine_test.XXXXXX";
    dir_ = mkdtemp(t);
    StoreOptions o;
    o.dir = dir_;
    o.background = false;
    o.retention_ms = 0;
    o.now_ns = [] { return kT0 + 100 * kSec; };
    o.block_page_rows = 7;  // many pages per block: page pruning and partial decoding
    store_ = std::move(Store::Open(o)).value();
    // 60 rows, one per second: services api/db alternate, levels cycle info/warn/error.
    const char* levels[] = {"info", "warn", "error"};
    LogBatch b;
    for (int i = 0; i < 60; ++i) {
      LogRecord r;
      r.ts_ns = kT0 + i * kSec;
      r.labels = {{"service", i % 2 ? "api" : "db"}, {"level", levels[i % 3]}};
      r.msg = "request " + std::to_string(i) + (i % 10 == 0 ? " timeout after 5s" : " ok");
      r.fields = {{"status", std::to_string(200 + (i % 4) * 100)},
                  {"host", "web-" + std::to_string(i % 3)}};
      if (i == 42) r.fields.push_back({"trace_id", "f00dfacecafe4b1d8e2a9c7b3d5e6f01"});
      b.push_back(std::move(r));
    }
    ASSERT_TRUE(store_->Append(std::move(b)).ok());
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  ExecResult Run(const std::string& q, size_t limit = 100, std::string cursor = "") {
    auto p = ParseLogQuery(q);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    ExecOptions o;
    o.now_ns = kT0 + 100 * kSec;
    o.limit = limit;
    o.cursor = std::move(cursor);
    auto r = Execute(*store_, *p, o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : ExecResult{};
  }
  void BothWays(const std::function<void()>& check) {
    check();  // head
    ASSERT_TRUE(store_->Flush().ok());
    check();  // blocks
  }
  std::string dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(EngineTest, FiltersCountExactly) {
  BothWays([&] {
    EXPECT_EQ(Run("timeout").rows.size(), 6u);
    EXPECT_EQ(Run("timeout service:api").rows.size(), 0u);  // i%10==0 are even -> db
    EXPECT_EQ(Run("\"timeout after\"").rows.size(), 6u);
    EXPECT_EQ(Run("\"imeout after\"").rows.size(), 0u);  // token-aligned phrases
    EXPECT_EQ(Run("time*").rows.size(), 6u);
    EXPECT_EQ(Run("-timeout").rows.size(), 54u);
    EXPECT_EQ(Run("level:error").rows.size(), 20u);
    EXPECT_EQ(Run("{level=~\"warn|error\"}").rows.size(), 40u);
    EXPECT_EQ(Run("{service!=\"api\"}").rows.size(), 30u);
    EXPECT_EQ(Run("status:>=400").rows.size(), 30u);
    EXPECT_EQ(Run("host:~\"web-[12]\"").rows.size(), 40u);
    EXPECT_EQ(Run("trace_id:=\"f00dfacecafe4b1d8e2a9c7b3d5e6f01\"").rows.size(), 1u);
    EXPECT_EQ(Run("f00dfacecafe4b1d8e2a9c7b3d5e6f01").rows.size(), 0u);  // words search _msg
    EXPECT_EQ(Run("trace_id:*").rows.size(), 1u);
    EXPECT_EQ(Run("timeout or level:warn").rows.size(), 6u + 20u - 2u);
    EXPECT_EQ(Run("_time:50s").rows.size(), 10u);  // now = T0+100s -> rows 50..59
    EXPECT_EQ(Run("~\"request [0-9]+ ok$\"").rows.size(), 54u);
  });
}

TEST_F(EngineTest, NewestFirstWithPaging) {
  BothWays([&] {
    auto p1 = Run("*", 25);
    ASSERT_EQ(p1.rows.size(), 25u);
    EXPECT_EQ(p1.rows[0].msg, "request 59 ok");
    ASSERT_FALSE(p1.next_cursor.empty());
    auto p2 = Run("*", 25, p1.next_cursor);
    ASSERT_EQ(p2.rows.size(), 25u);
    EXPECT_EQ(p2.rows[0].msg, "request 34 ok");
    auto p3 = Run("*", 25, p2.next_cursor);
    EXPECT_EQ(p3.rows.size(), 10u);
    EXPECT_TRUE(p3.next_cursor.empty());
    EXPECT_EQ(Run("* | limit 3").rows.size(), 3u);
  });
}

TEST_F(EngineTest, StatsSortFields) {
  BothWays([&] {
    auto r = Run("* | stats count() as n by (service, level) | sort by (service, level)");
    ASSERT_TRUE(r.is_table);
    ASSERT_EQ(r.columns, (std::vector<std::string>{"service", "level", "n"}));
    ASSERT_EQ(r.table.size(), 6u);
    EXPECT_EQ(r.table[0], (std::vector<std::string>{"api", "error", "10"}));
    auto t = Run("timeout | stats count()");
    ASSERT_EQ(t.table.size(), 1u);
    EXPECT_EQ(t.table[0][0], "6");
    auto u =
        Run("* | stats by (service) count_uniq(host) as h, max(status) as m | sort by (service)");
    EXPECT_EQ(u.table[0], (std::vector<std::string>{"api", "3", "500"}));
    auto s = Run("* | sort by (status desc, _time) | limit 2");
    ASSERT_EQ(s.rows.size(), 2u);
    EXPECT_EQ(s.rows[0].msg, "request 3 ok");
  });
}

TEST(RegexLiteral, OnlyCertainRuns) {
  EXPECT_EQ(RegexRequiredLiteral(R"(" 5[0-9]{2} [0-9]+ )"), "\" 5");
  EXPECT_EQ(RegexRequiredLiteral("timeout after [0-9]+ ms"), "timeout after ");
  EXPECT_EQ(RegexRequiredLiteral("abcd?ef"), "abc");   // d is optional
  EXPECT_EQ(RegexRequiredLiteral("ab+cdef"), "cdef");  // b+ ends the run "ab"
  EXPECT_EQ(RegexRequiredLiteral("x{0,3}yz"), "yz");
  EXPECT_EQ(RegexRequiredLiteral(R"(a\.bc\d)"), "a.bc");  // escaped punctuation is literal
  EXPECT_EQ(RegexRequiredLiteral("(foo|bar)baz"), "baz");
  EXPECT_EQ(RegexRequiredLiteral("foo|bar"), "");
  EXPECT_EQ(RegexRequiredLiteral("(?i)timeout"), "");
  EXPECT_EQ(RegexRequiredLiteral("[a-z]+"), "");
  EXPECT_EQ(RegexRequiredLiteral("err(or)?s"), "err");
}

// Without by(), stats over no matching rows is one row of zeros (count) and empty values (sum,
// min, max, avg), not an empty table; with by() there are no groups.
TEST_F(EngineTest, StatsOverNoRowsIsOneZeroRow) {
  BothWays([&] {
    auto t =
        Run("nosuchwordanywhere | stats count() as n, count_uniq(host) as u, sum(status) as s");
    ASSERT_TRUE(t.is_table);
    ASSERT_EQ(t.columns, (std::vector<std::string>{"n", "u", "s"}));
    ASSERT_EQ(t.table.size(), 1u);
    EXPECT_EQ(t.table[0], (std::vector<std::string>{"0", "0", ""}));
    auto g = Run("nosuchwordanywhere | stats count() by (service)");
    EXPECT_TRUE(g.table.empty());
    auto w = Run("_time:[1000, 2000) | stats count()");
    ASSERT_EQ(w.table.size(), 1u);
    EXPECT_EQ(w.table[0][0], "0");
  });
}

// Counts from the store's per-stream fast path (footer / prefiltered rows, CountRows) must equal
// counting the matching rows one by one, for every mix of head and blocks, time window, filter and
// grouping (labels, fields, a stream without the label).
TEST_F(EngineTest, StatsCountsEqualRowCounts) {
  LogBatch extra(3);
  for (int i = 0; i < 3; ++i) {
    extra[i].ts_ns = kT0 + (20 + i) * kSec;
    // No service label: grouping by service declines. status is a label here, a field elsewhere.
    extra[i].labels = {{"level", "error"}, {"status", "503"}};
    extra[i].msg = "orphan timeout " + std::to_string(i);
  }
  ASSERT_TRUE(store_->Append(std::move(extra)).ok());
  auto check = [&](const std::string& where) {
    SCOPED_TRACE(where);
    const char* filters[] = {"*",
                             "timeout",
                             "level:error",
                             "status:>=400",
                             "-timeout service:api",
                             "timeout or level:warn",
                             "status:503",
                             "status:500 timeout",
                             "\"timeout after\"",
                             "imeout",
                             "request 1*",
                             "status:=\"300\" ok",
                             "timeout service:api",
                             "level:error timeout -service:db",
                             "timeout status:503",
                             "after level:~\"err|warn\""};
    const char* windows[] = {"", "_time:[2026-11-26T05:50:05Z, 2026-11-26T05:50:33Z) "};
    const char* bys[] = {"", " by (service, level)", " by (status)", " by (_stream)",
                         " by (level)"};
    for (const char* w : windows) {
      for (const char* f : filters) {
        auto rows = Run(std::string(w) + f, 1000).rows;
        for (const char* by : bys) {
          std::string q = std::string(w) + f + " | stats count() as n, count(level) as l" + by;
          SCOPED_TRACE(q);
          auto t = Run(q);
          ASSERT_TRUE(t.is_table);
          std::map<std::vector<std::string>, uint64_t> want, got;
          std::string b = by;
          std::vector<std::string> keys;
          if (b.find("service") != std::string::npos) keys = {"service", "level"};
          if (b.find("status") != std::string::npos) keys = {"status"};
          if (b.find("_stream") != std::string::npos) keys = {"_stream"};
          if (b == " by (level)") keys = {"level"};
          for (const auto& r : rows) {
            std::vector<std::string> k;
            for (const auto& name : keys) {
              if (name == "_stream") {
                k.push_back(StreamKey(r.labels));
                continue;
              }
              std::string v;
              for (const auto& kv : r.labels)
                if (kv.name == name) v = kv.value;
              for (const auto& kv : r.fields)
                if (kv.name == name) v = kv.value;
              k.push_back(v);
            }
            want[k]++;
          }
          if (keys.empty() && want.empty()) want[{}] = 0;  // no by(): one row, count 0
          for (const auto& row : t.table) {
            std::vector<std::string> k(row.begin(), row.begin() + keys.size());
            got[k] = std::stoull(row[keys.size()]);
            EXPECT_EQ(row[keys.size()], row[keys.size() + 1]);  // every row has a level
          }
          EXPECT_EQ(got, want);
        }
      }
    }
  };
  check("head");
  ASSERT_TRUE(store_->Flush().ok());
  check("blocks");
  LogBatch more(2);
  more[0].ts_ns = kT0 + 25 * kSec;
  more[0].labels = {{"service", "api"}, {"level", "warn"}};
  more[0].msg = "late timeout";
  more[1] = more[0];
  more[1].ts_ns = kT0 + 500 * kSec;
  ASSERT_TRUE(store_->Append(std::move(more)).ok());
  check("blocks and head");
  // A needle decodes only the pages its bloom filters admit (7-row pages here).
  uint64_t before = store_->Stats().columns_read;
  EXPECT_EQ(Run("trace_id:=\"f00dfacecafe4b1d8e2a9c7b3d5e6f01\"").rows.size(), 1u);
  EXPECT_LE(store_->Stats().columns_read - before, 8u);
  // A full-range count by labels every stream has reads no column of any block.
  uint64_t cols = store_->Stats().columns_read;
  auto t = Run("* | stats count() by (level)");
  EXPECT_EQ(store_->Stats().columns_read, cols);
  EXPECT_GT(store_->Stats().rows_counted, 0u);
  // So does a one-word count (blocks count their frequent message tokens per stream), exactly:
  // the same as the rows the word finds.
  size_t want = Run("timeout", 1000).rows.size();
  ASSERT_GT(want, 3u);
  cols = store_->Stats().columns_read;
  uint64_t counted = store_->Stats().rows_counted;
  EXPECT_EQ(Run("timeout | stats count()").table.at(0).at(0), std::to_string(want));
  EXPECT_EQ(store_->Stats().columns_read, cols);
  EXPECT_EQ(store_->Stats().rows_counted - counted, want);
  // With label conditions too, for the streams that have those labels (every stream has level).
  want = Run("timeout -level:info", 1000).rows.size();
  ASSERT_GT(want, 0u);
  cols = store_->Stats().columns_read;
  EXPECT_EQ(Run("timeout -level:info | stats count()").table.at(0).at(0), std::to_string(want));
  EXPECT_EQ(store_->Stats().columns_read, cols);
  // And label conditions alone: every row of the streams they keep, from the footers.
  want = Run("level:~\"err|warn\" -level:warn", 1000).rows.size();
  ASSERT_GT(want, 0u);
  cols = store_->Stats().columns_read;
  EXPECT_EQ(Run("level:~\"err|warn\" -level:warn | stats count()").table.at(0).at(0),
            std::to_string(want));
  EXPECT_EQ(store_->Stats().columns_read, cols);
  // A word glued to other token bytes is another token: "imeout" matches nothing.
  EXPECT_EQ(Run("imeout | stats count()").table.at(0).at(0), "0");
}

TEST_F(EngineTest, HitsContextTail) {
  BothWays([&] {
    auto q = ParseLogQuery("timeout").value();
    auto h = Hits(*store_, q, kT0, kT0, kT0 + 60 * kSec, 20 * kSec);
    ASSERT_TRUE(h.ok());
    ASSERT_EQ(h->size(), 3u);
    EXPECT_EQ((*h)[0].count, 2u);
    EXPECT_EQ((*h)[1].count, 2u);
    auto c = Context(*store_, {{"service", "db"}, {"level", "info"}, {"host", "web-0"}},
                     kT0 + 30 * kSec, 2, 2);
    ASSERT_TRUE(c.ok());
    // db+info rows are i % 6 == 0: 18, 24, [30], 36, 42
    ASSERT_EQ(c->size(), 5u);
    EXPECT_EQ((*c)[0].msg, "request 18 ok");
    EXPECT_EQ((*c)[2].msg, "request 30 timeout after 5s");
    EXPECT_EQ((*c)[4].msg, "request 42 ok");
  });
  uint64_t last = 0;
  auto q = ParseLogQuery("level:error").value();
  auto t = Tail(*store_, q, kT0, store_->LastSeq(), 100, &last);
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->empty());
  LogBatch b(2);
  b[0].ts_ns = kT0 + 1000 * kSec;
  b[0].labels = {{"level", "error"}};
  b[0].msg = "live one";
  b[1].ts_ns = kT0 + 1001 * kSec;
  b[1].labels = {{"level", "info"}};
  b[1].msg = "not matching";
  uint64_t from = last;
  ASSERT_TRUE(store_->Append(std::move(b)).ok());
  t = Tail(*store_, q, kT0, from, 100, &last);
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->size(), 1u);
  EXPECT_EQ((*t)[0].msg, "live one");
  EXPECT_EQ(last, store_->LastSeq());
}

}  // namespace
}  // namespace kansoku::logs::query

namespace kansoku::logs::query {
namespace {

// Live tail finds rows that were flushed from the head to blocks between two polls (from the
// recent-append buffer); a reader further behind than the buffer still gets the head's rows, and
// rows it can no longer get are counted as missed.
TEST(EngineTail, RowsFlushedBetweenPollsAreNotMissed) {
  char t[] = "/tmp/logs_tail_test.XXXXXX";
  std::string dir = mkdtemp(t);
  for (size_t buffer : {size_t{64} << 20, size_t{1}}) {
    SCOPED_TRACE(buffer);
    std::filesystem::remove_all(dir);
    StoreOptions o;
    o.dir = dir;
    o.background = false;
    o.retention_ms = 0;
    o.tail_buffer_bytes = buffer;
    auto store = std::move(Store::Open(o)).value();
    auto q = ParseLogQuery("level:error").value();
    auto batch = [](const std::string& tag, int n) {
      LogBatch b(static_cast<size_t>(n));
      for (int i = 0; i < n; ++i) {
        b[i].ts_ns = kT0 + i * kSec;
        b[i].labels = {{"level", i % 2 ? "info" : "error"}, {"service", "api"}};
        b[i].msg = tag + " " + std::to_string(i);
      }
      return b;
    };
    uint64_t cursor = store->LastSeq();
    ASSERT_TRUE(store->Append(batch("a", 4)).ok());
    auto r = Tail(*store, q, kT0, cursor, 100, &cursor);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->size(), 2u);
    // Appended and flushed to blocks before the next poll.
    ASSERT_TRUE(store->Append(batch("b", 4)).ok());
    ASSERT_TRUE(store->Flush().ok());
    uint64_t before_b = cursor;
    r = Tail(*store, q, kT0, cursor, 100, &cursor);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->size(), 2u);
    EXPECT_EQ((*r)[0].msg, "b 0");
    EXPECT_EQ((*r)[1].msg, "b 2");
    EXPECT_EQ(cursor, store->LastSeq());
    EXPECT_EQ(store->Stats().tail_rows_missed, 0u);
    // Two batches while the reader waits, no flush: the head supplies what the buffer dropped.
    ASSERT_TRUE(store->Append(batch("c", 2)).ok());
    ASSERT_TRUE(store->Append(batch("d", 2)).ok());
    r = Tail(*store, q, kT0, cursor, 100, &cursor);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->size(), 2u);
    EXPECT_EQ((*r)[0].msg, "c 0");
    EXPECT_EQ((*r)[1].msg, "d 0");
    // Two batches and a flush while the reader waits: only a big enough buffer has both.
    ASSERT_TRUE(store->Append(batch("e", 2)).ok());
    ASSERT_TRUE(store->Append(batch("f", 2)).ok());
    ASSERT_TRUE(store->Flush().ok());
    r = Tail(*store, q, kT0, cursor, 100, &cursor);
    ASSERT_TRUE(r.ok());
    if (buffer > 1) {
      ASSERT_EQ(r->size(), 2u);
      EXPECT_EQ((*r)[0].msg, "e 0");
      EXPECT_EQ(store->Stats().tail_rows_missed, 0u);
    } else {
      ASSERT_EQ(r->size(), 1u);
      EXPECT_EQ((*r)[0].msg, "f 0");
      EXPECT_EQ(store->Stats().tail_rows_missed, 2u);
    }
    // Limit: the cursor stops at the last row returned.
    ASSERT_TRUE(store->Append(batch("g", 6)).ok());
    r = Tail(*store, q, kT0, cursor, 2, &cursor);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->size(), 2u);
    r = Tail(*store, q, kT0, cursor, 100, &cursor);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ((*r)[0].msg, "g 4");
    (void)before_b;
    store->Close();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kansoku::logs::query

namespace kansoku::logs::query {
namespace {

// Blocks of format version 1 (before pages) written by an earlier kansoku stay readable, next
// to version 2 blocks.
TEST(EngineV1Block, IsStillRead) {
  char t[] = "/tmp/logs_v1_test.XXXXXX";
  std::string dir = mkdtemp(t);
  std::filesystem::create_directories(dir + "/partitions/20261125");
  {
    std::string hex = kV1BlockHex, bytes;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) {
      bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    }
    FILE* f = fopen((dir + "/partitions/20261125/00000001.blk").c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
    fclose(f);
  }
  StoreOptions o;
  o.dir = dir;
  o.background = false;
  o.retention_ms = 0;
  o.block_page_rows = 16;
  auto store = std::move(Store::Open(o)).value();
  ASSERT_EQ(store->Stats().blocks, 1u);
  ASSERT_EQ(store->Stats().corrupt_blocks, 0u);
  auto run = [&](const std::string& q) {
    auto p = ParseLogQuery(q);
    EXPECT_TRUE(p.ok());
    ExecOptions eo;
    eo.now_ns = kT0;
    eo.limit = 1000;
    auto r = Execute(*store, *p, eo);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : ExecResult{};
  };
  auto check = [&](uint64_t per) {
    EXPECT_EQ(run("timeout | stats count()").table.at(0).at(0), std::to_string(30 * per));
    EXPECT_EQ(run("status:500").rows.size(), 75u * per);
    auto needle = run("trace_id:=\"f00dfacecafe4b1d8e2a9c7b3d5e6f01\"").rows;
    ASSERT_EQ(needle.size(), per);
    EXPECT_EQ(needle[0].msg, "request 42 ok");
    auto by = run("* | stats count() by (service) | sort by (service)");
    ASSERT_EQ(by.table.size(), 2u);
    EXPECT_EQ(by.table[0], (std::vector<std::string>{"api", std::to_string(150 * per)}));
    EXPECT_EQ(run("* | stats count()").table.at(0).at(0), std::to_string(300 * per));
  };
  check(1);
  // The same rows again, flushed as a current-version block with 16-row pages (and message token
  // counts): one-word counts add up both kinds of block.
  LogBatch b;
  const char* levels[] = {"info", "warn", "error"};
  for (int i = 0; i < 300; ++i) {
    LogRecord r;
    char ts[64];
    snprintf(ts, sizeof ts, "2026-11-25T10:00:%02d.%06dZ", i % 60, i);
    ASSERT_TRUE(ParseRfc3339Nanos(ts, &r.ts_ns));
    r.labels = {{"service", i % 2 ? "api" : "db"}, {"level", levels[i % 3]}};
    r.msg = "request " + std::to_string(i) + (i % 10 == 0 ? " timeout after 5s" : " ok");
    r.fields = {{"status", std::to_string(200 + (i % 4) * 100)}};
    if (i == 42) r.fields.push_back({"trace_id", "f00dfacecafe4b1d8e2a9c7b3d5e6f01"});
    b.push_back(std::move(r));
  }
  ASSERT_TRUE(store->Append(std::move(b)).ok());
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(store->Stats().blocks, 2u);
  check(2);
  store->Close();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kansoku::logs::query
