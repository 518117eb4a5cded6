#pragma once
// Test helpers for tsdb tests: a scoped temporary directory.
#include <cstdlib>
#include <filesystem>
#include <string>

namespace kansoku::tsdb::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kansoku-tsdb-XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    path_ = p != nullptr ? p : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace kansoku::tsdb::testing
