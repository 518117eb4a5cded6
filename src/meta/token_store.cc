#include "meta/token_store.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>
#include <mutex>

#include "base/strings.h"
#include "meta/sqlite_db.h"

namespace kansoku::meta {

std::string Sha256Hex(std::string_view data) {
  // Runs on every authenticated request: the digest is fetched once and each thread keeps its
  // context (EVP_Digest would fetch the algorithm and allocate a context per call).
  static EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  struct CtxFree {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  thread_local std::unique_ptr<EVP_MD_CTX, CtxFree> ctx(EVP_MD_CTX_new());
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (kSha256 == nullptr || !ctx || EVP_DigestInit_ex(ctx.get(), kSha256, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), md, &len) != 1) {
    EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  }
  return HexEncode(std::string_view(reinterpret_cast<char*>(md), len));
}

Result<uint32_t> ParseScopes(const std::vector<std::string>& names) {
  uint32_t s = 0;
  for (const auto& raw : names) {
    for (std::string_view n : Split(raw, ',')) {
      n = TrimSpace(n);
      if (n == "ingest")
        s |= kIngest;
      else if (n == "read")
        s |= kRead;
      else if (n == "admin")
        s |= kAdmin;
      else if (n == "edit")
        s |= kEdit;
      else if (!n.empty())
        return Status::InvalidArgument("unknown scope \"" + std::string(n) +
                                       "\" (scopes are ingest, read, edit, admin)");
    }
  }
  if (s == 0)
    return Status::InvalidArgument("a token needs at least one scope: ingest, read, edit, admin");
  return s;
}

std::vector<std::string> ScopeNames(uint32_t scopes) {
  std::vector<std::string> out;
  if (scopes & kIngest) out.emplace_back("ingest");
  if (scopes & kRead) out.emplace_back("read");
  if (scopes & kEdit) out.emplace_back("edit");
  if (scopes & kAdmin) out.emplace_back("admin");
  return out;
}

Result<std::unique_ptr<TokenStore>> TokenStore::Open(const std::string& data_dir, Clock& clock) {
  const char* schema =
      "CREATE TABLE IF NOT EXISTS tokens ("
      "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
      "  name TEXT NOT NULL,"
      "  hash TEXT NOT NULL UNIQUE,"
      "  scopes INTEGER NOT NULL,"
      "  created_at_ms INTEGER NOT NULL,"
      "  revoked_at_ms INTEGER NOT NULL DEFAULT 0);";
  auto opened = OpenMetaDb(data_dir, schema, "the tokens table");
  if (!opened.ok()) return opened.status();
  sqlite3* db = *opened;
  std::unique_ptr<TokenStore> store(new TokenStore(db, clock));
  KANSOKU_RETURN_IF_ERROR(store->Load());
  return store;
}

TokenStore::~TokenStore() { sqlite3_close(db_); }

Status TokenStore::Load() {
  std::lock_guard<std::mutex> w(write_mu_);
  Stmt st(db_, "SELECT id, name, hash, scopes, created_at_ms FROM tokens WHERE revoked_at_ms = 0");
  if (!st.ok()) return SqlError(db_, "load tokens");
  std::unique_lock<std::shared_mutex> lock(mu_);
  by_hash_.clear();
  while (sqlite3_step(st.get()) == SQLITE_ROW) {
    TokenInfo t;
    t.id = sqlite3_column_int64(st.get(), 0);
    t.name = reinterpret_cast<const char*>(sqlite3_column_text(st.get(), 1));
    std::string hash = reinterpret_cast<const char*>(sqlite3_column_text(st.get(), 2));
    t.scopes = static_cast<uint32_t>(sqlite3_column_int64(st.get(), 3));
    t.created_at_ms = sqlite3_column_int64(st.get(), 4);
    by_hash_[hash] = std::move(t);
  }
  return Status::Ok();
}

Result<TokenInfo> TokenStore::Insert(const std::string& name, uint32_t scopes,
                                     const std::string& hash) {
  std::lock_guard<std::mutex> w(write_mu_);
  Stmt st(db_, "INSERT INTO tokens(name, hash, scopes, created_at_ms) VALUES(?, ?, ?, ?)");
  if (!st.ok()) return SqlError(db_, "insert token");
  TokenInfo t;
  t.name = name;
  t.scopes = scopes;
  t.created_at_ms = clock_.NowMs();
  sqlite3_bind_text(st.get(), 1, name.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st.get(), 2, hash.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st.get(), 3, scopes);
  sqlite3_bind_int64(st.get(), 4, t.created_at_ms);
  if (sqlite3_step(st.get()) != SQLITE_DONE) return SqlError(db_, "insert token");
  t.id = sqlite3_last_insert_rowid(db_);
  std::unique_lock<std::shared_mutex> lock(mu_);
  by_hash_[hash] = t;
  return t;
}

Result<TokenInfo> TokenStore::Create(const std::string& name, uint32_t scopes,
                                     std::string* secret) {
  if (name.empty()) return Status::InvalidArgument("a token needs a name");
  unsigned char rnd[20];
  if (RAND_bytes(rnd, sizeof rnd) != 1) return Status::Internal("RAND_bytes failed");
  *secret = "ksk_" + HexEncode(std::string_view(reinterpret_cast<char*>(rnd), sizeof rnd));
  return Insert(name, scopes, Sha256Hex(*secret));
}

Result<TokenInfo> TokenStore::Ensure(const std::string& name, uint32_t scopes,
                                     const std::string& secret) {
  if (secret.size() < 16) {
    return Status::InvalidArgument("the admin token must be at least 16 characters long");
  }
  std::string hash = Sha256Hex(secret);
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    auto it = by_hash_.find(hash);
    if (it != by_hash_.end()) return it->second;
  }
  return Insert(name, scopes, hash);
}

