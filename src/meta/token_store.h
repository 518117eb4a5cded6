#pragma once
// TokenStore: API tokens in the SQLite meta.db, stored as SHA-256 hashes (the secret is shown
// once, at creation). Scopes: ingest, read, edit (dashboards), admin (admin implies the others).
//
// Token format: "ksk_" + 40 lowercase hex characters (160 random bits from OpenSSL).
// Authenticate() is served from an in-memory map (no SQLite on the request path); Create and
// Revoke write through to SQLite and then update the map.
// Thread safety: every method is thread-safe. Errors: IOError for SQLite failures, NotFound for
// an unknown id, Unauthenticated from Authenticate for unknown or revoked tokens.
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

struct sqlite3;

namespace kansoku::meta {

enum TokenScope : uint32_t { kIngest = 1, kRead = 2, kAdmin = 4, kEdit = 8 };

struct TokenInfo {
  int64_t id = 0;
  std::string name;
  uint32_t scopes = 0;
  int64_t created_at_ms = 0;
  int64_t revoked_at_ms = 0;  // 0 while valid
};

// "ingest,read" -> bitmask; InvalidArgument naming the unknown scope.
Result<uint32_t> ParseScopes(const std::vector<std::string>& names);
std::vector<std::string> ScopeNames(uint32_t scopes);

class TokenStore {
 public:
  // Opens (creating if needed) <data_dir>/meta.db and loads valid tokens.
  static Result<std::unique_ptr<TokenStore>> Open(const std::string& data_dir,
                                                  Clock& clock = Clock::Real());
  ~TokenStore();

  // Creates a token; returns its info and writes the plaintext secret to *secret.
  Result<TokenInfo> Create(const std::string& name, uint32_t scopes, std::string* secret);
  // Stores a caller-chosen secret (KANSOKU_ADMIN_TOKEN / --admin-token-file) unless a token with
  // the same hash exists. InvalidArgument for secrets shorter than 16 characters.
  Result<TokenInfo> Ensure(const std::string& name, uint32_t scopes, const std::string& secret);
  Status Revoke(int64_t id);
  Result<std::vector<TokenInfo>> List(bool include_revoked);
  // Valid tokens only.
  size_t Count() const;
  Result<TokenInfo> Authenticate(std::string_view secret) const;

 private:
  TokenStore(sqlite3* db, Clock& clock) : db_(db), clock_(clock) {}
  Status Load();
  Result<TokenInfo> Insert(const std::string& name, uint32_t scopes, const std::string& hash);

  sqlite3* db_;  // serialized by write_mu_
  Clock& clock_;
  std::mutex write_mu_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, TokenInfo> by_hash_;  // GUARDED_BY(mu_), valid tokens
};

std::string Sha256Hex(std::string_view data);

}  // namespace kansoku::meta