Status TokenStore::Revoke(int64_t id) {
  std::lock_guard<std::mutex> w(write_mu_);
  Stmt st(db_, "UPDATE tokens SET revoked_at_ms = ? WHERE id = ? AND revoked_at_ms = 0");
  if (!st.ok()) return SqlError(db_, "revoke token");
  sqlite3_bind_int64(st.get(), 1, clock_.NowMs());
  sqlite3_bind_int64(st.get(), 2, id);
  if (sqlite3_step(st.get()) != SQLITE_DONE) return SqlError(db_, "revoke token");
  if (sqlite3_changes(db_) == 0)
    return Status::NotFound("no valid token with id " + std::to_string(id));
  std::unique_lock<std::shared_mutex> lock(mu_);
  std::erase_if(by_hash_, [id](const auto& kv) { return kv.second.id == id; });
  return Status::Ok();
}

Result<std::vector<TokenInfo>> TokenStore::List(bool include_revoked) {
  std::lock_guard<std::mutex> w(write_mu_);
  Stmt st(db_, include_revoked
                   ? "SELECT id, name, scopes, created_at_ms, revoked_at_ms FROM tokens ORDER BY id"
                   : "SELECT id, name, scopes, created_at_ms, revoked_at_ms FROM tokens "
                     "WHERE revoked_at_ms = 0 ORDER BY id");
  if (!st.ok()) return SqlError(db_, "list tokens");
  std::vector<TokenInfo> out;
  while (sqlite3_step(st.get()) == SQLITE_ROW) {
    TokenInfo t;
    t.id = sqlite3_column_int64(st.get(), 0);
    t.name = reinterpret_cast<const char*>(sqlite3_column_text(st.get(), 1));
    t.scopes = static_cast<uint32_t>(sqlite3_column_int64(st.get(), 2));
    t.created_at_ms = sqlite3_column_int64(st.get(), 3);
    t.revoked_at_ms = sqlite3_column_int64(st.get(), 4);
    out.push_back(std::move(t));
  }
  return out;
}

size_t TokenStore::Count() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return by_hash_.size();
}

Result<TokenInfo> TokenStore::Authenticate(std::string_view secret) const {
  std::string hash = Sha256Hex(secret);
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return Status::Unauthenticated("unknown or revoked API token");
  return it->second;
}

}  // namespace kansoku::meta
